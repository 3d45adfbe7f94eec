//! The permissions matrix in docs/ACCOUNT_ROLES.md is the core's own, rendered: this test
//! fails when the two drift (regenerate with `PORTCULLIS_WRITE_DOCS=1 cargo test -p
//! portcullis-core --test docs`).
#![allow(clippy::unwrap_used, clippy::panic, reason = "test")]

use portcullis_core::company::matrix_markdown;
use std::path::PathBuf;

const BEGIN: &str = "<!-- matrix:begin (generated from crates/core/src/company.rs) -->\n";
const END: &str = "<!-- matrix:end -->";

#[test]
fn the_documented_matrix_is_the_engines() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/ACCOUNT_ROLES.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(BEGIN).unwrap() + BEGIN.len();
    let end = text.find(END).unwrap();
    let documented = text.get(start..end).unwrap();
    let rendered = matrix_markdown();
    if std::env::var_os("PORTCULLIS_WRITE_DOCS").is_some() {
        let updated = format!("{}{rendered}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(documented, rendered, "docs/ACCOUNT_ROLES.md is out of date");
}

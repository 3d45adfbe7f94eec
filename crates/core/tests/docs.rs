//! The generated tables of the docs are the core's own, rendered: the permissions matrix in
//! docs/ACCOUNT_ROLES.md and the default model's operations in README.md. These tests fail when
//! they drift (regenerate with `PORTCULLIS_WRITE_DOCS=1 cargo test -p portcullis-core --test docs`).
#![allow(clippy::unwrap_used, clippy::panic, reason = "test")]

use portcullis_core::company::matrix_markdown;
use std::path::PathBuf;

const BEGIN: &str = "<!-- matrix:begin (generated from crates/core/src/company.rs) -->\n";
const END: &str = "<!-- matrix:end -->";

/// Asserts that the text between `begin` and `end` in `file` (from the repository root) is
/// `rendered`, or writes it there when `PORTCULLIS_WRITE_DOCS` is set.
fn assert_generated(file: &str, begin: &str, end: &str, rendered: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(begin).unwrap() + begin.len();
    let stop = text.find(end).unwrap();
    if std::env::var_os("PORTCULLIS_WRITE_DOCS").is_some() {
        let updated = format!("{}{rendered}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        text.get(start..stop).unwrap(),
        rendered,
        "{file} is out of date"
    );
}

#[test]
fn the_documented_matrix_is_the_engines() {
    assert_generated("docs/ACCOUNT_ROLES.md", BEGIN, END, &matrix_markdown());
}

const OPERATIONS_BEGIN: &str = "<!-- operations:begin (generated from policy/model.json) -->\n";
const OPERATIONS_END: &str = "<!-- operations:end -->";

/// The default model's operations as the README's Markdown table.
fn operations_markdown() -> String {
    let model = portcullis_core::model::default_model();
    let mut table = String::from(
        "| operation | area | permission it needs | plan feature | automation keys |\n\
         |---|---|---|---|---|\n",
    );
    for (_, operation) in model.operations() {
        let needs = operation.requires.names_in(model);
        let needs = if needs.is_empty() {
            "none (every member)".to_owned()
        } else {
            needs
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let feature = operation
            .feature
            .and_then(|feature| model.feature_def(feature))
            .map(|feature| format!("`{}`", feature.name))
            .unwrap_or_default();
        let keys = if operation.automation_keys { "yes" } else { "" };
        table.push_str(&format!(
            "| `{}` | {} | {needs} | {feature} | {keys} |\n",
            operation.name, operation.area
        ));
    }
    table
}

#[test]
fn the_readme_lists_the_default_models_operations() {
    assert_generated(
        "README.md",
        OPERATIONS_BEGIN,
        OPERATIONS_END,
        &operations_markdown(),
    );
}

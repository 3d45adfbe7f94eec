//! Embeds the product model and the route policy. By default `policy/model.json` and
#![allow(
    clippy::panic,
    reason = "a build script reports a problem by failing the build"
)]
//! `policy/gateway.json`; a deployment with its own product sets `PORTCULLIS_MODEL` and
//! `PORTCULLIS_POLICY` (paths relative to the repository root, or absolute) when it builds.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (variable, default, out) in [
        ("PORTCULLIS_MODEL", "policy/model.json", "model.json"),
        ("PORTCULLIS_POLICY", "policy/gateway.json", "gateway.json"),
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
        let chosen = std::env::var(variable)
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| default.to_owned());
        let path = if Path::new(&chosen).is_absolute() {
            PathBuf::from(&chosen)
        } else {
            root.join(&chosen)
        };
        println!("cargo::rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{variable}: cannot read {}: {error}", path.display()));
        let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| panic!("OUT_DIR is not set"));
        std::fs::write(Path::new(&out_dir).join(out), text)
            .unwrap_or_else(|error| panic!("cannot write {out}: {error}"));
    }
}

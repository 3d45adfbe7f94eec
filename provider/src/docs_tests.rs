//! The provider's README and registry docs cover every resource and data source it serves: the
//! README's table names each (and nothing else), and each has its page under docs/ and its
//! example under examples/.

use crate::provider::Shared;
use crate::{data_sources, resources};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// The README table's names of one kind (`Resource`, `Data source`) with their doc links.
fn documented(kind: &str) -> BTreeSet<(String, String)> {
    let readme = include_str!("../README.md");
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", row_kind, name, link, ""] if *row_kind == kind => {
                    let name = name.trim_matches('`').to_owned();
                    let target = link.split_once("](")?.1.trim_end_matches(')').to_owned();
                    Some((name, target))
                }
                _ => None,
            }
        })
        .collect()
}

fn check(kind: &str, served: BTreeSet<String>, docs: &str, examples: &str, example_file: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = documented(kind);
    let named: BTreeSet<String> = table.iter().map(|(name, _)| name.clone()).collect();
    let served: BTreeSet<String> = served
        .into_iter()
        .map(|name| format!("portcullis_{name}"))
        .collect();
    assert_eq!(
        named, served,
        "provider/README.md's {kind} rows vs what the provider serves"
    );
    for (name, link) in &table {
        let short = name.trim_start_matches("portcullis_");
        assert_eq!(link, &format!("{docs}/{short}.md"), "{name}'s link");
        assert!(root.join(link).is_file(), "{name}: {link} is missing");
        let example = root.join(examples).join(name).join(example_file);
        assert!(
            example.is_file(),
            "{name}: {} is missing",
            example.display()
        );
    }
}

#[test]
fn the_readme_table_lists_every_resource_and_data_source() {
    let shared = Arc::new(Shared::default());
    check(
        "Resource",
        resources::all(&shared).into_keys().collect(),
        "docs/resources",
        "examples/resources",
        "resource.tf",
    );
    check(
        "Data source",
        data_sources::all(&shared).into_keys().collect(),
        "docs/data-sources",
        "examples/data-sources",
        "data-source.tf",
    );
}

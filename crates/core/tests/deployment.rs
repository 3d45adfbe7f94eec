//! The Workers' configurations (`wrangler.toml`, the Management API script, and
//! `wrangler.edge.toml`, the edge script) declare what the core's rules need: one Workers
//! rate-limiting binding per credential rate-limit tier, named as the edge asks for it, with the
//! tier's limit and period, and the same limiters in both scripts (one namespace each, so a
//! failure counted by either script counts for both).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test"
)]

use portcullis_core::terms::{RATE_LIMIT_TIERS, RateLimit};
use std::collections::{BTreeMap, BTreeSet};

fn configuration(file: &str) -> toml::Table {
    let path = format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

type Limiters = BTreeMap<String, (i64, i64, String)>;

fn limiters(config: &toml::Table) -> Limiters {
    config["ratelimits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|binding| {
            let simple = &binding["simple"];
            (
                binding["name"].as_str().unwrap().to_owned(),
                (
                    simple["limit"].as_integer().unwrap(),
                    simple["period"].as_integer().unwrap(),
                    binding["namespace_id"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

#[test]
fn both_scripts_declare_the_same_rate_limiters() {
    let api = limiters(&configuration("wrangler.toml"));
    let edge = limiters(&configuration("wrangler.edge.toml"));
    assert!(!api.is_empty());
    assert_eq!(api, edge);
}

#[test]
fn the_edge_binds_the_management_api_script_by_its_name() {
    let api = configuration("wrangler.toml");
    let edge = configuration("wrangler.edge.toml");
    let name = api["name"].as_str().unwrap();
    let services = edge["services"].as_array().unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["binding"].as_str(), Some("API"));
    assert_eq!(services[0]["service"].as_str(), Some(name));
    let objects = edge["durable_objects"]["bindings"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["script_name"].as_str(), Some(name));
    assert_eq!(
        objects[0]["class_name"].as_str(),
        api["durable_objects"]["bindings"][0]["class_name"].as_str()
    );
    assert_eq!(
        edge["kv_namespaces"][0]["id"].as_str(),
        api["kv_namespaces"][0]["id"].as_str()
    );
}

#[test]
fn every_rate_limit_tier_has_its_binding_with_its_limit_and_period() {
    let limiters = limiters(&configuration("wrangler.toml"));
    for (requests, period_seconds) in RATE_LIMIT_TIERS {
        let limit = RateLimit {
            requests,
            period_seconds,
        };
        assert_eq!(limit.check(), Ok(()));
        let (declared_limit, declared_period, _) = limiters
            .get(&limit.binding())
            .unwrap_or_else(|| panic!("wrangler.toml lacks {}", limit.binding()));
        assert_eq!(
            (*declared_limit, *declared_period),
            (i64::from(requests), i64::from(period_seconds)),
            "{}",
            limit.binding()
        );
        // The platform's only periods.
        assert!([10, 60].contains(&period_seconds), "{limit}");
    }
    // Every binding has its own namespace.
    let namespaces: BTreeSet<&String> = limiters.values().map(|(_, _, id)| id).collect();
    assert_eq!(namespaces.len(), limiters.len());
}

#[test]
fn a_rate_limit_outside_the_tiers_is_refused_with_its_code() {
    let limit = RateLimit {
        requests: 50,
        period_seconds: 60,
    };
    let refused = limit.check().unwrap_err();
    assert_eq!(refused.code(), "rate_limit_not_offered");
    assert!(
        refused.to_string().contains("50 requests per 60 seconds"),
        "{refused}"
    );
}

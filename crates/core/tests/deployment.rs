//! The Worker's configuration (`wrangler.toml`) declares what the core's rules need: one
//! Workers rate-limiting binding per credential rate-limit tier, named as the edge asks for it,
//! with the tier's limit and period.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test"
)]

use portcullis_core::terms::{RATE_LIMIT_TIERS, RateLimit};
use std::collections::{BTreeMap, BTreeSet};

fn configuration() -> toml::Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wrangler.toml");
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

#[test]
fn every_rate_limit_tier_has_its_binding_with_its_limit_and_period() {
    let config = configuration();
    let limiters: BTreeMap<String, (i64, i64, String)> = config["ratelimits"]
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
        .collect();
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

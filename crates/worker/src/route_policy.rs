//! The gateway's route policy: `policy/gateway.json`, embedded at build time and validated by
//! the core (at test time by the test below, and once per isolate before the first gateway
//! request; an invalid policy makes every gateway route answer 503, never allow).

use portcullis_core::gateway::policy::{PolicyError, RoutePolicy};
use std::sync::OnceLock;

/// The policy document shipped with the worker.
pub const POLICY_JSON: &str = include_str!("../../../policy/gateway.json");

/// The shipped policy, parsed once.
pub fn policy() -> Result<&'static RoutePolicy, &'static PolicyError> {
    static POLICY: OnceLock<Result<RoutePolicy, PolicyError>> = OnceLock::new();
    POLICY
        .get_or_init(|| RoutePolicy::from_json(POLICY_JSON))
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::authz::{Area, Operation};
    use portcullis_core::gateway::policy::{Access, Method, RouteMatch};

    fn access(method: Method, path: &str) -> Option<Access> {
        match policy().unwrap().find(method, path) {
            RouteMatch::Matched { route, .. } => Some(route.access),
            _ => None,
        }
    }

    #[test]
    fn the_shipped_policy_is_valid() {
        let policy = policy().unwrap_or_else(|error| panic!("{error}"));
        assert!(policy.routes().len() >= 20);
    }

    #[test]
    fn the_shipped_policy_covers_every_area_of_the_product() {
        let policy = policy().unwrap();
        for area in [
            Area::Configuration,
            Area::Certificates,
            Area::Builds,
            Area::CustomMessages,
            Area::UsersAndTokens,
            Area::TenantSettings,
        ] {
            assert!(
                policy.routes().iter().any(
                    |route| matches!(route.access, Access::Operation(op) if op.area() == area)
                ),
                "{area:?}"
            );
        }
        let public: Vec<&str> = policy
            .routes()
            .iter()
            .filter(|route| route.access == Access::Public)
            .map(|route| route.pattern.as_str())
            .collect();
        assert_eq!(public, ["/api/status"], "only the status route is public");
    }

    #[test]
    fn the_routes_the_end_to_end_suite_relies_on() {
        use Operation::*;
        for (method, path, expected) in [
            (Method::Get, "/api/configuration", Some(ReadConfiguration)),
            (Method::Put, "/api/configuration", Some(WriteConfiguration)),
            (
                Method::Get,
                "/api/configuration/ios%2Fbundle_id",
                Some(ReadConfiguration),
            ),
            (Method::Post, "/api/builds", Some(RunBuild)),
            (
                Method::Get,
                "/api/builds/b1/binaries/app.apk",
                Some(DownloadBinaries),
            ),
            (
                Method::Get,
                "/api/builds/latest/binaries/app.apk",
                Some(DownloadBinaries),
            ),
            (Method::Get, "/api/builds/b1/logs", Some(ReadBuildLogs)),
            (Method::Patch, "/api/settings", Some(WriteTenantSettings)),
            (Method::Get, "/api/audit", Some(ReadAuditLog)),
        ] {
            assert_eq!(
                access(method, path),
                expected.map(Access::Operation),
                "{method} {path}"
            );
        }
        assert_eq!(access(Method::Get, "/api/status"), Some(Access::Public));
        for path in ["/", "/api", "/api/secrets", "/v2/whoami", "/etc/members"] {
            assert_eq!(
                policy().unwrap().find(Method::Get, path),
                RouteMatch::NotFound,
                "{path}"
            );
        }
    }
}

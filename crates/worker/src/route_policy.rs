//! The product model and the gateway's route policy, embedded at build time (by default
//! `policy/model.json` and `policy/gateway.json`; `PORTCULLIS_MODEL` and `PORTCULLIS_POLICY`
//! choose others when the worker is built, see `build.rs`) and validated by the core: at test
//! time by the tests below, and once per isolate before the first request. The model is put
//! in force for every request ([`install`]); an invalid model makes every request answer 503,
//! an invalid policy every gateway route, never allow.

use portcullis_core::gateway::policy::{PolicyError, RoutePolicy};
use portcullis_core::model::{self, Model, ModelError};
use std::sync::{Arc, OnceLock};

/// The model document built into the worker.
pub const MODEL_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/model.json"));

/// The policy document built into the worker.
pub const POLICY_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/gateway.json"));

/// The built-in model, parsed once.
pub fn model() -> Result<&'static Arc<Model>, &'static ModelError> {
    static MODEL: OnceLock<Result<Arc<Model>, ModelError>> = OnceLock::new();
    MODEL
        .get_or_init(|| Model::from_json(MODEL_JSON).map(Arc::new))
        .as_ref()
}

/// Puts the built-in model in force on this isolate's thread; `false` when it is invalid (the
/// request must then be refused with 503).
pub fn install() -> bool {
    match model() {
        Ok(built_in) => {
            model::install(Arc::clone(built_in));
            true
        }
        Err(_) => false,
    }
}

/// Why the gateway cannot serve.
#[derive(Debug, Clone, Copy)]
pub enum Unservable {
    /// The model is invalid.
    Model(&'static ModelError),
    /// The policy is invalid, or names what the model lacks.
    Policy(&'static PolicyError),
}

/// The built-in policy, parsed once against the built-in model.
pub fn policy() -> Result<&'static RoutePolicy, Unservable> {
    static POLICY: OnceLock<Result<RoutePolicy, PolicyError>> = OnceLock::new();
    let built_in = model().map_err(Unservable::Model)?;
    POLICY
        .get_or_init(|| {
            let _scope = built_in.enter();
            RoutePolicy::from_json(POLICY_JSON)
        })
        .as_ref()
        .map_err(Unservable::Policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::authz::Operation;
    use portcullis_core::gateway::policy::{Access, Method, RouteMatch};

    fn access(method: Method, path: &str) -> Option<Access> {
        match policy().unwrap().find(method, path) {
            RouteMatch::Matched { route, .. } => Some(route.access),
            _ => None,
        }
    }

    #[test]
    fn the_shipped_policy_is_valid() {
        let policy = policy().unwrap_or_else(|error| panic!("{error:?}"));
        assert!(policy.routes().len() >= 20);
    }

    #[test]
    fn the_built_in_model_is_valid() {
        let model = model().unwrap_or_else(|error| panic!("{error}"));
        assert!(model.operations().count() > 0);
    }

    #[test]
    fn the_shipped_policy_covers_every_area_of_the_product() {
        let policy = policy().unwrap();
        let model = model().unwrap();
        for (operation, def) in model.operations() {
            if def.name.starts_with("write_") || def.name.starts_with("run_") {
                assert!(
                    policy
                        .routes()
                        .iter()
                        .any(|route| route.access == Access::Operation(operation)),
                    "{}",
                    def.name
                );
            }
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
        if MODEL_JSON != portcullis_core::model::DEFAULT_MODEL_JSON {
            return; // built for another product
        }
        let op = |name: &str| name.parse::<Operation>().unwrap();
        for (method, path, expected) in [
            (
                Method::Get,
                "/api/configuration",
                Some(op("read_configuration")),
            ),
            (
                Method::Put,
                "/api/configuration",
                Some(op("write_configuration")),
            ),
            (
                Method::Get,
                "/api/configuration/ios%2Fbundle_id",
                Some(op("read_configuration")),
            ),
            (Method::Post, "/api/builds", Some(op("run_build"))),
            (
                Method::Get,
                "/api/builds/b1/binaries/app.apk",
                Some(op("download_binaries")),
            ),
            (
                Method::Get,
                "/api/builds/latest/binaries/app.apk",
                Some(op("download_binaries")),
            ),
            (
                Method::Get,
                "/api/builds/b1/logs",
                Some(op("read_build_logs")),
            ),
            (
                Method::Patch,
                "/api/settings",
                Some(op("write_tenant_settings")),
            ),
            (Method::Get, "/api/audit", Some(op("read_audit_log"))),
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

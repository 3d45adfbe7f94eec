//! Checking a model and a route policy together, as `check-model` does before a deploy.

use super::Model;
use crate::gateway::policy::{Access, PolicyError, RoutePolicy};
use std::sync::Arc;

/// What [`check`] found.
#[derive(Debug)]
pub struct CheckReport {
    /// The model, or every problem with it.
    pub model: Result<Arc<Model>, super::ModelError>,
    /// The route policy checked against the model (when one was given and the model is
    /// valid), or every problem with it.
    pub policy: Option<Result<RoutePolicy, PolicyError>>,
    /// Operations of the model that no route of the policy names (not an error: a product
    /// may authorize some operations only through `POST /v1/authorize`).
    pub unrouted: Vec<String>,
}

impl CheckReport {
    /// Whether the model and the policy are both valid.
    pub fn is_ok(&self) -> bool {
        self.model.is_ok() && self.policy.as_ref().is_none_or(Result::is_ok)
    }
}

/// Parses `model_json`, then `policy_json` (if any) against it, reporting every problem of
/// both.
pub fn check(model_json: &str, policy_json: Option<&str>) -> CheckReport {
    let model = Model::from_json(model_json).map(Arc::new);
    let (policy, unrouted) = match (&model, policy_json) {
        (Ok(model), Some(text)) => {
            let _scope = model.enter();
            let policy = RoutePolicy::from_json(text);
            let unrouted = match &policy {
                Ok(policy) => model
                    .operations()
                    .filter(|(operation, _)| {
                        !policy
                            .routes()
                            .iter()
                            .any(|route| route.access == Access::Operation(*operation))
                    })
                    .map(|(_, def)| def.name.to_string())
                    .collect(),
                Err(_) => Vec::new(),
            };
            (Some(policy), unrouted)
        }
        _ => (None, Vec::new()),
    };
    CheckReport {
        model,
        policy,
        unrouted,
    }
}

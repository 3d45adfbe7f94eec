//! `portcullis_plans`: the plans of the product model the worker serves, in upgrade order.

use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, attribute, schema, string_list};
use async_trait::async_trait;
use portcullis_core::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

/// `portcullis_plans`: every plan with its seats and features.
#[derive(Debug)]
pub struct PlansSource {
    pub shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PlansState {
    /// Plan names, smallest first.
    pub names: Value<Vec<Value<String>>>,
    /// The plans, smallest first.
    pub plans: Value<Vec<PlanItem>>,
}

/// One plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    /// Its name.
    pub name: Value<String>,
    /// What it offers.
    pub description: Value<String>,
    /// The most members a tenant on it may have, the owner and pending invitees included.
    pub seats: Value<i64>,
    /// The features it includes.
    pub features: Value<Vec<Value<String>>>,
}

pub fn plans_schema() -> Schema {
    let item: HashMap<String, AttributeType> = [
        ("name", AttributeType::String),
        ("description", AttributeType::String),
        ("seats", AttributeType::Number),
        (
            "features",
            AttributeType::List(Box::new(AttributeType::String)),
        ),
    ]
    .into_iter()
    .map(|(name, attr_type)| (name.to_owned(), attr_type))
    .collect();
    schema(
        "The plans of the product model the worker serves (`GET /v1/model`), in upgrade order \
         (seat limits never decrease).",
        vec![
            (
                "names",
                string_list(Mode::Computed, "Plan names, smallest plan first."),
            ),
            (
                "plans",
                attribute(
                    AttributeType::List(Box::new(AttributeType::Object(item))),
                    Mode::Computed,
                    "The plans, smallest first, each with `name`, `description`, `seats` (the \
                     most members a tenant on it may have, the owner and pending invitees \
                     included) and `features` (the plan features it includes).",
                ),
            ),
        ],
    )
}

/// The data source's state for `model`.
pub fn plans_state(model: &Model) -> PlansState {
    let plans: Vec<PlanItem> = model
        .plans()
        .map(|(_, def)| PlanItem {
            name: Value::Value(def.name.to_string()),
            description: Value::Value(def.description.to_string()),
            seats: Value::Value(i64::try_from(def.seats).unwrap_or(i64::MAX)),
            features: Value::Value(
                model
                    .features()
                    .filter(|(feature, _)| def.features.contains(*feature))
                    .map(|(_, feature)| Value::Value(feature.name.to_string()))
                    .collect(),
            ),
        })
        .collect();
    PlansState {
        names: Value::Value(plans.iter().map(|plan| plan.name.clone()).collect()),
        plans: Value::Value(plans),
    }
}

#[async_trait]
impl DataSource for PlansSource {
    type State<'a> = PlansState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(plans_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        _config: PlansState,
        _meta: Empty,
    ) -> Option<PlansState> {
        let model = self.shared.model(diags)?;
        Some(plans_state(&model))
    }
}

//! `portcullis_operations`: the operations of the product model the worker serves.

use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, attribute, schema};
use async_trait::async_trait;
use portcullis_core::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

/// `portcullis_operations`: every operation with what it needs.
#[derive(Debug)]
pub struct OperationsSource {
    pub shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OperationsState {
    /// The operations, in document order.
    pub operations: Value<Vec<OperationItem>>,
}

/// One operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationItem {
    /// Its name.
    pub name: Value<String>,
    /// The area of the product it touches.
    pub area: Value<String>,
    /// What it does.
    pub description: Value<String>,
    /// Every permission it needs.
    pub requires: Value<Vec<Value<String>>>,
    /// The plan feature it needs, if any.
    pub feature: Value<String>,
    /// Whether an automation key may perform it.
    pub automation_keys: Value<bool>,
}

pub fn operations_schema() -> Schema {
    let item: HashMap<String, AttributeType> = [
        ("name", AttributeType::String),
        ("area", AttributeType::String),
        ("description", AttributeType::String),
        (
            "requires",
            AttributeType::List(Box::new(AttributeType::String)),
        ),
        ("feature", AttributeType::String),
        ("automation_keys", AttributeType::Bool),
    ]
    .into_iter()
    .map(|(name, attr_type)| (name.to_owned(), attr_type))
    .collect();
    schema(
        "The operations of the product model the worker serves (`GET /v1/model`): what the \
         gateway's route policy names, each with the permissions and plan feature it needs.",
        vec![(
            "operations",
            attribute(
                AttributeType::List(Box::new(AttributeType::Object(item))),
                Mode::Computed,
                "The operations, in the model's order, each with `name`, `area`, \
                 `description`, `requires` (every permission it needs; none: open to every \
                 member), `feature` (the plan feature it needs, or null) and \
                 `automation_keys` (whether an automation key may perform it).",
            ),
        )],
    )
}

/// The data source's state for `model`.
pub fn operations_state(model: &Model) -> OperationsState {
    let operations = model
        .operations()
        .map(|(_, def)| OperationItem {
            name: Value::Value(def.name.to_string()),
            area: Value::Value(def.area.to_string()),
            description: Value::Value(def.description.to_string()),
            requires: Value::Value(
                def.requires
                    .names_in(model)
                    .into_iter()
                    .map(|name| Value::Value(name.to_owned()))
                    .collect(),
            ),
            feature: def
                .feature
                .and_then(|feature| model.feature_def(feature))
                .map_or(Value::Null, |feature| {
                    Value::Value(feature.name.to_string())
                }),
            automation_keys: Value::Value(def.automation_keys),
        })
        .collect();
    OperationsState {
        operations: Value::Value(operations),
    }
}

#[async_trait]
impl DataSource for OperationsSource {
    type State<'a> = OperationsState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(operations_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        _config: OperationsState,
        _meta: Empty,
    ) -> Option<OperationsState> {
        let model = self.shared.model(diags)?;
        Some(operations_state(&model))
    }
}

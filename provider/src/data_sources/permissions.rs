//! `portcullis_permissions`: the permission catalogue of the product model the worker serves.

use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, attribute, schema, string_list, string_set};
use crate::values::{StringSet, set_of};
use async_trait::async_trait;
use portcullis_core::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tf_provider::schema::AttributeType;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

/// `portcullis_permissions`: every permission name of the served model and what each allows.
#[derive(Debug)]
pub struct PermissionsSource {
    pub shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PermissionsState {
    /// Every permission name.
    pub names: StringSet,
    /// Every permission name, in the model's catalogue order.
    pub ordered: Value<Vec<Value<String>>>,
    /// What each allows.
    pub descriptions: Value<BTreeMap<String, Value<String>>>,
    /// The permissions the engine's own rules use.
    pub built_in: StringSet,
}

pub fn permissions_schema() -> Schema {
    schema(
        "The permissions a member, token or key can hold: the catalogue of the product model \
         the worker serves (`GET /v1/model`), read when the provider is configured.",
        vec![
            (
                "names",
                string_set(Mode::Computed, "Every permission name."),
            ),
            (
                "ordered",
                string_list(
                    Mode::Computed,
                    "Every permission name, in the model's catalogue order.",
                ),
            ),
            (
                "descriptions",
                attribute(
                    AttributeType::Map(Box::new(AttributeType::String)),
                    Mode::Computed,
                    "What each permission allows, by name.",
                ),
            ),
            (
                "built_in",
                string_set(
                    Mode::Computed,
                    "The permissions every model has because the engine's own rules use them \
                     (`user_and_api_management`, `modify_tenant_settings`).",
                ),
            ),
        ],
    )
}

/// The data source's state for `model`.
pub fn permissions_state(model: &Model) -> PermissionsState {
    PermissionsState {
        names: set_of(model.permissions().map(|(_, def)| def.name.to_string())),
        ordered: Value::Value(
            model
                .permissions()
                .map(|(_, def)| Value::Value(def.name.to_string()))
                .collect(),
        ),
        descriptions: Value::Value(
            model
                .permissions()
                .map(|(_, def)| {
                    (
                        def.name.to_string(),
                        Value::Value(def.description.to_string()),
                    )
                })
                .collect(),
        ),
        built_in: set_of(
            model
                .permissions()
                .filter(|(_, def)| def.built_in)
                .map(|(_, def)| def.name.to_string()),
        ),
    }
}

#[async_trait]
impl DataSource for PermissionsSource {
    type State<'a> = PermissionsState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(permissions_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        _config: PermissionsState,
        _meta: Empty,
    ) -> Option<PermissionsState> {
        let model = self.shared.model(diags)?;
        Some(permissions_state(&model))
    }
}

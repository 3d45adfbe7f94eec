//! `portcullis_permissions`: the permission catalogue, from the core.

use crate::resources::Empty;
use crate::schema::{Mode, attribute, schema, string_set};
use crate::values::{StringSet, permission_set};
use async_trait::async_trait;
use portcullis_core::Permission;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tf_provider::schema::AttributeType;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

/// `portcullis_permissions`: the six permission names and what each allows.
#[derive(Debug)]
pub struct PermissionsSource;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PermissionsState {
    /// Every permission name.
    pub names: StringSet,
    /// What each allows.
    pub descriptions: Value<BTreeMap<String, Value<String>>>,
}

pub fn permissions_schema() -> Schema {
    schema(
        "The permissions a member, token or key can hold, from the engine's own catalogue.",
        vec![
            (
                "names",
                string_set(Mode::Computed, "Every permission name."),
            ),
            (
                "descriptions",
                attribute(
                    AttributeType::Map(Box::new(AttributeType::String)),
                    Mode::Computed,
                    "What each permission allows, by name.",
                ),
            ),
        ],
    )
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
        _diags: &mut Diagnostics,
        _config: PermissionsState,
        _meta: Empty,
    ) -> Option<PermissionsState> {
        Some(PermissionsState {
            names: permission_set(portcullis_core::PermissionSet::ALL),
            descriptions: Value::Value(
                Permission::ALL
                    .into_iter()
                    .map(|p| {
                        (
                            p.name().to_owned(),
                            Value::Value(p.description().to_owned()),
                        )
                    })
                    .collect(),
            ),
        })
    }
}

//! `portcullis_role`: a role preset's permissions, from the core.

use crate::diagnostics;
use crate::resources::Empty;
use crate::schema::{Mode, schema, string, string_set};
use crate::values::{StringSet, known, permission_set};
use async_trait::async_trait;
use portcullis_core::RolePreset;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

/// `portcullis_role`: a role preset's permissions.
#[derive(Debug)]
pub struct RoleSource;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RoleState {
    pub name: Value<String>,
    pub permissions: StringSet,
}

pub fn role_schema() -> Schema {
    schema(
        "The permissions a role preset stands for (presets are shortcuts for granting, not \
         stored roles).",
        vec![
            (
                "name",
                string(
                    Mode::Required,
                    "`platform_admin`, `security_engineer`, `release_engineer` or `compliance_reviewer`.",
                ),
            ),
            (
                "permissions",
                string_set(Mode::Computed, "The preset's permissions."),
            ),
        ],
    )
}

#[async_trait]
impl DataSource for RoleSource {
    type State<'a> = RoleState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(role_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: RoleState) -> Option<()> {
        if let Some(name) = known(&config.name)
            && let Err(error) = name.parse::<RolePreset>()
        {
            diagnostics::error(diags, "Unknown role", error.to_string(), Some("name"));
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: RoleState,
        _meta: Empty,
    ) -> Option<RoleState> {
        let name = known(&config.name)?.to_owned();
        match name.parse::<RolePreset>() {
            Ok(role) => Some(RoleState {
                name: Value::Value(name),
                permissions: permission_set(role.permissions()),
            }),
            Err(error) => {
                diagnostics::error(diags, "Unknown role", error.to_string(), Some("name"));
                None
            }
        }
    }
}

//! `portcullis_role`: a role preset of the product model the worker serves.

use crate::diagnostics;
use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, schema, string, string_set};
use crate::values::{StringSet, known, permission_set};
use async_trait::async_trait;
use portcullis_core::RolePreset;
use portcullis_core::model::Model;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

/// `portcullis_role`: a role preset's permissions.
#[derive(Debug)]
pub struct RoleSource {
    pub shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RoleState {
    pub name: Value<String>,
    pub description: Value<String>,
    pub permissions: StringSet,
}

pub fn role_schema() -> Schema {
    schema(
        "The permissions a role preset of the served product model stands for (presets are \
         shortcuts for granting, not stored roles).",
        vec![
            (
                "name",
                string(
                    Mode::Required,
                    "A preset of the model the worker serves, e.g. `platform_admin`, \
                     `security_engineer`, `release_engineer` or `compliance_reviewer` in the \
                     default model. Any other name fails with the served model's presets.",
                ),
            ),
            (
                "description",
                string(Mode::Computed, "Who the preset is for."),
            ),
            (
                "permissions",
                string_set(Mode::Computed, "The preset's permissions."),
            ),
        ],
    )
}

/// The state for the preset `name` of `model`; the error names every preset it has.
pub fn role_state(model: &Arc<Model>, name: &str) -> Result<RoleState, String> {
    let preset = {
        let _in_force = model.enter();
        name.parse::<RolePreset>()
            .map_err(|error| error.to_string())?
    };
    let def = model
        .preset_def(preset)
        .ok_or_else(|| format!("unknown role `{name}`"))?;
    Ok(RoleState {
        name: Value::Value(name.to_owned()),
        description: Value::Value(def.description.to_string()),
        permissions: permission_set(model, def.permissions),
    })
}

#[async_trait]
impl DataSource for RoleSource {
    type State<'a> = RoleState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(role_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: RoleState,
        _meta: Empty,
    ) -> Option<RoleState> {
        // The name is checked here, not at validate time: only a configured provider knows
        // the served model.
        let name = known(&config.name)?.to_owned();
        let model = self.shared.model(diags)?;
        match role_state(&model, &name) {
            Ok(state) => Some(state),
            Err(message) => {
                diagnostics::error(diags, "Unknown role", message, Some("name"));
                None
            }
        }
    }
}

//! The provider's data sources: the product model the worker serves (permissions, role
//! presets, plans, operations; read once, when the provider is configured), and member
//! lookups answered by the Management API.

mod operations;
mod permissions;
mod plans;
mod role;
mod user;
mod users;

use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, string, string_set};
use crate::values::{StringSet, permission_set};
use operations::OperationsSource;
use permissions::PermissionsSource;
use plans::PlansSource;
use portcullis_core::listing::ListQuery;
use portcullis_core::model::Model;
use portcullis_core::query::MemberView;
use role::RoleSource;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tf_provider::value::Value;
use tf_provider::{Diagnostics, DynamicDataSource};
use user::UserSource;
use users::UsersSource;

/// Every data source, by type name without the `portcullis_` prefix (the framework adds it).
pub fn all(shared: &Arc<Shared>) -> HashMap<String, Box<dyn DynamicDataSource>> {
    let mut sources: HashMap<String, Box<dyn DynamicDataSource>> = HashMap::new();
    let shared = || Arc::clone(shared);
    sources.insert(
        "permissions".into(),
        Box::new(PermissionsSource { shared: shared() }),
    );
    sources.insert("role".into(), Box::new(RoleSource { shared: shared() }));
    sources.insert("plans".into(), Box::new(PlansSource { shared: shared() }));
    sources.insert(
        "operations".into(),
        Box::new(OperationsSource { shared: shared() }),
    );
    sources.insert("user".into(), Box::new(UserSource { shared: shared() }));
    sources.insert("users".into(), Box::new(UsersSource { shared: shared() }));
    sources
}

/// A member as the member data sources show it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MemberItem {
    /// User id.
    pub id: Value<String>,
    /// Email.
    pub email: Value<String>,
    /// Display name.
    pub name: Value<String>,
    /// `pending`, `active` or `inactive`.
    pub status: Value<String>,
    /// Granted permissions.
    pub permissions: StringSet,
    /// Whether the member owns the tenant.
    pub tenant_owner: Value<bool>,
}

impl MemberItem {
    /// The member `view` shows, its permissions named as `model` names them.
    pub fn new(model: &Model, view: &MemberView) -> Self {
        MemberItem {
            id: Value::Value(view.user_id.to_string()),
            email: Value::Value(view.email.as_str().to_owned()),
            name: Value::Value(view.name.as_str().to_owned()),
            status: Value::Value(view.status.name().to_owned()),
            permissions: permission_set(model, view.permissions),
            tenant_owner: Value::Value(view.tenant_owner),
        }
    }
}

/// The attributes of a member object.
pub fn member_attributes(email_mode: Mode) -> Vec<(&'static str, tf_provider::schema::Attribute)> {
    vec![
        ("id", string(Mode::Computed, "The user's id (`usr_...`).")),
        ("email", string(email_mode, "The user's email address.")),
        ("name", string(Mode::Computed, "Display name.")),
        (
            "status",
            string(Mode::Computed, "`pending`, `active` or `inactive`."),
        ),
        (
            "permissions",
            string_set(Mode::Computed, "Permissions granted in the tenant."),
        ),
        (
            "tenant_owner",
            boolean(Mode::Computed, "Whether the member owns the tenant."),
        ),
    ]
}

/// The tenant's members, and the served model that names their permissions.
pub async fn members(
    shared: &Shared,
    diags: &mut Diagnostics,
) -> Option<(Arc<Model>, Vec<MemberView>)> {
    let api = shared.api(diags)?;
    let list = api.members(api.tenant_id(), &ListQuery::default()).await;
    let members = diagnostics::api_ok(diags, "list the members", list, None)?.items;
    Some((Arc::clone(api.model()), members))
}

#[cfg(test)]
mod tests {
    use super::operations::{OperationsState, operations_schema, operations_state};
    use super::permissions::{PermissionsState, permissions_schema, permissions_state};
    use super::plans::{PlansState, plans_schema, plans_state};
    use super::role::{RoleState, role_schema, role_state};
    use super::user::user_source_schema;
    use super::users::{UsersState, users_schema};
    use super::*;
    use crate::resources::tests::assert_parity;
    use crate::test_models::{default, documents};
    use crate::values::{set_elements, set_of};

    #[test]
    fn schemas_and_states_have_the_same_attributes() {
        assert_parity(&permissions_schema(), &PermissionsState::default());
        assert_parity(&role_schema(), &RoleState::default());
        assert_parity(&plans_schema(), &PlansState::default());
        assert_parity(&operations_schema(), &OperationsState::default());
        assert_parity(&user_source_schema(), &MemberItem::default());
        assert_parity(&users_schema(), &UsersState::default());
    }

    fn strings(list: &Value<Vec<Value<String>>>) -> Vec<String> {
        list.as_ref_option()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_ref_option().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_catalogue_is_the_model_given() {
        let state = permissions_state(&default());
        assert_eq!(set_elements(&state.names).unwrap().len(), 6);
        assert_eq!(
            set_elements(&state.built_in).unwrap(),
            ["modify_tenant_settings", "user_and_api_management"]
        );
        let documents = permissions_state(&documents());
        assert_eq!(
            strings(&documents.ordered),
            [
                "edit_documents",
                "publish_documents",
                "manage_templates",
                "export_archive",
                "modify_tenant_settings",
                "user_and_api_management",
                "run_imports"
            ]
        );
        assert_eq!(
            documents
                .descriptions
                .as_ref_option()
                .and_then(|map| map.get("run_imports").cloned()),
            Some(Value::Value(
                "run bulk imports (automation keys)".to_owned()
            ))
        );
    }

    #[test]
    fn roles_are_the_presets_of_the_model_given() {
        let role = role_state(&default(), "release_engineer").unwrap();
        assert_eq!(role.permissions, set_of(["build_applications"]));
        let editor = role_state(&documents(), "editor").unwrap();
        assert_eq!(
            editor.permissions,
            set_of(["edit_documents", "publish_documents"])
        );
        assert_eq!(
            editor.description,
            Value::Value("Writes and publishes".into())
        );
        let missing = role_state(&documents(), "release_engineer").unwrap_err();
        assert_eq!(
            missing,
            "unknown role `release_engineer`; expected one of writer, editor, workspace_admin, reader"
        );
        assert!(
            role_state(&default(), "god")
                .unwrap_err()
                .contains("unknown role `god`")
        );
    }

    #[test]
    fn plans_come_in_upgrade_order_with_seats_and_features() {
        let plans = plans_state(&documents());
        assert_eq!(strings(&plans.names), ["starter", "business", "corporate"]);
        let items = plans.plans.as_ref_option().unwrap();
        assert_eq!(items[0].seats, Value::Value(3));
        assert_eq!(strings(&items[0].features), ["automation_keys"]);
        assert_eq!(items[1].seats, Value::Value(50));
        assert_eq!(
            strings(&items[1].features),
            ["audit_log", "version_history"]
        );
        assert_eq!(
            items[1].description,
            Value::Value("Fifty people, version history; no automation keys".into())
        );
        assert_eq!(
            strings(&plans_state(&default()).names),
            ["free", "team", "enterprise"]
        );
    }

    #[test]
    fn operations_carry_what_they_need() {
        let operations = operations_state(&documents());
        let items = operations.operations.as_ref_option().unwrap();
        assert_eq!(items.len(), 11);
        let publish = items
            .iter()
            .find(|op| op.name == Value::Value("publish_document".into()))
            .unwrap();
        assert_eq!(
            strings(&publish.requires),
            ["edit_documents", "publish_documents"]
        );
        assert_eq!(publish.feature, Value::Null);
        assert_eq!(publish.area, Value::Value("documents".into()));
        let export = items
            .iter()
            .find(|op| op.name == Value::Value("export_archive".into()))
            .unwrap();
        assert_eq!(export.feature, Value::Value("bulk_export".into()));
        assert_eq!(export.automation_keys, Value::Value(false));
        let import = items
            .iter()
            .find(|op| op.name == Value::Value("run_import".into()))
            .unwrap();
        assert_eq!(import.automation_keys, Value::Value(true));
    }
}

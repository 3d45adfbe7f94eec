//! The provider's data sources: catalogue lookups answered by `portcullis-core` itself, and
//! member lookups answered by the Management API.

mod permissions;
mod role;
mod user;
mod users;

use crate::client::Items;
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, string, string_set};
use crate::values::{StringSet, permission_set};
use permissions::PermissionsSource;
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
    sources.insert("permissions".into(), Box::new(PermissionsSource));
    sources.insert("role".into(), Box::new(RoleSource));
    sources.insert(
        "user".into(),
        Box::new(UserSource {
            shared: Arc::clone(shared),
        }),
    );
    sources.insert(
        "users".into(),
        Box::new(UsersSource {
            shared: Arc::clone(shared),
        }),
    );
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

impl From<&MemberView> for MemberItem {
    fn from(view: &MemberView) -> Self {
        MemberItem {
            id: Value::Value(view.user_id.to_string()),
            email: Value::Value(view.email.as_str().to_owned()),
            name: Value::Value(view.name.as_str().to_owned()),
            status: Value::Value(view.status.name().to_owned()),
            permissions: permission_set(view.permissions),
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

/// The tenant's members.
pub async fn members(shared: &Shared, diags: &mut Diagnostics) -> Option<Vec<MemberView>> {
    let api = shared.api(diags)?;
    let list = api
        .get::<Items<MemberView>>(&format!("/v1/tenants/{}/members", api.tenant()))
        .await;
    diagnostics::api_ok(diags, "list the members", list, None).map(|list| list.items)
}

#[cfg(test)]
mod tests {
    use super::permissions::{PermissionsState, permissions_schema};
    use super::role::{RoleState, role_schema};
    use super::user::user_source_schema;
    use super::users::{UsersState, users_schema};
    use super::*;
    use crate::resources::Empty;
    use crate::resources::tests::assert_parity;
    use tf_provider::DataSource;

    #[test]
    fn schemas_and_states_have_the_same_attributes() {
        assert_parity(&permissions_schema(), &PermissionsState::default());
        assert_parity(&role_schema(), &RoleState::default());
        assert_parity(&user_source_schema(), &MemberItem::default());
        assert_parity(&users_schema(), &UsersState::default());
    }

    #[tokio::test]
    async fn catalogue_sources_answer_from_the_core() {
        let mut diags = Diagnostics::default();
        let permissions = DataSource::read(
            &PermissionsSource,
            &mut diags,
            PermissionsState::default(),
            Empty::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            crate::values::set_elements(&permissions.names)
                .unwrap()
                .len(),
            6
        );
        let role = DataSource::read(
            &RoleSource,
            &mut diags,
            RoleState {
                name: Value::Value("release_engineer".into()),
                permissions: Value::Unknown,
            },
            Empty::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            role.permissions,
            crate::values::set_of(["build_applications"])
        );
        let missing = DataSource::read(
            &RoleSource,
            &mut diags,
            RoleState {
                name: Value::Value("god".into()),
                permissions: Value::Unknown,
            },
            Empty::default(),
        )
        .await;
        assert!(missing.is_none());
        assert!(diags.errors[0].detail.contains("unknown role `god`"));
    }
}

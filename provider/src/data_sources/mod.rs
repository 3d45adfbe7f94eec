//! The provider's data sources: catalogue lookups answered by `portcullis-core` itself, and
//! member lookups answered by the Management API.

use crate::client::Items;
use crate::diagnostics;
use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, attribute, boolean, schema, string, string_set};
use crate::values::{StringSet, known, permission_set};
use async_trait::async_trait;
use portcullis_core::query::MemberView;
use portcullis_core::user::UserStatus;
use portcullis_core::{Permission, RolePreset};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics, DynamicDataSource};

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

// ----- portcullis_permissions --------------------------------------------------------------

/// `portcullis_permissions`: the six permission names and what each allows.
#[derive(Debug)]
struct PermissionsSource;

#[derive(Debug, Default, Serialize, Deserialize)]
struct PermissionsState {
    names: StringSet,
    descriptions: Value<BTreeMap<String, Value<String>>>,
}

fn permissions_schema() -> Schema {
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

// ----- portcullis_role ---------------------------------------------------------------------

/// `portcullis_role`: a role preset's permissions.
#[derive(Debug)]
struct RoleSource;

#[derive(Debug, Default, Serialize, Deserialize)]
struct RoleState {
    name: Value<String>,
    permissions: StringSet,
}

fn role_schema() -> Schema {
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

// ----- portcullis_user / portcullis_users --------------------------------------------------

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct MemberItem {
    id: Value<String>,
    email: Value<String>,
    name: Value<String>,
    status: Value<String>,
    permissions: StringSet,
    tenant_owner: Value<bool>,
}

fn status_name(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Pending => "pending",
        UserStatus::Active => "active",
        UserStatus::Inactive => "inactive",
    }
}

impl From<&MemberView> for MemberItem {
    fn from(view: &MemberView) -> Self {
        MemberItem {
            id: Value::Value(view.user_id.to_string()),
            email: Value::Value(view.email.as_str().to_owned()),
            name: Value::Value(view.name.as_str().to_owned()),
            status: Value::Value(status_name(view.status).to_owned()),
            permissions: permission_set(view.permissions),
            tenant_owner: Value::Value(view.tenant_owner),
        }
    }
}

fn member_attributes(email_mode: Mode) -> Vec<(&'static str, tf_provider::schema::Attribute)> {
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

async fn members(shared: &Shared, diags: &mut Diagnostics) -> Option<Vec<MemberView>> {
    let api = shared.api(diags)?;
    match api
        .get::<Items<MemberView>>(&format!("/v1/tenants/{}/members", api.tenant()))
        .await
    {
        Ok(list) => Some(list.items),
        Err(failure) => {
            diagnostics::api(diags, "list the members", &failure, None);
            None
        }
    }
}

/// `portcullis_user`: one member, by email.
#[derive(Debug)]
struct UserSource {
    shared: Arc<Shared>,
}

fn user_source_schema() -> Schema {
    schema(
        "A member of the provider's tenant, looked up by email.",
        member_attributes(Mode::Required),
    )
}

#[async_trait]
impl DataSource for UserSource {
    type State<'a> = MemberItem;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(user_source_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: MemberItem,
        _meta: Empty,
    ) -> Option<MemberItem> {
        let email = known(&config.email)?.to_owned();
        let members = members(&self.shared, diags).await?;
        match members
            .iter()
            .find(|member| member.email.as_str().eq_ignore_ascii_case(email.trim()))
        {
            Some(member) => Some(MemberItem {
                email: Value::Value(email),
                ..MemberItem::from(member)
            }),
            None => {
                diagnostics::error(
                    diags,
                    "No such member",
                    format!("no member of the tenant has the email `{email}`"),
                    Some("email"),
                );
                None
            }
        }
    }
}

/// `portcullis_users`: every member of the tenant, optionally filtered by status.
#[derive(Debug)]
struct UsersSource {
    shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersState {
    status: Value<String>,
    users: Value<Vec<MemberItem>>,
}

fn users_schema() -> Schema {
    // A list of objects (not nested attributes: Terraform refuses the framework's encoding of
    // those, "Type and NestedType cannot both be set").
    let item: HashMap<String, AttributeType> = member_attributes(Mode::Computed)
        .into_iter()
        .map(|(name, attribute)| (name.to_owned(), attribute.attr_type))
        .collect();
    schema(
        "The members of the provider's tenant (owner and pending invitees included), sorted by email.",
        vec![
            (
                "status",
                string(
                    Mode::Optional,
                    "Only members with this status: `pending`, `active` or `inactive`.",
                ),
            ),
            (
                "users",
                attribute(
                    AttributeType::List(Box::new(AttributeType::Object(item))),
                    Mode::Computed,
                    "The members, each with `id`, `email`, `name`, `status`, `permissions` and `tenant_owner`.",
                ),
            ),
        ],
    )
}

#[async_trait]
impl DataSource for UsersSource {
    type State<'a> = UsersState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(users_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: UsersState) -> Option<()> {
        if let Some(status) = known(&config.status)
            && !["pending", "active", "inactive"].contains(&status)
        {
            diagnostics::error(
                diags,
                "Invalid status",
                format!("`{status}` is not a status; use `pending`, `active` or `inactive`"),
                Some("status"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: UsersState,
        _meta: Empty,
    ) -> Option<UsersState> {
        let mut members = members(&self.shared, diags).await?;
        members.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
        let filter = known(&config.status).map(str::to_owned);
        let users = members
            .iter()
            .filter(|member| {
                filter
                    .as_deref()
                    .is_none_or(|s| s == status_name(member.status))
            })
            .map(MemberItem::from)
            .collect();
        Some(UsersState {
            status: config.status,
            users: Value::Value(users),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;

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

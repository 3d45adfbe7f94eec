//! `portcullis_user`: a member of the provider's tenant, by email.

use super::{Empty, found_or_error, parse_id, plan_book_snapshot, planned_tenant, settable_status};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, schema, sensitive, string, string_set};
use crate::validation::{self, MemberChange, PlannedMember};
use crate::values::{
    StringSet, default_if_null, known, null_if_unknown, parse_permissions, permission_names,
    permission_set, preset_permissions, rfc3339, set_elements,
};
use async_trait::async_trait;
use portcullis_client::Invite;
use portcullis_core::listing::ListQuery;
use portcullis_core::model::Model;
use portcullis_core::query::MemberView;
use portcullis_core::user::UserStatus;
use portcullis_core::{PermissionSet, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of a member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// User id (`usr_...`).
    pub id: Value<String>,
    /// The tenant.
    pub tenant_id: Value<String>,
    /// Identity; changing it replaces the member.
    pub email: Value<String>,
    /// Display name.
    pub name: Value<String>,
    /// Granted permissions.
    pub permissions: StringSet,
    /// A role preset whose permissions are added.
    pub role: Value<String>,
    /// Desired account-level status: `active` or `inactive`.
    pub status: Value<String>,
    /// Actual status: `pending`, `active` or `inactive`.
    pub state: Value<String>,
    /// What the member is granted: permissions ∪ role (every permission for the owner).
    pub granted_permissions: StringSet,
    /// Whether the member owns the tenant.
    pub tenant_owner: Value<bool>,
    /// The invitation code, when this resource invited a new user.
    pub invitation_code: Value<String>,
    /// When that invitation expires.
    pub invitation_expires_at: Value<String>,
}

/// The resource.
#[derive(Debug)]
pub struct UserResource {
    shared: Arc<Shared>,
}

impl UserResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        UserResource { shared }
    }
}

/// The resource's schema.
pub fn user_schema() -> Schema {
    schema(
        "A member of the provider's tenant, identified by email. Creating it adds the user to \
         the tenant (inviting a new user, who stays `pending` until they accept); destroying it \
         removes the member from the tenant (the user stays in the account). `status` \
         deactivates or reactivates the user account-wide, in every tenant.",
        vec![
            ("id", string(Mode::Computed, "The user's id (`usr_...`).")),
            (
                "tenant_id",
                string(Mode::Computed, "The tenant (the provider token's)."),
            ),
            (
                "email",
                string(
                    Mode::Required,
                    "The user's email address, their immutable identity (case-insensitive). \
                     Changing it replaces the member.",
                ),
            ),
            (
                "name",
                string(
                    Mode::OptionalComputed,
                    "Display name. Defaults to the existing user's name, or the email's local part for a new user.",
                ),
            ),
            (
                "permissions",
                string_set(
                    Mode::Optional,
                    "Permissions granted in the tenant: names of the product model the worker \
                     serves (`portcullis_permissions`), checked at plan time. None means \
                     read-only.",
                ),
            ),
            (
                "role",
                string(
                    Mode::Optional,
                    "A role preset of the served product model (`portcullis_role`) whose \
                     permissions are added to `permissions`, e.g. `release_engineer` in the \
                     default model.",
                ),
            ),
            (
                "status",
                string(
                    Mode::OptionalComputed,
                    "`active` (default) or `inactive`. Inactive blocks the user and every \
                     credential they own in every tenant of the account (company admins only).",
                ),
            ),
            (
                "state",
                string(
                    Mode::Computed,
                    "The user's actual status: `pending` (invited, not yet accepted), `active` or `inactive`.",
                ),
            ),
            (
                "granted_permissions",
                string_set(
                    Mode::Computed,
                    "What the member is granted: `permissions` plus the role's (every permission for the tenant owner).",
                ),
            ),
            (
                "tenant_owner",
                boolean(Mode::Computed, "Whether the member owns the tenant."),
            ),
            (
                "invitation_code",
                sensitive(string(
                    Mode::Computed,
                    "The invitation code, when this resource invited a new user (known only \
                     after create; stored in the state, treat the state as secret).",
                )),
            ),
            (
                "invitation_expires_at",
                string(Mode::Computed, "When that invitation expires (RFC 3339)."),
            ),
        ],
    )
}

fn role_permissions(model: &Model, role: &Value<String>) -> Option<PermissionSet> {
    match role {
        Value::Unknown => None,
        Value::Null => Some(PermissionSet::EMPTY),
        Value::Value(name) => Some(preset_permissions(model, name).unwrap_or(PermissionSet::EMPTY)),
    }
}

/// permissions ∪ role in `model`, when both are known and valid.
fn desired_grant(model: &Model, state: &UserState) -> Option<PermissionSet> {
    let names = set_elements(&state.permissions)?;
    let set = parse_permissions(model, &names)?;
    Some(set.union(role_permissions(model, &state.role)?))
}

/// Copies what the API shows into the state, keeping the practitioner's spelling where it
/// means the same thing (email case, permissions split between the set and the role).
fn fill(model: &Model, state: &mut UserState, view: &MemberView) {
    state.id = Value::Value(view.user_id.to_string());
    state.tenant_id = Value::Value(view.tenant_id.to_string());
    let same_email =
        known(&state.email).is_some_and(|e| e.eq_ignore_ascii_case(view.email.as_str()));
    if !same_email {
        state.email = Value::Value(view.email.as_str().to_owned());
    }
    state.name = Value::Value(view.name.as_str().to_owned());
    state.status = settable_status(view.status);
    state.state = Value::Value(view.status.name().to_owned());
    state.tenant_owner = Value::Value(view.tenant_owner);
    state.granted_permissions = permission_set(model, view.permissions);
    if view.tenant_owner {
        if state.permissions.is_unknown() {
            state.permissions = Value::Null;
        }
        return;
    }
    let role = role_permissions(model, &state.role).unwrap_or(PermissionSet::EMPTY);
    let configured =
        set_elements(&state.permissions).and_then(|names| parse_permissions(model, &names));
    let matches = configured.is_some_and(|set| set.union(role) == view.permissions);
    if !matches {
        state.permissions = if state.permissions.is_null() && view.permissions.is_empty() {
            Value::Null
        } else {
            permission_set(model, view.permissions)
        };
    }
    null_if_unknown(&mut state.invitation_code);
    null_if_unknown(&mut state.invitation_expires_at);
}

async fn read_member(api: &Api, user_id: &str) -> Result<Option<MemberView>, ApiError> {
    let Some(user) = parse_id::<UserId>(user_id) else {
        return Ok(None);
    };
    api.member(api.tenant_id(), &user).await.found()
}

/// The member with this email (any case), from the tenant's member list.
async fn member_by_email(api: &Api, email: &str) -> Result<Option<MemberView>, ApiError> {
    let members = api.members(api.tenant_id(), &ListQuery::default()).await?;
    Ok(members
        .items
        .into_iter()
        .find(|member| member.email.as_str().eq_ignore_ascii_case(email.trim())))
}

impl UserResource {
    /// The plan-time checks of one member change, with the tenant snapshot.
    async fn check(&self, diags: &mut Diagnostics, api: &Api, change: MemberChange) {
        let Some(snapshot) = plan_book_snapshot(&self.shared, api, diags).await else {
            return;
        };
        self.shared
            .book
            .check_member(
                diags,
                api.model(),
                &snapshot,
                api.principal.permissions,
                change,
            )
            .await;
    }

    /// Applies the planned name, permissions and status to an existing member.
    async fn converge(
        &self,
        api: &Api,
        diags: &mut Diagnostics,
        current: &MemberView,
        planned: &UserState,
    ) -> Option<()> {
        let user_id = &current.user_id;
        let wanted_status = known(&planned.status).unwrap_or("active");
        if wanted_status == "active" && current.status == UserStatus::Inactive {
            let activated = api.activate_user(user_id).await;
            diagnostics::api_ok(diags, "activate the user", activated, Some("status"))?;
        }
        if let Some(grant) = desired_grant(api.model(), planned)
            && !current.tenant_owner
            && grant != current.permissions
        {
            let changed = api
                .change_permissions(api.tenant_id(), user_id, grant)
                .await;
            diagnostics::api_ok(
                diags,
                "change the member's permissions",
                changed,
                Some("permissions"),
            )?;
        }
        if let Some(name) = known(&planned.name)
            && name != current.name.as_str()
        {
            let renamed = api.rename_user(user_id, name).await;
            diagnostics::api_ok(diags, "rename the user", renamed, Some("name"))?;
        }
        if wanted_status == "inactive" && current.status != UserStatus::Inactive {
            let deactivated = api.deactivate_user(user_id).await;
            diagnostics::api_ok(diags, "deactivate the user", deactivated, Some("status"))?;
        }
        Some(())
    }

    /// Reads the member back into `state` after a write; an error if it vanished.
    async fn refresh(&self, api: &Api, diags: &mut Diagnostics, state: &mut UserState) {
        let Some(user_id) = known(&state.id).map(str::to_owned) else {
            return;
        };
        if let Some(view) = found_or_error(
            diags,
            "read the member back",
            read_member(api, &user_id).await,
            "The member disappeared",
            format!("`{user_id}` was removed from the tenant while it was being changed"),
        ) {
            fill(api.model(), state, &view);
        }
    }
}

/// Checks the configured permission and role names against the served model (plan time);
/// `true` when every known one is valid.
fn names_are_valid(diags: &mut Diagnostics, model: &Arc<Model>, state: &UserState) -> bool {
    let role = known(&state.role);
    match set_elements(&state.permissions) {
        Some(names) => validation::check_permission_names(diags, model, &names, role),
        None => role
            .is_none_or(|role| validation::check_permission_names(diags, model, &[], Some(role))),
    }
}

fn planned_member(model: &Model, state: &UserState, status: &str) -> Option<PlannedMember> {
    let email = known(&state.email)?.to_owned();
    let mut permissions = set_elements(&state.permissions)?;
    let mut from_role = Vec::new();
    if let Value::Value(role) = &state.role
        && let Some(role) = preset_permissions(model, role)
    {
        from_role = permission_names(model, role)
            .into_iter()
            .filter(|name| !permissions.contains(name))
            .collect();
        permissions.extend(from_role.iter().cloned());
    }
    Some(PlannedMember {
        email,
        permissions,
        from_role,
        status: status.to_owned(),
    })
}

#[async_trait]
impl Resource for UserResource {
    type State<'a> = UserState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(user_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: UserState) -> Option<()> {
        // Permission and role names are checked at plan time, against the served model
        // (Terraform validates before the provider is configured).
        validation::check_email(diags, &config.email);
        validation::check_settable_status(diags, &config.status);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: UserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(UserState, Empty)> {
        let api = self.shared.api(diags)?;
        let user_id = known(&state.id)?.to_owned();
        let found = read_member(&api, &user_id).await;
        let fill = |state: &mut UserState, view: &MemberView| fill(api.model(), state, view);
        super::state_after_read(diags, "read the member", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: UserState,
        _config: UserState,
        _meta: Empty,
    ) -> Option<(UserState, Empty)> {
        let mut state = proposed;
        let api = self.shared.api(diags);
        state.id = Value::Unknown;
        state.tenant_id = planned_tenant(api.as_deref());
        default_if_null(&mut state.status, Value::Value("active".to_owned()));
        default_if_null(&mut state.name, Value::Unknown);
        state.state = Value::Unknown;
        state.tenant_owner = Value::Value(false);
        state.invitation_code = Value::Unknown;
        state.invitation_expires_at = Value::Unknown;
        let Some(api) = api else {
            state.granted_permissions = Value::Unknown;
            return Some((state, Empty::default()));
        };
        let model = api.model();
        state.granted_permissions =
            desired_grant(model, &state).map_or(Value::Unknown, |set| permission_set(model, set));
        if names_are_valid(diags, model, &state)
            && let Some(after) = planned_member(model, &state, "pending")
        {
            let change = MemberChange {
                after: Some(after),
                before_email: None,
                already_granted: PermissionSet::EMPTY,
                status_changed: false,
            };
            self.check(diags, &api, change).await;
        }
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: UserState,
        proposed: UserState,
        config: UserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(UserState, Empty, Vec<AttributePath>)> {
        let api = self.shared.api(diags)?;
        let model = api.model();
        let mut state = proposed;
        if config.status.is_null() {
            state.status = Value::Value("active".to_owned());
        }
        let replace = match (known(&prior.email), known(&state.email)) {
            (Some(before), Some(after)) => !before.eq_ignore_ascii_case(after),
            (_, None) => state.email.is_unknown(),
            _ => false,
        };
        let grant = |state: &UserState| {
            desired_grant(model, state).map_or(Value::Unknown, |set| permission_set(model, set))
        };
        if replace {
            state.id = Value::Unknown;
            state.state = Value::Unknown;
            state.tenant_owner = Value::Value(false);
            state.invitation_code = Value::Unknown;
            state.invitation_expires_at = Value::Unknown;
            if config.name.is_null() {
                state.name = Value::Unknown;
            }
            state.granted_permissions = grant(&state);
            let change = MemberChange {
                after: planned_member(model, &state, "pending"),
                before_email: known(&prior.email).map(str::to_owned),
                already_granted: PermissionSet::EMPTY,
                status_changed: false,
            };
            if names_are_valid(diags, model, &state) && change.after.is_some() {
                self.check(diags, &api, change).await;
            }
            return Some((state, private_state, vec![AttributePath::new("email")]));
        }
        let owner = prior.tenant_owner.as_ref_option().copied().unwrap_or(false);
        state.granted_permissions = if owner {
            permission_set(model, model.all_permissions())
        } else {
            grant(&state)
        };
        let status_changed = state.status != prior.status;
        if status_changed {
            state.state = match (known(&prior.state), &state.status) {
                (Some("pending"), _) => Value::Unknown,
                (_, status) => status.clone(),
            };
        }
        let already = set_elements(&prior.granted_permissions)
            .and_then(|names| parse_permissions(model, &names))
            .unwrap_or(PermissionSet::EMPTY);
        let changed = state != prior;
        if changed && names_are_valid(diags, model, &state) {
            let status = match known(&prior.state) {
                Some("pending") => "pending",
                _ => known(&state.status).unwrap_or("active"),
            };
            if let Some(after) = planned_member(model, &state, status) {
                let change = MemberChange {
                    after: Some(PlannedMember {
                        permissions: if owner {
                            permission_names(model, model.all_permissions())
                        } else {
                            after.permissions
                        },
                        ..after
                    }),
                    before_email: None,
                    already_granted: already,
                    status_changed,
                };
                self.check(diags, &api, change).await;
            }
        }
        Some((state, private_state, vec![]))
    }

    async fn plan_destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: UserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<Empty> {
        if let Some(email) = known(&prior.email)
            && let Some(api) = self.shared.api(diags)
        {
            let change = MemberChange {
                after: None,
                before_email: Some(email.to_owned()),
                already_granted: PermissionSet::EMPTY,
                status_changed: false,
            };
            self.check(diags, &api, change).await;
        }
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: UserState,
        _config: UserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(UserState, Empty)> {
        let api = self.shared.api(diags)?;
        let email = known(&planned.email)?.to_owned();
        let grant = desired_grant(api.model(), &planned).unwrap_or(PermissionSet::EMPTY);
        let invite = Invite {
            email: email.clone(),
            name: known(&planned.name).map(str::to_owned),
            permissions: grant,
        };
        let added = match api.invite_member(api.tenant_id(), &invite).await {
            Ok(added) => added,
            Err(failure) => {
                diagnostics::create_failed(
                    diags,
                    "add the member",
                    &failure,
                    Some("email"),
                    "already_member",
                    "member",
                    &email,
                );
                return None;
            }
        };
        let mut state = planned;
        state.id = Value::Value(added.user_id.to_string());
        state.tenant_id = Value::Value(api.tenant_id().to_string());
        match added.invitation {
            Some(invitation) => {
                state.invitation_code = Value::Value(invitation.code.expose().to_owned());
                state.invitation_expires_at = rfc3339(invitation.expires_at);
            }
            None => {
                state.invitation_code = Value::Null;
                state.invitation_expires_at = Value::Null;
            }
        }
        if let Some(current) = found_or_error(
            diags,
            "read the new member",
            read_member(&api, added.user_id.as_str()).await,
            "The member disappeared",
            "the member was removed right after it was added",
        ) {
            if self.converge(&api, diags, &current, &state).await.is_some() {
                self.refresh(&api, diags, &mut state).await;
            } else {
                fill(api.model(), &mut state, &current);
            }
        }
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: UserState,
        planned: UserState,
        _config: UserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(UserState, Empty)> {
        let api = self.shared.api(diags)?;
        let user_id = known(&prior.id)?.to_owned();
        let current = found_or_error(
            diags,
            "read the member",
            read_member(&api, &user_id).await,
            "The member no longer exists",
            format!(
                "`{user_id}` is not a member of the tenant any more; run terraform apply again to re-create it"
            ),
        )?;
        let mut state = planned;
        state.id = prior.id.clone();
        let converged = self.converge(&api, diags, &current, &state).await;
        self.refresh(&api, diags, &mut state).await;
        converged.map(|()| (state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: UserState,
        _private_state: Empty,
        _meta: Empty,
    ) -> Option<()> {
        let remove = |api: Arc<Api>, user: UserId| async move {
            api.remove_member(api.tenant_id(), &user).await
        };
        super::remove_by_id(&self.shared, diags, &state.id, remove, "remove the member").await
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(UserState, Empty)> {
        let api = self.shared.api(diags)?;
        let id = id.trim().to_owned();
        let user_id = if id.starts_with("usr_") {
            id.clone()
        } else {
            let member = found_or_error(
                diags,
                "list the members",
                member_by_email(&api, &id).await,
                "Cannot import the member",
                format!(
                    "no member of the tenant has the email `{id}`; import by email or by user id (`usr_...`)"
                ),
            )?;
            member.user_id.to_string()
        };
        let state = UserState {
            id: Value::Value(user_id),
            ..UserState::default()
        };
        Some((state, Empty::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;
    use crate::test_models::{default, documents};
    use crate::values::set_of;
    use portcullis_core::Timestamp;

    fn view(permissions: &[&str], status: UserStatus, owner: bool) -> MemberView {
        MemberView {
            user_id: "usr_0123456789abcdef".parse().unwrap(),
            tenant_id: "ten_0123456789abcdef".parse().unwrap(),
            email: "bo@example.com".parse().unwrap(),
            name: "Bo".parse().unwrap(),
            status,
            permissions: PermissionSet::parse_names(permissions).unwrap(),
            effective_permissions: PermissionSet::EMPTY,
            tenant_owner: owner,
            added_at: Timestamp::from_unix_seconds(0),
        }
    }

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&user_schema(), &UserState::default());
    }

    #[test]
    fn read_keeps_the_configured_split_between_permissions_and_role() {
        let mut state = UserState {
            email: Value::Value("Bo@Example.com".into()),
            permissions: set_of(["update_certificates"]),
            role: Value::Value("release_engineer".into()),
            ..UserState::default()
        };
        fill(
            &default(),
            &mut state,
            &view(
                &["build_applications", "update_certificates"],
                UserStatus::Active,
                false,
            ),
        );
        assert_eq!(state.permissions, set_of(["update_certificates"]));
        assert_eq!(
            state.email,
            Value::Value("Bo@Example.com".into()),
            "same address, other case"
        );
        assert_eq!(
            state.granted_permissions,
            set_of(["build_applications", "update_certificates"])
        );
        assert_eq!(state.status, Value::Value("active".into()));
    }

    #[test]
    fn read_shows_drift_in_permissions_and_status() {
        let mut state = UserState {
            email: Value::Value("bo@example.com".into()),
            permissions: set_of(["build_applications"]),
            ..UserState::default()
        };
        fill(
            &default(),
            &mut state,
            &view(&["modify_configuration"], UserStatus::Inactive, false),
        );
        assert_eq!(state.permissions, set_of(["modify_configuration"]));
        assert_eq!(state.status, Value::Value("inactive".into()));
        assert_eq!(state.state, Value::Value("inactive".into()));
        // No permissions configured and none granted: stays null, so no diff.
        let mut state = UserState::default();
        fill(
            &default(),
            &mut state,
            &view(&[], UserStatus::Pending, false),
        );
        assert_eq!(state.permissions, Value::Null);
        assert_eq!(
            state.status,
            Value::Value("active".into()),
            "pending is not deactivated"
        );
        assert_eq!(state.state, Value::Value("pending".into()));
    }

    #[test]
    fn the_grant_is_permissions_plus_role() {
        let state = UserState {
            permissions: set_of(["update_certificates"]),
            role: Value::Value("release_engineer".into()),
            ..UserState::default()
        };
        assert_eq!(
            permission_names(&default(), desired_grant(&default(), &state).unwrap()),
            ["update_certificates", "build_applications"]
        );
        let unknown = UserState {
            permissions: Value::Unknown,
            ..UserState::default()
        };
        assert_eq!(desired_grant(&default(), &unknown), None);
    }

    #[test]
    fn names_are_those_of_the_served_model() {
        let documents = documents();
        let state = UserState {
            permissions: set_of(["export_archive"]),
            role: Value::Value("editor".into()),
            ..UserState::default()
        };
        let mut diags = Diagnostics::default();
        assert!(names_are_valid(&mut diags, &documents, &state));
        assert!(diags.errors.is_empty(), "{diags:?}");
        assert_eq!(
            permission_names(&documents, desired_grant(&documents, &state).unwrap()),
            ["edit_documents", "publish_documents", "export_archive"]
        );
        // The compiled-in default's names mean nothing to it.
        let state = UserState {
            permissions: set_of(["build_applications"]),
            role: Value::Value("release_engineer".into()),
            ..UserState::default()
        };
        assert!(!names_are_valid(&mut diags, &documents, &state));
        assert_eq!(diags.errors.len(), 2, "{diags:?}");
        assert!(
            diags.errors[0].detail.contains(
                "unknown permission `build_applications`; expected one of edit_documents, \
                 publish_documents, manage_templates, export_archive"
            ),
            "{diags:?}"
        );
        assert!(
            diags.errors[1]
                .detail
                .contains("expected one of writer, editor")
        );
        assert_eq!(desired_grant(&documents, &state), None);
        assert!(names_are_valid(&mut diags, &default(), &state));
    }
}

//! `portcullis_account_user`: a user of the account (above the tenants), with company roles,
//! license-admin tenant assignments and status.

use super::{Empty, found_or_error, parse_id, settable_status};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{Mode, boolean, schema, sensitive, string, string_set};
use crate::validation;
use crate::values::{StringSet, default_if_null, known, null_if_unknown, set_elements, set_of};
use async_trait::async_trait;
use portcullis_client::{NewUser, UserSearch};
use portcullis_core::company::{self, AccountOperation, CompanyRole};
use portcullis_core::query::UserView;
use portcullis_core::user::UserStatus;
use portcullis_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of an account user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUserState {
    /// User id.
    pub id: Value<String>,
    /// Identity; changing it replaces the user.
    pub email: Value<String>,
    /// Display name.
    pub name: Value<String>,
    /// Granted company roles: `company_admin`, `support`.
    pub roles: StringSet,
    /// Tenants the user is a license admin of.
    pub license_tenants: StringSet,
    /// Desired status: `active` or `inactive`.
    pub status: Value<String>,
    /// Actual status.
    pub state: Value<String>,
    /// Every role held, implicit ones included.
    pub all_roles: StringSet,
    /// Whether the user owns the account.
    pub account_owner: Value<bool>,
    /// The invitation code, when this resource created the user.
    pub invitation_code: Value<String>,
}

/// The resource.
#[derive(Debug)]
pub struct AccountUserResource {
    shared: Arc<Shared>,
}

impl AccountUserResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        AccountUserResource { shared }
    }
}

/// The resource's schema.
pub fn account_user_schema() -> Schema {
    schema(
        "A user of the account, above the tenants: company roles, the tenants they are a \
         license admin of, and account-wide status. Creating it creates and invites the user \
         (company admins and license admins); roles can be granted once the user is active. \
         Destroying it deactivates and deletes the user (company admins). See \
         docs/ACCOUNT_ROLES.md for the permissions matrix.",
        vec![
            ("id", string(Mode::Computed, "The user's id (`usr_...`).")),
            (
                "email",
                string(
                    Mode::Required,
                    "The user's email address, their immutable identity. Changing it replaces the user.",
                ),
            ),
            (
                "name",
                string(
                    Mode::OptionalComputed,
                    "Display name. Defaults to the existing name, or the email's local part.",
                ),
            ),
            (
                "roles",
                string_set(
                    Mode::Optional,
                    "Granted company roles: `company_admin` and/or `support` (`license_admin` \
                     comes from `license_tenants`; `tenant_user` is implicit for members).",
                ),
            ),
            (
                "license_tenants",
                string_set(
                    Mode::Optional,
                    "Tenants (`ten_...`) the user is a license admin of.",
                ),
            ),
            (
                "status",
                string(
                    Mode::OptionalComputed,
                    "`active` (default) or `inactive` (company admins).",
                ),
            ),
            (
                "state",
                string(
                    Mode::Computed,
                    "Actual status: `pending`, `active` or `inactive`.",
                ),
            ),
            (
                "all_roles",
                string_set(
                    Mode::Computed,
                    "Every company role the user holds, implicit ones included.",
                ),
            ),
            (
                "account_owner",
                boolean(Mode::Computed, "Whether the user owns the account."),
            ),
            (
                "invitation_code",
                sensitive(string(
                    Mode::Computed,
                    "The invitation code, when this resource created the user (stored in the state).",
                )),
            ),
        ],
    )
}

const GRANTABLE: [&str; 2] = ["company_admin", "support"];

fn granted_roles(view: &UserView) -> BTreeSet<String> {
    view.roles
        .iter()
        .filter(|role| matches!(role, CompanyRole::CompanyAdmin | CompanyRole::Support))
        .map(|role| role.name().to_owned())
        .collect()
}

fn fill(state: &mut AccountUserState, view: &UserView) {
    state.id = Value::Value(view.user_id.to_string());
    let same_email =
        known(&state.email).is_some_and(|e| e.eq_ignore_ascii_case(view.email.as_str()));
    if !same_email {
        state.email = Value::Value(view.email.as_str().to_owned());
    }
    state.name = Value::Value(view.name.as_str().to_owned());
    let roles = granted_roles(view);
    if !(state.roles.is_null() && roles.is_empty()) {
        state.roles = set_of(roles);
    }
    let tenants: BTreeSet<String> = view
        .license_tenants
        .iter()
        .map(ToString::to_string)
        .collect();
    if !(state.license_tenants.is_null() && tenants.is_empty()) {
        state.license_tenants = set_of(tenants);
    }
    state.status = settable_status(view.status);
    state.state = Value::Value(view.status.name().to_owned());
    state.all_roles = set_of(view.roles.iter().map(|role| role.name()));
    state.account_owner = Value::Value(view.account_owner);
    null_if_unknown(&mut state.invitation_code);
}

/// The core's rule that roles go only to active users, as a plan diagnostic at `attribute`.
fn role_for_active_only(
    diags: &mut Diagnostics,
    status: UserStatus,
    action: &'static str,
    attribute: &'static str,
) {
    if let Err(refused) = status.receive_role(action) {
        diagnostics::error(
            diags,
            "Invalid configuration (illegal_transition)",
            format!(
                "{refused}: create the user without it, and add it once the invitation is accepted"
            ),
            Some(attribute),
        );
    }
}

async fn find_user(api: &Api, user_id: &str) -> Result<Option<UserView>, ApiError> {
    let Some(user) = parse_id::<UserId>(user_id) else {
        return Ok(None);
    };
    api.user(&user).await.found()
}

async fn user_by_email(api: &Api, email: &str) -> Result<Option<UserView>, ApiError> {
    // The directory's prefix search narrows the page to this address.
    let search = UserSearch {
        search: Some(email.trim().to_owned()),
        limit: Some(200),
        ..UserSearch::default()
    };
    let users = api.users(&search).await?;
    Ok(users
        .items
        .into_iter()
        .find(|user| user.email.as_str().eq_ignore_ascii_case(email.trim())))
}

impl AccountUserResource {
    /// Plan-time checks with the core's matrix: the provider token's user may make the change.
    async fn check(
        &self,
        diags: &mut Diagnostics,
        prior: Option<&UserView>,
        planned: &AccountUserState,
        creating: bool,
    ) {
        let Some(api) = self.shared.api(diags) else {
            return;
        };
        let Some(me) = api.me().cloned() else {
            return;
        };
        let found = find_user(&api, me.as_str()).await;
        let Some(Some(caller)) =
            diagnostics::api_ok(diags, "read the provider token's user", found, None)
        else {
            return;
        };
        let licenses: BTreeSet<TenantId> = caller.license_tenants.iter().cloned().collect();
        let allowed = |operation: AccountOperation, tenant: Option<&TenantId>| {
            company::roles_permit(&caller.roles, &licenses, operation, tenant)
        };
        let refuse = |diags: &mut Diagnostics, operation: AccountOperation, attribute| {
            diagnostics::error(
                diags,
                "Invalid configuration (role_not_permitted)",
                format!(
                    "the provider token's user may not `{operation}` ({})",
                    operation.description()
                ),
                Some(attribute),
            );
        };
        if creating && !allowed(AccountOperation::AddUser, None) {
            refuse(diags, AccountOperation::AddUser, "email");
        }
        // A user this plan creates starts pending (until the invitation is accepted).
        let status = prior.map_or(UserStatus::Pending, |user| user.status);
        let roles = set_elements(&planned.roles).map(|r| r.into_iter().collect::<BTreeSet<_>>());
        let before_roles = prior.map(granted_roles).unwrap_or_default();
        if let Some(roles) = &roles {
            for role in roles.symmetric_difference(&before_roles) {
                let operation = if role == "company_admin" {
                    AccountOperation::AssignCompanyAdmin
                } else {
                    AccountOperation::AssignSupport
                };
                if !allowed(operation, None) {
                    refuse(diags, operation, "roles");
                }
            }
            if !roles.is_empty() && roles != &before_roles {
                role_for_active_only(diags, status, "grant company roles to", "roles");
            }
        }
        if let Some(tenants) = set_elements(&planned.license_tenants) {
            let before: BTreeSet<String> = prior
                .map(|user| {
                    user.license_tenants
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let after: BTreeSet<String> = tenants.into_iter().collect();
            for tenant in after.symmetric_difference(&before) {
                let tenant_id = tenant.parse::<TenantId>().ok();
                if !allowed(AccountOperation::AssignLicenseAdmin, tenant_id.as_ref()) {
                    refuse(
                        diags,
                        AccountOperation::AssignLicenseAdmin,
                        "license_tenants",
                    );
                }
            }
            if after.difference(&before).next().is_some() {
                role_for_active_only(
                    diags,
                    status,
                    "grant the license admin role to",
                    "license_tenants",
                );
            }
        }
        let status_change = prior.is_some_and(|user| {
            (user.status == UserStatus::Inactive) != (known(&planned.status) == Some("inactive"))
        });
        if status_change && !allowed(AccountOperation::EditUserStatus, None) {
            refuse(diags, AccountOperation::EditUserStatus, "status");
        }
    }

    async fn converge(
        &self,
        api: &Api,
        diags: &mut Diagnostics,
        current: &UserView,
        planned: &AccountUserState,
    ) -> Option<()> {
        let user = &current.user_id;
        let wanted_status = known(&planned.status).unwrap_or("active");
        let change = |result: Result<(), ApiError>, diags: &mut Diagnostics, attribute| {
            diagnostics::api_ok(diags, "change the account user", result, Some(attribute))
        };
        if wanted_status == "active" && current.status == UserStatus::Inactive {
            change(api.activate_user(user).await.map(|_| ()), diags, "status")?;
        }
        if let Some(name) = known(&planned.name)
            && name != current.name.as_str()
        {
            change(api.rename_user(user, name).await, diags, "name")?;
        }
        if let Some(roles) = set_elements(&planned.roles) {
            let now = granted_roles(current);
            for role in GRANTABLE {
                let want = roles.iter().any(|r| r == role);
                if want != now.contains(role) {
                    let changed = if role == "company_admin" {
                        api.set_company_admin(user, want).await
                    } else {
                        api.set_support(user, want).await
                    };
                    change(changed, diags, "roles")?;
                }
            }
        }
        if let Some(tenants) = set_elements(&planned.license_tenants) {
            let now: BTreeSet<TenantId> = current.license_tenants.iter().cloned().collect();
            let mut want = BTreeSet::new();
            for tenant in tenants {
                match parse_id::<TenantId>(&tenant) {
                    Some(tenant) => {
                        want.insert(tenant);
                    }
                    None => {
                        validation::check_tenant_id(diags, &tenant, "license_tenants");
                        return None;
                    }
                }
            }
            for tenant in want.difference(&now) {
                change(
                    api.grant_license_admin(tenant, user).await,
                    diags,
                    "license_tenants",
                )?;
            }
            for tenant in now.difference(&want) {
                let revoked = api.revoke_license_admin(tenant, user).await;
                change(revoked, diags, "license_tenants")?;
            }
        }
        if wanted_status == "inactive" && current.status != UserStatus::Inactive {
            change(api.deactivate_user(user).await.map(|_| ()), diags, "status")?;
        }
        Some(())
    }

    async fn refresh(&self, api: &Api, diags: &mut Diagnostics, state: &mut AccountUserState) {
        let Some(user_id) = known(&state.id).map(str::to_owned) else {
            return;
        };
        if let Some(view) = found_or_error(
            diags,
            "read the user back",
            find_user(api, &user_id).await,
            "The user disappeared",
            format!("`{user_id}` was deleted while it was being changed"),
        ) {
            fill(state, &view);
        }
    }
}

#[async_trait]
impl Resource for AccountUserResource {
    type State<'a> = AccountUserState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(account_user_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: AccountUserState) -> Option<()> {
        validation::check_email(diags, &config.email);
        for role in set_elements(&config.roles).unwrap_or_default() {
            match role.parse::<CompanyRole>() {
                Ok(CompanyRole::CompanyAdmin | CompanyRole::Support) => {}
                Ok(CompanyRole::LicenseAdmin) => diagnostics::error(
                    diags,
                    "Invalid role",
                    "`license_admin` is held per tenant: list the tenants in `license_tenants`",
                    Some("roles"),
                ),
                Ok(CompanyRole::TenantUser) => diagnostics::error(
                    diags,
                    "Invalid role",
                    "`tenant_user` is implicit for every member of a tenant and cannot be granted",
                    Some("roles"),
                ),
                Err(error) => {
                    diagnostics::error(diags, "Invalid role", error.to_string(), Some("roles"))
                }
            }
        }
        for tenant in set_elements(&config.license_tenants).unwrap_or_default() {
            validation::check_tenant_id(diags, &tenant, "license_tenants");
        }
        validation::check_settable_status(diags, &config.status);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AccountUserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AccountUserState, Empty)> {
        let api = self.shared.api(diags)?;
        let user_id = known(&state.id)?.to_owned();
        let found = find_user(&api, &user_id).await;
        super::state_after_read(diags, "read the user", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: AccountUserState,
        _config: AccountUserState,
        _meta: Empty,
    ) -> Option<(AccountUserState, Empty)> {
        let mut state = proposed;
        state.id = Value::Unknown;
        default_if_null(&mut state.name, Value::Unknown);
        default_if_null(&mut state.status, Value::Value("active".to_owned()));
        state.state = Value::Unknown;
        state.all_roles = Value::Unknown;
        state.account_owner = Value::Value(false);
        state.invitation_code = Value::Unknown;
        self.check(diags, None, &state, true).await;
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: AccountUserState,
        mut proposed: AccountUserState,
        config: AccountUserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AccountUserState, Empty, Vec<AttributePath>)> {
        if config.status.is_null() {
            proposed.status = Value::Value("active".to_owned());
        }
        let replace = match (known(&prior.email), known(&proposed.email)) {
            (Some(before), Some(after)) => !before.eq_ignore_ascii_case(after),
            _ => false,
        };
        if replace {
            let (state, _) = self
                .plan_create(diags, proposed, config, Empty::default())
                .await?;
            return Some((state, private_state, vec![AttributePath::new("email")]));
        }
        if proposed != prior {
            proposed.all_roles = Value::Unknown;
            if proposed.status != prior.status {
                proposed.state = match known(&prior.state) {
                    Some("pending") => Value::Unknown,
                    _ => proposed.status.clone(),
                };
            }
            if let Some(api) = self.shared.api(diags)
                && let Some(user_id) = known(&prior.id)
            {
                let found = find_user(&api, user_id).await;
                if let Some(current) = diagnostics::api_ok(diags, "read the user", found, None) {
                    self.check(diags, current.as_ref(), &proposed, false).await;
                }
            }
        }
        Some((proposed, private_state, vec![]))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: AccountUserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<Empty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: AccountUserState,
        _config: AccountUserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AccountUserState, Empty)> {
        let api = self.shared.api(diags)?;
        let email = known(&planned.email)?.to_owned();
        let user = NewUser {
            email: email.clone(),
            name: known(&planned.name).map(str::to_owned),
        };
        let created = match api.create_user(&user).await {
            Ok(created) => created,
            Err(failure) => {
                diagnostics::create_failed(
                    diags,
                    "create the user",
                    &failure,
                    Some("email"),
                    "user_exists",
                    "user",
                    &email,
                );
                return None;
            }
        };
        let mut state = planned;
        state.id = Value::Value(created.user_id.to_string());
        state.invitation_code = Value::Value(created.invitation.code.expose().to_owned());
        if let Some(current) = found_or_error(
            diags,
            "read the new user",
            find_user(&api, created.user_id.as_str()).await,
            "The user disappeared",
            "the user was deleted right after it was created",
        ) {
            if self.converge(&api, diags, &current, &state).await.is_some() {
                self.refresh(&api, diags, &mut state).await;
            } else {
                fill(&mut state, &current);
            }
        }
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: AccountUserState,
        planned: AccountUserState,
        _config: AccountUserState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(AccountUserState, Empty)> {
        let api = self.shared.api(diags)?;
        let user_id = known(&prior.id)?.to_owned();
        let current = found_or_error(
            diags,
            "read the user",
            find_user(&api, &user_id).await,
            "The user no longer exists",
            format!("`{user_id}` was deleted; run terraform apply again to re-create it"),
        )?;
        let mut state = planned;
        state.id = prior.id.clone();
        state.invitation_code = prior.invitation_code.clone();
        let converged = self.converge(&api, diags, &current, &state).await;
        self.refresh(&api, diags, &mut state).await;
        converged.map(|()| (state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AccountUserState,
        _private_state: Empty,
        _meta: Empty,
    ) -> Option<()> {
        let api = self.shared.api(diags)?;
        let user_id = known(&state.id)?.to_owned();
        let found = find_user(&api, &user_id).await;
        let Some(current) = diagnostics::api_ok(diags, "read the user", found, None)? else {
            // Already gone is what destroy wants.
            return Some(());
        };
        // The core lifecycle: a user who never accepted leaves by having the invitation revoked
        // (their code dies with them); any other is deleted once inactive, which an active one
        // becomes by deactivation.
        let user = current.user_id.clone();
        if current.status.revoke_invitation().is_ok() {
            let revoked = api.revoke_invitation(&user).await;
            return super::removed(diags, "revoke the user's invitation", revoked);
        }
        let reachable = current.status.deactivate().unwrap_or(current.status);
        if let Err(refused) = reachable.delete() {
            diagnostics::error(diags, "Cannot delete the user", refused.to_string(), None);
            return None;
        }
        if current.status == UserStatus::Active {
            let deactivated = api.deactivate_user(&user).await;
            diagnostics::api_ok(
                diags,
                "deactivate the user before deleting it",
                deactivated,
                None,
            )?;
        }
        super::removed(diags, "delete the user", api.delete_user(&user).await)
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(AccountUserState, Empty)> {
        let api = self.shared.api(diags)?;
        let id = id.trim().to_owned();
        let user_id = if id.starts_with("usr_") {
            id.clone()
        } else {
            let user = found_or_error(
                diags,
                "list the users",
                user_by_email(&api, &id).await,
                "Cannot import the user",
                format!(
                    "no user of the account has the email `{id}`; import by email or by user id (`usr_...`)"
                ),
            )?;
            user.user_id.to_string()
        };
        Some((
            AccountUserState {
                id: Value::Value(user_id),
                ..AccountUserState::default()
            },
            Empty::default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        assert_parity(&account_user_schema(), &AccountUserState::default());
    }
}

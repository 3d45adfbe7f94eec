//! One method per Management API operation the provider and the CLI use, each naming its
//! route once. Paths are built from segments by [`Client::url`], which percent-encodes them.

use crate::error::ApiError;
use crate::transport::Client;
use crate::types::{
    ApiTokenCreated, ApiTokenRolled, AuditPage, AutomationKeyCreated, AutomationKeyRolled,
    AutomationKeyToggled, ConnectionChanged, InvitationResent, Invite, Items, MemberAdded,
    NewApiToken, NewAutomationKey, NewUser, SignedUp, SsoConnection, StatusChanged, TenantChanges,
    UserCreated, UserSearch,
};
use portcullis_core::listing::{ListPage, ListQuery};
use portcullis_core::query::{
    AccountView, ApiTokenView, AutomationKeyView, LicenseUsage, MemberView, TenantView, UsageView,
    UserView,
};
use portcullis_core::sso::SsoConnectionId;
use portcullis_core::{KeyId, PermissionSet, Principal, SignUp, TenantId, UserId};
use reqwest::Method;
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// No body.
const NONE: Option<&Value> = None;

fn list_query(list: &ListQuery) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(limit) = list.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(cursor) = &list.cursor {
        query.push(("cursor", cursor.clone()));
    }
    query
}

impl Client {
    async fn done<B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<(), ApiError> {
        self.write::<IgnoredAny, B>(method, segments, body)
            .await
            .map(|_| ())
    }

    /// `GET /v1/whoami`: who the credential is and what it may do right now.
    pub async fn whoami(&self) -> Result<Principal, ApiError> {
        self.get(&["whoami"], &[]).await
    }

    /// `POST /v1/signup`: a new account (the client's credential must be the platform sign-up
    /// key).
    pub async fn sign_up(&self, sign_up: &SignUp) -> Result<SignedUp, ApiError> {
        self.write(Method::POST, &["signup"], Some(sign_up)).await
    }

    /// `GET /v1/account`: the account and the caller's tenants.
    pub async fn account(&self) -> Result<AccountView, ApiError> {
        self.get(&["account"], &[]).await
    }

    /// `GET /v1/tenants/{tenant}`.
    pub async fn tenant(&self, tenant: &TenantId) -> Result<TenantView, ApiError> {
        self.get(&["tenants", tenant.as_str()], &[]).await
    }

    /// `PATCH /v1/tenants/{tenant}`.
    pub async fn update_tenant(
        &self,
        tenant: &TenantId,
        changes: &TenantChanges,
    ) -> Result<(), ApiError> {
        self.done(Method::PATCH, &["tenants", tenant.as_str()], Some(changes))
            .await
    }

    /// `GET /v1/tenants/{tenant}/members`: one page (every member when `list` sets no limit).
    pub async fn members(
        &self,
        tenant: &TenantId,
        list: &ListQuery,
    ) -> Result<ListPage<MemberView>, ApiError> {
        self.get(&["tenants", tenant.as_str(), "members"], &list_query(list))
            .await
    }

    /// `GET /v1/tenants/{tenant}/members/{user}`.
    pub async fn member(&self, tenant: &TenantId, user: &UserId) -> Result<MemberView, ApiError> {
        self.get(&["tenants", tenant.as_str(), "members", user.as_str()], &[])
            .await
    }

    /// `POST /v1/tenants/{tenant}/members`: invites a new user or adds a known one.
    pub async fn invite_member(
        &self,
        tenant: &TenantId,
        invite: &Invite,
    ) -> Result<MemberAdded, ApiError> {
        self.write(
            Method::POST,
            &["tenants", tenant.as_str(), "members"],
            Some(invite),
        )
        .await
    }

    /// `PATCH /v1/tenants/{tenant}/members/{user}`: replaces the member's permissions.
    pub async fn change_permissions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        permissions: PermissionSet,
    ) -> Result<(), ApiError> {
        let body = ChangePermissions { permissions };
        self.done(
            Method::PATCH,
            &["tenants", tenant.as_str(), "members", user.as_str()],
            Some(&body),
        )
        .await
    }

    /// `DELETE /v1/tenants/{tenant}/members/{user}`.
    pub async fn remove_member(&self, tenant: &TenantId, user: &UserId) -> Result<(), ApiError> {
        let path = ["tenants", tenant.as_str(), "members", user.as_str()];
        self.done(Method::DELETE, &path, NONE).await
    }

    /// `GET /v1/users`: a page of the account's user directory.
    pub async fn users(&self, search: &UserSearch) -> Result<ListPage<UserView>, ApiError> {
        let mut query = Vec::new();
        if let Some(text) = &search.search {
            query.push(("q", text.clone()));
        }
        if let Some(status) = search.status {
            query.push(("status", status.to_string()));
        }
        if let Some(limit) = search.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &search.cursor {
            query.push(("cursor", cursor.clone()));
        }
        self.get(&["users"], &query).await
    }

    /// `GET /v1/users/{user}`.
    pub async fn user(&self, user: &UserId) -> Result<UserView, ApiError> {
        self.get(&["users", user.as_str()], &[]).await
    }

    /// `POST /v1/users`: a user invited at account level.
    pub async fn create_user(&self, user: &NewUser) -> Result<UserCreated, ApiError> {
        self.write(Method::POST, &["users"], Some(user)).await
    }

    /// `PATCH /v1/users/{user}`: a new display name.
    pub async fn rename_user(&self, user: &UserId, name: &str) -> Result<(), ApiError> {
        let body = json!({ "name": name });
        self.done(Method::PATCH, &["users", user.as_str()], Some(&body))
            .await
    }

    /// `POST /v1/users/{user}/activate`.
    pub async fn activate_user(&self, user: &UserId) -> Result<StatusChanged, ApiError> {
        self.write(Method::POST, &["users", user.as_str(), "activate"], NONE)
            .await
    }

    /// `POST /v1/users/{user}/deactivate`: blocks the user and every credential they own.
    pub async fn deactivate_user(&self, user: &UserId) -> Result<StatusChanged, ApiError> {
        self.write(Method::POST, &["users", user.as_str(), "deactivate"], NONE)
            .await
    }

    /// `DELETE /v1/users/{user}` (an inactive user).
    pub async fn delete_user(&self, user: &UserId) -> Result<(), ApiError> {
        self.done(Method::DELETE, &["users", user.as_str()], NONE)
            .await
    }

    /// `POST /v1/users/{user}/invitation`: a new code; the previous one stops working.
    pub async fn resend_invitation(&self, user: &UserId) -> Result<InvitationResent, ApiError> {
        self.write(Method::POST, &["users", user.as_str(), "invitation"], NONE)
            .await
    }

    /// `DELETE /v1/users/{user}/invitation`: the pending user is deleted, the code dies.
    pub async fn revoke_invitation(&self, user: &UserId) -> Result<(), ApiError> {
        self.done(
            Method::DELETE,
            &["users", user.as_str(), "invitation"],
            NONE,
        )
        .await
    }

    /// `PUT /v1/users/{user}/company-admin`.
    pub async fn set_company_admin(&self, user: &UserId, on: bool) -> Result<(), ApiError> {
        let body = json!({ "company_admin": on });
        let path = ["users", user.as_str(), "company-admin"];
        self.done(Method::PUT, &path, Some(&body)).await
    }

    /// `PUT /v1/users/{user}/support`.
    pub async fn set_support(&self, user: &UserId, on: bool) -> Result<(), ApiError> {
        let body = json!({ "support": on });
        let path = ["users", user.as_str(), "support"];
        self.done(Method::PUT, &path, Some(&body)).await
    }

    /// `PUT /v1/tenants/{tenant}/license-admins/{user}`.
    pub async fn grant_license_admin(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<(), ApiError> {
        let path = ["tenants", tenant.as_str(), "license-admins", user.as_str()];
        self.done(Method::PUT, &path, NONE).await
    }

    /// `DELETE /v1/tenants/{tenant}/license-admins/{user}`.
    pub async fn revoke_license_admin(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<(), ApiError> {
        let path = ["tenants", tenant.as_str(), "license-admins", user.as_str()];
        self.done(Method::DELETE, &path, NONE).await
    }

    /// `PUT /v1/tenants/{tenant}/primary-contact`.
    pub async fn set_primary_contact(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<(), ApiError> {
        let body = json!({ "user_id": user });
        let path = ["tenants", tenant.as_str(), "primary-contact"];
        self.done(Method::PUT, &path, Some(&body)).await
    }

    /// `GET /v1/licenses`: every tenant's seats and plan usage.
    pub async fn license_usage(&self) -> Result<Vec<LicenseUsage>, ApiError> {
        let usage: Items<LicenseUsage> = self.get(&["licenses"], &[]).await?;
        Ok(usage.items)
    }

    /// `GET /v1/tenants/{tenant}/tokens`: the API tokens the caller may see.
    pub async fn api_tokens(
        &self,
        tenant: &TenantId,
        list: &ListQuery,
    ) -> Result<ListPage<ApiTokenView>, ApiError> {
        self.get(&["tenants", tenant.as_str(), "tokens"], &list_query(list))
            .await
    }

    /// `GET /v1/tokens/{key}`.
    pub async fn api_token(&self, key: &KeyId) -> Result<ApiTokenView, ApiError> {
        self.get(&["tokens", key.as_str()], &[]).await
    }

    /// `POST /v1/tenants/{tenant}/tokens`: a token of the caller's, its secret shown once.
    pub async fn create_api_token(
        &self,
        tenant: &TenantId,
        token: &NewApiToken,
    ) -> Result<ApiTokenCreated, ApiError> {
        self.write(
            Method::POST,
            &["tenants", tenant.as_str(), "tokens"],
            Some(token),
        )
        .await
    }

    /// `POST /v1/tokens/{key}/roll`: a new secret for the token, same id, scope and terms; the
    /// previous secret keeps working for `overlap_seconds` (the core bounds it:
    /// `portcullis_core::terms::MAX_ROLL_OVERLAP_SECONDS`), then stops.
    pub async fn roll_api_token(
        &self,
        key: &KeyId,
        overlap_seconds: u64,
    ) -> Result<ApiTokenRolled, ApiError> {
        let body = Roll { overlap_seconds };
        self.write(Method::POST, &["tokens", key.as_str(), "roll"], Some(&body))
            .await
    }

    /// `GET /v1/tokens/{key}/usage`: the token's requests per day, the last 30 days.
    pub async fn api_token_usage(&self, key: &KeyId) -> Result<UsageView, ApiError> {
        self.get(&["tokens", key.as_str(), "usage"], &[]).await
    }

    /// `DELETE /v1/tokens/{key}`.
    pub async fn delete_api_token(&self, key: &KeyId) -> Result<(), ApiError> {
        self.done(Method::DELETE, &["tokens", key.as_str()], NONE)
            .await
    }

    /// `GET /v1/tenants/{tenant}/automation-keys`.
    pub async fn automation_keys(
        &self,
        tenant: &TenantId,
        list: &ListQuery,
    ) -> Result<ListPage<AutomationKeyView>, ApiError> {
        let path = ["tenants", tenant.as_str(), "automation-keys"];
        self.get(&path, &list_query(list)).await
    }

    /// `GET /v1/automation-keys/{key}`.
    pub async fn automation_key(&self, key: &KeyId) -> Result<AutomationKeyView, ApiError> {
        self.get(&["automation-keys", key.as_str()], &[]).await
    }

    /// `POST /v1/tenants/{tenant}/automation-keys`: its secret shown once.
    pub async fn create_automation_key(
        &self,
        tenant: &TenantId,
        key: &NewAutomationKey,
    ) -> Result<AutomationKeyCreated, ApiError> {
        let path = ["tenants", tenant.as_str(), "automation-keys"];
        self.write(Method::POST, &path, Some(key)).await
    }

    /// `PATCH /v1/automation-keys/{key}`: switches the key on or off.
    pub async fn set_automation_key_enabled(
        &self,
        key: &KeyId,
        enabled: bool,
    ) -> Result<AutomationKeyToggled, ApiError> {
        let body = json!({ "enabled": enabled });
        self.write(
            Method::PATCH,
            &["automation-keys", key.as_str()],
            Some(&body),
        )
        .await
    }

    /// `POST /v1/automation-keys/{key}/roll`: a new secret for the key, same id and terms; the
    /// previous key keeps working for `overlap_seconds`, then stops.
    pub async fn roll_automation_key(
        &self,
        key: &KeyId,
        overlap_seconds: u64,
    ) -> Result<AutomationKeyRolled, ApiError> {
        let body = Roll { overlap_seconds };
        let path = ["automation-keys", key.as_str(), "roll"];
        self.write(Method::POST, &path, Some(&body)).await
    }

    /// `GET /v1/automation-keys/{key}/usage`: the key's requests per day, the last 30 days.
    pub async fn automation_key_usage(&self, key: &KeyId) -> Result<UsageView, ApiError> {
        self.get(&["automation-keys", key.as_str(), "usage"], &[])
            .await
    }

    /// `DELETE /v1/automation-keys/{key}`.
    pub async fn delete_automation_key(&self, key: &KeyId) -> Result<(), ApiError> {
        self.done(Method::DELETE, &["automation-keys", key.as_str()], NONE)
            .await
    }

    /// `GET /v1/tenants/{tenant}/audit`: the tenant's events from sequence number `from`.
    pub async fn audit(
        &self,
        tenant: &TenantId,
        from: u64,
        limit: u32,
    ) -> Result<AuditPage, ApiError> {
        let query = [("from", from.to_string()), ("limit", limit.to_string())];
        self.get(&["tenants", tenant.as_str(), "audit"], &query)
            .await
    }

    /// `GET /v1/account/audit`: the account-level events from sequence number `from`.
    pub async fn account_audit(&self, from: u64, limit: u32) -> Result<AuditPage, ApiError> {
        let query = [("from", from.to_string()), ("limit", limit.to_string())];
        self.get(&["account", "audit"], &query).await
    }

    /// `GET /v1/account/sso-connections`.
    pub async fn sso_connections(&self) -> Result<Vec<SsoConnection>, ApiError> {
        let connections: Items<SsoConnection> =
            self.get(&["account", "sso-connections"], &[]).await?;
        Ok(connections.items)
    }

    /// `GET /v1/account/sso-connections/{connection}`.
    pub async fn sso_connection(
        &self,
        connection: &SsoConnectionId,
    ) -> Result<SsoConnection, ApiError> {
        self.get(&["account", "sso-connections", connection.as_str()], &[])
            .await
    }

    /// `POST /v1/account/sso-connections`: `body` is the OpenAPI document's
    /// `SsoConnectionCreate` (name, protocol with its secret, JIT provisioning).
    pub async fn create_sso_connection(&self, body: &Value) -> Result<SsoConnection, ApiError> {
        let changed: ConnectionChanged = self
            .write(Method::POST, &["account", "sso-connections"], Some(body))
            .await?;
        Ok(changed.connection)
    }

    /// `PATCH /v1/account/sso-connections/{connection}`: `body` holds what changes.
    pub async fn update_sso_connection(
        &self,
        connection: &SsoConnectionId,
        body: &Value,
    ) -> Result<SsoConnection, ApiError> {
        let path = ["account", "sso-connections", connection.as_str()];
        let changed: ConnectionChanged = self.write(Method::PATCH, &path, Some(body)).await?;
        Ok(changed.connection)
    }

    /// `DELETE /v1/account/sso-connections/{connection}`.
    pub async fn delete_sso_connection(
        &self,
        connection: &SsoConnectionId,
    ) -> Result<(), ApiError> {
        let path = ["account", "sso-connections", connection.as_str()];
        self.done(Method::DELETE, &path, NONE).await
    }
}

#[derive(Serialize)]
struct ChangePermissions {
    permissions: PermissionSet,
}

/// The body of a roll.
#[derive(Serialize)]
struct Roll {
    overlap_seconds: u64,
}

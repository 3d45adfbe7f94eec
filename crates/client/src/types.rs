//! What the Management API takes and answers, where the core has no type of its own for it.
//! The views (`TenantView`, `MemberView`, ...), ids, [`PermissionSet`], [`Timestamp`] and the
//! audit events are the core's.

use portcullis_core::command::SsoChange;
use portcullis_core::ids::DisplayName;
use portcullis_core::sso::{
    IssuerUrl, OidcClientId, SamlEntityId, SamlSsoUrl, SigningCertificate, SsoConnectionId,
};
use portcullis_core::terms::Terms;
use portcullis_core::user::UserStatus;
use portcullis_core::{AccountId, KeyId, PermissionSet, Timestamp, UserId};
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

/// A secret the API shows once (a token, a key, an invitation code): zeroized on drop, and
/// `***` in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret itself, for the one place that hands it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Secret(Zeroizing::new(text)))
    }
}

/// `POST /v1/signup`'s answer: the new account, its first tenant, its owner and the owner's
/// first API token (shown once).
#[derive(Debug, Deserialize)]
pub struct SignedUp {
    /// The account.
    pub account_id: AccountId,
    /// Its first tenant.
    pub tenant_id: portcullis_core::TenantId,
    /// The owner.
    pub owner_id: UserId,
    /// The owner's first token's id.
    pub key_id: KeyId,
    /// The owner's first token (`pctk_…:pcts_…`).
    pub token: Secret,
}

/// An invitation (or password reset) code, shown once to whoever delivers it.
#[derive(Debug, Deserialize)]
pub struct Invitation {
    /// The code (`pcinv_…`).
    pub code: Secret,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A member invitation: who, and with which permissions in the tenant.
#[derive(Clone, Debug, Serialize)]
pub struct Invite {
    /// The email address (the API validates and normalises it).
    pub email: String,
    /// The display name, for a user the account does not know yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The permissions granted in the tenant.
    pub permissions: PermissionSet,
}

/// `invite_member`'s answer.
#[derive(Debug, Deserialize)]
pub struct MemberAdded {
    /// The user.
    pub user_id: UserId,
    /// The user's status (pending for new users).
    pub status: UserStatus,
    /// The invitation, when the user is pending.
    pub invitation: Option<Invitation>,
}

/// A user for the account's directory, invited at account level.
#[derive(Clone, Debug, Serialize)]
pub struct NewUser {
    /// The email address.
    pub email: String,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `create_user`'s answer.
#[derive(Debug, Deserialize)]
pub struct UserCreated {
    /// The user.
    pub user_id: UserId,
    /// The invitation.
    pub invitation: Invitation,
}

/// `resend_invitation`'s answer.
#[derive(Debug, Deserialize)]
pub struct InvitationResent {
    /// The pending user.
    pub user_id: UserId,
    /// The new code (the previous one stopped working).
    pub invitation: Invitation,
}

/// A user's status after activation or deactivation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusChanged {
    /// The user.
    pub user_id: UserId,
    /// The new status.
    pub status: UserStatus,
}

/// A filter over the account's user directory (`GET /v1/users`).
#[derive(Clone, Debug, Default)]
pub struct UserSearch {
    /// Case-insensitive prefix of the email or of any word of the name.
    pub search: Option<String>,
    /// Only users with this status.
    pub status: Option<UserStatus>,
    /// Page size.
    pub limit: Option<usize>,
    /// A previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A new personal API token of the caller.
#[derive(Clone, Debug, Serialize)]
pub struct NewApiToken {
    /// Its name.
    pub name: String,
    /// Its scope (its effective permissions are this ∩ the owner's).
    pub permissions: PermissionSet,
    /// Its validity window, client IP rules, external id and metadata (the core checks them
    /// again; they cannot change once the token exists).
    #[serde(flatten)]
    pub terms: Terms,
}

/// `create_api_token`'s answer.
#[derive(Debug, Deserialize)]
pub struct ApiTokenCreated {
    /// The token's id.
    pub key_id: KeyId,
    /// The token (`pctk_…:pcts_…`), shown once.
    pub token: Secret,
    /// Its scope.
    pub permissions: PermissionSet,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
}

/// A new automation key of a tenant.
#[derive(Clone, Debug, Serialize)]
pub struct NewAutomationKey {
    /// Its name.
    pub name: String,
    /// Its validity window, client IP rules, external id and metadata, as for tokens.
    #[serde(flatten)]
    pub terms: Terms,
}

/// `create_automation_key`'s answer.
#[derive(Debug, Deserialize)]
pub struct AutomationKeyCreated {
    /// The key's id.
    pub key_id: KeyId,
    /// The key (`pcak_…`), shown once.
    pub key: Secret,
}

/// `roll_api_token`'s answer: the same token id, scope and terms with a new secret.
#[derive(Debug, Deserialize)]
pub struct ApiTokenRolled {
    /// The token's id (unchanged).
    pub key_id: KeyId,
    /// The new token (`pctk_…:pcts_…`), shown once.
    pub token: Secret,
    /// Until when the previous secret keeps working (none: it stopped at the roll).
    pub previous_valid_until: Option<Timestamp>,
}

/// `roll_automation_key`'s answer: the same key id and terms with a new secret.
#[derive(Debug, Deserialize)]
pub struct AutomationKeyRolled {
    /// The key's id (unchanged).
    pub key_id: KeyId,
    /// The new key (`pcak_…`), shown once.
    pub key: Secret,
    /// Until when the previous key keeps working (none: it stopped at the roll).
    pub previous_valid_until: Option<Timestamp>,
}

/// `set_automation_key_enabled`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AutomationKeyToggled {
    /// The key.
    pub key_id: KeyId,
    /// Whether it now works.
    pub enabled: bool,
}

/// Changes to a tenant's settings; what is `None` stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TenantChanges {
    /// A new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new plan, by its name in the served model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The SSO settings, replaced as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoChange>,
}

impl TenantChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.plan.is_none() && self.sso.is_none()
    }
}

/// One page of an audit log, oldest first, and the state of the account's hash chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditPage {
    /// The events.
    pub items: Vec<portcullis_core::audit::AuditEvent>,
    /// The sequence number to read the next page from (none on an empty page).
    pub next_from: Option<u64>,
    /// The account's chain.
    pub chain: AuditChain,
}

/// The account's audit chain as the worker verified it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditChain {
    /// Whether every event links to the one before it.
    pub valid: bool,
    /// How many events the account's log holds (every tenant's and the account's own).
    pub length: u64,
    /// The last event's hash.
    pub head: Option<String>,
}

/// An identity-provider connection as the API shows it (never a secret).
#[derive(Clone, Debug, Deserialize)]
pub struct SsoConnection {
    /// Its id.
    pub connection_id: SsoConnectionId,
    /// Its name.
    pub name: DisplayName,
    /// The protocol and its public settings.
    pub protocol: SsoProtocol,
    /// Whether unknown verified emails create users.
    pub allow_jit_provisioning: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A connection's protocol settings as the API shows them.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SsoProtocol {
    /// OpenID Connect.
    Oidc {
        /// The issuer.
        issuer: IssuerUrl,
        /// The client id.
        client_id: OidcClientId,
    },
    /// SAML 2.0.
    Saml {
        /// The identity provider's entity ID.
        idp_entity_id: SamlEntityId,
        /// The identity provider's single sign-on URL.
        idp_sso_url: SamlSsoUrl,
        /// The pinned signing certificates.
        idp_certificates: Vec<SigningCertificate>,
        /// This service provider's entity ID, for the identity provider.
        sp_entity_id: String,
        /// This service provider's assertion consumer service URL.
        acs_url: String,
    },
}

/// `{ "connection": ... }`, what creating and changing a connection answer.
#[derive(Deserialize)]
pub(crate) struct ConnectionChanged {
    pub(crate) connection: SsoConnection,
}

/// `{ "items": [...] }`, the shape of the lists that are not paged.
#[derive(Deserialize)]
pub(crate) struct Items<T> {
    pub(crate) items: Vec<T>,
}

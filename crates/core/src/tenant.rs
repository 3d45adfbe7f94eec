//! Tenants: a plan, members with permissions, and SSO settings.

use crate::credential::KeyId;
use crate::ids::{DisplayName, SsoConnectionId, TenantId, UserId};
use crate::permission::PermissionSet;
use crate::plan::Plan;
use crate::secret::SecretHash;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user's membership of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Granted permissions (the tenant owner always holds all).
    pub permissions: PermissionSet,
    /// When the user was added.
    pub added_at: Timestamp,
}

/// Single sign-on settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sso {
    /// Whether members must sign in through SSO.
    pub enforced: bool,
    /// The member who may still sign in without SSO when it is enforced.
    pub breakglass: Option<UserId>,
    /// The account's identity-provider connection members sign in with (see
    /// [`crate::sso`]): required while SSO is enforced (none in tenants stored before
    /// connections existed).
    #[serde(default)]
    pub connection: Option<SsoConnectionId>,
}

/// A personal API token of a member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public id.
    pub key_id: KeyId,
    /// The member who created and owns it.
    pub owner: UserId,
    /// Name.
    pub name: DisplayName,
    /// The most the token may do; effective = scope ∩ owner's permissions.
    pub scope: PermissionSet,
    /// HMAC of the secret.
    pub secret_hash: SecretHash,
    /// Creation time.
    pub created_at: Timestamp,
    /// Optional expiry.
    pub expires_at: Option<Timestamp>,
    /// When it last authenticated a request, as reported by the edge.
    pub last_used_at: Option<Timestamp>,
}

/// A tenant's build-only automation key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomationKey {
    /// Public id.
    pub key_id: KeyId,
    /// Name.
    pub name: DisplayName,
    /// Whether it currently works.
    pub enabled: bool,
    /// HMAC of the secret.
    pub secret_hash: SecretHash,
    /// Creation time.
    pub created_at: Timestamp,
    /// The member who created it.
    pub created_by: UserId,
    /// When it last authenticated a request, as reported by the edge.
    pub last_used_at: Option<Timestamp>,
}

/// A tenant of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Stable id.
    pub id: TenantId,
    /// Name.
    pub name: DisplayName,
    /// Plan.
    pub plan: Plan,
    /// The owner: holds every permission, cannot be removed or demoted.
    pub owner: UserId,
    /// Members by user id, owner included.
    pub members: BTreeMap<UserId, Membership>,
    /// SAML SSO.
    pub sso: Sso,
    /// API tokens by key id.
    pub api_tokens: BTreeMap<KeyId, ApiToken>,
    /// Automation keys by key id.
    pub automation_keys: BTreeMap<KeyId, AutomationKey>,
    /// Creation time.
    pub created_at: Timestamp,
    /// The license admin who receives the tenant's license and maintenance notifications
    /// (exactly one; `None` only in state stored before primary contacts existed, read as the
    /// owner).
    #[serde(default)]
    pub primary_contact: Option<UserId>,
}

impl Tenant {
    /// The primary contact (the owner for tenants stored before primary contacts existed).
    pub fn primary_contact(&self) -> &UserId {
        self.primary_contact.as_ref().unwrap_or(&self.owner)
    }

    /// The permissions `user` holds here, ignoring the user's status.
    pub fn granted(&self, user: &UserId) -> Option<PermissionSet> {
        if *user == self.owner {
            return self
                .members
                .contains_key(user)
                .then_some(PermissionSet::ALL);
        }
        self.members
            .get(user)
            .map(|membership| membership.permissions)
    }
}

//! Tenants: a plan, members with permissions, and SSO settings.

use crate::credential::KeyId;
use crate::gateway::request_counts::DailyRequests;
use crate::ids::{DisplayName, SsoConnectionId, TenantId, UserId};
use crate::permission::PermissionSet;
use crate::plan::Plan;
use crate::secret::SecretHash;
use crate::terms::{PreviousSecret, Terms};
use crate::time::Timestamp;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

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

impl Sso {
    /// What SSO enforcement asks of `user` here: nothing when SSO is not enforced (or names no
    /// connection), else the connection, and whether `user` is the breakglass user (who may
    /// still act without it).
    pub fn requirement(&self, user: &UserId) -> Option<SsoRequirement> {
        let connection = self.connection.as_ref().filter(|_| self.enforced)?;
        Some(SsoRequirement {
            connection: connection.clone(),
            breakglass: self.breakglass.as_ref() == Some(user),
        })
    }
}

/// A tenant's SSO enforcement as it applies to one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoRequirement {
    /// The connection the user must have signed in with.
    pub connection: SsoConnectionId,
    /// Whether the user is the tenant's breakglass user.
    pub breakglass: bool,
}

impl SsoRequirement {
    /// The one rule of SSO enforcement: a person acts in an enforcing tenant only through a
    /// sign-in with its connection (`signed_in_with`: the connection a session was signed in
    /// with, or the one whose session minted a token), unless they are its breakglass user.
    pub fn allows(
        requirement: Option<&SsoRequirement>,
        signed_in_with: Option<&SsoConnectionId>,
    ) -> bool {
        requirement.is_none_or(|required| {
            required.breakglass || signed_in_with == Some(&required.connection)
        })
    }
}

/// A credential's stored secret: the hash of the current one and, while a roll's overlap
/// lasts, the previous one (stored flat, under the names tokens always had).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSecret {
    /// HMAC of the secret.
    #[serde(rename = "secret_hash")]
    pub hash: SecretHash,
    /// The previous secret of a rolled credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSecret>,
    /// When the secret was last rolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_at: Option<Timestamp>,
}

impl CredentialSecret {
    /// A secret never rolled.
    pub fn new(hash: SecretHash) -> Self {
        Self {
            hash,
            previous: None,
            rolled_at: None,
        }
    }
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
    /// Its secret's hash (and a rolled token's previous one).
    #[serde(flatten)]
    pub secret: CredentialSecret,
    /// Creation time.
    pub created_at: Timestamp,
    /// Validity window, client IP rules, external id and metadata (`expires_at` is stored
    /// where it always was: the terms are flattened into the record).
    #[serde(flatten)]
    pub terms: Terms,
    /// When it last authenticated a request, as reported by the edge.
    pub last_used_at: Option<Timestamp>,
    /// Requests it authenticated per day, as counted by the edge (the last 30 days).
    #[serde(default, skip_serializing_if = "DailyRequests::is_empty")]
    pub requests: DailyRequests,
    /// The SSO connection of the session that minted it, if one did: in a tenant that
    /// enforces SSO, only tokens minted from a session of its connection act (see
    /// [`SsoRequirement::allows`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_connection: Option<SsoConnectionId>,
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
    /// Its secret's hash (and a rolled key's previous one).
    #[serde(flatten)]
    pub secret: CredentialSecret,
    /// Creation time.
    pub created_at: Timestamp,
    /// The member who created it.
    pub created_by: UserId,
    /// Validity window, client IP rules, external id and metadata.
    #[serde(flatten)]
    pub terms: Terms,
    /// When it last authenticated a request, as reported by the edge.
    pub last_used_at: Option<Timestamp>,
    /// Requests it authenticated per day, as counted by the edge (the last 30 days).
    #[serde(default, skip_serializing_if = "DailyRequests::is_empty")]
    pub requests: DailyRequests,
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
    pub members: OrdMap<UserId, Membership>,
    /// SAML SSO.
    pub sso: Sso,
    /// API tokens by key id.
    pub api_tokens: OrdMap<KeyId, ApiToken>,
    /// Automation keys by key id.
    pub automation_keys: OrdMap<KeyId, AutomationKey>,
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
        self.members
            .get(user)
            .map(|membership| self.effective(user, membership))
    }

    /// Every member with the permissions they hold here, in user id order, ignoring their
    /// status.
    pub fn grants(&self) -> impl Iterator<Item = (&UserId, PermissionSet)> {
        self.members
            .iter()
            .map(|(user, membership)| (user, self.effective(user, membership)))
    }

    /// What `membership` of `user` grants: everything for the owner.
    fn effective(&self, user: &UserId, membership: &Membership) -> PermissionSet {
        if *user == self.owner {
            PermissionSet::all()
        } else {
            membership.permissions
        }
    }
}

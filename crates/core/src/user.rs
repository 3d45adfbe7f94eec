//! Users: identity (an immutable email), display name, and the status lifecycle.
//!
//! ```text
//!   pending ──accept invitation──▶ active ──deactivate──▶ inactive ──delete──▶ (gone)
//!      │                             ▲                        │
//!      └──revoke invitation──▶ (gone) └────────activate────────┘
//! ```

use crate::ids::{DisplayName, Email, TenantId, UserId};
use crate::secret::SecretHash;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

/// Where a user is in the lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited; the invitation is not accepted yet. Cannot authenticate.
    Pending,
    /// Can sign in and use credentials.
    Active,
    /// Blocked, with every credential, in every tenant.
    Inactive,
}

/// A lifecycle transition that the current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("cannot {action} a user who is {from}")]
pub struct IllegalTransition {
    /// What was attempted.
    pub action: &'static str,
    /// The status that refused it.
    pub from: UserStatus,
}

impl UserStatus {
    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            UserStatus::Pending => "pending",
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
        }
    }

    const fn refuse(self, action: &'static str) -> IllegalTransition {
        IllegalTransition { action, from: self }
    }

    /// pending → active.
    pub const fn accept_invitation(self) -> Result<Self, IllegalTransition> {
        match self {
            UserStatus::Pending => Ok(UserStatus::Active),
            other => Err(other.refuse("accept an invitation for")),
        }
    }

    /// active → inactive.
    pub const fn deactivate(self) -> Result<Self, IllegalTransition> {
        match self {
            UserStatus::Active => Ok(UserStatus::Inactive),
            other => Err(other.refuse("deactivate")),
        }
    }

    /// inactive → active.
    pub const fn activate(self) -> Result<Self, IllegalTransition> {
        match self {
            UserStatus::Inactive => Ok(UserStatus::Active),
            other => Err(other.refuse("activate")),
        }
    }

    /// Deletion is allowed only from inactive; the user is then gone.
    pub const fn delete(self) -> Result<(), IllegalTransition> {
        match self {
            UserStatus::Inactive => Ok(()),
            other => Err(other.refuse("delete")),
        }
    }

    /// Company roles, license-admin assignments and primary contacts go only to active users
    /// (`action` names what was attempted, for the refusal).
    pub const fn receive_role(self, action: &'static str) -> Result<(), IllegalTransition> {
        match self {
            UserStatus::Active => Ok(()),
            other => Err(other.refuse(action)),
        }
    }

    /// pending → (gone): revoking the invitation of a user who never accepted it deletes the
    /// user, whose code then stops working.
    pub const fn revoke_invitation(self) -> Result<(), IllegalTransition> {
        match self {
            UserStatus::Pending => Ok(()),
            other => Err(other.refuse("revoke the invitation of")),
        }
    }

    /// Re-sending an invitation is possible only while pending.
    pub const fn resend_invitation(self) -> Result<Self, IllegalTransition> {
        match self {
            UserStatus::Pending => Ok(UserStatus::Pending),
            other => Err(other.refuse("re-send an invitation to")),
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// An outstanding invitation: only the code's hash is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// HMAC of the invitation code.
    pub code_hash: SecretHash,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
    /// The tenant the invitation is for: accepting it issues the user's first token there
    /// (none for a user created at account level).
    #[serde(default)]
    pub tenant: Option<TenantId>,
    /// Who received the code to deliver.
    #[serde(default)]
    pub issued_to: Option<UserId>,
}

/// A user of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// The user's identity; never changes.
    pub email: Email,
    /// Display name.
    pub name: DisplayName,
    /// Lifecycle status.
    pub status: UserStatus,
    /// Company admins run the account-level lifecycle operations.
    pub company_admin: bool,
    /// The `support` company role.
    #[serde(default)]
    pub support: bool,
    /// Tenants this user is a license admin of (the `license_admin` role, scoped).
    #[serde(default)]
    pub license_tenants: BTreeSet<TenantId>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// The outstanding invitation, while pending.
    pub invitation: Option<Invitation>,
    /// The last time the user did something: accepted their invitation, ran a command, or
    /// had a credential's use reported by the edge. Telemetry, not audited.
    #[serde(default)]
    pub last_active_at: Option<Timestamp>,
}

/// A user for unit tests: active, no roles, created at 2023-11-14.
#[cfg(test)]
pub(crate) fn sample_user(id: &str, email: &str) -> User {
    User {
        id: id.parse().expect("a user id"),
        email: email.parse().expect("an email"),
        name: "Ana Bell".parse().expect("a name"),
        status: UserStatus::Active,
        company_admin: false,
        support: false,
        license_tenants: BTreeSet::new(),
        created_at: Timestamp::from_unix_seconds(1_700_000_000),
        invitation: None,
        last_active_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserStatus::{Active, Inactive, Pending};

    #[test]
    fn legal_transitions() {
        assert_eq!(Pending.accept_invitation(), Ok(Active));
        assert_eq!(Active.deactivate(), Ok(Inactive));
        assert_eq!(Inactive.activate(), Ok(Active));
        assert_eq!(Inactive.delete(), Ok(()));
        assert_eq!(Pending.resend_invitation(), Ok(Pending));
        assert_eq!(Pending.revoke_invitation(), Ok(()));
    }

    #[test]
    fn illegal_transitions_name_the_rule() {
        assert_eq!(
            Active.activate().unwrap_err().to_string(),
            "cannot activate a user who is active"
        );
        assert_eq!(
            Pending.deactivate().unwrap_err().to_string(),
            "cannot deactivate a user who is pending"
        );
        assert_eq!(Inactive.deactivate().unwrap_err().from, Inactive);
        assert_eq!(
            Active.delete().unwrap_err().to_string(),
            "cannot delete a user who is active"
        );
        assert!(Pending.delete().is_err());
        assert!(Active.accept_invitation().is_err());
        assert!(Inactive.accept_invitation().is_err());
        assert!(Pending.activate().is_err());
        assert!(Active.resend_invitation().is_err());
        assert_eq!(
            Active.revoke_invitation().unwrap_err().to_string(),
            "cannot revoke the invitation of a user who is active"
        );
        assert!(Inactive.revoke_invitation().is_err());
    }
}

//! Plans: member limits and plan-gated features.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A tenant's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// One user: the owner.
    Free,
    /// Up to 20 members; automation keys.
    Team,
    /// Up to 100 members; automation keys, audit log, SAML SSO enforcement.
    Enterprise,
}

/// A capability that only some plans include.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Build-only automation keys (team and up).
    AutomationKeys,
    /// Reading the audit log (enterprise).
    AuditLog,
    /// Enforcing SAML single sign-on (enterprise).
    SamlSso,
}

impl Feature {
    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::AutomationKeys => "automation_keys",
            Feature::AuditLog => "audit_log",
            Feature::SamlSso => "saml_sso",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl Plan {
    /// Every plan, smallest first.
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Team, Plan::Enterprise];

    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Team => "team",
            Plan::Enterprise => "enterprise",
        }
    }

    /// The most members a tenant on this plan may have, counting the owner and pending invitees.
    pub const fn member_limit(self) -> usize {
        match self {
            Plan::Free => 1,
            Plan::Team => 20,
            Plan::Enterprise => 100,
        }
    }

    /// Whether this plan includes `feature`.
    pub const fn includes(self, feature: Feature) -> bool {
        match feature {
            Feature::AutomationKeys => matches!(self, Plan::Team | Plan::Enterprise),
            Feature::AuditLog | Feature::SamlSso => matches!(self, Plan::Enterprise),
        }
    }
}

/// The most users any account may hold: [`MAX_TENANTS_PER_ACCOUNT`](crate::account::MAX_TENANTS_PER_ACCOUNT)
/// full enterprise tenants.
pub const MAX_USERS_PER_ACCOUNT: usize = 10_000;

/// The most users (of any status, the owner included) an account whose tenants are on `plans`
/// may hold: as many as its tenants have seats in all, and at most [`MAX_USERS_PER_ACCOUNT`].
/// A user in several tenants takes one seat in each, so every user the account may hold can
/// also be seated; a plan change never removes users, it only stops new ones being created
/// while the account holds as many as the limit.
pub fn account_user_limit(plans: impl IntoIterator<Item = Plan>) -> usize {
    plans
        .into_iter()
        .map(Plan::member_limit)
        .fold(0, usize::saturating_add)
        .min(MAX_USERS_PER_ACCOUNT)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A plan name that is not `free`, `team` or `enterprise`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown plan `{0}`; expected one of free, team, enterprise")]
pub struct UnknownPlan(pub String);

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Plan::ALL
            .into_iter()
            .find(|plan| plan.name() == value)
            .ok_or_else(|| UnknownPlan(crate::ids::excerpt(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_price_list() {
        assert_eq!(Plan::Free.member_limit(), 1);
        assert_eq!(Plan::Team.member_limit(), 20);
        assert_eq!(Plan::Enterprise.member_limit(), 100);
    }

    #[test]
    fn accounts_hold_as_many_users_as_their_tenants_have_seats() {
        assert_eq!(account_user_limit([Plan::Free]), 1);
        assert_eq!(account_user_limit([Plan::Team, Plan::Free]), 21);
        assert_eq!(
            account_user_limit([Plan::Enterprise; 100]),
            MAX_USERS_PER_ACCOUNT
        );
        assert_eq!(
            account_user_limit([Plan::Enterprise; 150]),
            MAX_USERS_PER_ACCOUNT
        );
        assert_eq!(account_user_limit([]), 0);
    }

    #[test]
    fn features_are_gated() {
        assert!(!Plan::Free.includes(Feature::AutomationKeys));
        assert!(Plan::Team.includes(Feature::AutomationKeys));
        assert!(!Plan::Team.includes(Feature::AuditLog));
        assert!(!Plan::Team.includes(Feature::SamlSso));
        assert!(Plan::Enterprise.includes(Feature::AuditLog));
        assert!(Plan::Enterprise.includes(Feature::SamlSso));
    }

    #[test]
    fn names_parse() {
        assert_eq!("team".parse::<Plan>(), Ok(Plan::Team));
        assert!("gold".parse::<Plan>().is_err());
        assert!(serde_json::from_str::<Plan>("\"Team\"").is_err());
    }
}

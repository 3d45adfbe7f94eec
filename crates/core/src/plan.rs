//! Plans: member limits and plan-gated features, as the product model declares them (see
//! [`crate::model`]).

use crate::model::{self, Model, NameKind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A plan of the model in force: an index into its plans, which are in upgrade order (so a
/// later plan compares greater).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Plan(u8);

/// A capability that only some plans include: built in ([`Feature::AUTOMATION_KEYS`],
/// [`Feature::AUDIT_LOG`], [`Feature::SAML_SSO`]) or the product's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Feature(u8);

impl Feature {
    /// Built in: build-only automation keys.
    pub const AUTOMATION_KEYS: Feature = Feature(0);
    /// Built in: reading the audit log.
    pub const AUDIT_LOG: Feature = Feature(1);
    /// Built in: enforcing SAML single sign-on.
    pub const SAML_SSO: Feature = Feature(2);

    pub(crate) const fn from_index(index: u8) -> Self {
        Self(index)
    }

    /// Its index in the model (its bit in a [`FeatureSet`]).
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Its wire name in `model`.
    pub fn name_in(self, model: &Model) -> &str {
        model.feature_def(self).map_or("unknown", |def| &def.name)
    }

    /// Its wire name in the model in force.
    pub fn name(self) -> String {
        model::with_model(|model| self.name_in(model).to_owned())
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model::with_model(|model| f.pad(self.name_in(model)))
    }
}

impl Serialize for Feature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        model::with_model(|model| serializer.serialize_str(self.name_in(model)))
    }
}

impl<'de> Deserialize<'de> for Feature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        model::with_model(|model| model.feature(&name)).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown feature `{}`", crate::ids::excerpt(&name)))
        })
    }
}

/// A set of features (what a plan includes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeatureSet(u64);

impl FeatureSet {
    /// No feature.
    pub const EMPTY: FeatureSet = FeatureSet(0);

    /// Whether `feature` is in the set.
    pub const fn contains(self, feature: Feature) -> bool {
        self.0 & (1_u64 << (feature.0 & 63)) != 0
    }

    /// The set with `feature` added.
    #[must_use]
    pub const fn with(self, feature: Feature) -> Self {
        Self(self.0 | (1_u64 << (feature.0 & 63)))
    }

    /// Features in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl Plan {
    pub(crate) const fn from_index(index: u8) -> Self {
        Self(index)
    }

    /// Its index in the model's upgrade order.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// The smallest plan (first in upgrade order) of every model.
    pub const FIRST: Plan = Plan(0);

    /// Every plan of the model in force, smallest first.
    pub fn all() -> Vec<Plan> {
        model::with_model(|model| model.plans().map(|(plan, _)| plan).collect())
    }

    /// Its wire name in `model`.
    pub fn name_in(self, model: &Model) -> &str {
        model.plan_def(self).map_or("unknown", |def| &def.name)
    }

    /// Its wire name in the model in force.
    pub fn name(self) -> String {
        model::with_model(|model| self.name_in(model).to_owned())
    }

    /// The plan named `name` in the model in force.
    pub fn named(name: &str) -> Result<Self, UnknownPlan> {
        name.parse()
    }

    /// The most members a tenant on this plan may have, counting the owner and pending
    /// invitees (in the model in force).
    pub fn member_limit(self) -> usize {
        model::with_model(|model| model.seats(self))
    }

    /// Whether this plan includes `feature` (in the model in force).
    pub fn includes(self, feature: Feature) -> bool {
        model::with_model(|model| model.includes(self, feature))
    }
}

impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        model::with_model(|model| serializer.serialize_str(self.name_in(model)))
    }
}

impl<'de> Deserialize<'de> for Plan {
    /// An unknown name is an error in input; in stored data (see
    /// [`model::resolving_stored`]) it reads as the smallest plan and is reported.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match model::with_model(|model| model.plan(&name)) {
            Some(plan) => Ok(plan),
            None if model::tolerate(NameKind::Plan, &name) => Ok(Plan::FIRST),
            None => Err(serde::de::Error::custom(UnknownPlan(crate::ids::excerpt(
                &name,
            )))),
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
        model::with_model(|model| f.pad(self.name_in(model)))
    }
}

/// A plan name that the model in force does not have.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown plan `{0}`; expected one of {expected}", expected = expected_plans())]
pub struct UnknownPlan(pub String);

fn expected_plans() -> String {
    model::with_model(|model| {
        model
            .plans()
            .map(|(_, def)| &*def.name)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        model::with_model(|model| model.plan(value))
            .ok_or_else(|| UnknownPlan(crate::ids::excerpt(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;

    #[test]
    fn limits_follow_the_price_list() {
        assert_eq!(plan_named("free").member_limit(), 1);
        assert_eq!(plan_named("team").member_limit(), 20);
        assert_eq!(plan_named("enterprise").member_limit(), 100);
    }

    #[test]
    fn accounts_hold_as_many_users_as_their_tenants_have_seats() {
        assert_eq!(account_user_limit([plan_named("free")]), 1);
        assert_eq!(
            account_user_limit([plan_named("team"), plan_named("free")]),
            21
        );
        assert_eq!(
            account_user_limit([plan_named("enterprise"); 100]),
            MAX_USERS_PER_ACCOUNT
        );
        assert_eq!(
            account_user_limit([plan_named("enterprise"); 150]),
            MAX_USERS_PER_ACCOUNT
        );
        assert_eq!(account_user_limit([]), 0);
    }

    #[test]
    fn features_are_gated() {
        assert!(!plan_named("free").includes(Feature::AUTOMATION_KEYS));
        assert!(plan_named("team").includes(Feature::AUTOMATION_KEYS));
        assert!(!plan_named("team").includes(Feature::AUDIT_LOG));
        assert!(!plan_named("team").includes(Feature::SAML_SSO));
        assert!(plan_named("enterprise").includes(Feature::AUDIT_LOG));
        assert!(plan_named("enterprise").includes(Feature::SAML_SSO));
    }

    #[test]
    fn names_parse() {
        assert_eq!("team".parse::<Plan>(), Ok(plan_named("team")));
        assert!("gold".parse::<Plan>().is_err());
        assert!(serde_json::from_str::<Plan>("\"Team\"").is_err());
    }
}

//! Additive permissions, sets of them, and the role presets, as the product model declares
//! them (see [`crate::model`]).
//!
//! A member with no permission has read-only access. Permissions only add rights; there is no
//! deny. Unknown permission names in input are always an error, never ignored; in stored data
//! they grant nothing and are reported (see [`crate::model::resolving_stored`]).

use crate::model::{self, Model, NameKind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A permission of the model in force: an index into its permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(u8);

impl Permission {
    /// Built in: invite, remove and re-permission members; manage API tokens; read the audit
    /// log. The engine's lockout prevention and breakglass rules are about this permission.
    pub const USER_AND_API_MANAGEMENT: Permission = Permission(0);
    /// Built in: change tenant settings (name, plan, SAML SSO).
    pub const MODIFY_TENANT_SETTINGS: Permission = Permission(1);

    pub(crate) const fn from_index(index: u8) -> Self {
        Self(index)
    }

    /// Its index in the model (its bit in a [`PermissionSet`]).
    pub const fn index(self) -> u8 {
        self.0
    }

    const fn bit(self) -> u64 {
        1_u64 << (self.0 & 63)
    }

    /// Its wire name in `model`, e.g. `build_applications`.
    pub fn name_in(self, model: &Model) -> &str {
        model
            .permission_def(self)
            .map_or("unknown", |def| &def.name)
    }

    /// Its wire name in the model in force.
    pub fn name(self) -> String {
        model::with_model(|model| self.name_in(model).to_owned())
    }

    /// Its description in the model in force.
    pub fn description(self) -> String {
        model::with_model(|model| {
            model
                .permission_def(self)
                .map_or_else(String::new, |def| def.description.to_string())
        })
    }

    /// The permission named `name` in the model in force.
    pub fn named(name: &str) -> Result<Self, UnknownPermission> {
        name.parse()
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model::with_model(|model| f.pad(self.name_in(model)))
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        model::with_model(|model| serializer.serialize_str(self.name_in(model)))
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A permission name that the model in force does not have.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown permission `{0}`; expected one of {expected}", expected = expected_permissions())]
pub struct UnknownPermission(pub String);

fn expected_permissions() -> String {
    model::with_model(|model| {
        model
            .permissions()
            .map(|(_, def)| &*def.name)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        model::with_model(|model| model.permission(value))
            .ok_or_else(|| UnknownPermission(crate::ids::excerpt(value)))
    }
}

/// A set of permissions, with set algebra. Serialised as a list of names in catalogue order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u64);

impl PermissionSet {
    /// No permission: read-only access.
    pub const EMPTY: PermissionSet = PermissionSet(0);

    /// Every permission of the model in force.
    pub fn all() -> Self {
        model::with_model(Model::all_permissions)
    }

    /// The set holding only `permission`.
    pub const fn only(permission: Permission) -> Self {
        Self(permission.bit())
    }

    /// Whether `permission` is in the set.
    pub const fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// The set with `permission` added.
    #[must_use]
    pub const fn with(self, permission: Permission) -> Self {
        Self(self.0 | permission.bit())
    }

    /// The set with `permission` removed.
    #[must_use]
    pub const fn without(self, permission: Permission) -> Self {
        Self(self.0 & !permission.bit())
    }

    /// Permissions in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Permissions in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Permissions in `self` but not in `other`.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Whether every permission of `self` is in `other`.
    pub const fn is_subset(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty (read-only access).
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The number of permissions in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The permissions in `model`'s catalogue order.
    pub fn iter_in(self, model: &Model) -> impl Iterator<Item = Permission> + '_ {
        model
            .catalogue()
            .iter()
            .copied()
            .filter(move |permission| self.contains(*permission))
    }

    /// The permissions in the catalogue order of the model in force.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        model::with_model(|model| self.iter_in(model).collect::<Vec<_>>()).into_iter()
    }

    /// The wire names in `model`'s catalogue order.
    pub fn names_in(self, model: &Model) -> Vec<&str> {
        self.iter_in(model)
            .map(|permission| permission.name_in(model))
            .collect()
    }

    /// The wire names in the catalogue order of the model in force.
    pub fn names(self) -> Vec<String> {
        model::with_model(|model| {
            self.names_in(model)
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
    }

    /// Parses a list of names against the model in force; any unknown name is an error.
    /// Duplicates are harmless.
    pub fn parse_names<I, S>(names: I) -> Result<Self, UnknownPermission>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        names.into_iter().try_fold(
            Self::EMPTY,
            |set, name| Ok(set.with(name.as_ref().parse()?)),
        )
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<T: IntoIterator<Item = Permission>>(iter: T) -> Self {
        iter.into_iter().fold(Self::EMPTY, PermissionSet::with)
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model::with_model(|model| f.debug_set().entries(self.names_in(model)).finish())
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(read-only)");
        }
        model::with_model(|model| f.write_str(&self.names_in(model).join(", ")))
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        model::with_model(|model| serializer.collect_seq(self.names_in(model)))
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    /// Unknown names are an error in input; in stored data (see
    /// [`model::resolving_stored`]) they grant nothing and are reported.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        let mut set = Self::EMPTY;
        for name in names {
            match model::with_model(|model| model.permission(&name)) {
                Some(permission) => set = set.with(permission),
                None if model::tolerate(NameKind::Permission, &name) => {}
                None => {
                    return Err(serde::de::Error::custom(UnknownPermission(
                        crate::ids::excerpt(&name),
                    )));
                }
            }
        }
        Ok(set)
    }
}

/// A named bundle of permissions of the model in force: a shortcut for granting, not a stored
/// role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RolePreset(u8);

impl RolePreset {
    pub(crate) const fn from_index(index: u8) -> Self {
        Self(index)
    }

    /// Its index in the model.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Its wire name in the model in force, e.g. `release_engineer`.
    pub fn name(self) -> String {
        model::with_model(|model| {
            model
                .preset_def(self)
                .map_or_else(String::new, |def| def.name.to_string())
        })
    }

    /// The permissions the preset stands for in the model in force.
    pub fn permissions(self) -> PermissionSet {
        model::with_model(|model| {
            model
                .preset_def(self)
                .map_or(PermissionSet::EMPTY, |def| def.permissions)
        })
    }
}

impl fmt::Display for RolePreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.name())
    }
}

impl Serialize for RolePreset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for RolePreset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A role name that is not one of the presets of the model in force.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown role `{0}`; expected one of {expected}", expected = expected_presets())]
pub struct UnknownRole(pub String);

fn expected_presets() -> String {
    model::with_model(|model| {
        model
            .presets()
            .map(|(_, def)| &*def.name)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

impl FromStr for RolePreset {
    type Err = UnknownRole;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        model::with_model(|model| model.preset(value))
            .ok_or_else(|| UnknownRole(crate::ids::excerpt(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;
    use proptest::prelude::*;

    fn any_set() -> impl Strategy<Value = PermissionSet> {
        (0_u64..64).prop_map(PermissionSet)
    }

    #[test]
    fn names_round_trip() {
        for permission in crate::model::default_model().catalogue().iter().copied() {
            assert_eq!(permission.name().parse::<Permission>(), Ok(permission));
            let json = serde_json::to_string(&permission).unwrap();
            assert_eq!(json, format!("\"{}\"", permission.name()));
        }
    }

    #[test]
    fn unknown_names_are_errors_not_ignored() {
        let error = PermissionSet::parse_names(["build_applications", "root"]).unwrap_err();
        assert_eq!(error, UnknownPermission("root".into()));
        assert!(error.to_string().contains("`root`"));
        assert!(serde_json::from_str::<PermissionSet>(r#"["Build_Applications"]"#).is_err());
    }

    #[test]
    fn set_serialises_as_sorted_names() {
        let set =
            PermissionSet::parse_names(["modify_tenant_settings", "modify_configuration"]).unwrap();
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["modify_configuration","modify_tenant_settings"]"#
        );
        assert_eq!(
            set.to_string(),
            "modify_configuration, modify_tenant_settings"
        );
        assert_eq!(PermissionSet::EMPTY.to_string(), "(read-only)");
    }

    #[test]
    fn presets_match_the_catalogue() {
        assert_eq!(preset("platform_admin").permissions(), PermissionSet::all());
        assert_eq!(
            preset("security_engineer").permissions().names(),
            ["modify_configuration", "update_certificates"]
        );
        assert_eq!(
            preset("release_engineer").permissions().names(),
            ["build_applications"]
        );
        assert!(preset("compliance_reviewer").permissions().is_empty());
        assert!("superuser".parse::<RolePreset>().is_err());
    }

    proptest! {
        #[test]
        fn serde_round_trip(set in any_set()) {
            let json = serde_json::to_string(&set).unwrap();
            prop_assert_eq!(serde_json::from_str::<PermissionSet>(&json).unwrap(), set);
        }

        #[test]
        fn intersection_is_subset_of_both(a in any_set(), b in any_set()) {
            let both = a.intersection(b);
            prop_assert!(both.is_subset(a) && both.is_subset(b));
            prop_assert_eq!(both, b.intersection(a));
        }

        #[test]
        fn union_is_superset_of_both(a in any_set(), b in any_set()) {
            let either = a.union(b);
            prop_assert!(a.is_subset(either) && b.is_subset(either));
            prop_assert_eq!(either.len(), a.len() + b.len() - a.intersection(b).len());
        }

        #[test]
        fn difference_and_intersection_partition(a in any_set(), b in any_set()) {
            prop_assert_eq!(a.difference(b).union(a.intersection(b)), a);
            prop_assert!(a.difference(b).intersection(b).is_empty());
        }

        #[test]
        fn subset_matches_membership(a in any_set(), b in any_set()) {
            let by_members = a.iter().all(|permission| b.contains(permission));
            prop_assert_eq!(a.is_subset(b), by_members);
        }

        #[test]
        fn set_is_within_all(a in any_set()) {
            prop_assert!(a.is_subset(PermissionSet::all()));
            prop_assert_eq!(a.iter().collect::<PermissionSet>(), a);
        }
    }
}

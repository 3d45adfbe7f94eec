//! The six additive permissions, sets of them, and the role presets.
//!
//! A member with no permission has read-only access. Permissions only add rights; there is no
//! deny. Unknown permission names are always an error, never ignored.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// One of the six additive permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Change the protected product's configuration.
    ModifyConfiguration,
    /// Upload and replace certificates.
    UpdateCertificates,
    /// Run builds, read build logs, download protected binaries, manage automation keys.
    BuildApplications,
    /// Edit the custom messages shown to end users.
    ManageCustomMessages,
    /// Invite, remove and re-permission members; manage API tokens; read the audit log.
    UserAndApiManagement,
    /// Change tenant settings: name, plan, SAML SSO.
    ModifyTenantSettings,
}

impl Permission {
    /// Every permission, in catalogue order.
    pub const ALL: [Permission; 6] = [
        Permission::ModifyConfiguration,
        Permission::UpdateCertificates,
        Permission::BuildApplications,
        Permission::ManageCustomMessages,
        Permission::UserAndApiManagement,
        Permission::ModifyTenantSettings,
    ];

    /// The stable wire name, e.g. `build_applications`.
    pub const fn name(self) -> &'static str {
        match self {
            Permission::ModifyConfiguration => "modify_configuration",
            Permission::UpdateCertificates => "update_certificates",
            Permission::BuildApplications => "build_applications",
            Permission::ManageCustomMessages => "manage_custom_messages",
            Permission::UserAndApiManagement => "user_and_api_management",
            Permission::ModifyTenantSettings => "modify_tenant_settings",
        }
    }

    /// A one-line description for documentation and schemas.
    pub const fn description(self) -> &'static str {
        match self {
            Permission::ModifyConfiguration => "change the protected product's configuration",
            Permission::UpdateCertificates => "upload and replace certificates",
            Permission::BuildApplications => {
                "run builds, read build logs, download protected binaries, manage automation keys"
            }
            Permission::ManageCustomMessages => "edit custom messages shown to end users",
            Permission::UserAndApiManagement => {
                "invite, remove and re-permission members, manage API tokens, read the audit log"
            }
            Permission::ModifyTenantSettings => "change tenant name, plan and SAML SSO settings",
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A permission name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown permission `{0}`; expected one of modify_configuration, update_certificates, build_applications, manage_custom_messages, user_and_api_management, modify_tenant_settings"
)]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.name() == value)
            .ok_or_else(|| UnknownPermission(crate::ids::excerpt(value)))
    }
}

/// A set of permissions, with set algebra. Serialised as a sorted list of names.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u8);

impl PermissionSet {
    /// No permission: read-only access.
    pub const EMPTY: PermissionSet = PermissionSet(0);
    /// All six permissions.
    pub const ALL: PermissionSet = PermissionSet(0b11_1111);

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

    /// The permissions in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |permission| self.contains(*permission))
    }

    /// The wire names in catalogue order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::name).collect()
    }

    /// Parses a list of names; any unknown name is an error. Duplicates are harmless.
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
        f.debug_set()
            .entries(self.iter().map(Permission::name))
            .finish()
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(read-only)");
        }
        f.write_str(&self.names().join(", "))
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        PermissionSet::parse_names(names).map_err(serde::de::Error::custom)
    }
}

/// Named bundles of permissions: shortcuts for granting, not stored roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolePreset {
    /// All six permissions.
    PlatformAdmin,
    /// `modify_configuration` and `update_certificates`.
    SecurityEngineer,
    /// `build_applications`.
    ReleaseEngineer,
    /// No permission: read-only.
    ComplianceReviewer,
}

impl RolePreset {
    /// Every preset.
    pub const ALL: [RolePreset; 4] = [
        RolePreset::PlatformAdmin,
        RolePreset::SecurityEngineer,
        RolePreset::ReleaseEngineer,
        RolePreset::ComplianceReviewer,
    ];

    /// The stable wire name, e.g. `release_engineer`.
    pub const fn name(self) -> &'static str {
        match self {
            RolePreset::PlatformAdmin => "platform_admin",
            RolePreset::SecurityEngineer => "security_engineer",
            RolePreset::ReleaseEngineer => "release_engineer",
            RolePreset::ComplianceReviewer => "compliance_reviewer",
        }
    }

    /// The permissions the preset stands for.
    pub const fn permissions(self) -> PermissionSet {
        match self {
            RolePreset::PlatformAdmin => PermissionSet::ALL,
            RolePreset::SecurityEngineer => PermissionSet::only(Permission::ModifyConfiguration)
                .with(Permission::UpdateCertificates),
            RolePreset::ReleaseEngineer => PermissionSet::only(Permission::BuildApplications),
            RolePreset::ComplianceReviewer => PermissionSet::EMPTY,
        }
    }
}

/// A role name that is not one of the presets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown role `{0}`; expected one of platform_admin, security_engineer, release_engineer, compliance_reviewer"
)]
pub struct UnknownRole(pub String);

impl FromStr for RolePreset {
    type Err = UnknownRole;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        RolePreset::ALL
            .into_iter()
            .find(|role| role.name() == value)
            .ok_or_else(|| UnknownRole(crate::ids::excerpt(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_set() -> impl Strategy<Value = PermissionSet> {
        (0_u8..64).prop_map(PermissionSet)
    }

    #[test]
    fn names_round_trip() {
        for permission in Permission::ALL {
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
        assert_eq!(RolePreset::PlatformAdmin.permissions(), PermissionSet::ALL);
        assert_eq!(
            RolePreset::SecurityEngineer.permissions().names(),
            ["modify_configuration", "update_certificates"]
        );
        assert_eq!(
            RolePreset::ReleaseEngineer.permissions().names(),
            ["build_applications"]
        );
        assert!(RolePreset::ComplianceReviewer.permissions().is_empty());
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
            prop_assert!(a.is_subset(PermissionSet::ALL));
            prop_assert_eq!(a.iter().collect::<PermissionSet>(), a);
        }
    }
}

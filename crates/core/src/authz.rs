//! Authorization: the operation catalogue of the protected product, who is calling, and the
//! decision. A decision is a value with a reason, never an error.

use crate::credential::KeyId;
use crate::ids::{AccountId, TenantId, UserId};
use crate::permission::{Permission, PermissionSet};
use crate::plan::{Feature, Plan};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The area of the protected product an operation touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Product configuration.
    Configuration,
    /// TLS certificates.
    Certificates,
    /// Builds, build logs and protected binaries.
    Builds,
    /// Custom messages shown to end users.
    CustomMessages,
    /// Members and API credentials.
    UsersAndTokens,
    /// Tenant name, plan and SSO.
    TenantSettings,
    /// The audit log.
    AuditLog,
}

macro_rules! operations {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $area:ident, $permission:expr, $feature:expr; )*) => {
        /// An operation of the protected product, as named in the catalogue.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Operation {
            $( $(#[$doc])* $variant, )*
        }

        impl Operation {
            /// The whole catalogue.
            pub const ALL: &'static [Operation] = &[ $( Operation::$variant, )* ];

            /// The stable wire name, e.g. `run_build`.
            pub const fn name(self) -> &'static str {
                match self { $( Operation::$variant => $name, )* }
            }

            /// The area of the product it touches.
            pub const fn area(self) -> Area {
                match self { $( Operation::$variant => Area::$area, )* }
            }

            /// The permission it needs, if any (reads mostly need none).
            pub const fn required_permission(self) -> Option<Permission> {
                match self { $( Operation::$variant => $permission, )* }
            }

            /// The plan feature it needs, if any.
            pub const fn required_feature(self) -> Option<Feature> {
                match self { $( Operation::$variant => $feature, )* }
            }
        }
    };
}

operations! {
    /// Read the product configuration.
    ReadConfiguration => "read_configuration", Configuration, None, None;
    /// Change the product configuration.
    WriteConfiguration => "write_configuration", Configuration, Some(Permission::ModifyConfiguration), None;
    /// List and read certificates.
    ReadCertificates => "read_certificates", Certificates, None, None;
    /// Upload or replace certificates.
    WriteCertificates => "write_certificates", Certificates, Some(Permission::UpdateCertificates), None;
    /// List builds and their status.
    ReadBuilds => "read_builds", Builds, None, None;
    /// Start a build.
    RunBuild => "run_build", Builds, Some(Permission::BuildApplications), None;
    /// Read build logs.
    ReadBuildLogs => "read_build_logs", Builds, Some(Permission::BuildApplications), None;
    /// Download protected binaries.
    DownloadBinaries => "download_binaries", Builds, Some(Permission::BuildApplications), None;
    /// Read custom messages.
    ReadCustomMessages => "read_custom_messages", CustomMessages, None, None;
    /// Edit custom messages.
    WriteCustomMessages => "write_custom_messages", CustomMessages, Some(Permission::ManageCustomMessages), None;
    /// List members and tokens.
    ReadUsers => "read_users", UsersAndTokens, None, None;
    /// Invite, remove and re-permission members; manage API tokens.
    ManageUsers => "manage_users", UsersAndTokens, Some(Permission::UserAndApiManagement), None;
    /// Read tenant settings.
    ReadTenantSettings => "read_tenant_settings", TenantSettings, None, None;
    /// Change tenant settings.
    WriteTenantSettings => "write_tenant_settings", TenantSettings, Some(Permission::ModifyTenantSettings), None;
    /// Read the audit log (enterprise).
    ReadAuditLog => "read_audit_log", AuditLog, Some(Permission::UserAndApiManagement), Some(Feature::AuditLog);
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// An operation name that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown operation `{0}`")]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .iter()
            .copied()
            .find(|operation| operation.name() == value)
            .ok_or_else(|| UnknownOperation(crate::ids::excerpt(value)))
    }
}

/// Who is calling, as established by verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A member using one of their API tokens.
    User {
        /// The member.
        user_id: UserId,
        /// The token used.
        key_id: KeyId,
    },
    /// A tenant's automation key.
    AutomationKey {
        /// The key used.
        key_id: KeyId,
    },
    /// A signed-in person acting through a session, in the tenant the request names, with
    /// their permissions there at the time of the request.
    Session {
        /// The user signed in.
        user_id: UserId,
        /// The session used.
        session_id: crate::session::SessionId,
    },
}

impl PrincipalKind {
    /// The public id of the credential used (a key id or a session id).
    pub fn credential_id(&self) -> &str {
        match self {
            PrincipalKind::User { key_id, .. } | PrincipalKind::AutomationKey { key_id } => {
                key_id.as_str()
            }
            PrincipalKind::Session { session_id, .. } => session_id.as_str(),
        }
    }

    /// The person behind the credential (none for an automation key).
    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            PrincipalKind::User { user_id, .. } | PrincipalKind::Session { user_id, .. } => {
                Some(user_id)
            }
            PrincipalKind::AutomationKey { .. } => None,
        }
    }
}

/// A verified caller and what it may do right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The account.
    pub account_id: AccountId,
    /// The tenant the credential acts in.
    pub tenant_id: TenantId,
    /// User token or automation key.
    #[serde(flatten)]
    pub kind: PrincipalKind,
    /// Effective permissions.
    pub permissions: PermissionSet,
    /// The tenant's plan.
    pub plan: Plan,
}

/// Why a decision came out the way it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// The operation needs no permission.
    OpenToMembers,
    /// The principal holds the required permission.
    Granted {
        /// The permission that allowed it.
        permission: Permission,
    },
    /// The principal lacks the required permission.
    MissingPermission {
        /// The permission it needs.
        permission: Permission,
    },
    /// The tenant's plan does not include what the operation needs.
    PlanExcludes {
        /// The missing feature.
        feature: Feature,
    },
    /// Automation keys may only perform build operations.
    AutomationKeyScope,
}

impl Reason {
    /// A stable machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::OpenToMembers => "open_to_members",
            Reason::Granted { .. } => "granted",
            Reason::MissingPermission { .. } => "missing_permission",
            Reason::PlanExcludes { .. } => "plan_excludes",
            Reason::AutomationKeyScope => "automation_key_scope",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OpenToMembers => f.write_str("the operation is open to every member"),
            Reason::Granted { permission } => write!(f, "granted by `{permission}`"),
            Reason::MissingPermission { permission } => {
                write!(f, "the operation needs the `{permission}` permission")
            }
            Reason::PlanExcludes { feature } => {
                write!(f, "the tenant's plan does not include `{feature}`")
            }
            Reason::AutomationKeyScope => {
                f.write_str("automation keys may only perform build operations")
            }
        }
    }
}

/// An authorization decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the operation may proceed.
    pub allow: bool,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    const fn allow(reason: Reason) -> Self {
        Self {
            allow: true,
            reason,
        }
    }

    const fn deny(reason: Reason) -> Self {
        Self {
            allow: false,
            reason,
        }
    }
}

/// The decision for `principal` performing `operation`.
pub fn authorize(principal: &Principal, operation: Operation) -> Decision {
    decide(
        principal.permissions,
        principal.plan,
        is_automation(principal),
        operation,
    )
}

fn is_automation(principal: &Principal) -> bool {
    matches!(principal.kind, PrincipalKind::AutomationKey { .. })
}

/// The decision for a caller holding `permissions` on a tenant on `plan`.
pub fn decide(
    permissions: PermissionSet,
    plan: Plan,
    automation_key: bool,
    operation: Operation,
) -> Decision {
    if automation_key && operation.area() != Area::Builds {
        return Decision::deny(Reason::AutomationKeyScope);
    }
    if let Some(feature) = operation.required_feature()
        && !plan.includes(feature)
    {
        return Decision::deny(Reason::PlanExcludes { feature });
    }
    match operation.required_permission() {
        None => Decision::allow(Reason::OpenToMembers),
        Some(permission) if permissions.contains(permission) => {
            Decision::allow(Reason::Granted { permission })
        }
        Some(permission) => Decision::deny(Reason::MissingPermission { permission }),
    }
}

/// The permissions an automation key carries: build automation only.
pub const AUTOMATION_KEY_PERMISSIONS: PermissionSet =
    PermissionSet::only(Permission::BuildApplications);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn principal(permissions: PermissionSet, plan: Plan, automation: bool) -> Principal {
        let mut random = SeededRandom::new(1);
        let issued = crate::credential::issue_api_token(
            &mut random,
            &crate::HashingKey::from_bytes(&[1; 32]).unwrap(),
        );
        let kind = if automation {
            PrincipalKind::AutomationKey {
                key_id: issued.key_id,
            }
        } else {
            PrincipalKind::User {
                user_id: UserId::generate(&mut random),
                key_id: issued.key_id,
            }
        };
        Principal {
            account_id: AccountId::generate(&mut random),
            tenant_id: TenantId::generate(&mut random),
            kind,
            permissions,
            plan,
        }
    }

    #[test]
    fn read_only_member_may_read_but_not_write() {
        let reader = principal(PermissionSet::EMPTY, Plan::Enterprise, false);
        for operation in Operation::ALL {
            let decision = authorize(&reader, *operation);
            assert_eq!(
                decision.allow,
                operation.required_permission().is_none(),
                "{operation}"
            );
        }
    }

    #[test]
    fn build_logs_and_binaries_need_build_applications() {
        let reader = principal(PermissionSet::EMPTY, Plan::Team, false);
        for operation in [Operation::ReadBuildLogs, Operation::DownloadBinaries] {
            assert_eq!(
                authorize(&reader, operation),
                Decision {
                    allow: false,
                    reason: Reason::MissingPermission {
                        permission: Permission::BuildApplications
                    },
                }
            );
        }
    }

    #[test]
    fn audit_log_needs_enterprise_and_user_management() {
        let admin = principal(PermissionSet::ALL, Plan::Team, false);
        assert_eq!(
            authorize(&admin, Operation::ReadAuditLog).reason,
            Reason::PlanExcludes {
                feature: Feature::AuditLog
            }
        );
        let admin = principal(PermissionSet::ALL, Plan::Enterprise, false);
        assert!(authorize(&admin, Operation::ReadAuditLog).allow);
        let builder = principal(
            PermissionSet::only(Permission::BuildApplications),
            Plan::Enterprise,
            false,
        );
        assert!(!authorize(&builder, Operation::ReadAuditLog).allow);
    }

    #[test]
    fn automation_keys_only_reach_builds() {
        let key = principal(AUTOMATION_KEY_PERMISSIONS, Plan::Team, true);
        for operation in Operation::ALL {
            let decision = authorize(&key, *operation);
            if operation.area() == Area::Builds {
                assert!(decision.allow, "{operation}");
            } else {
                assert_eq!(decision.reason, Reason::AutomationKeyScope, "{operation}");
            }
        }
    }

    #[test]
    fn every_write_names_its_permission() {
        for operation in Operation::ALL {
            assert_eq!(operation.name().parse::<Operation>(), Ok(*operation));
            if operation.name().starts_with("write_") {
                assert!(operation.required_permission().is_some(), "{operation}");
            }
        }
        assert!("drop_tables".parse::<Operation>().is_err());
    }
}

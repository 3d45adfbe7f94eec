//! Authorization: the operation catalogue of the protected product, who is calling, and the
//! decision. A decision is a value with a reason, never an error.

use crate::credential::KeyId;
use crate::ids::{AccountId, TenantId, UserId};
use crate::model::{self, Model};
use crate::permission::{Permission, PermissionSet};
use crate::plan::{Feature, Plan};
use crate::terms::{ExternalId, Labels, Metadata};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use thiserror::Error;

/// An operation of the model in force, as the route policy names it: an index into the
/// model's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation(u16);

impl Operation {
    pub(crate) const fn from_index(index: u16) -> Self {
        Self(index)
    }

    /// Its index in the model.
    pub const fn index(self) -> u16 {
        self.0
    }

    /// Every operation of the model in force.
    pub fn all() -> Vec<Operation> {
        model::with_model(|model| model.operations().map(|(operation, _)| operation).collect())
    }

    /// Its wire name in `model`, e.g. `run_build`.
    pub fn name_in(self, model: &Model) -> &str {
        model.operation_def(self).map_or("unknown", |def| &def.name)
    }

    /// Its wire name in the model in force.
    pub fn name(self) -> String {
        model::with_model(|model| self.name_in(model).to_owned())
    }

    /// The area of the product it touches, in the model in force.
    pub fn area(self) -> String {
        model::with_model(|model| {
            model
                .operation_def(self)
                .map_or_else(String::new, |def| def.area.to_string())
        })
    }

    /// Every permission it needs in the model in force (none: open to every member).
    pub fn required_permissions(self) -> PermissionSet {
        model::with_model(|model| {
            model
                .operation_def(self)
                .map_or(PermissionSet::EMPTY, |def| def.requires)
        })
    }

    /// The plan feature it needs in the model in force, if any.
    pub fn required_feature(self) -> Option<Feature> {
        model::with_model(|model| model.operation_def(self).and_then(|def| def.feature))
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model::with_model(|model| f.pad(self.name_in(model)))
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        model::with_model(|model| serializer.serialize_str(self.name_in(model)))
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// An operation name that the model in force does not have.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown operation `{0}`")]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        model::with_model(|model| model.operation(value))
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
    /// The credential's external id and metadata, if its issuer gave any (sessions have
    /// none). Shared, so that a principal stays small and cheap to copy.
    #[serde(default, flatten)]
    pub labels: Option<Arc<Labels>>,
}

impl Principal {
    /// The credential's external id, if any.
    pub fn external_id(&self) -> Option<&ExternalId> {
        self.labels.as_ref()?.external_id.as_ref()
    }

    /// The credential's metadata, if any.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.labels.as_ref()?.metadata.as_ref()
    }
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
    /// Automation keys may not perform this operation.
    AutomationKeyScope,
    /// The operation is not in the model in force.
    UnknownOperation,
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
            Reason::UnknownOperation => "unknown_operation",
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
                f.write_str("automation keys may not perform this operation")
            }
            Reason::UnknownOperation => f.write_str("the operation is not in the product model"),
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

/// The decision for `principal` performing `operation`, in the model in force.
pub fn authorize(principal: &Principal, operation: Operation) -> Decision {
    model::with_model(|model| model.authorize(principal, operation))
}

impl Model {
    /// The decision for `principal` performing `operation` in this model.
    #[inline]
    pub fn authorize(&self, principal: &Principal, operation: Operation) -> Decision {
        self.decide(
            principal.permissions,
            principal.plan,
            matches!(principal.kind, PrincipalKind::AutomationKey { .. }),
            operation,
        )
    }

    /// The decision for a caller holding `permissions` on a tenant on `plan` in this model.
    /// An operation or plan the model lacks is denied.
    #[inline]
    pub fn decide(
        &self,
        permissions: PermissionSet,
        plan: Plan,
        automation_key: bool,
        operation: Operation,
    ) -> Decision {
        let Some(def) = self.operation_def(operation) else {
            return Decision::deny(Reason::UnknownOperation);
        };
        if automation_key && !def.automation_keys {
            return Decision::deny(Reason::AutomationKeyScope);
        }
        if let Some(feature) = def.feature
            && !self.includes(plan, feature)
        {
            return Decision::deny(Reason::PlanExcludes { feature });
        }
        if !def.requires.is_subset(permissions) {
            // The first missing one in catalogue order (the deny path only).
            let missing = def.requires.difference(permissions);
            if let Some(permission) = missing.iter_in(self).next() {
                return Decision::deny(Reason::MissingPermission { permission });
            }
        }
        match def.primary {
            None => Decision::allow(Reason::OpenToMembers),
            Some(permission) => Decision::allow(Reason::Granted { permission }),
        }
    }
}

/// The decision for a caller holding `permissions` on a tenant on `plan`, in the model in
/// force.
pub fn decide(
    permissions: PermissionSet,
    plan: Plan,
    automation_key: bool,
    operation: Operation,
) -> Decision {
    model::with_model(|model| model.decide(permissions, plan, automation_key, operation))
}

/// The permissions an automation key carries in the model in force: those the operations
/// open to automation keys need.
pub fn automation_key_permissions() -> PermissionSet {
    model::with_model(Model::automation_permissions)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;
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
            labels: None,
        }
    }

    #[test]
    fn read_only_member_may_read_but_not_write() {
        let reader = principal(PermissionSet::EMPTY, plan_named("enterprise"), false);
        for operation in Operation::all() {
            let decision = authorize(&reader, operation);
            assert_eq!(
                decision.allow,
                operation.required_permissions().is_empty(),
                "{operation}"
            );
        }
    }

    #[test]
    fn build_logs_and_binaries_need_build_applications() {
        let reader = principal(PermissionSet::EMPTY, plan_named("team"), false);
        for operation in [op_named("read_build_logs"), op_named("download_binaries")] {
            assert_eq!(
                authorize(&reader, operation),
                Decision {
                    allow: false,
                    reason: Reason::MissingPermission {
                        permission: perm("build_applications")
                    },
                }
            );
        }
    }

    #[test]
    fn audit_log_needs_enterprise_and_user_management() {
        let admin = principal(PermissionSet::all(), plan_named("team"), false);
        assert_eq!(
            authorize(&admin, op_named("read_audit_log")).reason,
            Reason::PlanExcludes {
                feature: Feature::AUDIT_LOG
            }
        );
        let admin = principal(PermissionSet::all(), plan_named("enterprise"), false);
        assert!(authorize(&admin, op_named("read_audit_log")).allow);
        let builder = principal(
            PermissionSet::only(perm("build_applications")),
            plan_named("enterprise"),
            false,
        );
        assert!(!authorize(&builder, op_named("read_audit_log")).allow);
    }

    #[test]
    fn automation_keys_only_reach_builds() {
        let key = principal(automation_key_permissions(), plan_named("team"), true);
        for operation in Operation::all() {
            let decision = authorize(&key, operation);
            if operation.area() == "builds" {
                assert!(decision.allow, "{operation}");
            } else {
                assert_eq!(decision.reason, Reason::AutomationKeyScope, "{operation}");
            }
        }
    }

    #[test]
    fn every_write_names_its_permission() {
        for operation in Operation::all() {
            assert_eq!(operation.name().parse::<Operation>(), Ok(operation));
            if operation.name().starts_with("write_") {
                assert!(!operation.required_permissions().is_empty(), "{operation}");
            }
        }
        assert!("drop_tables".parse::<Operation>().is_err());
    }
}

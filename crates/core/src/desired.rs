//! Validation of a desired tenant configuration, as written by hand, in Terraform or in a
//! JavaScript admin tool, before anything is applied.
//!
//! Unlike [`Account::apply`](crate::Account::apply), which refuses one command at its first
//! broken rule, validation reports **every** problem at once, each with a stable code and the
//! path of the offending value (`members[2].permissions[0]`). Inputs are plain strings so that
//! one bad name does not hide the others. The rules are the engine's own: plan limits and
//! features ([`Plan`]), lockout prevention, no privilege escalation, and the SSO breakglass.

use crate::ids::{Email, excerpt};
use crate::permission::{Permission, PermissionSet, RolePreset};
use crate::plan::{Feature, Plan};
use crate::user::UserStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// A desired tenant and, optionally, who will apply it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredConfig {
    /// The permissions of whoever applies the configuration (for the escalation check);
    /// omitted: no escalation check.
    #[serde(default)]
    pub actor_permissions: Option<Vec<String>>,
    /// The tenant.
    pub tenant: DesiredTenant,
}

/// A tenant as it should be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredTenant {
    /// `free`, `team` or `enterprise`.
    pub plan: String,
    /// Members, owner included.
    #[serde(default)]
    pub members: Vec<DesiredMember>,
    /// SAML SSO.
    #[serde(default)]
    pub sso: Option<DesiredSso>,
    /// API tokens.
    #[serde(default)]
    pub api_tokens: Vec<DesiredToken>,
    /// Automation keys.
    #[serde(default)]
    pub automation_keys: Vec<DesiredAutomationKey>,
}

/// A member as it should be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredMember {
    /// The member's email.
    pub email: String,
    /// Granted permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// A role preset whose permissions are added.
    #[serde(default)]
    pub role: Option<String>,
    /// `active` (default), `inactive` or `pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// Whether this member is the tenant owner (holds every permission).
    #[serde(default)]
    pub owner: bool,
}

/// SSO as it should be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredSso {
    /// Whether SSO is enforced.
    pub enforced: bool,
    /// The breakglass member's email.
    #[serde(default)]
    pub breakglass: Option<String>,
    /// The id of the account's SSO connection members sign in with (`sso_...`); enforcing
    /// SSO needs one.
    #[serde(default)]
    pub connection: Option<String>,
}

/// An API token as it should be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredToken {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The owning member's email.
    pub owner: String,
    /// Scope.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// An automation key as it should be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredAutomationKey {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Whether it is enabled.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

const fn enabled_by_default() -> bool {
    true
}

/// One thing wrong with a desired configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable machine-readable code, shared with the engine's refusals where one applies.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
    /// Where, e.g. `tenant.members[2].permissions[0]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, code: &str, path: Option<String>, message: String) {
        self.0.push(Problem {
            code: code.to_owned(),
            message,
            path,
        });
    }
}

/// Parses permission names at `path`, reporting each unknown one.
fn permissions_at(names: &[String], path: &str, problems: &mut Problems) -> PermissionSet {
    let mut set = PermissionSet::EMPTY;
    for (index, name) in names.iter().enumerate() {
        match name.parse::<Permission>() {
            Ok(permission) => set = set.with(permission),
            Err(error) => problems.add(
                "unknown_permission",
                Some(format!("{path}[{index}]")),
                error.to_string(),
            ),
        }
    }
    set
}

struct Member {
    permissions: PermissionSet,
    status: UserStatus,
}

/// Every problem with `config`; empty when it is valid.
pub fn validate(config: &DesiredConfig) -> Vec<Problem> {
    let mut problems = Problems(Vec::new());
    let tenant = &config.tenant;
    let actor = config
        .actor_permissions
        .as_ref()
        .map(|names| permissions_at(names, "actor_permissions", &mut problems));

    let plan = match tenant.plan.parse::<Plan>() {
        Ok(plan) => Some(plan),
        Err(error) => {
            problems.add(
                "unknown_plan",
                Some("tenant.plan".into()),
                error.to_string(),
            );
            None
        }
    };

    // Members, by normalised email.
    let mut members: BTreeMap<Email, Member> = BTreeMap::new();
    let mut owners = 0_usize;
    for (index, desired) in tenant.members.iter().enumerate() {
        let path = format!("tenant.members[{index}]");
        let mut permissions = permissions_at(
            &desired.permissions,
            &format!("{path}.permissions"),
            &mut problems,
        );
        if let Some(role) = &desired.role {
            match role.parse::<RolePreset>() {
                Ok(role) => permissions = permissions.union(role.permissions()),
                Err(error) => {
                    problems.add(
                        "unknown_role",
                        Some(format!("{path}.role")),
                        error.to_string(),
                    );
                }
            }
        }
        let status = match desired.status.as_deref().unwrap_or("active") {
            "active" => UserStatus::Active,
            "inactive" => UserStatus::Inactive,
            "pending" => UserStatus::Pending,
            other => {
                problems.add(
                    "unknown_status",
                    Some(format!("{path}.status")),
                    format!(
                        "unknown status `{}`; expected active, inactive or pending",
                        excerpt(other)
                    ),
                );
                UserStatus::Active
            }
        };
        if desired.owner {
            owners += 1;
            if status != UserStatus::Active {
                problems.add(
                    "owner_protected",
                    Some(format!("{path}.status")),
                    "the tenant owner cannot be deactivated".into(),
                );
            }
            if !desired.permissions.is_empty() && permissions != PermissionSet::all() {
                problems.add(
                    "owner_protected",
                    Some(format!("{path}.permissions")),
                    "the tenant owner holds every permission and cannot be demoted".into(),
                );
            }
            permissions = PermissionSet::all();
        }
        if let Some(held) = actor {
            let extra = permissions.difference(held);
            if !desired.owner && !extra.is_empty() {
                problems.add(
                    "privilege_escalation",
                    Some(format!("{path}.permissions")),
                    format!("cannot grant permissions you do not hold: {extra}"),
                );
            }
        }
        match desired.email.parse::<Email>() {
            Ok(email) => match members.entry(email) {
                Entry::Occupied(entry) => problems.add(
                    "duplicate_member",
                    Some(format!("{path}.email")),
                    format!("`{}` is listed more than once", entry.key()),
                ),
                Entry::Vacant(entry) => {
                    entry.insert(Member {
                        permissions,
                        status,
                    });
                }
            },
            Err(error) => {
                problems.add(
                    "invalid_email",
                    Some(format!("{path}.email")),
                    error.to_string(),
                );
            }
        }
    }
    if owners > 1 {
        problems.add(
            "multiple_owners",
            Some("tenant.members".into()),
            format!("a tenant has one owner; {owners} members are marked as owner"),
        );
    }

    if let Some(plan) = plan {
        let limit = plan.member_limit();
        if tenant.members.len() > limit {
            problems.add(
                "plan_limit",
                Some("tenant.members".into()),
                format!(
                    "the {plan} plan allows {limit} members and the configuration has {}",
                    tenant.members.len()
                ),
            );
        }
        if !tenant.automation_keys.is_empty() && !plan.includes(Feature::AUTOMATION_KEYS) {
            problems.add(
                "plan_feature_unavailable",
                Some("tenant.automation_keys".into()),
                format!("the {plan} plan does not include `automation_keys`"),
            );
        }
        if tenant.sso.as_ref().is_some_and(|sso| sso.enforced) && !plan.includes(Feature::SAML_SSO)
        {
            problems.add(
                "plan_feature_unavailable",
                Some("tenant.sso.enforced".into()),
                format!("the {plan} plan does not include `saml_sso`"),
            );
        }
    }

    let is_active_manager = |member: &Member| {
        member.status == UserStatus::Active
            && member
                .permissions
                .contains(Permission::USER_AND_API_MANAGEMENT)
    };
    if !tenant.members.is_empty() && !members.values().any(is_active_manager) {
        problems.add(
            "lockout",
            Some("tenant.members".into()),
            "no active member holds `user_and_api_management`; the tenant would be locked out"
                .into(),
        );
    }

    if let Some(sso) = &tenant.sso {
        if sso.enforced && sso.connection.is_none() {
            problems.add(
                "sso_connection_required",
                Some("tenant.sso.connection".into()),
                "enforcing SSO needs an SSO connection".into(),
            );
        }
        match &sso.breakglass {
            None if sso.enforced => problems.add(
                "breakglass_required",
                Some("tenant.sso.breakglass".into()),
                "enforcing SAML SSO needs a breakglass user".into(),
            ),
            None => {}
            Some(address) => {
                let valid = address
                    .parse::<Email>()
                    .ok()
                    .and_then(|email| members.get(&email))
                    .is_some_and(is_active_manager);
                if !valid {
                    problems.add(
                        "invalid_breakglass",
                        Some("tenant.sso.breakglass".into()),
                        format!(
                            "breakglass user `{}` must be an active member holding `user_and_api_management`",
                            excerpt(address)
                        ),
                    );
                }
            }
        }
    }

    for (index, token) in tenant.api_tokens.iter().enumerate() {
        let path = format!("tenant.api_tokens[{index}]");
        let scope = permissions_at(
            &token.permissions,
            &format!("{path}.permissions"),
            &mut problems,
        );
        let owner = token
            .owner
            .parse::<Email>()
            .ok()
            .and_then(|email| members.get(&email));
        match owner {
            None => problems.add(
                "member_not_found",
                Some(format!("{path}.owner")),
                format!(
                    "token owner `{}` is not a member of the tenant",
                    excerpt(&token.owner)
                ),
            ),
            Some(owner) => {
                let extra = scope.difference(owner.permissions);
                if !extra.is_empty() {
                    problems.add(
                        "privilege_escalation",
                        Some(format!("{path}.permissions")),
                        format!("a token cannot hold permissions its owner lacks: {extra}"),
                    );
                }
            }
        }
    }
    problems.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(email: &str, permissions: &[&str]) -> DesiredMember {
        DesiredMember {
            email: email.into(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            ..DesiredMember::default()
        }
    }

    fn codes(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn a_good_configuration_has_no_problem() {
        let config = DesiredConfig {
            actor_permissions: Some(vec![
                "user_and_api_management".into(),
                "build_applications".into(),
            ]),
            tenant: DesiredTenant {
                plan: "enterprise".into(),
                members: vec![
                    DesiredMember {
                        owner: true,
                        ..member("owner@x.io", &[])
                    },
                    member("ops@x.io", &["user_and_api_management"]),
                    DesiredMember {
                        role: Some("release_engineer".into()),
                        ..member("ci@x.io", &[])
                    },
                ],
                sso: Some(DesiredSso {
                    enforced: true,
                    breakglass: Some("OPS@x.io".into()),
                    connection: Some("sso_0123456789abcdef".into()),
                }),
                api_tokens: vec![DesiredToken {
                    name: "ci".into(),
                    owner: "ci@x.io".into(),
                    permissions: vec!["build_applications".into()],
                }],
                automation_keys: vec![DesiredAutomationKey {
                    name: "b".into(),
                    enabled: true,
                }],
            },
        };
        assert_eq!(validate(&config), []);
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let config = DesiredConfig {
            actor_permissions: Some(vec!["build_applications".into()]),
            tenant: DesiredTenant {
                plan: "free".into(),
                members: vec![
                    member("a@x.io", &["build_applications", "root"]),
                    member("b@x.io", &["modify_configuration"]),
                    member("not-an-email", &[]),
                ],
                sso: Some(DesiredSso {
                    enforced: true,
                    breakglass: None,
                    connection: None,
                }),
                api_tokens: vec![DesiredToken {
                    name: "t".into(),
                    owner: "a@x.io".into(),
                    permissions: vec!["update_certificates".into()],
                }],
                automation_keys: vec![DesiredAutomationKey {
                    name: "k".into(),
                    enabled: true,
                }],
            },
        };
        let problems = validate(&config);
        assert_eq!(
            codes(&problems),
            [
                "unknown_permission",
                "privilege_escalation",
                "invalid_email",
                "plan_limit",
                "plan_feature_unavailable",
                "plan_feature_unavailable",
                "lockout",
                "sso_connection_required",
                "breakglass_required",
                "privilege_escalation",
            ]
        );
        assert_eq!(
            problems[0].path.as_deref(),
            Some("tenant.members[0].permissions[1]")
        );
        assert_eq!(
            problems[1].path.as_deref(),
            Some("tenant.members[1].permissions")
        );
        assert_eq!(problems[7].path.as_deref(), Some("tenant.sso.connection"));
        assert_eq!(
            problems[9].path.as_deref(),
            Some("tenant.api_tokens[0].permissions")
        );
    }

    #[test]
    fn breakglass_must_be_an_active_manager() {
        let config = DesiredConfig {
            actor_permissions: None,
            tenant: DesiredTenant {
                plan: "enterprise".into(),
                members: vec![
                    member("m@x.io", &["user_and_api_management"]),
                    DesiredMember {
                        status: Some("inactive".into()),
                        ..member("i@x.io", &["user_and_api_management"])
                    },
                ],
                sso: Some(DesiredSso {
                    enforced: true,
                    breakglass: Some("i@x.io".into()),
                    connection: Some("sso_0123456789abcdef".into()),
                }),
                ..DesiredTenant::default()
            },
        };
        assert_eq!(codes(&validate(&config)), ["invalid_breakglass"]);
    }

    #[test]
    fn unknown_names_and_duplicates_are_reported() {
        let config = DesiredConfig {
            actor_permissions: None,
            tenant: DesiredTenant {
                plan: "gold".into(),
                members: vec![
                    DesiredMember {
                        role: Some("god".into()),
                        status: Some("asleep".into()),
                        ..member("a@x.io", &["user_and_api_management"])
                    },
                    member("A@X.io", &[]),
                ],
                ..DesiredTenant::default()
            },
        };
        assert_eq!(
            codes(&validate(&config)),
            [
                "unknown_plan",
                "unknown_role",
                "unknown_status",
                "duplicate_member"
            ]
        );
    }

    #[test]
    fn owner_cannot_be_demoted_or_deactivated() {
        let config = DesiredConfig {
            actor_permissions: None,
            tenant: DesiredTenant {
                plan: "team".into(),
                members: vec![
                    DesiredMember {
                        owner: true,
                        status: Some("inactive".into()),
                        ..member("o@x.io", &["build_applications"])
                    },
                    member("m@x.io", &["user_and_api_management"]),
                ],
                ..DesiredTenant::default()
            },
        };
        assert_eq!(
            codes(&validate(&config)),
            ["owner_protected", "owner_protected"]
        );
    }

    #[test]
    fn unknown_fields_are_rejected_in_json() {
        let json = r#"{"tenant":{"plan":"team","members":[],"colour":"red"}}"#;
        assert!(serde_json::from_str::<DesiredConfig>(json).is_err());
    }
}

//! Plan-time validation with `portcullis-core` itself, before any write reaches the API.
//!
//! Terraform plans each resource on its own, but the rules span the tenant (seats, lockout,
//! the SSO breakglass). The provider therefore keeps, per process, a snapshot of the tenant as
//! the API shows it (read once) and a book of the member changes planned so far in this run,
//! and asks [`portcullis_core::desired::validate`] about the tenant those changes produce.
//! A problem is reported on a resource only when that resource's own change introduces it, at
//! the attribute it concerns.
//!
//! Every check runs against the product model the worker serves (read when the provider is
//! configured), put in force for the synchronous check only: the model in force is per thread
//! and the provider runs on tokio, so no check holds it across an `.await`. Names are checked
//! at plan time, not at validate time: Terraform validates before it configures the provider,
//! when the served model is not known yet.
//!
//! Seats: a member whose plan takes the tenant past its plan's seat limit is held (not
//! answered) until member plans stop arriving for a moment, so that the other members planned
//! concurrently are counted too; then one member is blamed, the last of the held ones in email
//! order, with the full count (the owner and pending invitees included) and what to do. The
//! provider never sees resource addresses or the configuration as a whole, only one resource
//! at a time, so that is as deterministic as blame can be made from here.
//!
//! Limits of the approach, on purpose: a member destroyed in the same run does not free its
//! seat at plan time (Terraform may create before it destroys, and the API would refuse), and
//! other changes are judged in the order Terraform plans them.

use crate::client::{Api, ApiError};
use crate::diagnostics;
use crate::values::{known, permission_names};
use portcullis_core::desired::{
    DesiredAutomationKey, DesiredConfig, DesiredMember, DesiredSso, DesiredTenant, DesiredToken,
    Problem, validate,
};
use portcullis_core::listing::ListQuery;
use portcullis_core::model::Model;
use portcullis_core::query::{MemberView, TenantView};
use portcullis_core::{Email, PermissionSet, TenantId, UserId};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tf_provider::Diagnostics;
use tf_provider::value::Value;

/// The tenant as the API showed it when this process first needed it.
#[derive(Debug)]
pub struct Snapshot {
    /// Settings.
    pub tenant: TenantView,
    /// Members, owner and pending invitees included.
    pub members: Vec<MemberView>,
    /// Automation keys.
    pub automation_keys: usize,
}

/// What a member resource plans for one email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMember {
    /// Normalised email.
    pub email: String,
    /// Granted permission names (including a role's).
    pub permissions: Vec<String>,
    /// The names among `permissions` that only the `role` grants (not configured in
    /// `permissions`): an escalation through them is the role's.
    pub from_role: Vec<String>,
    /// `active` or `inactive` (or `pending` for a member not yet accepted).
    pub status: String,
}

/// A planned change of one member resource.
#[derive(Debug)]
pub struct MemberChange {
    /// The member after the change, or `None` when it leaves the tenant.
    pub after: Option<PlannedMember>,
    /// The email the resource had before (replacement or removal), if any.
    pub before_email: Option<String>,
    /// Permissions the member holds already (a change only needs the added ones).
    pub already_granted: PermissionSet,
    /// Whether `status` (not `permissions`) is what the practitioner changed.
    pub status_changed: bool,
}

/// Planned SSO settings of the tenant; `None` where a value is unknown during plan.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlannedSso<'a> {
    /// Whether SSO is enforced.
    pub enforced: Option<bool>,
    /// The breakglass user id, if any.
    pub breakglass: Option<Option<&'a str>>,
    /// The SSO connection id, if any.
    pub connection: Option<Option<&'a str>>,
}

/// Snapshot plus the changes planned so far, shared by all resources of one provider process.
#[derive(Debug)]
pub struct PlanBook {
    snapshot: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
    planned: Mutex<Planned>,
    planned_plan: Mutex<Option<String>>,
    /// How long member plans must stop arriving before held members are judged.
    settle: Duration,
}

impl Default for PlanBook {
    fn default() -> Self {
        PlanBook::with_settle(Duration::from_millis(400))
    }
}

/// The longest a member plan is held, however busy the run.
const MAX_HOLD: Duration = Duration::from_secs(5);

/// The member changes planned so far.
#[derive(Debug, Default)]
struct Planned {
    /// Recorded changes, by normalised email (`None`: the member leaves).
    members: BTreeMap<String, Option<PlannedMember>>,
    /// Members past the seat limit, held until plans stop arriving.
    held: BTreeMap<String, PlannedMember>,
    /// What was decided for held members: the problem for the one blamed, `None` for others.
    decided: BTreeMap<String, Option<Problem>>,
    /// When a member plan last arrived.
    last_arrival: Option<Instant>,
}

fn normalise(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

impl PlanBook {
    /// A book that judges held members once plans stop arriving for `settle`.
    pub fn with_settle(settle: Duration) -> Self {
        PlanBook {
            snapshot: tokio::sync::Mutex::default(),
            planned: Mutex::default(),
            planned_plan: Mutex::default(),
            settle,
        }
    }

    /// The tenant snapshot, read from the API on first use.
    pub async fn snapshot(&self, api: &Api) -> Result<Arc<Snapshot>, ApiError> {
        let mut slot = self.snapshot.lock().await;
        if let Some(snapshot) = slot.as_ref() {
            return Ok(Arc::clone(snapshot));
        }
        let tenant_id = api.tenant_id();
        let every = ListQuery::default();
        let tenant = api.tenant(tenant_id).await?;
        let members = api.members(tenant_id, &every).await?;
        let keys = api.automation_keys(tenant_id, &every).await?;
        let snapshot = Arc::new(Snapshot {
            tenant,
            members: members.items,
            automation_keys: keys.items.len(),
        });
        *slot = Some(Arc::clone(&snapshot));
        Ok(snapshot)
    }

    fn plan_name(&self, model: &Model, snapshot: &Snapshot) -> String {
        self.planned_plan
            .lock()
            .ok()
            .and_then(|plan| plan.clone())
            .unwrap_or_else(|| snapshot.tenant.plan.name_in(model).to_owned())
    }

    /// The members the tenant will have: the snapshot, the planned changes, then `overrides`
    /// (by normalised email; `None` removes). Returns the list and the index of `focus`.
    fn members(
        model: &Model,
        planned: &BTreeMap<String, Option<PlannedMember>>,
        snapshot: &Snapshot,
        overrides: &BTreeMap<String, Option<PlannedMember>>,
        focus: Option<&str>,
    ) -> (Vec<DesiredMember>, Option<usize>) {
        let mut members: BTreeMap<String, DesiredMember> = snapshot
            .members
            .iter()
            .map(|member| {
                let email = member.email.as_str().to_owned();
                let desired = DesiredMember {
                    email: email.clone(),
                    permissions: permission_names(model, member.permissions),
                    role: None,
                    status: Some(member.status.name().to_owned()),
                    owner: member.tenant_owner,
                };
                (email, desired)
            })
            .collect();
        for (email, change) in planned.iter().chain(overrides) {
            match change {
                None => {
                    members.remove(email);
                }
                Some(member) => {
                    let owner = members.get(email).is_some_and(|m| m.owner);
                    members.insert(
                        email.clone(),
                        DesiredMember {
                            email: email.clone(),
                            permissions: member.permissions.clone(),
                            role: None,
                            status: Some(member.status.clone()),
                            owner,
                        },
                    );
                }
            }
        }
        let index = focus.and_then(|focus| members.keys().position(|email| email == focus));
        (members.into_values().collect(), index)
    }

    /// Checks one member resource's planned change; reports problems on its attributes and,
    /// when there are none, records the change for the resources planned after it. A member
    /// past the seat limit is held until member plans stop arriving (see the module's doc).
    pub async fn check_member(
        &self,
        diags: &mut Diagnostics,
        model: &Arc<Model>,
        snapshot: &Snapshot,
        actor: PermissionSet,
        change: MemberChange,
    ) {
        let Some(held) = self.check_member_now(diags, model, snapshot, actor, change) else {
            return;
        };
        let started = Instant::now();
        loop {
            tokio::time::sleep(self.settle / 4).await;
            let Ok(mut planned) = self.planned.lock() else {
                return;
            };
            let quiet = planned
                .last_arrival
                .is_none_or(|at| at.elapsed() >= self.settle);
            if !planned.decided.contains_key(&held) && (quiet || started.elapsed() >= MAX_HOLD) {
                let plan = self.plan_name(model, snapshot);
                Self::judge_held(&mut planned, model, snapshot, &plan);
            }
            if let Some(decided) = planned.decided.remove(&held) {
                if let Some(problem) = decided {
                    diagnostics::problem(diags, &problem, Some("email"));
                }
                return;
            }
        }
    }

    /// Judges the held members together: when they still take the tenant past its seat limit,
    /// the last of them in email order is blamed, with the full count and the fix; the others
    /// are recorded.
    fn judge_held(planned: &mut Planned, model: &Arc<Model>, snapshot: &Snapshot, plan: &str) {
        let _in_force = model.enter();
        let held = std::mem::take(&mut planned.held);
        let overrides: BTreeMap<String, Option<PlannedMember>> = held
            .iter()
            .map(|(email, member)| (email.clone(), Some(member.clone())))
            .collect();
        let (members, _) = Self::members(model, &planned.members, snapshot, &overrides, None);
        let total = members.len();
        let config = DesiredConfig {
            actor_permissions: None,
            tenant: DesiredTenant {
                plan: plan.to_owned(),
                members,
                ..DesiredTenant::default()
            },
        };
        let over = validate(&config).into_iter().find(|problem| {
            problem.code == "plan_limit" && problem.path.as_deref() == Some("tenant.members")
        });
        let blamed = over.as_ref().and_then(|_| held.keys().next_back().cloned());
        for (email, member) in held {
            if Some(&email) == blamed.as_ref() {
                let problem = over.clone().map(|problem| Problem {
                    message: seat_fix(model, plan, total, &problem.message),
                    ..problem
                });
                planned.decided.insert(email, problem);
            } else {
                planned.members.insert(email.clone(), Some(member));
                planned.decided.insert(email, None);
            }
        }
    }

    /// The synchronous part of [`PlanBook::check_member`]: `Some(email)` when the member is
    /// held for the seat limit.
    fn check_member_now(
        &self,
        diags: &mut Diagnostics,
        model: &Arc<Model>,
        snapshot: &Snapshot,
        actor: PermissionSet,
        change: MemberChange,
    ) -> Option<String> {
        let _in_force = model.enter();
        let focus = change.after.as_ref().map(|member| normalise(&member.email));
        let mut with = BTreeMap::new();
        if let Some(before) = &change.before_email {
            // A replaced or removed member frees its seat only for this same resource.
            with.insert(normalise(before), None);
        }
        if let Some(after) = &change.after {
            let mut after = after.clone();
            after.email = normalise(&after.email);
            with.insert(after.email.clone(), Some(after));
        }
        let plan = self.plan_name(model, snapshot);
        // Held from the check to the record, so concurrent plans (Terraform runs ten at once)
        // each see the members planned before them.
        let Ok(mut planned) = self.planned.lock() else {
            return None;
        };
        planned.last_arrival = Some(Instant::now());
        // Held members count for everyone planned while they are held.
        let held: BTreeMap<String, Option<PlannedMember>> = planned
            .held
            .iter()
            .filter(|(email, _)| !with.contains_key(*email))
            .map(|(email, member)| (email.clone(), Some(member.clone())))
            .collect();
        let mut with_held = held;
        with_held.extend(with.clone());
        let config = |planned: &BTreeMap<String, Option<PlannedMember>>,
                      overrides: &BTreeMap<String, Option<PlannedMember>>| {
            let (members, index) =
                Self::members(model, planned, snapshot, overrides, focus.as_deref());
            let config = DesiredConfig {
                actor_permissions: Some(permission_names(
                    model,
                    actor.union(change.already_granted),
                )),
                tenant: DesiredTenant {
                    plan: plan.clone(),
                    members,
                    ..DesiredTenant::default()
                },
            };
            (validate(&config), index)
        };
        let (problems, index) = config(&planned.members, &with_held);
        // Against the recorded changes only: a seat problem the held members already cause is
        // this member's too (it is held with them and judged with them).
        let (before, _) = config(&planned.members, &BTreeMap::new());
        let own = index.map(|index| format!("tenant.members[{index}]"));
        let mut found = false;
        let mut over_limit = false;
        for problem in &problems {
            let path = problem.path.as_deref().unwrap_or_default();
            let attribute = match (&own, path) {
                (Some(own), path) if path.starts_with(own.as_str()) => {
                    let rest = path.get(own.len()..).unwrap_or_default();
                    Some(match member_attribute(rest) {
                        "permissions" if problem.code == "privilege_escalation" => {
                            escalation_attribute(model, &change, actor)
                        }
                        attribute => attribute,
                    })
                }
                (_, "tenant.members") if !introduced(problem, &before) => None,
                (_, "tenant.members") => Some(match problem.code.as_str() {
                    "plan_limit" => "email",
                    "lockout" if change.after.is_none() => "email",
                    "lockout" if change.status_changed => "status",
                    _ => "permissions",
                }),
                _ => None,
            };
            match attribute {
                Some("email")
                    if problem.code == "plan_limit"
                        && problem.path.as_deref() == Some("tenant.members") =>
                {
                    over_limit = true;
                }
                Some(attribute) => {
                    found = true;
                    diagnostics::problem(diags, problem, Some(attribute));
                }
                None => {}
            }
        }
        match (found, over_limit, focus) {
            (false, true, Some(email)) => {
                if let Some(Some(after)) = with.remove(&email) {
                    planned.held.insert(email.clone(), after);
                    planned.decided.remove(&email);
                    return Some(email);
                }
                None
            }
            (false, _, _) => {
                planned.members.extend(with);
                None
            }
            (true, _, _) => None,
        }
    }

    /// Checks planned tenant settings: plan features and limits, SSO, its breakglass user and
    /// its connection. Records the planned plan for the resources planned after.
    pub fn check_tenant(
        &self,
        diags: &mut Diagnostics,
        model: &Arc<Model>,
        snapshot: &Snapshot,
        plan: Option<&str>,
        sso: PlannedSso<'_>,
    ) {
        let _in_force = model.enter();
        let plan_name = plan.map_or_else(|| self.plan_name(model, snapshot), str::to_owned);
        let planned = self
            .planned
            .lock()
            .map(|planned| planned.members.clone())
            .unwrap_or_default();
        let (members, _) = Self::members(model, &planned, snapshot, &BTreeMap::new(), None);
        let sso = match (sso.enforced, sso.breakglass) {
            (Some(enforced), Some(breakglass)) => Some(DesiredSso {
                enforced,
                breakglass: breakglass.map(|user_id| {
                    user_id
                        .parse::<UserId>()
                        .ok()
                        .and_then(|id| snapshot.members.iter().find(|m| m.user_id == id))
                        .map_or_else(|| user_id.to_owned(), |m| m.email.as_str().to_owned())
                }),
                // An unknown connection (a reference to a connection created in this run) will
                // be one: only a known absence breaks the rule.
                connection: match sso.connection {
                    None => Some(String::new()),
                    Some(connection) => connection.map(str::to_owned),
                },
            }),
            _ => None,
        };
        let config = DesiredConfig {
            actor_permissions: None,
            tenant: DesiredTenant {
                plan: plan_name.clone(),
                members,
                sso,
                automation_keys: vec![DesiredAutomationKey::default(); snapshot.automation_keys],
                ..DesiredTenant::default()
            },
        };
        let mut found = false;
        for problem in validate(&config) {
            let attribute = match problem.path.as_deref().unwrap_or_default() {
                "tenant.plan" | "tenant.automation_keys" => "plan",
                "tenant.members" if problem.code == "plan_limit" => "plan",
                "tenant.sso.enforced" => "sso_enforced",
                "tenant.sso.breakglass" => "saml_breakglass_user_id",
                "tenant.sso.connection" => "sso_connection_id",
                _ => continue,
            };
            found = true;
            diagnostics::problem(diags, &problem, Some(attribute));
        }
        if !found
            && plan.is_some()
            && let Ok(mut planned) = self.planned_plan.lock()
        {
            *planned = Some(plan_name);
        }
    }

    /// Checks an automation key against the (planned) plan.
    pub fn check_automation_key(
        &self,
        diags: &mut Diagnostics,
        model: &Arc<Model>,
        snapshot: &Snapshot,
    ) {
        let _in_force = model.enter();
        let config = DesiredConfig {
            actor_permissions: None,
            tenant: DesiredTenant {
                plan: self.plan_name(model, snapshot),
                automation_keys: vec![DesiredAutomationKey::default()],
                ..DesiredTenant::default()
            },
        };
        for problem in validate(&config) {
            if problem.path.as_deref() == Some("tenant.automation_keys") {
                diagnostics::problem(diags, &problem, None);
            }
        }
    }
}

/// Checks an API token's scope: known permission names, none beyond what the provider's own
/// token holds (the token is created for the provider token's owner).
pub fn check_token(
    diags: &mut Diagnostics,
    model: &Arc<Model>,
    actor: PermissionSet,
    scope: &[String],
) {
    let _in_force = model.enter();
    let owner = "provider@portcullis.invalid";
    let config = DesiredConfig {
        actor_permissions: None,
        tenant: DesiredTenant {
            plan: largest_plan(model),
            members: vec![DesiredMember {
                email: owner.to_owned(),
                permissions: permission_names(model, actor),
                role: None,
                status: None,
                owner: false,
            }],
            api_tokens: vec![DesiredToken {
                name: "token".to_owned(),
                owner: owner.to_owned(),
                permissions: scope.to_vec(),
            }],
            ..DesiredTenant::default()
        },
    };
    for problem in validate(&config) {
        if problem
            .path
            .as_deref()
            .is_some_and(|path| path.starts_with("tenant.api_tokens[0].permissions"))
        {
            // The token is created for the provider token's owner, but what bounds its scope is
            // the provider's token (its own scope within its owner's permissions).
            let lacking = crate::values::parse_permissions(model, scope)
                .map(|wanted| wanted.difference(actor))
                .filter(|lacking| !lacking.is_empty());
            let problem = match lacking {
                Some(lacking) if problem.code == "privilege_escalation" => Problem {
                    message: format!(
                        "the provider's token lacks {lacking}, and a token it creates cannot \
                         hold more than it holds ({})",
                        held(actor)
                    ),
                    ..problem
                },
                _ => problem,
            };
            diagnostics::problem(diags, &problem, Some("permissions"));
        }
    }
}

/// Checks permission names and a role preset's name against the served model (plan time);
/// `true` when every name is one of its names.
pub fn check_permission_names(
    diags: &mut Diagnostics,
    model: &Arc<Model>,
    names: &[String],
    role: Option<&str>,
) -> bool {
    let _in_force = model.enter();
    let config = DesiredConfig {
        actor_permissions: None,
        tenant: DesiredTenant {
            plan: largest_plan(model),
            members: vec![DesiredMember {
                email: "member@portcullis.invalid".to_owned(),
                permissions: names.to_vec(),
                role: role.map(str::to_owned),
                status: None,
                owner: false,
            }],
            ..DesiredTenant::default()
        },
    };
    let mut valid = true;
    for problem in validate(&config) {
        let path = problem.path.as_deref().unwrap_or_default();
        if let Some(rest) = path.strip_prefix("tenant.members[0]") {
            valid = false;
            diagnostics::problem(diags, &problem, Some(member_attribute(rest)));
        }
    }
    valid
}

/// The core's seat-limit message, with the count explained and the fix: how many members to
/// remove, or the smallest plan of the model with seats for them all.
fn seat_fix(model: &Model, plan: &str, total: usize, message: &str) -> String {
    let limit = model.plan(plan).map_or(0, |plan| model.seats(plan));
    let excess = total.saturating_sub(limit);
    let larger = model
        .plans()
        .find(|(_, def)| def.seats >= total)
        .map(|(_, def)| {
            format!(
                " or move the tenant to the `{}` plan ({} seats)",
                def.name, def.seats
            )
        })
        .unwrap_or_default();
    format!(
        "{message} (the owner and pending invitations included); remove {excess} member{}{larger}",
        if excess == 1 { "" } else { "s" }
    )
}

/// A permission set for a message: its names, or that it is empty.
fn held(permissions: PermissionSet) -> String {
    if permissions.is_empty() {
        "no permission".to_owned()
    } else {
        permissions.to_string()
    }
}

/// The name of `model`'s largest plan (the last in upgrade order): the one checks of names
/// alone are made on, so that no seat limit gets in their way.
fn largest_plan(model: &Model) -> String {
    model
        .plans()
        .last()
        .map(|(_, def)| def.name.to_string())
        .unwrap_or_default()
}

/// Checks a configured `email` (validate time).
pub fn check_email(diags: &mut Diagnostics, email: &Value<String>) {
    if let Some(email) = known(email)
        && let Err(error) = email.parse::<Email>()
    {
        diagnostics::error(diags, "Invalid email", error.to_string(), Some("email"));
    }
}

/// Checks a configured `status` of a user (validate time): only `active` and `inactive` can
/// be set.
pub fn check_settable_status(diags: &mut Diagnostics, status: &Value<String>) {
    if let Some(status) = known(status)
        && status != "active"
        && status != "inactive"
    {
        diagnostics::error(
            diags,
            "Invalid status",
            format!("`{status}` is not a status you can set; use `active` or `inactive`"),
            Some("status"),
        );
    }
}

/// Checks that `tenant`, configured at `attribute`, is a tenant id (validate time).
pub fn check_tenant_id(diags: &mut Diagnostics, tenant: &str, attribute: &'static str) {
    if tenant.parse::<TenantId>().is_err() {
        diagnostics::error(
            diags,
            "Invalid tenant",
            format!("`{tenant}` is not a tenant id (`ten_...`)"),
            Some(attribute),
        );
    }
}

/// Checks that `user`, configured at `attribute`, is a user id (validate time); `summary`
/// names the user's part.
pub fn check_user_id(
    diags: &mut Diagnostics,
    summary: &'static str,
    user: &str,
    attribute: &'static str,
) {
    if user.parse::<UserId>().is_err() {
        diagnostics::error(
            diags,
            summary,
            format!("`{user}` is not a user id (`usr_...`)"),
            Some(attribute),
        );
    }
}

fn member_attribute(rest: &str) -> &'static str {
    if rest.starts_with(".role") {
        "role"
    } else if rest.starts_with(".status") {
        "status"
    } else if rest.starts_with(".email") {
        "email"
    } else {
        "permissions"
    }
}

/// Where an escalation by a member change is reported: `role` when every permission beyond
/// what the provider's token may grant comes from the role alone, else `permissions`.
fn escalation_attribute(
    model: &Model,
    change: &MemberChange,
    actor: PermissionSet,
) -> &'static str {
    let Some(after) = &change.after else {
        return "permissions";
    };
    let held = actor.union(change.already_granted);
    let mut extra = after
        .permissions
        .iter()
        .filter(|name| model.permission(name).is_some_and(|p| !held.contains(p)))
        .peekable();
    if extra.peek().is_some() && extra.all(|name| after.from_role.contains(name)) {
        "role"
    } else {
        "permissions"
    }
}

fn introduced(problem: &Problem, before: &[Problem]) -> bool {
    !before
        .iter()
        .any(|old| old.code == problem.code && old.path == problem.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_models::{default as m, documents};
    use portcullis_core::user::UserStatus;
    use portcullis_core::{Plan, Timestamp};

    fn member(email: &str, permissions: &[&str], status: UserStatus, owner: bool) -> MemberView {
        MemberView {
            user_id: UserId::generate(&mut portcullis_core::random::SeededRandom::new(
                email.bytes().map(u64::from).sum::<u64>() * 31 + permissions.len() as u64,
            )),
            tenant_id: "ten_0123456789abcdef".parse().unwrap(),
            email: email.parse::<Email>().unwrap(),
            name: "Someone".parse().unwrap(),
            status,
            permissions: PermissionSet::parse_names(permissions).unwrap(),
            effective_permissions: PermissionSet::EMPTY,
            tenant_owner: owner,
            added_at: Timestamp::from_unix_seconds(0),
        }
    }

    fn plan(name: &str) -> Plan {
        Plan::named(name).unwrap()
    }

    fn snapshot(plan: Plan, members: Vec<MemberView>) -> Snapshot {
        Snapshot {
            tenant: TenantView {
                tenant_id: "ten_0123456789abcdef".parse().unwrap(),
                name: "Prod".parse().unwrap(),
                plan,
                owner: members[0].user_id.clone(),
                member_count: members.len(),
                member_limit: plan.member_limit(),
                sso_enforced: false,
                saml_breakglass_user_id: None,
                sso_connection_id: None,
                created_at: Timestamp::from_unix_seconds(0),
                primary_contact: members[0].user_id.clone(),
            },
            members,
            automation_keys: 0,
        }
    }

    fn add(email: &str, permissions: &[&str]) -> MemberChange {
        MemberChange {
            after: Some(PlannedMember {
                email: email.to_owned(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                from_role: Vec::new(),
                status: "active".to_owned(),
            }),
            before_email: None,
            already_granted: PermissionSet::EMPTY,
            status_changed: false,
        }
    }

    fn attributes(diags: &Diagnostics) -> Vec<String> {
        diags
            .errors
            .iter()
            .map(|d| format!("{:?}", d.attribute))
            .collect()
    }

    #[tokio::test]
    async fn seats_count_the_members_planned_earlier_in_the_run() {
        let book = PlanBook::default();
        let snap = snapshot(
            plan("team"),
            vec![member("owner@x.io", &[], UserStatus::Active, true)],
        );
        for n in 0..19 {
            let mut diags = Diagnostics::default();
            book.check_member(
                &mut diags,
                &m(),
                &snap,
                PermissionSet::all(),
                add(&format!("u{n}@x.io"), &[]),
            )
            .await;
            assert!(diags.errors.is_empty(), "member {n}: {diags:?}");
        }
        let mut diags = Diagnostics::default();
        book.check_member(
            &mut diags,
            &m(),
            &snap,
            PermissionSet::all(),
            add("one-too-many@x.io", &[]),
        )
        .await;
        assert_eq!(diags.errors.len(), 1, "{diags:?}");
        assert!(diags.errors[0].summary.contains("plan_limit"));
        assert!(attributes(&diags)[0].contains("email"));
        // Planning the same member again (the apply walk re-plans) does not take a new seat.
        let mut diags = Diagnostics::default();
        book.check_member(
            &mut diags,
            &m(),
            &snap,
            PermissionSet::all(),
            add("U3@x.io", &["build_applications"]),
        )
        .await;
        assert!(diags.errors.is_empty(), "{diags:?}");
    }

    #[tokio::test]
    async fn seat_blame_falls_on_the_last_held_member_with_the_full_count_and_the_fix() {
        // Regression: the member blamed changed with the order Terraform happened to plan in,
        // and the count left out the members planned concurrently ("has 21" of 22).
        let snap = snapshot(
            plan("team"),
            vec![member("owner@x.io", &[], UserStatus::Active, true)],
        );
        for order in [["b", "c", "a"], ["c", "a", "b"]] {
            let book = PlanBook::with_settle(Duration::from_millis(100));
            for n in 0..19 {
                let change = add(&format!("u{n:02}@x.io"), &[]);
                book.check_member(
                    &mut Diagnostics::default(),
                    &m(),
                    &snap,
                    PermissionSet::all(),
                    change,
                )
                .await;
            }
            let mut diags = [
                Diagnostics::default(),
                Diagnostics::default(),
                Diagnostics::default(),
            ];
            let model = m();
            let [first, second, third] = &mut diags;
            let check = |diags, name: &str| {
                book.check_member(
                    diags,
                    &model,
                    &snap,
                    PermissionSet::all(),
                    add(&format!("{name}-late@x.io"), &[]),
                )
            };
            tokio::join!(
                check(first, order[0]),
                check(second, order[1]),
                check(third, order[2])
            );
            let blamed: Vec<(&str, &Diagnostics)> = order
                .iter()
                .copied()
                .zip(diags.iter())
                .filter(|(_, diags)| !diags.errors.is_empty())
                .collect();
            assert_eq!(blamed.len(), 1, "{order:?}: {diags:?}");
            let (name, diags) = blamed[0];
            assert_eq!(name, "c", "{order:?} {diags:?}");
            assert!(attributes(diags)[0].contains("email"));
            assert_eq!(
                diags.errors[0].detail,
                "the team plan allows 20 members and the configuration has 23 (the owner and \
                 pending invitations included); remove 3 members or move the tenant to the \
                 `enterprise` plan (100 seats)"
            );
        }
    }

    #[tokio::test]
    async fn an_escalation_through_a_role_is_reported_on_role() {
        let book = PlanBook::with_settle(Duration::ZERO);
        let snap = snapshot(
            plan("enterprise"),
            vec![member("owner@x.io", &[], UserStatus::Active, true)],
        );
        let actor = {
            let _in_force = m().enter();
            PermissionSet::parse_names(["user_and_api_management", "build_applications"]).unwrap()
        };
        let with_role = |permissions: &[&str], from_role: &[&str]| {
            let mut change = add("r@x.io", permissions);
            if let Some(after) = change.after.as_mut() {
                after
                    .permissions
                    .extend(from_role.iter().map(|p| (*p).to_owned()));
                after.from_role = from_role.iter().map(|p| (*p).to_owned()).collect();
            }
            change
        };
        let mut diags = Diagnostics::default();
        let change = with_role(&["build_applications"], &["modify_configuration"]);
        book.check_member(&mut diags, &m(), &snap, actor, change)
            .await;
        assert_eq!(attributes(&diags).len(), 1, "{diags:?}");
        assert!(attributes(&diags)[0].contains("role"), "{diags:?}");
        let mut diags = Diagnostics::default();
        let change = with_role(&["modify_tenant_settings"], &["modify_configuration"]);
        book.check_member(&mut diags, &m(), &snap, actor, change)
            .await;
        assert!(attributes(&diags)[0].contains("permissions"), "{diags:?}");
    }

    #[tokio::test]
    async fn escalation_counts_only_permissions_being_added() {
        let book = PlanBook::default();
        let snap = snapshot(
            plan("enterprise"),
            vec![
                member("owner@x.io", &[], UserStatus::Active, true),
                member(
                    "ops@x.io",
                    &["build_applications"],
                    UserStatus::Active,
                    false,
                ),
            ],
        );
        let actor = PermissionSet::parse_names(["user_and_api_management"]).unwrap();
        let mut diags = Diagnostics::default();
        book.check_member(
            &mut diags,
            &m(),
            &snap,
            actor,
            add("new@x.io", &["update_certificates"]),
        )
        .await;
        assert_eq!(diags.errors.len(), 1);
        assert!(diags.errors[0].summary.contains("privilege_escalation"));
        assert!(attributes(&diags)[0].contains("permissions"));
        // Keeping a permission the member already has is not an escalation.
        let mut keep = add("ops@x.io", &["build_applications"]);
        keep.already_granted = PermissionSet::parse_names(["build_applications"]).unwrap();
        let mut diags = Diagnostics::default();
        book.check_member(&mut diags, &m(), &snap, actor, keep)
            .await;
        assert!(diags.errors.is_empty(), "{diags:?}");
    }

    #[tokio::test]
    async fn lockout_is_reported_on_the_change_that_causes_it() {
        let book = PlanBook::default();
        let snap = snapshot(
            plan("enterprise"),
            vec![
                member("owner@x.io", &[], UserStatus::Inactive, true),
                member(
                    "last@x.io",
                    &["user_and_api_management"],
                    UserStatus::Active,
                    false,
                ),
                member("reader@x.io", &[], UserStatus::Active, false),
            ],
        );
        let mut demote = add("last@x.io", &[]);
        demote.already_granted = PermissionSet::parse_names(["user_and_api_management"]).unwrap();
        let mut diags = Diagnostics::default();
        book.check_member(&mut diags, &m(), &snap, PermissionSet::all(), demote)
            .await;
        assert_eq!(diags.errors.len(), 1, "{diags:?}");
        assert!(diags.errors[0].summary.contains("lockout"));
        assert!(attributes(&diags)[0].contains("permissions"));
        // An unrelated change is not blamed for the owner's state.
        let mut diags = Diagnostics::default();
        book.check_member(
            &mut diags,
            &m(),
            &snap,
            PermissionSet::all(),
            add("reader@x.io", &["build_applications"]),
        )
        .await;
        assert!(diags.errors.is_empty(), "{diags:?}");
    }

    #[test]
    fn sso_needs_an_active_manager_as_breakglass_and_the_enterprise_plan() {
        let book = PlanBook::default();
        let members = vec![
            member("owner@x.io", &[], UserStatus::Active, true),
            member(
                "ops@x.io",
                &["user_and_api_management"],
                UserStatus::Active,
                false,
            ),
            member(
                "dev@x.io",
                &["build_applications"],
                UserStatus::Active,
                false,
            ),
        ];
        let ops = members[1].user_id.to_string();
        let dev = members[2].user_id.to_string();
        let snap = snapshot(plan("enterprise"), members);
        let connection = "sso_00000000000000bb";
        let enforce = |breakglass, connection| PlannedSso {
            enforced: Some(true),
            breakglass,
            connection,
        };
        let mut diags = Diagnostics::default();
        let valid = enforce(Some(Some(ops.as_str())), Some(Some(connection)));
        book.check_tenant(&mut diags, &m(), &snap, None, valid);
        assert!(diags.errors.is_empty(), "{diags:?}");
        let mut diags = Diagnostics::default();
        let dev_breakglass = enforce(Some(Some(dev.as_str())), Some(Some(connection)));
        book.check_tenant(&mut diags, &m(), &snap, None, dev_breakglass);
        assert!(diags.errors[0].summary.contains("invalid_breakglass"));
        assert!(attributes(&diags)[0].contains("saml_breakglass_user_id"));
        let mut diags = Diagnostics::default();
        book.check_tenant(
            &mut diags,
            &m(),
            &snap,
            None,
            enforce(Some(None), Some(Some(connection))),
        );
        assert!(diags.errors[0].summary.contains("breakglass_required"));
        let mut diags = Diagnostics::default();
        book.check_tenant(&mut diags, &m(), &snap, Some("team"), valid);
        assert!(
            attributes(&diags)
                .iter()
                .any(|a| a.contains("sso_enforced")),
            "{diags:?}"
        );
        // Enforcing without a connection: refused at the connection.
        let mut diags = Diagnostics::default();
        book.check_tenant(
            &mut diags,
            &m(),
            &snap,
            None,
            enforce(Some(Some(ops.as_str())), Some(None)),
        );
        assert_eq!(diags.errors.len(), 1, "{diags:?}");
        assert!(diags.errors[0].summary.contains("sso_connection_required"));
        assert_eq!(
            diags.errors[0].detail,
            "enforcing SSO needs an SSO connection"
        );
        assert!(attributes(&diags)[0].contains("sso_connection_id"));
        // A connection known only after apply (a reference) will be one.
        let mut diags = Diagnostics::default();
        book.check_tenant(
            &mut diags,
            &m(),
            &snap,
            None,
            enforce(Some(Some(ops.as_str())), None),
        );
        assert!(diags.errors.is_empty(), "{diags:?}");
        // Unknown breakglass: no SSO verdict yet.
        let mut diags = Diagnostics::default();
        book.check_tenant(&mut diags, &m(), &snap, None, enforce(None, Some(None)));
        assert!(diags.errors.is_empty());
    }

    #[test]
    fn tokens_cannot_exceed_the_provider_token() {
        let actor = PermissionSet::parse_names(["build_applications"]).unwrap();
        let mut diags = Diagnostics::default();
        check_token(&mut diags, &m(), actor, &["build_applications".to_owned()]);
        assert!(diags.errors.is_empty());
        check_token(
            &mut diags,
            &m(),
            actor,
            &["modify_tenant_settings".to_owned(), "sudo".to_owned()],
        );
        let summaries: Vec<&str> = diags.errors.iter().map(|d| d.summary.as_ref()).collect();
        assert_eq!(summaries.len(), 2, "{summaries:?}");
        assert!(summaries.iter().any(|s| s.contains("unknown_permission")));
        assert!(summaries.iter().any(|s| s.contains("privilege_escalation")));
    }

    #[test]
    fn names_are_checked_without_the_api() {
        let mut diags = Diagnostics::default();
        check_permission_names(
            &mut diags,
            &m(),
            &["build_applications".to_owned()],
            Some("release_engineer"),
        );
        assert!(diags.errors.is_empty());
        check_permission_names(&mut diags, &m(), &["sudo".to_owned()], Some("god"));
        let attributes = attributes(&diags);
        assert_eq!(attributes.len(), 2);
        assert!(attributes[0].contains("permissions"));
        assert!(attributes[1].contains("role"));
    }

    #[test]
    fn configured_values_are_checked_at_their_attribute() {
        let mut diags = Diagnostics::default();
        check_email(&mut diags, &Value::Value("bo@example.com".into()));
        check_email(&mut diags, &Value::Unknown);
        check_settable_status(&mut diags, &Value::Value("inactive".into()));
        check_tenant_id(&mut diags, "ten_0123456789abcdef", "tenant_id");
        check_user_id(
            &mut diags,
            "Invalid user",
            "usr_0123456789abcdef",
            "user_id",
        );
        assert!(diags.errors.is_empty(), "{diags:?}");
        check_email(&mut diags, &Value::Value("bo".into()));
        check_settable_status(&mut diags, &Value::Value("pending".into()));
        check_tenant_id(&mut diags, "usr_0123456789abcdef", "license_tenants");
        check_user_id(
            &mut diags,
            "Invalid breakglass user",
            "bo",
            "saml_breakglass_user_id",
        );
        let attributes = attributes(&diags);
        assert_eq!(attributes.len(), 4, "{diags:?}");
        assert!(attributes[0].contains("email"));
        assert!(attributes[1].contains("status"));
        assert_eq!(
            diags.errors[1].detail,
            "`pending` is not a status you can set; use `active` or `inactive`"
        );
        assert!(attributes[2].contains("license_tenants"));
        assert_eq!(diags.errors[3].summary, "Invalid breakglass user");
        assert_eq!(diags.errors[3].detail, "`bo` is not a user id (`usr_...`)");
    }

    #[tokio::test]
    async fn every_check_uses_the_model_it_is_given() {
        let documents = documents();
        // Names: the served model's, listed when one is unknown.
        let mut diags = Diagnostics::default();
        assert!(check_permission_names(
            &mut diags,
            &documents,
            &["edit_documents".to_owned()],
            Some("editor")
        ));
        assert!(!check_permission_names(
            &mut diags,
            &documents,
            &["build_applications".to_owned()],
            None
        ));
        assert_eq!(
            diags.errors[0].detail,
            "unknown permission `build_applications`; expected one of edit_documents, \
             publish_documents, manage_templates, export_archive, modify_tenant_settings, \
             user_and_api_management, run_imports"
        );
        // Token scopes.
        let actor = {
            let _in_force = documents.enter();
            PermissionSet::parse_names(["edit_documents"]).unwrap()
        };
        let mut diags = Diagnostics::default();
        check_token(
            &mut diags,
            &documents,
            actor,
            &["edit_documents".to_owned()],
        );
        assert!(diags.errors.is_empty(), "{diags:?}");
        check_token(&mut diags, &documents, actor, &["run_imports".to_owned()]);
        assert_eq!(
            diags.errors[0].detail,
            "the provider's token lacks run_imports, and a token it creates cannot hold more than it \
             holds (edit_documents)"
        );
        // Seats and plan names: the first plan of the documents model is `starter`, 3 seats.
        let book = PlanBook::default();
        let snap = snapshot(
            Plan::FIRST,
            vec![member("owner@x.io", &[], UserStatus::Active, true)],
        );
        for n in 0..2 {
            let mut diags = Diagnostics::default();
            let change = add(&format!("u{n}@x.io"), &["edit_documents"]);
            book.check_member(
                &mut diags,
                &documents,
                &snap,
                documents.all_permissions(),
                change,
            )
            .await;
            assert!(diags.errors.is_empty(), "member {n}: {diags:?}");
        }
        let mut diags = Diagnostics::default();
        let change = add("u2@x.io", &[]);
        book.check_member(
            &mut diags,
            &documents,
            &snap,
            documents.all_permissions(),
            change,
        )
        .await;
        assert_eq!(diags.errors.len(), 1, "{diags:?}");
        assert!(
            diags.errors[0]
                .detail
                .contains("the starter plan allows 3 members"),
            "{diags:?}"
        );
        let mut diags = Diagnostics::default();
        book.check_tenant(
            &mut diags,
            &documents,
            &snap,
            Some("enterprise"),
            PlannedSso::default(),
        );
        assert_eq!(
            diags.errors[0].detail,
            "unknown plan `enterprise`; expected one of starter, business, corporate"
        );
        assert!(attributes(&diags)[0].contains("plan"));
        let mut diags = Diagnostics::default();
        book.check_tenant(
            &mut diags,
            &documents,
            &snap,
            Some("business"),
            PlannedSso::default(),
        );
        assert!(diags.errors.is_empty(), "{diags:?}");
        // Automation keys: `business` has none.
        let mut diags = Diagnostics::default();
        book.check_automation_key(&mut diags, &documents, &snap);
        assert_eq!(diags.errors.len(), 1, "{diags:?}");
    }
}

//! Bulk user lifecycle: activate, deactivate or delete many users in one request.
//!
//! Each user is judged on their own, in the order given, by the single-user command
//! ([`Command::ActivateUser`], [`Command::DeactivateUser`], [`Command::DeleteUser`]) run through
//! [`Account::apply`]: the same rules, the same refusals, one audit event per user changed. A
//! refused user changes nothing and the others proceed, so a user is judged on the account as
//! the users before them in the list left it. The request as a whole needs a company admin and
//! names 1 to [`MAX_BULK_USERS`] distinct users; otherwise nothing happens at all.
//!
//! The answer is a [`BulkReport`] with one result per user. The latest [`MAX_BULK_REPORTS`]
//! reports stay in the account and can be read again by id ([`Account::bulk_report`]).

use crate::account::{Account, Actor, Context, Refusal};
use crate::command::Command;
use crate::ids::{BulkReportId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most users one bulk request may name.
pub const MAX_BULK_USERS: usize = 100;
/// How many bulk reports the account keeps (the oldest are forgotten first).
pub const MAX_BULK_REPORTS: usize = 20;

/// What a bulk request does to each user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// inactive → active.
    Activate,
    /// active → inactive.
    Deactivate,
    /// inactive → deleted.
    Delete,
}

impl BulkAction {
    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            BulkAction::Activate => "activate",
            BulkAction::Deactivate => "deactivate",
            BulkAction::Delete => "delete",
        }
    }

    /// The single-user command that judges one user.
    fn command(self, user_id: UserId) -> Command {
        match self {
            BulkAction::Activate => Command::ActivateUser { user_id },
            BulkAction::Deactivate => Command::DeactivateUser { user_id },
            BulkAction::Delete => Command::DeleteUser { user_id },
        }
    }

    const fn done(self) -> BulkOutcome {
        match self {
            BulkAction::Activate => BulkOutcome::Activated,
            BulkAction::Deactivate => BulkOutcome::Deactivated,
            BulkAction::Delete => BulkOutcome::Deleted,
        }
    }
}

/// What happened to one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    /// The user is now active.
    Activated,
    /// The user is now inactive.
    Deactivated,
    /// The user is gone.
    Deleted,
    /// A rule refused it; nothing changed for this user.
    Refused,
}

/// One user's line of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    /// The user.
    pub user_id: UserId,
    /// What happened.
    pub outcome: BulkOutcome,
    /// The refusal's stable code, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The refusal's message, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Totals of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkCounts {
    /// Users named.
    pub requested: usize,
    /// Users changed.
    pub changed: usize,
    /// Users refused.
    pub refused: usize,
}

/// The per-user report of one bulk request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkReport {
    /// Its id, to read it again later.
    pub report_id: BulkReportId,
    /// What was asked.
    pub action: BulkAction,
    /// Who asked.
    pub requested_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// One line per user, in the order given.
    pub results: Vec<BulkResult>,
    /// Totals.
    pub counts: BulkCounts,
}

impl Account {
    /// Runs a bulk request: see the [module documentation](self).
    pub(crate) fn apply_bulk(
        &mut self,
        actor: &Actor,
        action: BulkAction,
        user_ids: Vec<UserId>,
        context: &mut Context<'_>,
    ) -> Result<BulkReport, Refusal> {
        self.require_company_admin(actor, context.now)?;
        if user_ids.is_empty() || user_ids.len() > MAX_BULK_USERS {
            return Err(Refusal::OutOfRange("a bulk request names 1 to 100 users"));
        }
        let distinct: BTreeSet<&UserId> = user_ids.iter().collect();
        if distinct.len() != user_ids.len() {
            return Err(Refusal::OutOfRange("a bulk request names each user once"));
        }
        let mut counts = BulkCounts {
            requested: user_ids.len(),
            ..BulkCounts::default()
        };
        let mut results = Vec::with_capacity(user_ids.len());
        for user_id in user_ids {
            let result = match self.apply(actor, action.command(user_id.clone()), context) {
                Ok(_) => {
                    counts.changed += 1;
                    BulkResult {
                        user_id,
                        outcome: action.done(),
                        code: None,
                        message: None,
                    }
                }
                Err(refusal) => {
                    counts.refused += 1;
                    BulkResult {
                        user_id,
                        outcome: BulkOutcome::Refused,
                        code: Some(refusal.code().to_owned()),
                        message: Some(refusal.to_string()),
                    }
                }
            };
            results.push(result);
        }
        let report = BulkReport {
            report_id: BulkReportId::generate(context.random),
            action,
            requested_by: actor.user_id.clone(),
            created_at: context.now,
            results,
            counts,
        };
        self.keep_bulk_report(report.clone());
        Ok(report)
    }

    /// A kept bulk report, for whoever may read the user directory.
    pub fn bulk_report(
        &self,
        actor: &Actor,
        report_id: &BulkReportId,
        now: Timestamp,
    ) -> Result<&BulkReport, Refusal> {
        self.authorize_directory(actor, now)?;
        self.bulk_reports()
            .find(|report| report.report_id == *report_id)
            .ok_or_else(|| Refusal::UnknownBulkReport(report_id.clone()))
    }
}

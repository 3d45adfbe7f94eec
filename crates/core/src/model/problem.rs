//! Why a model document was refused: every problem at once, each with a stable code and the
//! JSON path it is about.

use std::fmt;
use thiserror::Error;

/// One problem of a model document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelProblem {
    /// Where in the document, as a JSON Pointer (`/operations/3/requires/0`); empty for the
    /// whole document.
    pub path: String,
    /// What is wrong.
    pub kind: ModelProblemKind,
}

/// What is wrong with a model document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelProblemKind {
    /// Not JSON, or not the document's shape (a missing or unknown field, a wrong type).
    #[error("{0}")]
    Syntax(String),
    /// A `version` this engine does not read.
    #[error("unsupported model version {0} (this engine reads version {version})", version = super::MODEL_VERSION)]
    UnsupportedVersion(u32),
    /// A name that is not lowercase letters, digits and `_`, starting with a letter, at most
    /// [`MAX_NAME_LEN`](super::MAX_NAME_LEN) characters.
    #[error(
        "`{0}` is not a valid name (lowercase letters, digits and `_`, starting with a letter, at most 64 characters)"
    )]
    InvalidName(String),
    /// A description longer than [`MAX_DESCRIPTION_LEN`](super::MAX_DESCRIPTION_LEN).
    #[error("description is longer than {} characters", super::MAX_DESCRIPTION_LEN)]
    DescriptionTooLong,
    /// The same name twice in one list.
    #[error("`{0}` is declared twice")]
    DuplicateName(String),
    /// More entries than the list may hold.
    #[error("more than {limit} {what}")]
    TooMany {
        /// What the list holds.
        what: &'static str,
        /// The most it may hold.
        limit: usize,
    },
    /// A permission that is not declared (nor built in).
    #[error("unknown permission `{0}`")]
    UnknownPermission(String),
    /// A feature that is not declared (nor built in).
    #[error("unknown feature `{0}`")]
    UnknownFeature(String),
    /// No plans at all.
    #[error("the model declares no plans")]
    NoPlans,
    /// A plan without a seat limit.
    #[error("plan has no seat limit (`seats`)")]
    MissingSeatLimit,
    /// A seat limit outside 1 to [`MAX_SEATS`](super::MAX_SEATS).
    #[error("seat limit {0} is outside 1 to {max}", max = super::MAX_SEATS)]
    InvalidSeatLimit(u64),
    /// A plan with fewer seats than the plan before it: plans are listed in upgrade order.
    #[error(
        "plan `{plan}` has fewer seats than `{previous}` before it; list plans in upgrade order"
    )]
    PlansOutOfOrder {
        /// The plan.
        plan: String,
        /// The plan before it.
        previous: String,
    },
    /// An operation needing a feature that no plan includes: no one could ever perform it.
    #[error("operation `{operation}` needs feature `{feature}`, which no plan includes")]
    UnreachableOperation {
        /// The operation.
        operation: String,
        /// The feature.
        feature: String,
    },
    /// Automation keys may perform the operation, but no plan includes automation keys.
    #[error("automation keys may perform `{0}`, but no plan includes `automation_keys`")]
    UnreachableForAutomationKeys(String),
    /// No operations at all.
    #[error("the model declares no operations")]
    NoOperations,
}

impl ModelProblemKind {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            ModelProblemKind::Syntax(_) => "syntax",
            ModelProblemKind::UnsupportedVersion(_) => "unsupported_version",
            ModelProblemKind::InvalidName(_) => "invalid_name",
            ModelProblemKind::DescriptionTooLong => "description_too_long",
            ModelProblemKind::DuplicateName(_) => "duplicate_name",
            ModelProblemKind::TooMany { .. } => "too_many",
            ModelProblemKind::UnknownPermission(_) => "unknown_permission",
            ModelProblemKind::UnknownFeature(_) => "unknown_feature",
            ModelProblemKind::NoPlans => "no_plans",
            ModelProblemKind::MissingSeatLimit => "missing_seat_limit",
            ModelProblemKind::InvalidSeatLimit(_) => "invalid_seat_limit",
            ModelProblemKind::PlansOutOfOrder { .. } => "plans_out_of_order",
            ModelProblemKind::UnreachableOperation { .. } => "unreachable_operation",
            ModelProblemKind::UnreachableForAutomationKeys(_) => "unreachable_for_automation_keys",
            ModelProblemKind::NoOperations => "no_operations",
        }
    }
}

impl ModelProblem {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for ModelProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{} ({})", self.kind, self.code())
        } else {
            write!(f, "{}: {} ({})", self.path, self.kind, self.code())
        }
    }
}

/// A refused model, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid product model: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ModelError {
    /// Every problem, in document order.
    pub problems: Vec<ModelProblem>,
}

//! The one place where engine refusals and bad inputs become the `{ code, message, path? }`
//! problems JavaScript sees. Messages are the engine's public text; nothing internal leaks.

use crate::types::{Failure, False, Problem, PublicAnswer};
use portcullis_core::authz::UnknownOperation;
use portcullis_core::company::{UnknownAccountOperation, UnknownCompanyRole};
use portcullis_core::credential::Verification;
use portcullis_core::secret::HashingKeyError;
use portcullis_core::session::SessionVerification;
use std::fmt::Display;

impl Problem {
    /// A problem with its code, public message and, if known, where it is.
    pub fn new(code: &str, message: impl Display, path: Option<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_string(),
            path,
            public: None,
        }
    }

    /// A name that is not a company role, at `path` (e.g. `roles[2]`).
    pub fn company_role(error: &UnknownCompanyRole, path: String) -> Self {
        Self::new("unknown_company_role", error, Some(path))
    }

    /// A name that is not an account operation.
    pub fn account_operation(error: &UnknownAccountOperation) -> Self {
        Self::new(
            "unknown_account_operation",
            error,
            Some("operation".to_owned()),
        )
    }
}

impl Failure {
    /// A failure with a single problem.
    pub fn one(code: &str, message: impl Display, path: Option<&str>) -> Self {
        Self::from_problems(vec![Problem::new(code, message, path.map(str::to_owned))])
    }

    /// A failure listing `errors`.
    pub fn from_problems(errors: Vec<Problem>) -> Self {
        Self { ok: False, errors }
    }

    /// A refused verification: the engine's precise code and message, for the caller's own
    /// accounting, and the public answer to give outside.
    pub fn refused(verification: &Verification) -> Self {
        Self::refusal(
            (verification.code(), verification.message()),
            (verification.public_code(), verification.public_message()),
        )
    }

    /// A refused session, as [`Failure::refused`] for credentials: the precise reason and the
    /// public answer (`invalid_credentials`, `malformed_credential` or `tenant_not_found`).
    pub fn refused_session(verification: &SessionVerification) -> Self {
        Self::refusal(
            (verification.code(), verification.message()),
            (verification.public_code(), verification.public_message()),
        )
    }

    /// One problem with its precise `(code, message)` and the `public` answer.
    fn refusal(precise: (&str, &str), public: (&str, &str)) -> Self {
        let mut problem = Problem::new(precise.0, precise.1, None);
        problem.public = Some(PublicAnswer {
            code: public.0.to_owned(),
            message: public.1.to_owned(),
        });
        Self::from_problems(vec![problem])
    }

    /// A hashing key that is not at least 32 bytes of base64.
    pub fn hashing_key(error: &HashingKeyError) -> Self {
        Self::one("invalid_hashing_key", error, Some("hashingKey"))
    }

    /// An operation name outside the catalogue.
    pub fn operation(error: &UnknownOperation) -> Self {
        Self::one("unknown_operation", error, Some("operation"))
    }

    /// An argument that is not of the documented shape.
    pub fn input(argument: &str, error: impl Display) -> Self {
        Self::one("invalid_input", error, Some(argument))
    }

    /// A time that is not a whole number of seconds since the Unix epoch.
    pub fn time() -> Self {
        Self::one(
            "invalid_time",
            "`now` must be a non-negative number of seconds since the Unix epoch, no later than 9999-12-31T23:59:59Z",
            Some("now"),
        )
    }

    /// A result that could not be handed to JavaScript (a number beyond 2^53, say).
    pub fn unrepresentable(error: impl Display) -> Self {
        Self::one(
            "unrepresentable_result",
            format!("the result cannot be represented in JavaScript: {error}"),
            None,
        )
    }
}

//! The one place where engine refusals and bad inputs become the `{ code, message, path? }`
//! problems JavaScript sees. Messages are the engine's public text; nothing internal leaks.

use crate::types::{Failure, False, Problem, PublicAnswer};
use portcullis_core::account::Refusal;
use portcullis_core::authz::UnknownOperation;
use portcullis_core::company::{UnknownAccountOperation, UnknownCompanyRole};
use portcullis_core::credential::Verification;
use portcullis_core::model::{ModelError, ModelProblem};
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

    /// A problem of a model document: the engine's code and message, and where in the document
    /// in the package's path style (`operations[3].requires[0]`; none for the whole document).
    pub fn model(problem: &ModelProblem) -> Self {
        let path = document_path(&problem.path);
        Self::new(
            problem.code(),
            &problem.kind,
            (!path.is_empty()).then_some(path),
        )
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

    /// A change the engine's rules refuse: its code and message, as the server answers them.
    pub fn rule(refusal: &Refusal) -> Self {
        Self::one(refusal.code(), refusal, None)
    }

    /// A refused model document, with every problem found.
    pub fn model(error: &ModelError) -> Self {
        Self::from_problems(error.problems.iter().map(Problem::model).collect())
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

    /// A client address that is not an IPv4 or IPv6 address.
    pub fn client_ip() -> Self {
        Self::one(
            "invalid_client_ip",
            "`clientIp` must be an IPv4 or IPv6 address (e.g. the CF-Connecting-IP header), or null when unknown",
            Some("clientIp"),
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

/// A JSON Pointer into a document (`/operations/3/requires/0`) in the package's path style
/// (`operations[3].requires[0]`), as `validateConfig` writes its paths.
fn document_path(pointer: &str) -> String {
    let mut path = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|byte| byte.is_ascii_digit()) {
            path.push('[');
            path.push_str(&token);
            path.push(']');
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&token);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::document_path;

    #[test]
    fn pointers_become_package_paths() {
        assert_eq!(document_path(""), "");
        assert_eq!(document_path("/version"), "version");
        assert_eq!(
            document_path("/operations/3/requires/0"),
            "operations[3].requires[0]"
        );
        assert_eq!(
            document_path("/automation_keys/managed_with"),
            "automation_keys.managed_with"
        );
        assert_eq!(document_path("/a~1b/c~0d"), "a/b.c~d");
    }
}

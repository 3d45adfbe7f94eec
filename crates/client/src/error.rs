//! Why a call failed, as typed values: no answer, a problem document, or an answer that is not
//! what the API documents.

use reqwest::StatusCode;
use serde::Deserialize;
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The endpoint is not an `http://` or `https://` URL a path can be added to.
    #[error("`{endpoint}` is not an API endpoint: {reason}")]
    InvalidEndpoint {
        /// What was given.
        endpoint: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// No HTTP answer at all.
    #[error("cannot reach the Portcullis API at `{endpoint}`: {reason}")]
    Unreachable {
        /// Where we tried.
        endpoint: String,
        /// The transport's reason.
        reason: String,
    },
    /// An RFC 9457 problem answer.
    #[error("{detail}")]
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem's stable code.
        code: String,
        /// The problem's detail.
        detail: String,
    },
    /// An answer that is not what the API documents.
    #[error("unexpected response from the Portcullis API ({status}): {reason}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// A request body could not be encoded (a name the served model lacks).
    #[error("cannot encode the request: {reason}")]
    Encode {
        /// Why.
        reason: String,
    },
    /// `GET /v1/model` answered with a document this client cannot use.
    #[error("the product model served at `{endpoint}/v1/model` is invalid: {reason}")]
    InvalidModel {
        /// Where it was read.
        endpoint: String,
        /// Every problem found, or why it is not a model document at all.
        reason: String,
    },
}

impl ApiError {
    /// Whether the API said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Problem { status: 404, .. })
    }

    /// The problem code, if the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Problem { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Problem { status, .. } | ApiError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// "Not found" as an answer rather than a failure, for the callers that expect it.
pub trait NotFound<T> {
    /// `Ok(None)` when the API said 404: a read of something deleted elsewhere.
    fn found(self) -> Result<Option<T>, ApiError>;
}

impl<T> NotFound<T> for Result<T, ApiError> {
    fn found(self) -> Result<Option<T>, ApiError> {
        match self {
            Ok(found) => Ok(Some(found)),
            Err(failure) if failure.is_not_found() => Ok(None),
            Err(failure) => Err(failure),
        }
    }
}

#[derive(Deserialize)]
struct ProblemBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    title: String,
}

/// A failed answer as an error: its problem document, or [`ApiError::Unexpected`].
pub(crate) fn problem(status: StatusCode, bytes: &[u8]) -> ApiError {
    match serde_json::from_slice::<ProblemBody>(bytes) {
        Ok(body) if !body.code.is_empty() => ApiError::Problem {
            status: status.as_u16(),
            code: body.code,
            detail: if body.detail.is_empty() {
                body.title
            } else {
                body.detail
            },
        },
        _ => ApiError::Unexpected {
            status: status.as_u16(),
            reason: format!(
                "{} without a problem document",
                status.canonical_reason().unwrap_or("error")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_become_typed_errors() {
        let body = br#"{"type":"https://portcullis.dev/problems/lockout","title":"Conflict",
            "status":409,"code":"lockout","detail":"the tenant would be locked out"}"#;
        let error = problem(StatusCode::CONFLICT, body);
        assert_eq!(error.code(), Some("lockout"));
        assert_eq!(error.status(), Some(409));
        assert_eq!(error.to_string(), "the tenant would be locked out");
        assert!(!error.is_not_found());
        let missing = problem(
            StatusCode::NOT_FOUND,
            br#"{"code":"user_not_found","title":"Not Found"}"#,
        );
        assert!(missing.is_not_found());
        assert_eq!(missing.to_string(), "Not Found");
        assert!(matches!(Err::<(), _>(missing).found(), Ok(None)));
        let html = problem(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert!(matches!(html, ApiError::Unexpected { status: 502, .. }));
        assert!(html.code().is_none());
        assert!(Err::<(), _>(html).found().is_err());
    }
}

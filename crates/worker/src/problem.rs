//! Every error the API returns, as an RFC 9457 problem document with a stable `code`: the one
//! place where core refusals, verification outcomes and request mistakes become HTTP statuses.
//! Public text never carries internal detail.

use crate::api::{BodyError, RouteError};
use portcullis_core::account::{PlanBlocker, Refusal, RefusalClass};
use portcullis_core::authz::Reason;
use portcullis_core::credential::Verification;
use portcullis_core::gateway::RouteMatch;
use portcullis_core::session::SessionVerification;
use portcullis_core::terms::RateLimit;
use serde::Serialize;

/// An `application/problem+json` body plus its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the type.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// A stable machine-readable code, e.g. `lockout`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub detail: String,
    /// Everything that blocks a plan change (`plan_change_blocked` only), each with its code,
    /// its figures and its sentence of `detail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blockers: Option<Vec<Blocker>>,
    /// Methods the resource allows (405 only).
    #[serde(skip)]
    pub allow: Option<String>,
    /// Seconds before a retry can succeed (429 only).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// One blocker of a refused plan change: the engine's [`PlanBlocker`] (`code` and figures)
/// and its sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// What blocks it.
    #[serde(flatten)]
    pub blocker: PlanBlocker,
    /// The sentence `detail` lists it with.
    pub message: String,
}

/// The content type of every error.
pub const CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    /// A problem with `status`, `code` and `detail`.
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://portcullis.dev/problems/{code}"),
            title: title(status),
            status,
            code,
            detail: detail.into(),
            blockers: None,
            allow: None,
            retry_after: None,
        }
    }

    /// 405 with the methods that are allowed.
    pub fn method_not_allowed(allowed: String) -> Self {
        let mut problem = Problem::new(
            405,
            "method_not_allowed",
            format!("this resource allows {allowed}"),
        );
        problem.allow = Some(allowed);
        problem
    }

    /// 429: too many failed verifications from this client or for this key id.
    pub fn too_many_failures(retry_after: u64) -> Self {
        let mut problem = Problem::new(
            429,
            "too_many_failed_attempts",
            format!("too many requests with invalid credentials; retry in {retry_after} seconds"),
        );
        problem.retry_after = Some(retry_after);
        problem
    }

    /// 429: the credential's own rate limit is used up for this period (see
    /// `portcullis_core::terms::RateLimit`); retry after the period.
    pub fn rate_limited(limit: RateLimit) -> Self {
        let retry_after = u64::from(limit.retry_after_seconds());
        let mut problem = Problem::new(
            429,
            RateLimit::REFUSAL_CODE,
            format!(
                "this credential's rate limit ({limit}) is used up; retry in {retry_after} seconds"
            ),
        );
        problem.retry_after = Some(retry_after);
        problem
    }

    /// 502: the protected origin could not be reached.
    pub fn origin_unreachable() -> Self {
        Problem::new(
            502,
            "origin_unreachable",
            "the protected service could not be reached; retry later",
        )
    }

    /// 401 with the `WWW-Authenticate` challenge the adapter adds.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(401, code, detail)
    }

    /// A failure of the platform itself (storage unreachable...): 503, with no detail.
    pub fn unavailable() -> Self {
        Self::new(
            503,
            "service_unavailable",
            "the service could not complete the request; retry later",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

impl From<&Refusal> for Problem {
    fn from(refusal: &Refusal) -> Self {
        let status = match refusal.class() {
            RefusalClass::Invalid => 400,
            RefusalClass::Forbidden => 403,
            RefusalClass::NotFound => 404,
            RefusalClass::Unauthenticated => 401,
            RefusalClass::Conflict => 409,
        };
        let mut problem = Problem::new(status, refusal.code(), refusal.to_string());
        if let Refusal::PlanChangeBlocked { blockers, .. } = refusal {
            problem.blockers = Some(
                blockers
                    .iter()
                    .map(|blocker| Blocker {
                        blocker: blocker.clone(),
                        message: blocker.to_string(),
                    })
                    .collect(),
            );
        }
        problem
    }
}

impl From<&Verification> for Problem {
    /// The public answer only: an unknown key id, a wrong secret and every refused state read
    /// alike (the precise reason is for the rate limiters, see `guard::charge`).
    fn from(verification: &Verification) -> Self {
        match verification {
            // The right secret, in a tenant that now requires SSO or from an address outside
            // the credential's IP rules: forbidden, not unknown.
            Verification::SsoRequired | Verification::IpNotAllowed => Problem::new(
                403,
                verification.public_code(),
                verification.public_message(),
            ),
            refused => Problem::unauthorized(refused.public_code(), refused.public_message()),
        }
    }
}

impl From<&SessionVerification> for Problem {
    /// As for tokens: every refused session reads alike (401 `invalid_credentials`), and a
    /// tenant the user is not in reads as one that does not exist (404 `tenant_not_found`).
    fn from(verification: &SessionVerification) -> Self {
        match verification {
            SessionVerification::SsoRequired => Problem::new(
                403,
                verification.public_code(),
                verification.public_message(),
            ),
            SessionVerification::NotMember => Problem::new(
                404,
                verification.public_code(),
                verification.public_message(),
            ),
            refused => Problem::unauthorized(refused.public_code(), refused.public_message()),
        }
    }
}

impl From<RouteError> for Problem {
    fn from(error: RouteError) -> Self {
        match error {
            RouteError::NotFound => Problem::new(404, "not_found", "no such resource"),
            RouteError::MethodNotAllowed(allowed) => Problem::method_not_allowed(allowed.into()),
            RouteError::InvalidQuery(error) => Problem::new(400, error.code(), error.to_string()),
            RouteError::InvalidList(error) => Problem::new(400, error.code(), error.to_string()),
        }
    }
}

impl From<BodyError> for Problem {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge => Problem::new(
                413,
                "body_too_large",
                format!(
                    "request bodies are limited to {} bytes",
                    crate::api::MAX_BODY_BYTES
                ),
            ),
            BodyError::Invalid(reason) => Problem::new(400, "invalid_body", reason),
        }
    }
}

/// A denied authorization decision for a management call.
pub fn denied(reason: Reason) -> Problem {
    Problem::new(403, reason.code(), reason.to_string())
}

impl From<&RouteMatch<'_, '_>> for Problem {
    /// A gateway request the policy does not allow through (default deny).
    fn from(found: &RouteMatch<'_, '_>) -> Self {
        match found {
            RouteMatch::MethodNotAllowed(methods) => Problem::method_not_allowed(
                methods
                    .iter()
                    .map(|method| method.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            RouteMatch::UnsafeParameter { parameter, problem } => Problem::new(
                400,
                "unsafe_path_parameter",
                format!(
                    "path parameter `{parameter}` {problem}, which the origin could read as \
                     another path; the request was not forwarded"
                ),
            ),
            RouteMatch::MethodNotImplemented => Problem::new(
                501,
                "method_not_implemented",
                "the gateway does not implement this method (methods are case-sensitive)",
            ),
            RouteMatch::NotFound | RouteMatch::Matched { .. } => RouteError::NotFound.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::TenantId;

    #[test]
    fn a_blocked_plan_change_lists_every_blocker() {
        let refusal = Refusal::PlanChangeBlocked {
            plan: "free".parse().unwrap(),
            blockers: vec![
                PlanBlocker::TooManyMembers {
                    members: 2,
                    limit: 1,
                },
                PlanBlocker::AutomationKeysInUse { keys: 1 },
            ],
        };
        let json: serde_json::Value =
            serde_json::from_str(&Problem::from(&refusal).body()).unwrap();
        assert_eq!(json["code"], "plan_change_blocked");
        assert_eq!(
            json["blockers"],
            serde_json::json!([
                { "code": "too_many_members", "members": 2, "limit": 1,
                  "message": "the tenant has 2 members and the plan allows 1" },
                { "code": "automation_keys_in_use", "keys": 1,
                  "message": "the tenant has 1 automation keys, which the plan does not include" },
            ])
        );
        assert!(
            Problem::from(&Refusal::NotCompanyAdmin)
                .body()
                .find("blockers")
                .is_none()
        );
    }

    #[test]
    fn refusals_map_to_their_class_status() {
        let tenant: TenantId = "ten_00000000000000aa".parse().unwrap();
        let lockout = Problem::from(&Refusal::Lockout(tenant));
        assert_eq!((lockout.status, lockout.code), (409, "lockout"));
        let forbidden = Problem::from(&Refusal::NotCompanyAdmin);
        assert_eq!(forbidden.status, 403);
        let invalid = Problem::from(&Refusal::ExpiryInPast);
        assert_eq!(invalid.status, 400);
    }

    #[test]
    fn verification_failures_are_401_without_detail() {
        let problem = Problem::from(&Verification::WrongSecret);
        assert_eq!(problem.status, 401);
        assert_eq!(problem.detail, "credential is not valid");
        let json: serde_json::Value = serde_json::from_str(&problem.body()).unwrap();
        assert_eq!(json["code"], "invalid_credentials");
        assert_eq!(
            json["type"],
            "https://portcullis.dev/problems/invalid_credentials"
        );
    }

    #[test]
    fn unknown_key_and_wrong_secret_answer_alike() {
        let unknown = Problem::from(&Verification::UnknownKey);
        for refused in [
            Verification::WrongSecret,
            Verification::Expired,
            Verification::NotYetValid,
            Verification::Disabled,
            Verification::OwnerInactive,
            Verification::OwnerPending,
        ] {
            assert_eq!(Problem::from(&refused), unknown, "{refused:?}");
        }
    }

    #[test]
    fn a_tenant_the_caller_is_not_in_answers_like_an_unknown_one() {
        let tenant: TenantId = "ten_00000000000000aa".parse().unwrap();
        assert_eq!(
            Problem::from(&Refusal::ActorNotMember(tenant.clone())),
            Problem::from(&Refusal::UnknownTenant(tenant))
        );
    }

    #[test]
    fn gateway_refusals_carry_their_headers() {
        let limited = Problem::too_many_failures(42);
        assert_eq!(
            (limited.status, limited.code),
            (429, "too_many_failed_attempts")
        );
        assert_eq!(limited.retry_after, Some(42));
        let wrong_method = Problem::from(&RouteMatch::MethodNotAllowed(vec![
            portcullis_core::gateway::Method::Get,
            portcullis_core::gateway::Method::Head,
        ]));
        assert_eq!(wrong_method.status, 405);
        assert_eq!(wrong_method.allow.as_deref(), Some("GET, HEAD"));
        let unknown = Problem::from(&RouteMatch::NotFound);
        assert_eq!((unknown.status, unknown.code), (404, "not_found"));
        let unsafe_parameter = Problem::from(&RouteMatch::UnsafeParameter {
            parameter: "build".into(),
            problem: portcullis_core::gateway::ParameterProblem::EncodedSeparator,
        });
        assert_eq!(
            (unsafe_parameter.status, unsafe_parameter.code),
            (400, "unsafe_path_parameter")
        );
        assert!(
            unsafe_parameter
                .detail
                .starts_with("path parameter `build` holds an encoded `/` or `\\`"),
            "{}",
            unsafe_parameter.detail
        );
        let unknown_method = Problem::from(&RouteMatch::MethodNotImplemented);
        assert_eq!(
            (
                unknown_method.status,
                unknown_method.title,
                unknown_method.code
            ),
            (501, "Not Implemented", "method_not_implemented")
        );
        assert_eq!(unknown_method.allow, None);
    }
}

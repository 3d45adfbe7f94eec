//! Every error the provider reports, mapped to Terraform diagnostics in this one module.
//!
//! Diagnostics are built field by field rather than with `Diagnostic::new`, which appends a
//! Rust backtrace to the detail whenever `RUST_BACKTRACE` is set in the user's environment.

use crate::client::ApiError;
use portcullis_core::desired::Problem;
use portcullis_core::terms::TermsError;
use std::borrow::Cow;
use tf_provider::{AttributePath, Diagnostic, Diagnostics};

/// Adds an error about `attribute` (or the whole resource when `None`).
pub fn error(
    diags: &mut Diagnostics,
    summary: impl Into<Cow<'static, str>>,
    detail: impl Into<Cow<'static, str>>,
    attribute: Option<&'static str>,
) {
    error_at(
        diags,
        summary,
        detail,
        attribute.map_or_else(AttributePath::root, AttributePath::new),
    );
}

/// Adds an error about the attribute at `path` (e.g. one inside a nested object).
pub fn error_at(
    diags: &mut Diagnostics,
    summary: impl Into<Cow<'static, str>>,
    detail: impl Into<Cow<'static, str>>,
    path: AttributePath,
) {
    diags.add_error(Diagnostic {
        summary: summary.into(),
        detail: detail.into(),
        attribute: path,
    });
}

/// Adds a warning about the whole resource.
pub fn warning(
    diags: &mut Diagnostics,
    summary: impl Into<Cow<'static, str>>,
    detail: impl Into<Cow<'static, str>>,
) {
    diags.add_warning(Diagnostic {
        summary: summary.into(),
        detail: detail.into(),
        attribute: AttributePath::root(),
    });
}

/// The summary of a failed API call made while doing `action`.
fn api_summary(action: &str, failure: &ApiError) -> String {
    match failure {
        ApiError::Problem { status, code, .. } => {
            format!("Portcullis refused to {action} ({status} {code})")
        }
        ApiError::Unreachable { .. } => format!("Could not {action}: the API is unreachable"),
        ApiError::InvalidModel { .. } => {
            format!("Could not {action}: the served product model is invalid")
        }
        ApiError::InvalidEndpoint { .. } => format!("Could not {action}: the endpoint is invalid"),
        _ => format!("Could not {action}"),
    }
}

/// Reports a failed API call made while doing `action` (e.g. "create the member").
pub fn api(
    diags: &mut Diagnostics,
    action: &str,
    failure: &ApiError,
    attribute: Option<&'static str>,
) {
    error(
        diags,
        api_summary(action, failure),
        failure.to_string(),
        attribute,
    );
}

/// The value of an API call made while doing `action`; `None` once its failure is reported
/// as [`api`] reports it.
pub fn api_ok<T>(
    diags: &mut Diagnostics,
    action: &str,
    result: Result<T, ApiError>,
    attribute: Option<&'static str>,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(failure) => {
            api(diags, action, &failure, attribute);
            None
        }
    }
}

/// Reports a failed create as [`api`] does; when the API refuses with `exists_code` because
/// the object exists already, the detail also says how to import the existing `object` by
/// `import_id` instead.
pub fn create_failed(
    diags: &mut Diagnostics,
    action: &str,
    failure: &ApiError,
    attribute: Option<&'static str>,
    exists_code: &str,
    object: &str,
    import_id: &str,
) {
    let detail = if failure.code() == Some(exists_code) {
        format!(
            "{failure}; to manage an existing {object}, import it: terraform import <address> {import_id}"
        )
    } else {
        failure.to_string()
    };
    error(diags, api_summary(action, failure), detail, attribute);
}

/// Reports a rule the planned configuration breaks, found by `portcullis-core` at plan time.
pub fn problem(diags: &mut Diagnostics, problem: &Problem, attribute: Option<&'static str>) {
    error(
        diags,
        format!("Invalid configuration ({})", problem.code),
        problem.message.clone(),
        attribute,
    );
}

/// Reports credential terms the core refuses (`Terms::check`, a roll's overlap), on the
/// attribute at fault.
pub fn terms(diags: &mut Diagnostics, failure: &TermsError) {
    let attribute = match failure {
        TermsError::ExpiryInPast => Some("expires_at"),
        TermsError::EmptyWindow => Some("not_before"),
        TermsError::TooManyRanges { list, .. } => Some(*list),
        TermsError::OverlapTooLong(_) => Some("rotation_overlap_seconds"),
        TermsError::RateLimitNotOffered(_) => Some("rate_limit"),
    };
    error(
        diags,
        format!("Invalid configuration ({})", failure.code()),
        failure.to_string(),
        attribute,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_name_the_action_status_and_code() {
        let mut diags = Diagnostics::default();
        let failure = ApiError::Problem {
            status: 409,
            code: "plan_limit".into(),
            detail: "the team plan allows 20 members".into(),
        };
        api(&mut diags, "add the member", &failure, Some("email"));
        let [diag] = diags.errors.as_slice() else {
            panic!("one error expected: {diags:?}");
        };
        assert_eq!(
            diag.summary,
            "Portcullis refused to add the member (409 plan_limit)"
        );
        assert_eq!(diag.detail, "the team plan allows 20 members");
        assert_eq!(diag.attribute, AttributePath::new("email"));
    }

    #[test]
    fn a_create_refused_because_the_object_exists_says_how_to_import_it() {
        let mut diags = Diagnostics::default();
        let refused = |code: &str, detail: &str| ApiError::Problem {
            status: 409,
            code: code.into(),
            detail: detail.into(),
        };
        for failure in [
            refused("already_member", "`bo@x.io` is a member already"),
            refused("plan_limit", "the team plan allows 20 members"),
        ] {
            create_failed(
                &mut diags,
                "add the member",
                &failure,
                Some("email"),
                "already_member",
                "member",
                "bo@x.io",
            );
        }
        assert_eq!(
            diags.errors[0].summary,
            "Portcullis refused to add the member (409 already_member)"
        );
        assert_eq!(
            diags.errors[0].detail,
            "`bo@x.io` is a member already; to manage an existing member, import it: \
             terraform import <address> bo@x.io"
        );
        assert_eq!(diags.errors[1].detail, "the team plan allows 20 members");
        assert_eq!(diags.errors[1].attribute, AttributePath::new("email"));
    }

    #[test]
    fn diagnostics_never_carry_a_backtrace() {
        let mut diags = Diagnostics::default();
        error(&mut diags, "summary", "detail", None);
        assert_eq!(diags.errors[0].detail, "detail");
        assert_eq!(diags.errors[0].attribute, AttributePath::root());
    }
}

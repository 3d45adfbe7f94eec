//! Every error the provider reports, mapped to Terraform diagnostics in this one module.
//!
//! Diagnostics are built field by field rather than with `Diagnostic::new`, which appends a
//! Rust backtrace to the detail whenever `RUST_BACKTRACE` is set in the user's environment.

use crate::client::ApiError;
use portcullis_core::desired::Problem;
use std::borrow::Cow;
use tf_provider::{AttributePath, Diagnostic, Diagnostics};

/// Adds an error about `attribute` (or the whole resource when `None`).
pub fn error(
    diags: &mut Diagnostics,
    summary: impl Into<Cow<'static, str>>,
    detail: impl Into<Cow<'static, str>>,
    attribute: Option<&'static str>,
) {
    diags.add_error(Diagnostic {
        summary: summary.into(),
        detail: detail.into(),
        attribute: attribute.map_or_else(AttributePath::root, AttributePath::new),
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

/// Reports a failed API call made while doing `action` (e.g. "create the member").
pub fn api(
    diags: &mut Diagnostics,
    action: &str,
    failure: &ApiError,
    attribute: Option<&'static str>,
) {
    let summary = match failure {
        ApiError::Problem { status, code, .. } => {
            format!("Portcullis refused to {action} ({status} {code})")
        }
        ApiError::Unreachable { .. } => format!("Could not {action}: the API is unreachable"),
        ApiError::Unexpected { .. } => format!("Could not {action}"),
    };
    error(diags, summary, failure.to_string(), attribute);
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
    fn diagnostics_never_carry_a_backtrace() {
        let mut diags = Diagnostics::default();
        error(&mut diags, "summary", "detail", None);
        assert_eq!(diags.errors[0].detail, "detail");
        assert_eq!(diags.errors[0].attribute, AttributePath::root());
    }
}

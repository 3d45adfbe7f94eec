//! The provider's resources, one module each.

mod account_user;
mod api_token;
mod automation_key;
mod credential;
mod primary_contact;
mod sso_connection;
mod tenant_settings;
mod user;

use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::validation::Snapshot;
use crate::values::known;
use portcullis_core::KeyId;
use portcullis_core::credential::{API_TOKEN_ID_PREFIX, AUTOMATION_KEY_PREFIX, CredentialKind};
use portcullis_core::user::UserStatus;
use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{Diagnostics, DynamicResource};

/// Private state and provider meta: none.
pub type Empty = ValueEmpty;

/// Every resource, by type name without the `portcullis_` prefix (the framework adds it).
pub fn all(shared: &Arc<Shared>) -> HashMap<String, Box<dyn DynamicResource>> {
    let mut resources: HashMap<String, Box<dyn DynamicResource>> = HashMap::new();
    resources.insert(
        "user".into(),
        Box::new(user::UserResource::new(Arc::clone(shared))),
    );
    resources.insert(
        "api_token".into(),
        Box::new(api_token::ApiTokenResource::new(Arc::clone(shared))),
    );
    resources.insert(
        "automation_key".into(),
        Box::new(automation_key::AutomationKeyResource::new(Arc::clone(
            shared,
        ))),
    );
    resources.insert(
        "tenant_settings".into(),
        Box::new(tenant_settings::TenantSettingsResource::new(Arc::clone(
            shared,
        ))),
    );
    resources.insert(
        "account_user".into(),
        Box::new(account_user::AccountUserResource::new(Arc::clone(shared))),
    );
    resources.insert(
        "primary_contact".into(),
        Box::new(primary_contact::PrimaryContactResource::new(Arc::clone(
            shared,
        ))),
    );
    resources.insert(
        "sso_connection".into(),
        Box::new(sso_connection::SsoConnectionResource::new(Arc::clone(
            shared,
        ))),
    );
    resources
}

/// The tenant snapshot for plan-time checks; `None` (with an error) if it cannot be read.
pub async fn plan_book_snapshot(
    shared: &Shared,
    api: &Api,
    diags: &mut Diagnostics,
) -> Option<Arc<Snapshot>> {
    let snapshot = shared.book.snapshot(api).await;
    diagnostics::api_ok(
        diags,
        "read the tenant for plan-time checks",
        snapshot,
        None,
    )
}

/// A deletion's answer; already gone counts as done.
pub fn removed(diags: &mut Diagnostics, action: &str, result: Result<(), ApiError>) -> Option<()> {
    diagnostics::api_ok(diags, action, result.found().map(|_| ()), None)
}

/// An id the state or an import holds, parsed; a malformed one names nothing (the API answers
/// "not found" for it too).
pub fn parse_id<I: FromStr>(text: &str) -> Option<I> {
    text.trim().parse().ok()
}

/// `destroy` of an object that one `DELETE` removes: `delete` of the state's `id`; already
/// gone counts as done, `action` names the deletion in an error.
pub async fn remove_by_id<I, F>(
    shared: &Shared,
    diags: &mut Diagnostics,
    id: &Value<String>,
    delete: impl FnOnce(Arc<Api>, I) -> F,
    action: &str,
) -> Option<()>
where
    I: FromStr,
    F: Future<Output = Result<(), ApiError>>,
{
    let api = shared.api(diags)?;
    let Some(id) = parse_id(known(id)?) else {
        return Some(());
    };
    removed(diags, action, delete(api, id).await)
}

/// What `read` returns for an object looked up by id: the state `fill`ed from what the API
/// shows; `None` when the API no longer has it (Terraform then shows the drift); the state as
/// it was, with an error, when the API could not be asked (`action` names the read).
pub fn state_after_read<S, V>(
    diags: &mut Diagnostics,
    action: &str,
    mut state: S,
    found: Result<Option<V>, ApiError>,
    fill: impl FnOnce(&mut S, &V),
) -> Option<S> {
    match found {
        Ok(Some(view)) => {
            fill(&mut state, &view);
            Some(state)
        }
        Ok(None) => None,
        Err(failure) => {
            diagnostics::api(diags, action, &failure, None);
            Some(state)
        }
    }
}

/// An object that must exist (one a write acts on or has just made, one an import names), as
/// the API shows it; `None` once reported: `missing_summary` and `missing_detail` when the API
/// does not have it, the failure of `action` when it could not be asked.
pub fn found_or_error<V>(
    diags: &mut Diagnostics,
    action: &str,
    found: Result<Option<V>, ApiError>,
    missing_summary: &'static str,
    missing_detail: impl Into<Cow<'static, str>>,
) -> Option<V> {
    let found = diagnostics::api_ok(diags, action, found, None)?;
    if found.is_none() {
        diagnostics::error(diags, missing_summary, missing_detail, None);
    }
    found
}

/// The provider's tenant as a planned value: unknown while the provider is not configured.
pub fn planned_tenant(api: Option<&Api>) -> Value<String> {
    api.map_or(Value::Unknown, |api| {
        Value::Value(api.tenant_id().to_string())
    })
}

/// The provider token's user as a planned value: unknown while the provider is not
/// configured.
pub fn planned_token_user(api: Option<&Api>) -> Value<String> {
    api.and_then(Api::me)
        .map_or(Value::Unknown, |user| Value::Value(user.to_string()))
}

/// The `status` attribute of `portcullis_user` and `portcullis_account_user` for a user the
/// API shows: `inactive`, or `active` for an active or pending user (a pending user is not
/// deactivated).
pub fn settable_status(status: UserStatus) -> Value<String> {
    let settable = match status {
        UserStatus::Inactive => UserStatus::Inactive,
        UserStatus::Pending | UserStatus::Active => UserStatus::Active,
    };
    Value::Value(settable.name().to_owned())
}

/// The key id an import names, when it is one of `kind`.
pub fn import_key_id(diags: &mut Diagnostics, id: &str, kind: CredentialKind) -> Option<KeyId> {
    match id.trim().parse::<KeyId>() {
        Ok(key) if key.kind() == kind => Some(key),
        _ => {
            let prefix = match kind {
                CredentialKind::ApiToken => API_TOKEN_ID_PREFIX,
                CredentialKind::AutomationKey => AUTOMATION_KEY_PREFIX,
            };
            diagnostics::error(
                diags,
                format!("Cannot import the {}", kind.name().replace('_', " ")),
                format!(
                    "`{}` is not a key id of that kind; import with the `{prefix}...` key id",
                    id.trim()
                ),
                None,
            );
            None
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeSet;
    use tf_provider::schema::Schema;

    /// The state type serialises exactly the schema's attributes and blocks (Terraform
    /// rejects anything else).
    pub fn assert_parity(schema: &Schema, state: &impl Serialize) {
        let json = serde_json::to_value(state).unwrap();
        let fields: BTreeSet<String> = json.as_object().unwrap().keys().cloned().collect();
        let attributes: BTreeSet<String> = schema
            .block
            .attributes
            .keys()
            .chain(schema.block.blocks.keys())
            .cloned()
            .collect();
        assert_eq!(fields, attributes);
        for (name, attribute) in &schema.block.attributes {
            assert!(
                attribute.description.content.len() > 10,
                "{name} needs a description"
            );
        }
    }

    fn refused() -> ApiError {
        ApiError::Problem {
            status: 403,
            code: "forbidden".into(),
            detail: "not yours".into(),
        }
    }

    #[test]
    fn read_fills_the_state_drops_it_when_gone_and_keeps_it_when_the_api_fails() {
        let fill = |state: &mut String, view: &&str| *state = (*view).to_owned();
        let mut diags = Diagnostics::default();
        let found = Ok(Some("new"));
        let read = state_after_read(&mut diags, "read it", "old".to_owned(), found, fill);
        assert_eq!(read.as_deref(), Some("new"));
        let read = state_after_read(&mut diags, "read it", "old".to_owned(), Ok(None), fill);
        assert_eq!(read, None, "gone: Terraform shows the drift");
        assert!(diags.errors.is_empty(), "{diags:?}");
        let read = state_after_read(
            &mut diags,
            "read it",
            "old".to_owned(),
            Err(refused()),
            fill,
        );
        assert_eq!(read.as_deref(), Some("old"));
        assert_eq!(
            diags.errors[0].summary,
            "Portcullis refused to read it (403 forbidden)"
        );
    }

    #[test]
    fn a_required_object_that_is_missing_or_unreadable_is_an_error() {
        let mut diags = Diagnostics::default();
        let found = found_or_error(&mut diags, "read it", Ok(Some(7)), "Gone", "it went");
        assert_eq!(found, Some(7));
        assert!(diags.errors.is_empty(), "{diags:?}");
        let found: Option<u8> = found_or_error(&mut diags, "read it", Ok(None), "Gone", "it went");
        assert_eq!(found, None);
        assert_eq!(diags.errors[0].summary, "Gone");
        assert_eq!(diags.errors[0].detail, "it went");
        let found: Option<u8> =
            found_or_error(&mut diags, "read it", Err(refused()), "Gone", "it went");
        assert_eq!(found, None);
        assert_eq!(diags.errors[1].detail, "not yours");
    }

    #[test]
    fn a_pending_user_is_not_deactivated() {
        assert_eq!(
            settable_status(UserStatus::Pending),
            Value::Value("active".to_owned())
        );
        assert_eq!(
            settable_status(UserStatus::Inactive),
            Value::Value("inactive".to_owned())
        );
    }
}

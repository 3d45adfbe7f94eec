//! The provider's resources, one module each.

mod account_user;
mod api_token;
mod automation_key;
mod primary_contact;
mod tenant_settings;
mod user;

use crate::client::Api;
use crate::diagnostics;
use crate::provider::Shared;
use crate::validation::Snapshot;
use portcullis_core::KeyId;
use portcullis_core::credential::{API_TOKEN_ID_PREFIX, AUTOMATION_KEY_PREFIX, CredentialKind};
use std::collections::HashMap;
use std::sync::Arc;
use tf_provider::value::ValueEmpty;
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
    resources
}

/// The tenant snapshot for plan-time checks; `None` (with an error) if it cannot be read.
pub async fn plan_book_snapshot(
    shared: &Shared,
    api: &Api,
    diags: &mut Diagnostics,
) -> Option<Arc<Snapshot>> {
    match shared.book.snapshot(api).await {
        Ok(snapshot) => Some(snapshot),
        Err(failure) => {
            diagnostics::api(
                diags,
                "read the tenant for plan-time checks",
                &failure,
                None,
            );
            None
        }
    }
}

/// `DELETE path`; already gone counts as done.
pub async fn remove(api: &Api, diags: &mut Diagnostics, path: &str, action: &str) -> Option<()> {
    match api.remove(path).await {
        Ok(()) => Some(()),
        Err(failure) => {
            diagnostics::api(diags, action, &failure, None);
            None
        }
    }
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
    use serde::Serialize;
    use std::collections::BTreeSet;
    use tf_provider::schema::Schema;

    /// The state type serialises exactly the schema's attributes (Terraform rejects anything
    /// else).
    pub fn assert_parity(schema: &Schema, state: &impl Serialize) {
        let json = serde_json::to_value(state).unwrap();
        let fields: BTreeSet<String> = json.as_object().unwrap().keys().cloned().collect();
        let attributes: BTreeSet<String> = schema.block.attributes.keys().cloned().collect();
        assert_eq!(fields, attributes);
        for (name, attribute) in &schema.block.attributes {
            assert!(
                attribute.description.content.len() > 10,
                "{name} needs a description"
            );
        }
    }
}

//! `portcullis_users`: every member of the tenant, optionally filtered by status.

use super::{MemberItem, member_attributes, members};
use crate::diagnostics;
use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, attribute, schema, string};
use crate::values::known;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tf_provider::schema::AttributeType;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};
/// `portcullis_users`: every member of the tenant, optionally filtered by status.
#[derive(Debug)]
pub struct UsersSource {
    pub shared: Arc<Shared>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct UsersState {
    status: Value<String>,
    users: Value<Vec<MemberItem>>,
}

pub fn users_schema() -> Schema {
    // A list of objects (not nested attributes: Terraform refuses the framework's encoding of
    // those, "Type and NestedType cannot both be set").
    let item: HashMap<String, AttributeType> = member_attributes(Mode::Computed)
        .into_iter()
        .map(|(name, attribute)| (name.to_owned(), attribute.attr_type))
        .collect();
    schema(
        "The members of the provider's tenant (owner and pending invitees included), sorted by email.",
        vec![
            (
                "status",
                string(
                    Mode::Optional,
                    "Only members with this status: `pending`, `active` or `inactive`.",
                ),
            ),
            (
                "users",
                attribute(
                    AttributeType::List(Box::new(AttributeType::Object(item))),
                    Mode::Computed,
                    "The members, each with `id`, `email`, `name`, `status`, `permissions` and `tenant_owner`.",
                ),
            ),
        ],
    )
}

#[async_trait]
impl DataSource for UsersSource {
    type State<'a> = UsersState;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(users_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: UsersState) -> Option<()> {
        if let Some(status) = known(&config.status)
            && !["pending", "active", "inactive"].contains(&status)
        {
            diagnostics::error(
                diags,
                "Invalid status",
                format!("`{status}` is not a status; use `pending`, `active` or `inactive`"),
                Some("status"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: UsersState,
        _meta: Empty,
    ) -> Option<UsersState> {
        let (model, mut members) = members(&self.shared, diags).await?;
        members.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
        let filter = known(&config.status).map(str::to_owned);
        let users = members
            .iter()
            .filter(|member| filter.as_deref().is_none_or(|s| s == member.status.name()))
            .map(|member| MemberItem::new(&model, member))
            .collect();
        Some(UsersState {
            status: config.status,
            users: Value::Value(users),
        })
    }
}

//! `portcullis_user` (data source): one member of the tenant, by email.

use super::{MemberItem, member_attributes, members};
use crate::diagnostics;
use crate::provider::Shared;
use crate::resources::Empty;
use crate::schema::{Mode, schema};
use crate::values::known;
use async_trait::async_trait;

use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};
/// `portcullis_user`: one member, by email.
#[derive(Debug)]
pub struct UserSource {
    pub shared: Arc<Shared>,
}

pub fn user_source_schema() -> Schema {
    schema(
        "A member of the provider's tenant, looked up by email.",
        member_attributes(Mode::Required),
    )
}

#[async_trait]
impl DataSource for UserSource {
    type State<'a> = MemberItem;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(user_source_schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: MemberItem,
        _meta: Empty,
    ) -> Option<MemberItem> {
        let email = known(&config.email)?.to_owned();
        let (model, members) = members(&self.shared, diags).await?;
        match members
            .iter()
            .find(|member| member.email.as_str().eq_ignore_ascii_case(email.trim()))
        {
            Some(member) => Some(MemberItem {
                email: Value::Value(email),
                ..MemberItem::new(&model, member)
            }),
            None => {
                diagnostics::error(
                    diags,
                    "No such member",
                    format!("no member of the tenant has the email `{email}`"),
                    Some("email"),
                );
                None
            }
        }
    }
}

//! Issuing and rolling credentials: API tokens and automation keys, under their
//! [`Terms`](crate::terms::Terms).
//!
//! # Choices
//! - **Terms are fixed at creation.** Validity window, client IP rules, external id and
//!   metadata are given when the credential is created and checked once there
//!   ([`Terms::check`]); changing them means a new credential (Terraform replaces it).
//! - **Rolling keeps the credential.** A roll gives the credential a new secret and keeps its
//!   key id, name, scope, terms and history, so whatever refers to it (audit log, Terraform
//!   state, the origin's records of `portcullis-key-id`) stays valid. The previous secret
//!   keeps working for the overlap asked for (0 to 24 hours; 0 ends it at once), and stops at
//!   its end without anyone acting. Rolling again during an overlap ends the older secret at
//!   once: there are never more than two. Who may delete the credential may roll it. Each roll
//!   is audited (`api_token.rolled`, `automation_key.rolled`) and notifies the token's owner
//!   or the key's creator (`credential_rolled`).

use super::{
    Account, Actor, Context, Event, MAX_AUTOMATION_KEYS_PER_TENANT, MAX_TOKENS_PER_MEMBER, Outcome,
    Refusal,
};
use crate::credential::{self, KeyId};
use crate::gateway::request_counts::DailyRequests;
use crate::ids::{DisplayName, TenantId};
use crate::notification::{NotificationData, NotificationKind};
use crate::permission::{Permission, PermissionSet};
use crate::plan::Feature;
use crate::secret::SecretHash;
use crate::tenant::{ApiToken, AutomationKey, CredentialSecret};
use crate::terms::{self, PreviousSecret, Terms, TermsError};
use crate::time::Timestamp;
use serde_json::Value;

impl From<TermsError> for Refusal {
    fn from(error: TermsError) -> Self {
        match error {
            TermsError::ExpiryInPast => Refusal::ExpiryInPast,
            other => Refusal::InvalidTerms(other),
        }
    }
}

/// A credential's kind, for what the roll writes and tells.
#[derive(Clone, Copy)]
pub(super) enum Rolled {
    /// An API token.
    Token,
    /// An automation key.
    Key,
}

/// Gives a credential's `secret` the new hash at `now`, keeping the previous one for the
/// overlap; returns what it keeps.
fn swap_secret(
    secret: &mut CredentialSecret,
    new: SecretHash,
    now: Timestamp,
    overlap_seconds: u64,
) -> Result<Option<PreviousSecret>, Refusal> {
    let previous = terms::overlap_end(now, overlap_seconds, secret.hash)?;
    *secret = CredentialSecret {
        hash: new,
        previous,
        rolled_at: Some(now),
    };
    Ok(previous)
}

impl Account {
    /// `CreateApiToken`: a personal token of the actor, at most their own permissions.
    pub(super) fn create_api_token(
        &mut self,
        actor: &Actor,
        tenant_id: TenantId,
        name: DisplayName,
        permissions: PermissionSet,
        terms: Terms,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        let held = self.actor_permissions(actor, &tenant_id, now)?;
        if !permissions.is_subset(held) {
            return Err(Refusal::Escalation(permissions.difference(held)));
        }
        let signed_in_with = self.signed_in_with(actor, &tenant_id, now);
        terms.check(now)?;
        let tenant = self.tenant_ref(&tenant_id)?;
        let owned = tenant
            .api_tokens
            .values()
            .filter(|t| t.owner == actor.user_id)
            .count();
        if owned >= MAX_TOKENS_PER_MEMBER {
            return Err(Refusal::Quota(
                "a member may hold at most 50 API tokens per tenant",
            ));
        }
        let issued = credential::issue_api_token(context.random, context.key);
        let expires_at = terms.expires_at;
        let mut tenant = self.tenant_mut(&tenant_id)?;
        tenant.api_tokens.insert(
            issued.key_id.clone(),
            ApiToken {
                key_id: issued.key_id.clone(),
                owner: actor.user_id.clone(),
                name,
                scope: permissions,
                secret: CredentialSecret::new(issued.hash),
                created_at: now,
                terms,
                last_used_at: None,
                requests: DailyRequests::default(),
                sso_connection: signed_in_with,
            },
        );
        let event =
            Event::new(Some(&tenant_id), "api_token.created", &issued.key_id).detail(permissions);
        let outcome = Outcome::ApiTokenCreated {
            key_id: issued.key_id,
            token: issued.secret,
            permissions,
            expires_at,
        };
        Ok((outcome, event))
    }

    /// `CreateAutomationKey`: a build-only key of the tenant (a plan with automation keys, and
    /// the permission the model manages them with).
    pub(super) fn create_automation_key(
        &mut self,
        actor: &Actor,
        tenant_id: TenantId,
        name: DisplayName,
        terms: Terms,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        self.require(
            actor,
            &tenant_id,
            crate::model::with_model(crate::Model::automation_managed_with),
            now,
        )?;
        let mut tenant = self.tenant_mut(&tenant_id)?;
        if !tenant.plan.includes(Feature::AUTOMATION_KEYS) {
            return Err(Refusal::PlanFeature {
                plan: tenant.plan,
                feature: Feature::AUTOMATION_KEYS,
            });
        }
        terms.check(now)?;
        if tenant.automation_keys.len() >= MAX_AUTOMATION_KEYS_PER_TENANT {
            return Err(Refusal::Quota(
                "a tenant may hold at most 50 automation keys",
            ));
        }
        let issued = credential::issue_automation_key(context.random, context.key);
        tenant.automation_keys.insert(
            issued.key_id.clone(),
            AutomationKey {
                key_id: issued.key_id.clone(),
                name,
                enabled: true,
                secret: CredentialSecret::new(issued.hash),
                created_at: now,
                created_by: actor.user_id.clone(),
                terms,
                last_used_at: None,
                requests: DailyRequests::default(),
            },
        );
        let event = Event::new(Some(&tenant_id), "automation_key.created", &issued.key_id);
        Ok((
            Outcome::AutomationKeyCreated {
                key_id: issued.key_id,
                key: issued.secret,
            },
            event,
        ))
    }

    /// The tenant of the token `key_id`, when `actor` may delete (or roll) it: their own, or
    /// any in the tenant with `user_and_api_management`; not being a member of its tenant
    /// reads as the token not existing.
    pub(super) fn deletable_token(
        &self,
        actor: &Actor,
        key_id: &KeyId,
        now: Timestamp,
    ) -> Result<TenantId, Refusal> {
        let tenant_id = self.tenant_of_token(key_id)?;
        let held = self.credential_permissions(actor, &tenant_id, key_id, now)?;
        let own = self
            .tenant_ref(&tenant_id)?
            .api_tokens
            .get(key_id)
            .is_some_and(|t| t.owner == actor.user_id);
        if !own && !held.contains(Permission::USER_AND_API_MANAGEMENT) {
            return Err(Refusal::MissingPermission(
                Permission::USER_AND_API_MANAGEMENT,
            ));
        }
        Ok(tenant_id)
    }

    /// `RollApiToken` and `RollAutomationKey`: who may delete the credential may roll it.
    pub(super) fn roll(
        &mut self,
        actor: &Actor,
        kind: Rolled,
        key_id: KeyId,
        overlap_seconds: u64,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        let tenant_id = match kind {
            Rolled::Token => self.deletable_token(actor, &key_id, now)?,
            Rolled::Key => self.manageable_automation_key(actor, &key_id, now)?,
        };
        let issued = match kind {
            Rolled::Token => credential::reissue_api_token(&key_id, context.random, context.key),
            Rolled::Key => credential::reissue_automation_key(&key_id, context.random, context.key),
        };
        let mut tenant = self.tenant_mut(&tenant_id)?;
        let unknown = || Refusal::UnknownCredential(key_id.clone());
        let (slot, recipient, name) = match kind {
            Rolled::Token => {
                let token = tenant.api_tokens.get_mut(&key_id).ok_or_else(unknown)?;
                let slot = swap_secret(&mut token.secret, issued.hash, now, overlap_seconds)?;
                (slot, token.owner.clone(), token.name.clone())
            }
            Rolled::Key => {
                let key = tenant
                    .automation_keys
                    .get_mut(&key_id)
                    .ok_or_else(unknown)?;
                let slot = swap_secret(&mut key.secret, issued.hash, now, overlap_seconds)?;
                (slot, key.created_by.clone(), key.name.clone())
            }
        };
        drop(tenant);
        let previous_valid_until = slot.map(|previous| previous.until);
        let (kind_name, action) = match kind {
            Rolled::Token => ("api_token", "api_token.rolled"),
            Rolled::Key => ("automation_key", "automation_key.rolled"),
        };
        // The recipient may have been deleted since (a key's creator): the roll stands.
        if self.user(&recipient).is_some() {
            let data = NotificationData::from([
                ("kind".to_owned(), kind_name.into()),
                ("key_id".to_owned(), key_id.as_str().into()),
                ("name".to_owned(), name.as_str().into()),
                (
                    "previous_valid_until".to_owned(),
                    previous_valid_until.map_or(Value::Null, |until| until.unix_seconds().into()),
                ),
            ]);
            self.notify(
                context.random,
                now,
                NotificationKind::CredentialRolled,
                &recipient,
                Some(&tenant_id),
                data,
            )?;
        }
        let event = Event::new(Some(&tenant_id), action, &key_id).detail(format!(
            "overlap_seconds={}",
            if previous_valid_until.is_some() {
                overlap_seconds
            } else {
                0
            }
        ));
        let outcome = match kind {
            Rolled::Token => Outcome::ApiTokenRolled {
                key_id,
                token: issued.secret,
                previous_valid_until,
            },
            Rolled::Key => Outcome::AutomationKeyRolled {
                key_id,
                key: issued.secret,
                previous_valid_until,
            },
        };
        Ok((outcome, event))
    }
}

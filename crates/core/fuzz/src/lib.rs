//! Shared fixture for the portcullis-core fuzz targets: one real account, built once per
//! process with deterministic randomness, so every run and every reproduction sees the same ids,
//! credentials and records.

use portcullis_core::account::{Context, Outcome, SignUp};
use portcullis_core::credential::CredentialRecord;
use portcullis_core::random::SeededRandom;
use portcullis_core::{
    Account, Actor, Command, Email, HashingKey, KeyId, TenantId, Timestamp, UserId,
};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A signed-up account (team plan) with a pending member, an active member and an automation
/// key, and the credentials and records that belong to it.
pub struct Fixture {
    /// The server-side hashing key.
    pub key: HashingKey,
    /// The time every command and verification runs at.
    pub now: Timestamp,
    /// The account as it stands after setup.
    pub account: Account,
    /// The account owner (active company admin, manager of the tenant).
    pub owner: UserId,
    /// The one tenant.
    pub tenant: TenantId,
    /// A pending member invited as release engineer.
    pub member: UserId,
    /// An active member (invited as security engineer, invitation accepted).
    pub active: UserId,
    /// The owner's API token, `pctk_…:pcts_…`.
    pub token: String,
    /// The owner's token's key id.
    pub token_id: KeyId,
    /// The token's stored record.
    pub token_record: CredentialRecord,
    /// An automation key, `pcak_…`.
    pub automation_key: String,
    /// The automation key's key id.
    pub automation_id: KeyId,
    /// The automation key's stored record.
    pub automation_record: CredentialRecord,
}

/// The seed every fuzz iteration's randomness starts from.
pub const SEED: u64 = 0x5eed;

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> Fixture {
    let mut random = SeededRandom::new(SEED);
    let key = HashingKey::generate(&mut random);
    let now = Timestamp::from_unix_seconds(1_750_000_000);
    let signed_up = Account::sign_up(
        SignUp {
            account_name: "Fuzz Corp".parse().expect("valid name"),
            owner_email: "owner@fuzz.example".parse().expect("valid email"),
            owner_name: "Fuzz Owner".parse().expect("valid name"),
            tenant_name: "Production".parse().expect("valid name"),
            plan: portcullis_core::Plan::named("team").expect("a name of the default model"),
            trial: false,
        },
        &mut Context {
            now,
            random: &mut random,
            key: &key,
        },
    );
    let mut account = signed_up.account;
    let owner = signed_up.owner_id.clone();
    let tenant = signed_up.tenant_id.clone();
    let actor = Actor::user(owner.clone());
    let active_email: Email = "active@fuzz.example".parse().expect("valid email");
    let mut context = Context {
        now,
        random: &mut random,
        key: &key,
    };
    let invited = account
        .apply(
            &actor,
            Command::InviteMember {
                tenant_id: tenant.clone(),
                email: "member@fuzz.example".parse().expect("valid email"),
                name: None,
                permissions: "release_engineer".parse::<portcullis_core::RolePreset>().expect("a name of the default model").permissions(),
            },
            &mut context,
        )
        .expect("the owner may invite a member");
    let Outcome::MemberAdded {
        user_id: member, ..
    } = invited
    else {
        panic!("invite_member answered {invited:?}")
    };
    let invited = account
        .apply(
            &actor,
            Command::InviteMember {
                tenant_id: tenant.clone(),
                email: active_email.clone(),
                name: None,
                permissions: "security_engineer".parse::<portcullis_core::RolePreset>().expect("a name of the default model").permissions(),
            },
            &mut context,
        )
        .expect("the owner may invite a second member");
    let Outcome::MemberAdded {
        user_id: active,
        invitation: Some(invitation),
        ..
    } = invited
    else {
        panic!("invite_member answered {invited:?}")
    };
    account
        .accept_invitation(&active_email, invitation.code.expose(), None, &mut context)
        .expect("a fresh invitation code is accepted");
    let created = account
        .apply(
            &actor,
            Command::CreateAutomationKey {
                tenant_id: tenant.clone(),
                name: "ci".parse().expect("valid name"),
                terms: portcullis_core::terms::Terms::default(),
            },
            &mut context,
        )
        .expect("the owner may create an automation key on the team plan");
    let Outcome::AutomationKeyCreated {
        key_id: automation_id,
        key: automation_secret,
    } = created
    else {
        panic!("create_automation_key answered {created:?}")
    };
    let token_id = signed_up.token.key_id.clone();
    let token_record = account
        .credential_record(&token_id)
        .expect("the owner's token has a record");
    let automation_record = account
        .credential_record(&automation_id)
        .expect("the automation key has a record");
    Fixture {
        token: signed_up.token.secret.expose().to_owned(),
        automation_key: automation_secret.expose().to_owned(),
        key,
        now,
        account,
        owner,
        tenant,
        member,
        active,
        token_id,
        token_record,
        automation_id,
        automation_record,
    }
}

/// Replaces the placeholders `$tenant`, `$owner`, `$member`, `$active`, `$token` and `$key` with
/// the fixture's tenant id, owner id, pending member's id, active member's id, the owner's token
/// key id and the automation key id, so that seeds (and the fuzzer's mutations of them) can name
/// things that exist. Input without `$`, or that is not UTF-8, is returned unchanged.
pub fn expand_placeholders(data: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(data) {
        Ok(text) if text.contains('$') => {
            let fixture = fixture();
            let expanded = text
                .replace("$tenant", fixture.tenant.as_str())
                .replace("$owner", fixture.owner.as_str())
                .replace("$member", fixture.member.as_str())
                .replace("$active", fixture.active.as_str())
                .replace("$token", fixture.token_id.as_str())
                .replace("$key", fixture.automation_id.as_str());
            Cow::Owned(expanded.into_bytes())
        }
        _ => Cow::Borrowed(data),
    }
}


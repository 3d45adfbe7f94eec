//! Storage layouts: an account stored as one JSON value, the layout before one row per entity,
//! survives its migration to rows whole.
//!
//! `fixtures/single-row-account.json` was written by `write_single_row_fixture` below, run on the
//! code before per-entity rows (commit ee1b927): the account's one stored value, plus the
//! secrets its API showed (tokens, an automation key, a session) so that this test can check
//! they still work after the migration. Regenerate only from a single-row version:
//!
//! ```sh
//! PORTCULLIS_WRITE_FIXTURE=1 cargo test -p portcullis-core --test storage -- --ignored
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod support;
#[allow(unused_imports, reason = "each file uses some of the names")]
use support::names::*;

use portcullis_core::account::{Context, Outcome, SignUp};
use portcullis_core::bulk::BulkAction;
use portcullis_core::command::Command;
use portcullis_core::random::SeededRandom;
use portcullis_core::secret::Secret;
use portcullis_core::sso::{OidcSettings, SsoProtocolSettings};
use portcullis_core::{Account, Actor, HashingKey, PermissionSet, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/single-row-account.json"
);

/// What the fixture holds: the stored value and what the API showed once.
#[derive(Serialize, Deserialize)]
struct Fixture {
    /// The hashing key (32 bytes, as numbers).
    key: Vec<u8>,
    /// When it was written (unix seconds): verification happens at this time.
    now: u64,
    /// The account's stored value, exactly as the Durable Object kept it.
    state: Value,
    /// API tokens shown (`key_id:secret`), with the permissions each verifies with.
    tokens: Vec<(String, PermissionSet)>,
    /// An automation key shown.
    automation_key: String,
    /// A session shown (`pcss_…`), and its tenant.
    session: (String, String),
    /// Notifications pending in the account (not drained).
    pending_notifications: usize,
}

#[test]
#[ignore = "writes the fixture; run on a single-row version only"]
fn write_single_row_fixture() {
    if std::env::var_os("PORTCULLIS_WRITE_FIXTURE").is_none() {
        return;
    }
    let key_bytes = [7u8; 32];
    let key = HashingKey::from_bytes(&key_bytes).unwrap();
    let mut random = SeededRandom::new(42);
    let mut now = Timestamp::from_unix_seconds(1_760_000_000);
    let mut context = Context {
        now,
        random: &mut random,
        key: &key,
    };
    let signed_up = Account::sign_up(
        SignUp {
            account_name: "Legacy Co".parse().unwrap(),
            owner_email: "owner@legacy.test".parse().unwrap(),
            owner_name: "Olga Owner".parse().unwrap(),
            tenant_name: "Main".parse().unwrap(),
            plan: plan_named("enterprise"),
            trial: false,
        },
        &mut context,
    );
    let mut account = signed_up.account;
    let owner = Actor::user(signed_up.owner_id.clone());
    let tenant = signed_up.tenant_id.clone();
    let mut tokens = vec![(
        signed_up.token.secret.expose().to_owned(),
        PermissionSet::all(),
    )];
    let run = |account: &mut Account, actor: &Actor, command: Command, now: Timestamp| {
        apply(account, actor, command, now, &key)
    };
    let second = match run(
        &mut account,
        &owner,
        Command::CreateTenant {
            name: "Second".parse().unwrap(),
            plan: plan_named("team"),
        },
        now,
    ) {
        Outcome::TenantCreated { tenant_id } => tenant_id,
        other => panic!("{other:?}"),
    };
    let build = PermissionSet::parse_names(["build_applications"]).unwrap();
    let mut codes = Vec::new();
    for (n, tenant_id) in [&tenant, &tenant, &tenant, &second].into_iter().enumerate() {
        let outcome = run(
            &mut account,
            &owner,
            Command::InviteMember {
                tenant_id: tenant_id.clone(),
                email: format!("member{n}@legacy.test").parse().unwrap(),
                name: None,
                permissions: build,
            },
            now,
        );
        let Outcome::MemberAdded {
            user_id,
            invitation: Some(invitation),
            ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        codes.push((user_id, invitation.code.expose().to_owned()));
    }
    now = now.plus_seconds(60);
    // Members 0 and 1 accept (0 with a password, signing in); 2 stays pending; 3 accepts in the
    // second tenant.
    let mut accepted = Vec::new();
    let mut session = None;
    for (n, (user_id, code)) in codes.iter().enumerate() {
        if n == 2 {
            continue;
        }
        let mut random = SeededRandom::new(100 + n as u64);
        let mut context = Context {
            now,
            random: &mut random,
            key: &key,
        };
        let email = format!("member{n}@legacy.test").parse().unwrap();
        if n == 0 {
            let (_, issued) = account
                .accept_invitation_with_password(
                    &email,
                    code,
                    None,
                    "correct horse battery staple",
                    Some("fixture/1.0"),
                    &mut context,
                )
                .unwrap();
            session = Some((issued.session.expose().to_owned(), tenant.to_string()));
        } else {
            account
                .accept_invitation(&email, code, None, &mut context)
                .unwrap();
        }
        accepted.push(user_id.clone());
    }
    let member0 = Actor::user(accepted[0].clone());
    let Outcome::ApiTokenCreated { token, .. } = run(
        &mut account,
        &member0,
        Command::CreateApiToken {
            tenant_id: tenant.clone(),
            name: "ci".parse().unwrap(),
            permissions: build,
            terms: portcullis_core::terms::Terms::default(),
        },
        now,
    ) else {
        panic!("no token")
    };
    tokens.push((token.expose().to_owned(), build));
    let Outcome::AutomationKeyCreated {
        key: automation, ..
    } = run(
        &mut account,
        &owner,
        Command::CreateAutomationKey {
            tenant_id: second.clone(),
            name: "deploy".parse().unwrap(),
            terms: portcullis_core::terms::Terms::default(),
        },
        now,
    )
    else {
        panic!("no key")
    };
    run(
        &mut account,
        &owner,
        Command::CreateSsoConnection {
            name: "Okta".parse().unwrap(),
            protocol: SsoProtocolSettings::Oidc(OidcSettings {
                issuer: "https://idp.legacy.test".parse().unwrap(),
                client_id: "portcullis".parse().unwrap(),
                client_secret: Secret::new("client-secret".into()),
            }),
            allow_jit_provisioning: false,
        },
        now,
    );
    // Member 1 is deactivated by a bulk request (a kept report), member 3 by hand.
    run(
        &mut account,
        &owner,
        Command::BulkUserLifecycle {
            action: BulkAction::Deactivate,
            user_ids: vec![accepted[1].clone()],
        },
        now,
    );
    run(
        &mut account,
        &owner,
        Command::ChangePermissions {
            tenant_id: tenant.clone(),
            user_id: accepted[0].clone(),
            permissions: PermissionSet::parse_names(["build_applications", "update_certificates"])
                .unwrap(),
        },
        now,
    );
    // As the Durable Object stored it: audit events drained into their own table; the
    // notifications stay pending in the state until drained, so keep some.
    let _ = account.drain_audit();
    let pending_notifications = account.notifications().len();
    let fixture = Fixture {
        key: key_bytes.to_vec(),
        now: now.unix_seconds(),
        state: serde_json::to_value(&account).unwrap(),
        tokens,
        automation_key: automation.expose().to_owned(),
        session: session.unwrap(),
        pending_notifications,
    };
    std::fs::write(
        FIXTURE,
        serde_json::to_string_pretty(&fixture).unwrap() + "\n",
    )
    .unwrap();
}

/// Applies `command` as `actor` at `now` (random ids from the command's own seed), which must be
/// accepted.
fn apply(
    account: &mut Account,
    actor: &Actor,
    command: Command,
    now: Timestamp,
    key: &HashingKey,
) -> Outcome {
    let seed = account.audit_log().len() as u64;
    let mut random = SeededRandom::new(1_000 + seed);
    let mut context = Context {
        now,
        random: &mut random,
        key,
    };
    account.apply(actor, command, &mut context).unwrap()
}

#[test]
fn a_single_row_account_migrates_to_rows_intact() {
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let key = HashingKey::from_bytes(&fixture.key).unwrap();
    let now = Timestamp::from_unix_seconds(fixture.now);
    let legacy: Account = serde_json::from_value(fixture.state.clone()).unwrap();
    let rows = legacy.to_rows().unwrap();
    let migrated = Account::from_rows(rows.clone()).unwrap();
    assert!(migrated == legacy, "the rows hold a different account");
    // Every field of the stored value survives (the migrated account, written back in the
    // old layout, is the same JSON, save the fields added since: rows added one, credential
    // terms gave automation keys an `expires_at`).
    let mut written = serde_json::to_value(&migrated).unwrap();
    written.as_object_mut().unwrap().remove("bulk_reports_kept");
    for tenant in written["tenants"].as_object_mut().unwrap().values_mut() {
        for key in tenant["automation_keys"]
            .as_object_mut()
            .unwrap()
            .values_mut()
        {
            assert_eq!(
                key.as_object_mut().unwrap().remove("expires_at"),
                Some(Value::Null)
            );
        }
    }
    assert_eq!(written, fixture.state);
    // Nothing was lost on the way: users, tenants, members, credentials, connections,
    // pending notifications, the bulk report and the audit chain's head.
    assert_eq!(migrated.users().count(), 5);
    assert_eq!(migrated.tenants().count(), 2);
    let members: usize = migrated.tenants().map(|t| t.members.len()).sum();
    assert_eq!(members, 6);
    assert_eq!(
        migrated.notifications().len(),
        fixture.pending_notifications
    );
    assert!(fixture.pending_notifications > 0);
    assert_eq!(migrated.audit_log().len(), legacy.audit_log().len());
    assert_eq!(migrated.credential_records(), legacy.credential_records());
    assert_eq!(migrated.sign_in_records(), legacy.sign_in_records());
    // Secrets issued before the migration keep working, with the same permissions.
    for (token, permissions) in &fixture.tokens {
        let verified = migrated.verify(token, &key, now, None);
        assert_eq!(verified.code(), "valid", "{token}");
        assert_eq!(verified.principal().unwrap().permissions, *permissions);
    }
    assert_eq!(
        migrated
            .verify(&fixture.automation_key, &key, now, None)
            .code(),
        "valid"
    );
    let (session, tenant) = &fixture.session;
    let tenant = tenant.parse().unwrap();
    assert_eq!(
        migrated.verify_session(session, &tenant, &key, now).code(),
        "valid"
    );
    // Every row is one entity: none holds more than a few kilobytes.
    let largest = rows.iter().map(|row| row.value.len()).max().unwrap();
    assert!(largest < 8_000, "largest row {largest} bytes");
}

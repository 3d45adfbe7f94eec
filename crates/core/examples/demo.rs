//! A tour of the Portcullis engine: sign-up, invitation, tokens, verification against an edge
//! store, authorization, deactivation, and the audit chain.
//!
//! Run with `cargo run -p portcullis-core --features os-random --example demo`.

use portcullis_core::account::{Context, Outcome, SignUp};
use portcullis_core::audit::verify_chain;
use portcullis_core::random::OsRandom;
use portcullis_core::store::{CredentialStore, MemoryStore, record_changes};
use portcullis_core::time::{Clock, SystemClock};
use portcullis_core::{Account, Actor, Command, HashingKey, PermissionSet, authorize, credential};
use std::error::Error;

/// Verifies a presented credential the way the edge does: one store lookup by key id.
fn edge_verify(store: &MemoryStore, presented: &str, key: &HashingKey) -> credential::Verification {
    let record = credential::lookup_key(presented)
        .ok()
        .and_then(|id| store.record(&id));
    credential::verify(presented, record.as_ref(), key, SystemClock.now(), None)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut random = OsRandom;
    let key = HashingKey::generate(&mut random);
    let mut store = MemoryStore::default();

    println!("== sign-up");
    let signed_up = Account::sign_up(
        SignUp {
            account_name: "Acme Corp".parse()?,
            owner_email: "Olive@Acme.example".parse()?,
            owner_name: "Olive Owner".parse()?,
            tenant_name: "Production".parse()?,
            plan: portcullis_core::Plan::named("team")?,
            trial: false,
        },
        &mut Context {
            now: SystemClock.now(),
            random: &mut random,
            key: &key,
        },
    );
    let mut account = signed_up.account;
    let owner = Actor::user(signed_up.owner_id.clone());
    let tenant = signed_up.tenant_id.clone();
    store.apply(record_changes(
        &Default::default(),
        &account.credential_records(),
    ));
    println!("account {} with tenant {tenant} (team plan)", account.id());
    println!(
        "owner token issued (secret shown once), key id {}",
        signed_up.token.key_id
    );

    println!("\n== invite a release engineer");
    let before = account.credential_records();
    let mut context = Context {
        now: SystemClock.now(),
        random: &mut random,
        key: &key,
    };
    let invited = account.apply(
        &owner,
        Command::InviteMember {
            tenant_id: tenant.clone(),
            email: "rel@acme.example".parse()?,
            name: Some("Rel Engineer".parse()?),
            permissions: "release_engineer"
                .parse::<portcullis_core::RolePreset>()?
                .permissions(),
        },
        &mut context,
    )?;
    let Outcome::MemberAdded {
        user_id,
        invitation: Some(invitation),
        ..
    } = invited
    else {
        return Err("expected a new pending member".into());
    };
    println!(
        "{user_id} is pending; invitation expires at {}",
        invitation.expires_at
    );
    account.accept_invitation(
        &"rel@acme.example".parse()?,
        invitation.code.expose(),
        None,
        &mut context,
    )?;
    println!("{user_id} accepted and is active");

    let engineer = Actor::user(user_id.clone());
    let created = account.apply(
        &engineer,
        Command::CreateApiToken {
            tenant_id: tenant.clone(),
            name: "laptop".parse()?,
            permissions: "release_engineer"
                .parse::<portcullis_core::RolePreset>()?
                .permissions(),
            terms: portcullis_core::terms::Terms::default(),
        },
        &mut context,
    )?;
    let Outcome::ApiTokenCreated { key_id, token, .. } = created else {
        return Err("expected a token".into());
    };
    store.apply(record_changes(&before, &account.credential_records()));
    println!("token {key_id} created for {user_id}");

    println!("\n== verify at the edge and authorize");
    let verification = edge_verify(&store, token.expose(), &key);
    let principal = verification.principal().ok_or("token should verify")?;
    println!("verified: permissions {}", principal.permissions);
    for operation in [
        "run_build".parse::<portcullis_core::Operation>()?,
        "read_configuration".parse::<portcullis_core::Operation>()?,
        "write_configuration".parse::<portcullis_core::Operation>()?,
    ] {
        let decision = authorize(principal, operation);
        println!(
            "  {operation:<22} allow={:<5} ({})",
            decision.allow, decision.reason
        );
    }
    let tampered = token.expose().replacen("pcts_", "pcts_x", 1);
    println!(
        "tampered token: {}",
        edge_verify(&store, &tampered, &key).code()
    );

    println!("\n== a refused command changes nothing");
    let escalate = account.apply(
        &engineer,
        Command::CreateApiToken {
            tenant_id: tenant.clone(),
            name: "too wide".parse()?,
            permissions: PermissionSet::all(),
            terms: portcullis_core::terms::Terms::default(),
        },
        &mut context,
    );
    if let Err(refusal) = escalate {
        println!("refused ({}): {refusal}", refusal.code());
    }

    println!("\n== deactivate the engineer: every credential stops at once");
    let before = account.credential_records();
    account.apply(
        &owner,
        Command::DeactivateUser {
            user_id: user_id.clone(),
        },
        &mut context,
    )?;
    let changes = record_changes(&before, &account.credential_records());
    println!("{} edge record(s) rewritten", changes.len());
    store.apply(changes);
    println!(
        "token now: {}",
        edge_verify(&store, token.expose(), &key).code()
    );

    println!("\n== audit");
    let events = account.audit_log().events();
    for event in events {
        println!(
            "  #{} {} {}",
            event.body.sequence, event.body.action, event.body.target
        );
    }
    println!("chain intact: {}", verify_chain(events).is_ok());
    Ok(())
}

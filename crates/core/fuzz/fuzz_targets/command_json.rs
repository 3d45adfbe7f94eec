//! Arbitrary bytes as a Management API command body: parsing must never panic, a parsed command
//! must survive a JSON round trip, and applying it as the account owner must either be refused
//! with the account left exactly as it was, or be accepted with one more audit event and an
//! intact audit chain.
//!
//! Placeholders (`$tenant`, `$owner`, `$member`, `$active`, `$token`, `$key`) are replaced by ids that exist
//! in the fixture account first; see `portcullis_core_fuzz::expand_placeholders`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::account::Context;
use portcullis_core::audit::verify_chain;
use portcullis_core::random::SeededRandom;
use portcullis_core::{Actor, Command};
use portcullis_core_fuzz::{SEED, expand_placeholders, fixture};

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let body = expand_placeholders(data);
    let Ok(command) = Command::from_json(&body) else {
        return;
    };

    let json = serde_json::to_vec(&command).expect("a command serializes");
    assert_eq!(
        Command::from_json(&json).as_ref(),
        Ok(&command),
        "JSON round trip changed the command"
    );

    let before = fixture.account.clone();
    let mut account = before.clone();
    let mut random = SeededRandom::new(SEED.wrapping_add(1));
    let mut context = Context {
        now: fixture.now,
        random: &mut random,
        key: &fixture.key,
    };
    let name = command.name();
    match account.apply(&Actor::user(fixture.owner.clone()), command, &mut context) {
        Err(refusal) => assert!(
            account == before,
            "refused `{name}` ({refusal}) but the account changed"
        ),
        Ok(_) => {
            assert_eq!(
                account.audit_log().len(),
                before.audit_log().len() + 1,
                "accepted `{name}` must append exactly one audit event"
            );
            verify_chain(account.audit_log().events()).expect("the audit chain stays intact");
        }
    }
});

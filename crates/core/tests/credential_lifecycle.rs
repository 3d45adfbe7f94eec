//! The credential lifecycle beyond create and delete: terms (validity window, client IP rules,
//! external id and metadata) and rolling a secret with an overlap, for tokens and automation
//! keys alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod support;

use portcullis_core::account::{Outcome, Refusal};
use portcullis_core::command::Command;
use portcullis_core::credential::Verification;
use portcullis_core::notification::NotificationKind;
use portcullis_core::query::ApiTokenView;
use portcullis_core::terms::{IpRange, Metadata, TermsError};
use portcullis_core::{KeyId, Plan, Timestamp};
use std::net::IpAddr;
use support::world::{World, perms};

fn world() -> World {
    World::new(Plan::named("team").unwrap())
}

fn ranges(texts: &[&str]) -> Vec<IpRange> {
    texts.iter().map(|text| text.parse().unwrap()).collect()
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn at(world: &World, seconds_from_now: u64) -> Timestamp {
    world.now.plus_seconds(seconds_from_now)
}

#[derive(Default)]
struct Terms {
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
    allowed_ips: Vec<IpRange>,
    denied_ips: Vec<IpRange>,
    external_id: Option<&'static str>,
    metadata: Option<serde_json::Value>,
    rate_limit: Option<portcullis_core::terms::RateLimit>,
}

impl Terms {
    fn engine(self) -> portcullis_core::terms::Terms {
        portcullis_core::terms::Terms {
            not_before: self.not_before,
            expires_at: self.expires_at,
            allowed_ips: self.allowed_ips,
            denied_ips: self.denied_ips,
            external_id: self.external_id.map(|id| id.parse().unwrap()),
            metadata: self
                .metadata
                .map(|value| Metadata::from_value(&value).unwrap()),
            rate_limit: self.rate_limit,
        }
    }
}

fn token_command(world: &World, terms: Terms) -> Command {
    Command::CreateApiToken {
        tenant_id: world.tenant.clone(),
        name: "deploy".parse().unwrap(),
        permissions: perms(&["build_applications"]),
        terms: terms.engine(),
    }
}

fn key_command(world: &World, terms: Terms) -> Command {
    Command::CreateAutomationKey {
        tenant_id: world.tenant.clone(),
        name: "builds".parse().unwrap(),
        terms: terms.engine(),
    }
}

fn create_token(world: &mut World, terms: Terms) -> (KeyId, String) {
    let command = token_command(world, terms);
    match world.apply(&world.owner(), command).unwrap() {
        Outcome::ApiTokenCreated { key_id, token, .. } => (key_id, token.expose().to_owned()),
        other => panic!("unexpected {other:?}"),
    }
}

fn create_key(world: &mut World, terms: Terms) -> (KeyId, String) {
    let command = key_command(world, terms);
    match world.apply(&world.owner(), command).unwrap() {
        Outcome::AutomationKeyCreated { key_id, key } => (key_id, key.expose().to_owned()),
        other => panic!("unexpected {other:?}"),
    }
}

fn verify_at(world: &World, secret: &str, now: Timestamp, client: Option<IpAddr>) -> Verification {
    world.account.verify(secret, &world.key, now, client)
}

#[test]
fn a_validity_window_opens_at_not_before_and_closes_at_expiry_for_both_kinds() {
    let mut world = world();
    for kind in ["token", "key"] {
        let terms = Terms {
            not_before: Some(at(&world, 100)),
            expires_at: Some(at(&world, 200)),
            ..Terms::default()
        };
        let (_, secret) = if kind == "token" {
            create_token(&mut world, terms)
        } else {
            create_key(&mut world, terms)
        };
        let before = verify_at(&world, &secret, at(&world, 99), None);
        assert_eq!(before, Verification::NotYetValid, "{kind}");
        assert_eq!(before.public_code(), Verification::INVALID_CREDENTIALS);
        assert!(
            verify_at(&world, &secret, at(&world, 100), None)
                .principal()
                .is_some()
        );
        assert!(
            verify_at(&world, &secret, at(&world, 199), None)
                .principal()
                .is_some()
        );
        assert_eq!(
            verify_at(&world, &secret, at(&world, 200), None),
            Verification::Expired,
            "{kind}"
        );
    }
}

#[test]
fn terms_that_cannot_hold_are_refused_and_change_nothing() {
    let mut world = world();
    let cases = [
        (
            Terms {
                expires_at: Some(world.now),
                ..Terms::default()
            },
            Refusal::ExpiryInPast,
        ),
        (
            Terms {
                not_before: Some(at(&world, 50)),
                expires_at: Some(at(&world, 50)),
                ..Terms::default()
            },
            Refusal::InvalidTerms(TermsError::EmptyWindow),
        ),
        (
            Terms {
                denied_ips: (0..33)
                    .map(|i| format!("10.{i}.0.0/16").parse().unwrap())
                    .collect(),
                ..Terms::default()
            },
            Refusal::InvalidTerms(TermsError::TooManyRanges {
                list: "denied_ips",
                count: 33,
            }),
        ),
    ];
    for (terms, expected) in cases {
        let before = world.account.clone();
        let command = if expected == Refusal::ExpiryInPast {
            key_command(&world, terms)
        } else {
            token_command(&world, terms)
        };
        let refusal = world.refused(&world.owner(), command);
        assert_eq!(refusal, expected);
        assert_eq!(
            refusal.class(),
            portcullis_core::account::RefusalClass::Invalid
        );
        assert!(world.account == before, "{expected:?} changed the account");
    }
}

#[test]
fn client_ip_rules_allow_deny_and_refuse_an_unknown_client_with_their_own_code() {
    let mut world = world();
    let (_, token) = create_token(
        &mut world,
        Terms {
            allowed_ips: ranges(&["203.0.113.0/24", "2001:db8::/32"]),
            denied_ips: ranges(&["203.0.113.128/25"]),
            ..Terms::default()
        },
    );
    let now = world.now;
    assert!(
        verify_at(&world, &token, now, ip("203.0.113.9"))
            .principal()
            .is_some()
    );
    assert!(
        verify_at(&world, &token, now, ip("2001:db8::7"))
            .principal()
            .is_some()
    );
    for refused in [ip("203.0.113.200"), ip("198.51.100.1"), None] {
        let verification = verify_at(&world, &token, now, refused);
        assert_eq!(verification, Verification::IpNotAllowed, "{refused:?}");
        assert_eq!(verification.public_code(), "ip_not_allowed");
    }
    // The address is judged only after the secret: a wrong secret from a refused address
    // reads as any wrong secret, so the rules say nothing to who lacks the secret.
    let wrong = format!("{}x", &token[..token.len() - 1]);
    assert_ne!(
        verify_at(&world, &wrong, now, ip("198.51.100.1")).public_code(),
        "ip_not_allowed"
    );
    let (_, key) = create_key(
        &mut world,
        Terms {
            denied_ips: ranges(&["198.51.100.0/24"]),
            ..Terms::default()
        },
    );
    assert!(
        verify_at(&world, &key, now, ip("192.0.2.1"))
            .principal()
            .is_some()
    );
    assert_eq!(
        verify_at(&world, &key, now, ip("198.51.100.20")),
        Verification::IpNotAllowed
    );
}

#[test]
fn external_id_and_metadata_reach_the_principal_the_record_and_the_view() {
    let mut world = world();
    let (key_id, token) = create_token(
        &mut world,
        Terms {
            external_id: Some("cus_42"),
            metadata: Some(serde_json::json!({"team": "builds"})),
            ..Terms::default()
        },
    );
    let principal = verify_at(&world, &token, world.now, None)
        .principal()
        .cloned()
        .unwrap();
    assert_eq!(principal.external_id().unwrap().as_str(), "cus_42");
    assert_eq!(
        principal.metadata().unwrap().as_json(),
        r#"{"team":"builds"}"#
    );
    let record = world.account.credential_record(&key_id).unwrap();
    assert_eq!(record.external_id.unwrap().as_str(), "cus_42");
    let view: ApiTokenView = world
        .account
        .view_api_token(&world.owner(), &key_id, world.now)
        .unwrap();
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["external_id"], "cus_42");
    assert_eq!(json["metadata"], serde_json::json!({"team": "builds"}));
    assert_eq!(json["expires_at"], serde_json::Value::Null);
}

fn roll(world: &mut World, key_id: &KeyId, overlap_seconds: u64) -> (String, Option<Timestamp>) {
    let command = if key_id.as_str().starts_with("pcak_") {
        Command::RollAutomationKey {
            key_id: key_id.clone(),
            overlap_seconds,
        }
    } else {
        Command::RollApiToken {
            key_id: key_id.clone(),
            overlap_seconds,
        }
    };
    match world.apply(&world.owner(), command).unwrap() {
        Outcome::ApiTokenRolled {
            key_id: rolled,
            token,
            previous_valid_until,
        } => {
            assert_eq!(&rolled, key_id);
            (token.expose().to_owned(), previous_valid_until)
        }
        Outcome::AutomationKeyRolled {
            key_id: rolled,
            key,
            previous_valid_until,
        } => {
            assert_eq!(&rolled, key_id);
            (key.expose().to_owned(), previous_valid_until)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_roll_keeps_the_id_and_terms_and_the_old_secret_works_until_the_overlap_ends() {
    let mut world = world();
    let (token_id, old_token) = create_token(
        &mut world,
        Terms {
            external_id: Some("cus_7"),
            ..Terms::default()
        },
    );
    let (key_id, old_key) = create_key(&mut world, Terms::default());
    for (key_id, old) in [(token_id, old_token), (key_id, old_key)] {
        let (new, until) = roll(&mut world, &key_id, 3_600);
        assert_ne!(new, old);
        assert!(new.starts_with(key_id.as_str()), "same id lineage: {new}");
        assert_eq!(until, Some(at(&world, 3_600)));
        let now = world.now;
        let old_principal = verify_at(&world, &old, now, None).principal().cloned();
        let new_principal = verify_at(&world, &new, now, None).principal().cloned();
        assert!(old_principal.is_some() && old_principal == new_principal);
        assert!(
            verify_at(&world, &old, at(&world, 3_599), None)
                .principal()
                .is_some()
        );
        assert_eq!(
            verify_at(&world, &old, at(&world, 3_600), None),
            Verification::WrongSecret
        );
        assert!(
            verify_at(&world, &new, at(&world, 3_600), None)
                .principal()
                .is_some()
        );
        // Rolling again ends the older secret at once: never more than two.
        let (newer, _) = roll(&mut world, &key_id, 60);
        assert_eq!(
            verify_at(&world, &old, now, None),
            Verification::WrongSecret
        );
        assert!(verify_at(&world, &new, now, None).principal().is_some());
        assert!(verify_at(&world, &newer, now, None).principal().is_some());
        // Overlap 0: the previous secret stops now.
        let (newest, until) = roll(&mut world, &key_id, 0);
        assert_eq!(until, None);
        assert_eq!(
            verify_at(&world, &newer, now, None),
            Verification::WrongSecret
        );
        assert!(verify_at(&world, &newest, now, None).principal().is_some());
    }
}

#[test]
fn a_roll_is_audited_notified_and_bounded_and_needs_the_delete_rule() {
    let mut world = world();
    let (key_id, _) = create_token(&mut world, Terms::default());
    let before = world.account.clone();
    let refusal = world.refused(
        &world.owner(),
        Command::RollApiToken {
            key_id: key_id.clone(),
            overlap_seconds: 86_401,
        },
    );
    assert_eq!(
        refusal,
        Refusal::InvalidTerms(TermsError::OverlapTooLong(86_401))
    );
    assert!(world.account == before);
    // A member without user_and_api_management cannot roll the owner's token.
    let builder = world.member("builder@acme.test", perms(&["build_applications"]));
    let refusal = world.refused(
        &portcullis_core::Actor::user(builder),
        Command::RollApiToken {
            key_id: key_id.clone(),
            overlap_seconds: 0,
        },
    );
    assert_eq!(
        refusal,
        Refusal::MissingPermission(portcullis_core::Permission::USER_AND_API_MANAGEMENT)
    );
    // An automation key's id is not a token's.
    let (automation, _) = create_key(&mut world, Terms::default());
    let refusal = world.refused(
        &world.owner(),
        Command::RollApiToken {
            key_id: automation,
            overlap_seconds: 0,
        },
    );
    assert!(matches!(refusal, Refusal::UnknownCredential(_)));

    world.account.drain_notifications();
    roll(&mut world, &key_id, 600);
    let notified: Vec<_> = world
        .account
        .notifications()
        .iter()
        .filter(|n| n.kind == NotificationKind::CredentialRolled)
        .collect();
    assert_eq!(notified.len(), 1);
    assert_eq!(notified[0].user_id, world.owner);
    assert_eq!(notified[0].data["key_id"], key_id.as_str());
    assert_eq!(
        notified[0].data["previous_valid_until"],
        at(&world, 600).unix_seconds()
    );
    let audit = world.account.drain_audit();
    let last = &audit.last().unwrap().body;
    assert_eq!(last.action, "api_token.rolled");
    assert_eq!(last.detail, "overlap_seconds=600");
}

// ----- a rotation of the hashing key -------------------------------------------------------

fn rotated(world: &mut World) -> portcullis_core::HashingKey {
    let old = world.key.clone();
    let new = portcullis_core::HashingKey::from_bytes(&[42; 32]).unwrap();
    world.key = new.clone().with_previous(&old);
    new
}

#[test]
fn during_a_key_rotation_credentials_keep_working_and_are_rehashed_once_used() {
    use portcullis_core::credential::{Presented, verify_rehashing};
    let mut world = world();
    let (token_id, token) = create_token(&mut world, Terms::default());
    let (key_id, key) = create_key(&mut world, Terms::default());
    let (unused_id, unused) = create_token(&mut world, Terms::default());
    let new = rotated(&mut world);
    let now = world.now;
    for (id, secret) in [(&token_id, &token), (&key_id, &key)] {
        let record = world.account.credential_records().remove(id).unwrap();
        let presented = Presented::parse(secret).unwrap();
        let (verification, rehash) =
            verify_rehashing(&presented, Some(&record), &world.key, now, None);
        assert!(verification.principal().is_some(), "{verification:?}");
        let rehash = rehash.expect("made under the previous key");
        assert_eq!(&rehash.key_id, id);
        assert_eq!(rehash.from, record.secret_hash);
        // Stored again: the current key alone verifies it, and a second use asks nothing.
        world.account.drain_audit();
        assert!(world.account.rehash_credential(&rehash));
        assert!(!world.account.rehash_credential(&rehash), "applied twice");
        assert!(world.account.drain_audit().is_empty(), "audited");
        assert!(
            world
                .account
                .verify(secret, &new, now, None)
                .principal()
                .is_some()
        );
        let record = world.account.credential_records().remove(id).unwrap();
        assert_eq!(
            verify_rehashing(&presented, Some(&record), &world.key, now, None).1,
            None
        );
    }
    // Never used during the rotation: it works with both keys configured, not after.
    assert!(verify_at(&world, &unused, now, None).principal().is_some());
    assert_eq!(
        world.account.verify(&unused, &new, now, None),
        Verification::WrongSecret
    );
    // Under neither key (another deployment's pair), it is refused and asks for no re-hash.
    let record = world
        .account
        .credential_records()
        .remove(&unused_id)
        .unwrap();
    let strangers = portcullis_core::HashingKey::from_bytes(&[45; 32])
        .unwrap()
        .with_previous(&portcullis_core::HashingKey::from_bytes(&[46; 32]).unwrap());
    let (verification, rehash) = verify_rehashing(
        &Presented::parse(&unused).unwrap(),
        Some(&record),
        &strangers,
        now,
        None,
    );
    assert_eq!((verification, rehash), (Verification::WrongSecret, None));
}

#[test]
fn a_rehash_loses_to_a_roll_that_came_first() {
    use portcullis_core::credential::{Presented, verify_rehashing};
    let mut world = world();
    let (token_id, token) = create_token(&mut world, Terms::default());
    rotated(&mut world);
    let record = world
        .account
        .credential_records()
        .remove(&token_id)
        .unwrap();
    let (_, rehash) = verify_rehashing(
        &Presented::parse(&token).unwrap(),
        Some(&record),
        &world.key,
        world.now,
        None,
    );
    let rehash = rehash.unwrap();
    let rolled = Command::RollApiToken {
        key_id: token_id.clone(),
        overlap_seconds: 0,
    };
    world.apply(&world.owner(), rolled).unwrap();
    let after_roll = world.account.clone();
    assert!(!world.account.rehash_credential(&rehash));
    assert!(
        world.account == after_roll,
        "a stale re-hash changed the account"
    );
    assert_eq!(
        verify_at(&world, &token, world.now, None),
        Verification::WrongSecret
    );
}

#[test]
fn sealed_client_secrets_are_sealed_again_under_the_current_key() {
    let mut world = world();
    world.sso_connection();
    let new = rotated(&mut world);
    let ring = world.key.clone();
    let mut random = portcullis_core::random::SeededRandom::new(5);
    assert!(world.account.reseal_secrets(&ring, &mut random));
    // Now under the current key: nothing more to do, and it opens as the previous key of a
    // later rotation.
    assert!(!world.account.reseal_secrets(&ring, &mut random));
    assert!(
        !world.account.reseal_secrets(&new, &mut random),
        "no rotation"
    );
    let later = portcullis_core::HashingKey::from_bytes(&[43; 32])
        .unwrap()
        .with_previous(&new);
    assert!(world.account.reseal_secrets(&later, &mut random));
}

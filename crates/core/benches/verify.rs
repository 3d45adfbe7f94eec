//! Criterion benchmarks: credential verification and authorization, with a bare HMAC-SHA256 of
//! the same secret as the floor.
//!
//! Every benchmark sits in the one group `verify`, so the figures come from the same run and can
//! be compared as ratios (verification over the HMAC floor). Run with
//! `cargo bench -p portcullis-core --bench verify`; docs/PERFORMANCE.md records the figures.
#![allow(missing_docs)]
#![allow(
    clippy::expect_used,
    reason = "benchmark setup: a broken fixture must stop the run loudly, not be measured"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use portcullis_core::account::{Context, Outcome, SignUp};
use portcullis_core::credential::{self, CredentialRecord, Malformed, Verification};
use portcullis_core::random::{RandomSource, SeededRandom};
use portcullis_core::{Account, Actor, Command, HashingKey, Principal, authorize};
use sha2::Sha256;
use std::hint::black_box;

/// Everything the benchmarks read, built once from a real signed-up account.
struct Fixture {
    key_bytes: [u8; 32],
    key: HashingKey,
    now: portcullis_core::Timestamp,
    /// The owner's API token (`pctk_…:pcts_…`) and its stored record.
    token: String,
    token_record: CredentialRecord,
    /// The token's 32 secret bytes, for the HMAC floor.
    token_secret: [u8; 32],
    /// An automation key (`pcak_…`) and its stored record.
    automation_key: String,
    automation_record: CredentialRecord,
    /// The token's key id with another token's (well-formed) secret.
    wrong_secret: String,
    /// The token with one character changed: refused by the checksum.
    mistyped: String,
    /// The principal a valid token verification yields.
    principal: Principal,
}

fn fixture() -> Fixture {
    let mut random = SeededRandom::new(2024);
    let mut key_bytes = [0_u8; 32];
    random.fill(&mut key_bytes);
    let key = HashingKey::from_bytes(&key_bytes).expect("32 bytes is a valid hashing key");
    let now = portcullis_core::Timestamp::from_unix_seconds(1_750_000_000);

    let signed_up = Account::sign_up(
        SignUp {
            account_name: "Bench Corp".parse().expect("valid name"),
            owner_email: "owner@bench.example".parse().expect("valid email"),
            owner_name: "Bench Owner".parse().expect("valid name"),
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
    let owner = Actor::user(signed_up.owner_id.clone());
    let token = signed_up.token.secret.expose().to_owned();
    let token_record = account
        .credential_record(&signed_up.token.key_id)
        .expect("the owner's token has a record");

    let created = account
        .apply(
            &owner,
            Command::CreateAutomationKey {
                tenant_id: signed_up.tenant_id.clone(),
                name: "ci".parse().expect("valid name"),
                terms: portcullis_core::terms::Terms::default(),
            },
            &mut Context {
                now,
                random: &mut random,
                key: &key,
            },
        )
        .expect("the owner may create an automation key on the team plan");
    let Outcome::AutomationKeyCreated {
        key_id: automation_id,
        key: automation_secret,
    } = created
    else {
        unreachable!("create_automation_key answers AutomationKeyCreated")
    };
    let automation_key = automation_secret.expose().to_owned();
    let automation_record = account
        .credential_record(&automation_id)
        .expect("the automation key has a record");

    let (token_id, token_secret_text) = token.split_once(':').expect("token is `id:secret`");
    let secret_body = token_secret_text
        .strip_prefix(credential::API_TOKEN_SECRET_PREFIX)
        .expect("secret has its prefix");
    let decoded = URL_SAFE_NO_PAD
        .decode(secret_body)
        .expect("secret is base64");
    let token_secret: [u8; 32] = decoded
        .get(..32)
        .and_then(|bytes| bytes.try_into().ok())
        .expect("secret carries 32 bytes before its checksum");

    let other = credential::issue_api_token(&mut SeededRandom::new(7), &key);
    let other_secret = other
        .secret
        .expose()
        .split_once(':')
        .expect("token is `id:secret`")
        .1;
    let wrong_secret = format!("{token_id}:{other_secret}");

    // Change one character in the middle of the secret to another base64 character: the
    // encoding and length stay valid, so only the checksum can refuse it.
    let middle = token.len() - 20;
    let replacement = if token.as_bytes().get(middle) == Some(&b'A') {
        "B"
    } else {
        "A"
    };
    let mut mistyped = token.clone();
    mistyped.replace_range(middle..=middle, replacement);

    let valid = credential::verify(&token, Some(&token_record), &key, now, None);
    let principal = valid
        .principal()
        .cloned()
        .expect("the owner's token verifies");
    assert!(
        credential::verify(&automation_key, Some(&automation_record), &key, now, None)
            .principal()
            .is_some(),
        "the automation key verifies"
    );
    assert_eq!(
        credential::verify(&wrong_secret, Some(&token_record), &key, now, None),
        Verification::WrongSecret
    );
    assert_eq!(
        credential::verify(&mistyped, Some(&token_record), &key, now, None),
        Verification::Malformed(Malformed::Checksum)
    );
    assert!(
        authorize(
            &principal,
            "run_build"
                .parse::<portcullis_core::Operation>()
                .expect("a name of the default model")
        )
        .allow
    );

    Fixture {
        key_bytes,
        key,
        now,
        token,
        token_record,
        token_secret,
        automation_key,
        automation_record,
        wrong_secret,
        mistyped,
        principal,
    }
}

fn bench_verify(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("verify");
    // One operation per iteration: throughput reads as operations per second.
    group.throughput(Throughput::Elements(1));

    group.bench_function("hmac_sha256_floor", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&f.key_bytes))
                .expect("HMAC takes keys of any length");
            mac.update(black_box(&f.token_secret));
            mac.finalize().into_bytes()
        });
    });
    // The same MAC from a state keyed once (what `HashingKey` keeps): the floor of a verify
    // that does not key its HMAC per call.
    let prekeyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&f.key_bytes)
        .expect("HMAC takes keys of any length");
    group.bench_function("hmac_sha256_prekeyed", |b| {
        b.iter(|| {
            let mut mac = black_box(&prekeyed).clone();
            mac.update(black_box(&f.token_secret));
            mac.finalize().into_bytes()
        });
    });
    group.bench_function("api_token_valid", |b| {
        b.iter(|| {
            credential::verify(
                black_box(&f.token),
                Some(black_box(&f.token_record)),
                &f.key,
                f.now,
                None,
            )
        });
    });
    group.bench_function("automation_key_valid", |b| {
        b.iter(|| {
            credential::verify(
                black_box(&f.automation_key),
                Some(black_box(&f.automation_record)),
                &f.key,
                f.now,
                None,
            )
        });
    });
    group.bench_function("api_token_wrong_secret", |b| {
        b.iter(|| {
            credential::verify(
                black_box(&f.wrong_secret),
                Some(black_box(&f.token_record)),
                &f.key,
                f.now,
                None,
            )
        });
    });
    group.bench_function("malformed_checksum", |b| {
        b.iter(|| {
            credential::verify(
                black_box(&f.mistyped),
                Some(black_box(&f.token_record)),
                &f.key,
                f.now,
                None,
            )
        });
    });
    group.bench_function("lookup_key_parse_only", |b| {
        b.iter(|| credential::lookup_key(black_box(&f.token)));
    });
    let run_build = "run_build"
        .parse::<portcullis_core::Operation>()
        .expect("a name of the default model");
    group.bench_function("authorize_run_build", |b| {
        b.iter(|| authorize(black_box(&f.principal), black_box(run_build)));
    });
    // The same decision with the model passed in, as a runtime holding it would call it.
    let model = portcullis_core::model::current();
    group.bench_function("model_authorize_run_build", |b| {
        b.iter(|| model.authorize(black_box(&f.principal), black_box(run_build)));
    });
    group.finish();
}

/// Session verification over its two records, and Argon2id at the shipped parameters (one
/// password hash, and one verification against the dummy hash: the cost of every sign-in).
fn bench_sign_in(c: &mut Criterion) {
    use portcullis_core::session::{self, AccessRecord, SessionRecord, TenantAccess};
    use portcullis_core::{AccountId, PermissionSet, TenantId, Timestamp, UserId, password};
    let key = HashingKey::from_bytes(&[9; 32]).expect("32 bytes");
    let mut random = SeededRandom::new(5);
    let issued = session::generate(&mut random, &key);
    let account_id = AccountId::generate(&mut random);
    let user_id = UserId::generate(&mut random);
    let tenant = TenantId::generate(&mut random);
    let record = SessionRecord {
        session_id: issued.id.clone(),
        account_id: account_id.clone(),
        user_id: user_id.clone(),
        secret_hash: issued.hash,
        idle_expires_at: Timestamp::from_unix_seconds(u64::MAX),
        absolute_expires_at: Timestamp::from_unix_seconds(u64::MAX),
        method: session::SignInMethod::Password,
    };
    let access = AccessRecord {
        account_id,
        user_id,
        status: portcullis_core::user::UserStatus::Active,
        tenants: [(
            tenant.clone(),
            TenantAccess {
                permissions: PermissionSet::all(),
                plan: portcullis_core::Plan::named("team").expect("a name of the default model"),
                sso: None,
            },
        )]
        .into(),
    };
    let now = Timestamp::from_unix_seconds(0);
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    group.bench_function("session_valid", |b| {
        b.iter(|| {
            session::verify_session(
                black_box(issued.secret.expose()),
                Some(black_box(&record)),
                Some(black_box(&access)),
                &tenant,
                &key,
                now,
            )
        });
    });
    group.finish();

    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    let typed = password::Password::new("correct horse battery staple").expect("policy");
    group.bench_function("argon2id_hash_m19456_t2_p1", |b| {
        b.iter(|| password::hash(black_box(&typed), &key, &mut random));
    });
    group.bench_function("argon2id_verify_dummy", |b| {
        b.iter(|| password::verify(black_box("correct horse battery staple"), None, &key));
    });
    group.finish();
}

criterion_group!(benches, bench_verify, bench_sign_in);
criterion_main!(benches);

//! Runs one step of a credential verification `N` times, for instruction counts under
//! callgrind, which a loaded machine does not disturb the way it does wall-clock timings:
//!
//! ```sh
//! cargo build --release -p portcullis-core --example verify-count
//! for step in none floor prekeyed mac valid wrong parse; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/verify-count "$step" 100000 2>&1 | grep 'Collected'
//! done
//! ```
//!
//! `none` builds the fixture only; subtract its count from each step's and divide by `N` for the
//! instructions of one call. The steps are those of `benches/verify.rs`: `floor` is one
//! HMAC-SHA256 of the 32-byte secret keyed afresh, `prekeyed` the same from a state keyed once,
//! `mac` the MAC a token's verification computes (its domain, key id and secret, 86 bytes, from
//! the hashing key's pre-keyed state), `valid` and `wrong` a verification of the owner's API token and of its key id with another
//! token's secret, `parse` the key id lookup (no HMAC).

use hmac::{Hmac, KeyInit, Mac};
use portcullis_core::account::{Context, SignUp};
use portcullis_core::credential::{self, Verification};
use portcullis_core::random::{RandomSource, SeededRandom};
use portcullis_core::{Account, HashingKey, Timestamp};
use sha2::Sha256;
use std::hint::black_box;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (step, count) = match args.as_slice() {
        [step, count] => match count.parse::<u64>() {
            Ok(count) => (step.as_str(), count),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };

    let mut random = SeededRandom::new(2024);
    let mut key_bytes = [0_u8; 32];
    random.fill(&mut key_bytes);
    let Ok(key) = HashingKey::from_bytes(&key_bytes) else {
        return fail("32 bytes were refused as a hashing key");
    };
    let now = Timestamp::from_unix_seconds(1_750_000_000);
    let (Ok(account_name), Ok(owner_email), Ok(owner_name), Ok(tenant_name), Ok(plan)) = (
        "Bench Corp".parse(),
        "owner@bench.example".parse(),
        "Bench Owner".parse(),
        "Production".parse(),
        portcullis_core::Plan::named("team"),
    ) else {
        return fail("the fixture's names were refused");
    };
    let signed_up = Account::sign_up(
        SignUp {
            account_name,
            owner_email,
            owner_name,
            tenant_name,
            plan,
            trial: false,
        },
        &mut Context {
            now,
            random: &mut random,
            key: &key,
        },
    );
    let token = signed_up.token.secret.expose().to_owned();
    let Some(record) = signed_up.account.credential_record(&signed_up.token.key_id) else {
        return fail("the owner's token has no record");
    };
    let other = credential::issue_api_token(&mut SeededRandom::new(7), &key);
    let (Some((token_id, _)), Some((_, other_secret))) =
        (token.split_once(':'), other.secret.expose().split_once(':'))
    else {
        return fail("a token is not `id:secret`");
    };
    let wrong_secret = format!("{token_id}:{other_secret}");
    let secret = [0x5a_u8; 32];
    if !matches!(
        credential::verify(&token, Some(&record), &key, now, None),
        Verification::Valid(_)
    ) || credential::verify(&wrong_secret, Some(&record), &key, now, None)
        != Verification::WrongSecret
    {
        return fail("the fixture does not verify as expected");
    }
    let Ok(prekeyed) = <Hmac<Sha256> as KeyInit>::new_from_slice(&key_bytes) else {
        return fail("HMAC refused a key");
    };

    for _ in 0..count {
        match step {
            "none" => {}
            "floor" => {
                if let Ok(mut mac) =
                    <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&key_bytes))
                {
                    mac.update(black_box(&secret));
                    black_box(mac.finalize().into_bytes());
                }
            }
            "prekeyed" => {
                let mut mac = black_box(&prekeyed).clone();
                mac.update(black_box(&secret));
                black_box(mac.finalize().into_bytes());
            }
            "mac" => {
                black_box(key.hash_parts(
                    black_box("portcullis/api-token/v1"),
                    &[token_id.as_bytes(), &[0], black_box(&secret)],
                ));
            }
            "valid" => {
                black_box(credential::verify(
                    black_box(&token),
                    Some(black_box(&record)),
                    &key,
                    now,
                    None,
                ));
            }
            "wrong" => {
                black_box(credential::verify(
                    black_box(&wrong_secret),
                    Some(black_box(&record)),
                    &key,
                    now,
                    None,
                ));
            }
            "parse" => {
                let _ = black_box(credential::lookup_key(black_box(&token)));
            }
            _ => return usage(),
        }
    }
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: verify-count <none|floor|prekeyed|mac|valid|wrong|parse> <count>");
    ExitCode::from(2)
}

fn fail(why: &str) -> ExitCode {
    eprintln!("verify-count: {why}");
    ExitCode::FAILURE
}

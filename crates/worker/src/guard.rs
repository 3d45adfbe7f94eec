//! What the edge does around every verification, without slowing the ones that succeed:
//! throttling failed verifications (the Workers rate-limiting bindings, asked only after a
//! failure, plus this isolate's memory of blocked clients and key ids, checked before verifying)
//! and reporting credential use to the account's Durable Object after the response, at most
//! once per credential per interval. The rules are the core's (`gateway::throttle`,
//! `gateway::usage`).

use crate::http::{self, FAILURES_BY_CLIENT_BINDING, FAILURES_BY_KEY_BINDING};
use crate::protocol::{LastUsed, Report, SessionSeen};
use portcullis_core::AccountId;
use portcullis_core::authz::{Principal, PrincipalKind};
use portcullis_core::credential::{KeyId, Rehash, Verification};
use portcullis_core::gateway::request_counts::RequestCounter;
use portcullis_core::gateway::throttle::{
    BLOCK_SECONDS, Blocklist, Subject, charged_subjects, session_subjects,
};
// Sign-in and one-time-code throttling: the Management API script's only.
#[cfg(feature = "api")]
use portcullis_core::gateway::throttle::{SignInLimit, acceptance_subjects, sign_in_subjects};
use portcullis_core::gateway::usage::UsageReports;
use portcullis_core::session::{SessionId, SessionVerification};
use portcullis_core::terms::RateLimit;
use std::cell::RefCell;
#[cfg(feature = "api")]
use std::collections::BTreeSet;
use worker::{Context, Env, Request};

/// How many blocks and usage reports one isolate remembers.
const MEMORY: usize = 10_000;

thread_local! {
    static BLOCKED: RefCell<Blocklist> = RefCell::new(Blocklist::new(MEMORY));
    static COUNTED: RefCell<RequestCounter> = RefCell::new(RequestCounter::new(MEMORY));
    static SEEN: RefCell<UsageReports<SessionId>> = RefCell::new(UsageReports::new(MEMORY));
    static REHASHED: RefCell<UsageReports> = RefCell::new(UsageReports::new(MEMORY));
}

/// The calling client as the platform reports it (`CF-Connecting-IP`, set by Cloudflare and
/// by `wrangler dev`).
pub fn client(request: &Request) -> Subject {
    let address = request
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_default();
    Subject::client(if address.is_empty() {
        "unknown"
    } else {
        &address
    })
}

/// The client's address, from `CF-Connecting-IP` (set by Cloudflare on every request; a
/// client cannot override it there). `None` when absent or unreadable: a credential with
/// client IP rules is then refused.
pub fn client_address(request: &Request) -> Option<std::net::IpAddr> {
    request
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .and_then(|address| address.trim().parse().ok())
}

/// Seconds the caller must wait when the client or the presented key id is blocked.
pub fn blocked(client: &Subject, key_id: Option<&KeyId>) -> Option<u64> {
    let credential = key_id.map(|key_id| Subject::Credential(key_id.clone()));
    blocked_any(std::iter::once(client).chain(credential.as_ref()))
}

/// Seconds the caller must wait when any of `subjects` is blocked.
pub fn blocked_any<'s>(subjects: impl IntoIterator<Item = &'s Subject>) -> Option<u64> {
    BLOCKED.with_borrow(|blocked| blocked.retry_after(subjects, http::now()))
}

/// Seconds the caller must wait when the client or the presented session id is blocked.
pub fn session_blocked(client: &Subject, session_id: Option<&SessionId>) -> Option<u64> {
    let session = session_id.map(|id| Subject::Session(id.clone()));
    blocked_any(std::iter::once(client).chain(session.as_ref()))
}

/// Seconds a sign-in for `email` in `account` must wait (the client or the email is blocked).
#[cfg(feature = "api")]
pub fn sign_in_blocked(client: &Subject, account: &AccountId, email: &str) -> Option<u64> {
    blocked_any(&sign_in_subjects(client, account, email))
}

/// Charges a refused session to its subjects' rate limiters, like [`charge`].
pub async fn charge_session(
    env: &Env,
    client: &Subject,
    session_id: Option<&SessionId>,
    verification: &SessionVerification,
) -> Option<u64> {
    let subjects = session_subjects(client, session_id, verification);
    let session = session_id.map(|id| Subject::Session(id.clone()));
    charge_all(
        env,
        subjects,
        std::iter::once(client.clone()).chain(session),
    )
    .await
}

/// Charges an SSO sign-in start to the client (each one stores a pending sign-in, so starts
/// are limited like failures); the seconds to wait when that put it over its limit, or while
/// it is blocked.
#[cfg(feature = "api")]
pub async fn charge_start(env: &Env, client: &Subject) -> Option<u64> {
    if let Some(wait) = blocked(client, None) {
        return Some(wait);
    }
    charge_all(env, vec![client.clone()], std::iter::once(client.clone())).await
}

/// Charges a failed sign-in to the client and the account's email; the seconds to wait when
/// that put either over its limit.
#[cfg(feature = "api")]
pub async fn charge_sign_in(
    env: &Env,
    client: &Subject,
    account: &AccountId,
    email: &str,
) -> Option<(u64, BTreeSet<SignInLimit>)> {
    let subjects = sign_in_subjects(client, account, email);
    let (over, wait) = charge_tripped(env, subjects.clone(), subjects).await;
    let limits = over.iter().filter_map(SignInLimit::of).collect();
    wait.map(|wait| (wait, limits))
}

/// Charges a failed verification to its subjects' rate limiters; the seconds to wait when
/// that put any of them over its limit. A missing or failing limiter charges nothing (the
/// request still fails verification).
pub async fn charge(
    env: &Env,
    client: &Subject,
    key_id: Option<&KeyId>,
    verification: &Verification,
) -> Option<u64> {
    charge_subjects(
        env,
        client,
        key_id,
        charged_subjects(client, key_id, verification),
    )
    .await
}

/// Charges a refused invitation acceptance (answered `refusal_code`) to the client; the seconds
/// to wait when that put it over its limit.
#[cfg(feature = "api")]
pub async fn charge_acceptance(env: &Env, client: &Subject, refusal_code: &str) -> Option<u64> {
    charge_subjects(env, client, None, acceptance_subjects(client, refusal_code)).await
}

async fn charge_subjects(
    env: &Env,
    client: &Subject,
    key_id: Option<&KeyId>,
    subjects: Vec<Subject>,
) -> Option<u64> {
    let credential = key_id.map(|key_id| Subject::Credential(key_id.clone()));
    charge_all(
        env,
        subjects,
        std::iter::once(client.clone()).chain(credential),
    )
    .await
}

/// Charges `subjects`; when any went over its limit, blocks them and answers how long the
/// `answered` subjects (the request's own) must wait.
async fn charge_all(
    env: &Env,
    subjects: Vec<Subject>,
    answered: impl IntoIterator<Item = Subject>,
) -> Option<u64> {
    charge_tripped(env, subjects, answered).await.1
}

/// [`charge_all`], also answering which subjects this charge put over their limit (none when
/// they were all within it, or already blocked elsewhere in the isolate).
async fn charge_tripped(
    env: &Env,
    subjects: Vec<Subject>,
    answered: impl IntoIterator<Item = Subject>,
) -> (Vec<Subject>, Option<u64>) {
    let now = http::now();
    let mut over = Vec::new();
    for subject in subjects {
        let binding = match subject {
            Subject::Client(_) => FAILURES_BY_CLIENT_BINDING,
            Subject::Credential(_) | Subject::Session(_) | Subject::SignIn(_) => {
                FAILURES_BY_KEY_BINDING
            }
        };
        match limit(env, binding, &subject.limiter_key()).await {
            Limited::Over => over.push(subject),
            Limited::Within => {}
            Limited::Unbound => worker::console_warn!(
                "rate limiter `{binding}` is not bound: failures are not limited"
            ),
            Limited::Failed(error) => {
                worker::console_warn!("rate limiter `{binding}` failed: {error:?}");
            }
        }
    }
    if over.is_empty() {
        return (over, None);
    }
    BLOCKED.with_borrow_mut(|blocked| {
        for subject in &over {
            blocked.block(subject.clone(), now.plus_seconds(BLOCK_SECONDS), now);
        }
    });
    let answered: Vec<Subject> = answered.into_iter().collect();
    (over, blocked_any(&answered))
}

/// Counts a request `principal`'s credential authenticated, and reports its use and the
/// requests counted since the last report after the response, when the core's counter says a
/// report is due (the first use seen here, then once per interval, and when a day ends).
pub fn report_use(env: &Env, context: &Context, principal: &Principal) {
    let key_id = match &principal.kind {
        PrincipalKind::User { key_id, .. } | PrincipalKind::AutomationKey { key_id } => key_id,
        PrincipalKind::Session { session_id, .. } => {
            return report_session_seen(env, context, &principal.account_id, session_id);
        }
    };
    let now = http::now();
    let interval = http::usage_report_seconds(env);
    let Some(requests) = COUNTED.with_borrow_mut(|counted| counted.count(key_id, now, interval))
    else {
        return;
    };
    let message = Report::RecordLastUsed(LastUsed {
        key_id: key_id.clone(),
        at: now,
        requests,
    });
    send_report(env, context, &principal.account_id, message);
}

/// Whether a credential with `limit` may authenticate one more request now, asked of the
/// tier's Workers rate-limiting binding (keyed by the key id). A binding that is missing or
/// fails lets the request through, with a warning: the limit is a quota, not a security
/// boundary, and the platform's own limiter is approximate.
pub async fn within_rate_limit(env: &Env, key_id: &KeyId, limit: RateLimit) -> bool {
    let binding = limit.binding();
    match self::limit(env, &binding, &key_id.to_string()).await {
        Limited::Within => true,
        Limited::Over => false,
        Limited::Unbound => {
            worker::console_warn!(
                "rate limiter `{binding}` is not bound: `{limit}` is not enforced"
            );
            true
        }
        Limited::Failed(error) => {
            worker::console_warn!("rate limiter `{binding}` failed: {error:?}");
            true
        }
    }
}

/// What a Workers rate-limiting binding answered.
enum Limited {
    Within,
    Over,
    /// No such binding.
    Unbound,
    /// The call failed (its error, or the answer when it is not `{ success: boolean }`).
    Failed(wasm_bindgen::JsValue),
}

/// Counts one request for `key` on the rate-limiting binding `binding`. The binding is called
/// directly (`limit({ key })`, its `success` read back): workers-rs's `RateLimiter::limit`
/// goes through serde-wasm-bindgen both ways, which kept its (de)serializers in the edge
/// script (2.7 KB, docs/PERFORMANCE.md).
async fn limit(env: &Env, binding: &str, key: &str) -> Limited {
    use wasm_bindgen::{JsCast as _, JsValue};
    use worker::js_sys::{Object, Promise, Reflect};
    let Ok(limiter) = env.rate_limiter(binding) else {
        return Limited::Unbound;
    };
    let limiter = JsValue::from(limiter).unchecked_into::<worker::worker_sys::RateLimiter>();
    let options = Object::new();
    if let Err(error) = Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key)) {
        return Limited::Failed(error);
    }
    let promise: Promise = match limiter.limit(options) {
        Ok(promise) => promise,
        Err(error) => return Limited::Failed(error),
    };
    let outcome = match worker::js_sys::futures::JsFuture::from(promise).await {
        Ok(outcome) => outcome,
        Err(error) => return Limited::Failed(error),
    };
    match Reflect::get(&outcome, &JsValue::from_str("success")).map(|value| value.as_bool()) {
        Ok(Some(true)) => Limited::Within,
        Ok(Some(false)) => Limited::Over,
        _ => Limited::Failed(outcome),
    }
}

/// Asks the account's Durable Object to store a credential's hash under the current hashing key
/// (a rotation is under way), after the response and at most once per interval per isolate:
/// until the edge's copy of the record changes, every use would ask again.
pub fn report_rehash(env: &Env, context: &Context, account: &AccountId, rehash: Rehash) {
    let now = http::now();
    if !REHASHED.with_borrow_mut(|reported| reported.should_report(&rehash.key_id, now)) {
        return;
    }
    send_report(env, context, account, Report::RehashCredential(rehash));
}

/// Reports that a session authenticated a request now (it moves the session's idle expiry),
/// after the response and at most once per interval per isolate.
pub fn report_session_seen(
    env: &Env,
    context: &Context,
    account: &AccountId,
    session_id: &SessionId,
) {
    let now = http::now();
    if !SEEN.with_borrow_mut(|seen| seen.should_report(session_id, now)) {
        return;
    }
    let message = Report::RecordSessionSeen(SessionSeen {
        session_id: session_id.clone(),
        at: now,
    });
    send_report(env, context, account, message);
}

fn send_report(env: &Env, context: &Context, account: &AccountId, message: Report) {
    let account = account.clone();
    let env = env.clone();
    context.wait_until(async move {
        match crate::authn::forward(&env, &account, &message).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => worker::console_warn!("last-used report failed: {error}"),
            Err(problem) => worker::console_warn!("last-used report failed: {}", problem.code),
        }
    });
}

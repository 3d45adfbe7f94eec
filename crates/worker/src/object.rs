//! The account's Durable Object: the one writer of an account.
//!
//! It holds the account state in its SQLite storage, applies commands with the core engine one
//! at a time (every request runs inside `blockConcurrencyWhile`, so limits and lockout rules
//! hold under concurrent requests), stores audit events in their own table, and projects each
//! credential to Workers KV before it answers. KV writes go through an outbox table written in
//! the same transaction as the state: if a KV write fails, the next request finishes it first.
//!
//! Notifications the engine produces are drained into the `notifications` table in that same
//! synchronous write, so a notification exists exactly when the change that caused it was
//! stored. They stay there until acknowledged, through the API or by a webhook receiver's 2xx
//! answer; webhook deliveries run from the object's alarm, outside `blockConcurrencyWhile` (a slow
//! receiver never holds up the account's requests), retried with the core's backoff.

use crate::api::Query;
use crate::http::{self, KV_BINDING, Outgoing};
use crate::problem::Problem;
use crate::protocol::{Acceptance, LastUsed, ObjectRequest, SessionAction, SessionSeen};
use futures_util::future::{Either, select};
use portcullis_core::account::{Account, Actor, Context, Outcome, Refusal};
use portcullis_core::account::{ChangeSet, Row, RowChange, RowKind};
use portcullis_core::audit::{AuditEvent, ChainHead, verify_chain_from};
use portcullis_core::browser;
use portcullis_core::command::Command;
use portcullis_core::ids::DisplayName;
use portcullis_core::notification::{
    self, AckState, Acknowledgement, DELIVERY_HEADER, Delivery, DeliveryState, MAX_BATCH,
    Notification, RetryPolicy, SIGNATURE_HEADER,
};
use portcullis_core::random::OsRandom;
use portcullis_core::session::IssuedSession;
use portcullis_core::sso::{self, Jwks, OidcProviderMetadata, SsoConnectionId};
use portcullis_core::store::{
    LEGACY_ACCOUNT_STATE_KEY, RecordChange, SignInRecordChange, SignInRecords, access_key,
    account_key, credential_key, record_changes, session_key, sign_in_changes,
};
use portcullis_core::{HashingKey, PermissionSet};
use portcullis_core::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::pin::pin;
use std::rc::Rc;
use std::str::FromStr as _;
use std::time::Duration;
use worker::{
    AbortController, Delay, DurableObject, Env, Fetch, Headers, Request, Response, SqlStorage,
    SqlStorageValue, State, Storage, durable_object,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entity (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, tenant TEXT, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, seq);
CREATE TABLE IF NOT EXISTS kv_outbox (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS notifications (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT, acknowledged_at INTEGER);
CREATE INDEX IF NOT EXISTS notifications_acknowledged ON notifications (acknowledged_at);
";

/// The `state` row holding webhook delivery progress (a core `DeliveryState`).
const DELIVERY_KEY: &str = "webhook_delivery";

/// One account's Durable Object.
#[durable_object]
pub struct AccountObject {
    state: State,
    env: Env,
    /// The account as last stored (loaded on first use).
    cache: Rc<RefCell<Option<Account>>>,
}

impl std::fmt::Debug for AccountObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountObject")
    }
}

/// What a request produced: a status and a rendered JSON body (or a problem).
struct Reply {
    status: u16,
    body: Result<String, Problem>,
}

impl Reply {
    fn json<T: Serialize>(status: u16, value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Reply {
                status,
                body: Ok(body),
            },
            Err(_) => Problem::unavailable().into(),
        }
    }

    fn into_response(self) -> worker::Result<Response> {
        match self.body {
            Ok(_) if self.status == 204 => Ok(Response::empty()?.with_status(204)),
            Ok(body) => http::raw_json(self.status, body),
            Err(problem) => http::problem(&problem),
        }
    }
}

impl From<Problem> for Reply {
    fn from(problem: Problem) -> Self {
        Reply {
            status: problem.status,
            body: Err(problem),
        }
    }
}

impl DurableObject for AccountObject {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            cache: Rc::new(RefCell::new(None)),
        }
    }

    async fn fetch(&self, mut request: Request) -> worker::Result<Response> {
        if !crate::route_policy::install() {
            return Reply::from(Problem::unavailable()).into_response();
        }
        let body = request.bytes().await?;
        let message: ObjectRequest = match serde_json::from_slice(&body) {
            Ok(message) => message,
            Err(_) => {
                return Reply::from(Problem::new(
                    400,
                    "invalid_body",
                    "malformed internal request",
                ))
                .into_response();
            }
        };
        let storage = self.state.storage();
        let env = self.env.clone();
        let cache = Rc::clone(&self.cache);
        // One request at a time, KV projection included: nothing interleaves with a command.
        let reply = self
            .state
            .block_concurrency_while(async move {
                let reply = handle(&storage, &env, &cache, message).await;
                schedule_delivery(&storage, &cache).await;
                Ok(reply)
            })
            .await?;
        reply.into_response()
    }

    async fn alarm(&self) -> worker::Result<Response> {
        // Failures are recorded and rescheduled by `deliver` itself; the runtime's own alarm
        // retries are not relied on.
        deliver(&self.state.storage(), &self.env, &self.cache).await;
        Response::empty()
    }
}

async fn handle(
    storage: &Storage,
    env: &Env,
    cache: &RefCell<Option<Account>>,
    message: ObjectRequest,
) -> Reply {
    let sql = storage.sql();
    // Only sign-up creates an account's storage: any other request to an object that holds
    // none is answered without writing anything.
    // A cached account was loaded from that storage: no query needed.
    let initialised = matches!(message, ObjectRequest::Init { .. })
        || cache.borrow().is_some()
        || has_schema(&sql);
    if !initialised {
        return match message {
            ObjectRequest::AcceptInvitation { .. } => {
                Problem::from(&Refusal::InvitationInvalid).into()
            }
            ObjectRequest::SignIn { .. } => Problem::from(&Refusal::SignInFailed).into(),
            ObjectRequest::ResetPassword { .. } => {
                Problem::from(&Refusal::PasswordResetInvalid).into()
            }
            ObjectRequest::OidcToken { .. }
            | ObjectRequest::CompleteOidc { .. }
            | ObjectRequest::CompleteSaml { .. } => Problem::from(&Refusal::SsoStateInvalid).into(),
            _ => Problem::new(404, "account_not_found", "the account does not exist").into(),
        };
    }
    if sql.exec(SCHEMA, None).is_err() {
        return Problem::unavailable().into();
    }
    if flush_outbox(env, &sql).await.is_err() {
        return Problem::unavailable().into();
    }
    let account = match load(&sql, cache) {
        Ok(account) => account,
        Err(problem) => return problem.into(),
    };
    match (message, account) {
        (ObjectRequest::Init { account }, None) => {
            // The account marker the edge checks before unauthenticated requests reach here,
            // written to KV with the account's first projections.
            let marker = sql.exec(
                "INSERT OR REPLACE INTO kv_outbox (key, value) VALUES (?, ?)",
                vec![
                    SqlStorageValue::from(account_key(account.id())),
                    SqlStorageValue::from("1"),
                ],
            );
            if marker.is_err() {
                return Problem::unavailable().into();
            }
            match persist(env, &sql, cache, &Snapshot::empty(), *account).await {
                Ok(()) => Reply {
                    status: 204,
                    body: Ok(String::new()),
                },
                Err(problem) => problem.into(),
            }
        }
        (ObjectRequest::Init { .. }, Some(_)) => {
            Problem::new(409, "account_exists", "this account already exists").into()
        }
        (ObjectRequest::AcceptInvitation { .. }, None) => {
            Problem::from(&Refusal::InvitationInvalid).into()
        }
        (ObjectRequest::SignIn { .. }, None) => Problem::from(&Refusal::SignInFailed).into(),
        (ObjectRequest::ResetPassword { .. }, None) => {
            Problem::from(&Refusal::PasswordResetInvalid).into()
        }
        (
            ObjectRequest::ResetPassword {
                request,
                user_agent,
            },
            Some(account),
        ) => {
            open_session(env, &sql, cache, account, 200, |account, context| {
                let (code, password) = (&request.code.0, &request.new_password.0);
                account.reset_password(
                    &request.email,
                    code,
                    password,
                    user_agent.as_deref(),
                    context,
                )
            })
            .await
        }
        (_, None) => Problem::new(404, "account_not_found", "the account does not exist").into(),
        (ObjectRequest::Command { actor, command }, Some(account)) => {
            run_command(env, &sql, cache, account, &actor, command).await
        }
        (ObjectRequest::Query { actor, query }, Some(account)) => {
            answer(env, &sql, &account, &actor, query)
        }
        (
            ObjectRequest::AcceptInvitation {
                acceptance,
                user_agent,
            },
            Some(account),
        ) => accept(env, &sql, cache, account, acceptance, user_agent).await,
        (
            ObjectRequest::SignIn {
                request,
                user_agent,
            },
            Some(account),
        ) => {
            open_session(env, &sql, cache, account, 201, |account, context| {
                let password = &request.password.0;
                account.sign_in_password(&request.email, password, user_agent.as_deref(), context)
            })
            .await
        }
        (ObjectRequest::Sessions { actor, action }, Some(account)) => {
            sessions(env, &sql, cache, account, &actor, action).await
        }
        (ObjectRequest::OidcDiscovery { connection_id }, Some(account)) => {
            let started = account
                .sso_connection_protocol(&connection_id)
                .and_then(|protocol| match protocol {
                    "saml" => Ok(json!({ "protocol": "saml" })),
                    _ => account
                        .oidc_discovery_url(&connection_id)
                        .map(|url| json!({ "protocol": "oidc", "discovery_url": url })),
                });
            match started {
                Ok(answer) => Reply::json(200, &answer),
                Err(refusal) => Problem::from(&refusal).into(),
            }
        }
        (
            ObjectRequest::BeginSaml {
                connection_id,
                origin,
            },
            Some(account),
        ) => {
            start_sign_in(env, &sql, cache, account, |account, context| {
                account.begin_saml_sign_in(&connection_id, &origin, context)
            })
            .await
        }
        (
            ObjectRequest::CompleteSaml {
                relay_state,
                saml_response,
                user_agent,
            },
            Some(account),
        ) => {
            open_session(env, &sql, cache, account, 200, |account, context| {
                let completed = account.complete_saml_sign_in(
                    &relay_state,
                    &saml_response.0,
                    user_agent.as_deref(),
                    context,
                );
                if let Err(Refusal::SsoAssertionInvalid(detail)) = &completed {
                    worker::console_warn!("SAML response refused: {detail}");
                }
                completed
            })
            .await
        }
        (
            ObjectRequest::BeginOidc {
                connection_id,
                metadata,
                redirect_uri,
                login_hint,
            },
            Some(account),
        ) => {
            begin_oidc(
                env,
                &sql,
                cache,
                account,
                &connection_id,
                &metadata,
                &redirect_uri,
                login_hint.as_ref(),
            )
            .await
        }
        (ObjectRequest::OidcToken { state, code }, Some(mut account)) => {
            let key = match http::hashing_key(env) {
                Ok(key) => key,
                Err(problem) => return problem.into(),
            };
            // The only use of a sealed client secret: during a hashing key rotation, seal it
            // again under the current key first, so it still opens once the previous is gone.
            if key.has_previous() {
                let before = Snapshot::of(&account);
                if account.reseal_secrets(&key, &mut OsRandom)
                    && let Err(problem) = persist(env, &sql, cache, &before, account.clone()).await
                {
                    return problem.into();
                }
            }
            match account.oidc_token_request(&state, &code.0, &key, http::now()) {
                Ok(request) => Reply::json(
                    200,
                    &json!({
                        "token_endpoint": request.token_endpoint,
                        "jwks_uri": request.jwks_uri,
                        "body": request.body().expose(),
                        "authorization": request.authorization().map(|value| value.expose().to_owned()),
                    }),
                ),
                Err(refusal) => Problem::from(&refusal).into(),
            }
        }
        (
            ObjectRequest::CompleteOidc {
                state,
                token_response,
                jwks,
                user_agent,
            },
            Some(account),
        ) => {
            open_session(env, &sql, cache, account, 200, |account, context| {
                let id_token = sso::id_token_from_token_response(token_response.0.as_bytes())
                    .map_err(Refusal::SsoTokenInvalid)?;
                let jwks = Jwks::from_json(jwks.as_bytes()).map_err(|_| {
                    Refusal::SsoProviderInvalid("the provider's key set is not valid")
                })?;
                account.complete_oidc_sign_in(
                    &state,
                    &id_token,
                    &jwks,
                    user_agent.as_deref(),
                    context,
                )
            })
            .await
        }
        (ObjectRequest::RecordSessionSeen(SessionSeen { session_id, at }), Some(mut account)) => {
            let before = Snapshot::of(&account);
            if account.record_session_seen(&session_id, at)
                && let Err(problem) = persist(env, &sql, cache, &before, account).await
            {
                return problem.into();
            }
            Reply {
                status: 204,
                body: Ok(String::new()),
            }
        }
        (
            ObjectRequest::RecordSignInThrottled {
                email,
                limits,
                client,
                at,
            },
            Some(mut account),
        ) => {
            let before = Snapshot::of(&account);
            account.record_sign_in_throttled(&email, &limits, &client, at);
            if let Err(problem) = persist(env, &sql, cache, &before, account).await {
                return problem.into();
            }
            Reply {
                status: 204,
                body: Ok(String::new()),
            }
        }
        (ObjectRequest::RehashCredential(rehash), Some(mut account)) => {
            let before = Snapshot::of(&account);
            if account.rehash_credential(&rehash)
                && let Err(problem) = persist(env, &sql, cache, &before, account).await
            {
                return problem.into();
            }
            Reply {
                status: 204,
                body: Ok(String::new()),
            }
        }
        (
            ObjectRequest::RecordLastUsed(LastUsed {
                key_id,
                at,
                requests,
            }),
            Some(mut account),
        ) => {
            let before = Snapshot::of(&account);
            let used = account.record_last_used(&key_id, at);
            let counted = account.record_requests(&key_id, &requests, http::now());
            if (used || counted)
                && let Err(problem) = persist(env, &sql, cache, &before, account).await
            {
                return problem.into();
            }
            Reply {
                status: 204,
                body: Ok(String::new()),
            }
        }
        (
            ObjectRequest::AcknowledgeNotifications {
                actor,
                acknowledgement,
            },
            Some(account),
        ) => match account.authorize_notifications(&actor, http::now()) {
            Ok(()) => acknowledge(&sql, &acknowledgement),
            Err(refusal) => Problem::from(&refusal).into(),
        },
    }
}

/// Whether this object's storage holds the account's tables (sign-up created them).
fn has_schema(sql: &SqlStorage) -> bool {
    #[derive(Deserialize)]
    struct Found {
        n: i64,
    }
    sql.exec(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'state'",
        None,
    )
    .and_then(|cursor| cursor.to_array::<Found>())
    .is_ok_and(|rows| rows.first().is_some_and(|row| row.n > 0))
}

#[derive(Deserialize)]
struct ValueRow {
    value: String,
}

#[derive(Deserialize)]
struct EntityRow {
    kind: String,
    key: String,
    value: String,
}

/// The account before a change, to write only what the change alters (a copy that shares
/// the account's structure: taking it costs nothing).
struct Snapshot {
    account: Option<Account>,
}

impl Snapshot {
    fn of(account: &Account) -> Self {
        Self {
            account: Some(account.clone()),
        }
    }

    /// Nothing stored yet (a new account).
    fn empty() -> Self {
        Self { account: None }
    }
}

/// What every change starts from: the hashing key and the account before it.
fn begin(env: &Env, account: &Account) -> Result<(HashingKey, Snapshot), Problem> {
    Ok((http::hashing_key(env)?, Snapshot::of(account)))
}

/// What `account` changed since `before`: its rows and edge projections (everything, for a new
/// account).
fn change_set(account: &Account, before: &Snapshot) -> Result<ChangeSet, Problem> {
    match &before.account {
        Some(before) => account.changes_since(before),
        None => account.to_rows().map(|rows| ChangeSet {
            rows: rows.into_iter().map(RowChange::Put).collect(),
            credentials: record_changes(&BTreeMap::new(), &account.credential_records()),
            sign_in: sign_in_changes(&SignInRecords::default(), &account.sign_in_records()),
        }),
    }
    .map_err(|_| Problem::unavailable())
}

/// The KV writes of a change set's projections: key and value (none: delete).
fn outbox_entries(
    account: &Account,
    changes: &ChangeSet,
) -> Result<Vec<(String, Option<String>)>, worker::Error> {
    let mut entries = Vec::new();
    for change in &changes.credentials {
        entries.push(match change {
            RecordChange::Put(record) => (credential_key(&record.key_id), Some(to_json(record)?)),
            RecordChange::Delete(key_id) => (credential_key(key_id), None),
        });
    }
    for change in &changes.sign_in {
        entries.push(match change {
            SignInRecordChange::PutSession(record) => {
                (session_key(&record.session_id), Some(to_json(record)?))
            }
            SignInRecordChange::DeleteSession(session_id) => (session_key(session_id), None),
            SignInRecordChange::PutAccess(record) => (
                access_key(&record.account_id, &record.user_id),
                Some(to_json(record)?),
            ),
            SignInRecordChange::DeleteAccess(user_id) => (access_key(account.id(), user_id), None),
        });
    }
    Ok(entries)
}

/// A projection record as the outbox stores it.
fn to_json<T: Serialize>(value: &T) -> Result<String, worker::Error> {
    serde_json::to_string(value).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// The account, from the cache or else from its rows (loaded once per object lifetime). An
/// account stored by an earlier version as one `state` row is migrated to rows here, in one
/// synchronous write (atomic), keeping everything it held.
fn load(sql: &SqlStorage, cache: &RefCell<Option<Account>>) -> Result<Option<Account>, Problem> {
    if let Some(account) = cache.borrow().as_ref() {
        return Ok(Some(account.clone()));
    }
    let rows: Vec<EntityRow> = sql
        .exec("SELECT kind, key, value FROM entity", None)
        .and_then(|cursor| cursor.to_array())
        .map_err(|_| Problem::unavailable())?;
    let account = if rows.is_empty() {
        match migrate(sql)? {
            Some(account) => account,
            None => return Ok(None),
        }
    } else {
        let rows = rows.into_iter().map(|row| {
            Ok(Row {
                kind: RowKind::parse(&row.kind).ok_or_else(Problem::unavailable)?,
                key: row.key,
                value: row.value,
            })
        });
        let rows: Vec<Row> = rows.collect::<Result<_, Problem>>()?;
        let (account, unresolved) =
            Account::from_rows_reporting(rows).map_err(|_| Problem::unavailable())?;
        if !unresolved.is_empty() {
            // The start-up report: what the stored account names that the model lacks (not
            // granted; gone from a row when it is next written).
            let names: Vec<String> = unresolved
                .iter()
                .map(|item| format!("{:?} `{}`", item.kind, item.name))
                .collect();
            worker::console_warn!(
                "account {}: stored names the product model lacks (granting nothing): {}",
                account.id(),
                names.join(", ")
            );
        }
        account
    };
    *cache.borrow_mut() = Some(account.clone());
    Ok(Some(account))
}

/// Moves an account stored as one JSON value (the layout before per-entity rows) into rows
/// and deletes the old value, in one synchronous write. None when there is nothing to migrate.
fn migrate(sql: &SqlStorage) -> Result<Option<Account>, Problem> {
    let Some(value) = state_value(sql, LEGACY_ACCOUNT_STATE_KEY)? else {
        return Ok(None);
    };
    let account: Account = serde_json::from_str(&value).map_err(|_| Problem::unavailable())?;
    let rows = account.to_rows().map_err(|_| Problem::unavailable())?;
    let written = (|| -> Result<(), worker::Error> {
        for row in rows {
            write_row(sql, &RowChange::Put(row))?;
        }
        sql.exec(
            "DELETE FROM state WHERE key = ?",
            vec![SqlStorageValue::from(LEGACY_ACCOUNT_STATE_KEY)],
        )?;
        Ok(())
    })();
    written.map_err(|_| Problem::unavailable())?;
    Ok(Some(account))
}

/// One row write.
fn write_row(sql: &SqlStorage, change: &RowChange) -> Result<(), worker::Error> {
    match change {
        RowChange::Put(row) => sql.exec(
            "INSERT OR REPLACE INTO entity (kind, key, value) VALUES (?, ?, ?)",
            vec![
                SqlStorageValue::from(row.kind.as_str()),
                SqlStorageValue::from(row.key.clone()),
                SqlStorageValue::from(row.value.clone()),
            ],
        ),
        RowChange::Delete { kind, key } => sql.exec(
            "DELETE FROM entity WHERE kind = ? AND key = ?",
            vec![
                SqlStorageValue::from(kind.as_str()),
                SqlStorageValue::from(key.clone()),
            ],
        ),
    }
    .map(|_| ())
}

/// Stores what `account` changed since `before` (its rows, its new audit events into the audit
/// table, its notifications, and its projections' changes into the outbox) in one synchronous
/// batch, then flushes the outbox to KV before returning. A change that would store a value
/// over the platform's limit is refused (413) before anything is written.
async fn persist(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    before: &Snapshot,
    mut account: Account,
) -> Result<(), Problem> {
    if !account.notifications().is_empty() {
        notification::admit(pending_count(sql)?, account.notifications())
            .map_err(|refusal| Problem::from(&refusal))?;
    }
    let events = account.drain_audit();
    let notifications = account.drain_notifications();
    let changes = change_set(&account, before)?;
    if let Err(oversized) = changes.within_storage_limit() {
        return Err(Problem::from(&oversized));
    }
    let outbox = outbox_entries(&account, &changes).map_err(|_| Problem::unavailable())?;
    let stored = (|| -> Result<(), worker::Error> {
        for notification in &notifications {
            let text = serde_json::to_string(notification)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            sql.exec(
                "INSERT INTO notifications (seq, id, body) VALUES (?, ?, ?)",
                vec![
                    SqlStorageValue::from(sequence(notification.sequence)),
                    SqlStorageValue::from(notification.id.to_string()),
                    SqlStorageValue::from(text),
                ],
            )?;
        }
        for event in &events {
            let text = serde_json::to_string(event)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            sql.exec(
                "INSERT OR REPLACE INTO audit (seq, tenant, event) VALUES (?, ?, ?)",
                vec![
                    SqlStorageValue::from(sequence(event.body.sequence)),
                    SqlStorageValue::from(event.body.tenant.as_ref().map(ToString::to_string)),
                    SqlStorageValue::from(text),
                ],
            )?;
        }
        for (key, value) in outbox {
            sql.exec(
                "INSERT OR REPLACE INTO kv_outbox (key, value) VALUES (?, ?)",
                vec![SqlStorageValue::from(key), SqlStorageValue::from(value)],
            )?;
        }
        for change in &changes.rows {
            write_row(sql, change)?;
        }
        Ok(())
    })();
    if stored.is_err() {
        // Storage rolled back with the failed event; forget the cached copy to reload it.
        *cache.borrow_mut() = None;
        return Err(Problem::unavailable());
    }
    *cache.borrow_mut() = Some(account);
    flush_outbox(env, sql).await
}

#[derive(Deserialize)]
struct OutboxRow {
    key: String,
    value: Option<String>,
}

/// Writes every pending projection to KV and clears it from the outbox.
async fn flush_outbox(env: &Env, sql: &SqlStorage) -> Result<(), Problem> {
    let rows: Vec<OutboxRow> = sql
        .exec("SELECT key, value FROM kv_outbox", None)
        .and_then(|cursor| cursor.to_array())
        .map_err(|_| Problem::unavailable())?;
    if rows.is_empty() {
        return Ok(());
    }
    let kv = env.kv(KV_BINDING).map_err(|_| Problem::unavailable())?;
    for row in rows {
        let written = match &row.value {
            Some(value) => match kv.put(&row.key, value.as_str()) {
                Ok(put) => put.execute().await.is_ok(),
                Err(_) => false,
            },
            None => kv.delete(&row.key).await.is_ok(),
        };
        if !written {
            return Err(Problem::unavailable());
        }
        sql.exec(
            "DELETE FROM kv_outbox WHERE key = ?",
            vec![SqlStorageValue::from(row.key)],
        )
        .map_err(|_| Problem::unavailable())?;
    }
    Ok(())
}

/// A sequence number as SQLite's integer (they never get anywhere near `i64::MAX`).
fn sequence(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

/// How many notifications wait for acknowledgement.
fn pending_count(sql: &SqlStorage) -> Result<u64, Problem> {
    let rows: Vec<CountRow> = sql
        .exec(
            "SELECT COUNT(*) AS n FROM notifications WHERE body IS NOT NULL",
            None,
        )
        .and_then(|cursor| cursor.to_array())
        .map_err(|_| Problem::unavailable())?;
    Ok(rows
        .first()
        .map_or(0, |row| u64::try_from(row.n).unwrap_or(0)))
}

#[derive(Deserialize)]
struct NotificationRow {
    seq: i64,
    body: String,
}

/// Pending notifications after `after` (all when none), oldest first, at most `limit`.
fn pending(
    sql: &SqlStorage,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<Notification>, Problem> {
    let after = after.map_or(-1, sequence);
    let rows: Vec<NotificationRow> = sql
        .exec(
            "SELECT seq, body FROM notifications WHERE body IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?",
            vec![
                SqlStorageValue::from(after),
                SqlStorageValue::from(i64::try_from(limit).unwrap_or(i64::MAX)),
            ],
        )
        .and_then(|cursor| cursor.to_array())
        .map_err(|_| Problem::unavailable())?;
    rows.iter()
        .map(|row| {
            serde_json::from_str::<Notification>(&row.body)
                .ok()
                .filter(|n| sequence(n.sequence) == row.seq)
                .ok_or_else(Problem::unavailable)
        })
        .collect()
}

/// Marks notifications acknowledged: their content is deleted, their id kept for
/// [`notification::ACK_RETENTION_SECONDS`] so a repeated acknowledgement is recognised.
fn mark_acknowledged(sql: &SqlStorage, ids: &[String]) -> Result<(), worker::Error> {
    let now = i64::try_from(http::now().unix_seconds()).unwrap_or(i64::MAX);
    for id in ids {
        sql.exec(
            "UPDATE notifications SET body = NULL, acknowledged_at = ? WHERE id = ? AND body IS NOT NULL",
            vec![SqlStorageValue::from(now), SqlStorageValue::from(id.clone())],
        )?;
    }
    let horizon =
        now.saturating_sub(i64::try_from(notification::ACK_RETENTION_SECONDS).unwrap_or(i64::MAX));
    sql.exec(
        "DELETE FROM notifications WHERE body IS NULL AND acknowledged_at < ?",
        vec![SqlStorageValue::from(horizon)],
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct AckRow {
    acknowledged: i64,
}

fn acknowledge(sql: &SqlStorage, acknowledgement: &Acknowledgement) -> Reply {
    let mut failed = false;
    let report = notification::acknowledge(&acknowledgement.ids, |id| {
        let rows: Result<Vec<AckRow>, _> = sql
            .exec(
                "SELECT body IS NULL AS acknowledged FROM notifications WHERE id = ?",
                vec![SqlStorageValue::from(id.to_string())],
            )
            .and_then(|cursor| cursor.to_array());
        match rows.as_deref() {
            Ok([row, ..]) if row.acknowledged != 0 => AckState::Acknowledged,
            Ok([_, ..]) => AckState::Pending,
            Ok([]) => AckState::Unknown,
            Err(_) => {
                failed = true;
                AckState::Unknown
            }
        }
    });
    let ids: Vec<String> = report
        .acknowledged
        .iter()
        .map(ToString::to_string)
        .collect();
    if failed || mark_acknowledged(sql, &ids).is_err() {
        return Problem::unavailable().into();
    }
    Reply::json(200, &report)
}

fn delivery_state(sql: &SqlStorage) -> DeliveryState {
    state_value(sql, DELIVERY_KEY)
        .ok()
        .flatten()
        .and_then(|value| serde_json::from_str(&value).ok())
        .unwrap_or_default()
}

/// The value of one row of the `state` table, if it holds one.
fn state_value(sql: &SqlStorage, key: &str) -> Result<Option<String>, Problem> {
    let rows: Vec<ValueRow> = sql
        .exec(
            "SELECT value FROM state WHERE key = ?",
            vec![SqlStorageValue::from(key)],
        )
        .and_then(|cursor| cursor.to_array())
        .map_err(|_| Problem::unavailable())?;
    Ok(rows.into_iter().next().map(|row| row.value))
}

fn save_delivery_state(sql: &SqlStorage, state: &DeliveryState) -> Result<(), worker::Error> {
    let text = serde_json::to_string(state).map_err(|e| worker::Error::RustError(e.to_string()))?;
    sql.exec(
        "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
        vec![
            SqlStorageValue::from(DELIVERY_KEY),
            SqlStorageValue::from(text),
        ],
    )?;
    Ok(())
}

/// Sets the alarm when the account has a webhook and notifications wait, unless one is already
/// set no later than the next attempt is due (a backoff that new notifications must not cut
/// short). A newly configured webhook starts with no backoff, so it is served at once.
async fn schedule_delivery(storage: &Storage, cache: &RefCell<Option<Account>>) {
    let has_webhook = cache
        .borrow()
        .as_ref()
        .is_some_and(|account| account.webhook().is_some());
    if !has_webhook {
        return;
    }
    let sql = storage.sql();
    if !matches!(pending_count(&sql), Ok(count) if count > 0) {
        return;
    }
    let now = http::now_ms();
    let wait = delivery_state(&sql).wait_ms(now);
    let due = now.saturating_add(wait);
    if let Ok(Some(at)) = storage.get_alarm().await
        && u64::try_from(at).is_ok_and(|at| at <= due)
    {
        return;
    }
    // A failure to set it is retried by the next request.
    let _ = storage
        .set_alarm(i64::try_from(wait).unwrap_or(i64::MAX))
        .await;
}

/// One webhook delivery attempt: the oldest pending notifications in one signed batch. A 2xx
/// answer acknowledges them (and the next batch follows at once); anything else, or no
/// answer, schedules a retry after the core's backoff. Nothing is ever dropped.
async fn deliver(storage: &Storage, env: &Env, cache: &RefCell<Option<Account>>) {
    let sql = storage.sql();
    if sql.exec(SCHEMA, None).is_err() {
        return;
    }
    let Ok(Some(account)) = load(&sql, cache) else {
        return;
    };
    let Some(webhook) = account.webhook().cloned() else {
        return;
    };
    let Ok(batch) = pending(&sql, None, MAX_BATCH) else {
        return;
    };
    if batch.is_empty() {
        return;
    }
    let Ok(key) = http::hashing_key(env) else {
        return;
    };
    let count = batch.len();
    let ids: Vec<String> = batch.iter().map(|n| n.id.to_string()).collect();
    let delivery = Delivery::new(account.id().clone(), batch);
    let Ok(body) = serde_json::to_string(&delivery) else {
        return;
    };
    // During a hashing key rotation, signed under both keys' secrets: the receiver holds the
    // one the previous key derived until the webhook is configured again.
    let secrets = webhook.signing_secrets(&key, account.id());
    let signature = notification::sign_all(&secrets, http::now(), body.as_bytes());
    let timeout = env
        .var(http::WEBHOOK_TIMEOUT_VAR)
        .ok()
        .and_then(|value| value.to_string().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(http::WEBHOOK_TIMEOUT_DEFAULT_MS);
    let status = post(
        webhook.url.as_str(),
        &body,
        &signature,
        &delivery.delivery_id,
        Duration::from_millis(timeout),
    )
    .await;
    let policy = RetryPolicy::with_base_ms(
        env.var(http::RETRY_BASE_VAR)
            .ok()
            .map(|value| value.to_string())
            .as_deref(),
    );
    let mut state = delivery_state(&sql);
    let now = http::now_ms();
    let next = match status {
        Some(status) if notification::delivered(status) => {
            if mark_acknowledged(&sql, &ids).is_err() {
                return;
            }
            state.succeeded(now, status, count);
            matches!(pending_count(&sql), Ok(n) if n > 0).then_some(0)
        }
        failed => Some(state.failed(now, failed, &policy)),
    };
    // If this write fails the attempt is simply repeated: receivers deduplicate by id.
    let _ = save_delivery_state(&sql, &state);
    if let Some(wait) = next {
        let _ = storage
            .set_alarm(i64::try_from(wait).unwrap_or(i64::MAX))
            .await;
    }
}

/// POSTs a signed delivery; the receiver's status, or none when it could not be reached or did
/// not answer within `timeout` (the request is then aborted, so a receiver that never answers
/// cannot hold the alarm until the runtime kills it).
async fn post(
    url: &str,
    body: &str,
    signature: &str,
    delivery_id: &str,
    timeout: Duration,
) -> Option<u16> {
    let headers = Headers::new();
    headers.set("content-type", "application/json").ok()?;
    headers.set("user-agent", "Portcullis-Webhook/1").ok()?;
    headers.set(SIGNATURE_HEADER, signature).ok()?;
    headers.set(DELIVERY_HEADER, delivery_id).ok()?;
    let body = wasm_bindgen::JsValue::from_str(body);
    let request = http::outgoing(
        "POST",
        url,
        &Outgoing {
            headers: Some(&headers),
            body: Some(&body),
            manual_redirect: false,
        },
    )
    .ok()?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = pin!(fetch.send_with_signal(&signal));
    let deadline = pin!(Delay::from(timeout));
    match select(sending, deadline).await {
        Either::Left((answer, _)) => Some(answer.ok()?.status_code()),
        Either::Right(((), _)) => {
            controller.abort();
            None
        }
    }
}

fn created(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::TenantCreated { .. }
            | Outcome::MemberAdded { .. }
            | Outcome::UserCreated { .. }
            | Outcome::ApiTokenCreated { .. }
            | Outcome::AutomationKeyCreated { .. }
            | Outcome::SsoConnectionCreated { .. }
    )
}

async fn run_command(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    mut account: Account,
    actor: &Actor,
    command: Command,
) -> Reply {
    let (key, before) = match begin(env, &account) {
        Ok(started) => started,
        Err(problem) => return problem.into(),
    };
    let mut context = Context {
        now: http::now(),
        random: &mut OsRandom,
        key: &key,
    };
    let outcome = match account.apply(actor, command, &mut context) {
        Ok(outcome) => outcome,
        Err(refusal) => return Problem::from(&refusal).into(),
    };
    let mut body = match serde_json::to_value(&outcome) {
        Ok(body) => body,
        Err(_) => return Problem::unavailable().into(),
    };
    if let Value::Object(map) = &mut body {
        map.insert("account_id".into(), json!(account.id()));
        // A token acts only in its own tenant: whoever launches a tenant gets their first
        // token in it, as the account owner does at sign-up and an invitee on acceptance.
        if let Outcome::TenantCreated { tenant_id } = &outcome {
            match first_token(&mut account, &actor.user_id, tenant_id, &mut context) {
                Ok(Outcome::ApiTokenCreated { key_id, token, .. }) => {
                    map.insert("key_id".into(), json!(key_id));
                    map.insert("token".into(), json!(token));
                }
                Ok(_) => return Problem::unavailable().into(),
                Err(refusal) => return Problem::from(&refusal).into(),
            }
        }
    }
    let status = if created(&outcome) { 201 } else { 200 };
    match persist(env, sql, cache, &before, account).await {
        Ok(()) => {
            // A new webhook starts afresh: no backoff inherited from the previous receiver,
            // and nothing sent before its first delivery is due.
            if let Outcome::WebhookConfigured { .. } = outcome {
                let fresh = cache
                    .borrow()
                    .as_ref()
                    .and_then(Account::webhook)
                    .map(DeliveryState::for_new)
                    .unwrap_or_default();
                if save_delivery_state(sql, &fresh).is_err() {
                    return Problem::unavailable().into();
                }
            }
            Reply::json(status, &body)
        }
        Err(problem) => problem.into(),
    }
}

/// What a sign-in answers: the new session (shown once; the edge moves it into a cookie when
/// the caller asked for one) and its CSRF token.
fn signed_in(account: &Account, key: &HashingKey, session: &IssuedSession) -> Value {
    json!({
        "account_id": account.id(),
        "user_id": session.user_id,
        "session_id": session.session_id,
        "session": session.session.expose(),
        "idle_expires_at": session.idle_expires_at,
        "absolute_expires_at": session.absolute_expires_at,
        "csrf_token": browser::csrf_token(key, &session.session_id),
    })
}

/// Starts an OpenID Connect sign-in: the pending sign-in is stored, the provider URL answered.
#[allow(
    clippy::too_many_arguments,
    reason = "the storage handles and the request's parts"
)]
async fn begin_oidc(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    account: Account,
    connection_id: &SsoConnectionId,
    metadata: &str,
    redirect_uri: &str,
    login_hint: Option<&portcullis_core::Email>,
) -> Reply {
    let Ok(metadata) = OidcProviderMetadata::from_json(metadata.as_bytes()) else {
        return Problem::from(&Refusal::SsoProviderInvalid(
            "the provider's discovery document is not valid",
        ))
        .into();
    };
    start_sign_in(env, sql, cache, account, |account, context| {
        account.begin_oidc_sign_in(connection_id, &metadata, redirect_uri, login_hint, context)
    })
    .await
}

/// Starts an SSO sign-in with `start` (which keeps a pending sign-in) and persists the account:
/// the start as JSON, or the refusal.
async fn start_sign_in<T: serde::Serialize>(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    mut account: Account,
    start: impl FnOnce(&mut Account, &mut Context<'_>) -> Result<T, Refusal>,
) -> Reply {
    let (key, before) = match begin(env, &account) {
        Ok(started) => started,
        Err(problem) => return problem.into(),
    };
    let mut context = Context {
        now: http::now(),
        random: &mut OsRandom,
        key: &key,
    };
    let started = match start(&mut account, &mut context) {
        Ok(started) => started,
        Err(refusal) => return Problem::from(&refusal).into(),
    };
    match persist(env, sql, cache, &before, account).await {
        Ok(()) => Reply::json(200, &started),
        Err(problem) => problem.into(),
    }
}

/// Runs a sign-in of some kind (`open`: password, reset code...) and answers the new session
/// with `status`, its changes stored.
async fn open_session(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    mut account: Account,
    status: u16,
    open: impl FnOnce(&mut Account, &mut Context<'_>) -> Result<IssuedSession, Refusal>,
) -> Reply {
    let (key, before) = match begin(env, &account) {
        Ok(started) => started,
        Err(problem) => return problem.into(),
    };
    let mut context = Context {
        now: http::now(),
        random: &mut OsRandom,
        key: &key,
    };
    let session = match open(&mut account, &mut context) {
        Ok(session) => session,
        Err(refusal) => return Problem::from(&refusal).into(),
    };
    let body = signed_in(&account, &key, &session);
    match persist(env, sql, cache, &before, account).await {
        Ok(()) => Reply::json(status, &body),
        Err(problem) => problem.into(),
    }
}

/// A user's own sessions and password.
async fn sessions(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    mut account: Account,
    actor: &Actor,
    action: SessionAction,
) -> Reply {
    let (key, before) = match begin(env, &account) {
        Ok(started) => started,
        Err(problem) => return problem.into(),
    };
    let mut context = Context {
        now: http::now(),
        random: &mut OsRandom,
        key: &key,
    };
    let body = match action {
        SessionAction::List => {
            return match account.sessions(actor, context.now) {
                Ok(items) => Reply::json(200, &Items { items }),
                Err(refusal) => Problem::from(&refusal).into(),
            };
        }
        SessionAction::SignOut { session_id } => account
            .sign_out(actor, &session_id, &mut context)
            .map(|()| json!({ "session_id": session_id, "signed_out": true })),
        SessionAction::SignOutEverywhere => account
            .sign_out_everywhere(actor, &mut context)
            .map(|ended| json!({ "sessions_ended": ended })),
        SessionAction::ChangePassword(change) => account
            .change_password(
                actor,
                &change.current_password.0,
                &change.new_password.0,
                &mut context,
            )
            .map(|()| json!({ "password_changed": true })),
        SessionAction::ConfigureLifetimes(lifetimes) => account
            .configure_sessions(actor, lifetimes, &mut context)
            .map(|()| json!(account.settings().sessions)),
    };
    let body = match body {
        Ok(body) => body,
        Err(refusal) => return Problem::from(&refusal).into(),
    };
    match persist(env, sql, cache, &before, account).await {
        Ok(()) => Reply::json(200, &body),
        Err(problem) => problem.into(),
    }
}

async fn accept(
    env: &Env,
    sql: &SqlStorage,
    cache: &RefCell<Option<Account>>,
    mut account: Account,
    acceptance: Acceptance,
    user_agent: Option<String>,
) -> Reply {
    let (key, before) = match begin(env, &account) {
        Ok(started) => started,
        Err(problem) => return problem.into(),
    };
    let mut random = OsRandom;
    let mut context = Context {
        now: http::now(),
        random: &mut random,
        key: &key,
    };
    // With a password the user is signed in: the answer is a session, and no token is minted
    // (the person mints tokens from the session when they need one).
    if let Some(password) = &acceptance.password {
        let accepted = account.accept_invitation_with_password(
            &acceptance.email,
            &acceptance.code,
            acceptance.tenant_id.as_ref(),
            &password.0,
            user_agent.as_deref(),
            &mut context,
        );
        let (tenant_id, session) = match accepted {
            Ok((Outcome::InvitationAccepted { tenant_id, .. }, session)) => (tenant_id, session),
            Ok(_) => return Problem::unavailable().into(),
            Err(refusal) => return Problem::from(&refusal).into(),
        };
        let mut body = signed_in(&account, &key, &session);
        if let Value::Object(map) = &mut body {
            map.insert("outcome".into(), json!("invitation_accepted"));
            map.insert("tenant_id".into(), json!(tenant_id));
        }
        return match persist(env, sql, cache, &before, account).await {
            Ok(()) => Reply::json(200, &body),
            Err(problem) => problem.into(),
        };
    }
    // The core names the tenant of the first token: the one the invitation is for, never one
    // the acceptor picks (a named tenant must be that one).
    let accepted = account.accept_invitation(
        &acceptance.email,
        &acceptance.code,
        acceptance.tenant_id.as_ref(),
        &mut context,
    );
    let (user_id, tenant) = match accepted {
        Ok(Outcome::InvitationAccepted { user_id, tenant_id }) => (user_id, tenant_id),
        Ok(_) => return Problem::unavailable().into(),
        Err(refusal) => return Problem::from(&refusal).into(),
    };
    let Some(tenant_id) = tenant else {
        // A user invited at account level (or no longer in the invitation's tenant) becomes
        // active without a token: every field of the token answer is there, null (the
        // `InvitationAccepted` schema of openapi.json).
        let body = json!({
            "outcome": "invitation_accepted",
            "user_id": user_id,
            "account_id": account.id(),
            "tenant_id": null,
            "key_id": null,
            "token": null,
            "permissions": null,
            "expires_at": null,
        });
        return match persist(env, sql, cache, &before, account).await {
            Ok(()) => Reply::json(200, &body),
            Err(problem) => problem.into(),
        };
    };
    let token = match first_token(&mut account, &user_id, &tenant_id, &mut context) {
        Ok(outcome) => outcome,
        Err(refusal) => return Problem::from(&refusal).into(),
    };
    let mut body = match serde_json::to_value(&token) {
        Ok(body) => body,
        Err(_) => return Problem::unavailable().into(),
    };
    if let Value::Object(map) = &mut body {
        map.insert("outcome".into(), json!("invitation_accepted"));
        map.insert("user_id".into(), json!(user_id));
        map.insert("tenant_id".into(), json!(tenant_id));
        map.insert("account_id".into(), json!(account.id()));
    }
    match persist(env, sql, cache, &before, account).await {
        Ok(()) => Reply::json(200, &body),
        Err(problem) => problem.into(),
    }
}

/// Issues `user`'s first personal token in `tenant`, carrying everything they hold there.
fn first_token(
    account: &mut Account,
    user: &UserId,
    tenant: &TenantId,
    context: &mut Context<'_>,
) -> Result<Outcome, Refusal> {
    let permissions: PermissionSet = account.effective_permissions(tenant, user);
    let command = Command::CreateApiToken {
        tenant_id: tenant.clone(),
        name: DisplayName::from_str("first token")
            .map_err(|_| Refusal::OutOfRange("token name"))?,
        permissions,
        terms: portcullis_core::terms::Terms::default(),
    };
    account.apply(&Actor::user(user.clone()), command, context)
}

#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct EventRow {
    event: String,
}

fn answer(env: &Env, sql: &SqlStorage, account: &Account, actor: &Actor, query: Query) -> Reply {
    let now = http::now();
    let reply = match query {
        Query::Account => account
            .view_account(actor, now)
            .map(|v| Reply::json(200, &v)),
        Query::Tenant { tenant_id } => account
            .view_tenant(actor, &tenant_id, now)
            .map(|v| Reply::json(200, &v)),
        Query::Members { tenant_id, list } => account
            .view_members(actor, &tenant_id, &list, now)
            .map(|page| Reply::json(200, &page)),
        Query::Member { tenant_id, user_id } => account
            .view_member(actor, &tenant_id, &user_id, now)
            .map(|v| Reply::json(200, &v)),
        Query::Users { directory } => match http::hashing_key(env) {
            Ok(key) => account
                .view_directory(actor, &directory, &key, now)
                .map(|page| Reply::json(200, &page)),
            Err(problem) => Ok(problem.into()),
        },
        Query::BulkReport { report_id } => account
            .bulk_report(actor, &report_id, now)
            .map(|report| Reply::json(200, report)),
        Query::User { user_id } => account
            .view_user(actor, &user_id, now)
            .map(|v| Reply::json(200, &v)),
        Query::ApiTokens { tenant_id, list } => account
            .view_api_tokens(actor, &tenant_id, &list, now)
            .map(|page| Reply::json(200, &page)),
        Query::ApiToken { key_id } => account
            .view_api_token(actor, &key_id, now)
            .map(|v| Reply::json(200, &v)),
        Query::AutomationKeys { tenant_id, list } => account
            .view_automation_keys(actor, &tenant_id, &list, now)
            .map(|page| Reply::json(200, &page)),
        Query::AutomationKey { key_id } => account
            .view_automation_key(actor, &key_id, now)
            .map(|v| Reply::json(200, &v)),
        Query::CredentialUsage { key_id, kind } => account
            .view_credential_usage(actor, &key_id, kind, now)
            .map(|v| Reply::json(200, &v)),
        Query::SsoConnections => account
            .view_sso_connections(actor, now)
            .map(|items| Reply::json(200, &Items { items })),
        Query::SsoConnection { connection_id } => account
            .view_sso_connection(actor, &connection_id, now)
            .map(|v| Reply::json(200, &v)),
        Query::LicenseUsage => account
            .view_license_usage(actor, now)
            .map(|items| Reply::json(200, &Items { items })),
        Query::AccountOperations => account
            .view_account_operations(actor, now)
            .map(|items| Reply::json(200, &Items { items })),
        Query::Audit {
            tenant_id,
            from,
            limit,
        } => account
            .authorize_audit_read(actor, &tenant_id, now)
            .map(|()| audit_page(sql, Some(&tenant_id.to_string()), from, limit)),
        Query::AccountAudit { from, limit } => account
            .authorize_account_audit_read(actor, now)
            .map(|()| audit_page(sql, None, from, limit)),
        Query::Notifications { after, limit } => account
            .authorize_notifications(actor, now)
            .map(|()| notifications_page(sql, after, limit)),
    };
    reply.unwrap_or_else(|refusal| Problem::from(&refusal).into())
}

fn notifications_page(sql: &SqlStorage, after: Option<u64>, limit: u32) -> Reply {
    let limit = usize::try_from(limit).unwrap_or(MAX_BATCH);
    match (pending(sql, after, limit), pending_count(sql)) {
        (Ok(items), Ok(pending)) => {
            let next_after = items.last().map(|n| n.sequence);
            Reply::json(
                200,
                &json!({ "items": items, "next_after": next_after, "pending": pending }),
            )
        }
        (Err(problem), _) | (_, Err(problem)) => problem.into(),
    }
}

fn events(
    sql: &SqlStorage,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<Vec<AuditEvent>, Problem> {
    let rows: Vec<EventRow> = sql
        .exec(query, bindings)
        .and_then(|cursor| cursor.to_array())
        .map_err(|_| Problem::unavailable())?;
    rows.iter()
        .map(|row| serde_json::from_str(&row.event).map_err(|_| Problem::unavailable()))
        .collect()
}

/// The `state` row holding the audit chain's verified prefix (a core `ChainHead`).
const AUDIT_VERIFIED_KEY: &str = "audit_verified";

/// Whether the whole audit chain is intact, and its head. A page of one tenant's events has
/// gaps (other tenants' and account-level events), so the account's whole chain is what is
/// checked; the prefix verified by an earlier read is kept (its head stored), so each read
/// verifies only the events appended since, after checking that the stored prefix still ends
/// in the head it had.
fn verified_chain(sql: &SqlStorage) -> Result<(bool, ChainHead), Problem> {
    let checkpoint = match state_value(sql, AUDIT_VERIFIED_KEY)? {
        Some(value) => serde_json::from_str(&value).map_err(|_| Problem::unavailable())?,
        None => ChainHead::genesis(),
    };
    if checkpoint.length > 0 {
        let last = events(
            sql,
            "SELECT event FROM audit WHERE seq = ?",
            vec![SqlStorageValue::from(sequence(checkpoint.length - 1))],
        )?;
        if last.first().map(|event| &event.hash) != Some(&checkpoint.hash) {
            return Ok((false, checkpoint));
        }
    }
    let appended = events(
        sql,
        "SELECT event FROM audit WHERE seq >= ? ORDER BY seq",
        vec![SqlStorageValue::from(sequence(checkpoint.length))],
    )?;
    match verify_chain_from(&checkpoint, &appended) {
        Ok(head) => {
            if head != checkpoint {
                let text = serde_json::to_string(&head).map_err(|_| Problem::unavailable())?;
                sql.exec(
                    "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                    vec![
                        SqlStorageValue::from(AUDIT_VERIFIED_KEY),
                        SqlStorageValue::from(text),
                    ],
                )
                .map_err(|_| Problem::unavailable())?;
            }
            Ok((true, head))
        }
        Err(_) => Ok((false, checkpoint)),
    }
}

/// A page of `tenant`'s audit events, or of the account-level ones (no tenant) for `None`.
fn audit_page(sql: &SqlStorage, tenant: Option<&str>, from: u64, limit: u32) -> Reply {
    let from = SqlStorageValue::from(i64::try_from(from).unwrap_or(i64::MAX));
    let limit = SqlStorageValue::from(i64::from(limit));
    let page = match tenant {
        Some(tenant) => events(
            sql,
            "SELECT event FROM audit WHERE tenant = ? AND seq >= ? ORDER BY seq LIMIT ?",
            vec![SqlStorageValue::from(tenant), from, limit],
        ),
        None => events(
            sql,
            "SELECT event FROM audit WHERE tenant IS NULL AND seq >= ? ORDER BY seq LIMIT ?",
            vec![from, limit],
        ),
    };
    match (page, verified_chain(sql)) {
        (Ok(items), Ok((valid, head))) => {
            let next_from = items
                .last()
                .map(|event| event.body.sequence.saturating_add(1));
            Reply::json(
                200,
                &json!({
                    "items": items,
                    "next_from": next_from,
                    "chain": {
                        "valid": valid,
                        "length": head.length,
                        "head": (head.length > 0).then_some(head.hash),
                    },
                }),
            )
        }
        (Err(problem), _) | (_, Err(problem)) => problem.into(),
    }
}

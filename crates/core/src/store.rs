//! Storage naming: the one module that names storage keys, plus the diff an adapter applies to
//! its edge store after a command.
//!
//! The core does no I/O. Adapters keep an [`Account`](crate::Account) (serialised as JSON) in
//! strongly consistent storage (a Durable Object per account) and each credential's
//! [`CredentialRecord`] in a fast read store (Workers KV) under [`credential_key`], so that
//! verification reads exactly one record. Sessions add two projections, read together: the
//! session's record under [`session_key`] and its user's access record under [`access_key`].

use crate::credential::{CredentialRecord, KeyId};
use crate::ids::{AccountId, UserId};
use crate::session::{AccessRecord, SessionId, SessionRecord};
use std::collections::BTreeMap;

/// Version of the stored record layout; part of every key so a format change can coexist.
pub const LAYOUT_VERSION: &str = "v1";

/// The read-store key of a credential's record.
pub fn credential_key(key_id: &KeyId) -> String {
    format!("cred:{LAYOUT_VERSION}:{key_id}")
}

/// The read-store key of a session's record ([`SessionRecord`](crate::session::SessionRecord)),
/// the first of the two records a session's verification reads.
pub fn session_key(session_id: &SessionId) -> String {
    format!("sess:{LAYOUT_VERSION}:{session_id}")
}

/// The read-store key of a user's access record
/// ([`AccessRecord`](crate::session::AccessRecord)): status and per-tenant permissions and
/// plan, the second record a session's verification reads (found from the session record's
/// account and user).
pub fn access_key(account: &AccountId, user: &UserId) -> String {
    format!("access:{LAYOUT_VERSION}:{account}:{user}")
}

/// The read-store key that marks an account as existing (written when it is created): the edge
/// reads it before any unauthenticated request reaches the account's Durable Object, so ids
/// that were never issued touch (and create) no object.
pub fn account_key(account: &AccountId) -> String {
    format!("acct:{LAYOUT_VERSION}:{account}")
}

/// The name of the consistent store (Durable Object) that owns an account.
pub fn account_object_name(account: &AccountId) -> String {
    format!("account:{LAYOUT_VERSION}:{account}")
}

/// The key under which an account's state was stored inside its Durable Object, as one JSON
/// value, before accounts were stored as one row per entity
/// ([`Account::to_rows`](crate::Account::to_rows)); adapters migrate such a value on load.
pub const LEGACY_ACCOUNT_STATE_KEY: &str = "account_state";

/// The largest row value an adapter may store, in bytes: half of the 2 MB that Cloudflare's
/// SQLite-backed Durable Objects accept per string, BLOB or row, leaving room for the key and
/// the encoding. The core's own bounds keep every row far below it (the largest, a user's
/// sign-in state with every session, is tens of kilobytes); a change set that would still
/// exceed it is refused ([`ChangeSet::within_storage_limit`](crate::account::ChangeSet)).
pub const MAX_ROW_BYTES: usize = 1_000_000;

/// One write to the read store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "changes are made and written one at a time, never held in bulk"
)]
pub enum RecordChange {
    /// Write (create or replace) this record.
    Put(CredentialRecord),
    /// Delete the record of this key id.
    Delete(KeyId),
}

/// The writes that turn the read store's `before` records into `after`: puts for new or
/// changed records, deletes for vanished ones. Unchanged records produce nothing.
pub fn record_changes(
    before: &BTreeMap<KeyId, CredentialRecord>,
    after: &BTreeMap<KeyId, CredentialRecord>,
) -> Vec<RecordChange> {
    diff(before, after, RecordChange::Put, RecordChange::Delete)
}

/// Deletes for keys of `before` missing from `after`, then puts for new or changed values.
fn diff<K: Ord + Clone, V: PartialEq + Clone, C>(
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
    put: impl Fn(V) -> C,
    delete: impl Fn(K) -> C,
) -> Vec<C> {
    let deletes = before
        .keys()
        .filter(|key| !after.contains_key(*key))
        .map(|key| delete(key.clone()));
    let puts = after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(_, value)| put(value.clone()));
    deletes.chain(puts).collect()
}

/// Every sign-in projection of an account, as the read store should hold them
/// ([`Account::sign_in_records`](crate::Account::sign_in_records)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInRecords {
    /// Session records by session id (under [`session_key`]).
    pub sessions: BTreeMap<SessionId, SessionRecord>,
    /// Access records by user id (under [`access_key`]).
    pub access: BTreeMap<UserId, AccessRecord>,
}

/// One write of a sign-in projection to the read store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInRecordChange {
    /// Write this session record under [`session_key`].
    PutSession(SessionRecord),
    /// Delete the record of this session.
    DeleteSession(SessionId),
    /// Write this access record under [`access_key`].
    PutAccess(AccessRecord),
    /// Delete the access record of this user (of the account diffed).
    DeleteAccess(UserId),
}

/// The writes that turn the read store's sign-in projections `before` into `after` (sessions
/// first, so a deletion of a session never waits behind an access record).
pub fn sign_in_changes(before: &SignInRecords, after: &SignInRecords) -> Vec<SignInRecordChange> {
    let mut changes = diff(
        &before.sessions,
        &after.sessions,
        SignInRecordChange::PutSession,
        SignInRecordChange::DeleteSession,
    );
    changes.extend(diff(
        &before.access,
        &after.access,
        SignInRecordChange::PutAccess,
        SignInRecordChange::DeleteAccess,
    ));
    changes
}

/// A credential record store, for adapters whose storage is synchronous (tests, the demo).
pub trait CredentialStore {
    /// The record under `key_id`, if any.
    fn record(&self, key_id: &KeyId) -> Option<CredentialRecord>;
    /// Applies writes.
    fn apply(&mut self, changes: Vec<RecordChange>);
}

/// An in-memory [`CredentialStore`] for tests and the demo.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    records: BTreeMap<String, CredentialRecord>,
}

impl MemoryStore {
    /// The number of records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl CredentialStore for MemoryStore {
    fn record(&self, key_id: &KeyId) -> Option<CredentialRecord> {
        self.records.get(&credential_key(key_id)).cloned()
    }

    fn apply(&mut self, changes: Vec<RecordChange>) {
        for change in changes {
            match change {
                RecordChange::Put(record) => {
                    self.records.insert(credential_key(&record.key_id), record);
                }
                RecordChange::Delete(key_id) => {
                    self.records.remove(&credential_key(&key_id));
                }
            }
        }
    }
}

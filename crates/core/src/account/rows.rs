//! The account as rows: one per entity, and the rows a change puts and deletes.
//!
//! An adapter with a row store (the Durable Object's SQLite) keeps an account as
//! [`Account::to_rows`], loads it back with [`Account::from_rows`], and after every change
//! writes [`Account::changes_since`] the state before it: the rows that differ, found by diffing
//! the two states' persistent maps (the parts they share are not visited), and the edge
//! projections those rows affect. No row grows with the account: each holds one entity (one
//! session, one pending SSO sign-in, one SAML replay digest), and the largest is a bulk report
//! of [`MAX_BULK_USERS`](crate::bulk::MAX_BULK_USERS) users (about 10 KB); a user's sign-in row
//! (password hash and at most [`MAX_KNOWN_DEVICES`](crate::session::MAX_KNOWN_DEVICES) device
//! digests) is about 2 KB, each of their at most
//! [`MAX_SESSIONS_PER_USER`](crate::session::MAX_SESSIONS_PER_USER) sessions under 1 KB.

use super::users::Users;
use super::{Account, AccountSettings, Refusal, changed_keys};
use crate::audit::AuditLog;
use crate::bulk::BulkReport;
use crate::credential::KeyId;
use crate::ids::{AccountId, DisplayName, SsoConnectionId, TenantId, UserId};
use crate::notification::{NotificationLog, Webhook};
use crate::plan::Plan;
use crate::session::{Session, SignInState};
use crate::sso::SsoConnection;
use crate::store::{MAX_ROW_BYTES, RecordChange, SignInRecordChange};
use crate::tenant::{ApiToken, AutomationKey, Membership, Sso, Tenant};
use crate::time::Timestamp;
use crate::user::User;
use imbl::OrdMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

/// What a stored row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowKind {
    /// The account itself (key: empty): name, owner, settings, webhook, audit chain head,
    /// notification numbering.
    Account,
    /// A user (key: user id).
    User,
    /// A user's password, known devices and password reset, without the sessions (key: user
    /// id).
    SignIn,
    /// One open session of a user (key: `user id:session id`).
    Session,
    /// A tenant without its members and credentials (key: tenant id).
    Tenant,
    /// A membership (key: `tenant id:user id`).
    Member,
    /// An API token (key: key id).
    ApiToken,
    /// An automation key (key: key id).
    AutomationKey,
    /// An identity-provider connection (key: connection id).
    SsoConnection,
    /// One SSO sign-in in progress or one SAML replay digest (keys: `oidc_pending:{state
    /// hash}`, `saml_pending:{state hash}`, `saml_seen:{digest}`).
    SsoFlow,
    /// A bulk lifecycle report (key: report id).
    BulkReport,
}

impl RowKind {
    /// Every kind, in load order.
    pub const ALL: [RowKind; 11] = [
        RowKind::Account,
        RowKind::User,
        RowKind::SignIn,
        RowKind::Session,
        RowKind::Tenant,
        RowKind::Member,
        RowKind::ApiToken,
        RowKind::AutomationKey,
        RowKind::SsoConnection,
        RowKind::SsoFlow,
        RowKind::BulkReport,
    ];

    /// The kind's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Account => "account",
            RowKind::User => "user",
            RowKind::SignIn => "sign_in",
            RowKind::Session => "session",
            RowKind::Tenant => "tenant",
            RowKind::Member => "member",
            RowKind::ApiToken => "api_token",
            RowKind::AutomationKey => "automation_key",
            RowKind::SsoConnection => "sso_connection",
            RowKind::SsoFlow => "sso_flow",
            RowKind::BulkReport => "bulk_report",
        }
    }

    /// The kind stored under `name`.
    pub fn parse(name: &str) -> Option<RowKind> {
        RowKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for RowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored row: its kind, its key within the kind, and the entity as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// What it holds.
    pub kind: RowKind,
    /// Its key, unique within the kind.
    pub key: String,
    /// The entity, as JSON.
    pub value: String,
}

/// One write of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowChange {
    /// Write (create or replace) this row.
    Put(Row),
    /// Delete the row of this kind and key.
    Delete {
        /// Its kind.
        kind: RowKind,
        /// Its key.
        key: String,
    },
}

impl RowChange {
    /// The kind and key written.
    pub fn target(&self) -> (RowKind, &str) {
        match self {
            RowChange::Put(row) => (row.kind, &row.key),
            RowChange::Delete { kind, key } => (*kind, key),
        }
    }
}

/// What a change made, for an adapter to write in one transaction: the rows, and the edge
/// projections (credential records, session and access records) the change affected. Audit
/// events and notifications are drained separately
/// ([`Account::drain_audit`], [`Account::drain_notifications`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Rows to put and delete, deletes first.
    pub rows: Vec<RowChange>,
    /// Credential records to write to the edge store.
    pub credentials: Vec<RecordChange>,
    /// Session and access records to write to the edge store.
    pub sign_in: Vec<SignInRecordChange>,
}

impl ChangeSet {
    /// Whether the change wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.credentials.is_empty() && self.sign_in.is_empty()
    }

    /// Refuses a change set that would store a row over [`MAX_ROW_BYTES`]: nothing of it may be
    /// written.
    pub fn within_storage_limit(&self) -> Result<(), Refusal> {
        match self.largest_row() {
            Some((kind, _, size)) if size > MAX_ROW_BYTES => Err(Refusal::StorageLimit {
                kind,
                size,
                limit: MAX_ROW_BYTES,
            }),
            _ => Ok(()),
        }
    }

    /// The largest row it writes: its kind, key and size in bytes.
    pub fn largest_row(&self) -> Option<(RowKind, &str, usize)> {
        self.rows
            .iter()
            .filter_map(|change| match change {
                RowChange::Put(row) => Some((row.kind, row.key.as_str(), row.value.len())),
                RowChange::Delete { .. } => None,
            })
            .max_by_key(|(_, _, size)| *size)
    }
}

/// Why stored rows do not make an account.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RowError {
    /// A row's value is not the entity its kind names.
    #[error("stored {kind} row {key:?} is malformed: {reason}")]
    Malformed {
        /// Its kind.
        kind: RowKind,
        /// Its key.
        key: String,
        /// What the JSON parser said.
        reason: String,
    },
    /// There is no account row.
    #[error("no account row is stored")]
    NoAccount,
    /// A member, token or key row names a tenant that is not stored.
    #[error("stored {kind} row {key:?} names a tenant that is not stored")]
    Orphan {
        /// Its kind.
        kind: RowKind,
        /// Its key.
        key: String,
    },
    /// An entity could not be written as JSON (never happens for the core's types).
    #[error("could not write a {0} row")]
    Unwritable(RowKind),
}

/// A user's sign-in row: their sign-in state without the sessions, which are rows of their own.
fn sign_in_row(state: &SignInState) -> SignInState {
    SignInState {
        password: state.password.clone(),
        sessions: BTreeMap::new(),
        known_devices: state.known_devices.clone(),
        reset: state.reset.clone(),
    }
}

/// The key of a session's row: `user id:session id`.
fn session_key(user: &UserId, session: &Session) -> String {
    format!("{user}:{}", session.id)
}

/// The account row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct AccountRow {
    id: AccountId,
    name: DisplayName,
    owner: UserId,
    created_at: Timestamp,
    settings: AccountSettings,
    trial: bool,
    webhook: Option<Webhook>,
    audit: AuditLog,
    notifications: NotificationLog,
    bulk_reports_kept: u64,
}

/// A tenant row: the tenant without its members and credentials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TenantRow {
    id: TenantId,
    name: DisplayName,
    plan: Plan,
    owner: UserId,
    sso: Sso,
    created_at: Timestamp,
    primary_contact: Option<UserId>,
}

/// A member row.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct MemberRow {
    tenant: TenantId,
    user: UserId,
    #[serde(flatten)]
    membership: Membership,
}

/// An API token or automation key row: the credential and its tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CredentialRow<T> {
    tenant: TenantId,
    #[serde(flatten)]
    credential: T,
}

/// The lists of the SSO flow rows (the first part of their keys).
const OIDC_PENDING: &str = "oidc_pending";
const SAML_PENDING: &str = "saml_pending";
const SAML_SEEN: &str = "saml_seen";

fn write<T: Serialize>(kind: RowKind, key: impl Into<String>, value: &T) -> Result<Row, RowError> {
    Ok(Row {
        kind,
        key: key.into(),
        value: serde_json::to_string(value).map_err(|_| RowError::Unwritable(kind))?,
    })
}

fn read<T: DeserializeOwned>(row: &Row) -> Result<T, RowError> {
    serde_json::from_str(&row.value).map_err(|e| RowError::Malformed {
        kind: row.kind,
        key: row.key.clone(),
        reason: e.to_string(),
    })
}

fn hash_text(hash: &crate::secret::SecretHash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_bytes())
}

fn member_key(tenant: &TenantId, user: &UserId) -> String {
    format!("{tenant}:{user}")
}

impl Account {
    fn account_row(&self) -> AccountRow {
        AccountRow {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            created_at: self.created_at,
            settings: self.settings.clone(),
            trial: self.trial,
            webhook: self.webhook.clone(),
            audit: self.audit.clone(),
            notifications: self.notifications.clone(),
            bulk_reports_kept: self.bulk_reports_kept,
        }
    }

    /// Every row of the account, as a row store should hold it (for a first write or a
    /// migration). Drain the audit events and notifications first: the account row holds what
    /// is not drained.
    pub fn to_rows(&self) -> Result<Vec<Row>, RowError> {
        let mut rows = vec![write(RowKind::Account, "", &self.account_row())?];
        for user in self.users.values() {
            rows.push(write(RowKind::User, user.id.to_string(), user)?);
        }
        for (user, state) in &self.sign_in {
            rows.push(write(
                RowKind::SignIn,
                user.to_string(),
                &sign_in_row(state),
            )?);
            for session in state.sessions.values() {
                rows.push(write(
                    RowKind::Session,
                    session_key(user, session),
                    session,
                )?);
            }
        }
        for tenant in self.tenants.values() {
            rows.push(tenant_row(tenant)?);
            for user in tenant.members.keys() {
                rows.push(member_row(tenant, user)?.ok_or(RowError::Unwritable(RowKind::Member))?);
            }
            for key_id in tenant.api_tokens.keys() {
                rows.push(
                    token_row(tenant, key_id)?.ok_or(RowError::Unwritable(RowKind::ApiToken))?,
                );
            }
            for key_id in tenant.automation_keys.keys() {
                rows.push(
                    automation_key_row(tenant, key_id)?
                        .ok_or(RowError::Unwritable(RowKind::AutomationKey))?,
                );
            }
        }
        for (id, connection) in &self.sso.connections {
            rows.push(write(RowKind::SsoConnection, id.to_string(), connection)?);
        }
        rows.extend(self.sso_flow_items()?.into_values());
        for (order, report) in self.ordered_bulk_reports() {
            rows.push(bulk_report_row(order, report)?);
        }
        Ok(rows)
    }

    /// Every SSO flow item as a row, by key: `oidc:{state hash}`, `saml:{state hash}` and
    /// `seen:{digest}` (one row each, so no row grows with the number in flight).
    fn sso_flow_items(&self) -> Result<BTreeMap<String, Row>, RowError> {
        let mut rows = BTreeMap::new();
        let mut add = |key: String, row: Result<Row, RowError>| -> Result<(), RowError> {
            rows.insert(key, row?);
            Ok(())
        };
        for item in &self.sso.pending {
            let key = format!("{OIDC_PENDING}:{}", hash_text(&item.state_hash));
            add(key.clone(), write(RowKind::SsoFlow, key, item))?;
        }
        for item in &self.sso.saml_pending {
            let key = format!("{SAML_PENDING}:{}", hash_text(&item.state_hash));
            add(key.clone(), write(RowKind::SsoFlow, key, item))?;
        }
        for item in &self.sso.saml_seen {
            let key = format!("{SAML_SEEN}:{}", item.digest);
            add(key.clone(), write(RowKind::SsoFlow, key, item))?;
        }
        Ok(rows)
    }

    /// The account the rows of [`Account::to_rows`] hold. Rows of unknown keys within a known
    /// kind are refused; the order of the rows does not matter. Names the model in force
    /// lacks are tolerated as [`from_rows_reporting`](Account::from_rows_reporting) says.
    pub fn from_rows(rows: impl IntoIterator<Item = Row>) -> Result<Account, RowError> {
        Self::from_rows_reporting(rows).map(|(account, _)| account)
    }

    /// [`from_rows`](Account::from_rows), with every name in the rows that the model in force
    /// does not have: a permission it lacks is not granted (in grants and token scopes), a
    /// plan it lacks reads as its first plan. Such names disappear from a row the next time
    /// the row is written; until then the report lists them.
    pub fn from_rows_reporting(
        rows: impl IntoIterator<Item = Row>,
    ) -> Result<(Account, Vec<crate::model::Unresolved>), RowError> {
        let (account, unresolved) = crate::model::resolving_stored(|| Self::read_rows(rows));
        Ok((account?, unresolved))
    }

    fn read_rows(rows: impl IntoIterator<Item = Row>) -> Result<Account, RowError> {
        let mut by_kind: BTreeMap<RowKind, Vec<Row>> = BTreeMap::new();
        for row in rows {
            by_kind.entry(row.kind).or_default().push(row);
        }
        let mut take = |kind: RowKind| by_kind.remove(&kind).unwrap_or_default();
        let meta: AccountRow = match take(RowKind::Account).first() {
            Some(row) => read(row)?,
            None => return Err(RowError::NoAccount),
        };
        let mut users = Users::default();
        for row in take(RowKind::User) {
            let user: User = read(&row)?;
            if users.by_email(&user.email).is_some() {
                return Err(RowError::Malformed {
                    kind: row.kind,
                    key: row.key.clone(),
                    reason: "another user has the same email".into(),
                });
            }
            users.insert(user);
        }
        let mut sign_in = OrdMap::new();
        for row in take(RowKind::SignIn) {
            let state: SignInState = read(&row)?;
            let user: UserId = row.key.parse().map_err(|_| RowError::Malformed {
                kind: row.kind,
                key: row.key.clone(),
                reason: "the key is not a user id".into(),
            })?;
            sign_in.insert(user, state);
        }
        for row in take(RowKind::Session) {
            let session: Session = read(&row)?;
            let user: Option<UserId> = row
                .key
                .split_once(':')
                .and_then(|(user, _)| user.parse().ok());
            let state = user
                .and_then(|user| sign_in.get_mut(&user))
                .ok_or_else(|| RowError::Malformed {
                    kind: row.kind,
                    key: row.key.clone(),
                    reason: "the key names no user with a sign-in row".into(),
                })?;
            state.sessions.insert(session.id.clone(), session);
        }
        let mut tenants: OrdMap<TenantId, Tenant> = OrdMap::new();
        for row in take(RowKind::Tenant) {
            let t: TenantRow = read(&row)?;
            tenants.insert(
                t.id.clone(),
                Tenant {
                    id: t.id,
                    name: t.name,
                    plan: t.plan,
                    owner: t.owner,
                    members: OrdMap::new(),
                    sso: t.sso,
                    api_tokens: OrdMap::new(),
                    automation_keys: OrdMap::new(),
                    created_at: t.created_at,
                    primary_contact: t.primary_contact,
                },
            );
        }
        let orphan = |row: &Row| RowError::Orphan {
            kind: row.kind,
            key: row.key.clone(),
        };
        for row in take(RowKind::Member) {
            let member: MemberRow = read(&row)?;
            let tenant = tenants
                .get_mut(&member.tenant)
                .ok_or_else(|| orphan(&row))?;
            tenant.members.insert(member.user, member.membership);
        }
        for row in take(RowKind::ApiToken) {
            let token: CredentialRow<ApiToken> = read(&row)?;
            let tenant = tenants.get_mut(&token.tenant).ok_or_else(|| orphan(&row))?;
            tenant
                .api_tokens
                .insert(token.credential.key_id.clone(), token.credential);
        }
        for row in take(RowKind::AutomationKey) {
            let key: CredentialRow<AutomationKey> = read(&row)?;
            let tenant = tenants.get_mut(&key.tenant).ok_or_else(|| orphan(&row))?;
            tenant
                .automation_keys
                .insert(key.credential.key_id.clone(), key.credential);
        }
        let mut sso = crate::sso::SsoState::default();
        for row in take(RowKind::SsoConnection) {
            let connection: SsoConnection = read(&row)?;
            let id: SsoConnectionId = row.key.parse().map_err(|_| RowError::Malformed {
                kind: row.kind,
                key: row.key.clone(),
                reason: "the key is not a connection id".into(),
            })?;
            sso.connections.insert(id, connection);
        }
        for row in take(RowKind::SsoFlow) {
            match row.key.split_once(':').map(|(list, _)| list) {
                Some(OIDC_PENDING) => sso.pending.push_back(read(&row)?),
                Some(SAML_PENDING) => sso.saml_pending.push_back(read(&row)?),
                Some(SAML_SEEN) => sso.saml_seen.push_back(read(&row)?),
                _ => {
                    return Err(RowError::Malformed {
                        kind: row.kind,
                        key: row.key.clone(),
                        reason: "unknown SSO flow row".into(),
                    });
                }
            }
        }
        // In the order the account keeps them.
        sso.pending
            .make_contiguous()
            .sort_by_key(crate::sso::oidc::PendingSignIn::order);
        sso.saml_pending
            .make_contiguous()
            .sort_by_key(crate::sso::saml_flow::PendingSaml::order);
        sso.saml_seen
            .make_contiguous()
            .sort_by(crate::sso::saml_flow::SeenId::order);
        let mut bulk_reports: Vec<BulkReportRow> = Vec::new();
        for row in take(RowKind::BulkReport) {
            bulk_reports.push(read(&row)?);
        }
        bulk_reports.sort_by_key(|row| row.order);
        let bulk_reports = bulk_reports.into_iter().map(|row| row.report);
        Ok(Account {
            id: meta.id,
            name: meta.name,
            owner: meta.owner,
            created_at: meta.created_at,
            settings: meta.settings,
            trial: meta.trial,
            users,
            tenants: tenants.into_iter().map(|(_, tenant)| tenant).collect(),
            audit: meta.audit,
            notifications: meta.notifications,
            webhook: meta.webhook,
            bulk_reports: bulk_reports.collect(),
            bulk_reports_kept: meta.bulk_reports_kept,
            sign_in,
            sso,
        })
    }

    /// What changed from `before` (this account as it was, typically a cheap clone taken
    /// before a command) to `self`: the rows to write and the edge projections affected. Only
    /// the parts of the two states they do not share are visited, so the cost is that of the
    /// change, not of the account. Drain audit events and notifications from `self` first.
    pub fn changes_since(&self, before: &Account) -> Result<ChangeSet, RowError> {
        let mut rows = Vec::new();
        let mut puts = Vec::new();
        let mut delete = |kind: RowKind, key: String| rows.push(RowChange::Delete { kind, key });
        let meta = self.account_row();
        if meta != before.account_row() {
            puts.push(write(RowKind::Account, "", &meta)?);
        }
        for id in changed_keys(before.users.by_id(), self.users.by_id()) {
            match self.users.get(&id) {
                Some(user) => puts.push(write(RowKind::User, id.to_string(), user)?),
                None => delete(RowKind::User, id.to_string()),
            }
        }
        for id in changed_keys(&before.sign_in, &self.sign_in) {
            let (old, new) = (before.sign_in.get(&id), self.sign_in.get(&id));
            let (old_row, new_row) = (old.map(sign_in_row), new.map(sign_in_row));
            match new_row {
                Some(row) if old_row.as_ref() != Some(&row) => {
                    puts.push(write(RowKind::SignIn, id.to_string(), &row)?);
                }
                Some(_) => {}
                None => delete(RowKind::SignIn, id.to_string()),
            }
            // At most MAX_SESSIONS_PER_USER on either side.
            let no_sessions = BTreeMap::new();
            let old_sessions = old.map_or(&no_sessions, |state| &state.sessions);
            let new_sessions = new.map_or(&no_sessions, |state| &state.sessions);
            for (session_id, session) in new_sessions {
                if old_sessions.get(session_id) != Some(session) {
                    puts.push(write(RowKind::Session, session_key(&id, session), session)?);
                }
            }
            for (session_id, session) in old_sessions {
                if !new_sessions.contains_key(session_id) {
                    delete(RowKind::Session, session_key(&id, session));
                }
            }
        }
        let mut affected = Affected::default();
        for id in changed_keys(before.tenants.by_id(), self.tenants.by_id()) {
            let old = before.tenants.get(&id);
            let new = self.tenants.get(&id);
            let (old_t, new_t) = (TenantMaps::of(old), TenantMaps::of(new));
            match new {
                Some(tenant)
                    if old.is_none_or(|old| TenantRow::of(old) != TenantRow::of(tenant)) =>
                {
                    puts.push(tenant_row(tenant)?);
                }
                None => delete(RowKind::Tenant, id.to_string()),
                Some(_) => {}
            }
            let whole = match (old, new) {
                (Some(old), Some(new)) => {
                    old.plan != new.plan || old.sso != new.sso || old.owner != new.owner
                }
                _ => true,
            };
            if whole {
                affected.all_of_tenant(&id, &old_t);
                affected.all_of_tenant(&id, &new_t);
            }
            for user in changed_keys(&old_t.members, &new_t.members) {
                match new
                    .map(|tenant| member_row(tenant, &user))
                    .transpose()?
                    .flatten()
                {
                    Some(row) => puts.push(row),
                    None => delete(RowKind::Member, member_key(&id, &user)),
                }
                if !whole {
                    affected.tokens_of(&id, &old_t, &user);
                    affected.tokens_of(&id, &new_t, &user);
                    affected.users.insert(user);
                }
            }
            for key_id in changed_keys(&old_t.api_tokens, &new_t.api_tokens) {
                match new
                    .map(|tenant| token_row(tenant, &key_id))
                    .transpose()?
                    .flatten()
                {
                    Some(row) => puts.push(row),
                    None => delete(RowKind::ApiToken, key_id.to_string()),
                }
                affected.credentials.insert((id.clone(), key_id));
            }
            for key_id in changed_keys(&old_t.automation_keys, &new_t.automation_keys) {
                match new
                    .map(|tenant| automation_key_row(tenant, &key_id))
                    .transpose()?
                    .flatten()
                {
                    Some(row) => puts.push(row),
                    None => delete(RowKind::AutomationKey, key_id.to_string()),
                }
                affected.credentials.insert((id.clone(), key_id));
            }
        }
        for id in changed_keys(&before.sso.connections, &self.sso.connections) {
            match self.sso.connections.get(&id) {
                Some(connection) => {
                    puts.push(write(RowKind::SsoConnection, id.to_string(), connection)?);
                }
                None => delete(RowKind::SsoConnection, id.to_string()),
            }
        }
        let flows_changed = before.sso.pending != self.sso.pending
            || before.sso.saml_pending != self.sso.saml_pending
            || before.sso.saml_seen != self.sso.saml_seen;
        if flows_changed {
            let old = before.sso_flow_items()?;
            let new = self.sso_flow_items()?;
            for key in old.keys().filter(|key| !new.contains_key(*key)) {
                delete(RowKind::SsoFlow, key.clone());
            }
            for (key, row) in new {
                if old.get(&key) != Some(&row) {
                    puts.push(row);
                }
            }
        }
        let kept: BTreeSet<_> = self.bulk_reports.iter().map(|r| &r.report_id).collect();
        let had: BTreeSet<_> = before.bulk_reports.iter().map(|r| &r.report_id).collect();
        for gone in had.difference(&kept) {
            delete(RowKind::BulkReport, gone.to_string());
        }
        for (order, report) in self.ordered_bulk_reports() {
            if !had.contains(&report.report_id) {
                puts.push(bulk_report_row(order, report)?);
            }
        }
        rows.extend(puts.into_iter().map(RowChange::Put));

        // Users whose status changed: their tokens everywhere, and their access record.
        for id in changed_keys(before.users.by_id(), self.users.by_id()) {
            let status = |account: &Account| account.users.get(&id).map(|user| user.status);
            if status(before) != status(self) {
                let tenants = before.tenants.of_user(&id).chain(self.tenants.of_user(&id));
                for tenant in tenants {
                    affected.tokens_of(&tenant.id, &TenantMaps::of(Some(tenant)), &id);
                }
            }
            affected.users.insert(id);
        }
        affected
            .users
            .extend(changed_keys(&before.sign_in, &self.sign_in));
        let all_sessions = before.settings.sessions != self.settings.sessions;
        Ok(ChangeSet {
            rows,
            credentials: affected.credential_changes(before, self),
            sign_in: affected.sign_in_changes(before, self, all_sessions),
        })
    }
}

impl Account {
    /// The held bulk reports with their order among every report ever kept.
    fn ordered_bulk_reports(&self) -> impl Iterator<Item = (u64, &BulkReport)> {
        let held = self.bulk_reports.len() as u64;
        let first = self.bulk_reports_kept.max(held) - held;
        (first..).zip(&self.bulk_reports)
    }
}

/// A bulk report row: the report and its order among every report ever kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BulkReportRow {
    order: u64,
    report: BulkReport,
}

fn bulk_report_row(order: u64, report: &BulkReport) -> Result<Row, RowError> {
    write(
        RowKind::BulkReport,
        report.report_id.to_string(),
        &BulkReportRow {
            order,
            report: report.clone(),
        },
    )
}

impl TenantRow {
    fn of(tenant: &Tenant) -> TenantRow {
        TenantRow {
            id: tenant.id.clone(),
            name: tenant.name.clone(),
            plan: tenant.plan,
            owner: tenant.owner.clone(),
            sso: tenant.sso.clone(),
            created_at: tenant.created_at,
            primary_contact: tenant.primary_contact.clone(),
        }
    }
}

fn tenant_row(tenant: &Tenant) -> Result<Row, RowError> {
    write(
        RowKind::Tenant,
        tenant.id.to_string(),
        &TenantRow::of(tenant),
    )
}

fn member_row(tenant: &Tenant, user: &UserId) -> Result<Option<Row>, RowError> {
    tenant
        .members
        .get(user)
        .map(|membership| {
            write(
                RowKind::Member,
                member_key(&tenant.id, user),
                &MemberRow {
                    tenant: tenant.id.clone(),
                    user: user.clone(),
                    membership: membership.clone(),
                },
            )
        })
        .transpose()
}

fn token_row(tenant: &Tenant, key_id: &KeyId) -> Result<Option<Row>, RowError> {
    tenant
        .api_tokens
        .get(key_id)
        .map(|token| {
            write(
                RowKind::ApiToken,
                key_id.to_string(),
                &CredentialRow {
                    tenant: tenant.id.clone(),
                    credential: token,
                },
            )
        })
        .transpose()
}

fn automation_key_row(tenant: &Tenant, key_id: &KeyId) -> Result<Option<Row>, RowError> {
    tenant
        .automation_keys
        .get(key_id)
        .map(|key| {
            write(
                RowKind::AutomationKey,
                key_id.to_string(),
                &CredentialRow {
                    tenant: tenant.id.clone(),
                    credential: key,
                },
            )
        })
        .transpose()
}

/// A tenant's maps, empty for a tenant that does not exist on one side of a diff (copies
/// share the tenant's structure).
#[derive(Default)]
struct TenantMaps {
    members: OrdMap<UserId, Membership>,
    api_tokens: OrdMap<KeyId, ApiToken>,
    automation_keys: OrdMap<KeyId, AutomationKey>,
}

impl TenantMaps {
    fn of(tenant: Option<&Tenant>) -> TenantMaps {
        tenant.map_or_else(TenantMaps::default, |tenant| TenantMaps {
            members: tenant.members.clone(),
            api_tokens: tenant.api_tokens.clone(),
            automation_keys: tenant.automation_keys.clone(),
        })
    }
}

/// The projections a change may have altered.
#[derive(Default)]
struct Affected {
    /// Credentials, with the tenant they are (or were) in.
    credentials: BTreeSet<(TenantId, KeyId)>,
    /// Users whose sessions or access may have changed.
    users: BTreeSet<UserId>,
}

impl Affected {
    fn all_of_tenant(&mut self, id: &TenantId, tenant: &TenantMaps) {
        for key_id in tenant
            .api_tokens
            .keys()
            .chain(tenant.automation_keys.keys())
        {
            self.credentials.insert((id.clone(), key_id.clone()));
        }
        self.users.extend(tenant.members.keys().cloned());
    }

    fn tokens_of(&mut self, id: &TenantId, tenant: &TenantMaps, user: &UserId) {
        for token in tenant.api_tokens.values().filter(|t| t.owner == *user) {
            self.credentials.insert((id.clone(), token.key_id.clone()));
        }
    }

    fn credential_changes(&self, before: &Account, after: &Account) -> Vec<RecordChange> {
        let project = |account: &Account, tenant: &TenantId, key_id: &KeyId| {
            account
                .tenants
                .get(tenant)
                .and_then(|t| account.project(t, key_id))
        };
        let mut deletes = Vec::new();
        let mut puts = Vec::new();
        for (tenant, key_id) in &self.credentials {
            let old = project(before, tenant, key_id);
            let new = project(after, tenant, key_id);
            match (old, new) {
                // A credential never moves between tenants: gone from its tenant is gone.
                (Some(_), None) => deletes.push(RecordChange::Delete(key_id.clone())),
                (old, Some(new)) if old.as_ref() != Some(&new) => {
                    puts.push(RecordChange::Put(new));
                }
                _ => {}
            }
        }
        deletes.extend(puts);
        deletes
    }

    fn sign_in_changes(
        &self,
        before: &Account,
        after: &Account,
        all_sessions: bool,
    ) -> Vec<SignInRecordChange> {
        let everyone: BTreeSet<UserId>;
        let users = if all_sessions {
            everyone = before
                .sign_in
                .keys()
                .chain(after.sign_in.keys())
                .cloned()
                .collect();
            &everyone
        } else {
            &self.users
        };
        let mut sessions = Vec::new();
        let mut access = Vec::new();
        for user in users {
            let old = before.user_session_records(user);
            let new = after.user_session_records(user);
            for id in old.keys().filter(|id| !new.contains_key(*id)) {
                sessions.push(SignInRecordChange::DeleteSession(id.clone()));
            }
            for (id, record) in &new {
                if old.get(id) != Some(record) {
                    sessions.push(SignInRecordChange::PutSession(record.clone()));
                }
            }
            let old = before.user_access_record(user);
            let new = after.user_access_record(user);
            match (old, new) {
                (Some(_), None) => access.push(SignInRecordChange::DeleteAccess(user.clone())),
                (old, Some(new)) if old.as_ref() != Some(&new) => {
                    access.push(SignInRecordChange::PutAccess(new));
                }
                _ => {}
            }
        }
        sessions.extend(access);
        sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(kind: RowKind, size: usize) -> RowChange {
        RowChange::Put(Row {
            kind,
            key: "k".into(),
            value: "x".repeat(size),
        })
    }

    #[test]
    fn a_change_set_with_a_row_over_the_limit_is_refused_whole() {
        let mut changes = ChangeSet {
            rows: vec![put(RowKind::User, 10), put(RowKind::SignIn, MAX_ROW_BYTES)],
            ..ChangeSet::default()
        };
        assert_eq!(changes.within_storage_limit(), Ok(()));
        changes
            .rows
            .push(put(RowKind::BulkReport, MAX_ROW_BYTES + 1));
        let refusal = changes.within_storage_limit().unwrap_err();
        assert_eq!(refusal.code(), "storage_limit");
        assert_eq!(refusal.class(), crate::account::RefusalClass::Conflict);
        assert_eq!(
            refusal.to_string(),
            "this change would store a 1000001-byte bulk_report record, over the 1000000-byte limit"
        );
    }

    #[test]
    fn row_kinds_round_trip_their_names() {
        for kind in RowKind::ALL {
            assert_eq!(RowKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RowKind::parse("state"), None);
    }

    #[test]
    fn rows_without_an_account_are_refused() {
        assert_eq!(Account::from_rows(Vec::new()), Err(RowError::NoAccount));
    }
}

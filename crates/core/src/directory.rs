//! The user directory: the account's users, sorted by any column, filtered by status and
//! company role, searched by prefix (for autocomplete), one page at a time.
//!
//! Pages are cut by keyset, not offset: a cursor carries the sort key of the last row shown
//! and its user id (the tiebreaker, so every row has a distinct position), and the next page
//! starts strictly after that position. Users added or removed between two page fetches
//! therefore never make a user who exists throughout (with an unchanged sort key) appear
//! twice or go missing.
//!
//! The cursor is opaque to clients: `dc2_` + URL-safe base64 of that position (JSON) and an
//! HMAC-SHA256 under the server-side [`HashingKey`] (its own domain) of the account id, the
//! query it was made for (sort, order, status and role filters, search text) and the position.
//! So a cursor of another account, of another query, forged or altered in any way is refused
//! (`invalid_cursor`) rather than read; the page size may change between pages.

use crate::account::{Account, Actor, Refusal};
use crate::company::CompanyRole;
use crate::ids::{AccountId, UserId};
use crate::query::UserView;
use crate::secret::{HashingKey, SecretHash};
use crate::time::Timestamp;
use crate::user::{User, UserStatus};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::ops::Bound;
use thiserror::Error;

/// Page size when none is asked for.
pub const DEFAULT_DIRECTORY_LIMIT: usize = 50;
/// The largest page.
pub const MAX_DIRECTORY_LIMIT: usize = 200;
/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 100;
/// The longest cursor accepted, in characters.
const MAX_CURSOR_CHARS: usize = 1024;
const CURSOR_PREFIX: &str = "dc2_";
/// The HMAC domain of directory cursors.
const CURSOR_DOMAIN: &str = "portcullis/directory-cursor/v1";
/// Bytes of the MAC at the end of a cursor.
const CURSOR_MAC_BYTES: usize = 32;

/// Company roles, as the directory shows and filters them ([`CompanyRole::ALL`]'s names).
/// [`Account::company_roles`] is the one place that decides who holds which.
pub const COMPANY_ROLES: &[&str] = &[
    CompanyRole::CompanyAdmin.name(),
    CompanyRole::LicenseAdmin.name(),
    CompanyRole::Support.name(),
    CompanyRole::TenantUser.name(),
];

/// A column to sort by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectorySort {
    /// The email address (the default).
    #[default]
    Email,
    /// The display name, case-insensitively.
    Name,
    /// The status, by its name (`active` < `inactive` < `pending`).
    Status,
    /// Creation time.
    CreatedAt,
    /// Last activity; never active sorts first ascending, last descending.
    LastActiveAt,
}

impl DirectorySort {
    /// Every column.
    pub const ALL: [DirectorySort; 5] = [
        DirectorySort::Email,
        DirectorySort::Name,
        DirectorySort::Status,
        DirectorySort::CreatedAt,
        DirectorySort::LastActiveAt,
    ];

    /// The stable wire name.
    pub const fn name(self) -> &'static str {
        match self {
            DirectorySort::Email => "email",
            DirectorySort::Name => "name",
            DirectorySort::Status => "status",
            DirectorySort::CreatedAt => "created_at",
            DirectorySort::LastActiveAt => "last_active_at",
        }
    }

    /// Where `user` sorts in this column (before the user id tiebreaker).
    pub(crate) fn key(self, user: &User) -> SortKey {
        match self {
            DirectorySort::Email => SortKey::Text(user.email.as_str().into()),
            DirectorySort::Name => SortKey::Text(user.name.as_str().to_lowercase().into()),
            DirectorySort::Status => SortKey::Text(user.status.name().into()),
            DirectorySort::CreatedAt => SortKey::Time(Some(user.created_at)),
            DirectorySort::LastActiveAt => SortKey::Time(user.last_active_at),
        }
    }

    const fn takes_text(self) -> bool {
        matches!(
            self,
            DirectorySort::Email | DirectorySort::Name | DirectorySort::Status
        )
    }
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// A row's position in a sort: its key, then its user id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SortKey {
    /// Shared, so that the directory's indexes copy a pointer, not the text, when they change.
    Text(std::sync::Arc<str>),
    Time(Option<Timestamp>),
}

/// Where the previous page ended: what an opaque cursor carries, under its MAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    key: SortKey,
    user_id: UserId,
}

/// What a cursor is bound to besides its position: the account and the query it pages.
#[derive(Serialize)]
struct CursorBinding<'a> {
    account_id: &'a AccountId,
    sort: DirectorySort,
    order: SortOrder,
    status: Option<UserStatus>,
    role: Option<&'a str>,
    search: Option<&'a str>,
}

/// Whether `text` is shaped like a cursor (prefix, alphabet, length): what can be judged
/// before the account is known. Only [`DirectoryQuery::decode_cursor`] accepts one.
fn cursor_shaped(text: &str) -> bool {
    text.len() <= MAX_CURSOR_CHARS
        && text.strip_prefix(CURSOR_PREFIX).is_some_and(|encoded| {
            !encoded.is_empty()
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Why directory parameters were refused. Every one is the client's mistake (400).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DirectoryError {
    /// A parameter the directory does not take.
    #[error(
        "unknown parameter `{0}`; the directory takes sort, order, status, role, q, cursor and limit"
    )]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("parameter `{0}` is given more than once")]
    RepeatedParameter(String),
    /// Not a sortable column.
    #[error("cannot sort by `{0}`; sort by email, name, status, created_at or last_active_at")]
    InvalidSort(String),
    /// Neither `asc` nor `desc`.
    #[error("order must be `asc` or `desc`, not `{0}`")]
    InvalidOrder(String),
    /// Not a user status.
    #[error("status must be `pending`, `active` or `inactive`, not `{0}`")]
    InvalidStatus(String),
    /// Not a company role.
    #[error("unknown role `{0}`")]
    InvalidRole(String),
    /// Not a number from 1 to 200.
    #[error("limit must be a number from 1 to 200, not `{0}`")]
    InvalidLimit(String),
    /// Too long, or with control characters.
    #[error("search text must be at most 100 characters, without control characters")]
    InvalidSearch,
    /// Not even shaped like a cursor (the rest is judged with the account:
    /// [`Refusal::InvalidCursor`], the same code and message).
    #[error("{}", Refusal::InvalidCursor)]
    InvalidCursor,
}

impl DirectoryError {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            DirectoryError::UnknownParameter(_) => "unknown_parameter",
            DirectoryError::RepeatedParameter(_) => "repeated_parameter",
            DirectoryError::InvalidSort(_) => "invalid_sort",
            DirectoryError::InvalidOrder(_) => "invalid_order",
            DirectoryError::InvalidStatus(_) => "invalid_status",
            DirectoryError::InvalidRole(_) => "invalid_role",
            DirectoryError::InvalidLimit(_) => "invalid_limit",
            DirectoryError::InvalidSearch => "invalid_search",
            DirectoryError::InvalidCursor => Refusal::InvalidCursor.code(),
        }
    }
}

/// One directory request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    /// The column to sort by.
    pub sort: DirectorySort,
    /// The order.
    pub order: SortOrder,
    /// Only users with this status.
    pub status: Option<UserStatus>,
    /// Only users holding this company role (one of [`COMPANY_ROLES`]).
    pub role: Option<String>,
    /// Case-insensitive prefix of the email or of any word of the name (lowercased).
    pub search: Option<String>,
    /// Start after the position of this cursor (a previous page's `next_cursor`, as given:
    /// it is checked against the account and this query when the page is read).
    pub cursor: Option<String>,
    /// Page size, 1 to [`MAX_DIRECTORY_LIMIT`].
    pub limit: usize,
}

impl Default for DirectoryQuery {
    fn default() -> Self {
        Self {
            sort: DirectorySort::default(),
            order: SortOrder::default(),
            status: None,
            role: None,
            search: None,
            cursor: None,
            limit: DEFAULT_DIRECTORY_LIMIT,
        }
    }
}

fn excerpt(value: &str) -> String {
    crate::ids::excerpt(value)
}

impl DirectoryQuery {
    /// Builds a query from decoded `name=value` parameters (`sort`, `order`, `status`, `role`,
    /// `q`, `cursor`, `limit`); every one is optional, none may repeat, an empty `q` means no
    /// search.
    pub fn from_parameters<I, K, V>(parameters: I) -> Result<Self, DirectoryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: Vec<String> = Vec::new();
        let mut query = DirectoryQuery::default();
        for (name, value) in parameters {
            let (name, value) = (name.as_ref(), value.as_ref());
            if seen.iter().any(|known| known == name) {
                return Err(DirectoryError::RepeatedParameter(excerpt(name)));
            }
            seen.push(name.to_owned());
            match name {
                "sort" => {
                    query.sort = DirectorySort::ALL
                        .into_iter()
                        .find(|sort| sort.name() == value)
                        .ok_or_else(|| DirectoryError::InvalidSort(excerpt(value)))?;
                }
                "order" => {
                    query.order = match value {
                        "asc" => SortOrder::Asc,
                        "desc" => SortOrder::Desc,
                        other => return Err(DirectoryError::InvalidOrder(excerpt(other))),
                    };
                }
                "status" => {
                    let status = [
                        UserStatus::Pending,
                        UserStatus::Active,
                        UserStatus::Inactive,
                    ]
                    .into_iter()
                    .find(|status| status.name() == value)
                    .ok_or_else(|| DirectoryError::InvalidStatus(excerpt(value)))?;
                    query.status = Some(status);
                }
                "role" => {
                    let role = COMPANY_ROLES
                        .iter()
                        .find(|role| **role == value)
                        .ok_or_else(|| DirectoryError::InvalidRole(excerpt(value)))?;
                    query.role = Some((*role).to_owned());
                }
                "q" => {
                    let text = value.trim();
                    if text.chars().count() > MAX_SEARCH_CHARS || text.chars().any(char::is_control)
                    {
                        return Err(DirectoryError::InvalidSearch);
                    }
                    query.search = (!text.is_empty()).then(|| text.to_lowercase());
                }
                "cursor" => {
                    if !cursor_shaped(value) {
                        return Err(DirectoryError::InvalidCursor);
                    }
                    query.cursor = Some(value.to_owned());
                }
                "limit" => {
                    query.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|limit| (1..=MAX_DIRECTORY_LIMIT).contains(limit))
                        .ok_or_else(|| DirectoryError::InvalidLimit(excerpt(value)))?;
                }
                other => return Err(DirectoryError::UnknownParameter(excerpt(other))),
            }
        }
        Ok(query)
    }

    /// The bytes a cursor's MAC covers: the account, this query, then the position.
    fn cursor_input(&self, account_id: &AccountId, position: &[u8]) -> Vec<u8> {
        let binding = CursorBinding {
            account_id,
            sort: self.sort,
            order: self.order,
            status: self.status,
            role: self.role.as_deref(),
            search: self.search.as_deref(),
        };
        let mut input = serde_json::to_vec(&binding).unwrap_or_default();
        input.push(0);
        input.extend_from_slice(position);
        input
    }

    /// The cursor of the page after `position`, for this query in `account_id`.
    fn encode_cursor(
        &self,
        account_id: &AccountId,
        key: &HashingKey,
        position: &Position,
    ) -> String {
        let mut bytes = serde_json::to_vec(position).unwrap_or_default();
        let mac = key.hash(CURSOR_DOMAIN, &self.cursor_input(account_id, &bytes));
        bytes.extend_from_slice(mac.as_bytes());
        format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The position this query's cursor carries, when `key` made it for this very query in
    /// `account_id`: anything else is [`Refusal::InvalidCursor`]. Never panics.
    fn decode_cursor(
        &self,
        account_id: &AccountId,
        key: &HashingKey,
        text: &str,
    ) -> Result<Position, Refusal> {
        if !cursor_shaped(text) {
            return Err(Refusal::InvalidCursor);
        }
        let encoded = text.get(CURSOR_PREFIX.len()..).unwrap_or_default();
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| Refusal::InvalidCursor)?;
        let split = bytes
            .len()
            .checked_sub(CURSOR_MAC_BYTES)
            .ok_or(Refusal::InvalidCursor)?;
        let (payload, mac) = bytes.split_at(split);
        let mac: [u8; CURSOR_MAC_BYTES] = mac.try_into().map_err(|_| Refusal::InvalidCursor)?;
        let input = self.cursor_input(account_id, payload);
        if !key.verify(CURSOR_DOMAIN, &input, &SecretHash::from_bytes(mac)) {
            return Err(Refusal::InvalidCursor);
        }
        let position: Position =
            serde_json::from_slice(payload).map_err(|_| Refusal::InvalidCursor)?;
        // Only this code made the cursor, for this sort; checked all the same.
        if matches!(position.key, SortKey::Text(_)) != self.sort.takes_text() {
            return Err(Refusal::InvalidCursor);
        }
        Ok(position)
    }
}

/// One user in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The user, as [`Account::view_user`] shows them (company roles included).
    #[serde(flatten)]
    pub user: UserView,
    /// Last activity, if any.
    pub last_active_at: Option<Timestamp>,
}

/// One page of the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPage {
    /// The users on this page, in order.
    pub items: Vec<DirectoryEntry>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

impl Account {
    /// Who may read the user directory and bulk reports: company admins. The one check for
    /// account-wide user administration reads.
    pub fn authorize_directory(&self, actor: &Actor, now: Timestamp) -> Result<(), Refusal> {
        self.require_company_admin(actor, now)
    }

    /// One page of the user directory. `key` (the server-side hashing key) signs the next
    /// page's cursor and checks the one given.
    pub fn view_directory(
        &self,
        actor: &Actor,
        query: &DirectoryQuery,
        key: &HashingKey,
        now: Timestamp,
    ) -> Result<DirectoryPage, Refusal> {
        self.authorize_directory(actor, now)?;
        let after = query
            .cursor
            .as_deref()
            .map(|text| query.decode_cursor(self.id(), key, text))
            .transpose()?;
        let limit = query.limit.clamp(1, MAX_DIRECTORY_LIMIT);
        // The column's order, from just after the cursor's position: a page reads the users
        // it shows and those the filters pass over, never the rest.
        let index = self.directory_order(query.sort);
        let after = after.map(|position| (position.key, position.user_id));
        let in_order: Box<dyn Iterator<Item = &(SortKey, UserId)>> = match (query.order, &after) {
            (SortOrder::Asc, None) => Box::new(index.iter()),
            (SortOrder::Asc, Some(after)) => Box::new(
                index.range::<_, (SortKey, UserId)>((Bound::Excluded(after), Bound::Unbounded)),
            ),
            (SortOrder::Desc, None) => Box::new(index.iter().rev()),
            (SortOrder::Desc, Some(after)) => Box::new(
                index
                    .range::<_, (SortKey, UserId)>((Bound::Unbounded, Bound::Excluded(after)))
                    .rev(),
            ),
        };
        let mut rows: Vec<(&SortKey, &User)> = in_order
            .filter_map(|(key, id)| Some((key, self.user(id)?)))
            .filter(|(_, user)| query.status.is_none_or(|status| user.status == status))
            .filter(|(_, user)| {
                query.role.as_deref().is_none_or(|role| {
                    self.company_roles(&user.id)
                        .iter()
                        .any(|held| held.name() == role)
                })
            })
            .filter(|(_, user)| {
                query
                    .search
                    .as_deref()
                    .is_none_or(|text| matches_search(user, text))
            })
            .take(limit + 1)
            .collect();
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some((sort_key, user)) if more => Some(query.encode_cursor(
                self.id(),
                key,
                &Position {
                    key: (*sort_key).clone(),
                    user_id: user.id.clone(),
                },
            )),
            _ => None,
        };
        let items = rows
            .into_iter()
            .map(|(_, user)| DirectoryEntry {
                user: self.user_view(user),
                last_active_at: user.last_active_at,
            })
            .collect();
        Ok(DirectoryPage { items, next_cursor })
    }
}

/// Case-insensitive prefix of the email, of the whole name or of any word of the name;
/// `text` is already lowercase.
fn matches_search(user: &User, text: &str) -> bool {
    let name = user.name.as_str().to_lowercase();
    user.email.as_str().starts_with(text)
        || name.starts_with(text)
        || name.split_whitespace().any(|word| word.starts_with(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        "acc_00000000000000aa".parse().unwrap()
    }

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[9; 32]).unwrap()
    }

    fn query(sort: DirectorySort, order: SortOrder) -> DirectoryQuery {
        DirectoryQuery {
            sort,
            order,
            ..DirectoryQuery::default()
        }
    }

    fn position(sort: DirectorySort) -> Position {
        Position {
            key: sort.key(&sample_user()),
            user_id: "usr_00000000000000bb".parse().unwrap(),
        }
    }

    fn sample_user() -> User {
        crate::user::sample_user("usr_00000000000000bb", "ana@example.com")
    }

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        for sort in DirectorySort::ALL {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                let query = query(sort, order);
                let text = query.encode_cursor(&account(), &key(), &position(sort));
                assert!(cursor_shaped(&text), "{text}");
                assert_eq!(
                    query.decode_cursor(&account(), &key(), &text),
                    Ok(position(sort))
                );
            }
        }
    }

    #[test]
    fn every_single_character_change_to_a_cursor_is_refused() {
        let query = query(DirectorySort::Name, SortOrder::Asc);
        let decode = |text: &str| query.decode_cursor(&account(), &key(), text);
        let text = query.encode_cursor(&account(), &key(), &position(DirectorySort::Name));
        for (index, original) in text.char_indices() {
            for replacement in ['A', 'z', '0', '_', '-', '~'] {
                if replacement == original {
                    continue;
                }
                let mut mutated = text.clone();
                mutated.replace_range(index..=index, &replacement.to_string());
                assert_eq!(decode(&mutated), Err(Refusal::InvalidCursor), "{mutated}");
            }
        }
        assert!(decode(&text[..text.len() - 1]).is_err());
        assert_eq!(decode("dc2_"), Err(Refusal::InvalidCursor));
        assert_eq!(decode(&"x".repeat(5000)), Err(Refusal::InvalidCursor));
    }

    #[test]
    fn directory_cursors_are_macd_and_bound_to_the_account_and_query() {
        let made_for = DirectoryQuery {
            sort: DirectorySort::Email,
            order: SortOrder::Asc,
            status: Some(UserStatus::Active),
            role: Some("tenant_user".into()),
            search: Some("an".into()),
            cursor: None,
            limit: 10,
        };
        let text = made_for.encode_cursor(&account(), &key(), &position(DirectorySort::Email));
        // The page size may change between pages.
        let bigger = DirectoryQuery {
            limit: 200,
            ..made_for.clone()
        };
        assert!(bigger.decode_cursor(&account(), &key(), &text).is_ok());
        let other_account: AccountId = "acc_00000000000000cc".parse().unwrap();
        let other_key = HashingKey::from_bytes(&[10; 32]).unwrap();
        assert_eq!(
            made_for.decode_cursor(&other_account, &key(), &text),
            Err(Refusal::InvalidCursor)
        );
        assert_eq!(
            made_for.decode_cursor(&account(), &other_key, &text),
            Err(Refusal::InvalidCursor)
        );
        let others = [
            DirectoryQuery {
                order: SortOrder::Desc,
                ..made_for.clone()
            },
            DirectoryQuery {
                sort: DirectorySort::Name,
                ..made_for.clone()
            },
            DirectoryQuery {
                status: None,
                ..made_for.clone()
            },
            DirectoryQuery {
                role: Some("company_admin".into()),
                ..made_for.clone()
            },
            DirectoryQuery {
                search: Some("a".into()),
                ..made_for.clone()
            },
        ];
        for other in others {
            assert_eq!(
                other.decode_cursor(&account(), &key(), &text),
                Err(Refusal::InvalidCursor),
                "{other:?}"
            );
        }
        // A cursor of the old, CRC-checked kind (anyone could make one) is refused.
        let payload = br#"{"sort":"email","order":"asc","key":{"text":"a"},"user_id":"usr_00000000000000bb"}"#;
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
        for prefix in ["dc1_", "dc2_"] {
            let forged = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(
                made_for.decode_cursor(&account(), &key(), &forged),
                Err(Refusal::InvalidCursor)
            );
        }
    }

    #[test]
    fn a_signed_cursor_with_a_key_of_the_wrong_kind_is_refused() {
        let query = query(DirectorySort::CreatedAt, SortOrder::Asc);
        let forged = Position {
            key: SortKey::Text("x".into()),
            user_id: "usr_00000000000000bb".parse().unwrap(),
        };
        let text = query.encode_cursor(&account(), &key(), &forged);
        assert_eq!(
            query.decode_cursor(&account(), &key(), &text),
            Err(Refusal::InvalidCursor)
        );
    }

    #[test]
    fn parameters_parse_with_defaults_and_stable_codes() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            DirectoryQuery::from_parameters(none),
            Ok(DirectoryQuery::default())
        );
        let query = DirectoryQuery::from_parameters([
            ("sort", "last_active_at"),
            ("order", "desc"),
            ("status", "inactive"),
            ("role", "company_admin"),
            ("q", "  Ana "),
            ("limit", "200"),
        ])
        .unwrap();
        assert_eq!(query.sort, DirectorySort::LastActiveAt);
        assert_eq!(query.order, SortOrder::Desc);
        assert_eq!(query.status, Some(UserStatus::Inactive));
        assert_eq!(query.role.as_deref(), Some("company_admin"));
        assert_eq!(query.search.as_deref(), Some("ana"));
        assert_eq!(query.limit, 200);
        assert_eq!(
            DirectoryQuery::from_parameters([("q", "")]).unwrap().search,
            None
        );
        let code = |pairs: &[(&str, &str)]| {
            DirectoryQuery::from_parameters(pairs.iter().copied())
                .unwrap_err()
                .code()
        };
        assert_eq!(code(&[("sort", "password")]), "invalid_sort");
        assert_eq!(code(&[("order", "up")]), "invalid_order");
        assert_eq!(code(&[("status", "deleted")]), "invalid_status");
        assert_eq!(code(&[("role", "root")]), "invalid_role");
        assert_eq!(code(&[("limit", "0")]), "invalid_limit");
        assert_eq!(code(&[("limit", "201")]), "invalid_limit");
        assert_eq!(code(&[("limit", "-1")]), "invalid_limit");
        assert_eq!(code(&[("q", &"a".repeat(101))]), "invalid_search");
        assert_eq!(code(&[("q", "a\u{7}")]), "invalid_search");
        assert_eq!(code(&[("cursor", "nope")]), "invalid_cursor");
        assert_eq!(code(&[("page", "2")]), "unknown_parameter");
        assert_eq!(
            code(&[("sort", "name"), ("sort", "email")]),
            "repeated_parameter"
        );
        assert_eq!(code(&[("cursor", "dc2_a%b")]), "invalid_cursor");
        assert_eq!(code(&[("cursor", &"dc2_a".repeat(300))]), "invalid_cursor");
        // A cursor-shaped text is kept as given, to be checked with the account.
        let parsed = DirectoryQuery::from_parameters([("cursor", "dc2_abc"), ("sort", "name")]);
        assert_eq!(parsed.unwrap().cursor.as_deref(), Some("dc2_abc"));
    }

    #[test]
    fn search_matches_prefixes_of_the_email_and_of_each_name_word() {
        let user = sample_user();
        for text in ["ana", "ana@ex", "bell", "ana b", "b"] {
            assert!(matches_search(&user, text), "{text}");
        }
        for text in ["example", "ell", "anab", "nna"] {
            assert!(!matches_search(&user, text), "{text}");
        }
    }
}

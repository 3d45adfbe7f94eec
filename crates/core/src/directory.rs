//! The user directory: the account's users, sorted by any column, filtered by status and
//! company role, searched by prefix (for autocomplete), one page at a time.
//!
//! Pages are cut by keyset, not offset: a cursor carries the sort key of the last row shown
//! and its user id (the tiebreaker, so every row has a distinct position), and the next page
//! starts strictly after that position. Users added or removed between two page fetches
//! therefore never make a user who exists throughout (with an unchanged sort key) appear
//! twice or go missing. The cursor is opaque to clients: `dc1_` + URL-safe base64 of its JSON
//! and a CRC-32 of it, so a mangled or edited cursor is refused (`invalid_cursor`) rather
//! than misread. It is bound to the sort column and order it was made for.

use crate::account::{Account, Actor, Refusal};
use crate::company::CompanyRole;
use crate::ids::UserId;
use crate::query::UserView;
use crate::time::Timestamp;
use crate::user::{User, UserStatus};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use thiserror::Error;

/// Page size when none is asked for.
pub const DEFAULT_DIRECTORY_LIMIT: usize = 50;
/// The largest page.
pub const MAX_DIRECTORY_LIMIT: usize = 200;
/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 100;
/// The longest cursor accepted, in characters.
const MAX_CURSOR_CHARS: usize = 1024;
const CURSOR_PREFIX: &str = "dc1_";

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

    fn key(self, user: &User) -> SortKey {
        match self {
            DirectorySort::Email => SortKey::Text(user.email.as_str().to_owned()),
            DirectorySort::Name => SortKey::Text(user.name.as_str().to_lowercase()),
            DirectorySort::Status => SortKey::Text(user.status.name().to_owned()),
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
enum SortKey {
    Text(String),
    Time(Option<Timestamp>),
}

/// Where the previous page ended (decoded from the opaque cursor string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    sort: DirectorySort,
    order: SortOrder,
    key: SortKey,
    user_id: UserId,
}

impl Cursor {
    /// The opaque, URL-safe text clients pass back.
    pub fn encode(&self) -> String {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_be_bytes());
        format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Decodes a cursor made for `sort` and `order`. Never panics.
    pub fn decode(
        text: &str,
        sort: DirectorySort,
        order: SortOrder,
    ) -> Result<Self, DirectoryError> {
        if text.len() > MAX_CURSOR_CHARS {
            return Err(DirectoryError::InvalidCursor);
        }
        let encoded = text
            .strip_prefix(CURSOR_PREFIX)
            .ok_or(DirectoryError::InvalidCursor)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| DirectoryError::InvalidCursor)?;
        let split = bytes
            .len()
            .checked_sub(4)
            .ok_or(DirectoryError::InvalidCursor)?;
        let (payload, checksum) = bytes.split_at(split);
        let expected = crc32fast::hash(payload).to_be_bytes();
        if checksum != expected {
            return Err(DirectoryError::InvalidCursor);
        }
        let cursor: Cursor =
            serde_json::from_slice(payload).map_err(|_| DirectoryError::InvalidCursor)?;
        let key_fits = matches!(cursor.key, SortKey::Text(_)) == cursor.sort.takes_text();
        if !key_fits {
            return Err(DirectoryError::InvalidCursor);
        }
        if cursor.sort != sort || cursor.order != order {
            return Err(DirectoryError::CursorMismatch);
        }
        Ok(cursor)
    }

    fn position(&self) -> (&SortKey, &UserId) {
        (&self.key, &self.user_id)
    }
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
    /// Not a cursor this API made, or altered.
    #[error("the cursor is malformed or was altered; start again from the first page")]
    InvalidCursor,
    /// A cursor made for another sort column or order.
    #[error("the cursor belongs to another sort or order; start again from the first page")]
    CursorMismatch,
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
            DirectoryError::InvalidCursor | DirectoryError::CursorMismatch => "invalid_cursor",
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
    /// Start after this position.
    pub cursor: Option<Cursor>,
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
        let mut cursor = None;
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
                "cursor" => cursor = Some(value.to_owned()),
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
        // Decoded last: it must match the sort and order, wherever they came in the list.
        if let Some(text) = cursor {
            query.cursor = Some(Cursor::decode(&text, query.sort, query.order)?);
        }
        Ok(query)
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

    /// One page of the user directory.
    pub fn view_directory(
        &self,
        actor: &Actor,
        query: &DirectoryQuery,
        now: Timestamp,
    ) -> Result<DirectoryPage, Refusal> {
        self.authorize_directory(actor, now)?;
        let limit = query.limit.clamp(1, MAX_DIRECTORY_LIMIT);
        let order = |a: &(SortKey, &User), b: &(SortKey, &User)| -> Ordering {
            let ascending = (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id));
            match query.order {
                SortOrder::Asc => ascending,
                SortOrder::Desc => ascending.reverse(),
            }
        };
        let mut rows: Vec<(SortKey, &User)> = self
            .users()
            .filter(|user| query.status.is_none_or(|status| user.status == status))
            .filter(|user| {
                query.role.as_deref().is_none_or(|role| {
                    self.company_roles(&user.id)
                        .iter()
                        .any(|held| held.name() == role)
                })
            })
            .filter(|user| {
                query
                    .search
                    .as_deref()
                    .is_none_or(|text| matches_search(user, text))
            })
            .map(|user| (query.sort.key(user), user))
            .filter(|(key, user)| {
                query.cursor.as_ref().is_none_or(|cursor| {
                    let after = (key, &user.id).cmp(&cursor.position());
                    match query.order {
                        SortOrder::Asc => after == Ordering::Greater,
                        SortOrder::Desc => after == Ordering::Less,
                    }
                })
            })
            .collect();
        rows.sort_by(order);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some((key, user)) if more => Some(
                Cursor {
                    sort: query.sort,
                    order: query.order,
                    key: key.clone(),
                    user_id: user.id.clone(),
                }
                .encode(),
            ),
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

    fn cursor(sort: DirectorySort, order: SortOrder) -> Cursor {
        Cursor {
            sort,
            order,
            key: sort.key(&sample_user()),
            user_id: "usr_00000000000000bb".parse().unwrap(),
        }
    }

    fn sample_user() -> User {
        User {
            id: "usr_00000000000000bb".parse().unwrap(),
            email: "ana@example.com".parse().unwrap(),
            name: "Ana Bell".parse().unwrap(),
            status: UserStatus::Active,
            company_admin: false,
            support: false,
            license_tenants: std::collections::BTreeSet::new(),
            created_at: Timestamp::from_unix_seconds(1_700_000_000),
            invitation: None,
            last_active_at: None,
        }
    }

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        for sort in DirectorySort::ALL {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                let original = cursor(sort, order);
                let text = original.encode();
                assert!(
                    text.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    "{text}"
                );
                assert_eq!(Cursor::decode(&text, sort, order), Ok(original));
            }
        }
    }

    #[test]
    fn every_single_character_change_to_a_cursor_is_refused() {
        let text = cursor(DirectorySort::Name, SortOrder::Asc).encode();
        for (index, original) in text.char_indices() {
            for replacement in ['A', 'z', '0', '_', '-', '~'] {
                if replacement == original {
                    continue;
                }
                let mut mutated = text.clone();
                mutated.replace_range(index..=index, &replacement.to_string());
                assert!(
                    Cursor::decode(&mutated, DirectorySort::Name, SortOrder::Asc).is_err(),
                    "{mutated}"
                );
            }
        }
        assert!(
            Cursor::decode(&text[..text.len() - 1], DirectorySort::Name, SortOrder::Asc).is_err()
        );
        assert_eq!(
            Cursor::decode("dc1_", DirectorySort::Name, SortOrder::Asc),
            Err(DirectoryError::InvalidCursor)
        );
        assert_eq!(
            Cursor::decode(&"x".repeat(5000), DirectorySort::Name, SortOrder::Asc),
            Err(DirectoryError::InvalidCursor)
        );
    }

    #[test]
    fn a_cursor_is_bound_to_its_sort_and_order() {
        let text = cursor(DirectorySort::Email, SortOrder::Asc).encode();
        assert_eq!(
            Cursor::decode(&text, DirectorySort::Email, SortOrder::Desc),
            Err(DirectoryError::CursorMismatch)
        );
        assert_eq!(
            Cursor::decode(&text, DirectorySort::CreatedAt, SortOrder::Asc),
            Err(DirectoryError::CursorMismatch)
        );
    }

    #[test]
    fn a_well_formed_cursor_with_a_key_of_the_wrong_kind_is_refused() {
        let forged = Cursor {
            sort: DirectorySort::CreatedAt,
            order: SortOrder::Asc,
            key: SortKey::Text("x".into()),
            user_id: "usr_00000000000000bb".parse().unwrap(),
        };
        assert_eq!(
            Cursor::decode(&forged.encode(), DirectorySort::CreatedAt, SortOrder::Asc),
            Err(DirectoryError::InvalidCursor)
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
        let text = cursor(DirectorySort::Name, SortOrder::Desc).encode();
        // The cursor is judged against the sort and order wherever they come.
        let parsed = DirectoryQuery::from_parameters([
            ("cursor", text.as_str()),
            ("order", "desc"),
            ("sort", "name"),
        ]);
        assert!(parsed.is_ok(), "{parsed:?}");
        assert_eq!(
            code(&[("cursor", text.as_str()), ("sort", "name")]),
            "invalid_cursor"
        );
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

//! Pages of a tenant's lists (members, API tokens, automation keys), in id order, by keyset.
//!
//! Without a `limit` a list is read whole, as it always was (a tenant's lists are bounded by
//! its plan and quotas). With one, a page holds at most `limit` items and, when more follow,
//! `next_cursor`: the id of its last item. The next page starts strictly after that id, so
//! items added or removed between two fetches never make an item that exists throughout appear
//! twice or go missing. The cursor is an id the page already shows, so it reveals nothing.

use crate::account::Refusal;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::ops::Bound;
use std::str::FromStr;
use thiserror::Error;

/// The largest page.
pub const MAX_LIST_LIMIT: usize = 200;
/// The longest cursor accepted, in characters (ids are much shorter).
const MAX_CURSOR_CHARS: usize = 100;

/// One list request: `limit` and `cursor`, both optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1 to [`MAX_LIST_LIMIT`]; `None` reads the whole list.
    pub limit: Option<usize>,
    /// Start after this id (a previous page's `next_cursor`).
    pub cursor: Option<String>,
}

/// Why list parameters were refused. Every one is the client's mistake (400).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ListError {
    /// A parameter lists do not take.
    #[error("unknown parameter `{0}`; lists take limit and cursor")]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("parameter `{0}` is given more than once")]
    RepeatedParameter(String),
    /// Not a number from 1 to 200.
    #[error("limit must be a number from 1 to 200, not `{0}`")]
    InvalidLimit(String),
    /// Not an id of the list's kind.
    #[error("{}", Refusal::InvalidCursor)]
    InvalidCursor,
}

impl ListError {
    /// A stable machine-readable code (the directory's codes for the same mistakes).
    pub const fn code(&self) -> &'static str {
        match self {
            ListError::UnknownParameter(_) => "unknown_parameter",
            ListError::RepeatedParameter(_) => "repeated_parameter",
            ListError::InvalidLimit(_) => "invalid_limit",
            ListError::InvalidCursor => Refusal::InvalidCursor.code(),
        }
    }
}

impl ListQuery {
    /// Builds a query from decoded `name=value` parameters.
    pub fn from_parameters<I, K, V>(parameters: I) -> Result<Self, ListError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut query = ListQuery::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in parameters {
            let (name, value) = (name.as_ref(), value.as_ref());
            if seen.iter().any(|known| known == name) {
                return Err(ListError::RepeatedParameter(crate::ids::excerpt(name)));
            }
            seen.push(name.to_owned());
            match name {
                "limit" => {
                    let limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|limit| (1..=MAX_LIST_LIMIT).contains(limit))
                        .ok_or_else(|| ListError::InvalidLimit(crate::ids::excerpt(value)))?;
                    query.limit = Some(limit);
                }
                "cursor" => {
                    let shaped = !value.is_empty()
                        && value.len() <= MAX_CURSOR_CHARS
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if !shaped {
                        return Err(ListError::InvalidCursor);
                    }
                    query.cursor = Some(value.to_owned());
                }
                other => return Err(ListError::UnknownParameter(crate::ids::excerpt(other))),
            }
        }
        Ok(query)
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage<T> {
    /// The items on this page, in id order.
    pub items: Vec<T>,
    /// The cursor of the next page (the last item's id); `None` on the last one.
    pub next_cursor: Option<String>,
}

/// The page of `map` that `query` asks for: the entries after the cursor, in key order, that
/// `view` shows (it returns `None` for those the reader may not see), at most `limit`. Reads
/// the entries the page shows and those `view` passes over, not the rest. A cursor that is not
/// a key of this kind is [`Refusal::InvalidCursor`]; one that names no entry (any more) still
/// marks a position.
pub(crate) fn page<'a, K, V, T>(
    map: &'a OrdMap<K, V>,
    query: &ListQuery,
    mut view: impl FnMut(&'a K, &'a V) -> Option<T>,
) -> Result<ListPage<T>, Refusal>
where
    K: Ord + Clone + FromStr + Display,
    V: Clone,
{
    let after: Option<K> = query
        .cursor
        .as_deref()
        .map(|text| text.parse().map_err(|_| Refusal::InvalidCursor))
        .transpose()?;
    let entries: Box<dyn Iterator<Item = (&K, &V)>> = match &after {
        None => Box::new(map.iter()),
        Some(after) => Box::new(map.range::<_, K>((Bound::Excluded(after), Bound::Unbounded))),
    };
    let limit = query
        .limit
        .map_or(usize::MAX, |l| l.clamp(1, MAX_LIST_LIMIT));
    let mut items = Vec::new();
    let mut last: Option<&K> = None;
    for (key, value) in entries {
        let Some(item) = view(key, value) else {
            continue;
        };
        if items.len() == limit {
            return Ok(ListPage {
                items,
                next_cursor: last.map(ToString::to_string),
            });
        }
        items.push(item);
        last = Some(key);
    }
    Ok(ListPage {
        items,
        next_cursor: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_keys_and_end_without_a_cursor() {
        let map: OrdMap<u32, u32> = (1..=7u32).map(|n| (n, n * 10)).collect();
        let odd = |_: &u32, v: &u32| (!v.is_multiple_of(20)).then_some(*v);
        let mut query = ListQuery {
            limit: Some(2),
            cursor: None,
        };
        let mut seen = Vec::new();
        loop {
            let page = page(&map, &query, odd).unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => query.cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, [10, 30, 50, 70]);
        let whole = page(&map, &ListQuery::default(), odd).unwrap();
        assert_eq!((whole.items.len(), whole.next_cursor), (4, None));
        // Exactly `limit` left: the last page says so with no cursor.
        let exact = ListQuery {
            limit: Some(4),
            cursor: None,
        };
        assert_eq!(page(&map, &exact, odd).unwrap().next_cursor, None);
        let bad = ListQuery {
            limit: Some(2),
            cursor: Some("x".into()),
        };
        assert_eq!(page(&map, &bad, odd), Err(Refusal::InvalidCursor));
    }

    #[test]
    fn parameters_are_checked_with_stable_codes() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(ListQuery::from_parameters(none), Ok(ListQuery::default()));
        assert_eq!(
            ListQuery::from_parameters([("limit", "200"), ("cursor", "usr_00000000000000aa")]),
            Ok(ListQuery {
                limit: Some(200),
                cursor: Some("usr_00000000000000aa".into())
            })
        );
        let code = |pairs: &[(&str, &str)]| {
            ListQuery::from_parameters(pairs.iter().copied())
                .unwrap_err()
                .code()
        };
        assert_eq!(code(&[("limit", "0")]), "invalid_limit");
        assert_eq!(code(&[("limit", "201")]), "invalid_limit");
        assert_eq!(code(&[("limit", "ten")]), "invalid_limit");
        assert_eq!(code(&[("cursor", "")]), "invalid_cursor");
        assert_eq!(code(&[("cursor", "a:b")]), "invalid_cursor");
        // Key ids are URL-safe base64 after their prefix.
        assert!(ListQuery::from_parameters([("cursor", "ak_Ab-_9")]).is_ok());
        assert_eq!(code(&[("cursor", &"a".repeat(101))]), "invalid_cursor");
        assert_eq!(code(&[("page", "2")]), "unknown_parameter");
        assert_eq!(
            code(&[("limit", "1"), ("limit", "2")]),
            "repeated_parameter"
        );
    }
}

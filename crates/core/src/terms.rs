//! The terms a credential is issued under: when it may be used (`not_before`, `expires_at`),
//! from where (client IP rules), and what it says about itself to the origin (an
//! `external_id` and a small `metadata` object). API tokens and automation keys share them.
//!
//! Every limit on them is here, once: [`Terms::check`] is what the engine runs before a
//! credential is created with them, [`IpRules::permits`] what verification asks.
//!
//! - **Validity window.** `not_before` (the credential works from then) and `expires_at` (it
//!   stops then); both optional; `expires_at` must be in the future when the credential is
//!   created and after `not_before`.
//! - **Client IP rules.** `allowed_ips` and `denied_ips`, lists of CIDR ranges (IPv4 or IPv6;
//!   a bare address is a single-address range; host bits must be zero) of at most
//!   [`MAX_IP_RANGES`] each. A request is permitted when its client address is in no denied
//!   range and, if any range is allowed, in one of them. A request whose client address is
//!   unknown is refused by any rule (fail closed). An IPv4-mapped IPv6 address is judged as
//!   its IPv4 address.
//! - **External id.** 1 to [`MAX_EXTERNAL_ID_LEN`] visible ASCII characters: the caller's own
//!   id for what the credential stands for (a customer, a workspace), never secret.
//! - **Metadata.** A JSON object of at most [`MAX_METADATA_BYTES`] bytes (compact form),
//!   never secret: it is returned in views and sent to the origin.
//! - **Rate limit.** At most `requests` authenticated requests per `period_seconds`, one of
//!   the [`RATE_LIMIT_TIERS`]: the edge counts them with a Workers rate-limiting binding per
//!   tier ([`RateLimit::binding`]), whose limit is fixed in the Worker's configuration, hence
//!   tiers rather than any number. Over it, a request is refused with 429 and `Retry-After`.

use crate::time::Timestamp;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use thiserror::Error;

/// The most ranges in each of `allowed_ips` and `denied_ips`.
pub const MAX_IP_RANGES: usize = 32;
/// The longest external id, in bytes.
pub const MAX_EXTERNAL_ID_LEN: usize = 128;
/// The largest metadata object, in bytes of its compact JSON form.
pub const MAX_METADATA_BYTES: usize = 1024;
/// The longest overlap of a rolled credential's previous secret, in seconds (24 hours).
pub const MAX_ROLL_OVERLAP_SECONDS: u32 = 24 * 60 * 60;
/// The rate limits a credential may have, as (`requests`, `period_seconds`): the periods the
/// Workers rate-limiting binding supports (10 and 60 seconds), each with a binding of its own
/// in `wrangler.toml` and `wrangler.edge.toml` (named by [`RateLimit::binding`]).
pub const RATE_LIMIT_TIERS: [(u32, u32); 7] = [
    (10, 10),
    (100, 10),
    (1_000, 10),
    (10, 60),
    (100, 60),
    (1_000, 60),
    (10_000, 60),
];

/// Why terms cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TermsError {
    /// `expires_at` is not in the future.
    #[error("expiry must be in the future")]
    ExpiryInPast,
    /// `not_before` is at or after `expires_at`.
    #[error("not_before must be before expires_at")]
    EmptyWindow,
    /// More ranges than [`MAX_IP_RANGES`] in one list.
    #[error("{list} holds {count} ranges; at most 32 are allowed")]
    TooManyRanges {
        /// `allowed_ips` or `denied_ips`.
        list: &'static str,
        /// How many were given.
        count: usize,
    },
    /// A roll overlap above [`MAX_ROLL_OVERLAP_SECONDS`].
    #[error("overlap_seconds must be 0 to 86400 (24 hours), not {0}")]
    OverlapTooLong(u64),
    /// A rate limit that is not one of the [`RATE_LIMIT_TIERS`].
    #[error(
        "rate_limit {0} is not offered: choose one of 10, 100 or 1000 requests per 10 seconds, \
         or 10, 100, 1000 or 10000 per 60 seconds"
    )]
    RateLimitNotOffered(RateLimit),
}

impl TermsError {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            TermsError::ExpiryInPast => "expiry_in_past",
            TermsError::EmptyWindow => "empty_validity_window",
            TermsError::TooManyRanges { .. } => "too_many_ip_ranges",
            TermsError::OverlapTooLong(_) => "overlap_too_long",
            TermsError::RateLimitNotOffered(_) => "rate_limit_not_offered",
        }
    }
}

/// Why a text is not an IP range.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum IpRangeError {
    /// Neither an address nor `address/prefix`.
    #[error("`{0}` is not an IP address or CIDR range (e.g. 203.0.113.0/24, 2001:db8::/32)")]
    Syntax(String),
    /// Bits set after the prefix.
    #[error("`{given}` has bits set after its prefix: the range is `{network}`")]
    HostBits {
        /// What was given.
        given: String,
        /// The range it lies in.
        network: String,
    },
}

/// One CIDR range of client addresses (IPv4 or IPv6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpRange(IpNet);

impl IpRange {
    /// Whether `address` lies in the range.
    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.contains(address)
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => text
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| IpRangeError::Syntax(text.to_owned()))?,
        };
        if net.trunc() != net {
            return Err(IpRangeError::HostBits {
                given: text.to_owned(),
                network: net.trunc().to_string(),
            });
        }
        Ok(IpRange(net))
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpRange({})", self.0)
    }
}

impl Serialize for IpRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a credential may be used from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpRules {
    /// If any: the client address must be in one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<IpRange>,
    /// The client address must be in none of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_ips: Vec<IpRange>,
}

impl IpRules {
    /// No rule at all: every client address (known or not) is permitted.
    pub fn is_empty(&self) -> bool {
        self.allowed_ips.is_empty() && self.denied_ips.is_empty()
    }

    /// Whether a request from `client` (unknown: `None`) may use the credential.
    pub fn permits(&self, client: Option<IpAddr>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(client) = client.map(|address| address.to_canonical()) else {
            return false;
        };
        !self.denied_ips.iter().any(|range| range.contains(&client))
            && (self.allowed_ips.is_empty()
                || self.allowed_ips.iter().any(|range| range.contains(&client)))
    }

    fn check(&self) -> Result<(), TermsError> {
        for (list, ranges) in [
            ("allowed_ips", &self.allowed_ips),
            ("denied_ips", &self.denied_ips),
        ] {
            if ranges.len() > MAX_IP_RANGES {
                return Err(TermsError::TooManyRanges {
                    list,
                    count: ranges.len(),
                });
            }
        }
        Ok(())
    }
}

/// Why a text is not an external id.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("external_id must be 1 to 128 visible ASCII characters (no spaces)")]
pub struct InvalidExternalId;

/// The caller's own id for what a credential stands for (a customer, a workspace).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ExternalId {
    type Err = InvalidExternalId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty()
            || text.len() > MAX_EXTERNAL_ID_LEN
            || !text.bytes().all(|byte| byte.is_ascii_graphic())
        {
            return Err(InvalidExternalId);
        }
        Ok(ExternalId(text.to_owned()))
    }
}

impl<'de> Deserialize<'de> for ExternalId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternalId({:?})", self.0)
    }
}

/// Why a value is not credential metadata.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvalidMetadata {
    /// Not a JSON object.
    #[error("metadata must be a JSON object")]
    NotAnObject,
    /// Over [`MAX_METADATA_BYTES`].
    #[error("metadata is {0} bytes as compact JSON; at most 1024 are allowed")]
    TooLarge(usize),
}

/// A small JSON object describing a credential, returned in views and sent to the origin.
/// Held as its compact JSON text (what is measured, stored and sent).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Metadata(String);

impl Metadata {
    /// Checks a JSON value: an object of at most [`MAX_METADATA_BYTES`] compact bytes.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, InvalidMetadata> {
        if !value.is_object() {
            return Err(InvalidMetadata::NotAnObject);
        }
        let text = value.to_string();
        if text.len() > MAX_METADATA_BYTES {
            return Err(InvalidMetadata::TooLarge(text.len()));
        }
        Ok(Metadata(text))
    }

    /// The compact JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Metadata({})", self.0)
    }
}

impl Serialize for Metadata {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let value: serde_json::Value = serde_json::from_str(&self.0).map_err(S::Error::custom)?;
        value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Metadata::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// What a credential says about itself to the origin: its external id and metadata (the
/// part of its terms a verified principal carries).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    /// The issuer's id for what the credential stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<ExternalId>,
    /// Descriptive data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl Labels {
    /// The labels, when there is any (a principal without them carries nothing).
    pub fn of(
        external_id: Option<&ExternalId>,
        metadata: Option<&Metadata>,
    ) -> Option<std::sync::Arc<Labels>> {
        (external_id.is_some() || metadata.is_some()).then(|| {
            std::sync::Arc::new(Labels {
                external_id: external_id.cloned(),
                metadata: metadata.cloned(),
            })
        })
    }
}

/// The terms a credential is issued under (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// It works from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// It stops working at this time.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// If any: the client address must be in one of these ([`IpRules`]). Kept flat (not a
    /// flattened [`IpRules`]): the terms are themselves flattened into commands and rows, and
    /// serde cannot flatten twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<IpRange>,
    /// The client address must be in none of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_ips: Vec<IpRange>,
    /// The caller's id for what it stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<ExternalId>,
    /// Descriptive data sent to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// How many requests it may authenticate per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

impl Terms {
    /// Checks terms for a credential created (or changed) at `now`.
    pub fn check(&self, now: Timestamp) -> Result<(), TermsError> {
        if let Some(expiry) = self.expires_at {
            if expiry <= now {
                return Err(TermsError::ExpiryInPast);
            }
            if self.not_before.is_some_and(|start| start >= expiry) {
                return Err(TermsError::EmptyWindow);
            }
        }
        if let Some(limit) = self.rate_limit {
            limit.check()?;
        }
        self.ip().check()
    }

    /// Where a credential under these terms may be used from.
    pub fn ip(&self) -> IpRules {
        IpRules {
            allowed_ips: self.allowed_ips.clone(),
            denied_ips: self.denied_ips.clone(),
        }
    }

    /// Where `now` lies against these terms' validity window.
    pub fn window(&self, now: Timestamp) -> Window {
        window(self.not_before, self.expires_at, now)
    }
}

/// At most `requests` authenticated requests per `period_seconds` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per period.
    pub requests: u32,
    /// The period, in seconds: 10 or 60.
    pub period_seconds: u32,
}

impl RateLimit {
    /// The code of the refusal of a request over its credential's limit (429).
    pub const REFUSAL_CODE: &'static str = "rate_limited";

    /// Whether this is one of the [`RATE_LIMIT_TIERS`].
    pub fn check(self) -> Result<(), TermsError> {
        if RATE_LIMIT_TIERS.contains(&(self.requests, self.period_seconds)) {
            Ok(())
        } else {
            Err(TermsError::RateLimitNotOffered(self))
        }
    }

    /// The name of the Workers rate-limiting binding counting this tier, e.g.
    /// `CREDENTIAL_LIMIT_100_PER_60S`: `wrangler.toml` declares one per tier with this limit
    /// and period.
    pub fn binding(self) -> String {
        format!(
            "CREDENTIAL_LIMIT_{}_PER_{}S",
            self.requests, self.period_seconds
        )
    }

    /// How long a refused request should wait before trying again, in seconds: the binding
    /// does not say when its window ends, so a whole period.
    pub const fn retry_after_seconds(self) -> u32 {
        self.period_seconds
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests per {} seconds",
            self.requests, self.period_seconds
        )
    }
}

/// Where a time lies against a credential's validity window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Inside: the credential works.
    Open,
    /// Before `not_before`.
    NotYet,
    /// At or after `expires_at`.
    Over,
}

/// Where `now` lies against the window from `not_before` (inclusive) to `expires_at`
/// (exclusive), either end open when `None`.
pub fn window(
    not_before: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Window {
    if expires_at.is_some_and(|expiry| now >= expiry) {
        Window::Over
    } else if not_before.is_some_and(|start| now < start) {
        Window::NotYet
    } else {
        Window::Open
    }
}

/// A rolled credential's previous secret, which keeps working until `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// HMAC of the previous secret.
    pub secret_hash: crate::secret::SecretHash,
    /// When it stops working.
    pub until: Timestamp,
}

impl PreviousSecret {
    /// Whether it still works at `now`.
    pub fn live(&self, now: Timestamp) -> bool {
        now < self.until
    }
}

/// Checks a roll's overlap and turns it into the previous secret's end (none for 0 seconds:
/// the previous secret stops at once).
pub fn overlap_end(
    now: Timestamp,
    overlap_seconds: u64,
    previous: crate::secret::SecretHash,
) -> Result<Option<PreviousSecret>, TermsError> {
    if overlap_seconds > u64::from(MAX_ROLL_OVERLAP_SECONDS) {
        return Err(TermsError::OverlapTooLong(overlap_seconds));
    }
    if overlap_seconds == 0 {
        return Ok(None);
    }
    Ok(Some(PreviousSecret {
        secret_hash: previous,
        until: now.plus_seconds(overlap_seconds),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> IpRange {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn ranges_parse_cidr_and_bare_addresses_and_refuse_host_bits() {
        assert_eq!(range("203.0.113.0/24").to_string(), "203.0.113.0/24");
        assert_eq!(range("203.0.113.7").to_string(), "203.0.113.7/32");
        assert_eq!(range("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(range("2001:db8::1").to_string(), "2001:db8::1/128");
        assert_eq!(
            "203.0.113.7/24".parse::<IpRange>(),
            Err(IpRangeError::HostBits {
                given: "203.0.113.7/24".into(),
                network: "203.0.113.0/24".into()
            })
        );
        for bad in ["", "10.0.0.0/33", "10.0.0", "host.example", "10.0.0.0/8 "] {
            assert!(matches!(
                bad.parse::<IpRange>(),
                Err(IpRangeError::Syntax(_))
            ));
        }
    }

    #[test]
    fn allow_and_deny_lists_decide_together_and_fail_closed() {
        let open = IpRules::default();
        assert!(open.permits(None));
        assert!(open.permits(ip("198.51.100.1")));

        let office = IpRules {
            allowed_ips: vec![range("203.0.113.0/24"), range("2001:db8::/32")],
            denied_ips: vec![range("203.0.113.128/25")],
        };
        assert!(office.permits(ip("203.0.113.5")));
        assert!(office.permits(ip("2001:db8::42")));
        assert!(!office.permits(ip("203.0.113.200")), "denied wins");
        assert!(!office.permits(ip("198.51.100.1")), "not allowed");
        assert!(!office.permits(None), "unknown client refused");
        assert!(
            office.permits(ip("::ffff:203.0.113.5")),
            "IPv4-mapped is its IPv4 address"
        );

        let blocklist = IpRules {
            allowed_ips: vec![],
            denied_ips: vec![range("198.51.100.0/24")],
        };
        assert!(blocklist.permits(ip("192.0.2.1")));
        assert!(!blocklist.permits(ip("198.51.100.9")));
        assert!(!blocklist.permits(None));
    }

    #[test]
    fn terms_check_window_and_list_sizes() {
        let now = Timestamp::from_unix_seconds(1_000);
        let at = Timestamp::from_unix_seconds;
        let ok = Terms {
            not_before: Some(at(2_000)),
            expires_at: Some(at(3_000)),
            ..Terms::default()
        };
        assert_eq!(ok.check(now), Ok(()));
        assert_eq!(ok.window(at(1_999)), Window::NotYet);
        assert_eq!(ok.window(at(2_000)), Window::Open);
        assert_eq!(ok.window(at(2_999)), Window::Open);
        assert_eq!(ok.window(at(3_000)), Window::Over);
        assert_eq!(
            Terms::default().window(at(u64::from(u32::MAX))),
            Window::Open
        );
        let past = Terms {
            expires_at: Some(now),
            ..Terms::default()
        };
        assert_eq!(past.check(now), Err(TermsError::ExpiryInPast));
        let empty = Terms {
            not_before: Some(at(3_000)),
            expires_at: Some(at(3_000)),
            ..Terms::default()
        };
        assert_eq!(empty.check(now), Err(TermsError::EmptyWindow));
        let crowded = Terms {
            allowed_ips: (0..33u8)
                .map(|i| range(&format!("10.0.{i}.0/24")))
                .collect(),
            ..Terms::default()
        };
        assert_eq!(
            crowded.check(now),
            Err(TermsError::TooManyRanges {
                list: "allowed_ips",
                count: 33
            })
        );
    }

    #[test]
    fn external_ids_and_metadata_are_bounded() {
        assert!("cus_123:team/7".parse::<ExternalId>().is_ok());
        assert!("".parse::<ExternalId>().is_err());
        assert!("has space".parse::<ExternalId>().is_err());
        assert!("é".parse::<ExternalId>().is_err());
        assert!("x".repeat(128).parse::<ExternalId>().is_ok());
        assert!("x".repeat(129).parse::<ExternalId>().is_err());

        let value = serde_json::json!({"team": "builds", "tier": 2});
        let metadata = Metadata::from_value(&value).unwrap();
        assert_eq!(metadata.as_json(), r#"{"team":"builds","tier":2}"#);
        assert_eq!(serde_json::to_value(&metadata).unwrap(), value);
        assert_eq!(
            Metadata::from_value(&serde_json::json!(["a"])),
            Err(InvalidMetadata::NotAnObject)
        );
        let big = serde_json::json!({ "k": "v".repeat(1020) });
        assert!(matches!(
            Metadata::from_value(&big),
            Err(InvalidMetadata::TooLarge(1028))
        ));
        assert!(serde_json::from_str::<Metadata>(r#""text""#).is_err());
    }

    #[test]
    fn terms_read_the_stored_shape_of_a_token_without_them() {
        let terms: Terms = serde_json::from_str(r#"{"expires_at":null}"#).unwrap();
        assert_eq!(terms, Terms::default());
        let full: Terms = serde_json::from_str(
            r#"{"not_before":5,"expires_at":9,"allowed_ips":["10.0.0.0/8"],"external_id":"cus_1","metadata":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(full.allowed_ips, vec![range("10.0.0.0/8")]);
        let back = serde_json::to_value(&full).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"not_before":5,"expires_at":9,"allowed_ips":["10.0.0.0/8"],"external_id":"cus_1","metadata":{"a":1}})
        );
    }

    #[test]
    fn overlap_is_bounded_to_a_day() {
        let now = Timestamp::from_unix_seconds(100);
        let hash = crate::secret::SecretHash::from_bytes([7; 32]);
        assert_eq!(overlap_end(now, 0, hash), Ok(None));
        let previous = overlap_end(now, 86_400, hash).unwrap().unwrap();
        assert_eq!(previous.until, Timestamp::from_unix_seconds(86_500));
        assert!(previous.live(Timestamp::from_unix_seconds(86_499)));
        assert!(!previous.live(Timestamp::from_unix_seconds(86_500)));
        assert_eq!(
            overlap_end(now, 86_401, hash),
            Err(TermsError::OverlapTooLong(86_401))
        );
    }
}

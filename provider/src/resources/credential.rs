//! What `portcullis_api_token` and `portcullis_automation_key` share: the credential's terms
//! and its rotation.
//!
//! - **Terms** (`not_before`, `expires_at`, `allowed_ips`, `denied_ips`, `external_id`,
//!   `metadata`) are fixed when the credential is created (the API has no call that changes
//!   them), so a change of one replaces the credential. Each is compared by what it means,
//!   not how it is spelt: times by instant, IP ranges as a set of ranges (`203.0.113.7` is
//!   `203.0.113.7/32`), metadata as JSON (key order and whitespace are not changes). Every
//!   rule on them is `portcullis_core::terms`': the provider parses with its types and asks
//!   [`Terms::check`] at plan time.
//! - **Rotation**: a change of `rotation_triggers` rolls the credential in place (same key id,
//!   a new secret; the previous one keeps working for `rotation_overlap_seconds`) rather than
//!   replacing it. Triggers added to a credential that had none (an imported one) are adopted
//!   without a roll.

use crate::diagnostics;
use crate::schema::{Mode, attribute, string, string_map, string_set};
use crate::values::{StringSet, default_if_null, known, null_if_unknown, parse_rfc3339, rfc3339};
use portcullis_core::secret::SecretHash;
use portcullis_core::terms::{
    self, ExternalId, IpRange, MAX_EXTERNAL_ID_LEN, MAX_IP_RANGES, MAX_METADATA_BYTES,
    MAX_ROLL_OVERLAP_SECONDS, Metadata, RATE_LIMIT_TIERS, RateLimit, Terms,
};
use portcullis_core::{KeyId, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};
use tf_provider::schema::{Attribute, AttributeType};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

/// `rotation_triggers`: arbitrary strings whose change rolls the credential.
pub type Triggers = Value<BTreeMap<String, Value<String>>>;

/// `rate_limit = { requests = …, period_seconds = … }`, as Terraform holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateLimitValue {
    /// Requests per period.
    pub requests: Value<i64>,
    /// The period, in seconds.
    pub period_seconds: Value<i64>,
}

/// A configured rate limit: `None` while unknown; `Some(None)` when there is none;
/// `Some(Some(Err(_)))` when its numbers are not a tier's (the reason).
fn rate_limit(value: &Value<RateLimitValue>) -> Option<Option<Result<RateLimit, String>>> {
    match value {
        Value::Unknown => None,
        Value::Null => Some(None),
        Value::Value(limit) => {
            let (Value::Value(requests), Value::Value(period)) =
                (&limit.requests, &limit.period_seconds)
            else {
                return None;
            };
            let number = |n: i64| u32::try_from(n).ok();
            let parsed = match (number(*requests), number(*period)) {
                (Some(requests), Some(period_seconds)) => {
                    let limit = RateLimit {
                        requests,
                        period_seconds,
                    };
                    limit
                        .check()
                        .map(|()| limit)
                        .map_err(|failure| failure.to_string())
                }
                _ => Err(format!(
                    "rate_limit {requests} requests per {period} seconds is not offered"
                )),
            };
            Some(Some(parsed))
        }
    }
}

/// The attributes both credential resources hold, borrowed from one state.
pub struct Fields<'a> {
    /// When it starts working (RFC 3339).
    pub not_before: &'a mut Value<String>,
    /// When it stops working (RFC 3339).
    pub expires_at: &'a mut Value<String>,
    /// Client ranges it may be used from.
    pub allowed_ips: &'a mut StringSet,
    /// Client ranges it may not be used from.
    pub denied_ips: &'a mut StringSet,
    /// The issuer's id for what it stands for.
    pub external_id: &'a mut Value<String>,
    /// A JSON object, as text.
    pub metadata: &'a mut Value<String>,
    /// Requests per period it may authenticate.
    pub rate_limit: &'a mut Value<RateLimitValue>,
    /// Values whose change rolls it.
    pub rotation_triggers: &'a mut Triggers,
    /// The overlap a roll asks for.
    pub rotation_overlap_seconds: &'a mut Value<i64>,
    /// The secret (`token` or `key`).
    pub secret: &'a mut Value<String>,
    /// When it was last rolled.
    pub rolled_at: &'a mut Value<String>,
    /// Until when the previous secret works.
    pub previous_valid_until: &'a mut Value<String>,
}

/// A credential resource's state.
pub trait Credential {
    /// Its shared attributes.
    fn fields(&mut self) -> Fields<'_>;
}

/// Defines a credential resource's state: the shared fields and its own (`$secret` among
/// them: `token` or `key`), in one struct (Terraform needs a flat object), with
/// [`Credential`] implemented over the shared ones.
macro_rules! credential_state {
    (
        $(#[$meta:meta])*
        pub struct $state:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $type:ty,)*
        }
        secret: $secret:ident
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $state {
            /// Same as `key_id`.
            pub id: tf_provider::value::Value<String>,
            /// Public key id.
            pub key_id: tf_provider::value::Value<String>,
            /// The tenant.
            pub tenant_id: tf_provider::value::Value<String>,
            /// Name.
            pub name: tf_provider::value::Value<String>,
            $($(#[$field_meta])* pub $field: $type,)*
            /// When it starts working (RFC 3339).
            pub not_before: tf_provider::value::Value<String>,
            /// When it stops working (RFC 3339).
            pub expires_at: tf_provider::value::Value<String>,
            /// Client ranges it may be used from.
            pub allowed_ips: $crate::values::StringSet,
            /// Client ranges it may not be used from.
            pub denied_ips: $crate::values::StringSet,
            /// The issuer's id for what it stands for.
            pub external_id: tf_provider::value::Value<String>,
            /// A JSON object, as text.
            pub metadata: tf_provider::value::Value<String>,
            /// Requests per period.
            pub rate_limit: tf_provider::value::Value<$crate::resources::credential::RateLimitValue>,
            /// Arbitrary values whose change rolls it.
            pub rotation_triggers: $crate::resources::credential::Triggers,
            /// How long the previous secret works after a roll.
            pub rotation_overlap_seconds: tf_provider::value::Value<i64>,
            /// When its secret was last rolled (RFC 3339).
            pub rolled_at: tf_provider::value::Value<String>,
            /// Until when the secret before the last roll works (RFC 3339).
            pub previous_valid_until: tf_provider::value::Value<String>,
        }

        impl $crate::resources::credential::Credential for $state {
            fn fields(&mut self) -> $crate::resources::credential::Fields<'_> {
                $crate::resources::credential::Fields {
                    not_before: &mut self.not_before,
                    expires_at: &mut self.expires_at,
                    allowed_ips: &mut self.allowed_ips,
                    denied_ips: &mut self.denied_ips,
                    external_id: &mut self.external_id,
                    metadata: &mut self.metadata,
                    rate_limit: &mut self.rate_limit,
                    rotation_triggers: &mut self.rotation_triggers,
                    rotation_overlap_seconds: &mut self.rotation_overlap_seconds,
                    secret: &mut self.$secret,
                    rolled_at: &mut self.rolled_at,
                    previous_valid_until: &mut self.previous_valid_until,
                }
            }
        }
    };
}
pub(crate) use credential_state;

/// The attributes every credential starts with: `id`, `key_id` (described by `key_id`),
/// `tenant_id` (by `tenant`) and `name` (`noun`: `token` or `key`).
pub fn identity_attributes(
    noun: &str,
    key_id: &str,
    tenant: &str,
) -> Vec<(&'static str, Attribute)> {
    vec![
        ("id", string(Mode::Computed, "Same as `key_id`.")),
        ("key_id", string(Mode::Computed, key_id)),
        ("tenant_id", string(Mode::Computed, tenant)),
        (
            "name",
            string(
                Mode::Required,
                &format!("A name for people. Changing it replaces the {noun}."),
            ),
        ),
    ]
}

/// The terms' attributes with their schema (`noun`: `token` or `key`).
pub fn term_attributes(noun: &str) -> Vec<(&'static str, Attribute)> {
    let replaces = format!(
        "Terms cannot change once the {noun} exists (the API has no call for it): changing it \
         replaces the {noun} (a new key id and secret)."
    );
    let ranges = format!(
        "CIDR ranges, IPv4 or IPv6 (`203.0.113.0/24`, `2001:db8::/32`; a bare address is a \
         one-address range; bits after the prefix must be zero), at most {MAX_IP_RANGES}, \
         matched against the client address (`CF-Connecting-IP`)"
    );
    vec![
        (
            "not_before",
            string(
                Mode::Optional,
                &format!(
                    "When the {noun} starts working, an RFC 3339 time such as \
                     `2027-01-01T00:00:00Z` (before `expires_at`); until then it is refused. \
                     {replaces}"
                ),
            ),
        ),
        (
            "expires_at",
            string(
                Mode::Optional,
                &format!(
                    "When the {noun} stops working, an RFC 3339 time in the future such as \
                     `2027-01-31T00:00:00Z`. An equivalent spelling of the same instant is not \
                     a change. {replaces}"
                ),
            ),
        ),
        (
            "allowed_ips",
            string_set(
                Mode::Optional,
                &format!(
                    "If set, the {noun} works only from these client addresses: {ranges}. A \
                     request whose address is unknown is refused by any rule. {replaces}"
                ),
            ),
        ),
        (
            "denied_ips",
            string_set(
                Mode::Optional,
                &format!(
                    "The {noun} never works from these client addresses: {ranges}; a denied \
                     range wins over an allowed one. {replaces}"
                ),
            ),
        ),
        (
            "external_id",
            string(
                Mode::Optional,
                &format!(
                    "Your own id for what the {noun} stands for (a customer, a workspace): 1 to \
                     {MAX_EXTERNAL_ID_LEN} visible ASCII characters. Not secret: shown in views \
                     and sent to the origin. {replaces}"
                ),
            ),
        ),
        (
            "metadata",
            string(
                Mode::Optional,
                &format!(
                    "A JSON object of at most {MAX_METADATA_BYTES} bytes (compact), written with \
                     `jsonencode({{ ... }})`; compared as JSON, so key order and whitespace are \
                     not changes. Not secret: shown in views and sent to the origin. {replaces}"
                ),
            ),
        ),
        (
            "rate_limit",
            attribute(
                // An object type rather than nested attributes: tf-provider 0.2 sends nested
                // attributes with a type as well, which Terraform refuses.
                AttributeType::Object(
                    [
                        ("requests".to_owned(), AttributeType::Number),
                        ("period_seconds".to_owned(), AttributeType::Number),
                    ]
                    .into_iter()
                    .collect(),
                ),
                Mode::Optional,
                &format!(
                    "At most `requests` requests the {noun} authenticates per `period_seconds`, \
                     one of the tiers {tiers}; over it, a request is refused with 429 \
                     `rate_limited` and `Retry-After`. Counted at the edge by Workers rate \
                     limiting, per location and approximately. {replaces}",
                    tiers = tiers()
                ),
            ),
        ),
    ]
}

/// The rate-limit tiers, for people: "10/10 s, 100/10 s, …".
fn tiers() -> String {
    RATE_LIMIT_TIERS
        .iter()
        .map(|(requests, period)| format!("{requests}/{period} s"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rotation attributes' schema (`noun`: `token` or `key`).
pub fn rotation_attributes(noun: &str) -> Vec<(&'static str, Attribute)> {
    vec![
        (
            "rotation_triggers",
            string_map(
                Mode::Optional,
                &format!(
                    "Arbitrary values; changing or removing them rolls the {noun} in place: a \
                     new secret, the same key id, name, scope and terms, and the previous secret \
                     working for `rotation_overlap_seconds` more. Adding them to a {noun} that \
                     had none (e.g. after import) does not roll it."
                ),
            ),
        ),
        (
            "rotation_overlap_seconds",
            attribute(
                AttributeType::Number,
                Mode::OptionalComputed,
                &format!(
                    "How long the previous secret keeps working after a roll, 0 to \
                     {MAX_ROLL_OVERLAP_SECONDS} seconds (default 0: it stops at the roll). \
                     Changing it alone changes nothing in Portcullis; it applies to the next \
                     roll."
                ),
            ),
        ),
        (
            "rolled_at",
            string(
                Mode::Computed,
                &format!("When the {noun}'s secret was last rolled (RFC 3339); null if never."),
            ),
        ),
        (
            "previous_valid_until",
            string(
                Mode::Computed,
                "Until when the secret before the last roll works (RFC 3339; a time past: it \
                 has stopped); null if never rolled or rolled without an overlap.",
            ),
        ),
    ]
}

/// Now, for checks of a credential about to be created.
pub fn now() -> Timestamp {
    Timestamp::from_unix_seconds(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    )
}

/// A known time; `Err` with the reason when it is not RFC 3339.
fn time(value: &Value<String>) -> Option<Result<Timestamp, String>> {
    known(value).map(parse_rfc3339)
}

/// The ranges of a set whose every element is known; each element's parse result.
fn ranges(set: &StringSet) -> Option<Vec<Result<IpRange, terms::IpRangeError>>> {
    match set {
        Value::Unknown => None,
        Value::Null => Some(Vec::new()),
        Value::Value(items) => items
            .iter()
            .map(|item| known(item).map(str::parse))
            .collect(),
    }
}

/// The ranges of a set, when known and valid.
fn range_set(set: &StringSet) -> Option<BTreeSet<IpRange>> {
    ranges(set)?.into_iter().map(Result::ok).collect()
}

/// A known metadata text as JSON; `Err` with the reason when it is not JSON.
fn json(value: &Value<String>) -> Option<Result<serde_json::Value, String>> {
    known(value).map(|text| {
        serde_json::from_str(text).map_err(|error| format!("metadata is not JSON: {error}"))
    })
}

/// Reports each configured term (and the overlap) that the core cannot parse, on its
/// attribute (validate time: values still unknown are skipped).
pub fn validate<S: Credential>(diags: &mut Diagnostics, state: &mut S) {
    let fields = state.fields();
    for (name, value) in [
        ("not_before", &*fields.not_before),
        ("expires_at", &*fields.expires_at),
    ] {
        if let Some(Err(message)) = time(value) {
            diagnostics::error(diags, "Invalid time", message, Some(name));
        }
    }
    for (name, set) in [
        ("allowed_ips", &*fields.allowed_ips),
        ("denied_ips", &*fields.denied_ips),
    ] {
        for failure in ranges(set)
            .unwrap_or_default()
            .into_iter()
            .filter_map(Result::err)
        {
            diagnostics::error(diags, "Invalid IP range", failure.to_string(), Some(name));
        }
    }
    if let Some(Some(Err(message))) = rate_limit(fields.rate_limit) {
        diagnostics::error(diags, "Invalid rate limit", message, Some("rate_limit"));
    }
    if let Some(text) = known(fields.external_id)
        && let Err(failure) = text.parse::<ExternalId>()
    {
        diagnostics::error(
            diags,
            "Invalid external id",
            format!("`{text}`: {failure}"),
            Some("external_id"),
        );
    }
    match json(fields.metadata) {
        Some(Err(message)) => {
            diagnostics::error(diags, "Invalid metadata", message, Some("metadata"));
        }
        Some(Ok(value)) => {
            if let Err(failure) = Metadata::from_value(&value) {
                diagnostics::error(
                    diags,
                    "Invalid metadata",
                    failure.to_string(),
                    Some("metadata"),
                );
            }
        }
        None => {}
    }
    if let Value::Value(seconds) = *fields.rotation_overlap_seconds {
        overlap(diags, seconds);
    }
}

/// A configured overlap as the API takes it, checked with the core's rule for a roll's overlap
/// (`terms::overlap_end`, asked about a roll at the epoch: only its verdict is used); `None`
/// once reported.
fn overlap(diags: &mut Diagnostics, seconds: i64) -> Option<u64> {
    let Ok(seconds) = u64::try_from(seconds) else {
        diagnostics::error(
            diags,
            "Invalid rotation overlap",
            format!("rotation_overlap_seconds cannot be negative ({seconds})"),
            Some("rotation_overlap_seconds"),
        );
        return None;
    };
    let epoch = Timestamp::from_unix_seconds(0);
    match terms::overlap_end(epoch, seconds, SecretHash::from_bytes([0; 32])) {
        Ok(_) => Some(seconds),
        Err(failure) => {
            diagnostics::terms(diags, &failure);
            None
        }
    }
}

/// What a planned roll needs: the credential's key id and the overlap to ask for (0 when not
/// set); `None` once reported.
pub fn planned_roll<S: Credential>(
    diags: &mut Diagnostics,
    id: &Value<String>,
    planned: &mut S,
) -> Option<(KeyId, u64)> {
    let Some(key) = known(id).and_then(super::parse_id::<KeyId>) else {
        diagnostics::error(
            diags,
            "Cannot roll the credential",
            "the state holds no key id for it; run terraform apply -replace on it",
            None,
        );
        return None;
    };
    let overlap = match *planned.fields().rotation_overlap_seconds {
        Value::Value(seconds) => overlap(diags, seconds)?,
        Value::Null | Value::Unknown => 0,
    };
    Some((key, overlap))
}

/// The terms a state configures, for the API; `None` while any is unknown, or when one is
/// invalid (reported by [`validate`] already).
pub fn terms<S: Credential>(state: &mut S) -> Option<Terms> {
    let fields = state.fields();
    let time = |value: &Value<String>| match value {
        Value::Unknown => None,
        Value::Null => Some(None),
        Value::Value(text) => parse_rfc3339(text).ok().map(Some),
    };
    let metadata = match &*fields.metadata {
        Value::Unknown => return None,
        Value::Null => None,
        Value::Value(text) => {
            let value = serde_json::from_str(text).ok()?;
            Some(Metadata::from_value(&value).ok()?)
        }
    };
    let external_id = match &*fields.external_id {
        Value::Unknown => return None,
        Value::Null => None,
        Value::Value(text) => Some(text.parse().ok()?),
    };
    Some(Terms {
        not_before: time(fields.not_before)?,
        expires_at: time(fields.expires_at)?,
        allowed_ips: range_set(fields.allowed_ips)?.into_iter().collect(),
        denied_ips: range_set(fields.denied_ips)?.into_iter().collect(),
        external_id,
        metadata,
        rate_limit: rate_limit(fields.rate_limit)?.transpose().ok()?,
    })
}

/// The terms to create a credential with, at apply (every value known by then); `None` once
/// reported.
pub fn terms_to_create<S: Credential>(diags: &mut Diagnostics, planned: &mut S) -> Option<Terms> {
    let terms = terms(planned);
    if terms.is_none() {
        diagnostics::error(
            diags,
            "Invalid terms",
            "a term of the credential is unknown or invalid at apply",
            None,
        );
    }
    terms
}

/// Plans a credential about to be created: the overlap's default, a secret known after
/// apply, no roll yet; and, once every term is known, the core's check of the terms for a
/// credential created now (an expiry in the past, an empty window, too many ranges).
pub fn plan_create<S: Credential>(diags: &mut Diagnostics, state: &mut S) {
    if let Some(terms) = terms(state)
        && let Err(failure) = terms.check(now())
    {
        diagnostics::terms(diags, &failure);
    }
    let fields = state.fields();
    default_if_null(fields.rotation_overlap_seconds, Value::Value(0));
    *fields.secret = Value::Unknown;
    *fields.rolled_at = Value::Null;
    *fields.previous_valid_until = Value::Null;
}

/// Whether two values of a term mean the same: both unknown never do.
fn same<T: PartialEq>(prior: Option<T>, proposed: Option<T>) -> bool {
    prior.is_some() && prior == proposed
}

/// A time's meaning: null, or its instant (text that is not a time means itself).
fn instant(value: &Value<String>) -> Option<Result<Option<Timestamp>, String>> {
    match value {
        Value::Unknown => None,
        Value::Null => Some(Ok(None)),
        Value::Value(text) => Some(parse_rfc3339(text).map(Some).map_err(|_| text.clone())),
    }
}

/// A metadata text's meaning: null, or its JSON (text that is not JSON means itself).
fn document(value: &Value<String>) -> Option<Result<Option<serde_json::Value>, String>> {
    match value {
        Value::Unknown => None,
        Value::Null => Some(Ok(None)),
        Value::Value(text) => Some(
            serde_json::from_str(text)
                .map(Some)
                .map_err(|_| text.clone()),
        ),
    }
}

/// The terms whose meaning differs between `prior` and `proposed`: each forces a
/// replacement.
pub fn replaced_terms<S: Credential>(prior: &mut S, proposed: &mut S) -> Vec<AttributePath> {
    let (before, after) = (prior.fields(), proposed.fields());
    let unchanged = [
        (
            "not_before",
            same(instant(before.not_before), instant(after.not_before)),
        ),
        (
            "expires_at",
            same(instant(before.expires_at), instant(after.expires_at)),
        ),
        (
            "allowed_ips",
            same(range_set(before.allowed_ips), range_set(after.allowed_ips))
                || before.allowed_ips == after.allowed_ips && !after.allowed_ips.is_unknown(),
        ),
        (
            "denied_ips",
            same(range_set(before.denied_ips), range_set(after.denied_ips))
                || before.denied_ips == after.denied_ips && !after.denied_ips.is_unknown(),
        ),
        (
            "external_id",
            before.external_id == after.external_id && !after.external_id.is_unknown(),
        ),
        (
            "metadata",
            same(document(before.metadata), document(after.metadata)),
        ),
        (
            "rate_limit",
            before.rate_limit == after.rate_limit && !after.rate_limit.is_unknown(),
        ),
    ];
    unchanged
        .into_iter()
        .filter(|(_, unchanged)| !unchanged)
        .map(|(name, _)| AttributePath::new(name))
        .collect()
}

/// Plans an in-place update of the shared attributes: the overlap's default when the
/// configuration leaves it out, and a roll when the triggers changed or were removed (not
/// when a credential that had none gets some): the secret and the roll's times are then known
/// only after apply. Returns whether a roll is planned.
pub fn plan_update<S: Credential>(prior: &mut S, proposed: &mut S, config: &mut S) -> bool {
    if config.fields().rotation_overlap_seconds.is_null() {
        *proposed.fields().rotation_overlap_seconds = Value::Value(0);
    }
    let before = prior.fields().rotation_triggers.clone();
    let after = proposed.fields();
    let roll = !before.is_null() && *after.rotation_triggers != before;
    if roll {
        *after.secret = Value::Unknown;
        *after.rolled_at = Value::Unknown;
        *after.previous_valid_until = Value::Unknown;
    }
    roll
}

/// Whether an update was planned as a roll (its secret unknown).
pub fn rolls<S: Credential>(planned: &mut S) -> bool {
    planned.fields().secret.is_unknown()
}

/// The state's terms and roll times after a read of the credential, keeping each configured
/// spelling that means what the API shows.
pub fn fill<S: Credential>(
    state: &mut S,
    shown: &Terms,
    rolled_at: Option<Timestamp>,
    previous_valid_until: Option<Timestamp>,
) {
    let fields = state.fields();
    let keep_time = |value: &mut Value<String>, shown: Option<Timestamp>| {
        if time(value).and_then(Result::ok) != shown || value.is_unknown() {
            *value = shown.map_or(Value::Null, rfc3339);
        }
    };
    keep_time(fields.not_before, shown.not_before);
    keep_time(fields.expires_at, shown.expires_at);
    let keep_ranges = |set: &mut StringSet, shown: &[IpRange]| {
        let shown_set: BTreeSet<IpRange> = shown.iter().copied().collect();
        if range_set(set).as_ref() != Some(&shown_set) {
            *set = if shown.is_empty() {
                Value::Null
            } else {
                crate::values::set_of(shown.iter().map(ToString::to_string))
            };
        }
    };
    keep_ranges(fields.allowed_ips, &shown.allowed_ips);
    keep_ranges(fields.denied_ips, &shown.denied_ips);
    *fields.external_id = shown
        .external_id
        .as_ref()
        .map_or(Value::Null, |id| Value::Value(id.as_str().to_owned()));
    let shown_json = shown
        .metadata
        .as_ref()
        .and_then(|metadata| serde_json::from_str::<serde_json::Value>(metadata.as_json()).ok());
    if json(fields.metadata).and_then(Result::ok) != shown_json || fields.metadata.is_unknown() {
        *fields.metadata = shown.metadata.as_ref().map_or(Value::Null, |metadata| {
            Value::Value(metadata.as_json().to_owned())
        });
    }
    *fields.rate_limit = shown.rate_limit.map_or(Value::Null, |limit| {
        Value::Value(RateLimitValue {
            requests: Value::Value(i64::from(limit.requests)),
            period_seconds: Value::Value(i64::from(limit.period_seconds)),
        })
    });
    default_if_null(fields.rotation_overlap_seconds, Value::Value(0));
    null_if_unknown(fields.secret);
    *fields.rolled_at = rolled_at.map_or(Value::Null, rfc3339);
    *fields.previous_valid_until = previous_valid_until.map_or(Value::Null, rfc3339);
}

/// A new secret after a roll.
pub fn rolled<S: Credential>(state: &mut S, secret: &str) {
    *state.fields().secret = Value::Value(secret.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::automation_key::AutomationKeyState;
    use crate::values::set_of;

    fn errors(
        state: AutomationKeyState,
        check: fn(&mut Diagnostics, &mut AutomationKeyState),
    ) -> Vec<(String, String, AttributePath)> {
        let mut diags = Diagnostics::default();
        let mut state = state;
        check(&mut diags, &mut state);
        diags
            .errors
            .iter()
            .map(|error| {
                (
                    error.summary.to_string(),
                    error.detail.to_string(),
                    error.attribute.clone(),
                )
            })
            .collect()
    }

    fn validated(state: AutomationKeyState) -> Vec<(String, String, AttributePath)> {
        errors(state, validate)
    }

    #[test]
    fn each_term_is_parsed_by_the_core_and_refused_on_its_attribute() {
        let found = validated(AutomationKeyState {
            not_before: Value::Value("tomorrow".into()),
            allowed_ips: set_of(["203.0.113.7/24", "2001:db8::/32"]),
            denied_ips: set_of(["10.0.0.0/33"]),
            external_id: Value::Value("has space".into()),
            metadata: Value::Value(r#"["a"]"#.into()),
            rotation_overlap_seconds: Value::Value(86_401),
            ..AutomationKeyState::default()
        });
        let at = |name: &str| {
            found
                .iter()
                .filter(|(_, _, attribute)| *attribute == AttributePath::new(name.to_owned()))
                .map(|(summary, detail, _)| format!("{summary}: {detail}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(found.len(), 6, "{found:?}");
        assert!(at("not_before")[0].starts_with("Invalid time: `tomorrow` is not an RFC 3339"));
        assert_eq!(
            at("allowed_ips"),
            [
                "Invalid IP range: `203.0.113.7/24` has bits set after its prefix: the range is `203.0.113.0/24`"
            ]
        );
        assert!(at("denied_ips")[0].contains("`10.0.0.0/33` is not an IP address or CIDR range"));
        assert_eq!(
            at("external_id"),
            [
                "Invalid external id: `has space`: external_id must be 1 to 128 visible ASCII characters (no spaces)"
            ]
        );
        assert_eq!(
            at("metadata"),
            ["Invalid metadata: metadata must be a JSON object"]
        );
        assert_eq!(
            at("rotation_overlap_seconds"),
            [
                "Invalid configuration (overlap_too_long): overlap_seconds must be 0 to 86400 (24 hours), not 86401"
            ]
        );

        let found = validated(AutomationKeyState {
            metadata: Value::Value(format!(r#"{{"k":"{}"}}"#, "v".repeat(1020))),
            rotation_overlap_seconds: Value::Value(-1),
            ..AutomationKeyState::default()
        });
        assert_eq!(
            found[0].1,
            "metadata is 1028 bytes as compact JSON; at most 1024 are allowed"
        );
        assert_eq!(
            found[1].1,
            "rotation_overlap_seconds cannot be negative (-1)"
        );
        let found = validated(AutomationKeyState {
            metadata: Value::Value("{not json".into()),
            ..AutomationKeyState::default()
        });
        assert!(
            found[0].1.starts_with("metadata is not JSON: "),
            "{found:?}"
        );
    }

    fn limit(requests: i64, period_seconds: i64) -> Value<RateLimitValue> {
        Value::Value(RateLimitValue {
            requests: Value::Value(requests),
            period_seconds: Value::Value(period_seconds),
        })
    }

    #[test]
    fn a_rate_limit_is_a_core_tier_sent_as_a_term_and_replaces_when_changed() {
        let refused = validated(AutomationKeyState {
            rate_limit: limit(50, 60),
            ..AutomationKeyState::default()
        });
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "Invalid rate limit");
        assert!(
            refused[0].1.contains("50 requests per 60 seconds"),
            "{refused:?}"
        );
        assert_eq!(refused[0].2, AttributePath::new("rate_limit"));
        let negative = validated(AutomationKeyState {
            rate_limit: limit(-10, 10),
            ..AutomationKeyState::default()
        });
        assert_eq!(negative[0].2, AttributePath::new("rate_limit"));
        assert!(
            validated(AutomationKeyState {
                rate_limit: limit(100, 60),
                ..AutomationKeyState::default()
            })
            .is_empty()
        );
        let mut with = AutomationKeyState {
            rate_limit: limit(100, 60),
            ..AutomationKeyState::default()
        };
        assert_eq!(
            terms(&mut with).and_then(|terms| terms.rate_limit),
            Some(RateLimit {
                requests: 100,
                period_seconds: 60
            })
        );
        let mut unknown = AutomationKeyState {
            rate_limit: Value::Unknown,
            ..AutomationKeyState::default()
        };
        assert!(terms(&mut unknown).is_none(), "unknown until apply");
        let mut other = AutomationKeyState {
            rate_limit: limit(10, 10),
            ..AutomationKeyState::default()
        };
        assert_eq!(
            replaced_terms(&mut with.clone(), &mut other),
            [AttributePath::new("rate_limit")]
        );
        assert!(replaced_terms(&mut with.clone(), &mut with).is_empty());
        // Read back from the API's terms.
        let mut read = AutomationKeyState::default();
        let shown = Terms {
            rate_limit: Some(RateLimit {
                requests: 1_000,
                period_seconds: 10,
            }),
            ..Terms::default()
        };
        fill(&mut read, &shown, None, None);
        assert_eq!(read.rate_limit, limit(1_000, 10));
    }

    #[test]
    fn unknown_and_valid_terms_pass_validation() {
        let found = validated(AutomationKeyState {
            not_before: Value::Unknown,
            expires_at: Value::Value("2027-01-31T00:00:00Z".into()),
            allowed_ips: Value::Value(BTreeSet::from([
                Value::Unknown,
                Value::Value("198.51.100.7".into()),
            ])),
            denied_ips: Value::Unknown,
            external_id: Value::Value("cus_42".into()),
            metadata: Value::Value(r#"{"team":"builds"}"#.into()),
            rotation_overlap_seconds: Value::Value(86_400),
            ..AutomationKeyState::default()
        });
        assert_eq!(found, []);
    }

    fn planned(state: AutomationKeyState) -> Vec<(String, String, AttributePath)> {
        errors(state, plan_create)
    }

    #[test]
    fn a_new_credentials_terms_are_checked_with_the_core_at_plan_time() {
        let found = planned(AutomationKeyState {
            expires_at: Value::Value("2020-01-01T00:00:00Z".into()),
            ..AutomationKeyState::default()
        });
        assert_eq!(
            found,
            [(
                "Invalid configuration (expiry_in_past)".to_owned(),
                "expiry must be in the future".to_owned(),
                AttributePath::new("expires_at")
            )]
        );
        let found = planned(AutomationKeyState {
            not_before: Value::Value("2099-02-01T00:00:00Z".into()),
            expires_at: Value::Value("2099-01-01T00:00:00Z".into()),
            ..AutomationKeyState::default()
        });
        assert_eq!(found[0].0, "Invalid configuration (empty_validity_window)");
        assert_eq!(found[0].2, AttributePath::new("not_before"));
        let found = planned(AutomationKeyState {
            denied_ips: set_of((0..33).map(|i| format!("10.0.{i}.0/24"))),
            ..AutomationKeyState::default()
        });
        assert_eq!(found[0].0, "Invalid configuration (too_many_ip_ranges)");
        assert_eq!(
            found[0].1,
            "denied_ips holds 33 ranges; at most 32 are allowed"
        );
        assert_eq!(found[0].2, AttributePath::new("denied_ips"));
        // Unknown terms are checked at apply, by the API.
        let found = planned(AutomationKeyState {
            expires_at: Value::Value("2020-01-01T00:00:00Z".into()),
            metadata: Value::Unknown,
            ..AutomationKeyState::default()
        });
        assert_eq!(found, []);
    }

    #[test]
    fn a_new_credential_is_planned_unrolled_with_the_default_overlap() {
        let mut state = AutomationKeyState::default();
        plan_create(&mut Diagnostics::default(), &mut state);
        assert_eq!(state.key, Value::Unknown);
        assert_eq!(state.rolled_at, Value::Null);
        assert_eq!(state.previous_valid_until, Value::Null);
        assert_eq!(state.rotation_overlap_seconds, Value::Value(0));
    }

    #[test]
    fn terms_go_to_the_api_as_the_core_parses_them() {
        let mut state = AutomationKeyState {
            not_before: Value::Value("2027-01-01T02:00:00+02:00".into()),
            allowed_ips: set_of(["203.0.113.7", "2001:db8::/32"]),
            metadata: Value::Value("{ \"b\": 1, \"a\": [true] }".into()),
            ..AutomationKeyState::default()
        };
        let terms = terms(&mut state).unwrap();
        assert_eq!(
            serde_json::to_value(&terms).unwrap(),
            serde_json::json!({
                "not_before": 1_798_761_600, "expires_at": null,
                "allowed_ips": ["203.0.113.7/32", "2001:db8::/32"],
                "metadata": {"a": [true], "b": 1}
            })
        );
        state.external_id = Value::Unknown;
        assert_eq!(super::terms(&mut state), None, "not known yet");
    }
}

//! Signed identity headers: what the gateway tells the origin about the caller, and how the
//! origin checks that the edge said it.
//!
//! # Headers
//! | header | value |
//! |---|---|
//! | `portcullis-account` | account id (`acc_…`) |
//! | `portcullis-tenant` | tenant id (`ten_…`) |
//! | `portcullis-principal-kind` | `user` (a person, through a token or a session) or `automation_key` |
//! | `portcullis-principal-id` | the user id (`usr_…`), or the automation key's key id |
//! | `portcullis-key-id` | the credential's public id (`pctk_…` / `pcak_…`, or the session id `pcss_…`) |
//! | `portcullis-permissions` | effective permissions, comma-separated in catalogue order (empty: read-only) |
//! | `portcullis-plan` | the tenant's plan |
//! | `portcullis-external-id` | the credential's external id (empty when it has none, and for sessions) |
//! | `portcullis-metadata` | base64url (no padding) of the credential's metadata as compact JSON (empty when none) |
//! | `portcullis-operation` | the operation the route policy maps the request to |
//! | `portcullis-request-id` | `req_` + 32 hex digits, fresh per request |
//! | `portcullis-timestamp` | Unix seconds when the edge signed |
//! | `portcullis-signature` | `v2=` + base64url (no padding) of the MAC below |
//!
//! # Signature
//! The canonical string is these lines joined by `\n` (no trailing newline): the request method
//! (upper case), the request target as the origin receives it (path and `?query`), then the
//! values of the twelve headers above in table order. The MAC is
//! `HMAC-SHA256(key, "portcullis/identity/v2" ‖ 0x00 ‖ canonical)` under the gateway signing
//! key (the Worker secret `PORTCULLIS_GATEWAY_KEY`, base64 of ≥ 32 bytes). An origin recomputes
//! it, compares in constant time, and refuses timestamps older than it allows (say 5 minutes).

use crate::authz::{Operation, Principal, PrincipalKind};
use crate::random::{self, RandomSource};
use crate::secret::{HashingKey, SecretHash};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt::Write as _;
use thiserror::Error;

/// Domain separation of the identity MAC.
/// (Version 2 added the credential's external id and metadata; an origin still checking
/// version 1 finds no `v1=` signature and refuses, rather than trusting a partial identity.)
pub const SIGNATURE_DOMAIN: &str = "portcullis/identity/v2";
/// The signature's version prefix.
pub const SIGNATURE_PREFIX: &str = "v2=";

/// Header names, lower case (HTTP header names are case-insensitive).
pub mod header {
    /// Account id.
    pub const ACCOUNT: &str = "portcullis-account";
    /// Tenant id.
    pub const TENANT: &str = "portcullis-tenant";
    /// `user` or `automation_key`.
    pub const PRINCIPAL_KIND: &str = "portcullis-principal-kind";
    /// User id or automation key id.
    pub const PRINCIPAL_ID: &str = "portcullis-principal-id";
    /// Credential key id.
    pub const KEY_ID: &str = "portcullis-key-id";
    /// Effective permissions.
    pub const PERMISSIONS: &str = "portcullis-permissions";
    /// Tenant plan.
    pub const PLAN: &str = "portcullis-plan";
    /// The credential's external id.
    pub const EXTERNAL_ID: &str = "portcullis-external-id";
    /// The credential's metadata, base64url of its compact JSON.
    pub const METADATA: &str = "portcullis-metadata";
    /// Operation.
    pub const OPERATION: &str = "portcullis-operation";
    /// Request id.
    pub const REQUEST_ID: &str = "portcullis-request-id";
    /// Signing time.
    pub const TIMESTAMP: &str = "portcullis-timestamp";
    /// The MAC.
    pub const SIGNATURE: &str = "portcullis-signature";
    /// Every identity header prefix: the gateway removes inbound headers starting with it,
    /// however spelled ([`crate::gateway::forward::forwards_header`]).
    pub const PREFIX: &str = "portcullis-";
}

/// The signed headers, in canonical order.
pub const SIGNED_HEADERS: [&str; 12] = [
    header::ACCOUNT,
    header::TENANT,
    header::PRINCIPAL_KIND,
    header::PRINCIPAL_ID,
    header::KEY_ID,
    header::PERMISSIONS,
    header::PLAN,
    header::EXTERNAL_ID,
    header::METADATA,
    header::OPERATION,
    header::REQUEST_ID,
    header::TIMESTAMP,
];

/// A fresh request id: `req_` and 32 hex digits.
pub fn new_request_id(random: &mut dyn RandomSource) -> String {
    let bytes: [u8; 16] = random::bytes(random);
    let mut id = String::with_capacity(36);
    id.push_str("req_");
    for byte in bytes {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// The identity the gateway asserts for one request: the values of [`SIGNED_HEADERS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    values: [String; 12],
}

impl Identity {
    /// The identity of a verified `principal` performing `operation`.
    pub fn new(
        principal: &Principal,
        operation: Operation,
        request_id: &str,
        now: Timestamp,
    ) -> Self {
        let (kind, id) = match &principal.kind {
            PrincipalKind::User { user_id, .. } | PrincipalKind::Session { user_id, .. } => {
                ("user", user_id.to_string())
            }
            PrincipalKind::AutomationKey { key_id } => ("automation_key", key_id.to_string()),
        };
        Self {
            values: [
                principal.account_id.to_string(),
                principal.tenant_id.to_string(),
                kind.to_owned(),
                id,
                principal.kind.credential_id().to_owned(),
                principal.permissions.names().join(","),
                principal.plan.name().to_owned(),
                principal
                    .external_id()
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default(),
                principal
                    .metadata()
                    .map(|metadata| URL_SAFE_NO_PAD.encode(metadata.as_json()))
                    .unwrap_or_default(),
                operation.name().to_owned(),
                request_id.to_owned(),
                now.unix_seconds().to_string(),
            ],
        }
    }

    /// `(header name, value)` pairs, in canonical order (the signature not included).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        SIGNED_HEADERS
            .into_iter()
            .zip(self.values.iter().map(String::as_str))
    }

    /// The value of one signed header.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    fn canonical(&self, method: &str, target: &str) -> String {
        let mut text = String::with_capacity(256);
        text.push_str(method);
        text.push('\n');
        text.push_str(target);
        for value in &self.values {
            text.push('\n');
            text.push_str(value);
        }
        text
    }

    fn mac(&self, key: &HashingKey, method: &str, target: &str) -> SecretHash {
        key.hash(SIGNATURE_DOMAIN, self.canonical(method, target).as_bytes())
    }

    /// The `portcullis-signature` value for a request `method` to `target` (path and query).
    pub fn sign(&self, key: &HashingKey, method: &str, target: &str) -> String {
        format!(
            "{SIGNATURE_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.mac(key, method, target).as_bytes())
        )
    }
}

/// Why an origin refused the identity headers of a request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// A signed header or the signature is absent.
    #[error("header `{0}` is missing")]
    Missing(&'static str),
    /// A header holds a line break, or the timestamp or signature is not well formed.
    #[error("header `{0}` is malformed")]
    Malformed(&'static str),
    /// The signature does not match: not from the edge, or altered.
    #[error("signature does not match")]
    BadSignature,
    /// Signed too long ago (or too far in the future).
    #[error("signature timestamp is outside the accepted window")]
    Stale,
}

/// Checks the identity headers of a request an origin received: `header` looks a header up by
/// its lower-case name. Accepts timestamps within `max_age_seconds` of `now` either way.
pub fn verify_identity<'h>(
    header: impl Fn(&str) -> Option<&'h str>,
    method: &str,
    target: &str,
    key: &HashingKey,
    now: Timestamp,
    max_age_seconds: u64,
) -> Result<Identity, IdentityError> {
    let mut values: [String; 12] = Default::default();
    for (slot, name) in values.iter_mut().zip(SIGNED_HEADERS) {
        let value = header(name).ok_or(IdentityError::Missing(name))?;
        if value.contains(['\n', '\r']) {
            return Err(IdentityError::Malformed(name));
        }
        value.clone_into(slot);
    }
    let identity = Identity { values };
    let signature = header(header::SIGNATURE).ok_or(IdentityError::Missing(header::SIGNATURE))?;
    let mac = signature
        .strip_prefix(SIGNATURE_PREFIX)
        .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(IdentityError::Malformed(header::SIGNATURE))?;
    if !key.verify(
        SIGNATURE_DOMAIN,
        identity.canonical(method, target).as_bytes(),
        &SecretHash::from_bytes(mac),
    ) {
        return Err(IdentityError::BadSignature);
    }
    let signed_at: u64 = identity
        .value(header::TIMESTAMP)
        .and_then(|text| text.parse().ok())
        .ok_or(IdentityError::Malformed(header::TIMESTAMP))?;
    if now.unix_seconds().abs_diff(signed_at) > max_age_seconds {
        return Err(IdentityError::Stale);
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, TenantId, UserId};
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;
    use crate::permission::PermissionSet;

    use crate::random::SeededRandom;
    use std::collections::BTreeMap;

    /// The shared test vector: the Node origin checks the same one with its own code.
    const VECTOR: &str = include_str!("../../../../tests/e2e/identity-vector.json");

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[9; 32]).unwrap()
    }

    fn principal() -> Principal {
        let mut random = SeededRandom::new(5);
        let token = crate::credential::issue_api_token(&mut random, &key());
        Principal {
            account_id: AccountId::generate(&mut random),
            tenant_id: TenantId::generate(&mut random),
            kind: PrincipalKind::User {
                user_id: UserId::generate(&mut random),
                key_id: token.key_id,
            },
            permissions: PermissionSet::only(perm("build_applications"))
                .with(perm("modify_configuration")),
            plan: plan_named("team"),
            labels: None,
        }
    }

    fn headers(identity: &Identity, signature: String) -> BTreeMap<String, String> {
        let mut map: BTreeMap<String, String> = identity
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        map.insert(header::SIGNATURE.into(), signature);
        map
    }

    fn check(
        map: &BTreeMap<String, String>,
        method: &str,
        target: &str,
        now: u64,
    ) -> Result<Identity, IdentityError> {
        verify_identity(
            |name| map.get(name).map(String::as_str),
            method,
            target,
            &key(),
            Timestamp::from_unix_seconds(now),
            300,
        )
    }

    #[test]
    fn signed_headers_verify_and_say_who_calls() {
        let identity = Identity::new(
            &principal(),
            op_named("run_build"),
            "req_1",
            Timestamp::from_unix_seconds(1_000),
        );
        assert_eq!(
            identity.value(header::PERMISSIONS),
            Some("modify_configuration,build_applications")
        );
        assert_eq!(identity.value(header::PRINCIPAL_KIND), Some("user"));
        assert_eq!(identity.value(header::OPERATION), Some("run_build"));
        let map = headers(&identity, identity.sign(&key(), "POST", "/api/builds?x=1"));
        assert_eq!(check(&map, "POST", "/api/builds?x=1", 1_100), Ok(identity));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let identity = Identity::new(
            &principal(),
            op_named("run_build"),
            "req_1",
            Timestamp::from_unix_seconds(1_000),
        );
        let map = headers(&identity, identity.sign(&key(), "POST", "/api/builds"));
        assert_eq!(
            check(&map, "GET", "/api/builds", 1_000),
            Err(IdentityError::BadSignature)
        );
        assert_eq!(
            check(&map, "POST", "/api/builds/1", 1_000),
            Err(IdentityError::BadSignature)
        );
        for name in SIGNED_HEADERS {
            let mut altered = map.clone();
            altered.insert(name.into(), "x".into());
            assert_eq!(
                check(&altered, "POST", "/api/builds", 1_000),
                Err(IdentityError::BadSignature),
                "{name}"
            );
            let mut missing = map.clone();
            missing.remove(name);
            assert_eq!(
                check(&missing, "POST", "/api/builds", 1_000),
                Err(IdentityError::Missing(name))
            );
        }
        let other = HashingKey::from_bytes(&[10; 32]).unwrap();
        let mut forged = map.clone();
        forged.insert(
            header::SIGNATURE.into(),
            identity.sign(&other, "POST", "/api/builds"),
        );
        assert_eq!(
            check(&forged, "POST", "/api/builds", 1_000),
            Err(IdentityError::BadSignature)
        );
        let mut garbled = map.clone();
        garbled.insert(header::SIGNATURE.into(), "v2=abc".into());
        assert_eq!(
            check(&garbled, "POST", "/api/builds", 1_000),
            Err(IdentityError::Malformed(header::SIGNATURE))
        );
        let mut split = map.clone();
        split.insert(header::PLAN.into(), "team\nenterprise".into());
        assert_eq!(
            check(&split, "POST", "/api/builds", 1_000),
            Err(IdentityError::Malformed(header::PLAN))
        );
    }

    #[test]
    fn old_and_future_timestamps_are_refused() {
        let identity = Identity::new(
            &principal(),
            op_named("read_builds"),
            "req_2",
            Timestamp::from_unix_seconds(1_000),
        );
        let map = headers(&identity, identity.sign(&key(), "GET", "/"));
        assert!(check(&map, "GET", "/", 1_300).is_ok());
        assert_eq!(check(&map, "GET", "/", 1_301), Err(IdentityError::Stale));
        assert_eq!(check(&map, "GET", "/", 699), Err(IdentityError::Stale));
    }

    #[test]
    fn request_ids_are_fresh_and_well_formed() {
        let mut random = SeededRandom::new(1);
        let first = new_request_id(&mut random);
        let second = new_request_id(&mut random);
        assert_ne!(first, second);
        assert_eq!(first.len(), 36);
        assert!(first.starts_with("req_"));
        assert!(first[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_credential_s_external_id_and_metadata_are_signed_headers() {
        let mut labelled = principal();
        labelled.labels = crate::terms::Labels::of(
            Some(&"cus_4242".parse().unwrap()),
            Some(
                &crate::terms::Metadata::from_value(&serde_json::json!({"team": "builds"}))
                    .unwrap(),
            ),
        );
        let now = Timestamp::from_unix_seconds(1_764_240_000);
        let identity = Identity::new(&labelled, op_named("run_build"), "req_x", now);
        assert_eq!(identity.value(header::EXTERNAL_ID), Some("cus_4242"));
        let metadata = identity.value(header::METADATA).unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(metadata).unwrap(),
            br#"{"team":"builds"}"#
        );
        let plain = Identity::new(&principal(), op_named("run_build"), "req_x", now);
        assert_eq!(plain.value(header::EXTERNAL_ID), Some(""));
        assert_eq!(plain.value(header::METADATA), Some(""));
        let signed = headers(&identity, identity.sign(&key(), "GET", "/x"));
        let mut altered = signed.clone();
        altered.insert(header::EXTERNAL_ID.into(), "cus_1".into());
        assert!(check(&signed, "GET", "/x", 1_764_240_000).is_ok());
        assert_eq!(
            check(&altered, "GET", "/x", 1_764_240_000),
            Err(IdentityError::BadSignature)
        );
    }

    /// The algorithm as documented, pinned by a vector the Node origin also checks.
    #[test]
    fn the_shared_vector_verifies() {
        let vector: serde_json::Value = serde_json::from_str(VECTOR).unwrap();
        let key = HashingKey::from_base64(vector["key"].as_str().unwrap()).unwrap();
        let headers = vector["headers"].as_object().unwrap();
        let lookup = |name: &str| headers.get(name).and_then(serde_json::Value::as_str);
        let now = Timestamp::from_unix_seconds(lookup(header::TIMESTAMP).unwrap().parse().unwrap());
        let method = vector["method"].as_str().unwrap();
        let target = vector["target"].as_str().unwrap();
        let identity = verify_identity(lookup, method, target, &key, now, 300).unwrap();
        assert_eq!(
            identity.sign(&key, method, target),
            lookup(header::SIGNATURE).unwrap()
        );
        assert_eq!(
            verify_identity(lookup, method, "/other", &key, now, 300),
            Err(IdentityError::BadSignature)
        );
    }
}

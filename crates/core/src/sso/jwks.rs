//! A provider's signing keys (a JSON Web Key Set, RFC 7517) and the check of a JWS compact
//! signature against them (RFC 7515), for ID tokens.
//!
//! Accepted: `RS256` (RSASSA-PKCS1-v1_5 with SHA-256, keys of 2,048 to 8,192 bits) and `ES256`
//! (ECDSA on P-256 with SHA-256). Everything else is refused, `none` and the `HS*` family
//! (which would make the client secret a signing key) included. Keys of the set that are not
//! for signatures (`"use": "enc"`), of another type or curve, or malformed are left out rather
//! than failing the whole set, as providers publish keys for several purposes. The crypto is
//! RustCrypto's (`rsa`, `p256`), pure Rust with no randomness, so it builds for wasm32.

use super::oidc::TokenProblem;
use crate::ids::excerpt;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use rsa::BoxedUint;
use serde_json::{Map, Value};
use sha2::Sha256;
use thiserror::Error;

/// Largest key set accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most keys of a set considered (the rest are ignored).
pub const MAX_JWKS_KEYS: usize = 20;
/// Smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
const MAX_RSA_BITS: usize = 8192;

/// A signature algorithm the engine accepts for ID tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
enum PublicKey {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Rsa(_) => Algorithm::Rs256,
            PublicKey::P256(_) => Algorithm::Es256,
        }
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rsa(key) => {
                let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                    return false;
                };
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                    .verify(message, &signature)
                    .is_ok()
            }
            PublicKey::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
        }
    }
}

#[derive(Clone, Debug)]
struct Jwk {
    kid: Option<String>,
    key: PublicKey,
}

/// Why a key set could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("the key set is larger than 64 KiB")]
    TooLarge,
    /// Not a JSON object with a `keys` array.
    #[error("the key set is not a JSON object with a `keys` array")]
    Malformed,
}

/// A provider's signing keys, parsed once from the JSON its `jwks_uri` serves.
#[derive(Clone, Debug)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a key set (`{"keys": [...]}`), keeping the usable signing keys (see the module
    /// docs); a set with none parses, and then verifies nothing.
    pub fn from_json(json: &[u8]) -> Result<Self, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let value: Value = serde_json::from_slice(json).map_err(|_| JwksError::Malformed)?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError::Malformed)?;
        let keys = keys
            .iter()
            .take(MAX_JWKS_KEYS)
            .filter_map(Value::as_object)
            .filter_map(parse_jwk)
            .collect();
        Ok(Self { keys })
    }

    /// How many usable signing keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable signing key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may have signed with `algorithm` under `kid` (every key of the algorithm
    /// when the token names none).
    fn candidates<'a>(
        &'a self,
        algorithm: Algorithm,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a PublicKey> + 'a {
        self.keys
            .iter()
            .filter(move |jwk| jwk.key.algorithm() == algorithm)
            .filter(move |jwk| kid.is_none_or(|kid| jwk.kid.as_deref() == Some(kid)))
            .map(|jwk| &jwk.key)
    }
}

fn base64url(value: Option<&Value>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value?.as_str()?).ok()
}

fn parse_jwk(jwk: &Map<String, Value>) -> Option<Jwk> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    let declared = match text("alg") {
        Some(name) => Some(Algorithm::parse(name)?),
        None => None,
    };
    let key = match text("kty")? {
        "RSA" => {
            let n = BoxedUint::from_be_slice_vartime(&base64url(jwk.get("n"))?);
            let e = BoxedUint::from_be_slice_vartime(&base64url(jwk.get("e"))?);
            let key =
                rsa::PublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS).ok()?;
            PublicKey::Rsa(key)
        }
        "EC" if text("crv") == Some("P-256") => {
            let x = base64url(jwk.get("x"))?;
            let y = base64url(jwk.get("y"))?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()?)
        }
        _ => return None,
    };
    if declared.is_some_and(|declared| declared != key.algorithm()) {
        return None;
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(kid) => Some(kid.as_str()?.to_owned()),
    };
    Some(Jwk { kid, key })
}

fn decode_json(part: &str) -> Result<Map<String, Value>, TokenProblem> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenProblem::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenProblem::Malformed)
}

/// The claims of `token` (a JWS in compact serialisation), once its signature verifies under a
/// key of `jwks`: the header names an accepted algorithm and no critical extension, and the
/// key is the one its `kid` names (any key of the algorithm when it names none).
pub(crate) fn verify_signed(token: &str, jwks: &Jwks) -> Result<Map<String, Value>, TokenProblem> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenProblem::Malformed);
    };
    let header_fields = decode_json(header)?;
    let algorithm = match header_fields.get("alg").and_then(Value::as_str) {
        Some(name) => Algorithm::parse(name)
            .ok_or_else(|| TokenProblem::UnsupportedAlgorithm(excerpt(name)))?,
        None => return Err(TokenProblem::Malformed),
    };
    if header_fields.contains_key("crit") {
        return Err(TokenProblem::CriticalHeader);
    }
    let kid = match header_fields.get("kid") {
        None => None,
        Some(kid) => Some(kid.as_str().ok_or(TokenProblem::Malformed)?),
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenProblem::Malformed)?;
    let signed = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(TokenProblem::Malformed)?;
    let mut candidates = jwks.candidates(algorithm, kid).peekable();
    if candidates.peek().is_none() {
        return Err(TokenProblem::UnknownKey(kid.map(excerpt)));
    }
    if !candidates.any(|key| key.verifies(signed.as_bytes(), &signature)) {
        return Err(TokenProblem::BadSignature);
    }
    decode_json(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_keys_are_left_out_and_bad_sets_refused() {
        let set = br#"{"keys":[
            {"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"oct","k":"c2VjcmV0"},
            {"kty":"EC","crv":"P-384","x":"AA","y":"AA"},
            {"kty":"RSA","n":"AQAB","e":"AQAB"},
            "not a key"
        ]}"#;
        let jwks = Jwks::from_json(set).unwrap();
        assert!(jwks.is_empty());
        assert_eq!(Jwks::from_json(b"[]").unwrap_err(), JwksError::Malformed);
        assert_eq!(Jwks::from_json(b"{").unwrap_err(), JwksError::Malformed);
        let huge = vec![b' '; MAX_JWKS_BYTES + 1];
        assert_eq!(Jwks::from_json(&huge).unwrap_err(), JwksError::TooLarge);
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_key_is_used() {
        let jwks = Jwks::from_json(br#"{"keys":[]}"#).unwrap();
        let header = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for token in ["", "a.b", "a.b.c.d", "!!.e30.AA"] {
            assert_eq!(
                verify_signed(token, &jwks).unwrap_err(),
                TokenProblem::Malformed,
                "{token}"
            );
        }
        let none = format!("{}.e30.", header(r#"{"alg":"none"}"#));
        assert_eq!(
            verify_signed(&none, &jwks).unwrap_err(),
            TokenProblem::UnsupportedAlgorithm("none".into())
        );
        let hs = format!("{}.e30.AA", header(r#"{"alg":"HS256"}"#));
        assert_eq!(
            verify_signed(&hs, &jwks).unwrap_err(),
            TokenProblem::UnsupportedAlgorithm("HS256".into())
        );
        let crit = format!("{}.e30.AA", header(r#"{"alg":"RS256","crit":["x"]}"#));
        assert_eq!(
            verify_signed(&crit, &jwks).unwrap_err(),
            TokenProblem::CriticalHeader
        );
        let unknown = format!("{}.e30.AA", header(r#"{"alg":"RS256","kid":"k1"}"#));
        assert_eq!(
            verify_signed(&unknown, &jwks).unwrap_err(),
            TokenProblem::UnknownKey(Some("k1".into()))
        );
    }
}

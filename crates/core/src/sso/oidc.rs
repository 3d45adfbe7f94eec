//! OpenID Connect, the pure half: the provider's metadata, the authorization request (state,
//! nonce, PKCE S256), the token request the worker sends, the pending sign-in the account keeps
//! in between, and the checks of the ID token that comes back. The worker does the HTTP; the
//! sequence is in [`crate::sso`].
//!
//! # What a pending sign-in keeps
//! A sign-in starts with a random `state` of the form `<account id>.<43 characters>` (the
//! callback URL is shared by every account, so the account is read off the state with no
//! lookup: [`account_of_state`]). The account keeps only the state's HMAC under the
//! [`HashingKey`] (domain `portcullis/sso-oidc-state/v1`), the connection, the redirect URI,
//! the provider's token endpoint and key set address, and the expiry (10 minutes). The `nonce`
//! and the PKCE `code_verifier` are not stored at all: both are derived again from the state
//! and the hashing key (HMAC-SHA256 in domains of their own), so storage holds nothing that
//! would let anyone finish a sign-in, and the verifier is never in the browser. A pending
//! sign-in is used once: the sign-in it completes removes it. A refused completion changes
//! nothing (as every refusal), so the same state may be presented again until it expires:
//! that gains nothing, since the authorization code is single-use at the provider and the ID
//! token must carry the nonce of this state. At most [`MAX_PENDING_SIGN_INS`] are kept per
//! account; starting one more drops the oldest (expired ones go first), so the worker should
//! rate-limit sign-in starts per client.
//!
//! # What an ID token must be
//! Signed (see [`super::jwks`]) with `RS256` or `ES256` by a key of the provider's set;
//! `iss` exactly the connection's issuer; `aud` the client id or a list holding it, and when
//! the list holds others, `azp` present (and whenever present, equal to the client id);
//! `exp` in the future, `iat` and `nbf` (if present) not in the future, each with
//! [`CLOCK_LEEWAY_SECONDS`] of leeway; `sub` present; `nonce` the one this sign-in derived;
//! `email` an acceptable address and `email_verified` true (the JSON boolean, or the string
//! `"true"` that some providers send). Providers that do not assert `email_verified` cannot
//! sign anyone in: the email is the identity, so it must be one the provider has verified.

use super::jwks::{self, Jwks};
use crate::ids::{AccountId, DisplayName, Email, SsoConnectionId, excerpt};
use crate::notification::check_https_or_loopback;
use crate::secret::{HashingKey, Secret, SecretHash};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// How long a started sign-in may take to come back: 10 minutes.
pub const PENDING_SIGN_IN_SECONDS: u64 = 10 * 60;
/// Most sign-ins pending at once per account; one more drops the oldest.
pub const MAX_PENDING_SIGN_INS: usize = 100;
/// Leeway for the provider's clock in `exp`, `iat` and `nbf`.
pub const CLOCK_LEEWAY_SECONDS: u64 = 60;
/// Largest ID token accepted, in bytes.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;
/// Largest provider metadata document or token response accepted, in bytes.
pub const MAX_PROVIDER_DOCUMENT_BYTES: usize = 64 * 1024;
/// Longest endpoint URL accepted in provider metadata, in bytes.
const MAX_ENDPOINT_LEN: usize = 2048;
/// Longest redirect URI accepted, in bytes.
const MAX_REDIRECT_URI_LEN: usize = 2048;
/// The scopes every sign-in asks for: the email is the identity, the name names a new user.
const SCOPES: &str = "openid email profile";

const STATE_DOMAIN: &str = "portcullis/sso-oidc-state/v1";
const NONCE_DOMAIN: &str = "portcullis/sso-oidc-nonce/v1";
const VERIFIER_DOMAIN: &str = "portcullis/sso-oidc-pkce/v1";
/// Random bytes in a state, after the account id.
const STATE_RANDOM_BYTES: usize = 32;

/// Why an ID token (or the token response carrying it) was refused: kept for logs behind the
/// one public refusal `sso_token_invalid`. Text taken from the token is cut and neutralised.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenProblem {
    /// The token endpoint answered with an OAuth error.
    #[error("the token endpoint answered `{0}`")]
    ProviderError(String),
    /// The token endpoint's answer is not a token response with an `id_token`.
    #[error("the token endpoint's answer holds no ID token")]
    MalformedResponse,
    /// Larger than [`MAX_ID_TOKEN_BYTES`].
    #[error("the ID token is larger than 16 KiB")]
    TooLarge,
    /// Not a JWS in compact serialisation with JSON header and claims.
    #[error("the ID token is not a signed JWT")]
    Malformed,
    /// Signed with an algorithm that is not accepted.
    #[error("the ID token is signed with `{0}`; only RS256 and ES256 are accepted")]
    UnsupportedAlgorithm(String),
    /// The header names critical extensions, none of which are understood.
    #[error("the ID token's header names critical extensions")]
    CriticalHeader,
    /// No key of the set fits the token's algorithm and `kid` (the provider may have rotated
    /// its keys: fetch the set again and retry once).
    #[error("no key of the provider's set matches the ID token (kid {0:?})")]
    UnknownKey(Option<String>),
    /// The signature does not verify.
    #[error("the ID token's signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("the ID token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type.
    #[error("the ID token's `{0}` claim is malformed")]
    MalformedClaim(&'static str),
    /// `iss` is not the connection's issuer.
    #[error("the ID token was issued by `{0}`, not the connection's issuer")]
    WrongIssuer(String),
    /// `aud` does not hold the client id.
    #[error("the ID token is not for this client")]
    WrongAudience,
    /// `azp` is absent with several audiences, or is not the client id.
    #[error("the ID token was issued to another party")]
    WrongAuthorizedParty,
    /// `exp` has passed.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` or `nbf` is in the future.
    #[error("the ID token is not valid yet")]
    NotYetValid,
    /// `nonce` is not this sign-in's.
    #[error("the ID token's nonce is not this sign-in's")]
    NonceMismatch,
    /// `email_verified` is not true.
    #[error("the provider has not verified the email address")]
    EmailNotVerified,
    /// `email` is not an address a user can have.
    #[error("the ID token's email is not an acceptable address")]
    EmailInvalid,
}

impl TokenProblem {
    /// A stable machine-readable reason, for logs and metrics.
    pub const fn code(&self) -> &'static str {
        match self {
            TokenProblem::ProviderError(_) => "provider_error",
            TokenProblem::MalformedResponse => "malformed_response",
            TokenProblem::TooLarge => "too_large",
            TokenProblem::Malformed => "malformed",
            TokenProblem::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            TokenProblem::CriticalHeader => "critical_header",
            TokenProblem::UnknownKey(_) => "unknown_key",
            TokenProblem::BadSignature => "bad_signature",
            TokenProblem::MissingClaim(_) => "missing_claim",
            TokenProblem::MalformedClaim(_) => "malformed_claim",
            TokenProblem::WrongIssuer(_) => "wrong_issuer",
            TokenProblem::WrongAudience => "wrong_audience",
            TokenProblem::WrongAuthorizedParty => "wrong_authorized_party",
            TokenProblem::Expired => "expired",
            TokenProblem::NotYetValid => "not_yet_valid",
            TokenProblem::NonceMismatch => "nonce_mismatch",
            TokenProblem::EmailNotVerified => "email_not_verified",
            TokenProblem::EmailInvalid => "email_invalid",
        }
    }
}

/// Why a provider metadata document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// Larger than [`MAX_PROVIDER_DOCUMENT_BYTES`].
    #[error("the provider metadata is larger than 64 KiB")]
    TooLarge,
    /// Not JSON with `issuer`, `authorization_endpoint`, `token_endpoint` and `jwks_uri`.
    #[error("the provider metadata is malformed: {0}")]
    Malformed(String),
}

/// The parts of a provider's metadata (OpenID Connect Discovery 1.0) the flow uses, as the
/// worker fetched it from [`IssuerUrl::discovery_url`](super::IssuerUrl::discovery_url).
/// Checked against the connection when a sign-in starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProviderMetadata {
    /// The issuer; must equal the connection's exactly.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the worker exchanges the code.
    pub token_endpoint: String,
    /// Where the provider's signing keys are.
    pub jwks_uri: String,
    /// How clients may authenticate at the token endpoint (absent: `client_secret_basic`).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// The PKCE methods supported (absent: not advertised, S256 is sent anyway).
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl OidcProviderMetadata {
    /// Parses a discovery document (unknown fields ignored).
    pub fn from_json(json: &[u8]) -> Result<Self, MetadataError> {
        if json.len() > MAX_PROVIDER_DOCUMENT_BYTES {
            return Err(MetadataError::TooLarge);
        }
        serde_json::from_slice(json).map_err(|error| MetadataError::Malformed(error.to_string()))
    }

    /// Whether this is the metadata of `issuer` and usable: the same issuer, endpoints that
    /// follow the URL rule of webhooks and issuers (https, or http to loopback), S256 among
    /// the PKCE methods when they are listed, a client authentication method the engine has.
    pub(crate) fn check(&self, issuer: &str) -> Result<TokenEndpointAuth, &'static str> {
        if self.issuer != issuer {
            return Err("its metadata names another issuer");
        }
        for endpoint in [
            &self.authorization_endpoint,
            &self.token_endpoint,
            &self.jwks_uri,
        ] {
            if check_https_or_loopback(endpoint, MAX_ENDPOINT_LEN).is_err()
                || endpoint.contains('#')
            {
                return Err("an endpoint in its metadata is not an https URL");
            }
        }
        if self
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|methods| !methods.iter().any(|method| method == "S256"))
        {
            return Err("it does not support PKCE with S256");
        }
        TokenEndpointAuth::choose(self.token_endpoint_auth_methods_supported.as_deref())
            .ok_or("it supports neither client_secret_basic nor client_secret_post")
    }
}

/// How the worker authenticates to the token endpoint with the client secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749, 2.3.1): the default.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl TokenEndpointAuth {
    /// `client_secret_basic` when the provider lists it or lists nothing (it is the default),
    /// else `client_secret_post` when listed, else none.
    fn choose(supported: Option<&[String]>) -> Option<Self> {
        let Some(supported) = supported else {
            return Some(Self::ClientSecretBasic);
        };
        let listed = |name: &str| supported.iter().any(|method| method == name);
        if listed("client_secret_basic") {
            Some(Self::ClientSecretBasic)
        } else if listed("client_secret_post") {
            Some(Self::ClientSecretPost)
        } else {
            None
        }
    }

    /// The method's name, as the provider's metadata spells it.
    pub const fn name(self) -> &'static str {
        match self {
            TokenEndpointAuth::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuth::ClientSecretPost => "client_secret_post",
        }
    }
}

/// A started sign-in: where to send the browser, and the state it will come back with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OidcStart {
    /// The provider's authorization endpoint with the request in its query.
    pub authorization_url: String,
    /// The `state` (`<account id>.<random>`); the worker should also bind it to the browser
    /// (a short-lived cookie compared on the callback) so that nobody can complete a sign-in
    /// they started in someone else's browser.
    pub state: String,
    /// When the sign-in stops being pending.
    pub expires_at: Timestamp,
}

/// The token request the worker POSTs (`application/x-www-form-urlencoded`) to
/// [`OidcTokenRequest::token_endpoint`], with [`OidcTokenRequest::authorization`] as the
/// `Authorization` header when there is one and [`OidcTokenRequest::body`] as the body.
#[derive(Debug)]
pub struct OidcTokenRequest {
    /// The connection the sign-in is for.
    pub connection_id: SsoConnectionId,
    /// Where to POST.
    pub token_endpoint: String,
    /// Where the provider's signing keys are (for [`Account::complete_oidc_sign_in`](crate::Account::complete_oidc_sign_in)).
    pub jwks_uri: String,
    /// How the client authenticates.
    pub auth_method: TokenEndpointAuth,
    /// The client id.
    pub client_id: String,
    /// The client secret, unsealed for this request only.
    pub client_secret: Secret,
    /// The authorization code from the callback.
    pub code: Secret,
    /// The PKCE verifier of this sign-in.
    pub code_verifier: Secret,
    /// The redirect URI the sign-in started with (sent again, as OAuth requires).
    pub redirect_uri: String,
}

fn form_encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl OidcTokenRequest {
    /// The form body: `grant_type=authorization_code`, the code, the redirect URI and the
    /// verifier, and with `client_secret_post` the client id and secret.
    pub fn body(&self) -> Secret {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", self.code.expose())
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_verifier", self.code_verifier.expose());
        if self.auth_method == TokenEndpointAuth::ClientSecretPost {
            form.append_pair("client_id", &self.client_id)
                .append_pair("client_secret", self.client_secret.expose());
        }
        Secret::new(form.finish())
    }

    /// The `Authorization` header value with `client_secret_basic`:
    /// `Basic base64(form(client_id) ":" form(client_secret))`.
    pub fn authorization(&self) -> Option<Secret> {
        if self.auth_method != TokenEndpointAuth::ClientSecretBasic {
            return None;
        }
        let credentials = zeroize::Zeroizing::new(format!(
            "{}:{}",
            form_encoded(&self.client_id),
            form_encoded(self.client_secret.expose())
        ));
        Some(Secret::new(format!(
            "Basic {}",
            STANDARD.encode(credentials.as_bytes())
        )))
    }
}

/// The account a callback's `state` belongs to, read off the state alone (no lookup).
pub fn account_of_state(state: &str) -> Option<AccountId> {
    let (account, _) = state.split_once('.')?;
    account.parse().ok()
}

/// The PKCE S256 challenge of `verifier`: BASE64URL(SHA256(ASCII(verifier))) (RFC 7636, 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The `id_token` of a token endpoint's JSON answer, or why there is none (an OAuth error
/// answer is [`TokenProblem::ProviderError`] with its `error` code).
pub fn id_token_from_token_response(json: &[u8]) -> Result<String, TokenProblem> {
    if json.len() > MAX_PROVIDER_DOCUMENT_BYTES {
        return Err(TokenProblem::MalformedResponse);
    }
    let value: Value = serde_json::from_slice(json).map_err(|_| TokenProblem::MalformedResponse)?;
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(TokenProblem::ProviderError(excerpt(error)));
    }
    value
        .get("id_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenProblem::MalformedResponse)
}

/// A sign-in between its start and its callback (see the module docs for what is kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingSignIn {
    /// HMAC of the state.
    pub(crate) state_hash: SecretHash,
    /// The connection.
    pub(crate) connection: SsoConnectionId,
    /// The redirect URI sent with the authorization request.
    pub(crate) redirect_uri: String,
    /// The provider's token endpoint.
    pub(crate) token_endpoint: String,
    /// The provider's key set.
    pub(crate) jwks_uri: String,
    /// How to authenticate at the token endpoint.
    pub(crate) auth_method: TokenEndpointAuth,
    /// When it started.
    pub(crate) created_at: Timestamp,
    /// When it stops being pending.
    pub(crate) expires_at: Timestamp,
}

impl PendingSignIn {
    /// Where it stands among the pending sign-ins (and the order storage loads them in).
    pub(crate) fn order(&self) -> (Timestamp, [u8; 32]) {
        (self.created_at, *self.state_hash.as_bytes())
    }

    /// Whether this is the pending sign-in of `state` (constant time).
    pub(crate) fn is_for(&self, key: &HashingKey, state: &str) -> bool {
        state_matches(key, state, &self.state_hash)
    }

    /// Whether it still waits for its callback at `now`.
    pub(crate) fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// Whether `hash` is the stored hash of `state` (constant time).
pub(crate) fn state_matches(key: &HashingKey, state: &str, hash: &SecretHash) -> bool {
    key.verify(STATE_DOMAIN, state.as_bytes(), hash)
}

/// A new state for `account` and its stored hash.
pub(crate) fn new_state(
    account: &AccountId,
    key: &HashingKey,
    random: &mut dyn crate::RandomSource,
) -> (String, SecretHash) {
    let bytes: [u8; STATE_RANDOM_BYTES] = crate::random::bytes(random);
    let state = format!("{account}.{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = key.hash(STATE_DOMAIN, state.as_bytes());
    (state, hash)
}

/// The nonce of the sign-in with `state`.
pub(crate) fn nonce_for(key: &HashingKey, state: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.derive(NONCE_DOMAIN, state.as_bytes()).as_slice())
}

/// The PKCE verifier of the sign-in with `state`: 43 characters of base64url (256 bits).
pub(crate) fn verifier_for(key: &HashingKey, state: &str) -> Secret {
    Secret::new(URL_SAFE_NO_PAD.encode(key.derive(VERIFIER_DOMAIN, state.as_bytes()).as_slice()))
}

/// Whether `redirect_uri` is acceptable: the URL rule of webhooks and issuers, no fragment.
pub(crate) fn acceptable_redirect_uri(redirect_uri: &str) -> bool {
    check_https_or_loopback(redirect_uri, MAX_REDIRECT_URI_LEN).is_ok()
        && !redirect_uri.contains('#')
}

/// The authorization URL of a sign-in.
pub(crate) fn authorization_url(
    metadata: &OidcProviderMetadata,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    challenge: &str,
    login_hint: Option<&Email>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", SCOPES)
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(hint) = login_hint {
        query.append_pair("login_hint", hint.as_str());
    }
    let endpoint = &metadata.authorization_endpoint;
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{separator}{}", query.finish())
}

/// What the ID token must match.
pub(crate) struct Expected<'a> {
    /// The connection's issuer.
    pub(crate) issuer: &'a str,
    /// The connection's client id.
    pub(crate) client_id: &'a str,
    /// This sign-in's nonce.
    pub(crate) nonce: &'a str,
    /// The time.
    pub(crate) now: Timestamp,
}

/// Who the provider says signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VerifiedIdentity {
    /// The verified email.
    pub(crate) email: Email,
    /// The `name` claim, when it is a valid display name.
    pub(crate) name: Option<DisplayName>,
}

fn text_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, TokenProblem> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(TokenProblem::MalformedClaim(name)),
    }
}

fn required_text<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, TokenProblem> {
    text_claim(claims, name)?.ok_or(TokenProblem::MissingClaim(name))
}

/// A NumericDate (seconds since the epoch, possibly fractional), floored.
fn time_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, TokenProblem> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                    .map(|seconds| seconds.floor() as u64)
            })
            .map(Some)
            .ok_or(TokenProblem::MalformedClaim(name)),
        Some(_) => Err(TokenProblem::MalformedClaim(name)),
    }
}

/// Verifies `token` against `jwks` and `expected` (see the module docs): who signed in.
pub(crate) fn verify_id_token(
    token: &str,
    jwks: &Jwks,
    expected: &Expected<'_>,
) -> Result<VerifiedIdentity, TokenProblem> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(TokenProblem::TooLarge);
    }
    let claims = jwks::verify_signed(token, jwks)?;
    let issuer = required_text(&claims, "iss")?;
    if issuer != expected.issuer {
        return Err(TokenProblem::WrongIssuer(excerpt(issuer)));
    }
    required_text(&claims, "sub")?;
    let audiences: Vec<&str> = match claims.get("aud") {
        None | Some(Value::Null) => return Err(TokenProblem::MissingClaim("aud")),
        Some(Value::String(audience)) => vec![audience.as_str()],
        Some(Value::Array(audiences)) => audiences
            .iter()
            .map(|audience| audience.as_str().ok_or(TokenProblem::MalformedClaim("aud")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(TokenProblem::MalformedClaim("aud")),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(TokenProblem::WrongAudience);
    }
    match text_claim(&claims, "azp")? {
        Some(party) if party != expected.client_id => {
            return Err(TokenProblem::WrongAuthorizedParty);
        }
        None if audiences.len() > 1 => return Err(TokenProblem::WrongAuthorizedParty),
        _ => {}
    }
    let now = expected.now.unix_seconds();
    let expires = time_claim(&claims, "exp")?.ok_or(TokenProblem::MissingClaim("exp"))?;
    if now >= expires.saturating_add(CLOCK_LEEWAY_SECONDS) {
        return Err(TokenProblem::Expired);
    }
    let issued = time_claim(&claims, "iat")?.ok_or(TokenProblem::MissingClaim("iat"))?;
    let not_before = time_claim(&claims, "nbf")?.unwrap_or(issued);
    if issued.max(not_before) > now.saturating_add(CLOCK_LEEWAY_SECONDS) {
        return Err(TokenProblem::NotYetValid);
    }
    let nonce = required_text(&claims, "nonce")?;
    if !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(TokenProblem::NonceMismatch);
    }
    let email = required_text(&claims, "email")?;
    let verified = match claims.get("email_verified") {
        Some(Value::Bool(verified)) => *verified,
        Some(Value::String(verified)) => verified == "true",
        _ => false,
    };
    if !verified {
        return Err(TokenProblem::EmailNotVerified);
    }
    let email = email
        .parse::<Email>()
        .map_err(|_| TokenProblem::EmailInvalid)?;
    let name = text_claim(&claims, "name")
        .ok()
        .flatten()
        .and_then(|name| name.parse().ok());
    Ok(VerifiedIdentity { email, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[9; 32]).unwrap()
    }

    fn metadata() -> OidcProviderMetadata {
        OidcProviderMetadata::from_json(
            br#"{"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/auth",
            "token_endpoint":"https://idp.example.com/token","jwks_uri":"https://idp.example.com/jwks",
            "response_types_supported":["code"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_pkce_challenge_is_the_rfc_7636_appendix_b_vector() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_state_names_its_account_and_derives_nonce_and_verifier() {
        let account = AccountId::generate(&mut SeededRandom::new(1));
        let (state, hash) = new_state(&account, &key(), &mut SeededRandom::new(2));
        assert_eq!(account_of_state(&state), Some(account.clone()));
        assert_eq!(state.len(), account.as_str().len() + 1 + 43);
        assert_eq!(account_of_state("acc_nothex.x"), None);
        assert_eq!(account_of_state("no-dot"), None);
        assert!(key().verify(STATE_DOMAIN, state.as_bytes(), &hash));
        let verifier = verifier_for(&key(), &state);
        assert_eq!(verifier.expose().len(), 43);
        assert_ne!(verifier.expose(), nonce_for(&key(), &state));
        let other = HashingKey::from_bytes(&[10; 32]).unwrap();
        assert_ne!(verifier_for(&other, &state), verifier);
    }

    #[test]
    fn metadata_must_be_the_connections_and_usable() {
        assert_eq!(
            metadata().check("https://idp.example.com"),
            Ok(TokenEndpointAuth::ClientSecretBasic)
        );
        assert!(metadata().check("https://idp.example.com/").is_err());
        let mut post_only = metadata();
        post_only.token_endpoint_auth_methods_supported =
            Some(vec!["private_key_jwt".into(), "client_secret_post".into()]);
        assert_eq!(
            post_only.check("https://idp.example.com"),
            Ok(TokenEndpointAuth::ClientSecretPost)
        );
        post_only.token_endpoint_auth_methods_supported = Some(vec!["private_key_jwt".into()]);
        assert!(post_only.check("https://idp.example.com").is_err());
        let mut plain = metadata();
        plain.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(plain.check("https://idp.example.com").is_err());
        let mut insecure = metadata();
        insecure.token_endpoint = "http://idp.example.com/token".into();
        assert!(insecure.check("https://idp.example.com").is_err());
        assert!(matches!(
            OidcProviderMetadata::from_json(br#"{"issuer":"x"}"#),
            Err(MetadataError::Malformed(_))
        ));
    }

    #[test]
    fn the_authorization_url_carries_the_whole_request() {
        let hint: Email = "ana@example.com".parse().unwrap();
        let url = authorization_url(
            &metadata(),
            "client 1",
            "https://edge.example.com/sso/callback",
            "acc_0123456789abcdef.xyz",
            "n0nce",
            "ch",
            Some(&hint),
        );
        assert_eq!(
            url,
            "https://idp.example.com/auth?response_type=code&client_id=client+1\
             &redirect_uri=https%3A%2F%2Fedge.example.com%2Fsso%2Fcallback\
             &scope=openid+email+profile&state=acc_0123456789abcdef.xyz&nonce=n0nce\
             &code_challenge=ch&code_challenge_method=S256&login_hint=ana%40example.com"
        );
        let mut with_query = metadata();
        with_query.authorization_endpoint = "https://idp.example.com/auth?tenant=1".into();
        assert!(
            authorization_url(&with_query, "c", "https://e", "s", "n", "c", None)
                .starts_with("https://idp.example.com/auth?tenant=1&response_type=code")
        );
    }

    #[test]
    fn the_token_request_authenticates_as_the_provider_asks() {
        let request = |auth_method| OidcTokenRequest {
            connection_id: "sso_0123456789abcdef".parse().unwrap(),
            token_endpoint: "https://idp.example.com/token".into(),
            jwks_uri: "https://idp.example.com/jwks".into(),
            auth_method,
            client_id: "my client".into(),
            client_secret: Secret::new("s:e&c".into()),
            code: Secret::new("the code".into()),
            code_verifier: Secret::new("verifier".into()),
            redirect_uri: "https://edge.example.com/cb".into(),
        };
        let basic = request(TokenEndpointAuth::ClientSecretBasic);
        assert_eq!(
            basic.body().expose(),
            "grant_type=authorization_code&code=the+code\
             &redirect_uri=https%3A%2F%2Fedge.example.com%2Fcb&code_verifier=verifier"
        );
        let header = basic.authorization().unwrap();
        let decoded = STANDARD
            .decode(header.expose().strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"my+client:s%3Ae%26c");
        assert!(!format!("{basic:?}").contains("s:e&c"));
        let post = request(TokenEndpointAuth::ClientSecretPost);
        assert!(post.authorization().is_none());
        assert!(
            post.body()
                .expose()
                .ends_with("&client_id=my+client&client_secret=s%3Ae%26c")
        );
    }

    #[test]
    fn token_responses_yield_their_id_token_or_the_error() {
        assert_eq!(
            id_token_from_token_response(br#"{"access_token":"a","id_token":"x.y.z"}"#),
            Ok("x.y.z".into())
        );
        assert_eq!(
            id_token_from_token_response(br#"{"error":"invalid_grant"}"#),
            Err(TokenProblem::ProviderError("invalid_grant".into()))
        );
        assert_eq!(
            id_token_from_token_response(br#"{"access_token":"a"}"#),
            Err(TokenProblem::MalformedResponse)
        );
        assert_eq!(
            id_token_from_token_response(b"<html>"),
            Err(TokenProblem::MalformedResponse)
        );
    }
}

//! SAML 2.0 sign-in, the parts that do not need the XML stack (always built): where this
//! service provider's endpoints are, what an account keeps between the start of a sign-in and
//! the identity provider's answer, and the replay memory. The protocol itself (building the
//! AuthnRequest, verifying the response) is [`super::saml`], behind the core feature `saml`.
//!
//! # Choices
//! - **Endpoints.** This service provider's entity ID for a connection is
//!   `<origin>/v1/sso/saml/<account id>/<connection id>` and its Assertion Consumer Service is
//!   `<origin>/v1/sso/saml/acs`, one for every account ([`service_provider`]); the origin is the
//!   worker's public origin, as the OpenID Connect redirect URI is. Connection views in the
//!   Management API show both, so an administrator copies them into the identity provider.
//! - **State.** A sign-in's `RelayState` is a state like OpenID Connect's
//!   (`<account id>.<43 characters>`, 64 bytes: under SAML's 80-byte limit), so the ACS finds
//!   the account with no lookup; the account keeps only its HMAC, the AuthnRequest ID (the
//!   response's `InResponseTo`), the endpoints used and an expiry of 10 minutes
//!   ([`super::oidc::PENDING_SIGN_IN_SECONDS`]). A completed sign-in removes it, so a response
//!   answers one request once.
//! - **Replay.** Beyond that, the IDs of every accepted Response and Assertion are remembered
//!   (SHA-256 digests, so no value the provider chose is stored) until their `NotOnOrAfter`
//!   plus the clock skew, at most [`MAX_SEEN_SAML_IDS`]; when full, the entries expiring soonest
//!   go first. Dropping one early cannot let a replay through: the response it came in answered
//!   a pending request that no longer exists.
//! - **Browser binding.** The identity provider POSTs the response cross-site, which a
//!   `SameSite=Lax` cookie does not accompany, so the worker binds the browser with a cookie of
//!   its own for SAML, `SameSite=None; Secure; HttpOnly` ([`crate::browser`]), and the ACS
//!   requires the `RelayState` to equal it: a response forged into another browser completes
//!   nothing (login CSRF).
//! - **Email.** SAML has no `email_verified`: the identity provider's signed assertion is the
//!   authority for the email it names (the NameID when its format is `emailAddress`, else an
//!   `email`/`mail` attribute), as WorkOS and Auth0 treat SAML connections. The rest is the
//!   rule of every SSO sign-in ([`crate::sso`]).

use crate::ids::{AccountId, SsoConnectionId};
#[cfg(feature = "saml")]
use crate::secret::HashingKey;
use crate::secret::SecretHash;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Largest `SAMLResponse` form value accepted, in bytes (base64 of the XML).
pub const MAX_SAML_RESPONSE_BYTES: usize = 128 * 1024;
/// Most accepted response and assertion IDs remembered per account.
pub const MAX_SEEN_SAML_IDS: usize = 1000;
/// Clock skew allowed on the assertion's time conditions, in seconds.
#[cfg(feature = "saml")]
pub(crate) const SAML_SKEW_SECONDS: u32 = 60;

/// The path of the Assertion Consumer Service, the same for every account.
pub const fn acs_path() -> &'static str {
    "/v1/sso/saml/acs"
}

/// This service provider's endpoints for one SAML connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProvider {
    /// The entity ID: the Issuer of the AuthnRequests and the Audience responses must name.
    pub entity_id: String,
    /// Where the identity provider POSTs its response.
    pub acs_url: String,
}

/// The endpoints of `connection` in `account`, under the worker's public `origin` (scheme,
/// host and port, no trailing `/`).
pub fn service_provider(
    origin: &str,
    account: &AccountId,
    connection: &SsoConnectionId,
) -> ServiceProvider {
    let origin = origin.trim_end_matches('/');
    ServiceProvider {
        entity_id: format!("{origin}/v1/sso/saml/{account}/{connection}"),
        acs_url: format!("{origin}{}", acs_path()),
    }
}

/// A SAML sign-in that has started: where to send the browser, and the state to bind it with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SamlStart {
    /// The identity provider's URL carrying the AuthnRequest and the `RelayState`.
    pub redirect_url: String,
    /// The `RelayState` (also for the browser's cookie).
    pub state: String,
    /// When the sign-in stops being pending.
    pub expires_at: Timestamp,
}

/// A SAML sign-in between its start and the response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingSaml {
    /// HMAC of the state (the `RelayState`).
    pub(crate) state_hash: SecretHash,
    /// The connection.
    pub(crate) connection: SsoConnectionId,
    /// The AuthnRequest's ID: the response's `InResponseTo`.
    pub(crate) request_id: String,
    /// The endpoints the request named.
    pub(crate) service_provider: ServiceProvider,
    /// When it stops being pending.
    pub(crate) expires_at: Timestamp,
}

#[cfg(feature = "saml")]
impl PendingSaml {
    /// Whether this is the pending sign-in of `state` (constant time).
    pub(crate) fn is_for(&self, key: &HashingKey, state: &str) -> bool {
        super::oidc::state_matches(key, state, &self.state_hash)
    }

    /// Whether it still waits at `now`.
    pub(crate) fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

impl PendingSaml {
    /// Where it stands among the pending sign-ins (and the order storage loads them in).
    pub(crate) fn order(&self) -> (Timestamp, [u8; 32]) {
        (self.expires_at, *self.state_hash.as_bytes())
    }
}

impl SeenId {
    /// The replay memory's order: soonest expiry first, then digest (as storage loads it).
    pub(crate) fn order(a: &SeenId, b: &SeenId) -> std::cmp::Ordering {
        (a.expires_at, &a.digest).cmp(&(b.expires_at, &b.digest))
    }
}

/// An accepted response or assertion ID, as a digest, until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SeenId {
    /// Base64url of the first 16 bytes of SHA-256 of the connection and the key.
    pub(crate) digest: String,
    /// When it may be forgotten.
    pub(crate) expires_at: Timestamp,
}

#[cfg(feature = "saml")]
impl SeenId {
    /// The entry for `key` (e.g. `assertion_id:_abc`) of `connection`.
    pub(crate) fn new(connection: &SsoConnectionId, key: &str, expires_at: Timestamp) -> Self {
        use base64::Engine as _;
        use sha2::{Digest as _, Sha256};
        let mut digest = Sha256::new();
        digest.update(connection.as_str().as_bytes());
        digest.update([0]);
        digest.update(key.as_bytes());
        let digest = digest.finalize();
        SeenId {
            digest: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(digest.get(..16).unwrap_or_default()),
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_origin_account_and_connection() {
        let account: AccountId = "acc_0123456789abcdef".parse().unwrap();
        let connection: SsoConnectionId = "sso_0123456789abcdef".parse().unwrap();
        let sp = service_provider("https://auth.example.com/", &account, &connection);
        assert_eq!(
            sp.entity_id,
            "https://auth.example.com/v1/sso/saml/acc_0123456789abcdef/sso_0123456789abcdef"
        );
        assert_eq!(sp.acs_url, "https://auth.example.com/v1/sso/saml/acs");
    }

    #[cfg(feature = "saml")]
    #[test]
    fn seen_ids_are_digests_bound_to_the_connection() {
        let first: SsoConnectionId = "sso_0123456789abcdef".parse().unwrap();
        let second: SsoConnectionId = "sso_fedcba9876543210".parse().unwrap();
        let at = Timestamp::from_unix_seconds(1);
        let seen = SeenId::new(&first, "assertion_id:_abc", at);
        assert_eq!(seen, SeenId::new(&first, "assertion_id:_abc", at));
        assert_ne!(
            seen.digest,
            SeenId::new(&second, "assertion_id:_abc", at).digest
        );
        assert!(!seen.digest.contains("abc"));
        assert_eq!(seen.digest.len(), 22);
    }
}

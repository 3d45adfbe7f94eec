//! Identity-provider connections: what an account stores about each provider it trusts, what
//! the commands that create and change one carry, and what a view of one shows.
//!
//! A connection is protocol-neutral around one [`SsoProtocol`] value; OpenID Connect is the
//! one protocol today, and another (`Saml(..)`) is one more variant of each of
//! [`SsoProtocol`], [`SsoProtocolSettings`] and [`SsoProtocolView`].

use crate::ids::{DisplayName, SsoConnectionId};
use crate::notification::{self, WebhookUrlError};
use crate::secret::{HashingKey, SealedSecret, Secret};
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Most identity-provider connections one account holds.
pub const MAX_SSO_CONNECTIONS_PER_ACCOUNT: usize = 10;
/// Longest client secret accepted, in characters.
pub const MAX_CLIENT_SECRET_CHARS: usize = 1024;
/// The domain client secrets are sealed in (see [`crate::secret::SealedSecret`]).
const CLIENT_SECRET_DOMAIN: &str = "portcullis/sso-client-secret/v1";

/// Why a string is not an acceptable OpenID Connect issuer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IssuerUrlError {
    /// Not `https://`, nor `http://` to this machine.
    #[error("issuer must use https (http only for 127.0.0.1, [::1] or localhost)")]
    Scheme,
    /// Empty host, credentials, a query or fragment, white space or control characters.
    #[error("issuer is malformed (a URL with a host and no query or fragment)")]
    Malformed,
    /// Longer than [`IssuerUrl::MAX_LEN`].
    #[error("issuer is longer than 2048 characters")]
    TooLong,
}

/// An OpenID Connect issuer identifier: an `https://` URL with no query or fragment (or
/// `http://` to the local machine, for development and tests, as for webhooks). Compared
/// exactly, as OpenID Connect requires: `https://idp.example` and `https://idp.example/` are two
/// issuers.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    /// The longest issuer accepted.
    pub const MAX_LEN: usize = 2048;

    /// The issuer as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the provider's metadata is (OpenID Connect Discovery 1.0, section 4): the issuer
    /// without a trailing `/`, then `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.0.trim_end_matches('/')
        )
    }
}

impl FromStr for IssuerUrl {
    type Err = IssuerUrlError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        notification::check_https_or_loopback(value, Self::MAX_LEN).map_err(
            |error| match error {
                WebhookUrlError::Scheme => IssuerUrlError::Scheme,
                WebhookUrlError::Malformed => IssuerUrlError::Malformed,
                WebhookUrlError::TooLong => IssuerUrlError::TooLong,
            },
        )?;
        if value.contains(['?', '#']) {
            return Err(IssuerUrlError::Malformed);
        }
        Ok(Self(value.to_owned()))
    }
}

impl<'de> Deserialize<'de> for IssuerUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that is not an acceptable OAuth client id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("client id must be 1 to 255 visible ASCII characters")]
pub struct InvalidClientId;

/// The client id the provider registered for this account: 1 to 255 visible ASCII characters
/// (no white space).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OidcClientId(String);

impl OidcClientId {
    /// The longest client id accepted.
    pub const MAX_LEN: usize = 255;

    /// The client id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OidcClientId {
    type Err = InvalidClientId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let visible = value.bytes().all(|byte| byte.is_ascii_graphic());
        if value.is_empty() || value.len() > Self::MAX_LEN || !visible {
            return Err(InvalidClientId);
        }
        Ok(Self(value.to_owned()))
    }
}

impl<'de> Deserialize<'de> for OidcClientId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for OidcClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OidcClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An identity provider an account trusts to say who its users are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnection {
    /// Stable id.
    pub id: SsoConnectionId,
    /// Name, for people.
    pub name: DisplayName,
    /// The protocol and its settings.
    pub protocol: SsoProtocol,
    /// Whether a verified email that matches no user creates one (active, with no company
    /// role and no tenant permission); off by default.
    pub allow_jit_provisioning: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// How a connection signs people in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SsoProtocol {
    /// OpenID Connect: authorization code flow with PKCE.
    Oidc(OidcConnection),
}

impl SsoProtocol {
    /// The protocol's name, as audit details and views spell it.
    pub const fn name(&self) -> &'static str {
        match self {
            SsoProtocol::Oidc(_) => "oidc",
        }
    }
}

/// An OpenID Connect provider, as stored: the client secret only sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcConnection {
    /// The issuer (its metadata is at [`IssuerUrl::discovery_url`]).
    pub issuer: IssuerUrl,
    /// The client id the provider registered.
    pub client_id: OidcClientId,
    /// The client secret, sealed for this account and connection.
    client_secret: SealedSecret,
}

impl OidcConnection {
    /// A connection whose `client_secret` is sealed for `binding` (see [`secret_binding`]).
    pub(crate) fn new(
        issuer: IssuerUrl,
        client_id: OidcClientId,
        client_secret: &Secret,
        key: &HashingKey,
        binding: &[u8],
        random: &mut dyn crate::RandomSource,
    ) -> Self {
        Self {
            issuer,
            client_id,
            client_secret: SealedSecret::seal(
                key,
                CLIENT_SECRET_DOMAIN,
                binding,
                client_secret,
                random,
            ),
        }
    }

    /// Replaces the client secret (sealed again, under a fresh nonce).
    pub(crate) fn set_client_secret(
        &mut self,
        client_secret: &Secret,
        key: &HashingKey,
        binding: &[u8],
        random: &mut dyn crate::RandomSource,
    ) {
        self.client_secret =
            SealedSecret::seal(key, CLIENT_SECRET_DOMAIN, binding, client_secret, random);
    }

    /// The client secret, unsealed for the token request; `None` when it does not open (the
    /// hashing key changed, or the stored bytes were altered).
    pub(crate) fn client_secret(&self, key: &HashingKey, binding: &[u8]) -> Option<Secret> {
        self.client_secret.open(key, CLIENT_SECRET_DOMAIN, binding)
    }
}

/// What a connection's client secret is bound to: its account and its own id, so a sealed
/// secret copied to another connection or account does not open.
pub(crate) fn secret_binding(
    account: &crate::ids::AccountId,
    connection: &SsoConnectionId,
) -> Vec<u8> {
    format!("{account}\u{0}{connection}").into_bytes()
}

/// A new connection's protocol settings, as `create_sso_connection` carries them:
/// `{"type": "oidc", "issuer": …, "client_id": …, "client_secret": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SsoProtocolSettings {
    /// OpenID Connect.
    Oidc(OidcSettings),
}

/// A new OpenID Connect connection's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer.
    pub issuer: IssuerUrl,
    /// The client id the provider registered.
    pub client_id: OidcClientId,
    /// The client secret (1 to 1,024 characters, no control characters); sealed, never shown.
    pub client_secret: Secret,
}

/// Changes to an OpenID Connect connection; omitted fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcChange {
    /// A new issuer.
    #[serde(default)]
    pub issuer: Option<IssuerUrl>,
    /// A new client id.
    #[serde(default)]
    pub client_id: Option<OidcClientId>,
    /// A new client secret (rotation).
    #[serde(default)]
    pub client_secret: Option<Secret>,
}

/// Whether a client secret given to a command is acceptable: 1 to
/// [`MAX_CLIENT_SECRET_CHARS`] characters, none of them control characters.
pub(crate) fn acceptable_client_secret(secret: &Secret) -> bool {
    let text = secret.expose();
    !text.is_empty()
        && text.chars().count() <= MAX_CLIENT_SECRET_CHARS
        && !text.chars().any(char::is_control)
}

/// A connection as shown to company admins: never the client secret, only whether one is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SsoConnectionView {
    /// Its id.
    pub connection_id: SsoConnectionId,
    /// Name.
    pub name: DisplayName,
    /// The protocol and its public settings.
    pub protocol: SsoProtocolView,
    /// Whether unknown verified emails create users.
    pub allow_jit_provisioning: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A connection's protocol settings, without secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SsoProtocolView {
    /// OpenID Connect.
    Oidc {
        /// The issuer.
        issuer: IssuerUrl,
        /// The client id.
        client_id: OidcClientId,
        /// Always true: a connection cannot exist without a client secret (shown so that a
        /// client can tell the secret is kept without ever seeing it).
        client_secret_set: bool,
    },
}

impl SsoConnection {
    /// The view of this connection.
    pub fn view(&self) -> SsoConnectionView {
        let protocol = match &self.protocol {
            SsoProtocol::Oidc(oidc) => SsoProtocolView::Oidc {
                issuer: oidc.issuer.clone(),
                client_id: oidc.client_id.clone(),
                client_secret_set: true,
            },
        };
        SsoConnectionView {
            connection_id: self.id.clone(),
            name: self.name.clone(),
            protocol,
            allow_jit_provisioning: self.allow_jit_provisioning,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_or_loopback_without_query_or_fragment() {
        for good in [
            "https://idp.example.com",
            "https://idp.example.com/",
            "https://login.example.com/tenant/v2.0",
            "http://127.0.0.1:9000",
            "http://localhost:9000/oidc",
        ] {
            assert!(good.parse::<IssuerUrl>().is_ok(), "{good}");
        }
        for (bad, error) in [
            ("http://idp.example.com", IssuerUrlError::Scheme),
            ("ftp://idp.example.com", IssuerUrlError::Scheme),
            ("https://idp.example.com?x=1", IssuerUrlError::Malformed),
            ("https://idp.example.com#x", IssuerUrlError::Malformed),
            ("https://user@idp.example.com", IssuerUrlError::Malformed),
            ("https:// idp", IssuerUrlError::Malformed),
            ("", IssuerUrlError::Malformed),
        ] {
            assert_eq!(bad.parse::<IssuerUrl>(), Err(error), "{bad}");
        }
        let long = format!("https://{}", "a".repeat(2050));
        assert_eq!(long.parse::<IssuerUrl>(), Err(IssuerUrlError::TooLong));
    }

    #[test]
    fn the_discovery_url_follows_the_issuer() {
        let issuer: IssuerUrl = "https://idp.example.com/".parse().unwrap();
        assert_eq!(
            issuer.discovery_url(),
            "https://idp.example.com/.well-known/openid-configuration"
        );
        let issuer: IssuerUrl = "https://idp.example.com/tenant".parse().unwrap();
        assert_eq!(
            issuer.discovery_url(),
            "https://idp.example.com/tenant/.well-known/openid-configuration"
        );
    }

    #[test]
    fn client_ids_are_visible_ascii() {
        assert!("0oa1b2c3d4".parse::<OidcClientId>().is_ok());
        for bad in ["", "a b", "é", "a\n"] {
            assert_eq!(bad.parse::<OidcClientId>(), Err(InvalidClientId), "{bad:?}");
        }
        assert!("x".repeat(256).parse::<OidcClientId>().is_err());
    }

    #[test]
    fn settings_refuse_unknown_fields_and_name_their_protocol() {
        let settings: SsoProtocolSettings = serde_json::from_str(
            r#"{"type":"oidc","issuer":"https://idp.example.com","client_id":"c","client_secret":"s"}"#,
        )
        .unwrap();
        let SsoProtocolSettings::Oidc(oidc) = settings;
        assert_eq!(oidc.client_secret.expose(), "s");
        assert_eq!(format!("{oidc:?}").matches("\"s\"").count(), 0);
        let unknown = serde_json::from_str::<SsoProtocolSettings>(
            r#"{"type":"oidc","issuer":"https://idp.example.com","client_id":"c","client_secret":"s","x":1}"#,
        )
        .unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `x`"),
            "{unknown}"
        );
        assert!(
            serde_json::from_str::<SsoProtocolSettings>(
                r#"{"type":"kerberos","issuer":"https://idp.example.com"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn client_secrets_have_bounds() {
        assert!(acceptable_client_secret(&Secret::new("s3cr3t".into())));
        assert!(!acceptable_client_secret(&Secret::new(String::new())));
        assert!(!acceptable_client_secret(&Secret::new("a\nb".into())));
        assert!(!acceptable_client_secret(&Secret::new("x".repeat(1025))));
    }
}

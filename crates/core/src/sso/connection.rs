//! Identity-provider connections: what an account stores about each provider it trusts, what
//! the commands that create and change one carry, and what a view of one shows.
//!
//! A connection is protocol-neutral around one [`SsoProtocol`] value: OpenID Connect
//! ([`OidcConnection`]) or SAML 2.0 ([`SamlConnection`]), each a variant of [`SsoProtocol`],
//! [`SsoProtocolSettings`] and [`SsoProtocolView`].

use crate::ids::{DisplayName, SsoConnectionId};
use crate::notification::{self, WebhookUrlError};
use crate::secret::{HashingKey, KeyGeneration, SealedSecret, Secret};
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
    /// SAML 2.0 Web Browser SSO: SP-initiated, HTTP-Redirect out, HTTP-POST back.
    Saml(SamlConnection),
}

impl SsoProtocol {
    /// The protocol's name, as audit details and views spell it.
    pub const fn name(&self) -> &'static str {
        match self {
            SsoProtocol::Oidc(_) => "oidc",
            SsoProtocol::Saml(_) => "saml",
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

    /// Seals the client secret again under `key`'s current key when it opens only under the
    /// previous one (a hashing key rotation); whether it did.
    pub(crate) fn reseal(
        &mut self,
        key: &HashingKey,
        binding: &[u8],
        random: &mut dyn crate::RandomSource,
    ) -> bool {
        match self
            .client_secret
            .open_generation(key, CLIENT_SECRET_DOMAIN, binding)
        {
            Some((secret, KeyGeneration::Previous)) => {
                self.set_client_secret(&secret, key, binding, random);
                true
            }
            _ => false,
        }
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
    /// SAML 2.0: `{"type": "saml", "idp_entity_id": …, "idp_sso_url": …,
    /// "idp_certificates": ["-----BEGIN CERTIFICATE-----…"]}`.
    Saml(SamlConnection),
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

/// Why a SAML setting is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SamlSettingError {
    /// The entity ID is empty, too long or holds white space or control characters.
    #[error("an entity ID must be 1 to 1024 visible characters with no white space")]
    EntityId,
    /// The single sign-on URL is not https (or http to this machine) or is malformed.
    #[error(
        "the single sign-on URL must be an https URL (http only to 127.0.0.1, [::1] or localhost) with no fragment"
    )]
    SsoUrl,
    /// A certificate is not one X.509 certificate in PEM (or bare base64 DER).
    #[error(
        "a certificate must be one X.509 certificate in PEM (-----BEGIN CERTIFICATE-----), at most 8 KiB"
    )]
    Certificate,
    /// No certificate, or more than [`MAX_SAML_CERTIFICATES`].
    #[error(
        "give 1 to 3 signing certificates (more than one only while the provider rolls its key over)"
    )]
    CertificateCount,
}

/// Most signing certificates pinned per SAML connection (two during a rollover, one spare).
pub const MAX_SAML_CERTIFICATES: usize = 3;
/// Largest DER certificate accepted, in bytes.
const MAX_CERTIFICATE_DER: usize = 8 * 1024;

/// A SAML entity ID (a URI, compared exactly): 1 to 1,024 visible characters.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SamlEntityId(String);

impl SamlEntityId {
    /// The longest entity ID accepted (SAML's own limit).
    pub const MAX_LEN: usize = 1024;

    /// The entity ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SamlEntityId {
    type Err = SamlSettingError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let visible = value.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if value.is_empty() || value.chars().count() > Self::MAX_LEN || !visible {
            return Err(SamlSettingError::EntityId);
        }
        Ok(Self(value.to_owned()))
    }
}

/// The identity provider's single sign-on URL: https (or http to this machine), no fragment; a
/// query is kept (the request's parameters are appended to it).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SamlSsoUrl(String);

impl SamlSsoUrl {
    /// The longest URL accepted.
    pub const MAX_LEN: usize = 2048;

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SamlSsoUrl {
    type Err = SamlSettingError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        notification::check_https_or_loopback(value, Self::MAX_LEN)
            .map_err(|_| SamlSettingError::SsoUrl)?;
        if value.contains('#') {
            return Err(SamlSettingError::SsoUrl);
        }
        Ok(Self(value.to_owned()))
    }
}

/// A pinned signing certificate of a SAML identity provider: one X.509 certificate, kept as
/// normalised PEM (64-character lines). Parsed when a command carries it, so a pasted key, a
/// chain or garbage is refused then, not at the first sign-in.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SigningCertificate(String);

impl SigningCertificate {
    /// The certificate as PEM.
    pub fn as_pem(&self) -> &str {
        &self.0
    }

    /// The DER bytes.
    pub fn der(&self) -> Vec<u8> {
        certificate_der(&self.0).unwrap_or_default()
    }

    /// The SHA-256 fingerprint of the DER, as upper-case hex pairs joined by `:` (how identity
    /// providers show it).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest as _, Sha256};
        Sha256::digest(self.der())
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// The DER of one PEM `CERTIFICATE` block (or of bare base64), if it is one DER SEQUENCE whose
/// length is exactly the input's.
fn certificate_der(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = text.trim();
    let body = match text.strip_prefix("-----BEGIN CERTIFICATE-----") {
        Some(rest) => rest.trim_end().strip_suffix("-----END CERTIFICATE-----")?,
        None => text,
    };
    if body.contains("-----") {
        return None;
    }
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    if der.len() > MAX_CERTIFICATE_DER || der_sequence_length(&der) != Some(der.len()) {
        return None;
    }
    Some(der)
}

/// The total length of the DER SEQUENCE at the start of `der` (tag, length, content).
fn der_sequence_length(der: &[u8]) -> Option<usize> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if tag != 0x30 {
        return None;
    }
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 2 {
        return None;
    }
    let length = rest
        .get(..count)?
        .iter()
        .fold(0usize, |length, byte| length << 8 | usize::from(*byte));
    Some(2 + count + length)
}

impl FromStr for SigningCertificate {
    type Err = SamlSettingError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        use base64::Engine as _;
        let der = certificate_der(value).ok_or(SamlSettingError::Certificate)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        Ok(Self(pem))
    }
}

macro_rules! parsed_text {
    ($($name:ty),*) => {$(
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

parsed_text!(SamlEntityId, SamlSsoUrl, SigningCertificate);

/// A SAML 2.0 identity provider, as stored and as `create_sso_connection` carries it: what the
/// administrator copies from the provider's metadata. Trust is the pinned certificates: a
/// response must be signed by one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlConnection {
    /// The identity provider's entity ID: the Issuer its responses carry.
    pub idp_entity_id: SamlEntityId,
    /// Where the browser is sent with the AuthnRequest (HTTP-Redirect binding).
    pub idp_sso_url: SamlSsoUrl,
    /// 1 to [`MAX_SAML_CERTIFICATES`] signing certificates.
    pub idp_certificates: Vec<SigningCertificate>,
}

impl SamlConnection {
    /// Whether the certificate count is within bounds.
    pub(crate) fn check(&self) -> Result<(), SamlSettingError> {
        if self.idp_certificates.is_empty() || self.idp_certificates.len() > MAX_SAML_CERTIFICATES {
            return Err(SamlSettingError::CertificateCount);
        }
        Ok(())
    }
}

/// Changes to a SAML connection; omitted fields stay as they are. `idp_certificates` replaces
/// the whole list (a rollover: add the new one, later remove the old one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlChange {
    /// A new entity ID.
    #[serde(default)]
    pub idp_entity_id: Option<SamlEntityId>,
    /// A new single sign-on URL.
    #[serde(default)]
    pub idp_sso_url: Option<SamlSsoUrl>,
    /// The new list of signing certificates.
    #[serde(default)]
    pub idp_certificates: Option<Vec<SigningCertificate>>,
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
    /// SAML 2.0 (nothing in it is secret).
    Saml {
        /// The identity provider's entity ID.
        idp_entity_id: SamlEntityId,
        /// The identity provider's single sign-on URL (HTTP-Redirect binding).
        idp_sso_url: SamlSsoUrl,
        /// The pinned signing certificates, as PEM.
        idp_certificates: Vec<SigningCertificate>,
        /// Their SHA-256 fingerprints (hex, colon-separated), in the same order.
        idp_certificate_fingerprints: Vec<String>,
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
            SsoProtocol::Saml(saml) => SsoProtocolView::Saml {
                idp_entity_id: saml.idp_entity_id.clone(),
                idp_sso_url: saml.idp_sso_url.clone(),
                idp_certificates: saml.idp_certificates.clone(),
                idp_certificate_fingerprints: saml
                    .idp_certificates
                    .iter()
                    .map(SigningCertificate::fingerprint)
                    .collect(),
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
        let SsoProtocolSettings::Oidc(oidc) = settings else {
            panic!("not oidc");
        };
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

    const CERTIFICATE: &str = include_str!("test-idp-cert.pem");

    #[test]
    fn saml_certificates_are_one_x509_certificate_normalised_to_pem() {
        let parsed: SigningCertificate = CERTIFICATE.parse().unwrap();
        assert_eq!(
            parsed.fingerprint(),
            "CE:07:78:9D:E7:8D:3E:C0:8F:02:E5:41:E8:F6:BB:2F:37:66:31:8C:A4:E3:74:29:14:BE:98:91:01:B6:E5:E2"
        );
        // Bare base64, CRLF line ends and odd wrapping read as the same certificate.
        let body: String = CERTIFICATE
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let bare: SigningCertificate = body.parse().unwrap();
        assert_eq!(bare, parsed);
        let crlf: SigningCertificate = CERTIFICATE.replace('\n', "\r\n").parse().unwrap();
        assert_eq!(crlf, parsed);
        assert!(parsed.as_pem().lines().all(|line| line.len() <= 64));
        let two = format!("{CERTIFICATE}{CERTIFICATE}");
        let truncated = &body[..body.len() - 8];
        for bad in [
            "",
            "not a certificate",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----",
            "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
            two.as_str(),
            truncated,
        ] {
            assert_eq!(
                bad.parse::<SigningCertificate>(),
                Err(SamlSettingError::Certificate),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn saml_settings_refuse_bad_entity_ids_urls_and_unknown_fields() {
        assert!(
            "https://idp.example.com/metadata"
                .parse::<SamlEntityId>()
                .is_ok()
        );
        assert!("urn:example:idp".parse::<SamlEntityId>().is_ok());
        for bad in ["", "a b", "a\nb", &"x".repeat(1025)] {
            assert_eq!(bad.parse::<SamlEntityId>(), Err(SamlSettingError::EntityId));
        }
        assert!(
            "https://idp.example.com/sso?tenant=1"
                .parse::<SamlSsoUrl>()
                .is_ok()
        );
        assert!("http://127.0.0.1:9000/sso".parse::<SamlSsoUrl>().is_ok());
        for bad in [
            "http://idp.example.com/sso",
            "https://idp.example.com/sso#x",
            "sso",
        ] {
            assert_eq!(
                bad.parse::<SamlSsoUrl>(),
                Err(SamlSettingError::SsoUrl),
                "{bad}"
            );
        }
        let json = serde_json::json!({
            "type": "saml",
            "idp_entity_id": "https://idp.example.com/metadata",
            "idp_sso_url": "https://idp.example.com/sso",
            "idp_certificates": [CERTIFICATE],
        });
        let SsoProtocolSettings::Saml(saml) = serde_json::from_value(json.clone()).unwrap() else {
            panic!("not saml");
        };
        assert!(saml.check().is_ok());
        let mut unknown = json.clone();
        unknown["sign_requests"] = true.into();
        assert!(serde_json::from_value::<SsoProtocolSettings>(unknown).is_err());
        let none = SamlConnection {
            idp_certificates: Vec::new(),
            ..saml.clone()
        };
        assert_eq!(none.check(), Err(SamlSettingError::CertificateCount));
        let four = SamlConnection {
            idp_certificates: vec![saml.idp_certificates[0].clone(); 4],
            ..saml
        };
        assert_eq!(four.check(), Err(SamlSettingError::CertificateCount));
    }
}

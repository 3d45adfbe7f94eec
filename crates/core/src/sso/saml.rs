//! SAML 2.0 Web Browser SSO for an account's SSO connection: the service-provider side of
//! SP-initiated login with the HTTP-Redirect binding out and the HTTP-POST binding back.
//!
//! No I/O, no clock, no randomness of its own: the caller passes the [`RandomSource`], the
//! current [`Timestamp`] and the [`SamlReplayStore`], as the rest of the core does.
//!
//! * [`authn_request_redirect`] builds the `AuthnRequest` and the IdP URL that carries it
//!   (deflate + base64 + URL-encoding, unsigned: the IdP learns nothing secret from it).
//! * [`verify_response`] checks the posted `SAMLResponse` against the pending request and the
//!   connection's pinned certificate(s), through `saml-rs` (pure Rust; XML-DSig by `bergshamra`
//!   with the RustCrypto provider):
//!   - an enveloped XML signature on the Response or on the Assertion (either is enough, both
//!     are checked when present), with the strict RSA-SHA2 profile: exactly one same-document
//!     `#ID` reference, exclusive canonicalization, RSA-SHA256/384/512, SHA-2 digest;
//!   - the reference must resolve to the Response root or to the Assertion that is consumed:
//!     the claims are read from the verified content only; duplicate IDs and wrapped
//!     (relocated/extra) Assertions are refused (XML signature wrapping);
//!   - a certificate embedded in `KeyInfo` must be one of the pinned ones (it is never trusted
//!     by itself);
//!   - Issuer = the connection's IdP entity ID; Destination and the bearer
//!     SubjectConfirmationData Recipient = this SP's ACS URL; `InResponseTo` (Response and
//!     SubjectConfirmationData) = the pending request's ID; Audience = this SP's entity ID
//!     (an AudienceRestriction is required); NotBefore / NotOnOrAfter with the skew given;
//!     RelayState = the one sent;
//!   - replay: the Response ID and every Assertion ID go to the caller's [`SamlReplayStore`]
//!     with an expiry at their NotOnOrAfter (+ skew); a second use is refused.
//!
//! The caller still owns: which connection an ACS request belongs to, expiring pending
//! requests (one use each), mapping the NameID/email to a Portcullis user, and the session.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::random::{RandomSource, bytes};
use crate::sso::SamlConnection;
use crate::time::Timestamp;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use saml_rs::{
    AcsEndpoint, AudienceValidationPolicy, AuthnRequest, BrowserInput, ClockSkew, EntityId,
    FormField, IdpDescriptor, MessageId, MetadataTrustPolicy, NameIdFormat, Pending,
    RelayStateParam, ReplayCache, ReplayKey, ReplayPolicy, Saml, SamlError, SamlValidationContext,
    SpConfig, SpValidationPolicy, SsoResponse, SsoResponseBinding, XmlSignatureProfile,
};

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// One connection as the protocol layer sees it: the identity provider's settings and this
/// service provider's endpoints for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trust<'a> {
    /// The identity provider, as configured.
    pub(crate) idp: &'a SamlConnection,
    /// This service provider's entity ID for the connection: the Issuer of our requests and
    /// the Audience.
    pub(crate) sp_entity_id: &'a str,
    /// This service provider's Assertion Consumer Service URL (HTTP-POST): Destination and
    /// Recipient.
    pub(crate) acs_url: &'a str,
}

/// What the SP keeps between sending the AuthnRequest and receiving the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The AuthnRequest's ID: the response's `InResponseTo`.
    pub request_id: String,
    /// The RelayState sent (it must come back unchanged), if any.
    pub relay_state: Option<String>,
}

/// A response that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlLogin {
    /// The Subject's NameID value.
    pub name_id: String,
    /// The NameID Format URI, if the IdP gave one.
    pub name_id_format: Option<String>,
    /// The user's email: the NameID when its format is emailAddress, else an `email` /
    /// `mail` attribute (or the common claim URIs for it), else none.
    pub email: Option<String>,
    /// The Issuer (= the connection's IdP entity ID).
    pub issuer: String,
    /// The consumed Assertion's ID.
    pub assertion_id: String,
    /// The AuthnStatement's SessionIndex, if any (for single logout).
    pub session_index: Option<String>,
}

/// Where the IDs of accepted responses and assertions are remembered until they expire (the
/// tenant's Durable Object in the worker). Keys are namespaced (`response_id:…`,
/// `assertion_id:…`); the store should be per connection or prefix them with its ID.
pub trait SamlReplayStore {
    /// Records `key` until `expires` and returns true if it was not already recorded (and
    /// unexpired); returns false, recording nothing, if it was.
    fn first_use(&mut self, key: &str, expires: Timestamp) -> bool;
}

struct ReplayAdapter<'a>(&'a mut dyn SamlReplayStore);

impl ReplayCache for ReplayAdapter<'_> {
    fn check_and_store(&mut self, key: ReplayKey, expires_at: SystemTime) -> Result<(), SamlError> {
        let secs = expires_at.duration_since(UNIX_EPOCH).map_or(0, |d| {
            d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
        });
        let key = key.cache_key();
        if self.0.first_use(&key, Timestamp::from_unix_seconds(secs)) {
            Ok(())
        } else {
            Err(SamlError::ReplayDetected { key })
        }
    }
}

fn system_time(t: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.unix_seconds())
}

/// Why a login could not start or a response was refused. `detail` is for logs, never for
/// the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlRefusal {
    /// What kind of failure.
    pub kind: RefusalKind,
    /// What failed, for logs.
    pub detail: String,
}

/// The kinds of [`SamlRefusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The connection itself is unusable (bad entity ID, URL or certificate).
    Configuration,
    /// The response's signature is missing, invalid, not over the consumed content, or by a
    /// certificate that is not pinned.
    Signature,
    /// The response is well signed but not for this request / SP / time.
    Conditions,
    /// Seen before.
    Replay,
    /// Malformed input (base64, XML, sizes, binding).
    Malformed,
}

fn refusal(kind: RefusalKind, error: &SamlError) -> SamlRefusal {
    SamlRefusal {
        kind,
        detail: error.to_string(),
    }
}

fn classify(error: &SamlError) -> RefusalKind {
    use SamlError as E;
    match error {
        E::ReplayDetected { .. } => RefusalKind::Replay,
        E::SignatureMissing
        | E::SignatureVerification { .. }
        | E::ReferenceResolution { .. }
        | E::SignedReferenceMismatch
        | E::AssertionSignatureRequired
        | E::AlgorithmUnsupported
        | E::NoTrustedCertificate
        | E::CertificateMismatch
        | E::UnmatchCertificate
        | E::PotentialWrappingAttack
        | E::FailedToVerifySignature
        | E::FailedMessageSignatureVerification
        | E::Crypto(_) => RefusalKind::Signature,
        E::Deflate(_)
        | E::Base64(_)
        | E::Xml(_)
        | E::UnsupportedBinding { .. }
        | E::MissingBindingParameter { .. }
        | E::UndefinedBinding => RefusalKind::Malformed,
        _ => RefusalKind::Conditions,
    }
}

/// The validation policy: saml-rs's `recommended()` plus the strict RSA-SHA2 XML-DSig profile
/// and a required AudienceRestriction. Either the Response or the Assertion may carry the
/// signature (IdPs differ); whichever does must cover what is read.
fn sp_policy() -> SpValidationPolicy {
    SpValidationPolicy {
        xml_signatures: XmlSignatureProfile::StrictRsaSha2,
        audience: AudienceValidationPolicy::Validate,
        ..SpValidationPolicy::recommended()
    }
}

fn config_error(error: SamlError) -> SamlRefusal {
    refusal(RefusalKind::Configuration, &error)
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The base64 DER of a PEM (or bare base64) certificate. Only base64 characters survive, so a
/// configured value cannot inject XML into the synthesized metadata.
fn bare_certificate(cert: &str) -> String {
    cert.lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect()
}

/// IdP metadata synthesized from the connection (trust comes from the administrator's pinned
/// certificate, not from a signature on this document).
fn idp_metadata(conn: &Trust<'_>) -> String {
    let mut keys = String::new();
    for cert in &conn.idp.idp_certificates {
        let _ = write!(
            keys,
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            bare_certificate(cert.as_pem())
        );
    }
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\
         <md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" \
         protocolSupportEnumeration=\"{NS_PROTOCOL}\">{keys}\
         <md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat>\
         <md:SingleSignOnService Binding=\"{BINDING_REDIRECT}\" Location=\"{sso}\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>",
        entity = xml_escape(conn.idp.idp_entity_id.as_str()),
        sso = xml_escape(conn.idp.idp_sso_url.as_str()),
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn saml_instant(t: Timestamp) -> String {
    let secs = t.unix_seconds();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant), for days since 1970-01-01.
    // Timestamp::MAX keeps `days` far below i64::MAX.
    let z = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Start a login: the AuthnRequest, and the IdP URL (HTTP-Redirect binding) to send the browser
/// to. The request ID is 128 random bits from `random`.
pub(crate) fn authn_request_redirect(
    conn: &Trust<'_>,
    random: &mut dyn RandomSource,
    now: Timestamp,
    relay_state: Option<&str>,
) -> Result<(String, PendingLogin), SamlRefusal> {
    let cfg = |detail: &str| SamlRefusal {
        kind: RefusalKind::Configuration,
        detail: detail.into(),
    };
    if relay_state.is_some_and(|r| r.len() > 80) {
        return Err(cfg("RelayState is limited to 80 bytes"));
    }
    let mut request_id = String::from("_");
    for b in bytes::<16>(random) {
        let _ = write!(request_id, "{b:02x}");
    }
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" \
         ID=\"{request_id}\" Version=\"2.0\" IssueInstant=\"{instant}\" \
         Destination=\"{dest}\" ProtocolBinding=\"{BINDING_POST}\" \
         AssertionConsumerServiceURL=\"{acs}\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <samlp:NameIDPolicy Format=\"{NAMEID_EMAIL}\" AllowCreate=\"false\"/>\
         </samlp:AuthnRequest>",
        instant = saml_instant(now),
        dest = xml_escape(conn.idp.idp_sso_url.as_str()),
        acs = xml_escape(conn.acs_url),
        issuer = xml_escape(conn.sp_entity_id),
    );
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| cfg(&format!("deflate: {e}")))?;
    let deflated = deflater
        .finish()
        .map_err(|e| cfg(&format!("deflate: {e}")))?;
    let mut url = conn.idp.idp_sso_url.as_str().to_owned();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str("SAMLRequest=");
    url.push_str(&percent_encode(&B64.encode(deflated)));
    if let Some(relay) = relay_state {
        url.push_str("&RelayState=");
        url.push_str(&percent_encode(relay));
    }
    Ok((
        url,
        PendingLogin {
            request_id,
            relay_state: relay_state.map(str::to_owned),
        },
    ))
}

/// Check a posted `SAMLResponse` (the form field, base64) and `RelayState` for `pending` on
/// `conn` at `now`, allowing `skew_seconds` either way on time conditions, recording its IDs in
/// `replay`.
pub(crate) fn verify_response(
    conn: &Trust<'_>,
    pending: &PendingLogin,
    saml_response: &str,
    relay_state: Option<&str>,
    now: Timestamp,
    skew_seconds: u32,
    replay: &mut dyn SamlReplayStore,
) -> Result<SamlLogin, SamlRefusal> {
    if conn.idp.idp_certificates.is_empty() {
        return Err(SamlRefusal {
            kind: RefusalKind::Configuration,
            detail: "no pinned IdP certificate".into(),
        });
    }
    let sp_entity = EntityId::try_new(conn.sp_entity_id).map_err(config_error)?;
    let idp_entity = EntityId::try_new(conn.idp.idp_entity_id.as_str()).map_err(config_error)?;
    let sp = Saml::sp(
        SpConfig::builder(sp_entity)
            .acs_endpoint(AcsEndpoint::post(conn.acs_url).map_err(config_error)?)
            .name_id_format(NameIdFormat::EmailAddress)
            .validation(sp_policy())
            .build()
            .map_err(config_error)?,
    )
    .map_err(config_error)?;
    let idp = IdpDescriptor::from_metadata_xml_for(
        idp_entity.clone(),
        &idp_metadata(conn),
        MetadataTrustPolicy::UnsignedForCompatibility,
    )
    .map_err(config_error)?;

    let bad = |e: SamlError| refusal(classify(&e), &e);
    let pending = Pending::<AuthnRequest>::try_new(
        MessageId::try_new(pending.request_id.as_str()).map_err(config_error)?,
        RelayStateParam::try_from_option(pending.relay_state.clone()).map_err(config_error)?,
        AcsEndpoint::post(conn.acs_url).map_err(config_error)?,
        SsoResponseBinding::Post,
        idp_entity,
    )
    .map_err(config_error)?;

    let mut fields = vec![FormField::new("SAMLResponse", saml_response)];
    if let Some(relay) = relay_state {
        fields.push(FormField::new("RelayState", relay));
    }
    let skew_ms = i64::from(skew_seconds) * 1000;
    let mut adapter = ReplayAdapter(replay);
    let validation =
        SamlValidationContext::new(system_time(now), ReplayPolicy::RequireCache(&mut adapter))
            // saml-rs keeps samlify's sign convention: the NotBefore allowance is negative.
            .with_clock_skew(ClockSkew::from_millis(-skew_ms, skew_ms));
    let session = sp
        .finish_sso(
            &idp,
            &pending,
            BrowserInput::<SsoResponse>::post(fields),
            validation,
        )
        .map_err(bad)?;

    let name_id = session.name_id();
    let format = name_id.format().map(|f| f.as_uri().to_owned());
    let email = if format.as_deref() == Some(NAMEID_EMAIL) {
        Some(name_id.value().to_owned())
    } else {
        [
            "email",
            "mail",
            "urn:oid:0.9.2342.19200300.100.1.3",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        ]
        .iter()
        .find_map(|n| session.attributes().get(n))
        .and_then(|a| a.values().first())
        .map(|v| v.as_str().to_owned())
    };
    Ok(SamlLogin {
        name_id: name_id.value().to_owned(),
        name_id_format: format,
        email,
        issuer: session.issuer().as_str().to_owned(),
        assertion_id: session.assertion_id().as_str().to_owned(),
        session_index: session
            .authn_session()
            .session_index()
            .map(|s| s.as_str().to_owned()),
    })
}

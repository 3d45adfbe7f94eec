//! Single sign-on: the identity providers an account trusts, and signing people in through
//! them. Pure, like the rest of the engine: the worker fetches what the provider serves and
//! hands it in.
//!
//! # Connections
//! An account holds up to [`MAX_SSO_CONNECTIONS_PER_ACCOUNT`] connections ([`SsoConnection`]),
//! created, changed and deleted by company admins with the commands
//! [`CreateSsoConnection`](crate::Command::CreateSsoConnection),
//! [`UpdateSsoConnection`](crate::Command::UpdateSsoConnection) and
//! [`DeleteSsoConnection`](crate::Command::DeleteSsoConnection), and read with
//! [`Account::view_sso_connections`](crate::Account::view_sso_connections) and
//! [`Account::view_sso_connection`](crate::Account::view_sso_connection). Each change appends an
//! account-level audit event (`sso.connection_created`, `sso.connection_updated`,
//! `sso.connection_deleted`) naming what changed, never a secret. A connection speaks one
//! protocol ([`SsoProtocol`]): OpenID Connect, or SAML 2.0 (the choices are in `saml_flow`, the
//! protocol checks in `saml`, behind the core feature `saml`).
//!
//! A tenant that enforces SSO names the connection its members sign in with
//! ([`crate::tenant::Sso::connection`]); enforcing needs one that exists, and a connection a
//! tenant names cannot be deleted (`sso_connection_in_use`). Which sessions may act in an
//! enforcing tenant is decided elsewhere, from that data.
//!
//! The client secret is needed again at every token request, so it cannot be hashed: it is
//! sealed ([`crate::secret::SealedSecret`], XChaCha20-Poly1305 under a key derived from the
//! hashing key for this purpose, bound to the account and the connection) and views show only
//! `client_secret_set: true`.
//!
//! # Who signs in
//! The email is the identity, as everywhere in Portcullis. The provider's verified email
//! names the account user; only an active user signs in. An unknown email, a pending user
//! (who joins by accepting their invitation, which SSO does not replace) and an inactive user
//! are one answer, `sso_user_unknown`, with the same message, so a sign-in tells nobody which
//! emails exist or what state their users are in. When the connection allows just-in-time
//! provisioning, an unknown verified email becomes a new user instead: active, named by the
//! `name` claim (else the email's local part), with no company role and no tenant permission,
//! within the account's user limit (`user_limit`), and recorded as `user.provisioned` (detail:
//! the connection). Like WorkOS and Auth0, provisioning is off unless turned on, and nothing
//! the provider asserts besides the email (groups, roles) grants anything. A sign-in appends
//! `session.signed_in` with `method=sso connection=<id>`.
//!
//! # The OpenID Connect flow, step by step (what the worker does)
//! Authorization code with PKCE (S256), `state` and `nonce`; details in [`oidc`] and
//! [`jwks`].
//! 1. **Start** (a browser asks to sign in with connection `C`, optionally with an email as
//!    `login_hint`): GET the provider metadata at
//!    [`Account::oidc_discovery_url`](crate::Account::oidc_discovery_url) (cache it, e.g. for an
//!    hour), parse it with [`OidcProviderMetadata::from_json`], then
//!    [`Account::begin_oidc_sign_in`](crate::Account::begin_oidc_sign_in) and persist the
//!    account. Set a short-lived cookie with [`OidcStart::state`] and redirect (302) to
//!    [`OidcStart::authorization_url`].
//! 2. **Callback** (the provider redirects the browser to the redirect URI with `code` and
//!    `state`, or `error`): check the state equals the cookie; find the account with
//!    [`account_of_state`]; [`Account::oidc_token_request`](crate::Account::oidc_token_request)
//!    gives the token request, which the worker POSTs to its `token_endpoint`
//!    (`Content-Type: application/x-www-form-urlencoded`, `Accept: application/json`, the
//!    [`OidcTokenRequest::authorization`] header if any, the [`OidcTokenRequest::body`]).
//! 3. Read the `id_token` with [`id_token_from_token_response`]; GET the key set at
//!    [`OidcTokenRequest::jwks_uri`] (cache it), parse it with [`Jwks::from_json`], then
//!    [`Account::complete_oidc_sign_in`](crate::Account::complete_oidc_sign_in) and persist the
//!    account. On `sso_token_invalid` with [`TokenProblem::UnknownKey`], fetch the key set again
//!    (the provider rotated its keys) and complete once more. The result is an
//!    [`IssuedSession`](crate::session::IssuedSession), as for a password sign-in.
//!
//! # The SAML flow (what the worker does; feature `saml`)
//! 1. **Start**: `Account::begin_saml_sign_in` with the worker's origin gives the identity
//!    provider's URL carrying the AuthnRequest and the state (`RelayState`); persist the account,
//!    set the SAML state cookie ([`crate::browser::SsoReturn::FormPost`]) and redirect.
//! 2. **ACS**: the browser posts `SAMLResponse` and `RelayState`; check the `RelayState` equals
//!    the cookie, find the account with [`account_of_state`], then
//!    `Account::complete_saml_sign_in` and persist the account.

mod connection;
pub mod jwks;
pub mod oidc;
#[cfg(feature = "saml")]
pub(crate) mod saml;
pub(crate) mod saml_flow;

pub use crate::ids::SsoConnectionId;
pub use connection::{
    InvalidClientId, IssuerUrl, IssuerUrlError, MAX_CLIENT_SECRET_CHARS, MAX_SAML_CERTIFICATES,
    MAX_SSO_CONNECTIONS_PER_ACCOUNT, OidcChange, OidcClientId, OidcConnection, OidcSettings,
    SamlChange, SamlConnection, SamlEntityId, SamlSettingError, SamlSsoUrl, SigningCertificate,
    SsoConnection, SsoConnectionView, SsoProtocol, SsoProtocolSettings, SsoProtocolView,
};
pub use jwks::{Jwks, JwksError};
pub use oidc::{
    MetadataError, OidcProviderMetadata, OidcStart, OidcTokenRequest, TokenEndpointAuth,
    TokenProblem, account_of_state, id_token_from_token_response, pkce_challenge,
};
pub use saml_flow::{
    MAX_SAML_RESPONSE_BYTES, MAX_SEEN_SAML_IDS, SamlStart, ServiceProvider, acs_path,
    service_provider,
};

pub(crate) use connection::{acceptable_client_secret, secret_binding};

use oidc::PendingSignIn;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// An account's SSO state: its connections and the sign-ins under way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SsoState {
    /// Connections by id.
    #[serde(default)]
    pub(crate) connections: imbl::OrdMap<SsoConnectionId, SsoConnection>,
    /// Sign-ins started and not completed, oldest first (at most
    /// [`oidc::MAX_PENDING_SIGN_INS`]).
    #[serde(default)]
    pub(crate) pending: VecDeque<PendingSignIn>,
    /// SAML sign-ins started and not completed, oldest first (at most
    /// [`oidc::MAX_PENDING_SIGN_INS`]).
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub(crate) saml_pending: VecDeque<saml_flow::PendingSaml>,
    /// Digests of the SAML response and assertion IDs accepted, until they expire (at most
    /// [`saml_flow::MAX_SEEN_SAML_IDS`]).
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub(crate) saml_seen: VecDeque<saml_flow::SeenId>,
}

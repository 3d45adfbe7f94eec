//! SSO on the account: the connection commands and views, and the OpenID Connect sign-in
//! (start, token request, completion). The rules and the flow are described in
//! [`crate::sso`]; this file applies them to the account's state.
//!
//! - Connection commands are for company admins and run like every command (on a draft, one
//!   audit event, a refusal changes nothing). A change of issuer, client id or client secret
//!   drops the connection's pending sign-ins, which were started against the old settings;
//!   deleting a connection drops them too, and is refused while a tenant names it.
//! - Starting a sign-in keeps a pending sign-in and appends no audit event (like a failed
//!   password sign-in, a start proves nothing about anyone). Completing one opens the session
//!   through [`Account::open_session_for`], the one place sessions are opened, and then
//!   removes the pending sign-in; a refused completion changes nothing.

use super::{Account, Actor, Context, Event, Outcome, Refusal};
use crate::ids::{DisplayName, Email, SsoConnectionId, UserId};
use crate::secret::HashingKey;
use crate::session::{IssuedSession, SignInMethod};
use crate::sso::oidc::{
    self, Expected, MAX_PENDING_SIGN_INS, PENDING_SIGN_IN_SECONDS, PendingSignIn, VerifiedIdentity,
};
#[cfg(feature = "saml")]
use crate::sso::saml;
#[cfg(feature = "saml")]
use crate::sso::saml_flow::{
    MAX_SAML_RESPONSE_BYTES, MAX_SEEN_SAML_IDS, PendingSaml, SAML_SKEW_SECONDS, SeenId,
};
use crate::sso::{
    Jwks, MAX_SSO_CONNECTIONS_PER_ACCOUNT, OidcChange, OidcConnection, OidcProviderMetadata,
    OidcStart, OidcTokenRequest, SamlChange, SigningCertificate, SsoConnection, SsoConnectionView,
    SsoProtocol, SsoProtocolSettings, acceptable_client_secret, pkce_challenge, secret_binding,
};
#[cfg(feature = "saml")]
use crate::sso::{SamlConnection, SamlStart};
use crate::time::Timestamp;
use crate::user::UserStatus;

/// Longest `state` looked up, in bytes (a state is 64).
const MAX_STATE_LEN: usize = 128;
/// Longest authorization code accepted, in bytes.
const MAX_CODE_LEN: usize = 4096;
const CLIENT_SECRET_RULE: &str =
    "the client secret must be 1 to 1024 characters with no control characters";

/// The public settings of a connection, for audit details.
fn describe(connection: &SsoConnection) -> String {
    let settings = match &connection.protocol {
        SsoProtocol::Oidc(oidc) => format!("issuer={} client_id={}", oidc.issuer, oidc.client_id),
        SsoProtocol::Saml(saml) => format!(
            "idp_entity_id={} idp_sso_url={} {}",
            saml.idp_entity_id,
            saml.idp_sso_url,
            certificates(&saml.idp_certificates)
        ),
    };
    format!(
        "protocol={} {settings} allow_jit_provisioning={}",
        connection.protocol.name(),
        connection.allow_jit_provisioning
    )
}

/// A connection's certificates for audit details: their SHA-256 fingerprints.
fn certificates(certificates: &[SigningCertificate]) -> String {
    let fingerprints: Vec<String> = certificates
        .iter()
        .map(SigningCertificate::fingerprint)
        .collect();
    format!("idp_certificates={}", fingerprints.join(","))
}

/// Adds a pending sign-in to `queue`, after dropping the expired ones and, beyond
/// [`MAX_PENDING_SIGN_INS`], the oldest.
fn keep_pending<T, K: Ord>(
    queue: &mut std::collections::VecDeque<T>,
    pending: T,
    now: Timestamp,
    is_live: impl Fn(&T, Timestamp) -> bool,
    order: impl Fn(&T) -> K,
) {
    queue.retain(|kept| is_live(kept, now));
    while queue.len() >= MAX_PENDING_SIGN_INS {
        queue.pop_front();
    }
    // In order of time, sign-ins of the same second by state hash: the order they are loaded
    // in from storage, where each is a row of its own.
    let position = queue.partition_point(|kept| order(kept) <= order(&pending));
    queue.insert(position, pending);
}

/// What `update_sso_connection` changes in the provider settings: at most the one protocol the
/// connection speaks.
#[derive(Debug, Default)]
pub(super) struct ProtocolChange {
    /// OpenID Connect settings.
    pub(super) oidc: Option<OidcChange>,
    /// SAML settings.
    pub(super) saml: Option<SamlChange>,
}

const OIDC_ONLY: &str = "`oidc` changes apply to OpenID Connect connections only";
const SAML_ONLY: &str = "`saml` changes apply to SAML connections only";
const CERTIFICATE_COUNT: &str =
    "give 1 to 3 signing certificates (more than one only while the provider rolls its key over)";

impl Account {
    /// The connection `id`, with its OpenID Connect settings.
    fn oidc_connection(
        &self,
        id: &SsoConnectionId,
    ) -> Result<(&SsoConnection, &OidcConnection), Refusal> {
        let connection = self.sso_connection(id)?;
        match &connection.protocol {
            SsoProtocol::Oidc(oidc) => Ok((connection, oidc)),
            SsoProtocol::Saml(_) => Err(Refusal::OutOfRange(
                "this connection signs in with SAML, not OpenID Connect",
            )),
        }
    }

    /// Seals every OpenID Connect client secret sealed under the previous hashing key again
    /// under the current one (see [`HashingKey::with_previous`]); whether any was. Not a
    /// command: nothing anyone sees changes, and the secrets themselves stay the same.
    pub fn reseal_secrets(
        &mut self,
        key: &HashingKey,
        random: &mut dyn crate::RandomSource,
    ) -> bool {
        if !key.has_previous() {
            return false;
        }
        let account = self.id.clone();
        let mut changed = false;
        let ids: Vec<SsoConnectionId> = self.sso.connections.keys().cloned().collect();
        for id in ids {
            if let Some(connection) = self.sso.connections.get_mut(&id)
                && let SsoProtocol::Oidc(oidc) = &mut connection.protocol
            {
                changed |= oidc.reseal(key, &secret_binding(&account, &id), random);
            }
        }
        changed
    }

    /// The connection `id`: `sso_connection_not_found` when there is none.
    fn sso_connection(&self, id: &SsoConnectionId) -> Result<&SsoConnection, Refusal> {
        self.sso
            .connections
            .get(id)
            .ok_or_else(|| Refusal::UnknownSsoConnection(id.clone()))
    }

    /// The protocol of the connection `id` (`oidc` or `saml`): how the worker starts a
    /// sign-in with it.
    pub fn sso_connection_protocol(&self, id: &SsoConnectionId) -> Result<&'static str, Refusal> {
        self.sso_connection(id)
            .map(|connection| connection.protocol.name())
    }

    /// `create_sso_connection`: a company admin connects an identity provider.
    pub(super) fn create_sso_connection(
        &mut self,
        actor: &Actor,
        name: DisplayName,
        protocol: SsoProtocolSettings,
        allow_jit_provisioning: bool,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        self.require_company_admin(actor, now)?;
        if self.sso.connections.len() >= MAX_SSO_CONNECTIONS_PER_ACCOUNT {
            return Err(Refusal::Quota(
                "an account may hold at most 10 SSO connections",
            ));
        }
        let id = SsoConnectionId::generate(context.random);
        let binding = secret_binding(&self.id, &id);
        let protocol = match protocol {
            SsoProtocolSettings::Oidc(settings) => {
                if !acceptable_client_secret(&settings.client_secret) {
                    return Err(Refusal::OutOfRange(CLIENT_SECRET_RULE));
                }
                SsoProtocol::Oidc(OidcConnection::new(
                    settings.issuer,
                    settings.client_id,
                    &settings.client_secret,
                    context.key,
                    &binding,
                    context.random,
                ))
            }
            SsoProtocolSettings::Saml(settings) => {
                settings
                    .check()
                    .map_err(|_| Refusal::OutOfRange(CERTIFICATE_COUNT))?;
                SsoProtocol::Saml(settings)
            }
        };
        let connection = SsoConnection {
            id: id.clone(),
            name,
            protocol,
            allow_jit_provisioning,
            created_at: now,
            updated_at: now,
        };
        let event = Event::new(None, "sso.connection_created", &id).detail(describe(&connection));
        let view = connection.view();
        self.sso.connections.insert(id, connection);
        Ok((Outcome::SsoConnectionCreated { connection: view }, event))
    }

    /// `update_sso_connection`: a company admin renames a connection, changes its provider
    /// settings or rotates its client secret, or turns provisioning on or off.
    pub(super) fn update_sso_connection(
        &mut self,
        actor: &Actor,
        id: SsoConnectionId,
        name: Option<DisplayName>,
        change: ProtocolChange,
        allow_jit_provisioning: Option<bool>,
        context: &mut Context<'_>,
    ) -> Result<(Outcome, Event), Refusal> {
        let now = context.now;
        self.require_company_admin(actor, now)?;
        let binding = secret_binding(&self.id, &id);
        let connection = self
            .sso
            .connections
            .get_mut(&id)
            .ok_or_else(|| Refusal::UnknownSsoConnection(id.clone()))?;
        let mut changes = Vec::new();
        let mut provider_changed = false;
        if let Some(name) = name {
            changes.push(format!("name={name}"));
            connection.name = name;
        }
        match (&connection.protocol, &change.oidc, &change.saml) {
            (SsoProtocol::Saml(_), Some(_), _) => return Err(Refusal::OutOfRange(OIDC_ONLY)),
            (SsoProtocol::Oidc(_), _, Some(_)) => return Err(Refusal::OutOfRange(SAML_ONLY)),
            _ => {}
        }
        if let (SsoProtocol::Saml(settings), Some(saml)) = (&mut connection.protocol, change.saml) {
            let mut next = settings.clone();
            if let Some(entity_id) = saml.idp_entity_id {
                changes.push(format!("idp_entity_id={entity_id}"));
                next.idp_entity_id = entity_id;
            }
            if let Some(url) = saml.idp_sso_url {
                changes.push(format!("idp_sso_url={url}"));
                next.idp_sso_url = url;
            }
            if let Some(list) = saml.idp_certificates {
                changes.push(certificates(&list));
                next.idp_certificates = list;
            }
            next.check()
                .map_err(|_| Refusal::OutOfRange(CERTIFICATE_COUNT))?;
            provider_changed |= next != *settings;
            *settings = next;
        }
        if let (SsoProtocol::Oidc(settings), Some(change)) = (&mut connection.protocol, change.oidc)
        {
            if let Some(issuer) = change.issuer {
                changes.push(format!("issuer={issuer}"));
                settings.issuer = issuer;
                provider_changed = true;
            }
            if let Some(client_id) = change.client_id {
                changes.push(format!("client_id={client_id}"));
                settings.client_id = client_id;
                provider_changed = true;
            }
            if let Some(secret) = change.client_secret {
                if !acceptable_client_secret(&secret) {
                    return Err(Refusal::OutOfRange(CLIENT_SECRET_RULE));
                }
                settings.set_client_secret(&secret, context.key, &binding, context.random);
                changes.push("client_secret=rotated".to_owned());
                provider_changed = true;
            }
        }
        if let Some(allow) = allow_jit_provisioning {
            changes.push(format!("allow_jit_provisioning={allow}"));
            connection.allow_jit_provisioning = allow;
        }
        connection.updated_at = now;
        let view = connection.view();
        if provider_changed {
            self.sso.pending.retain(|pending| pending.connection != id);
            self.sso
                .saml_pending
                .retain(|pending| pending.connection != id);
        }
        let event = Event::new(None, "sso.connection_updated", &id).detail(changes.join(" "));
        Ok((Outcome::SsoConnectionUpdated { connection: view }, event))
    }

    /// `delete_sso_connection`: a company admin removes a connection no tenant names.
    pub(super) fn delete_sso_connection(
        &mut self,
        actor: &Actor,
        id: SsoConnectionId,
        now: Timestamp,
    ) -> Result<(Outcome, Event), Refusal> {
        self.require_company_admin(actor, now)?;
        if !self.sso.connections.contains_key(&id) {
            return Err(Refusal::UnknownSsoConnection(id));
        }
        if let Some(tenant) = self
            .tenants
            .values()
            .find(|tenant| tenant.sso.connection.as_ref() == Some(&id))
        {
            return Err(Refusal::SsoConnectionInUse {
                connection: id,
                tenant: tenant.id.clone(),
            });
        }
        self.sso.connections.remove(&id);
        self.sso.pending.retain(|pending| pending.connection != id);
        self.sso
            .saml_pending
            .retain(|pending| pending.connection != id);
        let event = Event::new(None, "sso.connection_deleted", &id);
        Ok((Outcome::SsoConnectionDeleted { connection_id: id }, event))
    }

    /// The account's identity-provider connections, by id (company admins): never a secret.
    pub fn view_sso_connections(
        &self,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Vec<SsoConnectionView>, Refusal> {
        self.require_company_admin(actor, now)?;
        Ok(self
            .sso
            .connections
            .values()
            .map(SsoConnection::view)
            .collect())
    }

    /// One identity-provider connection (company admins): never a secret.
    pub fn view_sso_connection(
        &self,
        actor: &Actor,
        id: &SsoConnectionId,
        now: Timestamp,
    ) -> Result<SsoConnectionView, Refusal> {
        self.require_company_admin(actor, now)?;
        self.sso
            .connections
            .get(id)
            .map(SsoConnection::view)
            .ok_or_else(|| Refusal::UnknownSsoConnection(id.clone()))
    }

    /// Where the worker fetches the provider metadata of the OpenID Connect connection `id`
    /// (for [`Account::begin_oidc_sign_in`]).
    pub fn oidc_discovery_url(&self, id: &SsoConnectionId) -> Result<String, Refusal> {
        let (_, oidc) = self.oidc_connection(id)?;
        Ok(oidc.issuer.discovery_url())
    }

    /// Starts a sign-in with the OpenID Connect connection `connection_id`, whose provider
    /// serves `metadata` (which must name the connection's issuer: `sso_provider_invalid`
    /// otherwise): keeps a pending sign-in for 10 minutes and gives the authorization URL to
    /// send the browser to, with a new `state`, the `nonce` and the PKCE S256 challenge of this
    /// sign-in, and `login_hint` if given. `redirect_uri` is the worker's callback (https, or
    /// http to loopback). Appends no audit event.
    pub fn begin_oidc_sign_in(
        &mut self,
        connection_id: &SsoConnectionId,
        metadata: &OidcProviderMetadata,
        redirect_uri: &str,
        login_hint: Option<&Email>,
        context: &mut Context<'_>,
    ) -> Result<OidcStart, Refusal> {
        let now = context.now;
        let (_, oidc) = self.oidc_connection(connection_id)?;
        let auth_method = metadata
            .check(oidc.issuer.as_str())
            .map_err(Refusal::SsoProviderInvalid)?;
        if !oidc::acceptable_redirect_uri(redirect_uri) {
            return Err(Refusal::OutOfRange(
                "the redirect URI must be an https URL (http only to 127.0.0.1, [::1] or localhost) with no fragment",
            ));
        }
        let (state, state_hash) = oidc::new_state(&self.id, context.key, context.random);
        let nonce = oidc::nonce_for(context.key, &state);
        let challenge = pkce_challenge(oidc::verifier_for(context.key, &state).expose());
        let authorization_url = oidc::authorization_url(
            metadata,
            oidc.client_id.as_str(),
            redirect_uri,
            &state,
            &nonce,
            &challenge,
            login_hint,
        );
        let expires_at = now.plus_seconds(PENDING_SIGN_IN_SECONDS);
        let pending = PendingSignIn {
            state_hash,
            connection: connection_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            token_endpoint: metadata.token_endpoint.clone(),
            jwks_uri: metadata.jwks_uri.clone(),
            auth_method,
            created_at: now,
            expires_at,
        };
        keep_pending(
            &mut self.sso.pending,
            pending,
            now,
            PendingSignIn::is_live,
            PendingSignIn::order,
        );
        Ok(OidcStart {
            authorization_url,
            state,
            expires_at,
        })
    }

    /// The sign-in pending under `state` at `now`: `sso_state_invalid` when there is none (never
    /// started here, completed already, superseded, or expired).
    fn pending_sign_in(
        &self,
        state: &str,
        key: &HashingKey,
        now: Timestamp,
    ) -> Result<&PendingSignIn, Refusal> {
        if state.len() > MAX_STATE_LEN || oidc::account_of_state(state).as_ref() != Some(&self.id) {
            return Err(Refusal::SsoStateInvalid);
        }
        self.sso
            .pending
            .iter()
            .find(|pending| pending.is_for(key, state))
            .filter(|pending| pending.is_live(now))
            .ok_or(Refusal::SsoStateInvalid)
    }

    /// The token request for the sign-in pending under `state`, to exchange the authorization
    /// `code` the callback brought: the POST the worker sends, with the client secret unsealed
    /// and this sign-in's PKCE verifier. Changes nothing (the sign-in stays pending until
    /// [`Account::complete_oidc_sign_in`]).
    pub fn oidc_token_request(
        &self,
        state: &str,
        code: &str,
        key: &HashingKey,
        now: Timestamp,
    ) -> Result<OidcTokenRequest, Refusal> {
        let pending = self.pending_sign_in(state, key, now)?;
        let (connection, oidc) = self.oidc_connection(&pending.connection)?;
        if code.is_empty() || code.len() > MAX_CODE_LEN || code.chars().any(char::is_control) {
            return Err(Refusal::OutOfRange("the authorization code is malformed"));
        }
        let client_secret = oidc
            .client_secret(key, &secret_binding(&self.id, &connection.id))
            .ok_or(Refusal::SsoClientSecretUnreadable)?;
        Ok(OidcTokenRequest {
            connection_id: connection.id.clone(),
            token_endpoint: pending.token_endpoint.clone(),
            jwks_uri: pending.jwks_uri.clone(),
            auth_method: pending.auth_method,
            client_id: oidc.client_id.as_str().to_owned(),
            client_secret,
            code: crate::secret::Secret::new(code.to_owned()),
            code_verifier: oidc::verifier_for(key, state),
            redirect_uri: pending.redirect_uri.clone(),
        })
    }

    /// Completes the sign-in pending under `state` with the `id_token` the token endpoint
    /// returned, verified against the provider's key set `jwks` (see [`crate::sso::oidc`] for
    /// every check): the verified email's active user (or, with provisioning on, a new one)
    /// gets a session, opened like every session and shown once. The pending sign-in is used
    /// up. Refusals: `sso_state_invalid`, `sso_token_invalid` (the reason in its
    /// [`TokenProblem`](crate::sso::TokenProblem), for logs), `sso_user_unknown` (one answer for
    /// an unknown email, a pending and an inactive user), `user_limit` (provisioning in a full
    /// account); each changes nothing.
    pub fn complete_oidc_sign_in(
        &mut self,
        state: &str,
        id_token: &str,
        jwks: &Jwks,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<IssuedSession, Refusal> {
        let now = context.now;
        let pending = self.pending_sign_in(state, context.key, now)?;
        let (connection, oidc) = self.oidc_connection(&pending.connection)?;
        let nonce = oidc::nonce_for(context.key, state);
        let expected = Expected {
            issuer: oidc.issuer.as_str(),
            client_id: oidc.client_id.as_str(),
            nonce: &nonce,
            now,
        };
        let identity =
            oidc::verify_id_token(id_token, jwks, &expected).map_err(Refusal::SsoTokenInvalid)?;
        let connection_id = connection.id.clone();
        let issued = self.sign_in_identity(&connection_id, identity, user_agent, context)?;
        let key = context.key;
        self.sso
            .pending
            .retain(|pending| pending.is_live(now) && !pending.is_for(key, state));
        Ok(issued)
    }

    /// Signs in the identity a provider vouched for through `connection_id`, whatever the
    /// protocol: the email's active user, or with provisioning on a new user; `sso_user_unknown`
    /// for an unknown email (provisioning off), a pending or an inactive user.
    fn sign_in_identity(
        &mut self,
        connection_id: &SsoConnectionId,
        identity: VerifiedIdentity,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<IssuedSession, Refusal> {
        let provision = self.sso_connection(connection_id)?.allow_jit_provisioning;
        let user_id = match self.user_by_email(&identity.email) {
            Some(user) if user.status == UserStatus::Active => user.id.clone(),
            Some(_) => return Err(Refusal::SsoUserUnknown),
            None if provision => self.provision_user(identity, connection_id, context)?,
            None => return Err(Refusal::SsoUserUnknown),
        };
        // The user is active (found so, or just created so): opening the session cannot be
        // refused for the user's standing.
        let method = SignInMethod::Sso {
            connection: connection_id.clone(),
        };
        self.open_session_for(&user_id, method, user_agent, context)
    }

    /// Creates the user a provider vouched for, through a connection that allows
    /// provisioning: active, with no company role and no tenant permission, within the user
    /// limit. Appends `user.provisioned`.
    fn provision_user(
        &mut self,
        identity: VerifiedIdentity,
        connection: &SsoConnectionId,
        context: &mut Context<'_>,
    ) -> Result<UserId, Refusal> {
        let mut draft = self.draft();
        let user_id =
            draft.insert_user(context, identity.email, identity.name, UserStatus::Active)?;
        draft.check_invariants(self)?;
        let event = Event::new(None, "user.provisioned", &user_id)
            .detail(format!("connection={connection}"));
        self.commit(
            draft,
            Some(&Actor::user(user_id.clone())),
            context.now,
            event,
        );
        Ok(user_id)
    }
}

/// SAML sign-in (the core feature `saml`): see [`crate::sso`] for the flow and
/// `sso::saml_flow` for the choices.
#[cfg(feature = "saml")]
impl Account {
    /// The connection `id`, with its SAML settings.
    fn saml_connection(&self, id: &SsoConnectionId) -> Result<&SamlConnection, Refusal> {
        match &self.sso_connection(id)?.protocol {
            SsoProtocol::Saml(saml) => Ok(saml),
            SsoProtocol::Oidc(_) => Err(Refusal::OutOfRange(
                "this connection signs in with OpenID Connect, not SAML",
            )),
        }
    }

    /// Starts a SAML sign-in with the connection `connection_id`, this service provider being
    /// under `origin` (the worker's public origin; [`crate::sso::service_provider`]): keeps a
    /// pending sign-in for 10 minutes and gives the identity provider's URL carrying the
    /// AuthnRequest (HTTP-Redirect binding) and the new state as `RelayState`. Appends no audit
    /// event.
    pub fn begin_saml_sign_in(
        &mut self,
        connection_id: &SsoConnectionId,
        origin: &str,
        context: &mut Context<'_>,
    ) -> Result<SamlStart, Refusal> {
        let now = context.now;
        let idp = self.saml_connection(connection_id)?;
        let sp = crate::sso::service_provider(origin, &self.id, connection_id);
        if !oidc::acceptable_redirect_uri(&sp.acs_url) {
            return Err(Refusal::OutOfRange(
                "the service provider's origin must be https (http only to 127.0.0.1, [::1] or localhost)",
            ));
        }
        let (state, state_hash) = oidc::new_state(&self.id, context.key, context.random);
        let trust = saml::Trust {
            idp,
            sp_entity_id: &sp.entity_id,
            acs_url: &sp.acs_url,
        };
        let (redirect_url, login) =
            saml::authn_request_redirect(&trust, context.random, now, Some(&state))
                .map_err(|refusal| Refusal::SsoAssertionInvalid(refusal.detail))?;
        let expires_at = now.plus_seconds(PENDING_SIGN_IN_SECONDS);
        let pending = PendingSaml {
            state_hash,
            connection: connection_id.clone(),
            request_id: login.request_id,
            service_provider: sp,
            expires_at,
        };
        keep_pending(
            &mut self.sso.saml_pending,
            pending,
            now,
            PendingSaml::is_live,
            PendingSaml::order,
        );
        Ok(SamlStart {
            redirect_url,
            state,
            expires_at,
        })
    }

    /// Completes the SAML sign-in pending under `relay_state` with the `SAMLResponse` form value
    /// the identity provider posted (see [`crate::sso::saml`] for every check: signature by a
    /// pinned certificate, Issuer, Destination, Recipient, Audience, `InResponseTo`, time,
    /// replay). The asserted email signs in as for every SSO sign-in. The pending sign-in is used
    /// up and the response's IDs remembered. Refusals: `sso_state_invalid`,
    /// `sso_assertion_invalid` (the reason in it, for logs), `sso_user_unknown`, `user_limit`;
    /// each changes nothing.
    pub fn complete_saml_sign_in(
        &mut self,
        relay_state: &str,
        saml_response: &str,
        user_agent: Option<&str>,
        context: &mut Context<'_>,
    ) -> Result<IssuedSession, Refusal> {
        let now = context.now;
        if relay_state.len() > MAX_STATE_LEN
            || oidc::account_of_state(relay_state).as_ref() != Some(&self.id)
        {
            return Err(Refusal::SsoStateInvalid);
        }
        let key = context.key;
        let pending = self
            .sso
            .saml_pending
            .iter()
            .find(|pending| pending.is_for(key, relay_state))
            .filter(|pending| pending.is_live(now))
            .ok_or(Refusal::SsoStateInvalid)?
            .clone();
        if saml_response.len() > MAX_SAML_RESPONSE_BYTES {
            return Err(Refusal::SsoAssertionInvalid(
                "the SAML response is larger than 128 KiB".to_owned(),
            ));
        }
        let idp = self.saml_connection(&pending.connection)?;
        let trust = saml::Trust {
            idp,
            sp_entity_id: &pending.service_provider.entity_id,
            acs_url: &pending.service_provider.acs_url,
        };
        let login = saml::PendingLogin {
            request_id: pending.request_id.clone(),
            relay_state: Some(relay_state.to_owned()),
        };
        let mut replay = SeenIds {
            seen: &self.sso.saml_seen,
            connection: &pending.connection,
            now,
            added: Vec::new(),
        };
        let verified = saml::verify_response(
            &trust,
            &login,
            saml_response,
            Some(relay_state),
            now,
            SAML_SKEW_SECONDS,
            &mut replay,
        )
        .map_err(|refusal| Refusal::SsoAssertionInvalid(refusal.detail))?;
        let added = replay.added;
        let email = verified
            .email
            .as_deref()
            .and_then(|email| email.parse::<Email>().ok())
            .ok_or_else(|| {
                Refusal::SsoAssertionInvalid("the assertion names no acceptable email".to_owned())
            })?;
        let identity = VerifiedIdentity { email, name: None };
        let issued = self.sign_in_identity(&pending.connection, identity, user_agent, context)?;
        self.sso
            .saml_pending
            .retain(|other| other.is_live(now) && !other.is_for(key, relay_state));
        let seen = &mut self.sso.saml_seen;
        seen.retain(|entry| entry.expires_at > now);
        seen.extend(added);
        seen.make_contiguous().sort_by(SeenId::order);
        while seen.len() > MAX_SEEN_SAML_IDS {
            // The entry expiring soonest goes first (see `sso::saml_flow`).
            let soonest = seen
                .iter()
                .enumerate()
                .min_by_key(|(_, entry)| entry.expires_at)
                .map(|(index, _)| index);
            match soonest {
                Some(index) => {
                    seen.remove(index);
                }
                None => break,
            }
        }
        Ok(issued)
    }
}

/// The replay memory as the protocol layer asks it: reads the account's remembered IDs and
/// collects the new ones, which the account keeps only when the sign-in succeeds.
#[cfg(feature = "saml")]
struct SeenIds<'a> {
    seen: &'a std::collections::VecDeque<SeenId>,
    connection: &'a SsoConnectionId,
    now: Timestamp,
    added: Vec<SeenId>,
}

#[cfg(feature = "saml")]
impl saml::SamlReplayStore for SeenIds<'_> {
    fn first_use(&mut self, key: &str, expires: Timestamp) -> bool {
        let entry = SeenId::new(self.connection, key, expires);
        let known = self
            .seen
            .iter()
            .chain(&self.added)
            .any(|seen| seen.digest == entry.digest && seen.expires_at > self.now);
        if !known {
            self.added.push(entry);
        }
        !known
    }
}

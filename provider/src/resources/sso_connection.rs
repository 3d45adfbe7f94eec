//! `portcullis_sso_connection`: an identity-provider connection of the provider's account.
//!
//! A connection sets exactly one protocol block, `oidc` or `saml`. Everything that depends on the
//! protocol goes through [`Protocol`] and [`SsoProtocol`]: a protocol is one block in the schema
//! and field in [`SsoConnectionState`], one entry in [`PROTOCOL_ATTRIBUTES`] and one arm in each
//! `match` of this file.
//!
//! SAML certificates are compared as certificates, not as text: the API normalises the PEM, so a
//! configured certificate that is the same certificate in another layout (line breaks, CRLF, no
//! PEM armour) is kept as configured and shows no difference.
//!
//! The client secret cannot be read back (the API shows only that one is set): the state keeps
//! the configured value, a secret changed outside Terraform is not seen, and after an import
//! the state has none, so the next apply sets (rotates) it to the configured one.

use super::{Empty, found_or_error, parse_id};
use crate::client::{Api, ApiError, NotFound};
use crate::diagnostics;
use crate::provider::Shared;
use crate::schema::{
    Mode, boolean, optional_block, schema, sensitive, string, string_list, with_blocks,
};
use crate::values::{default_if_null, known, rfc3339};
use async_trait::async_trait;
use portcullis_client::{SsoConnection as ConnectionView, SsoProtocol};
use portcullis_core::ids::DisplayName;
use portcullis_core::sso::{
    IssuerUrl, MAX_SAML_CERTIFICATES, OidcClientId, SamlEntityId, SamlSsoUrl, SigningCertificate,
    SsoConnectionId,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;
use tf_provider::schema::Schema;
use tf_provider::value::{self, Value};
use tf_provider::{AttributePath, Diagnostics, Resource};

/// Terraform state of an SSO connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnectionState {
    /// The connection id (`sso_...`).
    pub id: Value<String>,
    /// Name, for people.
    pub name: Value<String>,
    /// Whether an unknown verified email creates a user.
    pub allow_jit_provisioning: Value<bool>,
    /// OpenID Connect settings (a block that appears at most once).
    #[serde(with = "value::serde_as_vec")]
    pub oidc: Value<OidcState>,
    /// SAML 2.0 settings (a block that appears at most once).
    #[serde(with = "value::serde_as_vec", default)]
    pub saml: Value<SamlState>,
    /// Creation time.
    pub created_at: Value<String>,
    /// Last change.
    pub updated_at: Value<String>,
}

/// The `oidc` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcState {
    /// The issuer.
    pub issuer: Value<String>,
    /// The client id.
    pub client_id: Value<String>,
    /// The client secret: the configured value (the API never shows it).
    pub client_secret: Value<String>,
}

/// The `saml` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlState {
    /// The identity provider's entity ID.
    pub idp_entity_id: Value<String>,
    /// The identity provider's single sign-on URL.
    pub idp_sso_url: Value<String>,
    /// The pinned signing certificates (PEM).
    pub idp_certificates: Value<Vec<Value<String>>>,
    /// This service provider's entity ID for the connection (computed).
    pub sp_entity_id: Value<String>,
    /// This service provider's Assertion Consumer Service URL (computed).
    pub acs_url: Value<String>,
}

/// The protocol blocks; a connection sets exactly one of them.
const PROTOCOL_ATTRIBUTES: [&str; 2] = ["oidc", "saml"];

/// The protocol a configuration, plan or state sets.
#[derive(Clone, Copy, Debug)]
enum Protocol<'a> {
    /// OpenID Connect.
    Oidc(&'a OidcState),
    /// SAML 2.0.
    Saml(&'a SamlState),
}

impl Protocol<'_> {
    /// The attribute that holds this protocol's settings.
    const fn attribute(self) -> &'static str {
        match self {
            Protocol::Oidc(_) => "oidc",
            Protocol::Saml(_) => "saml",
        }
    }
}

/// Why a state does not name one protocol.
#[derive(Debug, PartialEq, Eq)]
enum ProtocolChoice {
    /// None of the protocol attributes is set.
    Missing,
    /// More than one is set (these).
    Several(Vec<&'static str>),
}

/// The protocol `state` sets: `Ok(None)` while that is not known yet (an attribute is unknown).
fn protocol(state: &SsoConnectionState) -> Result<Option<Protocol<'_>>, ProtocolChoice> {
    let candidates = [
        ("oidc", state.oidc.as_ref_option().map(Protocol::Oidc)),
        ("saml", state.saml.as_ref_option().map(Protocol::Saml)),
    ];
    let unknown = state.oidc.is_unknown() || state.saml.is_unknown();
    let mut set: Vec<Protocol<'_>> = candidates
        .iter()
        .filter_map(|(_, protocol)| *protocol)
        .collect();
    match set.len() {
        0 if unknown => Ok(None),
        0 => Err(ProtocolChoice::Missing),
        1 => Ok(set.pop()),
        _ => Err(ProtocolChoice::Several(
            set.iter().map(|protocol| protocol.attribute()).collect(),
        )),
    }
}

/// The protocol's name in the API (`oidc`, `saml`), for comparing plans with states.
fn protocol_name(state: &SsoConnectionState) -> Option<&'static str> {
    protocol(state).ok().flatten().map(Protocol::attribute)
}

/// The resource.
#[derive(Debug)]
pub struct SsoConnectionResource {
    shared: Arc<Shared>,
}

impl SsoConnectionResource {
    /// A resource bound to the provider's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        SsoConnectionResource { shared }
    }
}

/// The resource's schema.
pub fn sso_connection_schema() -> Schema {
    let protocols = PROTOCOL_ATTRIBUTES
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let schema = schema(
        &format!(
            "An identity-provider connection of the provider's account (company admins; at most \
             10 per account), which tenants name in their SSO settings \
             (`portcullis_tenant_settings.sso_connection_id`). Set exactly one protocol \
             ({protocols}); changing the protocol replaces the connection. The client secret is \
             never shown by the API: the state keeps the configured value, a secret changed \
             outside Terraform is not detected, and after `terraform import` the next apply sets \
             (rotates) the secret to the configured value. A connection a tenant names cannot \
             be deleted."
        ),
        vec![
            (
                "id",
                string(Mode::Computed, "The connection id (`sso_...`)."),
            ),
            (
                "name",
                string(
                    Mode::Required,
                    "A name for people (1 to 100 characters). Changed in place.",
                ),
            ),
            (
                "allow_jit_provisioning",
                boolean(
                    Mode::OptionalComputed,
                    "Whether a verified email that matches no user creates one (active, with no \
                     company role and no tenant permission), within the account's user limit. \
                     Default `false`.",
                ),
            ),
            (
                "created_at",
                string(Mode::Computed, "Creation time (RFC 3339)."),
            ),
            (
                "updated_at",
                string(Mode::Computed, "Time of the last change (RFC 3339)."),
            ),
        ],
    );
    with_blocks(
        schema,
        vec![
            (
                "oidc",
                optional_block(
                    "OpenID Connect: the authorization code flow with PKCE. Changing `issuer`, \
                 `client_id` or `client_secret` ends the sign-ins under way with the connection.",
                    vec![
                        (
                            "issuer",
                            string(
                                Mode::Required,
                                "The provider's issuer identifier: an `https://` URL with no query \
                             or fragment (`http://` only to 127.0.0.1, [::1] or localhost), \
                             compared exactly.",
                            ),
                        ),
                        (
                            "client_id",
                            string(
                                Mode::Required,
                                "The client id the provider registered (1 to 255 visible ASCII \
                             characters).",
                            ),
                        ),
                        (
                            "client_secret",
                            sensitive(string(
                                Mode::Required,
                                "The client secret (1 to 1,024 characters, no control characters). \
                             Stored sealed by Portcullis and never shown again; changing it \
                             rotates the secret in place. Drift of the secret cannot be \
                             detected.",
                            )),
                        ),
                    ],
                ),
            ),
            (
                "saml",
                optional_block(
                    "SAML 2.0 Web Browser SSO (SP-initiated; HTTP-Redirect out, HTTP-POST back). Give \
                 the identity provider `sp_entity_id` (its Audience) and `acs_url`. Changing the \
                 settings ends the sign-ins under way with the connection.",
                    vec![
                        (
                            "idp_entity_id",
                            string(
                                Mode::Required,
                                "The identity provider's entity ID (the Issuer of its responses), \
                             from its metadata; 1 to 1,024 visible characters.",
                            ),
                        ),
                        (
                            "idp_sso_url",
                            string(
                                Mode::Required,
                                "The identity provider's single sign-on URL for the HTTP-Redirect \
                             binding (`https://`; `http://` only to 127.0.0.1, [::1] or \
                             localhost).",
                            ),
                        ),
                        (
                            "idp_certificates",
                            string_list(
                                Mode::Required,
                                "1 to 3 signing certificates of the identity provider, in PEM (one \
                             X.509 certificate each; more than one only during a key rollover). \
                             Responses must be signed by one of them.",
                            ),
                        ),
                        (
                            "sp_entity_id",
                            string(
                                Mode::Computed,
                                "This service provider's entity ID for the connection, to give the \
                             identity provider.",
                            ),
                        ),
                        (
                            "acs_url",
                            string(
                                Mode::Computed,
                                "This service provider's Assertion Consumer Service URL \
                             (HTTP-POST), to give the identity provider.",
                            ),
                        ),
                    ],
                ),
            ),
        ],
    )
}

async fn read_connection(api: &Api, id: &str) -> Result<Option<ConnectionView>, ApiError> {
    let Some(connection) = parse_id::<SsoConnectionId>(id) else {
        return Ok(None);
    };
    api.sso_connection(&connection).await.found()
}

/// Fills `state` from what the API shows; the client secret stays as the state has it (the
/// API never shows it), null when the state had none for this protocol (after import).
fn fill(state: &mut SsoConnectionState, view: &ConnectionView) {
    state.id = Value::Value(view.connection_id.to_string());
    state.name = Value::Value(view.name.as_str().to_owned());
    state.allow_jit_provisioning = Value::Value(view.allow_jit_provisioning);
    state.created_at = rfc3339(view.created_at);
    state.updated_at = rfc3339(view.updated_at);
    match &view.protocol {
        SsoProtocol::Oidc { issuer, client_id } => {
            let client_secret = match &state.oidc {
                Value::Value(oidc) if oidc.client_secret.is_value() => oidc.client_secret.clone(),
                _ => Value::Null,
            };
            state.oidc = Value::Value(OidcState {
                issuer: Value::Value(issuer.as_str().to_owned()),
                client_id: Value::Value(client_id.as_str().to_owned()),
                client_secret,
            });
            state.saml = Value::Null;
        }
        SsoProtocol::Saml {
            idp_entity_id,
            idp_sso_url,
            idp_certificates,
            sp_entity_id,
            acs_url,
        } => {
            let configured = match &state.saml {
                Value::Value(saml) => saml.idp_certificates.as_ref_option().cloned(),
                _ => None,
            };
            state.saml = Value::Value(SamlState {
                idp_entity_id: Value::Value(idp_entity_id.as_str().to_owned()),
                idp_sso_url: Value::Value(idp_sso_url.as_str().to_owned()),
                idp_certificates: Value::Value(certificates_as_configured(
                    idp_certificates,
                    configured.as_deref(),
                )),
                sp_entity_id: Value::Value(sp_entity_id.clone()),
                acs_url: Value::Value(acs_url.clone()),
            });
            state.oidc = Value::Null;
        }
    }
}

/// The API's certificates, each as the configuration spells it when the configuration holds
/// the same certificates in the same order (the API normalises PEM), else as the API shows them.
fn certificates_as_configured(
    shown: &[SigningCertificate],
    configured: Option<&[Value<String>]>,
) -> Vec<Value<String>> {
    let same = configured.filter(|configured| {
        configured.len() == shown.len()
            && configured.iter().zip(shown).all(|(text, shown)| {
                known(text).and_then(|text| text.parse::<SigningCertificate>().ok())
                    == Some(shown.clone())
            })
    });
    match same {
        Some(configured) => configured.to_vec(),
        None => shown
            .iter()
            .map(|certificate| Value::Value(certificate.as_pem().to_owned()))
            .collect(),
    }
}

/// The known texts of a list, `None` while the list or an element is unknown.
fn known_list(list: &Value<Vec<Value<String>>>) -> Option<Vec<String>> {
    list.as_ref_option()?
        .iter()
        .map(|item| known(item).map(str::to_owned))
        .collect()
}

/// The `protocol` of `create_sso_connection` for `planned`; `None` while a value is unknown.
fn create_protocol(planned: &SsoConnectionState) -> Option<Json> {
    match protocol(planned).ok()?? {
        Protocol::Oidc(oidc) => Some(json!({
            "type": "oidc",
            "issuer": known(&oidc.issuer)?,
            "client_id": known(&oidc.client_id)?,
            "client_secret": known(&oidc.client_secret)?,
        })),
        Protocol::Saml(saml) => Some(json!({
            "type": "saml",
            "idp_entity_id": known(&saml.idp_entity_id)?,
            "idp_sso_url": known(&saml.idp_sso_url)?,
            "idp_certificates": known_list(&saml.idp_certificates)?,
        })),
    }
}

/// What differs between two optional strings, as the value to send.
fn changed<'a>(prior: &Value<String>, planned: &'a Value<String>) -> Option<&'a str> {
    known(planned).filter(|planned| known(prior) != Some(*planned))
}

/// The `update_sso_connection` body that turns `prior` into `planned` (same protocol): only
/// what changed; `None` when nothing did.
fn changes(prior: &SsoConnectionState, planned: &SsoConnectionState) -> Option<Json> {
    let mut body = Map::new();
    if let Some(name) = changed(&prior.name, &planned.name) {
        body.insert("name".into(), json!(name));
    }
    if let Value::Value(allow) = planned.allow_jit_provisioning
        && planned.allow_jit_provisioning != prior.allow_jit_provisioning
    {
        body.insert("allow_jit_provisioning".into(), json!(allow));
    }
    match (protocol(prior), protocol(planned)) {
        (Ok(Some(Protocol::Oidc(prior))), Ok(Some(Protocol::Oidc(planned)))) => {
            let mut oidc = Map::new();
            for (field, prior, planned) in [
                ("issuer", &prior.issuer, &planned.issuer),
                ("client_id", &prior.client_id, &planned.client_id),
                (
                    "client_secret",
                    &prior.client_secret,
                    &planned.client_secret,
                ),
            ] {
                if let Some(value) = changed(prior, planned) {
                    oidc.insert(field.into(), json!(value));
                }
            }
            if !oidc.is_empty() {
                body.insert("oidc".into(), Json::Object(oidc));
            }
        }
        (Ok(Some(Protocol::Saml(prior))), Ok(Some(Protocol::Saml(planned)))) => {
            let mut saml = Map::new();
            for (field, prior, planned) in [
                (
                    "idp_entity_id",
                    &prior.idp_entity_id,
                    &planned.idp_entity_id,
                ),
                ("idp_sso_url", &prior.idp_sso_url, &planned.idp_sso_url),
            ] {
                if let Some(value) = changed(prior, planned) {
                    saml.insert(field.into(), json!(value));
                }
            }
            // Compared as certificates: a new spelling of the same ones changes nothing there.
            let parsed = |list: &Value<Vec<Value<String>>>| {
                known_list(list).map(|texts| {
                    texts
                        .iter()
                        .map(|text| text.parse::<SigningCertificate>().ok())
                        .collect::<Vec<_>>()
                })
            };
            if let Some(list) = known_list(&planned.idp_certificates)
                && parsed(&prior.idp_certificates) != parsed(&planned.idp_certificates)
            {
                saml.insert("idp_certificates".into(), json!(list));
            }
            if !saml.is_empty() {
                body.insert("saml".into(), Json::Object(saml));
            }
        }
        // A change of protocol replaces the connection (see `plan_update`).
        _ => {}
    }
    (!body.is_empty()).then_some(Json::Object(body))
}

/// The attribute a refusal of a write concerns, by its code: `out_of_range` is the client
/// secret's bounds, the one setting validate cannot check (the core keeps that rule private).
fn refused_attribute(failure: &ApiError) -> Option<&'static str> {
    match failure.code() {
        Some("out_of_range") => Some("oidc"),
        _ => None,
    }
}

/// The connection a create or update answered with; `None` once a refusal is reported (on the
/// attribute it concerns) as doing `action`.
fn written(
    diags: &mut Diagnostics,
    action: &str,
    result: Result<ConnectionView, ApiError>,
) -> Option<ConnectionView> {
    match result {
        Ok(connection) => Some(connection),
        Err(failure) => {
            diagnostics::api(diags, action, &failure, refused_attribute(&failure));
            None
        }
    }
}

/// Validate-time checks, with the core's own parsers.
fn check(diags: &mut Diagnostics, config: &SsoConnectionState) {
    if let Some(name) = known(&config.name)
        && let Err(error) = name.parse::<DisplayName>()
    {
        diagnostics::error(diags, "Invalid name", error.to_string(), Some("name"));
    }
    let protocols = PROTOCOL_ATTRIBUTES
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match protocol(config) {
        Err(ProtocolChoice::Missing) => diagnostics::error(
            diags,
            "Missing protocol",
            format!("set exactly one of {protocols}"),
            None,
        ),
        Err(ProtocolChoice::Several(set)) => diagnostics::error(
            diags,
            "Conflicting protocols",
            format!(
                "set exactly one of {protocols}, not {}",
                set.iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            None,
        ),
        Ok(None) => {}
        Ok(Some(Protocol::Oidc(oidc))) => {
            let at = |field| AttributePath::new("oidc").index(0).attribute(field);
            if let Some(issuer) = known(&oidc.issuer)
                && let Err(error) = issuer.parse::<IssuerUrl>()
            {
                diagnostics::error_at(diags, "Invalid issuer", error.to_string(), at("issuer"));
            }
            if let Some(client_id) = known(&oidc.client_id)
                && let Err(error) = client_id.parse::<OidcClientId>()
            {
                diagnostics::error_at(
                    diags,
                    "Invalid client id",
                    error.to_string(),
                    at("client_id"),
                );
            }
        }
        Ok(Some(Protocol::Saml(saml))) => {
            let at = |field| AttributePath::new("saml").index(0).attribute(field);
            if let Some(entity_id) = known(&saml.idp_entity_id)
                && let Err(error) = entity_id.parse::<SamlEntityId>()
            {
                diagnostics::error_at(
                    diags,
                    "Invalid entity ID",
                    error.to_string(),
                    at("idp_entity_id"),
                );
            }
            if let Some(url) = known(&saml.idp_sso_url)
                && let Err(error) = url.parse::<SamlSsoUrl>()
            {
                diagnostics::error_at(
                    diags,
                    "Invalid single sign-on URL",
                    error.to_string(),
                    at("idp_sso_url"),
                );
            }
            if let Some(list) = saml.idp_certificates.as_ref_option() {
                if list.is_empty() || list.len() > MAX_SAML_CERTIFICATES {
                    diagnostics::error_at(
                        diags,
                        "Invalid certificates",
                        "give 1 to 3 signing certificates".to_owned(),
                        at("idp_certificates"),
                    );
                }
                for (index, text) in list.iter().enumerate() {
                    if let Some(text) = known(text)
                        && let Err(error) = text.parse::<SigningCertificate>()
                    {
                        diagnostics::error_at(
                            diags,
                            "Invalid certificate",
                            error.to_string(),
                            AttributePath::new("saml")
                                .index(0)
                                .attribute("idp_certificates")
                                .index(index as i64),
                        );
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Resource for SsoConnectionResource {
    type State<'a> = SsoConnectionState;
    type PrivateState<'a> = Empty;
    type ProviderMetaState<'a> = Empty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(sso_connection_schema())
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: SsoConnectionState,
    ) -> Option<()> {
        check(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: SsoConnectionState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(SsoConnectionState, Empty)> {
        let api = self.shared.api(diags)?;
        let id = known(&state.id)?.to_owned();
        let found = read_connection(&api, &id).await;
        super::state_after_read(diags, "read the SSO connection", state, found, fill)
            .map(|state| (state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: SsoConnectionState,
        _config: SsoConnectionState,
        _meta: Empty,
    ) -> Option<(SsoConnectionState, Empty)> {
        let mut state = proposed;
        state.id = Value::Unknown;
        default_if_null(&mut state.allow_jit_provisioning, Value::Value(false));
        state.created_at = Value::Unknown;
        state.updated_at = Value::Unknown;
        if let Value::Value(saml) = &mut state.saml {
            saml.sp_entity_id = Value::Unknown;
            saml.acs_url = Value::Unknown;
        }
        Some((state, Empty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: SsoConnectionState,
        mut proposed: SsoConnectionState,
        config: SsoConnectionState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(SsoConnectionState, Empty, Vec<AttributePath>)> {
        if config.allow_jit_provisioning.is_null() {
            proposed.allow_jit_provisioning = Value::Value(false);
        }
        let (before, after) = (protocol_name(&prior), protocol_name(&proposed));
        if before != after && after.is_some() {
            // Another protocol is another connection: replace it.
            let replaced = PROTOCOL_ATTRIBUTES
                .iter()
                .filter(|name| Some(**name) == before || Some(**name) == after)
                .map(|name| AttributePath::new(*name))
                .collect();
            let (state, _) = self
                .plan_create(diags, proposed, config, Empty::default())
                .await?;
            return Some((state, private_state, replaced));
        }
        if proposed != prior {
            proposed.updated_at = Value::Unknown;
        }
        Some((proposed, private_state, vec![]))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: SsoConnectionState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<Empty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: SsoConnectionState,
        _config: SsoConnectionState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(SsoConnectionState, Empty)> {
        let api = self.shared.api(diags)?;
        let Some(protocol) = create_protocol(&planned) else {
            diagnostics::error(
                diags,
                "Cannot create the SSO connection",
                "the protocol settings are not known at apply time",
                None,
            );
            return None;
        };
        let body = json!({
            "name": known(&planned.name)?,
            "protocol": protocol,
            "allow_jit_provisioning": planned.allow_jit_provisioning.as_ref_option().copied().unwrap_or(false),
        });
        let created = api.create_sso_connection(&body).await;
        let view = written(diags, "create the SSO connection", created)?;
        let mut state = planned;
        fill(&mut state, &view);
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: SsoConnectionState,
        planned: SsoConnectionState,
        _config: SsoConnectionState,
        private_state: Empty,
        _meta: Empty,
    ) -> Option<(SsoConnectionState, Empty)> {
        let api = self.shared.api(diags)?;
        let id = known(&prior.id)?.to_owned();
        let mut state = planned;
        let view = match (changes(&prior, &state), parse_id::<SsoConnectionId>(&id)) {
            (Some(body), Some(connection)) => {
                let changed = api.update_sso_connection(&connection, &body).await;
                written(diags, "change the SSO connection", changed)?
            }
            _ => found_or_error(
                diags,
                "read the SSO connection",
                read_connection(&api, &id).await,
                "The SSO connection no longer exists",
                format!("`{id}` was deleted; run terraform apply again to re-create it"),
            )?,
        };
        fill(&mut state, &view);
        Some((state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: SsoConnectionState,
        _private_state: Empty,
        _meta: Empty,
    ) -> Option<()> {
        // Refused (409 `sso_connection_in_use`, naming the tenant) while a tenant names it;
        // the state then keeps the connection.
        let delete = |api: Arc<Api>, connection: SsoConnectionId| async move {
            api.delete_sso_connection(&connection).await
        };
        super::remove_by_id(
            &self.shared,
            diags,
            &state.id,
            delete,
            "delete the SSO connection",
        )
        .await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(SsoConnectionState, Empty)> {
        let Ok(id) = id.trim().parse::<SsoConnectionId>() else {
            diagnostics::error(
                diags,
                "Cannot import the SSO connection",
                format!(
                    "`{}` is not an SSO connection id; import with the `sso_...` id",
                    id.trim()
                ),
                None,
            );
            return None;
        };
        let state = SsoConnectionState {
            id: Value::Value(id.to_string()),
            ..SsoConnectionState::default()
        };
        Some((state, Empty::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::assert_parity;

    fn oidc(issuer: &str, client_id: &str, secret: &str) -> Value<OidcState> {
        Value::Value(OidcState {
            issuer: Value::Value(issuer.into()),
            client_id: Value::Value(client_id.into()),
            client_secret: Value::Value(secret.into()),
        })
    }

    fn state() -> SsoConnectionState {
        SsoConnectionState {
            id: Value::Value("sso_0123456789abcdef".into()),
            name: Value::Value("Okta".into()),
            allow_jit_provisioning: Value::Value(false),
            oidc: oidc("https://idp.example.com", "portcullis", "s3cret"),
            saml: Value::Null,
            created_at: Value::Value("2026-01-01T00:00:00Z".into()),
            updated_at: Value::Value("2026-01-01T00:00:00Z".into()),
        }
    }

    fn view() -> ConnectionView {
        serde_json::from_value(json!({
            "connection_id": "sso_0123456789abcdef",
            "name": "Okta",
            "protocol": {
                "type": "oidc",
                "issuer": "https://idp.example.com",
                "client_id": "portcullis",
                "client_secret_set": true
            },
            "allow_jit_provisioning": true,
            "created_at": 1_767_225_600,
            "updated_at": 1_767_225_660
        }))
        .unwrap()
    }

    #[test]
    fn schema_and_state_have_the_same_attributes() {
        let schema = sso_connection_schema();
        assert_parity(&schema, &SsoConnectionState::default());
        let Some(tf_provider::schema::NestedBlock::Optional(oidc)) =
            schema.block.blocks.get("oidc")
        else {
            panic!("oidc is a block that appears at most once");
        };
        let json = serde_json::to_value(OidcState::default()).unwrap();
        let mut names: Vec<&String> = oidc.attributes.keys().collect();
        names.sort();
        let mut state: Vec<&String> = json.as_object().unwrap().keys().collect();
        state.sort();
        assert_eq!(names, state);
        assert!(oidc.attributes["client_secret"].sensitive);
    }

    #[test]
    fn a_protocol_block_is_a_list_of_at_most_one_in_the_state() {
        let json = serde_json::to_value(state()).unwrap();
        assert_eq!(json["oidc"][0]["issuer"], "https://idp.example.com");
        let none = serde_json::to_value(SsoConnectionState::default()).unwrap();
        assert_eq!(none["oidc"], json!([]));
        let back: SsoConnectionState = serde_json::from_value(json).unwrap();
        assert_eq!(back, state());
    }

    #[test]
    fn exactly_one_protocol_is_set() {
        let mut config = state();
        assert_eq!(protocol_name(&config), Some("oidc"));
        config.oidc = Value::Null;
        assert_eq!(protocol(&config).unwrap_err(), ProtocolChoice::Missing);
        config.oidc = Value::Unknown;
        assert!(matches!(protocol(&config), Ok(None)));
        let mut diags = Diagnostics::default();
        config.oidc = Value::Null;
        check(&mut diags, &config);
        assert_eq!(diags.errors[0].summary, "Missing protocol");
        assert_eq!(diags.errors[0].detail, "set exactly one of `oidc`, `saml`");
        config.oidc = oidc("https://idp.example.com", "portcullis", "s3cret");
        config.saml = Value::Value(SamlState::default());
        let mut diags = Diagnostics::default();
        check(&mut diags, &config);
        assert_eq!(diags.errors[0].summary, "Conflicting protocols");
    }

    const CERTIFICATE: &str = include_str!("../../../crates/core/src/sso/test-idp-cert.pem");

    fn saml(certificates: &[&str]) -> Value<SamlState> {
        Value::Value(SamlState {
            idp_entity_id: Value::Value("https://idp.example.com/metadata".into()),
            idp_sso_url: Value::Value("https://idp.example.com/sso".into()),
            idp_certificates: Value::Value(
                certificates
                    .iter()
                    .map(|text| Value::Value((*text).to_owned()))
                    .collect(),
            ),
            sp_entity_id: Value::Unknown,
            acs_url: Value::Unknown,
        })
    }

    #[test]
    fn saml_settings_are_checked_and_certificates_compared_as_certificates() {
        let mut config = state();
        config.oidc = Value::Null;
        config.saml = saml(&[CERTIFICATE]);
        let mut diags = Diagnostics::default();
        check(&mut diags, &config);
        assert!(diags.errors.is_empty(), "{diags:?}");
        config.saml = saml(&["not a certificate"]);
        check(&mut diags, &config);
        config.saml = saml(&[]);
        check(&mut diags, &config);
        let summaries: Vec<&str> = diags.errors.iter().map(|d| d.summary.as_ref()).collect();
        assert_eq!(summaries, ["Invalid certificate", "Invalid certificates"]);
        // The API shows normalised PEM; the configuration's spelling (CRLF here) is kept when
        // it is the same certificate, so the plan shows no difference.
        let shown: Vec<SigningCertificate> = vec![CERTIFICATE.parse().unwrap()];
        let crlf = CERTIFICATE.replace('\n', "\r\n");
        let configured = [Value::Value(crlf.clone())];
        assert_eq!(
            certificates_as_configured(&shown, Some(&configured)),
            vec![Value::Value(crlf)]
        );
        let other = [Value::Value("other".to_owned())];
        assert_eq!(
            certificates_as_configured(&shown, Some(&other)),
            vec![Value::Value(shown[0].as_pem().to_owned())]
        );
        // Only what changed is sent.
        let prior = SsoConnectionState {
            saml: saml(&[CERTIFICATE]),
            oidc: Value::Null,
            ..state()
        };
        let mut planned = prior.clone();
        assert_eq!(changes(&prior, &planned), None);
        if let Value::Value(saml) = &mut planned.saml {
            saml.idp_sso_url = Value::Value("https://idp.example.com/sso2".into());
        }
        assert_eq!(
            changes(&prior, &planned),
            Some(json!({"saml": {"idp_sso_url": "https://idp.example.com/sso2"}}))
        );
    }

    #[test]
    fn settings_are_checked_by_the_core_parsers_at_their_attribute() {
        let mut config = state();
        let mut diags = Diagnostics::default();
        check(&mut diags, &config);
        assert!(diags.errors.is_empty(), "{diags:?}");
        config.oidc = oidc("http://example.com", "a b", "s");
        config.name = Value::Value("\u{202e}".into());
        check(&mut diags, &config);
        let found: Vec<(String, String)> = diags
            .errors
            .iter()
            .map(|d| (d.summary.to_string(), format!("{:?}", d.attribute)))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, "Invalid name");
        assert_eq!(found[1].0, "Invalid issuer");
        assert!(found[1].1.contains("oidc") && found[1].1.contains("issuer"));
        assert_eq!(
            diags.errors[1].detail,
            "issuer must use https (http only for 127.0.0.1, [::1] or localhost)"
        );
        assert_eq!(found[2].0, "Invalid client id");
        // Unknown values are not judged.
        config.oidc = Value::Value(OidcState {
            issuer: Value::Unknown,
            client_id: Value::Unknown,
            client_secret: Value::Unknown,
        });
        config.name = Value::Unknown;
        let mut diags = Diagnostics::default();
        check(&mut diags, &config);
        assert!(diags.errors.is_empty(), "{diags:?}");
    }

    #[test]
    fn read_keeps_the_configured_secret_and_has_none_after_import() {
        let mut read = state();
        fill(&mut read, &view());
        assert_eq!(read.allow_jit_provisioning, Value::Value(true));
        assert_eq!(
            read.updated_at,
            Value::Value("2026-01-01T00:01:00Z".to_owned())
        );
        let Value::Value(oidc) = &read.oidc else {
            panic!("oidc expected");
        };
        assert_eq!(oidc.client_secret, Value::Value("s3cret".to_owned()));
        let mut imported = SsoConnectionState {
            id: Value::Value("sso_0123456789abcdef".into()),
            ..SsoConnectionState::default()
        };
        fill(&mut imported, &view());
        let Value::Value(oidc) = &imported.oidc else {
            panic!("oidc expected");
        };
        assert_eq!(oidc.client_secret, Value::Null);
        assert_eq!(
            oidc.issuer,
            Value::Value("https://idp.example.com".to_owned())
        );
    }

    #[test]
    fn only_what_changed_is_sent() {
        let prior = state();
        assert_eq!(changes(&prior, &prior), None);
        let mut planned = prior.clone();
        planned.oidc = oidc("https://idp.example.com", "portcullis", "rotated");
        assert_eq!(
            changes(&prior, &planned),
            Some(json!({ "oidc": { "client_secret": "rotated" } }))
        );
        planned.name = Value::Value("Okta (prod)".into());
        planned.allow_jit_provisioning = Value::Value(true);
        planned.oidc = oidc("https://login.example.com", "portcullis", "s3cret");
        assert_eq!(
            changes(&prior, &planned),
            Some(json!({
                "name": "Okta (prod)",
                "allow_jit_provisioning": true,
                "oidc": { "issuer": "https://login.example.com" }
            }))
        );
        assert_eq!(
            create_protocol(&prior),
            Some(json!({
                "type": "oidc",
                "issuer": "https://idp.example.com",
                "client_id": "portcullis",
                "client_secret": "s3cret"
            }))
        );
    }
}

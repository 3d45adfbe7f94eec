//! SSO: identity-provider connections and the OpenID Connect sign-in, one test per rule, with
//! ID tokens signed here by a test identity provider (an RSA key fixed in
//! `tests/fixtures/idp-rsa-2048.pem`, generated once with `openssl genpkey -algorithm RSA
//! -pkeyopt rsa_keygen_bits:2048` and used for nothing else, another one for forged
//! signatures, and a fixed P-256 key). Every refusal is checked to change nothing.
//!
//! The last test (ignored unless asked for) runs the whole flow against the real
//! `oidc-provider` of `tests/idp/oidc-provider.mjs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod support;
#[allow(unused_imports, reason = "each file uses some of the names")]
use support::names::*;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer as _;
use portcullis_core::account::{Context, Outcome, Refusal, RefusalClass, RowKind, SignUp};
use portcullis_core::command::{Command, SsoChange};
use portcullis_core::random::SeededRandom;
use portcullis_core::secret::Secret;
use portcullis_core::session::{IssuedSession, SessionVerification, SignInMethod};
use portcullis_core::sso::{
    Jwks, OidcChange, OidcProviderMetadata, OidcSettings, OidcStart, SsoConnectionId,
    SsoProtocolSettings, SsoProtocolView, TokenEndpointAuth, TokenProblem, account_of_state,
    id_token_from_token_response, pkce_challenge,
};
use portcullis_core::user::UserStatus;
use portcullis_core::{
    Account, Actor, Email, HashingKey, PermissionSet, Plan, TenantId, Timestamp, UserId,
};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const ISSUER: &str = "https://idp.acme.test";
const CLIENT_ID: &str = "portcullis-client";
const CLIENT_SECRET: &str = "the-client-secret-0123456789";
const REDIRECT_URI: &str = "https://edge.portcullis.test/sso/oidc/callback";
const KID: &str = "rsa-1";
const EC_KID: &str = "ec-1";

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

fn rsa_key(pem: &str) -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_der(&pem_der(pem)).unwrap()
}

/// The test identity provider: its keys, and ID tokens signed with them.
struct Idp {
    rsa: rsa::PrivateKey,
    forger: rsa::PrivateKey,
    ec: p256::ecdsa::SigningKey,
}

impl Idp {
    fn new() -> Self {
        Idp {
            rsa: rsa_key(include_str!("fixtures/idp-rsa-2048.pem")),
            forger: rsa_key(include_str!("fixtures/other-rsa-2048.pem")),
            ec: p256::ecdsa::SigningKey::from_slice(&[0x5a; 32]).unwrap(),
        }
    }

    fn jwks_json(&self) -> String {
        let public = self.rsa.to_public_key();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let point = self.ec.verifying_key().to_sec1_point(false);
        let point = point.as_bytes();
        json!({"keys": [
            {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
             "n": b64(&public.n().to_be_bytes_trimmed_vartime()),
             "e": b64(&public.e().to_be_bytes_trimmed_vartime())},
            {"kty": "EC", "crv": "P-256", "kid": EC_KID,
             "x": b64(&point[1..33]), "y": b64(&point[33..65])},
            {"kty": "RSA", "use": "enc", "kid": "encryption", "n": "AQAB", "e": "AQAB"}
        ]})
        .to_string()
    }

    fn jwks(&self) -> Jwks {
        Jwks::from_json(self.jwks_json().as_bytes()).unwrap()
    }

    fn signing_input(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    /// An RS256 token with `kid`, signed by the provider's key (or the forger's).
    fn rs256(&self, kid: &str, claims: &Value, forged: bool) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        let input = Self::signing_input(&header, claims);
        let key = if forged { &self.forger } else { &self.rsa };
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
        let signature: rsa::pkcs1v15::Signature = signer.sign(input.as_bytes());
        let bytes: Box<[u8]> = signature.into();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    fn sign(&self, claims: &Value) -> String {
        self.rs256(KID, claims, false)
    }

    fn es256(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": EC_KID});
        let input = Self::signing_input(&header, claims);
        let signature: p256::ecdsa::Signature = self.ec.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

fn metadata() -> OidcProviderMetadata {
    OidcProviderMetadata::from_json(
        json!({
            "issuer": ISSUER,
            "authorization_endpoint": format!("{ISSUER}/auth"),
            "token_endpoint": format!("{ISSUER}/token"),
            "jwks_uri": format!("{ISSUER}/jwks"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

fn email(text: &str) -> Email {
    text.parse().unwrap()
}

/// The query parameters of a URL.
fn query(url: &str) -> BTreeMap<String, String> {
    let (_, query) = url.split_once('?').unwrap();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

struct World {
    account: Account,
    key: HashingKey,
    random: SeededRandom,
    now: Timestamp,
    owner: UserId,
    tenant: TenantId,
    idp: Idp,
}

impl World {
    fn new() -> Self {
        Self::on(plan_named("enterprise"))
    }

    fn on(plan: Plan) -> Self {
        let key = HashingKey::from_bytes(&[5; 32]).unwrap();
        let mut random = SeededRandom::new(31);
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let signed_up = Account::sign_up(
            SignUp {
                account_name: "Acme".parse().unwrap(),
                owner_email: email("owner@acme.test"),
                owner_name: "Olive Owner".parse().unwrap(),
                tenant_name: "Production".parse().unwrap(),
                plan,
                trial: false,
            },
            &mut Context {
                now,
                random: &mut random,
                key: &key,
            },
        );
        World {
            owner: signed_up.owner_id,
            tenant: signed_up.tenant_id,
            account: signed_up.account,
            key,
            random,
            now,
            idp: Idp::new(),
        }
    }

    fn owner(&self) -> Actor {
        Actor::user(self.owner.clone())
    }

    fn apply(&mut self, actor: &Actor, command: Command) -> Result<Outcome, Refusal> {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account.apply(actor, command, &mut context)
    }

    /// Applies a command that must be refused, and checks that nothing changed.
    fn refused(&mut self, actor: &Actor, command: Command) -> Refusal {
        let before = self.account.clone();
        let refusal = self.apply(actor, command).expect_err("should be refused");
        assert_eq!(
            self.account, before,
            "a refused command changed the account"
        );
        refusal
    }

    fn connection_with(&mut self, allow_jit_provisioning: bool) -> SsoConnectionId {
        let create = Command::CreateSsoConnection {
            name: "Acme IdP".parse().unwrap(),
            protocol: SsoProtocolSettings::Oidc(OidcSettings {
                issuer: ISSUER.parse().unwrap(),
                client_id: CLIENT_ID.parse().unwrap(),
                client_secret: Secret::new(CLIENT_SECRET.into()),
            }),
            allow_jit_provisioning,
        };
        let Outcome::SsoConnectionCreated { connection } =
            self.apply(&self.owner(), create).unwrap()
        else {
            panic!("no connection")
        };
        connection.connection_id
    }

    fn connection(&mut self) -> SsoConnectionId {
        self.connection_with(false)
    }

    fn begin(&mut self, connection: &SsoConnectionId) -> OidcStart {
        self.begin_with(connection, &metadata()).unwrap()
    }

    fn begin_with(
        &mut self,
        connection: &SsoConnectionId,
        metadata: &OidcProviderMetadata,
    ) -> Result<OidcStart, Refusal> {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account.begin_oidc_sign_in(
            connection,
            metadata,
            REDIRECT_URI,
            Some(&email("ana@acme.test")),
            &mut context,
        )
    }

    /// A sign-in started with `connection`, and a good ID token for it naming `address`.
    fn started(&mut self, connection: &SsoConnectionId, address: &str) -> (OidcStart, String) {
        let start = self.begin(connection);
        let token = self.idp.sign(&self.claims(&start, address));
        (start, token)
    }

    /// The claims a good ID token for the sign-in `start` carries, for `address`.
    fn claims(&self, start: &OidcStart, address: &str) -> Value {
        let nonce = query(&start.authorization_url)["nonce"].clone();
        let now = self.now.unix_seconds();
        json!({
            "iss": ISSUER, "sub": "248289761001", "aud": CLIENT_ID,
            "exp": now + 300, "iat": now, "nonce": nonce,
            "email": address, "email_verified": true, "name": "Ana Lima"
        })
    }

    fn complete(&mut self, state: &str, id_token: &str) -> Result<IssuedSession, Refusal> {
        let jwks = self.idp.jwks();
        self.complete_with(state, id_token, &jwks)
    }

    fn complete_with(
        &mut self,
        state: &str,
        id_token: &str,
        jwks: &Jwks,
    ) -> Result<IssuedSession, Refusal> {
        let before = self.account.clone();
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        let result = self.account.complete_oidc_sign_in(
            state,
            id_token,
            jwks,
            Some("Mozilla/5.0"),
            &mut context,
        );
        if result.is_err() {
            assert_eq!(
                self.account, before,
                "a refused sign-in changed the account"
            );
        }
        result
    }

    /// Completing the sign-in `start` with `claims` changed as `edit` says is refused with
    /// this token problem.
    fn token_problem(&mut self, edit: impl FnOnce(&mut Value)) -> TokenProblem {
        let connection = self.connection();
        let start = self.begin(&connection);
        let mut claims = self.claims(&start, "owner@acme.test");
        edit(&mut claims);
        let token = self.idp.sign(&claims);
        match self.complete(&start.state, &token) {
            Err(Refusal::SsoTokenInvalid(problem)) => problem,
            other => panic!("expected sso_token_invalid, got {other:?}"),
        }
    }

    /// An active member of the tenant with no permission.
    fn member(&mut self, address: &str) -> UserId {
        let invite = Command::InviteMember {
            tenant_id: self.tenant.clone(),
            email: email(address),
            name: None,
            permissions: PermissionSet::EMPTY,
        };
        let Outcome::MemberAdded {
            user_id,
            invitation,
            ..
        } = self.apply(&self.owner(), invite).unwrap()
        else {
            panic!()
        };
        let code = invitation.unwrap().code.expose().to_owned();
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account
            .accept_invitation(&email(address), &code, None, &mut context)
            .unwrap();
        user_id
    }
}

// ----- connections ----------------------------------------------------------------------------

#[test]
fn company_admins_manage_connections_and_no_view_shows_the_secret() {
    let mut world = World::new();
    let member = world.member("ana@acme.test");
    let create = |name: &str| Command::CreateSsoConnection {
        name: name.parse().unwrap(),
        protocol: SsoProtocolSettings::Oidc(OidcSettings {
            issuer: ISSUER.parse().unwrap(),
            client_id: CLIENT_ID.parse().unwrap(),
            client_secret: Secret::new(CLIENT_SECRET.into()),
        }),
        allow_jit_provisioning: false,
    };
    let refusal = world.refused(&Actor::user(member.clone()), create("Mine"));
    assert_eq!(refusal, Refusal::NotCompanyAdmin);
    let Outcome::SsoConnectionCreated { connection } =
        world.apply(&world.owner(), create("Acme IdP")).unwrap()
    else {
        panic!()
    };
    assert!(connection.connection_id.as_str().starts_with("sso_"));
    assert_eq!(
        connection.protocol,
        SsoProtocolView::Oidc {
            issuer: ISSUER.parse().unwrap(),
            client_id: CLIENT_ID.parse().unwrap(),
            client_secret_set: true,
        }
    );
    assert!(!connection.allow_jit_provisioning);
    let id = connection.connection_id.clone();
    let views = world
        .account
        .view_sso_connections(&world.owner(), world.now)
        .unwrap();
    assert_eq!(views, vec![connection.clone()]);
    assert_eq!(
        world
            .account
            .view_sso_connection(&world.owner(), &id, world.now)
            .unwrap(),
        connection
    );
    assert_eq!(
        world
            .account
            .view_sso_connections(&Actor::user(member), world.now)
            .unwrap_err()
            .code(),
        "not_company_admin"
    );
    let view_json = serde_json::to_string(&views).unwrap();
    assert!(
        view_json.contains(r#""client_secret_set":true"#),
        "{view_json}"
    );
    assert!(view_json.contains(r#""type":"oidc""#), "{view_json}");
    // Neither the stored account, nor a view, nor the audit log holds the secret.
    let stored = serde_json::to_string(&world.account).unwrap();
    for text in [&stored, &view_json, &format!("{:?}", world.account)] {
        assert!(!text.contains(CLIENT_SECRET));
    }
    let event = world.account.audit_log().events().last().unwrap();
    assert_eq!(event.body.action, "sso.connection_created");
    assert_eq!(event.body.target, id.as_str());
    assert_eq!(
        event.body.detail,
        format!("protocol=oidc issuer={ISSUER} client_id={CLIENT_ID} allow_jit_provisioning=false")
    );
    assert_eq!(event.body.tenant, None);
    // The stored account reads back, sealed secret and all.
    let back: Account = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, world.account);
}

#[test]
fn an_account_holds_at_most_ten_connections() {
    let mut world = World::new();
    for _ in 0..10 {
        world.connection();
    }
    let create = Command::CreateSsoConnection {
        name: "Eleventh".parse().unwrap(),
        protocol: SsoProtocolSettings::Oidc(OidcSettings {
            issuer: ISSUER.parse().unwrap(),
            client_id: CLIENT_ID.parse().unwrap(),
            client_secret: Secret::new(CLIENT_SECRET.into()),
        }),
        allow_jit_provisioning: false,
    };
    assert_eq!(
        world.refused(&world.owner(), create).code(),
        "quota_exceeded"
    );
}

#[test]
fn client_secrets_must_be_printable_and_bounded() {
    let mut world = World::new();
    for bad in [String::new(), "a\nb".to_owned(), "x".repeat(1025)] {
        let create = Command::CreateSsoConnection {
            name: "Acme IdP".parse().unwrap(),
            protocol: SsoProtocolSettings::Oidc(OidcSettings {
                issuer: ISSUER.parse().unwrap(),
                client_id: CLIENT_ID.parse().unwrap(),
                client_secret: Secret::new(bad),
            }),
            allow_jit_provisioning: false,
        };
        assert_eq!(world.refused(&world.owner(), create).code(), "out_of_range");
    }
}

#[test]
fn commands_parse_from_json_and_refuse_plain_http_issuers() {
    let body = format!(
        r#"{{"command":"create_sso_connection","name":"Okta","protocol":{{"type":"oidc",
        "issuer":"{ISSUER}","client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}"}}}}"#
    );
    let command = Command::from_json(body.as_bytes()).unwrap();
    assert_eq!(command.name(), "create_sso_connection");
    assert!(!format!("{command:?}").contains(CLIENT_SECRET));
    let Command::CreateSsoConnection {
        allow_jit_provisioning,
        ..
    } = command
    else {
        panic!()
    };
    assert!(
        !allow_jit_provisioning,
        "provisioning is off unless turned on"
    );
    let http = body.replace("https://idp.acme.test", "http://idp.acme.test");
    let error = Command::from_json(http.as_bytes()).unwrap_err();
    assert!(
        error.to_string().contains("issuer must use https"),
        "{error}"
    );
    let update = br#"{"command":"update_sso_connection","connection_id":"sso_0123456789abcdef",
        "oidc":{"client_secret":"new"},"allow_jit_provisioning":true}"#;
    let Command::UpdateSsoConnection { oidc, .. } = Command::from_json(update).unwrap() else {
        panic!()
    };
    assert_eq!(oidc.unwrap().client_secret.unwrap().expose(), "new");
    let unknown = br#"{"command":"update_sso_connection","connection_id":"sso_0123456789abcdef",
        "oidc":{"secret":"new"}}"#;
    assert!(Command::from_json(unknown).is_err());
}

#[test]
fn updates_rename_rotate_and_end_sign_ins_started_with_old_settings() {
    let mut world = World::new();
    let connection = world.connection();
    let started = world.begin(&connection);
    // A rename or a provisioning switch leaves sign-ins under way alone.
    let rename = Command::UpdateSsoConnection {
        connection_id: connection.clone(),
        name: Some("Renamed".parse().unwrap()),
        oidc: None,
        saml: None,
        allow_jit_provisioning: Some(true),
    };
    let Outcome::SsoConnectionUpdated { connection: view } =
        world.apply(&world.owner(), rename).unwrap()
    else {
        panic!()
    };
    assert_eq!(view.name.as_str(), "Renamed");
    assert!(view.allow_jit_provisioning);
    let event = world.account.audit_log().events().last().unwrap();
    assert_eq!(event.body.action, "sso.connection_updated");
    assert_eq!(
        event.body.detail,
        "name=Renamed allow_jit_provisioning=true"
    );
    assert!(
        world
            .account
            .oidc_token_request(&started.state, "code", &world.key, world.now)
            .is_ok()
    );
    // Rotating the secret: the next token request carries the new one; the audit event
    // says it was rotated and never what it is; the pending sign-in is gone.
    let rotate = Command::UpdateSsoConnection {
        connection_id: connection.clone(),
        name: None,
        oidc: Some(OidcChange {
            client_secret: Some(Secret::new("rotated-secret".into())),
            ..OidcChange::default()
        }),
        saml: None,
        allow_jit_provisioning: None,
    };
    world.apply(&world.owner(), rotate).unwrap();
    let event = world.account.audit_log().events().last().unwrap();
    assert_eq!(event.body.detail, "client_secret=rotated");
    assert_eq!(
        world
            .account
            .oidc_token_request(&started.state, "code", &world.key, world.now)
            .unwrap_err(),
        Refusal::SsoStateInvalid
    );
    let again = world.begin(&connection);
    let request = world
        .account
        .oidc_token_request(&again.state, "code", &world.key, world.now)
        .unwrap();
    assert_eq!(request.client_secret.expose(), "rotated-secret");
    assert!(
        !serde_json::to_string(&world.account)
            .unwrap()
            .contains("rotated-secret")
    );
    // A new issuer: the metadata of the old one no longer starts a sign-in.
    let move_issuer = Command::UpdateSsoConnection {
        connection_id: connection.clone(),
        name: None,
        oidc: Some(OidcChange {
            issuer: Some("https://login.acme.test/v2".parse().unwrap()),
            ..OidcChange::default()
        }),
        saml: None,
        allow_jit_provisioning: None,
    };
    world.apply(&world.owner(), move_issuer).unwrap();
    assert_eq!(
        world.begin_with(&connection, &metadata()).unwrap_err(),
        Refusal::SsoProviderInvalid("its metadata names another issuer")
    );
    assert_eq!(
        world.account.oidc_discovery_url(&connection).unwrap(),
        "https://login.acme.test/v2/.well-known/openid-configuration"
    );
    let unknown = Command::UpdateSsoConnection {
        connection_id: "sso_00000000000000ff".parse().unwrap(),
        name: None,
        oidc: None,
        saml: None,
        allow_jit_provisioning: None,
    };
    assert_eq!(
        world.refused(&world.owner(), unknown).code(),
        "sso_connection_not_found"
    );
}

#[test]
fn deleting_a_connection_ends_its_sign_ins() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    let delete = Command::DeleteSsoConnection {
        connection_id: connection.clone(),
    };
    let member = world.member("ana@acme.test");
    assert_eq!(
        world.refused(&Actor::user(member), delete.clone()).code(),
        "not_company_admin"
    );
    let outcome = world.apply(&world.owner(), delete).unwrap();
    assert!(
        matches!(outcome, Outcome::SsoConnectionDeleted { connection_id } if connection_id == connection)
    );
    let event = world.account.audit_log().events().last().unwrap();
    assert_eq!(event.body.action, "sso.connection_deleted");
    let token = world.idp.sign(&world.claims(&start, "owner@acme.test"));
    assert_eq!(
        world.complete(&start.state, &token).unwrap_err(),
        Refusal::SsoStateInvalid
    );
    assert_eq!(
        world
            .account
            .oidc_discovery_url(&connection)
            .unwrap_err()
            .code(),
        "sso_connection_not_found"
    );
}

// ----- starting a sign-in ---------------------------------------------------------------------

#[test]
fn a_sign_in_starts_with_state_nonce_and_a_pkce_challenge() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    assert_eq!(
        account_of_state(&start.state).as_ref(),
        Some(world.account.id())
    );
    assert_eq!(start.expires_at, world.now.plus_seconds(600));
    assert!(
        start
            .authorization_url
            .starts_with(&format!("{ISSUER}/auth?"))
    );
    let params = query(&start.authorization_url);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(params["scope"], "openid email profile");
    assert_eq!(params["state"], start.state);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["login_hint"], "ana@acme.test");
    assert_eq!(params["nonce"].len(), 43);
    // The verifier the token request sends is the one the challenge commits to, and it is
    // never in the authorization URL.
    let request = world
        .account
        .oidc_token_request(&start.state, "the-code", &world.key, world.now)
        .unwrap();
    let verifier = request.code_verifier.expose();
    assert_eq!(pkce_challenge(verifier), params["code_challenge"]);
    assert!(!start.authorization_url.contains(verifier));
    assert_eq!(request.redirect_uri, REDIRECT_URI);
    assert_eq!(request.token_endpoint, format!("{ISSUER}/token"));
    assert_eq!(request.jwks_uri, format!("{ISSUER}/jwks"));
    assert_eq!(request.client_id, CLIENT_ID);
    assert_eq!(request.client_secret.expose(), CLIENT_SECRET);
    assert_eq!(request.auth_method, TokenEndpointAuth::ClientSecretBasic);
    assert!(request.body().expose().contains("code=the-code"));
    assert!(request.authorization().is_some());
    // Nothing of the state, the nonce or the verifier is stored as such, and starting a
    // sign-in records no audit event.
    let stored = serde_json::to_string(&world.account).unwrap();
    assert!(!stored.contains(&start.state));
    assert!(!stored.contains(&params["nonce"]));
    assert!(!stored.contains(verifier));
    assert_eq!(
        world
            .account
            .audit_log()
            .events()
            .last()
            .unwrap()
            .body
            .action,
        "sso.connection_created"
    );
}

#[test]
fn the_token_request_uses_client_secret_post_when_the_provider_only_has_that() {
    let mut world = World::new();
    let connection = world.connection();
    let mut post_only = metadata();
    post_only.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
    let start = world.begin_with(&connection, &post_only).unwrap();
    let request = world
        .account
        .oidc_token_request(&start.state, "c", &world.key, world.now)
        .unwrap();
    assert_eq!(request.auth_method, TokenEndpointAuth::ClientSecretPost);
    assert!(request.authorization().is_none());
    assert!(
        request
            .body()
            .expose()
            .contains(&format!("client_secret={CLIENT_SECRET}"))
    );
}

#[test]
fn metadata_of_another_issuer_or_without_pkce_does_not_start_a_sign_in() {
    let mut world = World::new();
    let connection = world.connection();
    let mut other = metadata();
    other.issuer = "https://evil.test".into();
    let before = world.account.clone();
    let refusal = world.begin_with(&connection, &other).unwrap_err();
    assert_eq!(refusal.code(), "sso_provider_invalid");
    let mut no_pkce = metadata();
    no_pkce.code_challenge_methods_supported = Some(vec!["plain".into()]);
    assert_eq!(
        world.begin_with(&connection, &no_pkce).unwrap_err().code(),
        "sso_provider_invalid"
    );
    let unknown: SsoConnectionId = "sso_00000000000000ff".parse().unwrap();
    assert_eq!(
        world.begin_with(&unknown, &metadata()).unwrap_err(),
        Refusal::UnknownSsoConnection(unknown)
    );
    assert_eq!(world.account, before);
}

#[test]
fn at_most_a_hundred_sign_ins_wait_and_the_oldest_goes_first() {
    let mut world = World::new();
    let connection = world.connection();
    let first = world.begin(&connection);
    world.now = world.now.plus_seconds(1);
    let second = world.begin(&connection);
    world.now = world.now.plus_seconds(1);
    for _ in 0..99 {
        world.begin(&connection);
    }
    // Each pending sign-in is a row of its own: a start writes one, and the first start's
    // row went when the hundred-and-first came. Stored and loaded again (a Durable Object
    // restarting), the account is the same, oldest first.
    let before = world.account.clone();
    world.begin(&connection);
    let changes = world.account.changes_since(&before).unwrap();
    let flows: Vec<_> = changes
        .rows
        .iter()
        .filter(|change| change.target().0 == RowKind::SsoFlow)
        .collect();
    assert_eq!(flows.len(), 2, "{flows:?}");
    world.account = before;
    let rows = world.account.to_rows().unwrap();
    assert!(rows.iter().all(|row| row.value.len() < 2_000));
    let reloaded = Account::from_rows(rows).unwrap();
    assert!(reloaded == world.account);
    world.account = reloaded;
    let token = world.idp.sign(&world.claims(&first, "owner@acme.test"));
    assert_eq!(
        world.complete(&first.state, &token).unwrap_err(),
        Refusal::SsoStateInvalid
    );
    let token = world.idp.sign(&world.claims(&second, "owner@acme.test"));
    assert!(world.complete(&second.state, &token).is_ok());
}

// ----- completing a sign-in -------------------------------------------------------------------

#[test]
fn a_verified_email_of_an_active_user_opens_a_session_the_edge_accepts() {
    let mut world = World::new();
    let connection = world.connection();
    let (start, token) = world.started(&connection, "Owner@Acme.test");
    let issued = world.complete(&start.state, &token).unwrap();
    assert_eq!(issued.user_id, world.owner);
    let verification = world.account.verify_session(
        issued.session.expose(),
        &world.tenant,
        &world.key,
        world.now,
    );
    let SessionVerification::Valid(principal) = verification else {
        panic!("{verification:?}")
    };
    assert_eq!(principal.kind.user_id(), Some(&world.owner));
    assert_eq!(principal.permissions, PermissionSet::all());
    let actor = Actor::via_session(world.owner.clone(), issued.session_id.clone());
    let sessions = world.account.sessions(&actor, world.now).unwrap();
    assert_eq!(
        sessions[0].method,
        SignInMethod::Sso {
            connection: connection.clone()
        }
    );
    let event = world.account.audit_log().events().last().unwrap();
    assert_eq!(event.body.action, "session.signed_in");
    assert_eq!(
        event.body.detail,
        format!("method=sso connection={connection}")
    );
    assert!(!event.body.detail.contains(issued.session.expose()));
    // The pending sign-in is used up: the same callback again is refused.
    assert_eq!(
        world.complete(&start.state, &token).unwrap_err(),
        Refusal::SsoStateInvalid
    );
    assert_eq!(
        world
            .account
            .oidc_token_request(&start.state, "c", &world.key, world.now)
            .unwrap_err(),
        Refusal::SsoStateInvalid
    );
}

#[test]
fn es256_tokens_verify_too() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    let token = world.idp.es256(&world.claims(&start, "owner@acme.test"));
    assert!(world.complete(&start.state, &token).is_ok());
}

#[test]
fn a_replayed_state_is_refused() {
    let mut world = World::new();
    let connection = world.connection();
    let (start, token) = world.started(&connection, "owner@acme.test");
    world.complete(&start.state, &token).unwrap();
    let refusal = world.complete(&start.state, &token).unwrap_err();
    assert_eq!(refusal.code(), "sso_state_invalid");
    assert_eq!(refusal.class(), RefusalClass::Unauthenticated);
}

#[test]
fn an_expired_state_is_refused() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    let mut claims = world.claims(&start, "owner@acme.test");
    world.now = world.now.plus_seconds(600);
    claims["exp"] = json!(world.now.unix_seconds() + 300);
    let token = world.idp.sign(&claims);
    assert_eq!(
        world.complete(&start.state, &token).unwrap_err(),
        Refusal::SsoStateInvalid
    );
}

#[test]
fn a_state_of_another_account_or_made_up_is_refused() {
    let mut world = World::new();
    let connection = world.connection();
    let (start, token) = world.started(&connection, "owner@acme.test");
    let other_account = format!(
        "acc_00000000000000ff.{}",
        start.state.split_once('.').unwrap().1
    );
    let made_up = format!("{}.{}", world.account.id(), "A".repeat(43));
    for state in [other_account.as_str(), made_up.as_str(), "", "x.y"] {
        assert_eq!(
            world.complete(state, &token).unwrap_err(),
            Refusal::SsoStateInvalid,
            "{state}"
        );
    }
}

#[test]
fn a_forged_signature_is_refused() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    let claims = world.claims(&start, "owner@acme.test");
    let forged = world.idp.rs256(KID, &claims, true);
    let refusal = world.complete(&start.state, &forged).unwrap_err();
    assert_eq!(
        refusal,
        Refusal::SsoTokenInvalid(TokenProblem::BadSignature)
    );
    assert_eq!(refusal.code(), "sso_token_invalid");
    assert_eq!(refusal.class(), RefusalClass::Unauthenticated);
    // The public message says nothing about why; the problem keeps it for logs.
    assert!(!refusal.to_string().contains("signature"), "{refusal}");
    let Refusal::SsoTokenInvalid(problem) = &refusal else {
        panic!()
    };
    assert_eq!(problem.code(), "bad_signature");
    // A claim changed after signing is a bad signature too.
    let good = world.idp.sign(&claims);
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut altered = claims.clone();
    altered["email"] = json!("someone-else@acme.test");
    let payload = URL_SAFE_NO_PAD.encode(altered.to_string());
    parts[1] = &payload;
    assert_eq!(
        world.complete(&start.state, &parts.join(".")).unwrap_err(),
        Refusal::SsoTokenInvalid(TokenProblem::BadSignature)
    );
}

#[test]
fn a_token_signed_under_an_unknown_kid_is_refused_so_the_worker_refetches_the_keys() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    let claims = world.claims(&start, "owner@acme.test");
    let token = world.idp.rs256("rotated-2", &claims, false);
    assert_eq!(
        world.complete(&start.state, &token).unwrap_err(),
        Refusal::SsoTokenInvalid(TokenProblem::UnknownKey(Some("rotated-2".into())))
    );
    // Keys fetched again (the refusal changed nothing): the same token now verifies.
    let rotated = world.idp.jwks_json().replace(KID, "rotated-2");
    let jwks = Jwks::from_json(rotated.as_bytes()).unwrap();
    assert!(world.complete_with(&start.state, &token, &jwks).is_ok());
}

#[test]
fn a_token_of_another_issuer_is_refused() {
    let mut world = World::new();
    let problem = world.token_problem(|claims| claims["iss"] = json!("https://evil.test"));
    assert_eq!(
        problem,
        TokenProblem::WrongIssuer("https://evil.test".into())
    );
    let problem = world.token_problem(|claims| claims["iss"] = json!(format!("{ISSUER}/")));
    assert_eq!(problem.code(), "wrong_issuer");
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let mut world = World::new();
    assert_eq!(
        world.token_problem(|claims| claims["aud"] = json!("someone-else")),
        TokenProblem::WrongAudience
    );
    assert_eq!(
        world.token_problem(|claims| claims["aud"] = json!(["someone-else", "another"])),
        TokenProblem::WrongAudience
    );
    // Several audiences need `azp`, and `azp` must be the client.
    assert_eq!(
        world.token_problem(|claims| claims["aud"] = json!([CLIENT_ID, "another"])),
        TokenProblem::WrongAuthorizedParty
    );
    assert_eq!(
        world.token_problem(|claims| claims["azp"] = json!("another")),
        TokenProblem::WrongAuthorizedParty
    );
    let connection = world.connection();
    let start = world.begin(&connection);
    let mut claims = world.claims(&start, "owner@acme.test");
    claims["aud"] = json!([CLIENT_ID, "another"]);
    claims["azp"] = json!(CLIENT_ID);
    let token = world.idp.sign(&claims);
    assert!(world.complete(&start.state, &token).is_ok());
}

#[test]
fn an_expired_token_is_refused_beyond_a_minute_of_leeway() {
    let mut world = World::new();
    let now = world.now.unix_seconds();
    assert_eq!(
        world.token_problem(|claims| claims["exp"] = json!(now - 61)),
        TokenProblem::Expired
    );
    assert_eq!(
        world.token_problem(|claims| claims["iat"] = json!(now + 120)),
        TokenProblem::NotYetValid
    );
    assert_eq!(
        world.token_problem(|claims| claims["nbf"] = json!(now + 120)),
        TokenProblem::NotYetValid
    );
    assert_eq!(
        world.token_problem(|claims| {
            claims.as_object_mut().unwrap().remove("exp");
        }),
        TokenProblem::MissingClaim("exp")
    );
    assert_eq!(
        world.token_problem(|claims| claims["exp"] = json!("tomorrow")),
        TokenProblem::MalformedClaim("exp")
    );
    // Within the leeway, and with fractional times, it verifies.
    let connection = world.connection();
    let start = world.begin(&connection);
    let mut claims = world.claims(&start, "owner@acme.test");
    claims["exp"] = json!(now - 30);
    claims["iat"] = json!(now as f64 + 30.5);
    let token = world.idp.sign(&claims);
    assert!(world.complete(&start.state, &token).is_ok());
}

#[test]
fn a_token_with_another_nonce_is_refused() {
    let mut world = World::new();
    assert_eq!(
        world.token_problem(|claims| claims["nonce"] = json!("another-nonce")),
        TokenProblem::NonceMismatch
    );
    assert_eq!(
        world.token_problem(|claims| {
            claims.as_object_mut().unwrap().remove("nonce");
        }),
        TokenProblem::MissingClaim("nonce")
    );
    // The nonce of another pending sign-in of the same connection does not do either.
    let connection = world.connection();
    let first = world.begin(&connection);
    let second = world.begin(&connection);
    let token = world.idp.sign(&world.claims(&second, "owner@acme.test"));
    assert_eq!(
        world.complete(&first.state, &token).unwrap_err(),
        Refusal::SsoTokenInvalid(TokenProblem::NonceMismatch)
    );
}

#[test]
fn an_unverified_email_is_refused() {
    let mut world = World::new();
    for verified in [json!(false), json!("false"), json!(null), json!(1)] {
        assert_eq!(
            world.token_problem(|claims| claims["email_verified"] = verified),
            TokenProblem::EmailNotVerified
        );
    }
    assert_eq!(
        world.token_problem(|claims| {
            claims.as_object_mut().unwrap().remove("email_verified");
        }),
        TokenProblem::EmailNotVerified
    );
    assert_eq!(
        world.token_problem(|claims| {
            claims.as_object_mut().unwrap().remove("email");
        }),
        TokenProblem::MissingClaim("email")
    );
    assert_eq!(
        world.token_problem(|claims| claims["email"] = json!("not an email")),
        TokenProblem::EmailInvalid
    );
    // Some providers send the string "true"; that is verified.
    let connection = world.connection();
    let start = world.begin(&connection);
    let mut claims = world.claims(&start, "owner@acme.test");
    claims["email_verified"] = json!("true");
    assert!(
        world
            .complete(&start.state, &world.idp.sign(&claims))
            .is_ok()
    );
}

#[test]
fn an_unknown_pending_or_inactive_user_gets_one_answer_without_provisioning() {
    let mut world = World::new();
    let connection = world.connection();
    // Pending: invited, never accepted.
    let invite = Command::InviteMember {
        tenant_id: world.tenant.clone(),
        email: email("pending@acme.test"),
        name: None,
        permissions: PermissionSet::EMPTY,
    };
    world.apply(&world.owner(), invite).unwrap();
    // Inactive: deactivated by the owner.
    let inactive = world.member("gone@acme.test");
    world
        .apply(
            &world.owner(),
            Command::DeactivateUser {
                user_id: inactive.clone(),
            },
        )
        .unwrap();
    let users_before = world.account.users().count();
    let mut answers = Vec::new();
    for address in ["nobody@acme.test", "pending@acme.test", "gone@acme.test"] {
        let (start, token) = world.started(&connection, address);
        let refusal = world.complete(&start.state, &token).unwrap_err();
        answers.push((refusal.code(), refusal.class(), refusal.to_string()));
    }
    assert_eq!(answers[0].0, "sso_user_unknown");
    assert_eq!(answers[0].1, RefusalClass::Unauthenticated);
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    assert_eq!(world.account.users().count(), users_before);
    assert_eq!(
        world.account.user(&inactive).unwrap().status,
        UserStatus::Inactive
    );
}

#[test]
fn provisioning_creates_an_active_user_with_no_role_and_no_permission() {
    let mut world = World::new();
    let connection = world.connection_with(true);
    let start = world.begin(&connection);
    let token = world
        .idp
        .sign(&world.claims(&start, "New.Person@Acme.test"));
    let issued = world.complete(&start.state, &token).unwrap();
    let user = world.account.user(&issued.user_id).unwrap().clone();
    assert_eq!(user.email.as_str(), "new.person@acme.test");
    assert_eq!(user.name.as_str(), "Ana Lima");
    assert_eq!(user.status, UserStatus::Active);
    assert!(user.invitation.is_none());
    assert!(world.account.company_roles(&user.id).is_empty());
    assert!(
        world
            .account
            .tenants()
            .all(|tenant| tenant.granted(&user.id).is_none())
    );
    // The session is real, and acts in no tenant.
    assert_eq!(
        world
            .account
            .verify_session(
                issued.session.expose(),
                &world.tenant,
                &world.key,
                world.now
            )
            .code(),
        "not_member"
    );
    let actions: Vec<&str> = world
        .account
        .audit_log()
        .events()
        .iter()
        .rev()
        .take(2)
        .map(|event| event.body.action.as_str())
        .collect();
    assert_eq!(actions, ["session.signed_in", "user.provisioned"]);
    let provisioned = &world
        .account
        .audit_log()
        .events()
        .iter()
        .rev()
        .nth(1)
        .unwrap()
        .body;
    assert_eq!(provisioned.target, user.id.as_str());
    assert_eq!(provisioned.detail, format!("connection={connection}"));
    assert_eq!(provisioned.actor.as_ref(), Some(&user.id));
    // The next sign-in finds the user; nobody is created twice.
    let start = world.begin(&connection);
    let token = world
        .idp
        .sign(&world.claims(&start, "new.person@acme.test"));
    assert_eq!(
        world.complete(&start.state, &token).unwrap().user_id,
        user.id
    );
    // Without a name claim, the local part names the user.
    let start = world.begin(&connection);
    let mut claims = world.claims(&start, "kim@acme.test");
    claims.as_object_mut().unwrap().remove("name");
    let issued = world
        .complete(&start.state, &world.idp.sign(&claims))
        .unwrap();
    assert_eq!(
        world.account.user(&issued.user_id).unwrap().name.as_str(),
        "kim"
    );
}

#[test]
fn provisioning_keeps_to_the_user_limit_and_never_revives_a_user() {
    // A free account holds one user, its owner.
    let mut world = World::on(plan_named("free"));
    let connection = world.connection_with(true);
    let (start, token) = world.started(&connection, "new@acme.test");
    let refusal = world.complete(&start.state, &token).unwrap_err();
    assert_eq!(refusal, Refusal::UserLimit { limit: 1 });
    assert!(
        world
            .account
            .user_by_email(&email("new@acme.test"))
            .is_none()
    );
    // An inactive user stays inactive, provisioning or not.
    let mut world = World::new();
    let connection = world.connection_with(true);
    let inactive = world.member("gone@acme.test");
    world
        .apply(
            &world.owner(),
            Command::DeactivateUser {
                user_id: inactive.clone(),
            },
        )
        .unwrap();
    let (start, token) = world.started(&connection, "gone@acme.test");
    assert_eq!(
        world.complete(&start.state, &token).unwrap_err(),
        Refusal::SsoUserUnknown
    );
}

#[test]
fn an_inactive_user_is_refused() {
    let mut world = World::new();
    let connection = world.connection();
    let user = world.member("ana@acme.test");
    let (start, token) = world.started(&connection, "ana@acme.test");
    world
        .apply(&world.owner(), Command::DeactivateUser { user_id: user })
        .unwrap();
    assert_eq!(
        world.complete(&start.state, &token).unwrap_err().code(),
        "sso_user_unknown"
    );
}

#[test]
fn malformed_tokens_and_token_responses_are_refused() {
    let mut world = World::new();
    let connection = world.connection();
    let start = world.begin(&connection);
    for token in ["", "not.a.jwt", "a.b", &"x".repeat(20_000)] {
        let refusal = world.complete(&start.state, token).unwrap_err();
        assert_eq!(refusal.code(), "sso_token_invalid", "{token:.20}");
    }
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let claims = URL_SAFE_NO_PAD.encode(world.claims(&start, "owner@acme.test").to_string());
    assert_eq!(
        world
            .complete(&start.state, &format!("{header}.{claims}."))
            .unwrap_err(),
        Refusal::SsoTokenInvalid(TokenProblem::UnsupportedAlgorithm("none".into()))
    );
    assert_eq!(
        id_token_from_token_response(br#"{"error":"invalid_grant","error_description":"x"}"#),
        Err(TokenProblem::ProviderError("invalid_grant".into()))
    );
}

// ----- stored state ---------------------------------------------------------------------------

#[test]
fn accounts_and_sessions_stored_before_sso_still_load() {
    let mut world = World::new();
    let connection = world.connection();
    world.begin(&connection);
    let tenant_id = world.tenant.clone();
    let sso = Command::UpdateTenantSettings {
        tenant_id,
        name: None,
        plan: None,
        sso: Some(SsoChange {
            enforced: true,
            breakglass: Some(world.owner.clone()),
            connection: Some(connection.clone()),
        }),
    };
    world.apply(&world.owner(), sso).unwrap();
    // The account with its connection and pending sign-in round-trips.
    let stored = serde_json::to_value(&world.account).unwrap();
    let back: Account = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(back, world.account);
    // Without the fields SSO added (account `sso`, tenant `sso.connection`), it loads.
    let mut old = stored;
    old.as_object_mut().unwrap().remove("sso");
    for tenant in old["tenants"].as_object_mut().unwrap().values_mut() {
        tenant["sso"].as_object_mut().unwrap().remove("connection");
    }
    let old: Account = serde_json::from_value(old).unwrap();
    assert!(old.tenant(&world.tenant).unwrap().sso.connection.is_none());
    // Sessions signed in by password read as before; SSO ones name their connection.
    assert_eq!(
        serde_json::from_str::<SignInMethod>(r#""password""#).unwrap(),
        SignInMethod::Password
    );
    let method = SignInMethod::Sso { connection };
    let json = serde_json::to_string(&method).unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"sso":{{"connection":"{}"}}}}"#,
            match &method {
                SignInMethod::Sso { connection } => connection.as_str(),
                SignInMethod::Password => unreachable!(),
            }
        )
    );
    assert_eq!(serde_json::from_str::<SignInMethod>(&json).unwrap(), method);
    assert_eq!(method.name(), "sso");
}

// ----- against a real identity provider -------------------------------------------------------

/// The whole flow against the real `oidc-provider` (npm) of `tests/idp/oidc-provider.mjs`,
/// started here on loopback, with `tests/idp/oidc-agent.mjs` doing the HTTP a worker would
/// (no protocol mock): metadata, the browser's trip through the authorization endpoint, the
/// token request and the key set. Needs Node and `npm install` at the repository root:
///
/// ```sh
/// cargo test -p portcullis-core --test sso -- --ignored
/// ```
#[test]
#[ignore = "needs node and the npm package oidc-provider (npm install)"]
fn a_real_oidc_provider_signs_a_user_in() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command as Process, Stdio};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let port = std::env::var("OIDC_IDP_PORT").unwrap_or_else(|_| "9411".into());
    let issuer = format!("http://127.0.0.1:{port}");
    let redirect_uri = "http://127.0.0.1:9/sso/oidc/callback";
    let secret = "real-idp-client-secret";
    let mut idp = Process::new("node")
        .arg(root.join("tests/idp/oidc-provider.mjs"))
        .env("OIDC_IDP_PORT", &port)
        .env("OIDC_CLIENT_ID", CLIENT_ID)
        .env("OIDC_CLIENT_SECRET", secret)
        .env("OIDC_REDIRECT_URI", redirect_uri)
        .env(
            "OIDC_ACCOUNTS",
            r#"{"owner@acme.test": true, "unverified@acme.test": false}"#,
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs tests/idp/oidc-provider.mjs");
    let mut lines = BufReader::new(idp.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert_eq!(ready, format!("ready {port}"));
    let agent = |args: &[&str]| -> String {
        let output = Process::new("node")
            .arg(root.join("tests/idp/oidc-agent.mjs"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "agent {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    let mut world = World::new();
    let create = Command::CreateSsoConnection {
        name: "oidc-provider".parse().unwrap(),
        protocol: SsoProtocolSettings::Oidc(OidcSettings {
            issuer: issuer.parse().unwrap(),
            client_id: CLIENT_ID.parse().unwrap(),
            client_secret: Secret::new(secret.into()),
        }),
        allow_jit_provisioning: false,
    };
    let Outcome::SsoConnectionCreated { connection } = world.apply(&world.owner(), create).unwrap()
    else {
        panic!()
    };
    let id = connection.connection_id;
    world.now = Timestamp::from_unix_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let sign_in = |world: &mut World, address: &str| -> Result<IssuedSession, Refusal> {
        let discovery = world.account.oidc_discovery_url(&id).unwrap();
        let metadata =
            OidcProviderMetadata::from_json(agent(&["get", &discovery]).as_bytes()).unwrap();
        let mut context = Context {
            now: world.now,
            random: &mut world.random,
            key: &world.key,
        };
        let start = world
            .account
            .begin_oidc_sign_in(
                &id,
                &metadata,
                redirect_uri,
                Some(&email(address)),
                &mut context,
            )
            .unwrap();
        let callback = agent(&["authorize", &start.authorization_url, redirect_uri]);
        let params = query(callback.trim());
        assert_eq!(params["state"], start.state);
        let request = world
            .account
            .oidc_token_request(&params["state"], &params["code"], &world.key, world.now)
            .unwrap();
        let authorization = request
            .authorization()
            .map(|header| header.expose().to_owned());
        let response = agent(&[
            "token",
            &request.token_endpoint,
            authorization.as_deref().unwrap_or(""),
            request.body().expose(),
        ]);
        let id_token = id_token_from_token_response(response.as_bytes()).unwrap();
        let jwks = Jwks::from_json(agent(&["get", &request.jwks_uri]).as_bytes()).unwrap();
        let mut context = Context {
            now: world.now,
            random: &mut world.random,
            key: &world.key,
        };
        world
            .account
            .complete_oidc_sign_in(&start.state, &id_token, &jwks, None, &mut context)
    };
    let issued = sign_in(&mut world, "owner@acme.test");
    let unverified = sign_in(&mut world, "unverified@acme.test");
    idp.kill().unwrap();
    idp.wait().unwrap();
    let issued = issued.unwrap();
    assert_eq!(issued.user_id, world.owner);
    assert!(
        world
            .account
            .verify_session(
                issued.session.expose(),
                &world.tenant,
                &world.key,
                world.now
            )
            .principal()
            .is_some()
    );
    assert_eq!(
        unverified.unwrap_err(),
        Refusal::SsoTokenInvalid(TokenProblem::EmailNotVerified)
    );
}

// ----- SAML (the protocol checks against real IdP responses are in tests/e2e/saml.test.mjs) --

/// Built with the core's `saml` feature (which `cargo test --workspace` turns on through the
/// worker).
#[cfg(feature = "saml")]
mod saml {
    use super::*;

    const SAML_CERTIFICATE: &str = include_str!("../src/sso/test-idp-cert.pem");
    const ORIGIN: &str = "https://auth.portcullis.test";

    impl World {
        fn saml_connection(&mut self) -> SsoConnectionId {
            let protocol: SsoProtocolSettings = serde_json::from_value(json!({
                "type": "saml",
                "idp_entity_id": "https://idp.acme.test/metadata",
                "idp_sso_url": "https://idp.acme.test/sso?tenant=acme",
                "idp_certificates": [SAML_CERTIFICATE],
            }))
            .unwrap();
            let create = Command::CreateSsoConnection {
                name: "Acme SAML".parse().unwrap(),
                protocol,
                allow_jit_provisioning: false,
            };
            let Outcome::SsoConnectionCreated { connection } =
                self.apply(&self.owner(), create).unwrap()
            else {
                panic!("no connection")
            };
            connection.connection_id
        }

        fn begin_saml(
            &mut self,
            connection: &SsoConnectionId,
        ) -> Result<portcullis_core::sso::SamlStart, Refusal> {
            let mut context = Context {
                now: self.now,
                random: &mut self.random,
                key: &self.key,
            };
            self.account
                .begin_saml_sign_in(connection, ORIGIN, &mut context)
        }

        /// Completes a SAML sign-in that must be refused, and checks that nothing changed.
        fn saml_refused(&mut self, relay_state: &str, response: &str) -> Refusal {
            let before = self.account.clone();
            let mut context = Context {
                now: self.now,
                random: &mut self.random,
                key: &self.key,
            };
            let refusal = self
                .account
                .complete_saml_sign_in(relay_state, response, None, &mut context)
                .expect_err("should be refused");
            assert_eq!(
                self.account, before,
                "a refused SAML sign-in changed the account"
            );
            refusal
        }
    }

    #[test]
    fn a_saml_start_sends_an_authn_request_bound_to_a_state_of_the_account() {
        let mut world = World::new();
        let id = world.saml_connection();
        let start = world.begin_saml(&id).unwrap();
        assert_eq!(
            account_of_state(&start.state).as_ref(),
            Some(world.account.id())
        );
        assert!(start.state.len() <= 80, "RelayState is limited to 80 bytes");
        assert!(
            start
                .redirect_url
                .starts_with("https://idp.acme.test/sso?tenant=acme&SAMLRequest="),
            "{}",
            start.redirect_url
        );
        let parameters = query(&start.redirect_url);
        assert_eq!(parameters["RelayState"], start.state);
        assert!(STANDARD.decode(&parameters["SAMLRequest"]).is_ok());
        assert_eq!(start.expires_at, world.now.plus_seconds(600));
        // The view names what the IdP is given; the account stores no response yet.
        let sp = portcullis_core::sso::service_provider(ORIGIN, world.account.id(), &id);
        assert_eq!(
            sp.entity_id,
            format!("{ORIGIN}/v1/sso/saml/{}/{id}", world.account.id())
        );
        // An OIDC connection does not start SAML, nor the reverse.
        let oidc = world.connection();
        assert!(matches!(
            world.begin_saml(&oidc),
            Err(Refusal::OutOfRange(_))
        ));
        assert!(matches!(
            world.begin_with(&id, &metadata()),
            Err(Refusal::OutOfRange(_))
        ));
        assert_eq!(world.account.sso_connection_protocol(&id).unwrap(), "saml");
    }

    #[test]
    fn saml_responses_that_do_not_verify_are_refused_and_change_nothing() {
        let mut world = World::new();
        let id = world.saml_connection();
        let start = world.begin_saml(&id).unwrap();
        // Not a response; not base64; too large: one public refusal, the reason kept for logs.
        for response in ["", "not base64 !", &"A".repeat(200 * 1024)] {
            let refusal = world.saml_refused(&start.state, response);
            assert_eq!(refusal.code(), "sso_assertion_invalid", "{response:.20}");
            assert_eq!(refusal.class(), RefusalClass::Unauthenticated);
        }
        let unsigned = STANDARD.encode(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r\" \
             Version=\"2.0\" IssueInstant=\"2023-11-14T22:13:20Z\"/>",
        );
        assert_eq!(
            world.saml_refused(&start.state, &unsigned).code(),
            "sso_assertion_invalid"
        );
        // A state that was never started, or of another account, is no sign-in at all.
        let forged = format!("{}x", start.state);
        assert_eq!(
            world.saml_refused(&forged, &unsigned),
            Refusal::SsoStateInvalid
        );
        assert_eq!(
            world.saml_refused("acc_0000000000000000.abc", &unsigned),
            Refusal::SsoStateInvalid
        );
        // Changing the provider settings ends the sign-ins under way.
        let rotate: Command = serde_json::from_value(json!({
            "command": "update_sso_connection",
            "connection_id": id,
            "saml": { "idp_sso_url": "https://idp.acme.test/sso/v2" },
        }))
        .unwrap();
        world.apply(&world.owner(), rotate).unwrap();
        assert_eq!(
            world.saml_refused(&start.state, &unsigned),
            Refusal::SsoStateInvalid
        );
        // An OIDC change to a SAML connection is refused.
        let mismatch: Command = serde_json::from_value(json!({
            "command": "update_sso_connection",
            "connection_id": id,
            "oidc": { "client_id": "x" },
        }))
        .unwrap();
        let owner = world.owner();
        assert!(matches!(
            world.refused(&owner, mismatch),
            Refusal::OutOfRange(_)
        ));
    }
}

//! Signing in through an identity provider (OpenID Connect), the worker's part: the HTTP the
//! core cannot do. Every check is the core's (`portcullis_core::sso`).
//!
//! - `GET /v1/sso/start?account_id=…&connection_id=…[&login_hint=…]`: the edge asks the
//!   account's object where the connection's provider metadata is, fetches it (cached in the
//!   isolate for [`CACHE_SECONDS`]), has the object begin the sign-in (a pending sign-in with
//!   its state, nonce and PKCE verifier), sets the state cookie (`portcullis_core::browser`)
//!   and redirects the browser to the provider. Starts are charged to the client's rate
//!   limiter (each start stores a pending sign-in), and an unknown account answers like an
//!   unknown connection.
//! - `GET /v1/sso/callback?code=…&state=…`: the state must equal the cookie's; the object
//!   builds the token request, the edge sends it to the provider's token endpoint, fetches the
//!   provider's key set (cached; fetched again once when the token does not verify with the
//!   cached one, for a provider that rotated its keys) and the object completes the sign-in:
//!   the answer sets the session cookie (`SignedIn` without the session in the body).

use crate::api;
use crate::authn::{forward, header};
use crate::guard;
use crate::http::{self, Outgoing};
use crate::management::{account_known, session_answer};
use crate::problem::Problem;
use crate::protocol::{Concealed, ObjectRequest};
use portcullis_core::account::Refusal;
use portcullis_core::browser::{self, SsoReturn};
use portcullis_core::sso::{self, SsoConnectionId};
use portcullis_core::{AccountId, Email};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use worker::{Env, Fetch, Headers, Request, Response};

/// How long a fetched discovery document or key set is reused, in seconds.
pub const CACHE_SECONDS: u64 = 300;
/// How many provider documents one isolate keeps.
const CACHE_ENTRIES: usize = 64;
/// How long a sign-in may take at the provider: the state cookie's lifetime, in seconds.
const STATE_COOKIE_SECONDS: u64 = 600;

thread_local! {
    static DOCUMENTS: RefCell<BTreeMap<String, (u64, String)>> = const { RefCell::new(BTreeMap::new()) };
}

fn provider_unreachable() -> Problem {
    Problem::new(
        502,
        "sso_provider_unreachable",
        "the identity provider could not be reached or did not answer as expected",
    )
}

/// GETs a provider document (discovery or key set), from the isolate's cache unless `fresh`.
async fn document(url: &str, fresh: bool) -> Result<String, Problem> {
    let now = http::now().unix_seconds();
    if !fresh
        && let Some(text) = DOCUMENTS.with_borrow(|cache| {
            cache
                .get(url)
                .filter(|(at, _)| now.saturating_sub(*at) < CACHE_SECONDS)
                .map(|(_, text)| text.clone())
        })
    {
        return Ok(text);
    }
    let headers = Headers::new();
    headers
        .set("accept", "application/json")
        .map_err(|_| provider_unreachable())?;
    let request = http::outgoing(
        "GET",
        url,
        &Outgoing {
            headers: Some(&headers),
            ..Outgoing::default()
        },
    )
    .map_err(|_| provider_unreachable())?;
    let mut answer = Fetch::Request(request)
        .send()
        .await
        .map_err(|_| provider_unreachable())?;
    if answer.status_code() != 200 {
        return Err(provider_unreachable());
    }
    let text = answer.text().await.map_err(|_| provider_unreachable())?;
    DOCUMENTS.with_borrow_mut(|cache| {
        if cache.len() >= CACHE_ENTRIES {
            cache.pop_first();
        }
        cache.insert(url.to_owned(), (now, text.clone()));
    });
    Ok(text)
}

/// A JSON answer of the account's object, or its problem passed on as it is.
async fn object_json<T: serde::de::DeserializeOwned>(
    env: &Env,
    account: &AccountId,
    message: &ObjectRequest,
) -> Result<Result<T, Response>, Problem> {
    let mut answer = forward(env, account, message)
        .await?
        .map_err(|_| Problem::unavailable())?;
    if answer.status_code() != 200 {
        return Ok(Err(answer));
    }
    let text = answer.text().await.map_err(|_| Problem::unavailable())?;
    serde_json::from_str(&text)
        .map(Ok)
        .map_err(|_| Problem::unavailable())
}

fn parameter(parameters: &[(String, String)], name: &str) -> Option<String> {
    parameters
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// `GET /v1/sso/start`.
pub async fn start(request: &Request, env: &Env) -> Result<worker::Result<Response>, Problem> {
    let url = request
        .url()
        .map_err(|_| Problem::new(400, "invalid_url", "the URL is malformed"))?;
    let parameters = api::parameters(url.query().unwrap_or_default());
    let missing = || {
        Problem::new(
            400,
            "invalid_query",
            "`account_id` and `connection_id` name the account and its SSO connection",
        )
    };
    let account_id: AccountId = parameter(&parameters, "account_id")
        .and_then(|value| value.parse().ok())
        .ok_or_else(missing)?;
    let connection_id: SsoConnectionId = parameter(&parameters, "connection_id")
        .and_then(|value| value.parse().ok())
        .ok_or_else(missing)?;
    let login_hint = match parameter(&parameters, "login_hint") {
        Some(hint) => Some(
            hint.parse::<Email>()
                .map_err(|_| Problem::new(400, "invalid_query", "`login_hint` must be an email"))?,
        ),
        None => None,
    };
    let client = guard::client(request);
    if let Some(wait) = guard::charge_start(env, &client).await {
        return Err(Problem::too_many_failures(wait));
    }
    if !account_known(env, &account_id).await? {
        return Err(Problem::from(&Refusal::UnknownSsoConnection(connection_id)));
    }
    #[derive(Deserialize)]
    struct Discovery {
        protocol: String,
        discovery_url: Option<String>,
    }
    let discovery: Discovery = match object_json(
        env,
        &account_id,
        &ObjectRequest::OidcDiscovery {
            connection_id: connection_id.clone(),
        },
    )
    .await?
    {
        Ok(discovery) => discovery,
        Err(answer) => return Ok(Ok(answer)),
    };
    let origin = url.origin().ascii_serialization();
    let discovery_url = match (discovery.protocol.as_str(), discovery.discovery_url) {
        ("oidc", Some(discovery_url)) => discovery_url,
        ("saml", _) => return start_saml(env, &account_id, connection_id, origin).await,
        _ => return Err(Problem::unavailable()),
    };
    let metadata = document(&discovery_url, false).await?;
    let redirect_uri = format!("{origin}/v1/sso/callback");
    #[derive(Deserialize)]
    struct Started {
        authorization_url: String,
        state: String,
    }
    let started: Started = match object_json(
        env,
        &account_id,
        &ObjectRequest::BeginOidc {
            connection_id,
            metadata,
            redirect_uri,
            login_hint,
        },
    )
    .await?
    {
        Ok(started) => started,
        Err(answer) => return Ok(Ok(answer)),
    };
    to_provider(
        &started.authorization_url,
        &started.state,
        SsoReturn::Redirect,
    )
}

/// The redirect (302) that sends the browser to the identity provider, with the cookie that
/// binds the sign-in's `state` to this browser.
fn to_provider(
    location: &str,
    state: &str,
    via: SsoReturn,
) -> Result<worker::Result<Response>, Problem> {
    let headers = Headers::new();
    let set =
        |name: &str, value: &str| headers.set(name, value).map_err(|_| Problem::unavailable());
    set("location", location)?;
    set(
        "set-cookie",
        &browser::set_sso_state_cookie(state, STATE_COOKIE_SECONDS, via),
    )?;
    set("cache-control", "no-store")?;
    Ok(Response::empty().map(|response| response.with_status(302).with_headers(headers)))
}

/// The SAML half of `GET /v1/sso/start`: the object builds the AuthnRequest and keeps the
/// pending sign-in; the browser goes to the identity provider (HTTP-Redirect binding).
async fn start_saml(
    env: &Env,
    account_id: &AccountId,
    connection_id: SsoConnectionId,
    origin: String,
) -> Result<worker::Result<Response>, Problem> {
    #[derive(Deserialize)]
    struct Started {
        redirect_url: String,
        state: String,
    }
    let message = ObjectRequest::BeginSaml {
        connection_id,
        origin,
    };
    match object_json::<Started>(env, account_id, &message).await? {
        Ok(started) => to_provider(&started.redirect_url, &started.state, SsoReturn::FormPost),
        Err(answer) => Ok(Ok(answer)),
    }
}

/// `POST /v1/sso/saml/acs`: the identity provider's response, posted by the browser
/// (`application/x-www-form-urlencoded`, `SAMLResponse` and `RelayState`). The `RelayState`
/// must equal the SAML state cookie; the account's object verifies the response and opens the
/// session, which the answer sets as the session cookie.
pub async fn saml_acs(
    request: &mut Request,
    env: &Env,
) -> Result<worker::Result<Response>, Problem> {
    let invalid = || Problem::from(&Refusal::SsoStateInvalid);
    let page = navigation(request);
    // The response (at most MAX_SAML_RESPONSE_BYTES) and the RelayState, URL-encoded.
    let body = http::read_form(request, sso::MAX_SAML_RESPONSE_BYTES * 2).await?;
    let form =
        api::parameters(std::str::from_utf8(&body).map_err(|_| {
            Problem::new(400, "invalid_body", "the body must be a URL-encoded form")
        })?);
    let relay_state = parameter(&form, "RelayState").ok_or_else(invalid)?;
    if !browser::sso_state_matches(
        header(request, "cookie").as_deref(),
        &relay_state,
        SsoReturn::FormPost,
    ) {
        return Err(invalid());
    }
    let account_id = sso::account_of_state(&relay_state).ok_or_else(invalid)?;
    let saml_response = parameter(&form, "SAMLResponse")
        .ok_or_else(|| Problem::new(400, "invalid_body", "the form must carry `SAMLResponse`"))?;
    let message = ObjectRequest::CompleteSaml {
        relay_state,
        saml_response: Concealed(saml_response),
        user_agent: header(request, "user-agent"),
    };
    let answer = forward(env, &account_id, &message)
        .await?
        .map_err(|_| Problem::unavailable())?;
    signed_in(answer, SsoReturn::FormPost, page).await
}

/// Where a browser that signed in through its identity provider goes on to: the admin console.
const CONSOLE_PATH: &str = "/console/";

/// Whether the request is a browser's page navigation (its `Accept` names `text/html`), which
/// is sent on to the console rather than shown the JSON answer.
fn navigation(request: &Request) -> bool {
    header(request, "accept").is_some_and(|accept| accept.contains("text/html"))
}

/// The object's answer to a completed sign-in as the browser gets it: a success sets the
/// session cookie and removes the state cookie (for a page navigation, `page`, with a 303 on
/// to the console instead of the JSON answer); a refusal passes as it is.
async fn signed_in(
    answer: Response,
    via: SsoReturn,
    page: bool,
) -> Result<worker::Result<Response>, Problem> {
    if answer.status_code() != 200 {
        return Ok(Ok(answer));
    }
    let answer = match session_answer(answer, true).await? {
        Ok(answer) => answer,
        Err(error) => return Ok(Err(error)),
    };
    let headers = answer.headers().clone();
    headers
        .append("set-cookie", &browser::clear_sso_state_cookie(via))
        .map_err(|_| Problem::unavailable())?;
    if page {
        headers
            .delete("content-type")
            .and_then(|()| headers.set("location", CONSOLE_PATH))
            .map_err(|_| Problem::unavailable())?;
        return Ok(Response::empty().map(|empty| empty.with_status(303).with_headers(headers)));
    }
    Ok(Ok(answer.with_headers(headers)))
}

/// `GET /v1/sso/callback`.
pub async fn callback(request: &Request, env: &Env) -> Result<worker::Result<Response>, Problem> {
    let url = request
        .url()
        .map_err(|_| Problem::new(400, "invalid_url", "the URL is malformed"))?;
    let parameters = api::parameters(url.query().unwrap_or_default());
    let invalid = || Problem::from(&Refusal::SsoStateInvalid);
    let page = navigation(request);
    let state = parameter(&parameters, "state").ok_or_else(invalid)?;
    if !browser::sso_state_matches(
        header(request, "cookie").as_deref(),
        &state,
        SsoReturn::Redirect,
    ) {
        return Err(invalid());
    }
    let account_id = sso::account_of_state(&state).ok_or_else(invalid)?;
    if parameter(&parameters, "error").is_some() {
        return Err(Problem::new(
            401,
            "sso_provider_refused",
            "the identity provider did not sign the user in",
        ));
    }
    let code = parameter(&parameters, "code").ok_or_else(invalid)?;
    #[derive(Deserialize)]
    struct TokenRequest {
        token_endpoint: String,
        jwks_uri: String,
        body: String,
        authorization: Option<String>,
    }
    let token: TokenRequest = match object_json(
        env,
        &account_id,
        &ObjectRequest::OidcToken {
            state: state.clone(),
            code: Concealed(code),
        },
    )
    .await?
    {
        Ok(token) => token,
        Err(answer) => return Ok(Ok(answer)),
    };
    let token_response = redeem(&token.token_endpoint, &token.body, token.authorization).await?;
    let user_agent = header(request, "user-agent");
    let mut fresh = false;
    loop {
        let jwks = document(&token.jwks_uri, fresh).await?;
        let message = ObjectRequest::CompleteOidc {
            state: state.clone(),
            token_response: Concealed(token_response.clone()),
            jwks,
            user_agent: user_agent.clone(),
        };
        let answer = forward(env, &account_id, &message)
            .await?
            .map_err(|_| Problem::unavailable())?;
        // A refused completion changes nothing, so it can be tried once more with the
        // provider's current keys.
        if answer.status_code() == 401 && !fresh {
            fresh = true;
            continue;
        }
        return signed_in(answer, SsoReturn::Redirect, page).await;
    }
}

/// POSTs the token request; the provider's answer as text.
async fn redeem(
    endpoint: &str,
    body: &str,
    authorization: Option<String>,
) -> Result<String, Problem> {
    let headers = Headers::new();
    let set =
        |name: &str, value: &str| headers.set(name, value).map_err(|_| provider_unreachable());
    set("content-type", "application/x-www-form-urlencoded")?;
    set("accept", "application/json")?;
    if let Some(authorization) = &authorization {
        set("authorization", authorization)?;
    }
    let body = wasm_bindgen::JsValue::from_str(body);
    let request = http::outgoing(
        "POST",
        endpoint,
        &Outgoing {
            headers: Some(&headers),
            body: Some(&body),
            manual_redirect: false,
        },
    )
    .map_err(|_| provider_unreachable())?;
    let mut answer = Fetch::Request(request)
        .send()
        .await
        .map_err(|_| provider_unreachable())?;
    // An OAuth error answer (400) is passed on to the core, which refuses it.
    answer.text().await.map_err(|_| provider_unreachable())
}

/// A Management API answer about SSO connections with, in each SAML connection's protocol,
/// what the administrator gives the identity provider: this service provider's `sp_entity_id`
/// and `acs_url` (`portcullis_core::sso::service_provider`, under the request's origin). Other
/// answers pass as they are.
pub(crate) async fn with_service_provider(
    answer: worker::Result<Response>,
    url: &worker::Url,
    account_id: &AccountId,
) -> Result<worker::Result<Response>, Problem> {
    let mut answer = match answer {
        Ok(answer) if url.path().starts_with("/v1/account/sso-connections") => answer,
        other => return Ok(other),
    };
    let status = answer.status_code();
    if !(200..300).contains(&status) {
        return Ok(Ok(answer));
    }
    let text = answer.text().await.map_err(|_| Problem::unavailable())?;
    let mut body: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| Problem::unavailable())?;
    add_service_provider(&mut body, &url.origin().ascii_serialization(), account_id);
    Ok(http::json(status, &body))
}

/// Adds `sp_entity_id` and `acs_url` to the protocol of every SAML connection view in `value`.
fn add_service_provider(value: &mut serde_json::Value, origin: &str, account_id: &AccountId) {
    match value {
        serde_json::Value::Object(map) => {
            let connection = map
                .get("connection_id")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| id.parse::<SsoConnectionId>().ok());
            if let (Some(connection), Some(serde_json::Value::Object(protocol))) =
                (connection, map.get_mut("protocol"))
                && protocol.get("type").and_then(serde_json::Value::as_str) == Some("saml")
            {
                let sp = sso::service_provider(origin, account_id, &connection);
                protocol.insert("sp_entity_id".into(), sp.entity_id.into());
                protocol.insert("acs_url".into(), sp.acs_url.into());
            }
            for nested in map.values_mut() {
                add_service_provider(nested, origin, account_id);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                add_service_provider(item, origin, account_id);
            }
        }
        _ => {}
    }
}

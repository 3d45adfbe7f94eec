//! The Management API's routes: method + path → what to do. Pure, so it is tested natively.
//!
//! Writes become core [`Command`]s: the JSON body (an object) gets the command's name and the
//! ids from the path added, and the core's own deserialisation then validates it (unknown
//! fields, bad emails, unknown permissions...). A body that tries to set one of those added
//! fields itself is refused, so the path always decides what is acted on.

use portcullis_core::command::{Command, MAX_COMMAND_BYTES};
use portcullis_core::credential::CredentialKind;
use portcullis_core::directory::{DirectoryError, DirectoryQuery};
use portcullis_core::ids::BulkReportId;
use portcullis_core::listing::{ListError, ListQuery};
use portcullis_core::sso::SsoConnectionId;
use portcullis_core::{KeyId, SessionId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (and HEAD).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// Anything else.
    Other,
}

impl Method {
    /// The method named `name` exactly as sent (HTTP methods are case-sensitive); HEAD is
    /// served as GET, anything else the API does not use is [`Method::Other`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" | "HEAD" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }
}

/// A resolved route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /v1/openapi.json`.
    OpenApi,
    /// `GET /v1/model`: the product model (public).
    Model,
    /// `GET /v1/health`: reads one KV key, nothing else.
    Health,
    /// `POST /v1/signup`, with the platform sign-up key.
    SignUp,
    /// `POST /v1/invitations/accept`, authenticated by the invitation code.
    AcceptInvitation,
    /// `POST /v1/sessions`: sign in with email and password, authenticated by them.
    SignIn,
    /// `POST /v1/password-reset`: redeem a reset code, authenticated by it.
    ResetPassword,
    /// `GET /v1/sso/start`: begin signing in through an identity provider (a browser
    /// navigation, answered with a redirect to the provider).
    SsoStart,
    /// `GET /v1/sso/callback`: the provider's redirect back, completing the sign-in.
    SsoCallback,
    /// `POST /v1/sso/saml/acs`: a SAML identity provider's response (HTTP-POST binding),
    /// completing the sign-in.
    SamlAcs,
    /// The caller's own sessions and password.
    Own(OwnRoute),
    /// `GET /v1/whoami`.
    Whoami,
    /// `POST /v1/authorize`.
    Authorize,
    /// A read of the caller's account, answered by its Durable Object.
    Read(Query),
    /// `POST /v1/notifications/ack`: acknowledge notifications (not a command: the account's
    /// state does not change, only its outbox).
    AcknowledgeNotifications,
    /// A write: a core command named `command`, with `fields` taken from the path.
    Write {
        /// The command's name.
        command: &'static str,
        /// Fields the path fixes.
        fields: Vec<(&'static str, String)>,
    },
}

/// What a signed-in person does with their own sign-in state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnRoute {
    /// `GET /v1/sessions`.
    ListSessions,
    /// `DELETE /v1/sessions/{session_id}`.
    SignOut(SessionId),
    /// `DELETE /v1/sessions`: every session of the caller, the one in use included.
    SignOutEverywhere,
    /// `PUT /v1/password`.
    ChangePassword,
    /// `PUT /v1/account/sessions`: how long the account's sessions last (company admins).
    ConfigureLifetimes,
}

/// The reads the Durable Object answers (each authorized by the core).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case", deny_unknown_fields)]
pub enum Query {
    /// The account and the caller's tenants.
    Account,
    /// A tenant's settings.
    Tenant {
        /// The tenant.
        tenant_id: TenantId,
    },
    /// A page of a tenant's members.
    Members {
        /// The tenant.
        tenant_id: TenantId,
        /// Page size and position.
        list: ListQuery,
    },
    /// One member.
    Member {
        /// The tenant.
        tenant_id: TenantId,
        /// The user.
        user_id: UserId,
    },
    /// A page of the account's user directory.
    Users {
        /// Sort, filters, search and position.
        directory: DirectoryQuery,
    },
    /// A kept bulk lifecycle report.
    BulkReport {
        /// The report.
        report_id: BulkReportId,
    },
    /// One user.
    User {
        /// The user.
        user_id: UserId,
    },
    /// A page of a tenant's API tokens visible to the caller.
    ApiTokens {
        /// The tenant.
        tenant_id: TenantId,
        /// Page size and position.
        list: ListQuery,
    },
    /// One API token.
    ApiToken {
        /// The token.
        key_id: KeyId,
    },
    /// A tenant's automation keys.
    AutomationKeys {
        /// The tenant.
        tenant_id: TenantId,
        /// Page size and position.
        list: ListQuery,
    },
    /// One automation key.
    AutomationKey {
        /// The key.
        key_id: KeyId,
    },
    /// A token's or automation key's requests per day.
    CredentialUsage {
        /// The credential.
        key_id: KeyId,
        /// Which kind the path named.
        kind: CredentialKind,
    },
    /// The account's identity-provider connections (company admins).
    SsoConnections,
    /// One identity-provider connection (company admins).
    SsoConnection {
        /// The connection.
        connection_id: SsoConnectionId,
    },
    /// Every tenant's seats and plan usage (company admins and license admins).
    LicenseUsage,
    /// The account permissions matrix for the caller.
    AccountOperations,
    /// A page of the account-level audit log (company admins).
    AccountAudit {
        /// First sequence number.
        from: u64,
        /// Page size.
        limit: u32,
    },
    /// A page of a tenant's audit log.
    Audit {
        /// The tenant.
        tenant_id: TenantId,
        /// First sequence number.
        from: u64,
        /// Page size.
        limit: u32,
    },
    /// A page of the account's pending notifications, oldest first.
    Notifications {
        /// Only notifications with a sequence number above this one.
        after: Option<u64>,
        /// Page size.
        limit: u32,
    },
}

/// Why no route matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// Nothing lives at this path (or an id in it is malformed).
    NotFound,
    /// The path exists but not with this method; the allowed ones.
    MethodNotAllowed(&'static str),
    /// The query string's parameters are not what the resource takes.
    InvalidQuery(DirectoryError),
    /// The query string's parameters are not what a list takes.
    InvalidList(ListError),
}

/// The most audit events one page returns.
pub const MAX_AUDIT_PAGE: u32 = 200;

/// The verification routes, `GET /v1/whoami` and `POST /v1/authorize`: they need no Durable
/// Object, so the edge script answers them itself; [`route`] resolves them through this too.
pub fn verification_route(method: Method, path: &str) -> Option<Route> {
    match (method, path.trim_end_matches('/')) {
        (Method::Get, "/v1/whoami") => Some(Route::Whoami),
        (Method::Post, "/v1/authorize") => Some(Route::Authorize),
        _ => None,
    }
}

/// Resolves `method` + `path` (+ the raw query string, for paging) to a route.
pub fn route(method: Method, path: &str, query: &str) -> Result<Route, RouteError> {
    if let Some(route) = verification_route(method, path) {
        return Ok(route);
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let Some((&"v1", rest)) = segments.split_first() else {
        return Err(RouteError::NotFound);
    };
    use Method::{Delete, Get, Patch, Post, Put};
    let write = |command: &'static str, fields: Vec<(&'static str, String)>| Route::Write {
        command,
        fields,
    };
    let allow = |allowed: &'static str| Err(RouteError::MethodNotAllowed(allowed));
    match rest {
        ["openapi.json"] => match method {
            Get => Ok(Route::OpenApi),
            _ => allow("GET"),
        },
        ["model"] => match method {
            Get => Ok(Route::Model),
            _ => allow("GET"),
        },
        ["health"] => match method {
            Get => Ok(Route::Health),
            _ => allow("GET"),
        },
        ["signup"] => match method {
            Post => Ok(Route::SignUp),
            _ => allow("POST"),
        },
        ["invitations", "accept"] => match method {
            Post => Ok(Route::AcceptInvitation),
            _ => allow("POST"),
        },
        ["sessions"] => match method {
            Post => Ok(Route::SignIn),
            Get => Ok(Route::Own(OwnRoute::ListSessions)),
            Delete => Ok(Route::Own(OwnRoute::SignOutEverywhere)),
            _ => allow("GET, POST, DELETE"),
        },
        ["sessions", session] => {
            let session_id = id::<SessionId>(session)?;
            match method {
                Delete => Ok(Route::Own(OwnRoute::SignOut(session_id))),
                _ => allow("DELETE"),
            }
        }
        ["password-reset"] => match method {
            Post => Ok(Route::ResetPassword),
            _ => allow("POST"),
        },
        ["password"] => match method {
            Put => Ok(Route::Own(OwnRoute::ChangePassword)),
            _ => allow("PUT"),
        },
        ["account", "sso-connections"] => match method {
            Get => Ok(Route::Read(Query::SsoConnections)),
            Post => Ok(write("create_sso_connection", vec![])),
            _ => allow("GET, POST"),
        },
        ["account", "sso-connections", connection] => {
            let connection_id = id::<SsoConnectionId>(connection)?;
            let c = || vec![("connection_id", connection_id.to_string())];
            match method {
                Get => Ok(Route::Read(Query::SsoConnection { connection_id })),
                Patch => Ok(write("update_sso_connection", c())),
                Delete => Ok(write("delete_sso_connection", c())),
                _ => allow("GET, PATCH, DELETE"),
            }
        }
        ["sso", "start"] => match method {
            Get => Ok(Route::SsoStart),
            _ => allow("GET"),
        },
        ["sso", "callback"] => match method {
            Get => Ok(Route::SsoCallback),
            _ => allow("GET"),
        },
        ["sso", "saml", "acs"] => match method {
            Post => Ok(Route::SamlAcs),
            _ => allow("POST"),
        },
        ["account", "sessions"] => match method {
            Put => Ok(Route::Own(OwnRoute::ConfigureLifetimes)),
            _ => allow("PUT"),
        },
        ["whoami"] => match method {
            Get => Ok(Route::Whoami),
            _ => allow("GET"),
        },
        ["authorize"] => match method {
            Post => Ok(Route::Authorize),
            _ => allow("POST"),
        },
        ["account"] => match method {
            Get => Ok(Route::Read(Query::Account)),
            Patch => Ok(write("update_account_settings", vec![])),
            _ => allow("GET, PATCH"),
        },
        ["account", "audit"] => match method {
            Get => {
                let (from, limit) = paging(query, "from", MAX_AUDIT_PAGE);
                Ok(Route::Read(Query::AccountAudit { from, limit }))
            }
            _ => allow("GET"),
        },
        ["account", "operations"] => match method {
            Get => Ok(Route::Read(Query::AccountOperations)),
            _ => allow("GET"),
        },
        ["licenses"] => match method {
            Get => Ok(Route::Read(Query::LicenseUsage)),
            _ => allow("GET"),
        },
        ["account", "webhook"] => match method {
            Put => Ok(write("configure_webhook", vec![])),
            Delete => Ok(write("remove_webhook", vec![])),
            _ => allow("PUT, DELETE"),
        },
        ["notifications"] => match method {
            Get => {
                let (after, limit) = paging(query, "after", MAX_NOTIFICATION_PAGE);
                let after = query_has(query, "after").then_some(after);
                Ok(Route::Read(Query::Notifications { after, limit }))
            }
            _ => allow("GET"),
        },
        ["notifications", "ack"] => match method {
            Post => Ok(Route::AcknowledgeNotifications),
            _ => allow("POST"),
        },
        ["tenants"] => match method {
            Post => Ok(write("create_tenant", vec![])),
            _ => allow("POST"),
        },
        ["tenants", tenant, rest @ ..] => {
            let tenant_id = id::<TenantId>(tenant)?;
            let t = || ("tenant_id", tenant_id.to_string());
            match (rest, method) {
                ([], Get) => Ok(Route::Read(Query::Tenant { tenant_id })),
                ([], Patch) => Ok(write("update_tenant_settings", vec![t()])),
                ([], _) => allow("GET, PATCH"),
                (["members"], Get) => {
                    list(query).map(|list| Route::Read(Query::Members { tenant_id, list }))
                }
                (["members"], Post) => Ok(write("invite_member", vec![t()])),
                (["members"], _) => allow("GET, POST"),
                (["members", user], _) => {
                    let user_id = id::<UserId>(user)?;
                    let u = ("user_id", user_id.to_string());
                    match method {
                        Get => Ok(Route::Read(Query::Member { tenant_id, user_id })),
                        Patch => Ok(write("change_permissions", vec![t(), u])),
                        Delete => Ok(write("remove_member", vec![t(), u])),
                        _ => allow("GET, PATCH, DELETE"),
                    }
                }
                (["tokens"], Get) => {
                    list(query).map(|list| Route::Read(Query::ApiTokens { tenant_id, list }))
                }
                (["tokens"], Post) => Ok(write("create_api_token", vec![t()])),
                (["tokens"], _) => allow("GET, POST"),
                (["automation-keys"], Get) => {
                    list(query).map(|list| Route::Read(Query::AutomationKeys { tenant_id, list }))
                }
                (["automation-keys"], Post) => Ok(write("create_automation_key", vec![t()])),
                (["automation-keys"], _) => allow("GET, POST"),
                (["audit"], Get) => {
                    let (from, limit) = paging(query, "from", MAX_AUDIT_PAGE);
                    Ok(Route::Read(Query::Audit {
                        tenant_id,
                        from,
                        limit,
                    }))
                }
                (["audit"], _) => allow("GET"),
                (["primary-contact"], Put) => Ok(write("set_primary_contact", vec![t()])),
                (["primary-contact"], _) => allow("PUT"),
                (["license-admins", user], _) => {
                    let u = ("user_id", id::<UserId>(user)?.to_string());
                    match method {
                        Put => Ok(write("grant_license_admin", vec![t(), u])),
                        Delete => Ok(write("revoke_license_admin", vec![t(), u])),
                        _ => allow("PUT, DELETE"),
                    }
                }
                (["seats", user], _) => {
                    let u = ("user_id", id::<UserId>(user)?.to_string());
                    match method {
                        Put => Ok(write("assign_license", vec![t(), u])),
                        Delete => Ok(write("revoke_license", vec![t(), u])),
                        _ => allow("PUT, DELETE"),
                    }
                }
                _ => Err(RouteError::NotFound),
            }
        }
        ["users"] => match method {
            Get => DirectoryQuery::from_parameters(parameters(query))
                .map(|directory| Route::Read(Query::Users { directory }))
                .map_err(RouteError::InvalidQuery),
            Post => Ok(write("create_user", vec![])),
            _ => allow("GET, POST"),
        },
        ["users", "bulk"] => match method {
            Post => Ok(write("bulk_user_lifecycle", vec![])),
            _ => allow("POST"),
        },
        // The kept reports, at `/v1/account/bulk-reports/{report_id}`; the first path,
        // `/v1/users/bulk/{report_id}`, still answers for clients written against it, but is
        // not documented: its template overlaps `/v1/users/{user_id}/activate` and the other
        // per-user actions (no request matches both, since report and user ids differ in
        // prefix, but a template alone cannot say so).
        ["account", "bulk-reports", report] | ["users", "bulk", report] => {
            let report_id = id::<BulkReportId>(report)?;
            match method {
                Get => Ok(Route::Read(Query::BulkReport { report_id })),
                _ => allow("GET"),
            }
        }
        ["users", user, rest @ ..] => {
            let user_id = id::<UserId>(user)?;
            let u = || vec![("user_id", user_id.to_string())];
            match (rest, method) {
                ([], Get) => Ok(Route::Read(Query::User { user_id })),
                ([], Patch) => Ok(write("rename_user", u())),
                ([], Delete) => Ok(write("delete_user", u())),
                ([], _) => allow("GET, PATCH, DELETE"),
                (["deactivate"], Post) => Ok(write("deactivate_user", u())),
                (["activate"], Post) => Ok(write("activate_user", u())),
                (["invitation"], Post) => Ok(write("resend_invitation", u())),
                (["invitation"], Delete) => Ok(write("revoke_invitation", u())),
                (["invitation"], _) => allow("POST, DELETE"),
                (["password-reset"], Post) => Ok(write("issue_password_reset", u())),
                (["password-reset"], _) => allow("POST"),
                (["deactivate" | "activate"], _) => allow("POST"),
                (["company-admin"], Put) => Ok(write("set_company_admin", u())),
                (["company-admin"], _) => allow("PUT"),
                (["support"], Put) => Ok(write("set_support", u())),
                (["support"], _) => allow("PUT"),
                _ => Err(RouteError::NotFound),
            }
        }
        ["tokens", key] => {
            let key_id = id::<KeyId>(key)?;
            match method {
                Get => Ok(Route::Read(Query::ApiToken { key_id })),
                Delete => Ok(write(
                    "delete_api_token",
                    vec![("key_id", key_id.to_string())],
                )),
                _ => allow("GET, DELETE"),
            }
        }
        ["tokens", key, "roll"] => {
            let key_id = id::<KeyId>(key)?;
            match method {
                Post => Ok(write(
                    "roll_api_token",
                    vec![("key_id", key_id.to_string())],
                )),
                _ => allow("POST"),
            }
        }
        [collection @ ("tokens" | "automation-keys"), key, "usage"] => {
            let key_id = id::<KeyId>(key)?;
            let kind = if *collection == "tokens" {
                CredentialKind::ApiToken
            } else {
                CredentialKind::AutomationKey
            };
            match method {
                Get => Ok(Route::Read(Query::CredentialUsage { key_id, kind })),
                _ => allow("GET"),
            }
        }
        ["automation-keys", key, "roll"] => {
            let key_id = id::<KeyId>(key)?;
            match method {
                Post => Ok(write(
                    "roll_automation_key",
                    vec![("key_id", key_id.to_string())],
                )),
                _ => allow("POST"),
            }
        }
        ["automation-keys", key] => {
            let key_id = id::<KeyId>(key)?;
            let k = || vec![("key_id", key_id.to_string())];
            match method {
                Get => Ok(Route::Read(Query::AutomationKey { key_id })),
                Patch => Ok(write("set_automation_key_enabled", k())),
                Delete => Ok(write("delete_automation_key", k())),
                _ => allow("GET, PATCH, DELETE"),
            }
        }
        _ => Err(RouteError::NotFound),
    }
}

fn id<T: std::str::FromStr>(segment: &str) -> Result<T, RouteError> {
    segment.parse().map_err(|_| RouteError::NotFound)
}

/// The most notifications one page returns.
pub const MAX_NOTIFICATION_PAGE: u32 = portcullis_core::notification::MAX_PAGE;

/// The `cursor` parameter and `limit` from a query string; anything unparsable falls back to
/// the defaults (0 and 50), and the limit is clamped to `1..=max`.
/// A list's `limit` and `cursor`.
fn list(query: &str) -> Result<ListQuery, RouteError> {
    ListQuery::from_parameters(parameters(query)).map_err(RouteError::InvalidList)
}

fn paging(query: &str, cursor: &str, max: u32) -> (u64, u32) {
    let mut from = 0;
    let mut limit = 50;
    for pair in query.trim_start_matches('?').split('&') {
        match pair.split_once('=') {
            Some((name, value)) if name == cursor => from = value.parse().unwrap_or(0),
            Some(("limit", value)) => limit = value.parse().unwrap_or(50),
            _ => {}
        }
    }
    (from, limit.clamp(1, max))
}

/// Whether the query string sets `name` to a number.
fn query_has(query: &str, name: &str) -> bool {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .any(|(key, value)| key == name && value.parse::<u64>().is_ok())
}

/// The `name=value` pairs of a query string, decoded as HTML forms encode them (`+` is a
/// space, `%XX` a byte; a malformed escape stays as it is). Empty pairs are skipped.
pub fn parameters(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (_, Some(value)) => {
                decoded.push(value);
                index += 3;
            }
            (b'+', None) => {
                decoded.push(b' ');
                index += 1;
            }
            (other, None) => {
                decoded.push(other);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Why a request body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// Not JSON, or not what the endpoint takes; the reason.
    Invalid(String),
}

/// The largest body any endpoint accepts.
pub const MAX_BODY_BYTES: usize = MAX_COMMAND_BYTES;

/// Parses a JSON object body (an empty body counts as `{}`).
pub fn object_body(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyError::Invalid("body must be a JSON object".into())),
        Err(error) => Err(BodyError::Invalid(format!(
            "body is not valid JSON: {}",
            reason(&error)
        ))),
    }
}

/// Builds the core command for a write route from its body.
pub fn command(
    name: &'static str,
    fields: &[(&'static str, String)],
    body: &[u8],
) -> Result<Command, BodyError> {
    let mut object = object_body(body)?;
    for (field, _) in fields.iter().chain(&[("command", String::new())]) {
        if object.contains_key(*field) {
            return Err(BodyError::Invalid(format!(
                "`{field}` comes from the path and cannot be set in the body"
            )));
        }
    }
    object.insert("command".into(), Value::String(name.into()));
    for (field, value) in fields {
        object.insert((*field).into(), Value::String(value.clone()));
    }
    serde_json::from_value(Value::Object(object))
        .map_err(|error| BodyError::Invalid(reason(&error)))
}

/// A deserialisation error as a public reason: bounded, without control characters (it may
/// quote parts of the input).
fn reason(error: &serde_json::Error) -> String {
    const MAX: usize = 300;
    let text: String = error
        .to_string()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text,
    }
}

/// Parses a body into `T` (for the endpoints that are not commands).
pub fn typed_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    let object = object_body(body)?;
    serde_json::from_value(Value::Object(object))
        .map_err(|error| BodyError::Invalid(reason(&error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "ten_00000000000000aa";
    const U: &str = "usr_00000000000000bb";

    #[test]
    fn the_edge_answers_exactly_the_verification_routes() {
        let methods = [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
            Method::from_name("HEAD"),
            Method::from_name("PROPFIND"),
        ];
        let paths = [
            "/v1/whoami",
            "/v1/whoami/",
            "/v1/whoami//",
            "/v1//whoami",
            "/v1/whoami/x",
            "/v1/authorize",
            "/v1/authorize/",
            "/v2/authorize",
            "/v1/health",
            "/v1",
            "/",
        ];
        for method in methods {
            for path in paths {
                let routed = route(method, path, "").ok();
                let verification = routed
                    .clone()
                    .filter(|route| matches!(route, Route::Whoami | Route::Authorize));
                assert_eq!(
                    verification_route(method, path),
                    verification,
                    "{method:?} {path}"
                );
            }
        }
        assert_eq!(
            verification_route(Method::Get, "/v1/whoami"),
            Some(Route::Whoami)
        );
        assert_eq!(
            verification_route(Method::Post, "/v1/authorize"),
            Some(Route::Authorize)
        );
    }

    #[test]
    fn routes_resolve_with_their_ids() {
        let path = format!("/v1/tenants/{T}/members/{U}");
        match route(Method::Patch, &path, "").unwrap() {
            Route::Write { command, fields } => {
                assert_eq!(command, "change_permissions");
                assert_eq!(fields.len(), 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            route(Method::Get, "/v1/whoami/", "").unwrap(),
            Route::Whoami
        );
        assert!(matches!(
            route(
                Method::Get,
                &format!("/v1/tenants/{T}/audit"),
                "from=3&limit=9999"
            )
            .unwrap(),
            Route::Read(Query::Audit {
                from: 3,
                limit: MAX_AUDIT_PAGE,
                ..
            })
        ));
    }

    #[test]
    fn session_routes_resolve() {
        assert_eq!(route(Method::Post, "/v1/sessions", ""), Ok(Route::SignIn));
        assert_eq!(
            route(Method::Get, "/v1/sessions", ""),
            Ok(Route::Own(OwnRoute::ListSessions))
        );
        assert_eq!(
            route(Method::Delete, "/v1/sessions", ""),
            Ok(Route::Own(OwnRoute::SignOutEverywhere))
        );
        let id = "pcss_AAAAAAAAAAAAAAAAAAAA";
        assert_eq!(
            route(Method::Delete, &format!("/v1/sessions/{id}"), ""),
            Ok(Route::Own(OwnRoute::SignOut(id.parse().unwrap())))
        );
        assert_eq!(
            route(Method::Delete, "/v1/sessions/pctk_nope", ""),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route(Method::Get, &format!("/v1/sessions/{id}"), ""),
            Err(RouteError::MethodNotAllowed("DELETE"))
        );
        assert_eq!(
            route(Method::Put, "/v1/password", ""),
            Ok(Route::Own(OwnRoute::ChangePassword))
        );
        assert_eq!(
            route(Method::Put, "/v1/account/sessions", ""),
            Ok(Route::Own(OwnRoute::ConfigureLifetimes))
        );
    }

    #[test]
    fn unknown_methods_are_never_served_as_reads() {
        for name in ["PROPFIND", "get", "TRACE", "MKCOL", ""] {
            assert_eq!(Method::from_name(name), Method::Other, "{name}");
            assert_eq!(
                route(Method::from_name(name), "/v1/users", ""),
                Err(RouteError::MethodNotAllowed("GET, POST")),
                "{name}"
            );
        }
        assert_eq!(Method::from_name("HEAD"), Method::Get);
    }

    #[test]
    fn notification_routes_page_after_a_cursor() {
        assert_eq!(
            route(Method::Get, "/v1/notifications", ""),
            Ok(Route::Read(Query::Notifications {
                after: None,
                limit: 50
            }))
        );
        assert_eq!(
            route(Method::Get, "/v1/notifications", "after=7&limit=9999"),
            Ok(Route::Read(Query::Notifications {
                after: Some(7),
                limit: MAX_NOTIFICATION_PAGE
            }))
        );
        assert_eq!(
            route(Method::Post, "/v1/notifications/ack", ""),
            Ok(Route::AcknowledgeNotifications)
        );
        assert!(matches!(
            route(Method::Put, "/v1/account/webhook", ""),
            Ok(Route::Write {
                command: "configure_webhook",
                ..
            })
        ));
        let removal = command("remove_webhook", &[], b"").unwrap();
        assert_eq!(removal.name(), "remove_webhook");
        assert!(command("configure_webhook", &[], br#"{"url":"http://evil.test/"}"#).is_err());
        assert_eq!(
            route(Method::Get, "/v1/account/webhook", ""),
            Err(RouteError::MethodNotAllowed("PUT, DELETE"))
        );
    }

    #[test]
    fn unknown_paths_malformed_ids_and_wrong_methods_are_refused() {
        assert_eq!(
            route(Method::Get, "/v2/whoami", ""),
            Err(RouteError::NotFound)
        );
        assert_eq!(route(Method::Get, "/", ""), Err(RouteError::NotFound));
        assert_eq!(
            route(Method::Get, "/v1/tenants/nope/members", ""),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route(Method::Put, "/v1/whoami", ""),
            Err(RouteError::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(Method::Delete, &format!("/v1/tenants/{T}"), ""),
            Err(RouteError::MethodNotAllowed("GET, PATCH"))
        );
    }

    #[test]
    fn the_directory_takes_decoded_query_parameters() {
        let Ok(Route::Read(Query::Users { directory })) = route(
            Method::Get,
            "/v1/users",
            "sort=name&order=desc&q=Ana+B%C3%A9&status=active&limit=5&",
        ) else {
            panic!("not a directory read");
        };
        assert_eq!(directory.search.as_deref(), Some("ana bé"));
        assert_eq!(directory.limit, 5);
        assert!(matches!(
            route(Method::Get, "/v1/users", ""),
            Ok(Route::Read(Query::Users { .. }))
        ));
        for (query, code) in [
            ("sort=password", "invalid_sort"),
            ("limit=500", "invalid_limit"),
            ("cursor=%ZZ", "invalid_cursor"),
            ("page=2", "unknown_parameter"),
        ] {
            match route(Method::Get, "/v1/users", query) {
                Err(RouteError::InvalidQuery(error)) => assert_eq!(error.code(), code, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
        assert_eq!(form_decode("a%2"), "a%2");
        assert_eq!(form_decode("%41%2b+"), "A+ ");
    }

    #[test]
    fn tenant_lists_take_a_limit_and_a_cursor() {
        let tenant = "/v1/tenants/ten_00000000000000aa";
        for list in ["members", "tokens", "automation-keys"] {
            let path = format!("{tenant}/{list}");
            match route(Method::Get, &path, "limit=2&cursor=usr_00000000000000bb") {
                Ok(Route::Read(
                    Query::Members { list, .. }
                    | Query::ApiTokens { list, .. }
                    | Query::AutomationKeys { list, .. },
                )) => {
                    assert_eq!(list.limit, Some(2));
                    assert_eq!(list.cursor.as_deref(), Some("usr_00000000000000bb"));
                }
                other => panic!("{path}: {other:?}"),
            }
            for (query, code) in [
                ("limit=0", "invalid_limit"),
                ("cursor=a%3Ab", "invalid_cursor"),
                ("sort=name", "unknown_parameter"),
            ] {
                match route(Method::Get, &path, query) {
                    Err(RouteError::InvalidList(error)) => {
                        assert_eq!(error.code(), code, "{path}?{query}");
                    }
                    other => panic!("{path}?{query}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn bulk_routes_come_before_user_ids() {
        assert!(matches!(
            route(Method::Post, "/v1/users/bulk", ""),
            Ok(Route::Write {
                command: "bulk_user_lifecycle",
                ..
            })
        ));
        assert!(matches!(
            route(Method::Get, "/v1/users/bulk/blk_00000000000000cc", ""),
            Ok(Route::Read(Query::BulkReport { .. }))
        ));
        assert_eq!(
            route(Method::Get, "/v1/users/bulk", ""),
            Err(RouteError::MethodNotAllowed("POST"))
        );
        assert_eq!(
            route(Method::Get, "/v1/users/bulk/nope", ""),
            Err(RouteError::NotFound)
        );
        // The documented path of a report, and the first one, kept for earlier clients.
        for path in [
            "/v1/account/bulk-reports/blk_00000000000000cc",
            "/v1/users/bulk/blk_00000000000000cc",
        ] {
            assert_eq!(
                route(Method::Get, path, ""),
                Ok(Route::Read(Query::BulkReport {
                    report_id: "blk_00000000000000cc".parse().unwrap()
                })),
                "{path}"
            );
            assert_eq!(
                route(Method::Post, path, ""),
                Err(RouteError::MethodNotAllowed("GET")),
                "{path}"
            );
        }
        assert_eq!(
            route(
                Method::Get,
                "/v1/account/bulk-reports/usr_00000000000000bb",
                ""
            ),
            Err(RouteError::NotFound)
        );
        let bulk = command(
            "bulk_user_lifecycle",
            &[],
            br#"{"action":"delete","user_ids":["usr_00000000000000bb"]}"#,
        )
        .unwrap();
        assert_eq!(bulk.name(), "bulk_user_lifecycle");
    }

    #[test]
    fn commands_take_their_ids_from_the_path_only() {
        let fields = [("tenant_id", T.to_owned())];
        let command = command(
            "invite_member",
            &fields,
            br#"{"email":"a@b.test","permissions":["build_applications"]}"#,
        )
        .unwrap();
        assert_eq!(command.name(), "invite_member");
        let smuggled = super::command(
            "invite_member",
            &fields,
            br#"{"email":"a@b.test","tenant_id":"ten_00000000000000cc"}"#,
        );
        assert!(matches!(smuggled, Err(BodyError::Invalid(_))));
        let renamed = super::command("invite_member", &fields, br#"{"command":"delete_user"}"#);
        assert!(matches!(renamed, Err(BodyError::Invalid(_))));
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        let fields = [("tenant_id", T.to_owned())];
        for body in [
            &b"[1,2]"[..],
            b"{",
            br#"{"email":"a@b.test","permissions":["fly"]}"#,
            br#"{"email":"a@b.test","extra":1}"#,
            br#"{"email":42}"#,
        ] {
            assert!(
                matches!(
                    command("invite_member", &fields, body),
                    Err(BodyError::Invalid(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(object_body(&huge), Err(BodyError::TooLarge));
        assert_eq!(object_body(b"  "), Ok(Map::new()));
    }
}

//! The Management API client: the provider's only way to the worker.
//!
//! One shared `reqwest` client per provider process (Terraform calls the provider concurrently,
//! ten resources at a time by default); the API token travels only in the `Authorization`
//! header and is zeroized when the client is dropped. Reads are retried on transport errors and
//! 503s; writes are not (a write that may have landed must not be sent twice).
//!
//! The product model is the worker's: [`Api::connect`] reads it from `GET /v1/model` before
//! anything else, and every answer is decoded with that model in force (the names on the wire
//! are its names). The model in force is per thread and the provider runs on tokio, so it is
//! entered only around the synchronous decoding, never across an `.await`.

use portcullis_core::model::{Model, ModelError};
use portcullis_core::{PermissionSet, TenantId, UserId};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use zeroize::Zeroizing;

/// The caller behind the provider's token, from `GET /v1/whoami`.
#[derive(Clone, Debug, Deserialize)]
pub struct Principal {
    /// The tenant the token acts in: every resource of this provider lives there.
    pub tenant_id: TenantId,
    /// `user` for a personal API token (the only kind that can manage anything).
    pub kind: String,
    /// The token's owner.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// What the token may do right now.
    pub permissions: PermissionSet,
}

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No HTTP answer at all.
    #[error("cannot reach the Portcullis API at `{endpoint}`: {reason}")]
    Unreachable {
        /// Where we tried.
        endpoint: String,
        /// The transport's reason.
        reason: String,
    },
    /// An RFC 9457 problem answer.
    #[error("{detail}")]
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem's stable code.
        code: String,
        /// The problem's detail.
        detail: String,
    },
    /// An answer that is not what the API documents.
    #[error("unexpected response from the Portcullis API ({status}): {reason}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// `GET /v1/model` answered with a document this provider cannot use.
    #[error("the product model served at `{endpoint}/v1/model` is invalid: {reason}")]
    InvalidModel {
        /// Where it was read.
        endpoint: String,
        /// Every problem found, or why it is not a model document at all.
        reason: String,
    },
}

impl ApiError {
    /// Whether the API said the thing does not exist (Terraform then sees drift).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Problem { status: 404, .. })
    }

    /// The problem code, if the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Problem { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Why [`Api::connect`] failed: at reading the model, or at checking the token.
#[derive(Debug)]
pub enum ConnectError {
    /// `GET /v1/model` failed or served an invalid model.
    Model(ApiError),
    /// `GET /v1/whoami` failed.
    Token(ApiError),
}

#[derive(Deserialize)]
struct ProblemBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    title: String,
}

/// A configured client: endpoint, token, the served product model and the token's principal.
#[derive(Debug)]
pub struct Api {
    transport: Transport,
    /// Who the token is.
    pub principal: Principal,
}

#[derive(Debug)]
struct Transport {
    http: reqwest::Client,
    endpoint: String,
    token: Zeroizing<String>,
    /// The worker's product model: every answer is decoded with it in force.
    model: Arc<Model>,
}

/// `{ "items": [...] }`, the shape of every list the API returns.
#[derive(Deserialize)]
pub struct Items<T> {
    /// The list.
    pub items: Vec<T>,
}

const READ_ATTEMPTS: u32 = 4;

impl Api {
    /// Connects: reads the product model from `GET /v1/model` (public), then checks the token
    /// with `GET /v1/whoami` and keeps its principal. An unreachable worker or an invalid
    /// model is an error: there is no fallback to a compiled-in model.
    pub async fn connect(endpoint: &str, token: &str) -> Result<Api, ConnectError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "terraform-provider-portcullis/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|error| {
                ConnectError::Model(ApiError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    reason: error.to_string(),
                })
            })?;
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let model = Arc::new(
            fetch_model(&http, &endpoint)
                .await
                .map_err(ConnectError::Model)?,
        );
        let transport = Transport {
            http,
            endpoint,
            token: Zeroizing::new(token.to_owned()),
            model,
        };
        let principal = transport
            .get("/v1/whoami")
            .await
            .map_err(ConnectError::Token)?;
        Ok(Api {
            transport,
            principal,
        })
    }

    /// The tenant every resource lives in.
    pub fn tenant(&self) -> &TenantId {
        &self.principal.tenant_id
    }

    /// The product model the worker serves, which every name check uses.
    pub fn model(&self) -> &Arc<Model> {
        &self.transport.model
    }

    /// `GET path`, retried on transport errors and 503.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.transport.get(path).await
    }

    /// `GET path`, with "not found" as `None` (a resource deleted outside Terraform).
    pub async fn find<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ApiError> {
        match self.get(path).await {
            Ok(found) => Ok(Some(found)),
            Err(failure) if failure.is_not_found() => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// `DELETE path`, with "not found" as success (already gone is what was wanted).
    pub async fn remove(&self, path: &str) -> Result<(), ApiError> {
        match self.delete(path).await {
            Ok(_) => Ok(()),
            Err(failure) if failure.is_not_found() => Ok(()),
            Err(failure) => Err(failure),
        }
    }

    /// `POST path` with a JSON body.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, ApiError> {
        self.transport.send(Method::POST, path, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ApiError> {
        self.transport.send(Method::PATCH, path, Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, ApiError> {
        self.transport.send(Method::PUT, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Value, ApiError> {
        self.transport.send(Method::DELETE, path, None).await
    }
}

impl Transport {
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(Method::GET, path, None).await {
                Err(ApiError::Unreachable { .. } | ApiError::Problem { status: 503, .. })
                    if attempt < READ_ATTEMPTS =>
                {
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.endpoint);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(self.token.as_str());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ApiError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: error.without_url().to_string(),
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ApiError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: error.without_url().to_string(),
            })?;
        if status.is_success() {
            return decode(&self.model, status, &bytes);
        }
        Err(problem(status, &bytes))
    }
}

/// A successful answer's body, decoded with `model` in force (synchronous: the scope never
/// spans an `.await`).
fn decode<T: DeserializeOwned>(
    model: &Arc<Model>,
    status: StatusCode,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let _in_force = model.enter();
    serde_json::from_slice(bytes).map_err(|error| ApiError::Unexpected {
        status: status.as_u16(),
        reason: error.to_string(),
    })
}

/// `GET {endpoint}/v1/model`, retried like every read, parsed and validated.
async fn fetch_model(http: &reqwest::Client, endpoint: &str) -> Result<Model, ApiError> {
    let url = format!("{endpoint}/v1/model");
    let mut attempt = 0;
    let (status, bytes) = loop {
        attempt += 1;
        let answer = match http.get(&url).send().await {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.map(|bytes| (status, bytes))
            }
            Err(error) => Err(error),
        };
        match answer {
            Ok((status, _))
                if status == StatusCode::SERVICE_UNAVAILABLE && attempt < READ_ATTEMPTS => {}
            Ok(answer) => break answer,
            Err(_) if attempt < READ_ATTEMPTS => {}
            Err(error) => {
                return Err(ApiError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    reason: error.without_url().to_string(),
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    };
    if !status.is_success() {
        return Err(problem(status, &bytes));
    }
    parse_model(endpoint, &bytes)
}

/// The served model document, validated.
fn parse_model(endpoint: &str, bytes: &[u8]) -> Result<Model, ApiError> {
    let invalid = |reason: String| ApiError::InvalidModel {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|error| invalid(error.to_string()))?;
    Model::from_json(text).map_err(|error: ModelError| {
        invalid(
            error
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

fn problem(status: StatusCode, bytes: &[u8]) -> ApiError {
    match serde_json::from_slice::<ProblemBody>(bytes) {
        Ok(body) if !body.code.is_empty() => ApiError::Problem {
            status: status.as_u16(),
            code: body.code,
            detail: if body.detail.is_empty() {
                body.title
            } else {
                body.detail
            },
        },
        _ => ApiError::Unexpected {
            status: status.as_u16(),
            reason: format!(
                "{} without a problem document",
                status.canonical_reason().unwrap_or("error")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_become_typed_errors() {
        let body = br#"{"type":"https://portcullis.dev/problems/lockout","title":"Conflict",
            "status":409,"code":"lockout","detail":"the tenant would be locked out"}"#;
        let error = problem(StatusCode::CONFLICT, body);
        assert_eq!(error.code(), Some("lockout"));
        assert_eq!(error.to_string(), "the tenant would be locked out");
        assert!(!error.is_not_found());
        let missing = problem(
            StatusCode::NOT_FOUND,
            br#"{"code":"user_not_found","title":"Not Found"}"#,
        );
        assert!(missing.is_not_found());
        assert_eq!(missing.to_string(), "Not Found");
        let html = problem(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert!(matches!(html, ApiError::Unexpected { status: 502, .. }));
        assert!(html.code().is_none());
    }

    #[test]
    fn whoami_parses_into_a_principal() {
        let body = br#"{"account_id":"acc_0123456789abcdef","tenant_id":"ten_0123456789abcdef",
            "kind":"user","user_id":"usr_0123456789abcdef",
            "permissions":["build_applications","user_and_api_management"],"plan":"team"}"#;
        let model = crate::test_models::default();
        let principal: Principal = decode(&model, StatusCode::OK, body).unwrap();
        assert_eq!(principal.kind, "user");
        assert_eq!(
            principal.permissions.names_in(&model),
            ["build_applications", "user_and_api_management"]
        );
    }

    #[test]
    fn answers_are_decoded_with_the_served_model_in_force() {
        let body = br#"{"tenant_id":"ten_0123456789abcdef","kind":"user",
            "permissions":["edit_documents","run_imports"]}"#;
        let documents = crate::test_models::documents();
        let principal: Principal = decode(&documents, StatusCode::OK, body).unwrap();
        assert_eq!(
            principal.permissions.names_in(&documents),
            ["edit_documents", "run_imports"]
        );
        // The compiled-in default does not know these names: decoding under it fails.
        let default = crate::test_models::default();
        let refused = decode::<Principal>(&default, StatusCode::OK, body).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("unknown permission `edit_documents`")
        );
    }

    #[test]
    fn a_served_model_is_validated_with_every_problem_reported() {
        let documents = include_str!("../../policy/examples/documents/model.json");
        let model = parse_model("http://127.0.0.1:1", documents.as_bytes()).unwrap();
        assert_eq!(
            model.product(),
            "Quill documents (an example second product)"
        );
        // What the worker serves (`Model::to_document`) reads back to the same model.
        let served = model.to_document().to_string();
        assert_eq!(parse_model("http://w", served.as_bytes()).unwrap(), model);
        let broken = documents
            .replace("\"seats\": 50", "\"seats\": 2")
            .replace("\"name\": \"editor\"", "\"name\": \"Editor\"");
        let error = parse_model("http://w", broken.as_bytes()).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ApiError::InvalidModel { .. }));
        assert!(
            text.starts_with("the product model served at `http://w/v1/model` is invalid: "),
            "{text}"
        );
        assert!(text.contains("plans_out_of_order"), "{text}");
        assert!(text.contains("invalid_name"), "{text}");
        let html = parse_model("http://w", b"<html>gateway</html>").unwrap_err();
        assert!(html.to_string().contains("(syntax)"), "{html}");
    }

    /// Answers every connection with `status` and `body`, up to `count` times.
    fn serve(status: &'static str, body: &'static str, count: usize) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(count) {
                let mut stream = stream.unwrap();
                let mut request = [0_u8; 4096];
                let _ = stream.read(&mut request);
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn connecting_reads_the_model_first_and_never_falls_back() {
        let invalid = serve("200 OK", r#"{"version": 1, "permissions": []}"#, 1);
        match Api::connect(&invalid, "pctk_x:secret").await {
            Err(ConnectError::Model(ApiError::InvalidModel { reason, .. })) => {
                assert!(reason.contains("syntax"), "{reason}");
            }
            other => panic!("expected an invalid model: {other:?}"),
        }
        let missing = serve(
            "404 Not Found",
            r#"{"code":"not_found","title":"Not Found","detail":"no route"}"#,
            1,
        );
        match Api::connect(&missing, "pctk_x:secret").await {
            Err(ConnectError::Model(ApiError::Problem { status: 404, .. })) => {}
            other => panic!("expected a 404: {other:?}"),
        }
        // Nothing listens on a port just freed: unreachable, after the retries.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        match Api::connect(&closed, "pctk_x:secret").await {
            Err(ConnectError::Model(ApiError::Unreachable { endpoint, .. })) => {
                assert_eq!(endpoint, closed);
            }
            other => panic!("expected unreachable: {other:?}"),
        }
    }
}

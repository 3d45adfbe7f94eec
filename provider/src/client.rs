//! The Management API client: the provider's only way to the worker.
//!
//! One shared `reqwest` client per provider process (Terraform calls the provider concurrently,
//! ten resources at a time by default); the API token travels only in the `Authorization`
//! header and is zeroized when the client is dropped. Reads are retried on transport errors and
//! 503s; writes are not (a write that may have landed must not be sent twice).

use portcullis_core::{PermissionSet, TenantId, UserId};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
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

#[derive(Deserialize)]
struct ProblemBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    title: String,
}

/// A configured client: endpoint, token and the token's principal.
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
}

/// `{ "items": [...] }`, the shape of every list the API returns.
#[derive(Deserialize)]
pub struct Items<T> {
    /// The list.
    pub items: Vec<T>,
}

const READ_ATTEMPTS: u32 = 4;

impl Api {
    /// Connects: checks the token with `GET /v1/whoami` and keeps its principal.
    pub async fn connect(endpoint: &str, token: &str) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "terraform-provider-portcullis/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|error| ApiError::Unreachable {
                endpoint: endpoint.to_owned(),
                reason: error.to_string(),
            })?;
        let transport = Transport {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token: Zeroizing::new(token.to_owned()),
        };
        let principal = transport.get("/v1/whoami").await?;
        Ok(Api {
            transport,
            principal,
        })
    }

    /// The tenant every resource lives in.
    pub fn tenant(&self) -> &TenantId {
        &self.principal.tenant_id
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
            return serde_json::from_slice(&bytes).map_err(|error| ApiError::Unexpected {
                status: status.as_u16(),
                reason: error.to_string(),
            });
        }
        Err(problem(status, &bytes))
    }
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
        let body = r#"{"account_id":"acc_0123456789abcdef","tenant_id":"ten_0123456789abcdef",
            "kind":"user","user_id":"usr_0123456789abcdef",
            "permissions":["build_applications","user_and_api_management"],"plan":"team"}"#;
        let principal: Principal = serde_json::from_str(body).unwrap();
        assert_eq!(principal.kind, "user");
        assert_eq!(
            principal.permissions.names(),
            ["build_applications", "user_and_api_management"]
        );
    }
}

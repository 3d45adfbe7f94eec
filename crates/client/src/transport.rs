//! The one place requests are made: the URL of every call is built here from path segments
//! (each percent-encoded as a path segment, so an id can never add a segment or a query), the
//! credential is attached here, reads are retried here, and answers are decoded here with the
//! served product model in force.

use crate::error::{ApiError, problem};
use portcullis_core::model::{Model, ModelError};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// How many times a read is tried before its transport error or 503 is the answer.
const READ_ATTEMPTS: u32 = 4;

/// A connected client: the endpoint, the credential, and the product model the worker serves.
///
/// One client is meant to be shared (it holds a connection pool and is cheap to borrow from
/// many tasks). The credential travels only in the `Authorization` header and is zeroized when
/// the client is dropped. Reads are retried on transport errors and 503s; writes are not (a
/// write that may have landed must not be sent twice).
///
/// The product model is the worker's: [`Client::connect`] reads it from `GET /v1/model` before
/// anything else, and every request body is encoded and every answer decoded with that model
/// in force (the permission and plan names on the wire are its names). The model in force is
/// per thread, so it is entered only around the synchronous encoding and decoding, never across
/// an `.await`.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    endpoint: String,
    credential: Option<Zeroizing<String>>,
    model: Arc<Model>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("credential", &self.credential.as_ref().map(|_| "***"))
            .field("product", &self.model.product())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `endpoint` (e.g. `https://auth.example.com`): reads the product model from
    /// `GET /v1/model` (public) and keeps `credential` (an API token, or the platform sign-up
    /// key for [`Client::sign_up`]) for every later call. `user_agent` names the program. An
    /// unreachable worker or an invalid model is an error: there is no fallback to a
    /// compiled-in model.
    pub async fn connect(
        endpoint: &str,
        credential: Option<&str>,
        user_agent: &str,
    ) -> Result<Client, ApiError> {
        let trimmed = endpoint.trim().trim_end_matches('/');
        let invalid = |reason: String| ApiError::InvalidEndpoint {
            endpoint: trimmed.to_owned(),
            reason,
        };
        let base = Url::parse(trimmed).map_err(|error| invalid(error.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("use an http:// or https:// URL".into()));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("an endpoint has no query or fragment".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(user_agent)
            .build()
            .map_err(|error| ApiError::Unreachable {
                endpoint: trimmed.to_owned(),
                reason: error.to_string(),
            })?;
        let mut client = Client {
            http,
            base,
            endpoint: trimmed.to_owned(),
            credential: credential.map(|text| Zeroizing::new(text.to_owned())),
            // Replaced below, before any call: the served model, never this one.
            model: Arc::clone(portcullis_core::model::default_model()),
        };
        client.model = Arc::new(client.fetch_model().await?);
        Ok(client)
    }

    /// The endpoint, as given (without a trailing `/`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The product model the worker serves.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The URL of `/v1/<segments...>?<query>`: each segment percent-encoded as a path segment.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // `connect` refused bases that cannot take segments, so this always runs.
            path.pop_if_empty().push("v1").extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        }
        url
    }

    /// `GET`, retried on transport errors and 503.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let url = self.url(segments, query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(Method::GET, url.clone(), None).await {
                Err(ApiError::Unreachable { .. } | ApiError::Problem { status: 503, .. })
                    if attempt < READ_ATTEMPTS =>
                {
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                other => return other.and_then(|(status, bytes)| self.decode(status, &bytes)),
            }
        }
    }

    /// A write (`POST`, `PUT`, `PATCH`, `DELETE`) with an optional JSON body; never retried.
    pub(crate) async fn write<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let encoded = body.map(|body| self.encode(body)).transpose()?;
        let (status, bytes) = self.send(method, self.url(segments, &[]), encoded).await?;
        self.decode(status, &bytes)
    }

    /// One request; a success's status and body, or the failure as an error.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>), ApiError> {
        let mut request = self.http.request(method, url);
        if let Some(credential) = &self.credential {
            request = request.bearer_auth(credential.as_str());
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let unreachable = |error: reqwest::Error| ApiError::Unreachable {
            endpoint: self.endpoint.clone(),
            reason: error.without_url().to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            Ok((status, bytes.to_vec()))
        } else {
            Err(problem(status, &bytes))
        }
    }

    /// A request body, encoded with the served model in force.
    fn encode<B: Serialize + ?Sized>(&self, body: &B) -> Result<Vec<u8>, ApiError> {
        let _in_force = self.model.enter();
        serde_json::to_vec(body).map_err(|error| ApiError::Encode {
            reason: error.to_string(),
        })
    }

    /// A successful answer's body, decoded with the served model in force.
    fn decode<T: DeserializeOwned>(&self, status: StatusCode, bytes: &[u8]) -> Result<T, ApiError> {
        decode(&self.model, status, bytes)
    }

    /// `GET /v1/model` (without the credential: it is public), retried like every read,
    /// parsed and validated.
    async fn fetch_model(&self) -> Result<Model, ApiError> {
        let url = self.url(&["model"], &[]);
        let mut attempt = 0;
        let (status, bytes) = loop {
            attempt += 1;
            let answer = match self.http.get(url.clone()).send().await {
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
                        endpoint: self.endpoint.clone(),
                        reason: error.without_url().to_string(),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        };
        if !status.is_success() {
            return Err(problem(status, &bytes));
        }
        parse_model(&self.endpoint, &bytes)
    }
}

/// `bytes` decoded with `model` in force (synchronous: the scope never spans an `.await`).
pub(crate) fn decode<T: DeserializeOwned>(
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

/// The served model document, validated.
pub(crate) fn parse_model(endpoint: &str, bytes: &[u8]) -> Result<Model, ApiError> {
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

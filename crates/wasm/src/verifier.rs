//! Verification with the per-call work done once, for callers that verify many credentials
//! (an edge worker, a gateway): a [`Verifier`] holds the model and the hashing key decoded and
//! keyed once; [`Verifier::parse_record`] reads a stored record once, for as long as the caller
//! chooses to keep it; a [`Verdict`] is the outcome, read field by field, so JavaScript builds
//! only what it asks for (`ok` and `code` are a boolean and a string, the principal an object
//! only when read).
//!
//! The rules are those of `verifyCredential` (the same engine call, [`facade::verify_with`]):
//! a `Verdict`'s `toJSON()` is exactly what `verifyCredential` answers for the same input.

use crate::facade;
use crate::types::{Failure, Principal, VerifyResult};
use crate::{Model, client_address, decode, encode, handle_result, timestamp};
use portcullis_core::HashingKey;
use portcullis_core::credential::{CredentialRecord as CoreRecord, Verification};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const VERIFIER_TYPES: &str = r#"
/** What `Verifier.create` returns: the verifier, or why the hashing key is refused. */
export type VerifierCreateResult = { ok: true; verifier: Verifier } | Failure;

/** What `Verifier.parseRecord` returns: the record, read once, or why it is refused. */
export type StoredRecordResult = { ok: true; record: StoredRecord } | Failure;
"#;

/// A model and a hashing key, ready to verify credentials: the key is decoded and its HMAC
/// keyed once, not on every call.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verifier {
    model: Model,
    key: HashingKey,
}

#[wasm_bindgen]
impl Verifier {
    /// A verifier for `model` with the server-side hashing key (base64): `{ ok: true,
    /// verifier }`, or the failure `verifyCredential` gives for that key.
    #[wasm_bindgen(unchecked_return_type = "VerifierCreateResult")]
    pub fn create(
        model: &Model,
        #[wasm_bindgen(js_name = hashingKey)] hashing_key: &str,
    ) -> JsValue {
        match facade::hashing_key(hashing_key) {
            Ok(key) => handle_result(
                "verifier",
                Verifier {
                    model: model.clone(),
                    key,
                }
                .into(),
            ),
            Err(failure) => encode(&failure),
        }
    }

    /// Reads a credential record (JSON text, as KV returns it, or an object) once, in this
    /// verifier's model: `{ ok: true, record }` or why it is refused. Keeping a record between
    /// requests is the caller's choice: a kept record does not see a later revocation.
    #[wasm_bindgen(js_name = parseRecord, unchecked_return_type = "StoredRecordResult")]
    pub fn parse_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CredentialRecord | string")] record: JsValue,
    ) -> JsValue {
        self.model.run(
            || match decode::<crate::types::CredentialRecord>(record, "record") {
                Ok(record) => handle_result(
                    "record",
                    StoredRecord {
                        inner: CoreRecord::from(record),
                    }
                    .into(),
                ),
                Err(failure) => encode(&failure),
            },
        )
    }

    /// Verifies a presented credential (bare, or an `Authorization: Bearer` header value)
    /// against the record stored under its key id (JSON text, an object, or `null` when there
    /// is none), at `now` (seconds since the Unix epoch; default: the platform clock), for a
    /// request from `clientIp`, as `verifyCredential` does.
    pub fn verify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] credential: Option<
            String,
        >,
        #[wasm_bindgen(unchecked_param_type = "CredentialRecord | string | null | undefined")]
        record: JsValue,
        now: Option<f64>,
        #[wasm_bindgen(js_name = clientIp, unchecked_param_type = "string | null | undefined")]
        client_ip: Option<String>,
    ) -> Verdict {
        let read = self.model.run(|| {
            if record.is_null() || record.is_undefined() {
                Ok(None)
            } else {
                decode::<crate::types::CredentialRecord>(record, "record")
                    .map(|record| Some(CoreRecord::from(record)))
            }
        });
        match read {
            Ok(record) => self.decide(credential.as_deref(), record.as_ref(), now, client_ip),
            Err(failure) => self.verdict(Outcome::Invalid(failure)),
        }
    }

    /// [`Verifier::verify`] against a record read once with `parseRecord`.
    #[wasm_bindgen(js_name = verifyStored)]
    pub fn verify_stored(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] credential: Option<
            String,
        >,
        record: &StoredRecord,
        now: Option<f64>,
        #[wasm_bindgen(js_name = clientIp, unchecked_param_type = "string | null | undefined")]
        client_ip: Option<String>,
    ) -> Verdict {
        self.decide(credential.as_deref(), Some(&record.inner), now, client_ip)
    }
}

impl Verifier {
    fn decide(
        &self,
        credential: Option<&str>,
        record: Option<&CoreRecord>,
        now: Option<f64>,
        client_ip: Option<String>,
    ) -> Verdict {
        let outcome = timestamp(now)
            .and_then(|now| Ok((now, client_address(client_ip)?)))
            .map(|(now, client)| {
                self.model.run(|| {
                    facade::verify_with(
                        credential.unwrap_or_default(),
                        record,
                        &self.key,
                        now,
                        client,
                    )
                })
            });
        self.verdict(match outcome {
            Ok(verification) => Outcome::Decided(verification),
            Err(failure) => Outcome::Invalid(failure),
        })
    }

    fn verdict(&self, outcome: Outcome) -> Verdict {
        Verdict {
            model: self.model.clone(),
            outcome,
        }
    }
}

/// A credential record read once ([`Verifier::parse_record`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct StoredRecord {
    inner: CoreRecord,
}

#[wasm_bindgen]
impl StoredRecord {
    /// The credential's public key id.
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> String {
        self.inner.key_id.as_str().to_owned()
    }
}

#[derive(Debug)]
enum Outcome {
    /// The engine decided (valid or refused).
    Decided(Verification),
    /// An argument was unusable (a record that does not parse, a bad time or client IP).
    Invalid(Failure),
}

/// The outcome of one verification: `ok`, the precise refusal `code` and the `publicCode` to
/// answer the caller with, and the `principal` of a valid credential (built when read).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verdict {
    model: Model,
    outcome: Outcome,
}

#[wasm_bindgen]
impl Verdict {
    /// Whether the credential is valid.
    #[wasm_bindgen(getter)]
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Decided(Verification::Valid(_)))
    }

    /// Why it is refused (`wrong_secret`, `expired`, ..., or an argument's problem code such as
    /// `invalid_input`); `undefined` when valid. Log it, never answer it: see `publicCode`.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Decided(Verification::Valid(_)) => None,
            Outcome::Decided(refused) => Some(refused.code().to_owned()),
            Outcome::Invalid(failure) => failure.errors.first().map(|problem| problem.code.clone()),
        }
    }

    /// What to tell the caller of a refused credential (`invalid_credentials` for anything that
    /// could be enumerated); `undefined` when valid or when an argument was unusable.
    #[wasm_bindgen(getter, js_name = publicCode)]
    pub fn public_code(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Decided(Verification::Valid(_)) | Outcome::Invalid(_) => None,
            Outcome::Decided(refused) => Some(refused.public_code().to_owned()),
        }
    }

    /// The principal of a valid credential, as `verifyCredential` gives it; `undefined` when
    /// refused.
    #[wasm_bindgen(getter, unchecked_return_type = "Principal | undefined")]
    pub fn principal(&self) -> JsValue {
        match &self.outcome {
            Outcome::Decided(Verification::Valid(principal)) => self
                .model
                .run(|| encode(&Principal::from(principal.clone()))),
            _ => JsValue::UNDEFINED,
        }
    }

    /// The whole outcome, exactly as `verifyCredential` answers it.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "VerifyResult")]
    pub fn to_json(&self) -> JsValue {
        self.model.run(|| {
            let result = match &self.outcome {
                Outcome::Decided(verification) => facade::verify_result(verification.clone()),
                Outcome::Invalid(failure) => VerifyResult::from(failure.clone()),
            };
            encode(&result)
        })
    }
}

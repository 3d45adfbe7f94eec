//! Verification with the per-call work done once, for callers that verify many credentials
//! (an edge worker, a gateway): a [`Verifier`] holds the model and the hashing key decoded and
//! keyed once; [`Verifier::parse_record`] reads a stored record once, for as long as the caller
//! chooses to keep it; a [`Verdict`] is the outcome, read field by field, so JavaScript builds
//! only what it asks for (`ok` and `code` are a boolean and a string, the principal an object
//! only when read).
//!
//! A caller that only needs to know whether a credential is valid most of the time uses
//! [`Verifier::check`] or [`Verifier::check_stored`]: a boolean crosses the boundary, no
//! `Verdict` object is made (nor registered with the garbage collector's finalizer), and the
//! outcome stays in the verifier until the next check, read through `lastCode`,
//! `lastPublicCode` and `lastPrincipal` when wanted; `lastAllows(operation)` authorizes the
//! accepted credential without building its principal.
//!
//! The rules are those of `verifyCredential` (the same engine call, [`facade::verify_with`]):
//! a `Verdict`'s `toJSON()` is exactly what `verifyCredential` answers for the same input.

use crate::facade;
use crate::types::{Failure, Principal, VerifyResult};
use crate::{Model, client_address, decode, encode, handle_result, timestamp};
use portcullis_core::HashingKey;
use portcullis_core::credential::{CredentialRecord as CoreRecord, Verification};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use zeroize::Zeroize;

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
    /// The outcome of the last `check` or `checkStored` (`None` before the first).
    last: RefCell<Option<Outcome>>,
    /// Where `check` and `checkStored` have the presented credential written.
    input: RefCell<Input>,
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
                    last: RefCell::new(None),
                    input: RefCell::new(Input::new()),
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
        let outcome = self.decide_read(credential.as_deref(), record, now, client_ip);
        self.verdict(outcome)
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
        let outcome = self.decide(credential.as_deref(), Some(&record.inner), now, client_ip);
        self.verdict(outcome)
    }

    /// [`Verifier::verify`] answering only whether the credential is valid: `true` or
    /// `false`, no `Verdict` made. The outcome is kept in this verifier until the next `check`
    /// or `checkStored`: read it with `lastCode`, `lastPublicCode` and `lastPrincipal`.
    pub fn check(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] credential: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "CredentialRecord | string | null | undefined")]
        record: JsValue,
        now: Option<f64>,
        #[wasm_bindgen(js_name = clientIp, unchecked_param_type = "string | null | undefined")]
        client_ip: Option<String>,
    ) -> bool {
        let outcome = self.with_credential(credential, |credential| {
            self.decide_read(credential, record, now, client_ip)
        });
        self.keep(outcome)
    }

    /// [`Verifier::check`] against a record read once with `parseRecord`: the fastest path.
    #[wasm_bindgen(js_name = checkStored)]
    pub fn check_stored(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] credential: &JsValue,
        record: &StoredRecord,
        now: Option<f64>,
        #[wasm_bindgen(js_name = clientIp, unchecked_param_type = "string | null | undefined")]
        client_ip: Option<String>,
    ) -> bool {
        let outcome = self.with_credential(credential, |credential| {
            self.decide(credential, Some(&record.inner), now, client_ip)
        });
        self.keep(outcome)
    }

    /// Why the last `check` or `checkStored` refused (as a `Verdict`'s `code`); `undefined`
    /// when it accepted, or before the first check.
    #[wasm_bindgen(getter, js_name = lastCode)]
    pub fn last_code(&self) -> Option<String> {
        self.last.borrow().as_ref().and_then(Outcome::code)
    }

    /// What to tell the caller refused by the last `check` or `checkStored` (as a
    /// `Verdict`'s `publicCode`); `undefined` when it accepted, when an argument was unusable,
    /// or before the first check.
    #[wasm_bindgen(getter, js_name = lastPublicCode)]
    pub fn last_public_code(&self) -> Option<String> {
        self.last.borrow().as_ref().and_then(Outcome::public_code)
    }

    /// The principal of the credential the last `check` or `checkStored` accepted (as a
    /// `Verdict`'s `principal`), built when read; `undefined` when it refused, or before the
    /// first check.
    #[wasm_bindgen(getter, js_name = lastPrincipal, unchecked_return_type = "Principal | undefined")]
    pub fn last_principal(&self) -> JsValue {
        match self.last.borrow().as_ref() {
            Some(outcome) => outcome.principal(&self.model),
            None => JsValue::UNDEFINED,
        }
    }

    /// Whether the credential the last `check` or `checkStored` accepted may perform
    /// `operation` (a name of this verifier's model's operations), decided inside wasm against
    /// the principal the verifier keeps: no principal object is built. `false` when the last
    /// check refused, before the first check, and for a name the model does not have
    /// (`authorize` with `lastPrincipal` gives the reason in every case).
    #[wasm_bindgen(js_name = lastAllows)]
    pub fn last_allows(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Operation")] operation: &str,
    ) -> bool {
        match self.last.borrow().as_ref() {
            Some(Outcome::Decided(Verification::Valid(principal))) => {
                self.model.run(|| facade::allows(principal, operation))
            }
            _ => false,
        }
    }
}

impl Verifier {
    /// Runs `f` with the presented credential as text (`None` for `null`, `undefined` or a
    /// value that is not a string). The text is written by the platform's `TextEncoder` into
    /// this verifier's own buffer, then wiped: no allocation, and no UTF-8 encoding in
    /// JavaScript code, per call (wasm-bindgen's string passing does both). A credential too
    /// long for the buffer is copied out the usual way.
    fn with_credential<R>(&self, credential: &JsValue, f: impl FnOnce(Option<&str>) -> R) -> R {
        if !credential.is_string() {
            return f(None);
        }
        let Ok(mut input) = self.input.try_borrow_mut() else {
            return f(credential.as_string().as_deref());
        };
        let written = input.write(credential);
        // Every character takes at most 4 bytes: with 4 left over, all of it was written.
        if written + 4 > INPUT_CAPACITY {
            // What was written is part of a credential all the same: wiped before the copy.
            input.bytes.zeroize();
            drop(input);
            return f(credential.as_string().as_deref());
        }
        let used = input.bytes.get_mut(..written).unwrap_or_default();
        let copied;
        let text = match std::str::from_utf8(used) {
            Ok(text) => Some(text),
            Err(_) => {
                copied = credential.as_string();
                copied.as_deref()
            }
        };
        let result = f(text);
        used.zeroize();
        result
    }

    /// Reads the record (JSON text, an object, or `null`/`undefined` for none), then decides.
    fn decide_read(
        &self,
        credential: Option<&str>,
        record: JsValue,
        now: Option<f64>,
        client_ip: Option<String>,
    ) -> Outcome {
        let read = self.model.run(|| {
            if record.is_null() || record.is_undefined() {
                Ok(None)
            } else {
                decode::<crate::types::CredentialRecord>(record, "record")
                    .map(|record| Some(CoreRecord::from(record)))
            }
        });
        match read {
            Ok(record) => self.decide(credential, record.as_ref(), now, client_ip),
            Err(failure) => Outcome::Invalid(failure),
        }
    }

    fn decide(
        &self,
        credential: Option<&str>,
        record: Option<&CoreRecord>,
        now: Option<f64>,
        client_ip: Option<String>,
    ) -> Outcome {
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
        match outcome {
            Ok(verification) => Outcome::Decided(verification),
            Err(failure) => Outcome::Invalid(failure),
        }
    }

    /// Keeps `outcome` as the last one: whether it accepts the credential.
    fn keep(&self, outcome: Outcome) -> bool {
        let ok = outcome.ok();
        *self.last.borrow_mut() = Some(outcome);
        ok
    }

    fn verdict(&self, outcome: Outcome) -> Verdict {
        Verdict {
            model: self.model.clone(),
            outcome,
        }
    }
}

/// The bytes a verifier keeps for presented credentials (credentials are about 80 bytes).
const INPUT_CAPACITY: usize = 1024;

#[wasm_bindgen]
extern "C" {
    /// The platform's `TextEncoder` (every runtime the package targets has one).
    #[derive(Debug)]
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    /// Writes `source` (a string) as UTF-8 into `destination`, as much as fits.
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(
        this: &TextEncoder,
        source: &JsValue,
        destination: &js_sys::Uint8Array,
    ) -> EncodeIntoResult;
    #[derive(Debug)]
    type EncodeIntoResult;
    /// How many bytes `encodeInto` wrote.
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> u32;
}

/// A buffer in wasm memory and a JavaScript view of it, which `TextEncoder.encodeInto`
/// writes a credential into.
#[derive(Debug)]
struct Input {
    bytes: Box<[u8]>,
    encoder: Option<TextEncoder>,
    /// The view and the memory size (pages) it was made at: growing the memory detaches it.
    view: Option<(usize, js_sys::Uint8Array)>,
}

impl Input {
    fn new() -> Self {
        Self {
            bytes: vec![0; INPUT_CAPACITY].into_boxed_slice(),
            encoder: None,
            view: None,
        }
    }

    /// Writes the string `text` into the buffer: how many bytes were written (all of it when
    /// at least 4 bytes are left).
    fn write(&mut self, text: &JsValue) -> usize {
        let pages = memory_pages();
        if !matches!(&self.view, Some((at, _)) if *at == pages) {
            let Ok(memory) = wasm_bindgen::memory().dyn_into::<js_sys::WebAssembly::Memory>()
            else {
                return INPUT_CAPACITY;
            };
            let view = js_sys::Uint8Array::new_with_byte_offset_and_length(
                &memory.buffer(),
                self.bytes.as_mut_ptr() as usize as u32,
                INPUT_CAPACITY as u32,
            );
            self.view = Some((pages, view));
        }
        let Some((_, view)) = &self.view else {
            return INPUT_CAPACITY;
        };
        let encoder = self.encoder.get_or_insert_with(TextEncoder::new);
        encoder.encode_into(text, view).written() as usize
    }
}

/// The size of the wasm memory, in pages (no JavaScript call).
fn memory_pages() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
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

impl Outcome {
    fn ok(&self) -> bool {
        matches!(self, Outcome::Decided(Verification::Valid(_)))
    }

    fn code(&self) -> Option<String> {
        match self {
            Outcome::Decided(Verification::Valid(_)) => None,
            Outcome::Decided(refused) => Some(refused.code().to_owned()),
            Outcome::Invalid(failure) => failure.errors.first().map(|problem| problem.code.clone()),
        }
    }

    fn public_code(&self) -> Option<String> {
        match self {
            Outcome::Decided(Verification::Valid(_)) | Outcome::Invalid(_) => None,
            Outcome::Decided(refused) => Some(refused.public_code().to_owned()),
        }
    }

    fn principal(&self, model: &Model) -> JsValue {
        match self {
            Outcome::Decided(Verification::Valid(principal)) => {
                model.run(|| encode(&Principal::from(principal.clone())))
            }
            _ => JsValue::UNDEFINED,
        }
    }
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
        self.outcome.ok()
    }

    /// Why it is refused (`wrong_secret`, `expired`, ..., or an argument's problem code such as
    /// `invalid_input`); `undefined` when valid. Log it, never answer it: see `publicCode`.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> Option<String> {
        self.outcome.code()
    }

    /// What to tell the caller of a refused credential (`invalid_credentials` for anything that
    /// could be enumerated); `undefined` when valid or when an argument was unusable.
    #[wasm_bindgen(getter, js_name = publicCode)]
    pub fn public_code(&self) -> Option<String> {
        self.outcome.public_code()
    }

    /// The principal of a valid credential, as `verifyCredential` gives it; `undefined` when
    /// refused.
    #[wasm_bindgen(getter, unchecked_return_type = "Principal | undefined")]
    pub fn principal(&self) -> JsValue {
        self.outcome.principal(&self.model)
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

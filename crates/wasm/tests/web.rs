//! The package in a real JavaScript engine: one wasm-bindgen-test suite, run under Node and in
//! headless Chromium (no `wasm_bindgen_test_configure!` line, so `WASM_BINDGEN_USE_BROWSER=1`
//! or `wasm-pack test --chrome` moves the same suite into the browser). Every value crosses
//! the real JS boundary: arguments are built with `JSON.parse`, results read back with
//! `JSON.stringify`.
//!
//! ```sh
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test -p portcullis-wasm --target wasm32-unknown-unknown --test web
//! WASM_BINDGEN_USE_BROWSER=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test -p portcullis-wasm --target wasm32-unknown-unknown --test web
//! ```
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

mod support;

use portcullis_wasm::types::{AuthorizeResult, SignedInResult, VerifyResult};
use portcullis_wasm::{
    Model, StoredRecord, Verifier, access_record_key, account_operation_allowed,
    account_permissions_matrix, authorize_operation, check_tenant_change, check_user_transition,
    credential_key_id, generate_hashing_key, issue_credential, list_account_operations,
    list_company_roles, list_operations, list_permissions, list_role_presets, locate_session,
    validate_config, verify_credential, verify_session, verify_signed_in,
};
use serde_json::{Value, json};
use wasm_bindgen::JsValue;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen_test::wasm_bindgen_test;

/// The default model, built into the package.
fn default() -> Model {
    Model::default_model()
}

/// A document given to `Model.load`: JSON text as a JavaScript string, anything else as a
/// plain object.
fn document_of(document: &Value) -> JsValue {
    match document.as_str() {
        Some(text) => JsValue::from_str(text),
        None => js_of(document),
    }
}

/// The model `Model.load` returns for a valid document, taken out of its `{ ok, model }`.
fn loaded(document: JsValue) -> Model {
    let result = Model::load(document);
    assert_eq!(json_of(&result)["ok"], true, "{}", json_of(&result));
    let model = js_sys::Reflect::get(&result, &JsValue::from_str("model")).unwrap();
    Model::try_from_js_value(model).unwrap()
}

/// A JavaScript value read back as JSON, the way a caller would serialise it.
fn json_of(value: &JsValue) -> Value {
    let text = js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A JSON value as a plain JavaScript object.
fn js_of(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap()
}

fn first_code(result: &Value) -> &str {
    assert_eq!(result["ok"], false, "{result}");
    result["errors"][0]["code"].as_str().unwrap()
}

/// The index of the first case whose name starts with `name`.
fn position<T>(cases: &[T], name_of: fn(&T) -> &str, name: &str) -> usize {
    cases
        .iter()
        .position(|case| name_of(case).starts_with(name))
        .unwrap_or_else(|| panic!("no vector named {name}"))
}

fn verify_case(name: &str) -> (support::Vectors, usize) {
    let vectors = support::vectors();
    let index = position(&vectors.verify, |case| &case.name, name);
    (vectors, index)
}

fn run_verify(vectors: &support::Vectors, case: &support::VerifyCase, record: JsValue) -> Value {
    verify_in(&default(), vectors, case, record)
}

/// `verifyCredential` of a case under `model`.
fn verify_in(
    model: &Model,
    vectors: &support::Vectors,
    case: &support::VerifyCase,
    record: JsValue,
) -> Value {
    json_of(&verify_credential(
        model,
        Some(case.credential.clone()),
        record,
        &vectors.hashing_key,
        Some(vectors.now as f64),
        None,
    ))
}

#[wasm_bindgen_test]
fn every_verification_vector_decides_as_natively() {
    let vectors = support::vectors();
    for case in &vectors.verify {
        // The record as a JavaScript object, and as the JSON text KV hands back.
        let as_object = run_verify(&vectors, case, js_of(&case.record));
        assert_eq!(as_object, case.result, "{} (object)", case.name);
        let as_text = if case.record.is_null() {
            JsValue::NULL
        } else {
            JsValue::from_str(&case.record.to_string())
        };
        assert_eq!(
            run_verify(&vectors, case, as_text),
            case.result,
            "{} (text)",
            case.name
        );
    }
}

/// The verifier `Verifier.create` returns for the vectors' hashing key.
fn verifier_of(vectors: &support::Vectors) -> Verifier {
    let result = Verifier::create(&default(), &vectors.hashing_key);
    assert_eq!(json_of(&result)["ok"], true, "{}", json_of(&result));
    let verifier = js_sys::Reflect::get(&result, &JsValue::from_str("verifier")).unwrap();
    Verifier::try_from_js_value(verifier).unwrap()
}

#[wasm_bindgen_test]
fn a_verifier_decides_every_vector_as_verify_credential_does() {
    let vectors = support::vectors();
    let verifier = verifier_of(&vectors);
    let now = Some(vectors.now as f64);
    for case in &vectors.verify {
        let expected = &case.result;
        let record_text = if case.record.is_null() {
            JsValue::NULL
        } else {
            JsValue::from_str(&case.record.to_string())
        };
        let verdicts = [
            verifier.verify(Some(case.credential.clone()), record_text, now, None),
            verifier.verify(
                Some(case.credential.clone()),
                js_of(&case.record),
                now,
                None,
            ),
        ];
        for verdict in &verdicts {
            assert_eq!(&json_of(&verdict.to_json()), expected, "{}", case.name);
            assert_eq!(verdict.ok(), expected["ok"] == true, "{}", case.name);
            if verdict.ok() {
                assert_eq!(
                    json_of(&verdict.principal()),
                    expected["principal"],
                    "{}",
                    case.name
                );
                assert_eq!(verdict.code(), None, "{}", case.name);
                assert_eq!(verdict.public_code(), None, "{}", case.name);
            } else {
                assert!(verdict.principal().is_undefined(), "{}", case.name);
                assert_eq!(
                    verdict.code().as_deref(),
                    Some(first_code(expected)),
                    "{}",
                    case.name
                );
                assert_eq!(
                    verdict.public_code().as_deref(),
                    expected["errors"][0]["public"]["code"].as_str(),
                    "{}",
                    case.name
                );
            }
        }
        if case.record.is_null() {
            continue;
        }
        // The record read once, then verified against as many times as wanted.
        let parsed = verifier.parse_record(js_of(&case.record));
        assert_eq!(
            json_of(&parsed)["ok"],
            true,
            "{}: {}",
            case.name,
            json_of(&parsed)
        );
        let stored = StoredRecord::try_from_js_value(
            js_sys::Reflect::get(&parsed, &JsValue::from_str("record")).unwrap(),
        )
        .unwrap();
        assert_eq!(stored.key_id(), case.record["key_id"].as_str().unwrap());
        for _ in 0..2 {
            let verdict = verifier.verify_stored(Some(case.credential.clone()), &stored, now, None);
            assert_eq!(
                &json_of(&verdict.to_json()),
                expected,
                "{} (stored)",
                case.name
            );
        }
    }
}

/// What a verifier's `last*` getters say, next to what its `Verdict` says for the same call.
fn assert_last_is_verdict(
    verifier: &Verifier,
    ok: bool,
    verdict: &portcullis_wasm::Verdict,
    name: &str,
) {
    assert_eq!(ok, verdict.ok(), "{name}");
    assert_eq!(verifier.last_code(), verdict.code(), "{name}");
    assert_eq!(verifier.last_public_code(), verdict.public_code(), "{name}");
    let (last, principal) = (verifier.last_principal(), verdict.principal());
    assert_eq!(last.is_undefined(), principal.is_undefined(), "{name}");
    if !principal.is_undefined() {
        assert_eq!(json_of(&last), json_of(&principal), "{name}");
    }
}

/// `lastAllows` of every operation of the model (and of a name it lacks) against `authorize`
/// of `lastPrincipal`: the same allow for an accepted credential, `false` for a refused one.
fn assert_last_allows_as_authorize_decides(verifier: &Verifier, ok: bool, name: &str) {
    let operations = json_of(&list_operations(&default()));
    let mut allowed = 0;
    for operation in operations.as_array().unwrap() {
        let operation = operation["name"].as_str().unwrap();
        let allows = verifier.last_allows(operation);
        if ok {
            let decision = json_of(&authorize_operation(
                &default(),
                verifier.last_principal(),
                operation,
            ));
            assert_eq!(decision["ok"], true, "{name} {operation}: {decision}");
            assert_eq!(allows, decision["allow"] == true, "{name} {operation}");
        } else {
            assert!(!allows, "{name} {operation}: refused, yet allowed");
        }
        allowed += usize::from(allows);
    }
    assert!(!verifier.last_allows("no_such_operation"), "{name}");
    assert!(
        !ok || allowed > 0,
        "{name}: an accepted credential allows nothing"
    );
}

#[wasm_bindgen_test]
fn a_verifier_checks_every_vector_as_its_verdicts_decide() {
    let vectors = support::vectors();
    let verifier = verifier_of(&vectors);
    assert!(verifier.last_code().is_none() && verifier.last_principal().is_undefined());
    let now = Some(vectors.now as f64);
    let mut accepted = 0;
    for case in &vectors.verify {
        let credential = JsValue::from_str(&case.credential);
        let record_text = if case.record.is_null() {
            JsValue::NULL
        } else {
            JsValue::from_str(&case.record.to_string())
        };
        let expected = verifier.verify(
            Some(case.credential.clone()),
            record_text.clone(),
            now,
            None,
        );
        let ok = verifier.check(&credential, record_text, now, None);
        assert_last_is_verdict(&verifier, ok, &expected, &case.name);
        assert_eq!(ok, case.result["ok"] == true, "{}", case.name);
        assert_last_allows_as_authorize_decides(&verifier, ok, &case.name);
        accepted += usize::from(ok);
        if case.record.is_null() {
            continue;
        }
        let parsed = verifier.parse_record(js_of(&case.record));
        let stored = StoredRecord::try_from_js_value(
            js_sys::Reflect::get(&parsed, &JsValue::from_str("record")).unwrap(),
        )
        .unwrap();
        for _ in 0..2 {
            let ok = verifier.check_stored(&credential, &stored, now, None);
            assert_last_is_verdict(&verifier, ok, &expected, &format!("{} (stored)", case.name));
        }
    }
    assert!(accepted > 0, "no vector is accepted");
}

#[wasm_bindgen_test]
fn a_verifier_checks_credentials_of_any_length_and_arguments_as_verify_does() {
    let vectors = support::vectors();
    let verifier = verifier_of(&vectors);
    let now = Some(vectors.now as f64);
    let case = vectors
        .verify
        .iter()
        .find(|case| case.result["ok"] == true)
        .unwrap();
    let parsed = verifier.parse_record(js_of(&case.record));
    let stored = StoredRecord::try_from_js_value(
        js_sys::Reflect::get(&parsed, &JsValue::from_str("record")).unwrap(),
    )
    .unwrap();
    // Longer than the verifier's buffer, non-ASCII, a lone surrogate, not a string at all,
    // a bad time and a bad client IP: each decided as `verifyStored` decides it.
    let long = format!("Bearer {}{}", case.credential, "é".repeat(600));
    let presented: Vec<(JsValue, Option<String>, &str)> = vec![
        (
            JsValue::from_str(&long),
            Some(long.clone()),
            "too long for the buffer",
        ),
        (
            JsValue::from_str("Bearer pc_tok_ünïcode"),
            Some("Bearer pc_tok_ünïcode".into()),
            "non-ASCII",
        ),
        (
            js_sys::JSON::parse("\"\\ud800\"").unwrap(),
            Some("\u{fffd}".into()),
            "lone surrogate",
        ),
        (JsValue::from_f64(7.0), None, "a number"),
        (JsValue::UNDEFINED, None, "undefined"),
        (
            JsValue::from_str(&case.credential),
            Some(case.credential.clone()),
            "the valid one",
        ),
    ];
    for (value, text, name) in &presented {
        let expected = verifier.verify_stored(text.clone(), &stored, now, None);
        let ok = verifier.check_stored(value, &stored, now, None);
        assert_last_is_verdict(&verifier, ok, &expected, name);
    }
    assert!(
        verifier.last_principal().is_object(),
        "the valid one is last"
    );
    let credential = JsValue::from_str(&case.credential);
    assert!(!verifier.check_stored(&credential, &stored, Some(-1.0), None));
    assert_eq!(verifier.last_code().as_deref(), Some("invalid_time"));
    assert!(verifier.last_principal().is_undefined());
    assert!(!verifier.check_stored(&credential, &stored, now, Some("not an address".into())));
    assert_eq!(verifier.last_code().as_deref(), Some("invalid_client_ip"));
    assert_eq!(verifier.last_public_code(), None);
    assert!(!verifier.check(&credential, JsValue::from_str("{\"key_id\": 7}"), now, None));
    assert_eq!(verifier.last_code().as_deref(), Some("invalid_input"));
}

#[wasm_bindgen_test]
fn a_verifier_refuses_bad_keys_records_and_arguments_without_throwing() {
    let vectors = support::vectors();
    let refused = json_of(&Verifier::create(&default(), "not base64!"));
    assert_eq!(refused["ok"], false);
    assert_eq!(first_code(&refused), "invalid_hashing_key", "{refused}");

    let verifier = verifier_of(&vectors);
    let bad_record = json_of(&verifier.parse_record(JsValue::from_str("{\"key_id\": 7}")));
    assert_eq!(bad_record["ok"], false, "{bad_record}");
    assert_eq!(first_code(&bad_record), "invalid_input", "{bad_record}");

    let case = &vectors.verify[0];
    let bad_time = verifier.verify(
        Some(case.credential.clone()),
        js_of(&case.record),
        Some(-1.0),
        None,
    );
    assert!(!bad_time.ok());
    assert_eq!(
        bad_time.code().as_deref(),
        Some(first_code(&json_of(&bad_time.to_json())))
    );
    assert_eq!(bad_time.public_code(), None);
    let bad_ip = verifier.verify(
        Some(case.credential.clone()),
        js_of(&case.record),
        Some(vectors.now as f64),
        Some("not an address".into()),
    );
    assert_eq!(bad_ip.code().as_deref(), Some("invalid_client_ip"));
    let nothing = verifier.verify(None, JsValue::NULL, Some(vectors.now as f64), None);
    assert!(!nothing.ok());
    assert_eq!(
        nothing.public_code().as_deref(),
        Some("malformed_credential")
    );
}

#[wasm_bindgen_test]
fn a_valid_token_verifies_with_its_effective_permissions() {
    let (vectors, index) = verify_case("api token in a Bearer header");
    let case = &vectors.verify[index];
    let result = run_verify(&vectors, case, js_of(&case.record));
    assert_eq!(result["ok"], true);
    assert_eq!(result["principal"]["kind"], "user");
    assert_eq!(result["principal"]["plan"], "team");
    assert_eq!(
        result["principal"]["permissions"],
        json!(["update_certificates", "build_applications"])
    );
    assert_eq!(result["principal"]["key_id"], case.record["key_id"]);
}

#[wasm_bindgen_test]
fn refused_credentials_carry_their_codes() {
    for (name, code) in [
        ("wrong secret", "wrong_secret"),
        ("malformed: one character", "malformed_credential"),
        ("malformed: Basic", "malformed_credential"),
        ("expired", "expired"),
        ("disabled automation key", "disabled"),
        ("deleted credential", "unknown_key"),
        ("owner deactivated", "owner_inactive"),
    ] {
        let (vectors, index) = verify_case(name);
        let case = &vectors.verify[index];
        let result = run_verify(&vectors, case, js_of(&case.record));
        assert_eq!(first_code(&result), code, "{name}");
        assert!(result.get("principal").is_none(), "{name}");
    }
    // No header at all (`undefined` from JavaScript) is malformed, not an exception.
    let vectors = support::vectors();
    let missing = json_of(&verify_credential(
        &default(),
        None,
        JsValue::UNDEFINED,
        &vectors.hashing_key,
        None,
        None,
    ));
    assert_eq!(first_code(&missing), "malformed_credential");
}

#[wasm_bindgen_test]
fn an_automation_key_is_refused_every_non_build_operation() {
    let (vectors, index) = verify_case("automation key in a Bearer header");
    let case = &vectors.verify[index];
    let principal = run_verify(&vectors, case, js_of(&case.record))["principal"].clone();
    let operations = json_of(&list_operations(&default()));
    let operations = operations.as_array().unwrap();
    assert_eq!(operations.len(), 15);
    let mut refused = 0;
    for operation in operations {
        let name = operation["name"].as_str().unwrap();
        let decision = json_of(&authorize_operation(&default(), js_of(&principal), name));
        assert_eq!(decision["ok"], true, "{name}");
        // The default model opens its build operations, and only those, to automation keys.
        assert_eq!(
            operation["automation_keys"],
            operation["area"] == "builds",
            "{name}"
        );
        if operation["automation_keys"] == true {
            assert_eq!(decision["allow"], true, "{name}");
        } else {
            refused += 1;
            assert_eq!(decision["allow"], false, "{name}");
            assert_eq!(decision["reason"]["code"], "automation_key_scope", "{name}");
            assert_eq!(
                decision["message"],
                "automation keys may not perform this operation"
            );
        }
    }
    assert_eq!(refused, 11);
}

#[wasm_bindgen_test]
fn every_authorization_vector_decides_as_natively() {
    let vectors = support::vectors();
    for case in &vectors.authorize {
        for decision in &case.decisions {
            let result = json_of(&authorize_operation(
                &default(),
                js_of(&case.principal),
                &decision.operation,
            ));
            assert_eq!(
                result, decision.result,
                "{}: {}",
                case.name, decision.operation
            );
        }
    }
}

#[wasm_bindgen_test]
fn validation_reports_every_violated_rule_at_once() {
    let vectors = support::vectors();
    for case in &vectors.validate {
        let result = json_of(&validate_config(&default(), js_of(&case.config)));
        assert_eq!(result, case.result, "{}", case.name);
    }
    let broken = vectors
        .validate
        .iter()
        .find(|case| case.name == "every rule broken at once")
        .unwrap();
    let result = json_of(&validate_config(
        &default(),
        JsValue::from_str(&broken.config.to_string()),
    ));
    let errors = result["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 10);
    assert_eq!(errors[0]["path"], "tenant.members[0].permissions[1]");
    let codes: std::collections::BTreeSet<&str> =
        errors.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 8, "{codes:?}");
}

#[wasm_bindgen_test]
fn results_round_trip_through_json() {
    let vectors = support::vectors();
    let case = &vectors.verify[0];
    let result = verify_credential(
        &default(),
        Some(case.credential.clone()),
        js_of(&case.record),
        &vectors.hashing_key,
        Some(vectors.now as f64),
        None,
    );
    let direct: VerifyResult = serde_wasm_bindgen::from_value(result.clone()).unwrap();
    let text = js_sys::JSON::stringify(&result)
        .unwrap()
        .as_string()
        .unwrap();
    let through_json: VerifyResult = serde_json::from_str(&text).unwrap();
    assert_eq!(direct, through_json);
    let VerifyResult::Success(verified) = through_json else {
        panic!("the vector verifies");
    };
    // A principal that went through JSON (an object or its text) authorizes the same way.
    let principal = json_of(&result)["principal"].clone();
    for operation in ["run_build", "write_configuration", "read_audit_log"] {
        let from_object = authorize_operation(&default(), js_of(&principal), operation);
        let from_text = authorize_operation(
            &default(),
            JsValue::from_str(&principal.to_string()),
            operation,
        );
        assert_eq!(json_of(&from_object), json_of(&from_text), "{operation}");
        let decided: AuthorizeResult = serde_wasm_bindgen::from_value(from_object).unwrap();
        let AuthorizeResult::Success(decided) = decided else {
            panic!("{operation} is in the catalogue");
        };
        let again: AuthorizeResult =
            serde_json::from_str(&serde_json::to_string(&decided).unwrap()).unwrap();
        assert_eq!(again, AuthorizeResult::Success(decided));
    }
    assert_eq!(
        serde_json::to_value(&verified.principal).unwrap(),
        principal
    );
    // Failures round-trip too.
    let failure = json_of(&credential_key_id(Some("garbage".into())));
    let parsed: portcullis_wasm::types::LocateResult =
        serde_json::from_value(failure.clone()).unwrap();
    assert_eq!(serde_json::to_value(parsed).unwrap(), failure);
}

#[wasm_bindgen_test]
fn issued_credentials_come_from_web_crypto_and_verify() {
    let key = generate_hashing_key();
    assert_ne!(
        key,
        generate_hashing_key(),
        "two keys from Web Crypto differ"
    );
    let request = json!({
        "kind": "api_token",
        "account_id": "acc_00000000000000aa",
        "tenant_id": "ten_00000000000000bb",
        "owner": "usr_00000000000000cc",
        "name": "laptop",
        "plan": "enterprise",
        "permissions": ["modify_configuration"],
    });
    let first = json_of(&issue_credential(&default(), js_of(&request), &key));
    let second = json_of(&issue_credential(
        &default(),
        JsValue::from_str(&request.to_string()),
        &key,
    ));
    assert_eq!(first["ok"], true, "{first}");
    assert_ne!(first["secret"], second["secret"]);
    let secret = first["secret"].as_str().unwrap();
    assert!(secret.starts_with("pctk_"));
    let located = json_of(&credential_key_id(Some(format!("Bearer {secret}"))));
    assert_eq!(located["storage_key"], first["storage_key"]);
    assert_eq!(located["key_id"], first["record"]["key_id"]);
    let verified = json_of(&verify_credential(
        &default(),
        Some(secret.to_owned()),
        js_of(&first["record"]),
        &key,
        None,
        None,
    ));
    assert_eq!(
        verified["principal"]["permissions"],
        json!(["modify_configuration"])
    );
    // The other token's record does not accept this secret.
    let crossed = json_of(&verify_credential(
        &default(),
        Some(secret.to_owned()),
        js_of(&second["record"]),
        &key,
        None,
        None,
    ));
    assert_eq!(first_code(&crossed), "unknown_key");
}

#[wasm_bindgen_test]
fn client_ip_rules_and_labels_of_a_stored_record_are_honoured() {
    let key = generate_hashing_key();
    let request = json!({
        "kind": "api_token",
        "account_id": "acc_00000000000000aa",
        "tenant_id": "ten_00000000000000bb",
        "owner": "usr_00000000000000cc",
        "name": "office",
        "plan": "enterprise",
        "permissions": [],
    });
    let issued = json_of(&issue_credential(&default(), js_of(&request), &key));
    let secret = issued["secret"].as_str().unwrap().to_owned();
    let mut record = issued["record"].clone();
    record["ip"] = json!({ "allowed_ips": ["203.0.113.0/24"] });
    record["external_id"] = json!("cus_9");
    record["metadata"] = json!({ "team": "ops" });
    let verify = |client: Option<&str>| {
        json_of(&verify_credential(
            &default(),
            Some(secret.clone()),
            js_of(&record),
            &key,
            None,
            client.map(str::to_owned),
        ))
    };
    let inside = verify(Some("203.0.113.4"));
    assert_eq!(inside["ok"], true, "{inside}");
    assert_eq!(inside["principal"]["external_id"], "cus_9");
    assert_eq!(inside["principal"]["metadata"], json!({ "team": "ops" }));
    assert_eq!(first_code(&verify(Some("198.51.100.4"))), "ip_not_allowed");
    assert_eq!(first_code(&verify(None)), "ip_not_allowed");
    assert_eq!(
        first_code(&verify(Some("not an address"))),
        "invalid_client_ip"
    );
}

#[wasm_bindgen_test]
fn bad_inputs_are_failures_not_exceptions() {
    let vectors = support::vectors();
    let case = &vectors.verify[0];
    let key = &vectors.hashing_key;
    let now = Some(vectors.now as f64);
    let credential = || Some(case.credential.clone());
    let code_of = |value: JsValue| first_code(&json_of(&value)).to_owned();

    assert_eq!(
        code_of(verify_credential(
            &default(),
            credential(),
            JsValue::from_str("{not json"),
            key,
            now,
            None
        )),
        "invalid_input"
    );
    let mut wrong_types = case.record.clone();
    wrong_types["permissions"] = json!(["root"]);
    let failure = json_of(&verify_credential(
        &default(),
        credential(),
        js_of(&wrong_types),
        key,
        now,
        None,
    ));
    assert_eq!(failure["errors"][0]["path"], "record");
    assert_eq!(
        code_of(verify_credential(
            &default(),
            credential(),
            js_of(&case.record),
            "short",
            now,
            None
        )),
        "invalid_hashing_key"
    );
    for bad_time in [-1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            code_of(verify_credential(
                &default(),
                credential(),
                js_of(&case.record),
                key,
                Some(bad_time),
                None
            )),
            "invalid_time"
        );
    }
    assert_eq!(
        code_of(authorize_operation(
            &default(),
            js_of(&json!({"kind": "robot"})),
            "run_build"
        )),
        "invalid_input"
    );
    assert_eq!(
        code_of(authorize_operation(
            &default(),
            js_of(&vectors.authorize[0].principal),
            "drop_tables"
        )),
        "unknown_operation"
    );
    assert_eq!(
        code_of(validate_config(
            &default(),
            js_of(&json!({"tenant": {"plan": "team", "colour": "red"}}))
        )),
        "invalid_input"
    );
    assert_eq!(
        code_of(issue_credential(
            &default(),
            js_of(&json!({"kind": "api_token"})),
            key
        )),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn catalogues_list_the_engine_names() {
    let permissions = json_of(&list_permissions(&default()));
    assert_eq!(permissions.as_array().unwrap().len(), 6);
    assert_eq!(permissions[2], "build_applications");
    let presets = json_of(&list_role_presets(&default()));
    let release = presets
        .as_array()
        .unwrap()
        .iter()
        .find(|preset| preset["name"] == "release_engineer")
        .unwrap();
    assert_eq!(release["permissions"], json!(["build_applications"]));
    let operations = json_of(&list_operations(&default()));
    let audit = operations
        .as_array()
        .unwrap()
        .iter()
        .find(|operation| operation["name"] == "read_audit_log")
        .unwrap();
    assert_eq!(
        audit,
        &json!({
            "name": "read_audit_log",
            "area": "audit_log",
            "description": "Read the audit log (enterprise)",
            "requires": ["user_and_api_management"],
            "feature": "audit_log",
            "automation_keys": false,
        })
    );
    let read = &operations[0];
    assert_eq!(read["requires"], json!([]));
    assert_eq!(read["feature"], Value::Null);
    assert_eq!(release["description"], "Builds and automation keys");
    // The default model's catalogues are the vectors'.
    let vectors = support::vectors();
    assert_eq!(permissions, vectors.catalogues.permissions);
    assert_eq!(presets, vectors.catalogues.role_presets);
    assert_eq!(operations, vectors.catalogues.operations);
}

fn allowed(roles: Value, operation: &str) -> Value {
    json_of(&account_operation_allowed(js_of(
        &json!({ "roles": roles, "operation": operation }),
    )))
}

#[wasm_bindgen_test]
fn every_account_vector_answers_as_natively() {
    let vectors = support::vectors();
    assert_eq!(json_of(&list_company_roles()), vectors.company_roles);
    assert_eq!(
        json_of(&list_account_operations()),
        vectors.account_operations
    );
    assert_eq!(
        json_of(&account_permissions_matrix()),
        vectors.account_permissions_matrix
    );
    for case in &vectors.account_operation_allowed {
        for decision in &case.decisions {
            assert_eq!(
                allowed(case.roles.clone(), &decision.operation),
                decision.result,
                "{}: {}",
                case.name,
                decision.operation
            );
        }
    }
}

#[wasm_bindgen_test]
fn account_operations_are_allowed_refused_or_bad_names() {
    // Allowed, and only on the tenants assigned to the license admin.
    let seats = allowed(json!(["tenant_user", "license_admin"]), "assign_licenses");
    assert_eq!(
        seats,
        json!({
            "ok": true,
            "allowed": true,
            "granted_by": ["license_admin"],
            "scoped_to_assigned_tenants": true,
        })
    );
    // Allowed everywhere: a company admin's grant is not scoped.
    let both = allowed(json!(["company_admin", "license_admin"]), "assign_licenses");
    assert_eq!(
        both["granted_by"],
        json!(["company_admin", "license_admin"])
    );
    assert_eq!(both["scoped_to_assigned_tenants"], false);
    // Refused: a successful answer, not an error.
    for (roles, operation) in [
        (json!(["support"]), "delete_user"),
        (json!(["license_admin"]), "launch_tenant"),
        (json!(["tenant_user"]), "view_support_tickets"),
        (json!([]), "manage_own_profile"),
    ] {
        let refused = allowed(roles.clone(), operation);
        assert_eq!(refused["ok"], true, "{roles} {operation}");
        assert_eq!(refused["allowed"], false, "{roles} {operation}");
        assert_eq!(refused["granted_by"], json!([]), "{roles} {operation}");
    }
    // Bad names: every one reported, with its path, and no answer.
    let bad = allowed(json!(["support", "root", "admin"]), "format_disk");
    assert_eq!(bad["ok"], false);
    assert!(bad.get("allowed").is_none());
    let errors: Vec<(&str, &str)> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("unknown_company_role", "roles[1]"),
            ("unknown_company_role", "roles[2]"),
            ("unknown_account_operation", "operation"),
        ]
    );
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`root`")
    );
    // The query as JSON text answers the same; a query of the wrong shape is an input error.
    let as_text = account_operation_allowed(JsValue::from_str(
        r#"{"roles":["license_admin","tenant_user"],"operation":"assign_licenses"}"#,
    ));
    assert_eq!(json_of(&as_text), seats);
    for query in [
        json!({ "roles": "company_admin", "operation": "add_user" }),
        json!({ "roles": ["company_admin"] }),
        json!({ "roles": [], "operation": "add_user", "tenant": "ten_1" }),
    ] {
        let result = json_of(&account_operation_allowed(js_of(&query)));
        assert_eq!(first_code(&result), "invalid_input", "{query}");
        assert_eq!(result["errors"][0]["path"], "query", "{query}");
    }
    assert_eq!(
        first_code(&json_of(&account_operation_allowed(JsValue::UNDEFINED))),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn the_matrix_has_a_cell_for_every_role_and_operation() {
    let matrix = json_of(&account_permissions_matrix());
    let roles = matrix["roles"].as_array().unwrap();
    let listed_roles: Vec<Value> = json_of(&list_company_roles())
        .as_array()
        .unwrap()
        .iter()
        .map(|role| role["name"].clone())
        .collect();
    assert_eq!(roles, &listed_roles);
    assert_eq!(
        listed_roles,
        ["company_admin", "license_admin", "support", "tenant_user"]
    );
    let operations = json_of(&list_account_operations());
    let rows = matrix["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 15);
    assert_eq!(operations.as_array().unwrap().len(), 15);
    for (row, operation) in rows.iter().zip(operations.as_array().unwrap()) {
        let name = operation["name"].as_str().unwrap();
        assert_eq!(row["operation"], name);
        assert_eq!(row["description"], operation["description"]);
        for (index, role) in roles.iter().enumerate() {
            let answer = allowed(json!([role]), name);
            assert_eq!(answer["allowed"], row["allowed"][index], "{role} {name}");
            assert_eq!(
                answer["scoped_to_assigned_tenants"], row["scoped_to_assigned_tenants"][index],
                "{role} {name}"
            );
        }
    }
    let seats = operations
        .as_array()
        .unwrap()
        .iter()
        .find(|operation| operation["name"] == "assign_licenses")
        .unwrap();
    assert_eq!(seats["scoped_to_assigned_tenants"], true);
    assert_eq!(seats["description"], "Assign licenses (tenant seats)");
}

fn session_case(name: &str) -> (support::Vectors, usize) {
    let vectors = support::vectors();
    let index = position(&vectors.sessions, |case| &case.name, name);
    (vectors, index)
}

/// A record as a JavaScript object, or as the JSON text KV hands back (`null` stays `null`).
fn record_of(record: &Value, as_text: bool) -> JsValue {
    if as_text && !record.is_null() {
        JsValue::from_str(&record.to_string())
    } else {
        js_of(record)
    }
}

/// `verifySession` and `verifySignedIn` for a case, its records as objects or as JSON text.
fn run_session(
    vectors: &support::Vectors,
    case: &support::SessionCase,
    as_text: bool,
) -> (Value, Value) {
    let now = Some(vectors.now as f64);
    let verified = verify_session(
        &default(),
        Some(case.session.clone()),
        record_of(&case.session_record, as_text),
        record_of(&case.access_record, as_text),
        case.tenant_id.clone(),
        &vectors.hashing_key,
        now,
    );
    let signed_in = verify_signed_in(
        &default(),
        Some(case.session.clone()),
        record_of(&case.session_record, as_text),
        record_of(&case.access_record, as_text),
        &vectors.hashing_key,
        now,
    );
    (json_of(&verified), json_of(&signed_in))
}

#[wasm_bindgen_test]
fn every_session_vector_decides_as_natively() {
    let vectors = support::vectors();
    assert!(vectors.sessions.len() >= 15);
    for case in &vectors.sessions {
        assert_eq!(
            json_of(&locate_session(Some(case.session.clone()))),
            case.located,
            "{}",
            case.name
        );
        for as_text in [false, true] {
            let (verified, signed_in) = run_session(&vectors, case, as_text);
            assert_eq!(verified, case.result, "{} (text: {as_text})", case.name);
            assert_eq!(signed_in, case.signed_in, "{} (text: {as_text})", case.name);
            if !case.session_record.is_null() {
                let key = access_record_key(record_of(&case.session_record, as_text));
                assert_eq!(json_of(&key), case.access_record_key, "{}", case.name);
            }
        }
    }
}

#[wasm_bindgen_test]
fn a_valid_session_acts_with_what_its_user_holds_in_the_tenant_named() {
    let (vectors, index) = session_case("session in a Bearer header");
    let case = &vectors.sessions[index];
    assert!(case.session.starts_with("Bearer pcss_"));
    let located = json_of(&locate_session(Some(case.session.clone())));
    let storage_key = located["storage_key"].as_str().unwrap();
    assert_eq!(
        storage_key,
        format!("sess:v1:{}", located["session_id"].as_str().unwrap())
    );
    let access = json_of(&access_record_key(js_of(&case.session_record)));
    assert_eq!(
        access["storage_key"],
        format!(
            "access:v1:{}:{}",
            case.session_record["account_id"].as_str().unwrap(),
            case.session_record["user_id"].as_str().unwrap()
        )
    );
    let (verified, signed_in) = run_session(&vectors, case, true);
    assert_eq!(verified["ok"], true, "{verified}");
    let principal = &verified["principal"];
    assert_eq!(principal["kind"], "session");
    assert_eq!(principal["session_id"], located["session_id"]);
    assert_eq!(principal["tenant_id"], json!(case.tenant_id));
    assert_eq!(principal["plan"], "team");
    assert_eq!(
        principal["permissions"],
        json!(["update_certificates", "build_applications"])
    );
    // The principal authorizes like any other: certificates yes, configuration no.
    let decide = |principal: &Value, operation| {
        json_of(&authorize_operation(
            &default(),
            js_of(principal),
            operation,
        ))
    };
    assert_eq!(decide(principal, "write_certificates")["allow"], true);
    assert_eq!(decide(principal, "write_configuration")["allow"], false);
    // In the user's other tenant, the same session holds everything.
    let (vectors, index) = session_case("session in the user's other tenant");
    let elsewhere = run_session(&vectors, &vectors.sessions[index], false).0;
    assert_eq!(elsewhere["principal"]["plan"], "enterprise");
    assert_eq!(
        decide(&elsewhere["principal"], "write_configuration")["allow"],
        true
    );
    // Signed in, with no tenant named: the user, the session and both tenants.
    assert_eq!(signed_in["ok"], true, "{signed_in}");
    assert_eq!(signed_in["session_id"], located["session_id"]);
    let tenants = signed_in["tenants"].as_object().unwrap();
    assert_eq!(tenants.len(), 2);
    assert_eq!(
        tenants[case.tenant_id.as_deref().unwrap()],
        json!({ "permissions": ["update_certificates", "build_applications"], "plan": "team" })
    );
    // Typed, straight from JavaScript or through JSON text, the answer is the same.
    let result = verify_signed_in(
        &default(),
        Some(case.session.clone()),
        js_of(&case.session_record),
        js_of(&case.access_record),
        &vectors.hashing_key,
        Some(vectors.now as f64),
    );
    let direct: SignedInResult = serde_wasm_bindgen::from_value(result).unwrap();
    let through_json: SignedInResult = serde_json::from_value(signed_in).unwrap();
    assert_eq!(direct, through_json);
    assert!(matches!(direct, SignedInResult::Success(_)));
}

#[wasm_bindgen_test]
fn refused_sessions_carry_the_precise_code_and_the_public_answer() {
    for (name, code, public) in [
        (
            "wrong secret: the record",
            "wrong_secret",
            "invalid_credentials",
        ),
        (
            "wrong secret in a tenant",
            "wrong_secret",
            "invalid_credentials",
        ),
        ("unknown session", "unknown_session", "invalid_credentials"),
        (
            "expired: the idle",
            "session_expired",
            "invalid_credentials",
        ),
        (
            "expired: the absolute",
            "session_expired",
            "invalid_credentials",
        ),
        ("user deactivated", "user_not_active", "invalid_credentials"),
        ("not a member", "not_member", "tenant_not_found"),
        ("no tenant named", "not_member", "tenant_not_found"),
        (
            "malformed: an API token",
            "malformed_credential",
            "malformed_credential",
        ),
        (
            "malformed: Basic",
            "malformed_credential",
            "malformed_credential",
        ),
    ] {
        let (vectors, index) = session_case(name);
        let (verified, _) = run_session(&vectors, &vectors.sessions[index], false);
        assert_eq!(first_code(&verified), code, "{name}");
        assert_eq!(verified["errors"][0]["public"]["code"], public, "{name}");
        assert!(verified.get("principal").is_none(), "{name}");
    }
    // Nothing at all from JavaScript (`undefined`) is a malformed session, not an exception;
    // a well-formed session with no records is unknown.
    let vectors = support::vectors();
    let nothing = json_of(&verify_session(
        &default(),
        None,
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
        None,
        &vectors.hashing_key,
        None,
    ));
    assert_eq!(first_code(&nothing), "malformed_credential");
    assert_eq!(
        first_code(&json_of(&locate_session(None))),
        "malformed_credential"
    );
    let (vectors, index) = session_case("session, bare");
    let unread = json_of(&verify_signed_in(
        &default(),
        Some(vectors.sessions[index].session.clone()),
        JsValue::NULL,
        JsValue::UNDEFINED,
        &vectors.hashing_key,
        Some(vectors.now as f64),
    ));
    assert_eq!(first_code(&unread), "unknown_session");
}

#[wasm_bindgen_test]
fn bad_session_inputs_are_failures_not_exceptions() {
    let (vectors, index) = session_case("session, bare");
    let case = &vectors.sessions[index];
    let key = &vectors.hashing_key;
    let now = Some(vectors.now as f64);
    let session = || Some(case.session.clone());
    let tenant = || case.tenant_id.clone();
    let record = || js_of(&case.session_record);
    let access = || js_of(&case.access_record);
    let problem = |value: JsValue| {
        let result = json_of(&value);
        (
            first_code(&result).to_owned(),
            result["errors"][0]["path"].clone(),
        )
    };
    let input = |path: &str| ("invalid_input".to_owned(), json!(path));

    let mut extra = case.session_record.clone();
    extra["tenant_id"] = json!("ten_0000000000000001");
    assert_eq!(
        problem(verify_session(
            &default(),
            session(),
            js_of(&extra),
            access(),
            tenant(),
            key,
            now
        )),
        input("sessionRecord")
    );
    assert_eq!(
        problem(verify_session(
            &default(),
            session(),
            JsValue::from_str("{not json"),
            access(),
            tenant(),
            key,
            now
        )),
        input("sessionRecord")
    );
    let mut asleep = case.access_record.clone();
    asleep["status"] = json!("asleep");
    assert_eq!(
        problem(verify_signed_in(
            &default(),
            session(),
            record(),
            js_of(&asleep),
            key,
            now
        )),
        input("accessRecord")
    );
    assert_eq!(
        problem(access_record_key(JsValue::NULL)),
        input("sessionRecord")
    );
    assert_eq!(problem(access_record_key(access())), input("sessionRecord"));
    for (expected, verified, signed_in) in [
        (
            "invalid_hashing_key",
            verify_session(
                &default(),
                session(),
                record(),
                access(),
                tenant(),
                "short",
                now,
            ),
            verify_signed_in(&default(), session(), record(), access(), "short", now),
        ),
        (
            "invalid_time",
            verify_session(
                &default(),
                session(),
                record(),
                access(),
                tenant(),
                key,
                Some(-1.0),
            ),
            verify_signed_in(
                &default(),
                session(),
                record(),
                access(),
                key,
                Some(f64::NAN),
            ),
        ),
    ] {
        assert_eq!(problem(verified).0, expected);
        assert_eq!(problem(signed_in).0, expected);
    }
}

#[wasm_bindgen_test]
fn the_default_model_is_built_in_and_writes_itself_as_its_document() {
    let model = default();
    assert_eq!(model.product(), "Portcullis sample product");
    let document = json_of(&model.document());
    assert_eq!(document["version"], 1);
    assert_eq!(document["plans"][1]["name"], "team");
    assert_eq!(document["plans"][1]["seats"], 20);
    // `JSON.stringify(model)` writes the document (`toJSON`), which loads back to the same model.
    let text = js_sys::JSON::stringify(&JsValue::from(default()))
        .unwrap()
        .as_string()
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), document);
    assert_eq!(
        json_of(&loaded(JsValue::from_str(&text)).document()),
        document
    );
    assert_eq!(json_of(&loaded(js_of(&document)).document()), document);
}

#[wasm_bindgen_test]
fn every_model_load_vector_loads_as_natively() {
    let vectors = support::vectors();
    assert!(vectors.model_load.len() >= 5);
    for case in &vectors.model_load {
        let result = json_of(&Model::load(document_of(&case.document)));
        assert_eq!(result, case.result, "{}", case.name);
    }
}

#[wasm_bindgen_test]
fn a_broken_model_reports_every_problem_with_its_code_and_path() {
    let vectors = support::vectors();
    let broken = vectors
        .model_load
        .iter()
        .find(|case| case.name == "every problem at once")
        .unwrap();
    assert!(broken.document.is_object());
    for document in [
        js_of(&broken.document),
        JsValue::from_str(&broken.document.to_string()),
    ] {
        let result = json_of(&Model::load(document));
        assert_eq!(result["ok"], false);
        assert!(result.get("model").is_none());
        let problems: Vec<(&str, &str)> = result["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["code"].as_str().unwrap(), e["path"].as_str().unwrap()))
            .collect();
        assert_eq!(
            problems,
            [
                ("unsupported_version", "version"),
                ("invalid_name", "permissions[0].name"),
                ("duplicate_name", "permissions[2].name"),
                ("plans_out_of_order", "plans[1].seats"),
                ("invalid_seat_limit", "plans[2].seats"),
                ("unknown_permission", "operations[0].requires[1]"),
                ("unreachable_operation", "operations[0].feature"),
                ("unknown_feature", "operations[1].feature"),
                (
                    "unreachable_for_automation_keys",
                    "operations[1].automation_keys"
                ),
                ("unknown_permission", "presets[0].permissions[0]"),
                ("unknown_permission", "automation_keys.managed_with"),
            ]
        );
        assert!(
            result["errors"][5]["message"]
                .as_str()
                .unwrap()
                .contains("`approve`")
        );
    }
    // Not a document at all: a failure, not an exception.
    for nothing in [JsValue::UNDEFINED, JsValue::from_str("")] {
        let result = json_of(&Model::load(nothing));
        assert_eq!(result["ok"], false, "{result}");
    }
    let undefined = json_of(&Model::load(JsValue::UNDEFINED));
    assert_eq!(undefined["errors"][0]["code"], "invalid_input");
    assert_eq!(undefined["errors"][0]["path"], "document");
    assert_eq!(
        first_code(&json_of(&Model::load(JsValue::from_str("")))),
        "syntax"
    );
}

#[wasm_bindgen_test]
fn every_documents_vector_decides_as_natively() {
    let vectors = support::vectors();
    let cases = &vectors.documents;
    // The inline document as JSON text, and the document it writes as an object, load to the
    // same model.
    let model = loaded(JsValue::from_str(support::DOCUMENTS_MODEL));
    assert_eq!(json_of(&model.document()), cases.document);
    assert_eq!(model.product(), "Documents");
    let again = loaded(js_of(&cases.document));
    assert_eq!(json_of(&again.document()), cases.document);
    assert_eq!(
        json_of(&list_permissions(&model)),
        cases.catalogues.permissions
    );
    assert_eq!(
        json_of(&list_role_presets(&model)),
        cases.catalogues.role_presets
    );
    assert_eq!(
        json_of(&list_operations(&model)),
        cases.catalogues.operations
    );
    assert!(cases.verify.len() >= 4);
    for case in &cases.verify {
        for record in [
            js_of(&case.record),
            JsValue::from_str(&case.record.to_string()),
        ] {
            assert_eq!(
                verify_in(&model, &vectors, case, record),
                case.result,
                "{}",
                case.name
            );
        }
    }
    for case in &cases.authorize {
        for decision in &case.decisions {
            let result = json_of(&authorize_operation(
                &again,
                js_of(&case.principal),
                &decision.operation,
            ));
            assert_eq!(
                result, decision.result,
                "{}: {}",
                case.name, decision.operation
            );
        }
    }
    for case in &cases.validate {
        let result = json_of(&validate_config(&model, js_of(&case.config)));
        assert_eq!(result, case.result, "{}", case.name);
    }
}

#[wasm_bindgen_test]
fn a_second_model_authorizes_with_its_own_names_and_refuses_the_defaults() {
    let documents = loaded(JsValue::from_str(support::DOCUMENTS_MODEL));
    let key = generate_hashing_key();
    let issue = |model: &Model, permissions: Value, plan: &str| -> Value {
        let request = json!({
            "kind": "api_token",
            "account_id": "acc_00000000000000aa",
            "tenant_id": "ten_00000000000000bb",
            "owner": "usr_00000000000000cc",
            "name": "laptop",
            "plan": plan,
            "permissions": permissions,
        });
        json_of(&issue_credential(model, js_of(&request), &key))
    };
    let principal_of = |issued: &Value| -> Value {
        let verified = json_of(&verify_credential(
            &documents,
            Some(issued["secret"].as_str().unwrap().to_owned()),
            js_of(&issued["record"]),
            &key,
            None,
            None,
        ));
        assert_eq!(verified["ok"], true, "{verified}");
        verified["principal"].clone()
    };
    let decide = |model: &Model, principal: &Value, operation: &str| {
        json_of(&authorize_operation(model, js_of(principal), operation))
    };

    // Holding `publish_documents`: allowed to publish.
    let publisher = principal_of(&issue(&documents, json!(["publish_documents"]), "starter"));
    assert_eq!(publisher["permissions"], json!(["publish_documents"]));
    let allowed = decide(&documents, &publisher, "publish_document");
    assert_eq!(
        allowed,
        json!({
            "ok": true,
            "allow": true,
            "reason": { "code": "granted", "permission": "publish_documents" },
            "message": "granted by `publish_documents`",
        })
    );
    // Without it: denied, and told which permission is missing.
    let editor = principal_of(&issue(&documents, json!(["edit_documents"]), "business"));
    let denied = decide(&documents, &editor, "publish_document");
    assert_eq!(denied["ok"], true);
    assert_eq!(denied["allow"], false);
    assert_eq!(
        denied["reason"],
        json!({ "code": "missing_permission", "permission": "publish_documents" })
    );
    assert_eq!(decide(&documents, &editor, "edit_document")["allow"], true);

    // The default model's names mean nothing here: refused, never ignored.
    let refused = issue(&documents, json!(["build_applications"]), "starter");
    assert_eq!(first_code(&refused), "invalid_input");
    assert_eq!(refused["errors"][0]["path"], "request");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown permission `build_applications`"),
        "{refused}"
    );
    let mut stranger = publisher.clone();
    stranger["permissions"] = json!(["build_applications"]);
    let refused = decide(&documents, &stranger, "publish_document");
    assert_eq!(first_code(&refused), "invalid_input");
    assert_eq!(refused["errors"][0]["path"], "principal");
    let run_build = decide(&documents, &publisher, "run_build");
    assert_eq!(first_code(&run_build), "unknown_operation");
    assert_eq!(run_build["errors"][0]["path"], "operation");
    // ... and the other way round: the documents names mean nothing to the default model.
    assert_eq!(
        first_code(&decide(&default(), &publisher, "run_build")),
        "invalid_input"
    );
    assert_eq!(
        first_code(&issue(&default(), json!(["publish_documents"]), "team")),
        "invalid_input"
    );
    // The two models side by side, each call with the one it is given.
    let default_token = issue(&default(), json!(["build_applications"]), "team");
    assert_eq!(default_token["ok"], true, "{default_token}");
    assert_eq!(
        json_of(&list_permissions(&documents)),
        json!([
            "edit_documents",
            "publish_documents",
            "user_and_api_management",
            "modify_tenant_settings"
        ])
    );
    assert_eq!(
        json_of(&list_permissions(&default()))
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

/// A tenant whose owner is inactive, with one manager (Bob) and one reader, as the
/// Management API answers `GET /v1/tenants/{id}` and its members.
fn tenant_query(actor: &str, change: Value) -> JsValue {
    let member = |user: &str, email: &str, status: &str, permissions: Value, owner: bool| {
        json!({
            "user_id": user, "tenant_id": "ten_00000000000000aa", "email": email, "name": email,
            "status": status, "permissions": permissions, "effective_permissions": [],
            "tenant_owner": owner, "added_at": 1_700_000_000,
        })
    };
    js_of(&json!({
        "tenant": {
            "tenant_id": "ten_00000000000000aa", "name": "Production", "plan": "team",
            "owner": "usr_00000000000000a1", "member_count": 3, "member_limit": 20,
            "sso_enforced": false, "saml_breakglass_user_id": null, "created_at": 1_700_000_000,
            "primary_contact": "usr_00000000000000a1",
        },
        "members": [
            member("usr_00000000000000a1", "carol@acme.test", "inactive", json!([]), true),
            member("usr_00000000000000b2", "bob@acme.test", "active", json!(["user_and_api_management"]), false),
            member("usr_00000000000000c3", "rita@acme.test", "active", json!([]), false),
        ],
        "actor": actor,
        "change": change,
    }))
}

#[wasm_bindgen_test]
fn tenant_changes_are_judged_by_the_engines_rules() {
    let bob = "usr_00000000000000b2";
    let judged = |actor: &str, change: Value| {
        json_of(&check_tenant_change(
            &default(),
            tenant_query(actor, change),
        ))
    };
    let escalation = judged(
        bob,
        json!({ "change": "change_permissions", "user_id": "usr_00000000000000c3", "permissions": ["build_applications"] }),
    );
    assert_eq!(first_code(&escalation), "privilege_escalation");
    assert_eq!(
        escalation["errors"][0]["message"],
        "cannot grant permissions you do not hold: build_applications"
    );
    let lockout = judged(
        bob,
        json!({ "change": "change_permissions", "user_id": bob, "permissions": [] }),
    );
    assert_eq!(first_code(&lockout), "lockout");
    let removal = judged(bob, json!({ "change": "remove_member", "user_id": bob }));
    assert_eq!(first_code(&removal), "self_target");
    assert_eq!(
        removal["errors"][0]["message"],
        "you cannot remove yourself"
    );
    let allowed = judged(
        bob,
        json!({ "change": "invite_member", "email": "new@acme.test", "permissions": ["user_and_api_management"] }),
    );
    assert_eq!(allowed, json!({ "ok": true }));
    let bad = judged(bob, json!({ "change": "rename" }));
    assert_eq!(first_code(&bad), "invalid_input");
}

#[wasm_bindgen_test]
fn user_transitions_are_the_lifecycle() {
    let judged = |status: &str, action: &str| {
        json_of(&check_user_transition(js_of(
            &json!({ "status": status, "action": action }),
        )))
    };
    assert_eq!(judged("inactive", "delete"), json!({ "ok": true }));
    let refused = judged("active", "delete");
    assert_eq!(first_code(&refused), "illegal_transition");
    assert_eq!(
        refused["errors"][0]["message"],
        "cannot delete a user who is active"
    );
}

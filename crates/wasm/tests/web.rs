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

use portcullis_wasm::types::{AuthorizeResult, VerifyResult};
use portcullis_wasm::{
    authorize_operation, credential_key_id, generate_hashing_key, issue_credential,
    list_operations, list_permissions, list_role_presets, validate_config, verify_credential,
};
use serde_json::{Value, json};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

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

fn verify_case(name: &str) -> (support::Vectors, usize) {
    let vectors = support::vectors();
    let index = vectors
        .verify
        .iter()
        .position(|case| case.name.starts_with(name))
        .unwrap_or_else(|| panic!("no vector named {name}"));
    (vectors, index)
}

fn run_verify(vectors: &support::Vectors, case: &support::VerifyCase, record: JsValue) -> Value {
    json_of(&verify_credential(
        Some(case.credential.clone()),
        record,
        &vectors.hashing_key,
        Some(vectors.now as f64),
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
        None,
        JsValue::UNDEFINED,
        &vectors.hashing_key,
        None,
    ));
    assert_eq!(first_code(&missing), "malformed_credential");
}

#[wasm_bindgen_test]
fn an_automation_key_is_refused_every_non_build_operation() {
    let (vectors, index) = verify_case("automation key in a Bearer header");
    let case = &vectors.verify[index];
    let principal = run_verify(&vectors, case, js_of(&case.record))["principal"].clone();
    let operations = json_of(&list_operations());
    let operations = operations.as_array().unwrap();
    assert_eq!(operations.len(), 15);
    let mut refused = 0;
    for operation in operations {
        let name = operation["name"].as_str().unwrap();
        let decision = json_of(&authorize_operation(js_of(&principal), name));
        assert_eq!(decision["ok"], true, "{name}");
        if operation["area"] == "builds" {
            assert_eq!(decision["allow"], true, "{name}");
        } else {
            refused += 1;
            assert_eq!(decision["allow"], false, "{name}");
            assert_eq!(decision["reason"]["code"], "automation_key_scope", "{name}");
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
        let result = json_of(&validate_config(js_of(&case.config)));
        assert_eq!(result, case.result, "{}", case.name);
    }
    let broken = vectors
        .validate
        .iter()
        .find(|case| case.name == "every rule broken at once")
        .unwrap();
    let result = json_of(&validate_config(JsValue::from_str(
        &broken.config.to_string(),
    )));
    let errors = result["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 9);
    assert_eq!(errors[0]["path"], "tenant.members[0].permissions[1]");
    let codes: std::collections::BTreeSet<&str> =
        errors.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 7, "{codes:?}");
}

#[wasm_bindgen_test]
fn results_round_trip_through_json() {
    let vectors = support::vectors();
    let case = &vectors.verify[0];
    let result = verify_credential(
        Some(case.credential.clone()),
        js_of(&case.record),
        &vectors.hashing_key,
        Some(vectors.now as f64),
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
        let from_object = authorize_operation(js_of(&principal), operation);
        let from_text = authorize_operation(JsValue::from_str(&principal.to_string()), operation);
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
    let first = json_of(&issue_credential(js_of(&request), &key));
    let second = json_of(&issue_credential(
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
        Some(secret.to_owned()),
        js_of(&first["record"]),
        &key,
        None,
    ));
    assert_eq!(
        verified["principal"]["permissions"],
        json!(["modify_configuration"])
    );
    // The other token's record does not accept this secret.
    let crossed = json_of(&verify_credential(
        Some(secret.to_owned()),
        js_of(&second["record"]),
        &key,
        None,
    ));
    assert_eq!(first_code(&crossed), "unknown_key");
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
            credential(),
            JsValue::from_str("{not json"),
            key,
            now
        )),
        "invalid_input"
    );
    let mut wrong_types = case.record.clone();
    wrong_types["permissions"] = json!(["root"]);
    let failure = json_of(&verify_credential(
        credential(),
        js_of(&wrong_types),
        key,
        now,
    ));
    assert_eq!(failure["errors"][0]["path"], "record");
    assert_eq!(
        code_of(verify_credential(
            credential(),
            js_of(&case.record),
            "short",
            now
        )),
        "invalid_hashing_key"
    );
    for bad_time in [-1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            code_of(verify_credential(
                credential(),
                js_of(&case.record),
                key,
                Some(bad_time)
            )),
            "invalid_time"
        );
    }
    assert_eq!(
        code_of(authorize_operation(
            js_of(&json!({"kind": "robot"})),
            "run_build"
        )),
        "invalid_input"
    );
    assert_eq!(
        code_of(authorize_operation(
            js_of(&vectors.authorize[0].principal),
            "drop_tables"
        )),
        "unknown_operation"
    );
    assert_eq!(
        code_of(validate_config(js_of(
            &json!({"tenant": {"plan": "team", "colour": "red"}})
        ))),
        "invalid_input"
    );
    assert_eq!(
        code_of(issue_credential(js_of(&json!({"kind": "api_token"})), key)),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn catalogues_list_the_engine_names() {
    let permissions = json_of(&list_permissions());
    assert_eq!(permissions.as_array().unwrap().len(), 6);
    assert_eq!(permissions[2], "build_applications");
    let presets = json_of(&list_role_presets());
    let release = presets
        .as_array()
        .unwrap()
        .iter()
        .find(|preset| preset["name"] == "release_engineer")
        .unwrap();
    assert_eq!(release["permissions"], json!(["build_applications"]));
    let operations = json_of(&list_operations());
    let audit = operations
        .as_array()
        .unwrap()
        .iter()
        .find(|operation| operation["name"] == "read_audit_log")
        .unwrap();
    assert_eq!(audit["required_permission"], "user_and_api_management");
    assert_eq!(audit["required_feature"], "audit_log");
    let read = &operations[0];
    assert_eq!(read["required_permission"], Value::Null);
}

//! The client against a scripted loopback server: what goes on the wire, and how answers and
//! failures come back.

use crate::transport::{decode, parse_model};
use crate::{ApiError, Client, Invite, NewApiToken, NotFound};
use portcullis_core::authz::PrincipalKind;
use portcullis_core::model::Model;
use portcullis_core::{PermissionSet, Principal, TenantId, UserId};
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

const DOCUMENTS: &str = include_str!("../../../policy/examples/documents/model.json");

fn documents() -> Arc<Model> {
    Arc::new(Model::from_json(DOCUMENTS).unwrap())
}

fn default() -> Arc<Model> {
    Arc::clone(portcullis_core::model::default_model())
}

/// A server answering each connection with the next of `answers` (status line, body); returns
/// its address and the requests it received (request line, headers and body, as text).
fn serve(answers: Vec<(&'static str, String)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for (stream, (status, body)) in listener.incoming().zip(answers) {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0_u8; 8192];
            // Reads the head, then as much body as content-length says.
            loop {
                let read = stream.read(&mut buffer).unwrap();
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|line| {
                            line.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|n| n.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if read == 0 {
                    break;
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request).to_string());
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (format!("http://{address}"), seen)
}

fn served_documents_model() -> (&'static str, String) {
    ("200 OK", documents().to_document().to_string())
}

#[test]
fn whoami_parses_into_the_cores_principal() {
    let body = br#"{"account_id":"acc_0123456789abcdef","tenant_id":"ten_0123456789abcdef",
        "kind":"user","user_id":"usr_0123456789abcdef","key_id":"pctk_NStYCoT80hk9o6T47KxQ4oAe",
        "permissions":["build_applications","user_and_api_management"],"plan":"team"}"#;
    let model = default();
    let principal: Principal = decode(&model, StatusCode::OK, body).unwrap();
    assert!(matches!(principal.kind, PrincipalKind::User { .. }));
    assert_eq!(
        principal.permissions.names_in(&model),
        ["build_applications", "user_and_api_management"]
    );
}

#[test]
fn answers_are_decoded_with_the_served_model_in_force() {
    let body = br#"{"user_id":"usr_0123456789abcdef","tenant_id":"ten_0123456789abcdef",
        "email":"a@b.test","name":"A","status":"active","permissions":["edit_documents"],
        "effective_permissions":["edit_documents","run_imports"],"tenant_owner":false,
        "added_at":1}"#;
    let documents = documents();
    let member: portcullis_core::query::MemberView =
        decode(&documents, StatusCode::OK, body).unwrap();
    assert_eq!(
        member.effective_permissions.names_in(&documents),
        ["edit_documents", "run_imports"]
    );
    // The compiled-in default does not know these names: decoding under it fails.
    let refused =
        decode::<portcullis_core::query::MemberView>(&default(), StatusCode::OK, body).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("unknown permission `edit_documents`"),
        "{refused}"
    );
}

#[test]
fn a_served_model_is_validated_with_every_problem_reported() {
    let model = parse_model("http://127.0.0.1:1", DOCUMENTS.as_bytes()).unwrap();
    assert_eq!(
        model.product(),
        "Quill documents (an example second product)"
    );
    // What the worker serves (`Model::to_document`) reads back to the same model.
    let served = model.to_document().to_string();
    assert_eq!(parse_model("http://w", served.as_bytes()).unwrap(), model);
    let broken = DOCUMENTS
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

#[tokio::test]
async fn connecting_reads_the_model_first_and_never_falls_back() {
    let (invalid, _) = serve(vec![(
        "200 OK",
        r#"{"version": 1, "permissions": []}"#.into(),
    )]);
    match Client::connect(&invalid, Some("pctk_x:secret"), "test").await {
        Err(ApiError::InvalidModel { reason, .. }) => {
            assert!(reason.contains("syntax"), "{reason}")
        }
        other => panic!("expected an invalid model: {other:?}"),
    }
    let (missing, _) = serve(vec![(
        "404 Not Found",
        r#"{"code":"not_found","title":"Not Found","detail":"no route"}"#.into(),
    )]);
    match Client::connect(&missing, None, "test").await {
        Err(ApiError::Problem { status: 404, .. }) => {}
        other => panic!("expected a 404: {other:?}"),
    }
    // Nothing listens on a port just freed: unreachable, after the retries.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    match Client::connect(&closed, None, "test").await {
        Err(ApiError::Unreachable { endpoint, .. }) => assert_eq!(endpoint, closed),
        other => panic!("expected unreachable: {other:?}"),
    }
    for endpoint in ["ftp://example.test", "not a url", "http://h.test/?q=1"] {
        assert!(
            matches!(
                Client::connect(endpoint, None, "test").await,
                Err(ApiError::InvalidEndpoint { .. })
            ),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn path_segments_are_percent_encoded_under_the_endpoints_own_path() {
    let (endpoint, _) = serve(vec![served_documents_model()]);
    let client = Client::connect(&format!("{endpoint}/edge/"), None, "test")
        .await
        .unwrap();
    let url = client.url(
        &["users", "usr_1/../../admin?x=1#f"],
        &[("q", "a b&c".into())],
    );
    assert_eq!(
        url.as_str(),
        format!("{endpoint}/edge/v1/users/usr_1%2F..%2F..%2Fadmin%3Fx=1%23f?q=a+b%26c")
    );
    assert_eq!(url.path_segments().unwrap().count(), 4);
}

#[tokio::test]
async fn typed_calls_send_their_route_the_credential_and_names_of_the_served_model() {
    let tenant: TenantId = "ten_0123456789abcdef".parse().unwrap();
    let added = r#"{"outcome":"member_added","user_id":"usr_00000000000000bb","status":"pending",
        "invitation":{"code":"pcinv_secret","expires_at":1000}}"#;
    let (endpoint, seen) = serve(vec![
        served_documents_model(),
        ("201 Created", added.into()),
        (
            "409 Conflict",
            r#"{"code":"privilege_escalation","detail":"you cannot grant `run_imports`"}"#.into(),
        ),
        (
            "404 Not Found",
            r#"{"code":"member_not_found","detail":"no such member"}"#.into(),
        ),
    ]);
    let client = Client::connect(&endpoint, Some("pctk_a:pcts_b"), "test")
        .await
        .unwrap();
    let model = Arc::clone(client.model());
    let edit = model.permission("edit_documents").unwrap();
    let invite = Invite {
        email: "ana@acme.test".into(),
        name: None,
        permissions: PermissionSet::EMPTY.with(edit),
    };
    let added = client.invite_member(&tenant, &invite).await.unwrap();
    assert_eq!(added.user_id.as_str(), "usr_00000000000000bb");
    let code = added.invitation.unwrap().code;
    assert_eq!(code.expose(), "pcinv_secret");
    assert_eq!(format!("{code:?}"), "***");
    let refused = client
        .create_api_token(
            &tenant,
            &NewApiToken {
                name: "ci".into(),
                permissions: PermissionSet::EMPTY,
                terms: Default::default(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("privilege_escalation"));
    let user: UserId = "usr_00000000000000cc".parse().unwrap();
    assert!(
        client
            .member(&tenant, &user)
            .await
            .found()
            .unwrap()
            .is_none()
    );
    let requests = seen.lock().unwrap().clone();
    assert!(requests[0].starts_with("GET /v1/model "), "{}", requests[0]);
    assert!(!requests[0].to_ascii_lowercase().contains("authorization"));
    assert!(requests[1].starts_with("POST /v1/tenants/ten_0123456789abcdef/members "));
    assert!(
        requests[1].contains("authorization: Bearer pctk_a:pcts_b"),
        "{}",
        requests[1]
    );
    assert!(
        requests[1].ends_with(r#"{"email":"ana@acme.test","permissions":["edit_documents"]}"#),
        "{}",
        requests[1]
    );
    assert!(requests[2].starts_with("POST /v1/tenants/ten_0123456789abcdef/tokens "));
    assert!(
        requests[3]
            .starts_with("GET /v1/tenants/ten_0123456789abcdef/members/usr_00000000000000cc ")
    );
    assert!(!format!("{client:?}").contains("pcts_b"));
}

#[tokio::test]
async fn credentials_are_created_with_their_terms_and_rolled_by_id() {
    use crate::NewAutomationKey;
    use portcullis_core::KeyId;
    use portcullis_core::terms::{Metadata, Terms};
    let tenant: TenantId = "ten_0123456789abcdef".parse().unwrap();
    let token_id: KeyId = "pctk_NStYCoT80hk9o6T47KxQ4oAe".parse().unwrap();
    let issued = portcullis_core::credential::issue_automation_key(
        &mut portcullis_core::random::SeededRandom::new(3),
        &portcullis_core::HashingKey::from_bytes(&[1; 32]).unwrap(),
    );
    let (key_id, key_text) = (issued.key_id, issued.secret);
    let created = format!(
        r#"{{"outcome":"api_token_created","key_id":"{token_id}","token":"{token_id}:pcts_new",
        "permissions":[],"expires_at":1900000000,"account_id":"acc_0123456789abcdef"}}"#
    );
    let rolled = format!(
        r#"{{"outcome":"api_token_rolled","key_id":"{token_id}","token":"{token_id}:pcts_rolled",
        "previous_valid_until":1800000600,"account_id":"acc_0123456789abcdef"}}"#
    );
    let key_created = format!(
        r#"{{"outcome":"automation_key_created","key_id":"{key_id}","key":"{}",
        "account_id":"acc_0123456789abcdef"}}"#,
        key_text.expose()
    );
    let key_rolled = format!(
        r#"{{"outcome":"automation_key_rolled","key_id":"{key_id}","key":"{}",
        "previous_valid_until":null,"account_id":"acc_0123456789abcdef"}}"#,
        key_text.expose()
    );
    let (endpoint, seen) = serve(vec![
        served_documents_model(),
        ("201 Created", created),
        ("200 OK", rolled),
        ("201 Created", key_created),
        ("200 OK", key_rolled),
        (
            "400 Bad Request",
            r#"{"code":"overlap_too_long","detail":"overlap_seconds must be 0 to 86400 (24 hours), not 86401"}"#.into(),
        ),
    ]);
    let client = Client::connect(&endpoint, Some("pctk_a:pcts_b"), "test")
        .await
        .unwrap();
    let terms = Terms {
        not_before: Some(portcullis_core::Timestamp::from_unix_seconds(1_800_000_000)),
        expires_at: Some(portcullis_core::Timestamp::from_unix_seconds(1_900_000_000)),
        allowed_ips: vec![
            "203.0.113.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ],
        denied_ips: vec!["203.0.113.7".parse().unwrap()],
        external_id: Some("cus_42".parse().unwrap()),
        metadata: Some(Metadata::from_value(&serde_json::json!({"team": "builds"})).unwrap()),
        rate_limit: None,
    };
    let token = NewApiToken {
        name: "ci".into(),
        permissions: PermissionSet::EMPTY,
        terms: terms.clone(),
    };
    let created = client.create_api_token(&tenant, &token).await.unwrap();
    assert_eq!(created.key_id, token_id);
    let rolled = client.roll_api_token(&token_id, 600).await.unwrap();
    assert_eq!(rolled.key_id, token_id);
    assert_eq!(rolled.token.expose(), format!("{token_id}:pcts_rolled"));
    assert_eq!(
        rolled.previous_valid_until,
        Some(portcullis_core::Timestamp::from_unix_seconds(1_800_000_600))
    );
    let key = NewAutomationKey {
        name: "builder".into(),
        terms: Terms::default(),
    };
    assert_eq!(
        client
            .create_automation_key(&tenant, &key)
            .await
            .unwrap()
            .key_id,
        key_id
    );
    let rolled = client.roll_automation_key(&key_id, 0).await.unwrap();
    assert_eq!(rolled.key.expose(), key_text.expose());
    assert_eq!(rolled.previous_valid_until, None);
    let refused = client.roll_api_token(&token_id, 86_401).await.unwrap_err();
    assert_eq!(refused.code(), Some("overlap_too_long"));

    let requests = seen.lock().unwrap().clone();
    let body = |request: &str| -> serde_json::Value {
        serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap()
    };
    assert!(requests[1].starts_with("POST /v1/tenants/ten_0123456789abcdef/tokens "));
    assert_eq!(
        body(&requests[1]),
        serde_json::json!({
            "name": "ci", "permissions": [], "not_before": 1_800_000_000,
            "expires_at": 1_900_000_000, "allowed_ips": ["203.0.113.0/24", "2001:db8::/32"],
            "denied_ips": ["203.0.113.7/32"], "external_id": "cus_42",
            "metadata": {"team": "builds"}
        })
    );
    assert!(
        requests[2].starts_with(&format!("POST /v1/tokens/{token_id}/roll ")),
        "{}",
        requests[2]
    );
    assert_eq!(
        body(&requests[2]),
        serde_json::json!({"overlap_seconds": 600})
    );
    assert!(requests[3].starts_with("POST /v1/tenants/ten_0123456789abcdef/automation-keys "));
    assert_eq!(
        body(&requests[3]),
        serde_json::json!({"name": "builder", "expires_at": null})
    );
    assert!(requests[4].starts_with(&format!("POST /v1/automation-keys/{key_id}/roll ")));
    assert_eq!(
        body(&requests[4]),
        serde_json::json!({"overlap_seconds": 0})
    );
    assert!(
        !format!("{rolled:?}").contains(key_text.expose()),
        "the key is hidden in Debug"
    );
}

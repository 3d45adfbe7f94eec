//! Arbitrary text as a presented credential: parsing, the `Authorization` header, the lookup key,
//! key ids and verification must never panic, must agree with one another, and must accept only
//! the one credential that was issued for a record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::KeyId;
use portcullis_core::credential::{
    self, CredentialKind, CredentialRecord, Presented, Verification,
};
use portcullis_core_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    let parsed = Presented::parse(text);
    let lookup = credential::lookup_key(text);
    assert_eq!(
        lookup.as_ref().ok(),
        parsed.as_ref().ok().map(Presented::key_id),
        "lookup_key and Presented::parse disagree"
    );
    let _ = text.parse::<KeyId>();
    for presented in [
        parsed.as_ref().ok(),
        Presented::from_authorization_header(text).as_ref().ok(),
    ]
    .into_iter()
    .flatten()
    {
        // The key id of anything that parses is itself a valid key id.
        let key_id = presented.key_id();
        assert_eq!(key_id.as_str().parse::<KeyId>().as_ref(), Ok(key_id));
    }

    let issued = |text: &str| text == fixture.token || text == fixture.automation_key;
    for record in [&fixture.token_record, &fixture.automation_record] {
        let outcome = credential::verify(text, Some(record), &fixture.key, fixture.now, None);
        assert_eq!(
            matches!(outcome, Verification::Malformed(_)),
            parsed.is_err(),
            "verify and parse disagree on {text:?}"
        );
        assert!(
            outcome.principal().is_none() || issued(text),
            "{text:?} verified against {record:?}"
        );
    }

    // A record stored under the presented key id reaches the secret check: only the issued
    // secret may pass it.
    if let Ok(presented) = &parsed {
        let base = match presented.kind() {
            CredentialKind::ApiToken => &fixture.token_record,
            CredentialKind::AutomationKey => &fixture.automation_record,
        };
        let rekeyed = CredentialRecord {
            key_id: presented.key_id().clone(),
            ..base.clone()
        };
        let outcome =
            credential::verify_presented(presented, Some(&rekeyed), &fixture.key, fixture.now, None);
        assert!(
            outcome.principal().is_none() || issued(text),
            "{text:?} verified against a record under its own key id"
        );
    }
});

//! What the Worker scripts send the account's Durable Object (an internal request, never
//! reachable from outside: Durable Objects have no public URL).

use crate::api::Query;
use portcullis_core::account::{Account, Actor};
use portcullis_core::command::Command;
use portcullis_core::credential::Rehash;
use portcullis_core::gateway::request_counts::DayCount;
use portcullis_core::gateway::throttle::SignInLimit;
use portcullis_core::notification::Acknowledgement;
use portcullis_core::session::SessionLifetimes;
use portcullis_core::sso::SsoConnectionId;
use portcullis_core::{Email, KeyId, SessionId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One request to an account's Durable Object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ObjectRequest {
    /// Store a freshly signed-up account (refused if the object already holds one).
    Init {
        /// The account, as [`Account::sign_up`] made it.
        account: Box<Account>,
    },
    /// Apply a command.
    Command {
        /// Who.
        actor: Actor,
        /// What.
        command: Command,
    },
    /// Answer a read.
    Query {
        /// Who.
        actor: Actor,
        /// What.
        query: Query,
    },
    /// Accept an invitation and issue the user's first personal token (and, with a password,
    /// a session).
    AcceptInvitation {
        /// The public request.
        acceptance: Acceptance,
        /// The caller's `User-Agent`, kept with a session.
        user_agent: Option<String>,
    },
    /// The edge saw this credential authenticate a request (sent after the response, at most
    /// once per credential per interval per isolate).
    RecordLastUsed(LastUsed),
    /// The edge verified this credential's secret against a hash made under the previous
    /// hashing key: store the current key's hash instead (sent after the response, at most
    /// once per credential per interval per isolate).
    RehashCredential(Rehash),
    /// Acknowledge notifications: remove them from the outbox.
    AcknowledgeNotifications {
        /// Who.
        actor: Actor,
        /// Which.
        acknowledgement: Acknowledgement,
    },
    /// Sign in with email and password: a new session.
    SignIn {
        /// The public request.
        request: SignInRequest,
        /// The caller's `User-Agent`, kept with the session.
        user_agent: Option<String>,
    },
    /// A signed-in user's own sessions, or a change to them.
    Sessions {
        /// Who (acting through a session or a token).
        actor: Actor,
        /// What.
        action: SessionAction,
    },
    /// Redeem a password reset code: a new password and a new session.
    ResetPassword {
        /// The public request.
        request: PasswordResetRequest,
        /// The caller's `User-Agent`, kept with the session.
        user_agent: Option<String>,
    },
    /// How a sign-in with the connection starts: `{"protocol": "saml"}`, or
    /// `{"protocol": "oidc", "discovery_url": …}` (where its provider metadata is).
    OidcDiscovery {
        /// The connection.
        connection_id: SsoConnectionId,
    },
    /// Begin a SAML sign-in, this service provider being under `origin`.
    BeginSaml {
        /// The connection.
        connection_id: SsoConnectionId,
        /// The worker's public origin (scheme, host, port).
        origin: String,
    },
    /// Complete a SAML sign-in with what the identity provider posted to the ACS.
    CompleteSaml {
        /// The `RelayState` (the sign-in's state).
        relay_state: String,
        /// The `SAMLResponse` form value, as posted.
        saml_response: Concealed,
        /// The caller's `User-Agent`, kept with the session.
        user_agent: Option<String>,
    },
    /// Begin an OpenID Connect sign-in with the provider metadata the edge fetched.
    BeginOidc {
        /// The connection.
        connection_id: SsoConnectionId,
        /// The provider's discovery document, as fetched.
        metadata: String,
        /// Where the provider sends the browser back.
        redirect_uri: String,
        /// The email to suggest to the provider, if the caller named one.
        login_hint: Option<Email>,
    },
    /// The token request that redeems the provider's authorization code (internal: it carries
    /// the connection's client secret to the edge, which sends it to the provider only).
    OidcToken {
        /// The sign-in's state.
        state: String,
        /// The provider's authorization code.
        code: Concealed,
    },
    /// Complete an OpenID Connect sign-in with the provider's token answer and key set.
    CompleteOidc {
        /// The sign-in's state.
        state: String,
        /// The token endpoint's answer, as received.
        token_response: Concealed,
        /// The provider's key set, as fetched.
        jwks: String,
        /// The caller's `User-Agent`, kept with the session.
        user_agent: Option<String>,
    },
    /// The edge saw this session authenticate a request (sent after the response, at most once
    /// per session per interval per isolate): it moves the idle expiry.
    RecordSessionSeen(SessionSeen),
    /// The edge's limiter tripped on failed password sign-ins for `email` (sent once, with the
    /// refusal that tripped it): recorded in the account's audit log.
    RecordSignInThrottled {
        /// The email the failures were for, as typed (never stored: the engine names the user).
        email: String,
        /// Which limits tripped.
        limits: BTreeSet<SignInLimit>,
        /// The client address the platform reported.
        client: String,
        /// When.
        at: Timestamp,
    },
}

/// What an edge reports to an account's Durable Object after a response: the three messages of
/// [`ObjectRequest`] it sends, written as that enum writes them (a test reads each back as it).
/// Its own type so that an edge serializes these three alone: serializing an [`ObjectRequest`]
/// pulls in the serializers of every command and query the Management API sends.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Report {
    /// [`ObjectRequest::RecordLastUsed`].
    RecordLastUsed(LastUsed),
    /// [`ObjectRequest::RehashCredential`].
    RehashCredential(Rehash),
    /// [`ObjectRequest::RecordSessionSeen`].
    RecordSessionSeen(SessionSeen),
}

/// A credential authenticated requests.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastUsed {
    /// The credential.
    pub key_id: KeyId,
    /// When it was last used.
    pub at: Timestamp,
    /// The requests it authenticated since the last report, per day.
    #[serde(default)]
    pub requests: Vec<DayCount>,
}

/// A session authenticated a request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSeen {
    /// The session.
    pub session_id: SessionId,
    /// When it was used.
    pub at: Timestamp,
}

/// What a user does with their own sessions and password.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum SessionAction {
    /// List the open sessions.
    List,
    /// Sign out one session.
    SignOut {
        /// Which.
        session_id: SessionId,
    },
    /// Sign out every session.
    SignOutEverywhere,
    /// Change the password (ends every other session).
    ChangePassword(PasswordChange),
    /// Set how long the account's sessions last (company admins).
    ConfigureLifetimes(SessionLifetimes),
}

/// A text that must never be printed (a password), kept out of `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Concealed(pub String);

impl std::fmt::Debug for Concealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The body of `POST /v1/sessions`: sign in with a password.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The account signed in to.
    pub account_id: portcullis_core::AccountId,
    /// The user's email (any text: a malformed one fails like a wrong password).
    pub email: String,
    /// The password.
    pub password: Concealed,
    /// Whether to set the session as an `HttpOnly` cookie (browsers) instead of returning it
    /// in the body (API clients).
    #[serde(default)]
    pub cookie: bool,
}

/// The body of `POST /v1/password-reset`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The account.
    pub account_id: portcullis_core::AccountId,
    /// The user's email.
    pub email: String,
    /// The reset code (`pcrst_…`).
    pub code: Concealed,
    /// The new password.
    pub new_password: Concealed,
    /// Set the new session as a cookie instead of returning it.
    #[serde(default)]
    pub cookie: bool,
}

/// The body of `PUT /v1/password`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: Concealed,
    /// The new password.
    pub new_password: Concealed,
}

/// The body of `POST /v1/invitations/accept`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The account that sent the invitation.
    pub account_id: portcullis_core::AccountId,
    /// The invitee's email.
    pub email: Email,
    /// The invitation code (`pcinv_…`).
    pub code: String,
    /// The tenant the invitation is for, where the first token acts (optional; any other
    /// tenant makes the code not valid).
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    /// The password to set; when given, the answer also signs the user in (a session).
    #[serde(default)]
    pub password: Option<Concealed>,
    /// With a password: set the session as a cookie instead of returning it.
    #[serde(default)]
    pub cookie: bool,
}

impl std::fmt::Debug for Acceptance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptance")
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("code", &"***")
            .field("tenant_id", &self.tenant_id)
            .field("password", &self.password)
            .field("cookie", &self.cookie)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::credential::issue_api_token;
    use portcullis_core::random::SeededRandom;
    use portcullis_core::{HashingKey, session};

    /// `report`, written, read back as an [`ObjectRequest`] and written again: the same JSON.
    fn read_back(report: &Report) -> (ObjectRequest, serde_json::Value) {
        let written = serde_json::to_value(report).unwrap();
        let request: ObjectRequest = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&request).unwrap(), written);
        (request, written)
    }

    #[test]
    fn each_report_is_read_as_the_object_request_it_stands_for() {
        let key = HashingKey::from_bytes(&[7; 32]).unwrap();
        let issued = issue_api_token(&mut SeededRandom::new(1), &key);
        let at = Timestamp::from_unix_seconds(1_750_000_000);

        let used = Report::RecordLastUsed(LastUsed {
            key_id: issued.key_id.clone(),
            at,
            requests: vec![DayCount {
                day: Timestamp::from_unix_seconds(1_749_945_600),
                requests: 3,
            }],
        });
        let (request, written) = read_back(&used);
        assert_eq!(written["op"], "record_last_used");
        assert!(
            matches!(request, ObjectRequest::RecordLastUsed(LastUsed { key_id, requests, .. })
                if key_id == issued.key_id && requests.len() == 1)
        );

        let rehash = Rehash {
            key_id: issued.key_id.clone(),
            from: issued.hash,
            to: issue_api_token(&mut SeededRandom::new(2), &key).hash,
        };
        let (request, written) = read_back(&Report::RehashCredential(rehash.clone()));
        assert_eq!(written["op"], "rehash_credential");
        assert!(matches!(request, ObjectRequest::RehashCredential(read) if read == rehash));

        let session_id = session::generate(&mut SeededRandom::new(3), &key).id;
        let (request, written) = read_back(&Report::RecordSessionSeen(SessionSeen {
            session_id: session_id.clone(),
            at,
        }));
        assert_eq!(written["op"], "record_session_seen");
        assert!(
            matches!(request, ObjectRequest::RecordSessionSeen(SessionSeen { session_id: read, at: when })
                if read == session_id && when == at)
        );
    }

    #[test]
    fn a_report_with_a_field_too_many_is_refused() {
        let key = HashingKey::from_bytes(&[7; 32]).unwrap();
        let session_id = session::generate(&mut SeededRandom::new(3), &key).id;
        let mut written = serde_json::to_value(Report::RecordSessionSeen(SessionSeen {
            session_id,
            at: Timestamp::from_unix_seconds(1),
        }))
        .unwrap();
        written["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ObjectRequest>(written).is_err());
    }
}

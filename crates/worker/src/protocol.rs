//! What the edge handler sends the account's Durable Object (an internal request, never
//! reachable from outside: Durable Objects have no public URL).

use crate::api::Query;
use portcullis_core::account::{Account, Actor};
use portcullis_core::command::Command;
use portcullis_core::notification::Acknowledgement;
use portcullis_core::{Email, KeyId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

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
    /// Accept an invitation and issue the user's first personal token.
    AcceptInvitation(Acceptance),
    /// The edge saw this credential authenticate a request at `at` (sent after the response,
    /// at most once per credential per interval per isolate).
    RecordLastUsed {
        /// The credential.
        key_id: KeyId,
        /// When it was used.
        at: Timestamp,
    },
    /// Acknowledge notifications: remove them from the outbox.
    AcknowledgeNotifications {
        /// Who.
        actor: Actor,
        /// Which.
        acknowledgement: Acknowledgement,
    },
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
}

impl std::fmt::Debug for Acceptance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptance")
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("code", &"***")
            .field("tenant_id", &self.tenant_id)
            .finish()
    }
}

//! The audit log: one event per accepted mutation, append-only and hash-chained.
//!
//! Each event's hash is SHA-256 over the previous event's hash and the event's own canonical
//! JSON, so [`verify_chain`] detects any edited, removed, inserted or reordered event.

use crate::credential::KeyId;
use crate::ids::{TenantId, UserId};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The hash of the (absent) event before the first one.
pub const GENESIS: &str = "genesis";

/// What happened, without any secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBody {
    /// Position in the log, from 0.
    pub sequence: u64,
    /// When.
    pub at: Timestamp,
    /// Who did it (none for system actions such as sign-up).
    pub actor: Option<UserId>,
    /// Which credential the actor used, if any.
    pub credential: Option<KeyId>,
    /// The tenant concerned, or none for account-level actions.
    pub tenant: Option<TenantId>,
    /// A stable action code, e.g. `member.invited`.
    pub action: String,
    /// What it was done to (a user id, key id, tenant id...).
    pub target: String,
    /// Extra non-secret detail, e.g. the new permissions.
    pub detail: String,
}

/// An event in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The event itself.
    #[serde(flatten)]
    pub body: EventBody,
    /// The previous event's hash ([`GENESIS`] for the first).
    pub previous_hash: String,
    /// SHA-256 over `previous_hash` and the body's canonical JSON, base64url.
    pub hash: String,
}

fn chain_hash(previous_hash: &str, body: &EventBody) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update([0]);
    // Serialising a plain struct of strings and integers cannot fail; an empty fallback
    // would still be caught by the verifier as a mismatch.
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// An append-only, hash-chained log.
///
/// A runtime with durable storage of its own may [`drain`](AuditLog::drain) the events it has
/// stored: the log then keeps only the chain's head (next sequence number and last hash), so
/// the account state stays small however long the history grows, and new events still link to
/// the drained ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditLog {
    /// Sequence number of the first event held in `events`.
    #[serde(default)]
    first_sequence: u64,
    /// Hash of the last drained event, when any were drained.
    #[serde(default)]
    drained_head: Option<String>,
    /// The events held here (all of them unless some were drained).
    events: Vec<AuditEvent>,
}

impl AuditLog {
    /// Appends an event, filling in its sequence number and hashes.
    pub fn append(&mut self, mut body: EventBody) {
        let previous_hash = self.head_hash().to_owned();
        body.sequence = self.next_sequence();
        let hash = chain_hash(&previous_hash, &body);
        self.events.push(AuditEvent {
            body,
            previous_hash,
            hash,
        });
    }

    /// The hash the next event will link to.
    pub fn head_hash(&self) -> &str {
        self.events
            .last()
            .map(|event| event.hash.as_str())
            .or(self.drained_head.as_deref())
            .unwrap_or(GENESIS)
    }

    /// The sequence number the next event will get (the number of events ever appended).
    pub fn next_sequence(&self) -> u64 {
        self.first_sequence.saturating_add(self.events.len() as u64)
    }

    /// The events held here, oldest first (every event unless some were drained).
    pub fn events(&self) -> &[AuditEvent] {
        &self.events
    }

    /// The number of events ever appended, drained ones included.
    pub fn len(&self) -> usize {
        usize::try_from(self.next_sequence()).unwrap_or(usize::MAX)
    }

    /// Whether no event was ever recorded.
    pub fn is_empty(&self) -> bool {
        self.next_sequence() == 0
    }

    /// Hands over the events held here (for durable storage), keeping the chain's head.
    pub fn drain(&mut self) -> Vec<AuditEvent> {
        if let Some(last) = self.events.last() {
            self.drained_head = Some(last.hash.clone());
        }
        self.first_sequence = self.next_sequence();
        std::mem::take(&mut self.events)
    }

    /// A page of the events held here starting at sequence `from`, at most `limit` long.
    pub fn page(&self, from: u64, limit: usize) -> &[AuditEvent] {
        let start = usize::try_from(from.saturating_sub(self.first_sequence))
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        let end = start.saturating_add(limit).min(self.events.len());
        self.events.get(start..end).unwrap_or_default()
    }
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// An event's sequence number is not its position (removed, inserted or reordered).
    #[error("event at position {position} has sequence {found}")]
    OutOfSequence {
        /// Position in the slice.
        position: usize,
        /// The sequence number it carries.
        found: u64,
    },
    /// An event does not link to its predecessor's hash.
    #[error("event {sequence} does not link to the previous event")]
    BrokenLink {
        /// The event's sequence number.
        sequence: u64,
    },
    /// An event's content does not match its hash (edited).
    #[error("event {sequence} was altered")]
    Altered {
        /// The event's sequence number.
        sequence: u64,
    },
}

/// Checks a whole chain from the start.
pub fn verify_chain(events: &[AuditEvent]) -> Result<(), ChainError> {
    verify_chain_from(&ChainHead::genesis(), events).map(|_| ())
}

/// A verified prefix of an audit chain: how many events it holds and the last one's hash. A
/// runtime that keeps the events itself stores the head it last verified, so that each read
/// verifies only the events appended since ([`verify_chain_from`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The number of events verified (the next event's sequence).
    pub length: u64,
    /// The hash of the last of them ([`GENESIS`] when there are none).
    pub hash: String,
}

impl ChainHead {
    /// The head of the empty chain.
    pub fn genesis() -> Self {
        Self {
            length: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// Checks that `events` continue the chain verified up to `head` (the first of them has
/// sequence `head.length` and links to `head.hash`), each linked to the one before and
/// unaltered; returns the new head.
pub fn verify_chain_from(head: &ChainHead, events: &[AuditEvent]) -> Result<ChainHead, ChainError> {
    let mut previous = head.hash.clone();
    let mut expected = head.length;
    for (position, event) in events.iter().enumerate() {
        if event.body.sequence != expected {
            return Err(ChainError::OutOfSequence {
                position,
                found: event.body.sequence,
            });
        }
        if event.previous_hash != previous {
            return Err(ChainError::BrokenLink {
                sequence: event.body.sequence,
            });
        }
        if chain_hash(&event.previous_hash, &event.body) != event.hash {
            return Err(ChainError::Altered {
                sequence: event.body.sequence,
            });
        }
        previous.clone_from(&event.hash);
        expected += 1;
    }
    Ok(ChainHead {
        length: expected,
        hash: previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(action: &str) -> EventBody {
        EventBody {
            sequence: 0,
            at: Timestamp::from_unix_seconds(10),
            actor: None,
            credential: None,
            tenant: None,
            action: action.into(),
            target: "t".into(),
            detail: String::new(),
        }
    }

    fn log() -> AuditLog {
        let mut log = AuditLog::default();
        for action in ["a", "b", "c", "d"] {
            log.append(body(action));
        }
        log
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(log().events()), Ok(()));
        assert_eq!(log().page(1, 2).len(), 2);
        assert_eq!(log().page(3, 10).len(), 1);
        assert!(log().page(99, 10).is_empty());
    }

    #[test]
    fn a_chain_verified_in_parts_continues_from_its_head() {
        let events = log().events().to_vec();
        let (first, rest) = events.split_at(2);
        let head = verify_chain_from(&ChainHead::genesis(), first).unwrap();
        assert_eq!(head.length, 2);
        assert_eq!(head.hash, events[1].hash);
        let whole = verify_chain_from(&head, rest).unwrap();
        assert_eq!(
            whole,
            verify_chain_from(&ChainHead::genesis(), &events).unwrap()
        );
        // The continuation must start where the head ends and link to it.
        assert!(verify_chain_from(&ChainHead::genesis(), rest).is_err());
        let forged = ChainHead {
            length: 2,
            hash: events[0].hash.clone(),
        };
        assert_eq!(
            verify_chain_from(&forged, rest),
            Err(ChainError::BrokenLink { sequence: 2 })
        );
        let mut edited = rest.to_vec();
        edited[1].body.detail = "changed".into();
        assert_eq!(
            verify_chain_from(&head, &edited),
            Err(ChainError::Altered { sequence: 3 })
        );
    }

    #[test]
    fn edited_event_is_detected() {
        let mut events = log().events().to_vec();
        events[2].body.target = "someone else".into();
        assert_eq!(
            verify_chain(&events),
            Err(ChainError::Altered { sequence: 2 })
        );
    }

    #[test]
    fn removed_event_is_detected() {
        let mut events = log().events().to_vec();
        events.remove(1);
        assert!(matches!(
            verify_chain(&events),
            Err(ChainError::OutOfSequence { position: 1, .. })
        ));
        // Removing the tail is only detectable against a known length or head hash.
        let mut events = log().events().to_vec();
        events.remove(0);
        assert!(verify_chain(&events).is_err());
    }

    #[test]
    fn reordered_events_are_detected() {
        let mut events = log().events().to_vec();
        events.swap(1, 2);
        assert!(verify_chain(&events).is_err());
    }

    #[test]
    fn renumbered_forgery_is_detected() {
        let mut events = log().events().to_vec();
        events.remove(1);
        for (position, event) in events.iter_mut().enumerate() {
            event.body.sequence = position as u64;
        }
        assert!(verify_chain(&events).is_err());
    }

    #[test]
    fn drained_events_stay_chained_to_new_ones() {
        let mut log = AuditLog::default();
        log.append(body("a"));
        log.append(body("b"));
        let mut stored = log.drain();
        assert!(log.events().is_empty());
        assert_eq!(log.len(), 2);
        log.append(body("c"));
        assert_eq!(log.events().first().map(|e| e.body.sequence), Some(2));
        assert_eq!(log.page(2, 10).len(), 1);
        assert!(log.page(0, 10).len() == 1);
        stored.extend(log.drain());
        assert_eq!(verify_chain(&stored), Ok(()));
        let json = serde_json::to_string(&log).unwrap();
        let back: AuditLog = serde_json::from_str(&json).unwrap();
        assert_eq!(back.head_hash(), stored.last().unwrap().hash);
        assert_eq!(back.next_sequence(), 3);
    }
}

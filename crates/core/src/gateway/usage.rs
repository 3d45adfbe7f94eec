//! Last-used times without a storage write per request: the isolate reports a credential's use
//! at most once per [`REPORT_INTERVAL_SECONDS`], after the response, and the account's store
//! keeps the latest time reported ([`Account::record_last_used`](crate::Account::record_last_used)).
//!
//! So `last_used_at` is exact to within the interval on each isolate: a credential used
//! continuously is written about once per interval per isolate that serves it, never once per
//! request.

use crate::credential::KeyId;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// How often one isolate reports the use of one credential, at most.
pub const REPORT_INTERVAL_SECONDS: u64 = 60;

/// The isolate's memory of when it last reported each credential. Bounded: when full, the
/// credential reported longest ago is forgotten (its next use is reported again).
/// Keyed by the credential's public id: a [`KeyId`] for tokens and automation keys, a
/// [`SessionId`](crate::session::SessionId) for sessions (whose reported use moves their idle
/// expiry, [`Account::record_session_seen`](crate::Account::record_session_seen)).
#[derive(Clone, Debug)]
pub struct UsageReports<K = KeyId> {
    reported: BTreeMap<K, Timestamp>,
    capacity: usize,
}

impl<K: Ord + Clone> UsageReports<K> {
    /// An empty memory of at most `capacity` credentials.
    pub fn new(capacity: usize) -> Self {
        Self {
            reported: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records a use of `key_id` at `now`; true when it should be reported (first use seen,
    /// or the last report is at least [`REPORT_INTERVAL_SECONDS`] old).
    pub fn should_report(&mut self, key_id: &K, now: Timestamp) -> bool {
        if let Some(last) = self.reported.get_mut(key_id) {
            if now.unix_seconds().saturating_sub(last.unix_seconds()) < REPORT_INTERVAL_SECONDS {
                return false;
            }
            *last = now;
            return true;
        }
        if self.reported.len() >= self.capacity {
            super::forget_earliest(&mut self.reported);
        }
        self.reported.insert(key_id.clone(), now);
        true
    }

    /// The number of credentials remembered.
    pub fn len(&self) -> usize {
        self.reported.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.reported.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::{at, key_id};

    #[test]
    fn one_report_per_interval_per_credential() {
        let mut reports = UsageReports::new(16);
        let (a, b) = (key_id(1), key_id(2));
        assert!(reports.should_report(&a, at(1_000)));
        assert!(!reports.should_report(&a, at(1_001)));
        assert!(!reports.should_report(&a, at(1_000 + REPORT_INTERVAL_SECONDS - 1)));
        assert!(
            reports.should_report(&b, at(1_001)),
            "other credentials report"
        );
        assert!(reports.should_report(&a, at(1_000 + REPORT_INTERVAL_SECONDS)));
        assert!(!reports.should_report(&a, at(1_000 + REPORT_INTERVAL_SECONDS + 1)));
    }

    #[test]
    fn a_full_memory_forgets_the_oldest_report() {
        let mut reports = UsageReports::new(2);
        let (a, b, c) = (key_id(1), key_id(2), key_id(3));
        assert!(reports.should_report(&a, at(10)));
        assert!(reports.should_report(&b, at(20)));
        assert!(reports.should_report(&c, at(30)));
        assert_eq!(reports.len(), 2);
        assert!(!reports.should_report(&b, at(31)));
        assert!(
            reports.should_report(&a, at(32)),
            "forgotten, so reported again"
        );
    }
}

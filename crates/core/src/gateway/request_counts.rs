//! Request counts per credential per UTC day, without a storage write per request: the isolate
//! counts the requests each credential authenticates ([`RequestCounter`]) and hands the counts
//! over with its last-used report (at most once per [`REPORT_INTERVAL_SECONDS`] per credential,
//! and when a day ends), and the account's store adds them up ([`DailyRequests`], the last
//! [`USAGE_DAYS`] days).
//!
//! So the counts are exact except for what an isolate held when it was evicted (at most one
//! interval's worth of requests per credential per isolate) and they lag by up to an interval.

use crate::credential::KeyId;
#[cfg(doc)]
use crate::gateway::usage::REPORT_INTERVAL_SECONDS;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many days of request counts a credential keeps, today included.
pub const USAGE_DAYS: u64 = 30;

const DAY_SECONDS: u64 = 86_400;

/// The first second (00:00:00 UTC) of the day holding `at`.
pub const fn day_of(at: Timestamp) -> Timestamp {
    let seconds = at.unix_seconds();
    Timestamp::from_unix_seconds(seconds - seconds % DAY_SECONDS)
}

/// Requests authenticated on one UTC day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// The day's first second (00:00:00 UTC).
    pub day: Timestamp,
    /// Requests that day.
    pub requests: u64,
}

/// One credential's requests per day, for the last [`USAGE_DAYS`] days (stored with it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DailyRequests(Vec<DayCount>);

impl DailyRequests {
    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `counts` as of `now`: counts for a day before the window or after today are
    /// dropped (a clock running ahead), days that fell out of the window are forgotten.
    /// Whether anything changed.
    pub fn add(&mut self, counts: &[DayCount], now: Timestamp) -> bool {
        let today = day_of(now);
        let first = first_day(now);
        let before = self.0.len();
        self.0.retain(|count| count.day >= first);
        let mut changed = self.0.len() != before;
        for count in counts {
            let day = day_of(count.day);
            if day < first || day > today || count.requests == 0 {
                continue;
            }
            match self.0.iter_mut().find(|known| known.day == day) {
                Some(known) => known.requests = known.requests.saturating_add(count.requests),
                None => self.0.push(DayCount {
                    day,
                    requests: count.requests,
                }),
            }
            changed = true;
        }
        self.0.sort_by_key(|count| count.day);
        changed
    }

    /// Every day of the window ending today (`now`'s day), oldest first, with 0 for a day
    /// without requests: always [`USAGE_DAYS`] entries.
    pub fn window(&self, now: Timestamp) -> Vec<DayCount> {
        let first = first_day(now);
        (0..USAGE_DAYS)
            .map(|offset| {
                let day = first.plus_seconds(offset * DAY_SECONDS);
                let requests = self
                    .0
                    .iter()
                    .find(|count| count.day == day)
                    .map_or(0, |count| count.requests);
                DayCount { day, requests }
            })
            .collect()
    }
}

/// The first day of the window ending on `now`'s day.
fn first_day(now: Timestamp) -> Timestamp {
    let today = day_of(now).unix_seconds();
    Timestamp::from_unix_seconds(today.saturating_sub((USAGE_DAYS - 1) * DAY_SECONDS))
}

/// What one isolate counted of one credential and has not reported yet.
#[derive(Clone, Debug)]
struct Pending {
    day: Timestamp,
    requests: u64,
    reported_at: Timestamp,
}

/// The isolate's count of requests per credential since its last report. Bounded: when full,
/// the credential reported longest ago is forgotten with what it held.
#[derive(Clone, Debug)]
pub struct RequestCounter {
    pending: BTreeMap<KeyId, Pending>,
    capacity: usize,
}

impl RequestCounter {
    /// An empty counter of at most `capacity` credentials.
    pub fn new(capacity: usize) -> Self {
        Self {
            pending: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Counts one request of `key_id` at `now`; the counts to report now, if a report is due:
    /// on the credential's first request seen here, when the last report is at least
    /// `interval_seconds` old ([`REPORT_INTERVAL_SECONDS`] in production), and when a new day
    /// starts (the previous day's count then goes with it). `None`: keep counting.
    pub fn count(
        &mut self,
        key_id: &KeyId,
        now: Timestamp,
        interval_seconds: u64,
    ) -> Option<Vec<DayCount>> {
        let today = day_of(now);
        let Some(pending) = self.pending.get_mut(key_id) else {
            if self.pending.len() >= self.capacity
                && let Some(oldest) = self
                    .pending
                    .iter()
                    .min_by_key(|(_, pending)| pending.reported_at)
                    .map(|(key, _)| key.clone())
            {
                self.pending.remove(&oldest);
            }
            self.pending.insert(
                key_id.clone(),
                Pending {
                    day: today,
                    requests: 0,
                    reported_at: now,
                },
            );
            return Some(vec![DayCount {
                day: today,
                requests: 1,
            }]);
        };
        let mut due = Vec::new();
        if pending.day != today {
            if pending.requests > 0 {
                due.push(DayCount {
                    day: pending.day,
                    requests: pending.requests,
                });
            }
            pending.day = today;
            pending.requests = 0;
        }
        pending.requests = pending.requests.saturating_add(1);
        let interval_over = now
            .unix_seconds()
            .saturating_sub(pending.reported_at.unix_seconds())
            >= interval_seconds;
        if !due.is_empty() || interval_over {
            due.push(DayCount {
                day: today,
                requests: pending.requests,
            });
            pending.requests = 0;
            pending.reported_at = now;
            return Some(due);
        }
        None
    }

    /// The number of credentials counted.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_support::{at, key_id};
    use crate::gateway::usage::REPORT_INTERVAL_SECONDS;

    const DAY: u64 = DAY_SECONDS;
    /// 2026-12-02T00:00:00Z.
    const MIDNIGHT: u64 = 1_796_169_600;

    #[test]
    fn a_credential_reports_its_first_request_then_what_it_counted_each_interval() {
        let mut counter = RequestCounter::new(16);
        let a = key_id(1);
        let day = at(MIDNIGHT);
        let first = counter.count(&a, at(MIDNIGHT + 100), REPORT_INTERVAL_SECONDS);
        assert_eq!(first, Some(vec![DayCount { day, requests: 1 }]));
        for second in 101..100 + REPORT_INTERVAL_SECONDS {
            assert_eq!(
                counter.count(&a, at(MIDNIGHT + second), REPORT_INTERVAL_SECONDS),
                None
            );
        }
        // 59 requests counted since, and this one: 60.
        assert_eq!(
            counter.count(
                &a,
                at(MIDNIGHT + 100 + REPORT_INTERVAL_SECONDS),
                REPORT_INTERVAL_SECONDS
            ),
            Some(vec![DayCount { day, requests: 60 }])
        );
        assert_eq!(
            counter.count(&b_key(), at(MIDNIGHT + 101), REPORT_INTERVAL_SECONDS),
            Some(vec![DayCount { day, requests: 1 }])
        );
    }

    fn b_key() -> KeyId {
        key_id(2)
    }

    #[test]
    fn a_new_day_hands_over_the_previous_days_count_at_once() {
        let mut counter = RequestCounter::new(16);
        let a = key_id(1);
        counter.count(&a, at(MIDNIGHT + DAY - 30), REPORT_INTERVAL_SECONDS);
        assert_eq!(
            counter.count(&a, at(MIDNIGHT + DAY - 20), REPORT_INTERVAL_SECONDS),
            None
        );
        assert_eq!(
            counter.count(&a, at(MIDNIGHT + DAY - 10), REPORT_INTERVAL_SECONDS),
            None
        );
        assert_eq!(
            counter.count(&a, at(MIDNIGHT + DAY + 5), REPORT_INTERVAL_SECONDS),
            Some(vec![
                DayCount {
                    day: at(MIDNIGHT),
                    requests: 2
                },
                DayCount {
                    day: at(MIDNIGHT + DAY),
                    requests: 1
                },
            ])
        );
    }

    #[test]
    fn a_full_counter_forgets_the_credential_reported_longest_ago() {
        let mut counter = RequestCounter::new(2);
        counter.count(&key_id(1), at(MIDNIGHT + 10), REPORT_INTERVAL_SECONDS);
        counter.count(&key_id(2), at(MIDNIGHT + 20), REPORT_INTERVAL_SECONDS);
        counter.count(&key_id(3), at(MIDNIGHT + 30), REPORT_INTERVAL_SECONDS);
        assert_eq!(counter.len(), 2);
        assert!(
            counter
                .count(&key_id(1), at(MIDNIGHT + 31), REPORT_INTERVAL_SECONDS)
                .is_some(),
            "forgotten, so counted as new"
        );
    }

    #[test]
    fn daily_requests_add_up_keep_thirty_days_and_drop_days_out_of_the_window() {
        let mut usage = DailyRequests::default();
        let now = at(MIDNIGHT + 3_600);
        let count = |day: u64, requests: u64| DayCount {
            day: at(day),
            requests,
        };
        assert!(usage.add(&[count(MIDNIGHT, 5)], now));
        assert!(usage.add(&[count(MIDNIGHT + 60, 2), count(MIDNIGHT - DAY, 7)], now));
        // A day after today (a clock ahead), one before the window, and zero requests: dropped.
        assert!(!usage.add(
            &[
                count(MIDNIGHT + DAY, 9),
                count(MIDNIGHT - USAGE_DAYS * DAY, 9),
                count(MIDNIGHT, 0)
            ],
            now
        ));
        let window = usage.window(now);
        assert_eq!(window.len() as u64, USAGE_DAYS);
        assert_eq!(window.last(), Some(&count(MIDNIGHT, 7)));
        assert_eq!(window.get(28), Some(&count(MIDNIGHT - DAY, 7)));
        assert_eq!(
            window.first(),
            Some(&count(MIDNIGHT - (USAGE_DAYS - 1) * DAY, 0))
        );
        assert_eq!(window.iter().map(|c| c.requests).sum::<u64>(), 14);
        // Thirty days later, the old days are gone on the next write.
        let later = at(MIDNIGHT + USAGE_DAYS * DAY);
        assert!(usage.add(&[], later));
        assert!(usage.is_empty());
        let json = serde_json::to_string(&usage).unwrap();
        assert_eq!(json, "[]");
    }
}

//! Time as the engine sees it: a value passed in by the caller, never read from a clock here.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use thiserror::Error;

/// A point in time, in whole seconds since the Unix epoch (UTC), from the epoch to
/// [`Timestamp::MAX`] (9999-12-31T23:59:59Z).
///
/// The bound holds for every value: parsed ones (JSON input, stored records) beyond it are
/// refused with [`TimestampError`], computed ones saturate at it. So every timestamp is also
/// an exact JavaScript number (below 2^53) and an RFC 3339 date with a four-digit year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

/// A time outside the range a [`Timestamp`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error(
    "time {0} is after 9999-12-31T23:59:59Z ({max} seconds since the Unix epoch), the latest accepted",
    max = Timestamp::MAX.0
)]
pub struct TimestampError(pub u64);

impl Timestamp {
    /// The latest time accepted: 9999-12-31T23:59:59Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    /// The timestamp `seconds` after the Unix epoch, or why it is out of range.
    pub const fn try_from_unix_seconds(seconds: u64) -> Result<Self, TimestampError> {
        if seconds > Self::MAX.0 {
            Err(TimestampError(seconds))
        } else {
            Ok(Self(seconds))
        }
    }

    /// The timestamp `seconds` after the Unix epoch, saturating at [`Timestamp::MAX`]: for
    /// clocks and constants. Input goes through [`Timestamp::try_from_unix_seconds`] (or
    /// deserialisation), which refuses what is out of range.
    pub const fn from_unix_seconds(seconds: u64) -> Self {
        if seconds > Self::MAX.0 {
            Self::MAX
        } else {
            Self(seconds)
        }
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> u64 {
        self.0
    }

    /// This timestamp moved `seconds` later, saturating at [`Timestamp::MAX`].
    pub const fn plus_seconds(self, seconds: u64) -> Self {
        Self::from_unix_seconds(self.0.saturating_add(seconds))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Whole seconds since the epoch, at most [`Timestamp::MAX`]; anything later is refused
    /// (with [`TimestampError`]'s message) rather than stored and failing later.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = u64::deserialize(deserializer)?;
        Self::try_from_unix_seconds(seconds).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A source of the current time, for adapters that want to pass one around.
pub trait Clock {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// A clock that always answers the same time: for tests and replays.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The system clock (native targets only; wasm adapters supply the platform's clock).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Timestamp::from_unix_seconds(seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_after_year_9999_are_refused_at_parse() {
        let max: Timestamp = serde_json::from_str("253402300799").unwrap();
        assert_eq!(max, Timestamp::MAX);
        for late in ["253402300800", "9007199254740992", "18446744073709551615"] {
            let error = serde_json::from_str::<Timestamp>(late).unwrap_err();
            assert!(
                error.to_string().contains("after 9999-12-31T23:59:59Z"),
                "{error}"
            );
        }
        assert!(serde_json::from_str::<Timestamp>("-1").is_err());
        assert!(serde_json::from_str::<Timestamp>("1.5").is_err());
        assert_eq!(
            Timestamp::try_from_unix_seconds(1 << 53),
            Err(TimestampError(1 << 53))
        );
    }

    #[test]
    fn computed_timestamps_saturate_at_the_latest_accepted() {
        assert_eq!(Timestamp::MAX.plus_seconds(1), Timestamp::MAX);
        assert_eq!(Timestamp::from_unix_seconds(u64::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::from_unix_seconds(5)
                .plus_seconds(5)
                .unix_seconds(),
            10
        );
        // Always an exact JavaScript number.
        assert!(Timestamp::MAX.unix_seconds() < 1 << 53);
    }
}

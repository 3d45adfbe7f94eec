//! The edge gateway: everything the engine decides for requests to a protected origin.
//!
//! A request is matched against the [`policy::RoutePolicy`] (default deny); a protected
//! route's credential is verified ([`crate::credential::verify_presented`]) and authorized for
//! the route's operation ([`crate::authz::authorize`]); an allowed request reaches the origin
//! with [`identity`] headers signed under the gateway key. Failed verifications are throttled
//! ([`throttle`]) and credential use is reported sparingly ([`usage`]), with the requests
//! counted since ([`request_counts`]). What of the inbound
//! request reaches the origin is [`forward`]'s.

pub mod forward;
pub mod identity;
pub mod policy;
pub mod request_counts;
pub mod throttle;
pub mod usage;

pub use identity::{Identity, IdentityError, verify_identity};
pub use policy::{Access, Method, ParameterProblem, RouteMatch, RoutePolicy};

use crate::time::Timestamp;
use std::collections::BTreeMap;

/// Removes the entry with the earliest time: how the isolate's bounded memories make room.
fn forget_earliest<K: Ord + Clone>(entries: &mut BTreeMap<K, Timestamp>) {
    let earliest = entries
        .iter()
        .min_by_key(|(_, at)| **at)
        .map(|(key, _)| key.clone());
    if let Some(earliest) = earliest {
        entries.remove(&earliest);
    }
}

#[cfg(test)]
mod test_support {
    use crate::credential::KeyId;
    use crate::random::SeededRandom;
    use crate::time::Timestamp;

    /// A valid key id, different per seed.
    pub fn key_id(seed: u64) -> KeyId {
        let key = crate::HashingKey::from_bytes(&[1; 32]).unwrap();
        crate::credential::issue_api_token(&mut SeededRandom::new(seed), &key).key_id
    }

    /// The time `seconds` after the epoch.
    pub fn at(seconds: u64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }
}

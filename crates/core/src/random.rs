//! Randomness as the engine sees it: an injected source, so tests are deterministic.

use std::fmt;

/// A source of cryptographically secure random bytes.
///
/// Production adapters use the platform's CSPRNG ([`OsRandom`] with the `os-random` feature, or
/// the Web Crypto API on wasm). Tests use [`SeededRandom`].
pub trait RandomSource {
    /// Fills `buffer` with random bytes.
    fn fill(&mut self, buffer: &mut [u8]);
}

/// The operating system's CSPRNG, through `getrandom`.
#[cfg(feature = "os-random")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(feature = "os-random")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buffer: &mut [u8]) {
        // The OS generator failing is unrecoverable for a security service: there is no safe
        // fallback, so refusing to continue is the only correct answer.
        #[expect(
            clippy::panic,
            reason = "no safe fallback exists when the OS CSPRNG fails"
        )]
        if let Err(error) = getrandom::fill(buffer) {
            panic!("operating system random generator failed: {error}");
        }
    }
}

/// A deterministic generator for tests and benchmarks. **Not secure.**
///
/// It runs SHA-256 over a seed and a counter, so sequences are reproducible across platforms.
pub struct SeededRandom {
    seed: u64,
    counter: u64,
}

impl SeededRandom {
    /// A generator that always produces the same stream for the same `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }
}

impl fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededRandom")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buffer: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buffer.chunks_mut(32) {
            let mut hasher = Sha256::new();
            hasher.update(self.seed.to_le_bytes());
            hasher.update(self.counter.to_le_bytes());
            self.counter = self.counter.wrapping_add(1);
            let block = hasher.finalize();
            for (target, source) in chunk.iter_mut().zip(block.iter()) {
                *target = *source;
            }
        }
    }
}

/// `N` random bytes from `random`.
pub fn bytes<const N: usize>(random: &mut dyn RandomSource) -> [u8; N] {
    let mut buffer = [0_u8; N];
    random.fill(&mut buffer);
    buffer
}

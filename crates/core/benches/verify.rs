//! Criterion benchmarks: credential verification and authorization, with a bare HMAC-SHA256 of
//! the same secret as the floor.
#![allow(missing_docs)]
fn main() {}

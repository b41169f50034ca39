//! Integration tests of the normalizer on real recorded Reddit responses and generated data.

mod fixtures;
mod properties;
mod snapshots;
mod wide;

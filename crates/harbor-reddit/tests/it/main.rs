//! Integration tests: the client against the fake Reddit over real HTTP on 127.0.0.1.

mod about;
mod auth_cases;
mod combined;
mod comments;
mod faults;
mod incremental;
mod refresh;
mod soak;
mod support;

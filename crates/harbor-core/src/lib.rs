//! RedditHarbor core: everything that turns JSON into loadable data without touching the network or
//! a database.
//!
//! - [`naming`]: snake_case, collision-free, length-limited identifiers;
//! - [`types`], [`schema`], [`contract`], [`registry`]: the pipeline schema, its contracts, and the
//!   Reddit field registry;
//! - [`normalize`]: JSON records to typed rows per table (flatten in parallel, resolve in order);
//! - [`package`], [`state`]: load packages on disk and pipeline state;
//! - [`destination`]: the trait every destination implements.
//!
//! This crate is synchronous and has no IO runtime.

pub mod contract;
pub mod destination;
pub mod error;
pub mod naming;
pub mod normalize;
pub mod package;
pub mod redact;
pub mod registry;
pub mod schema;
pub mod state;
pub mod testhook;
pub mod types;

pub use error::{Error, Result};
pub use schema::{Column, Schema, SchemaChange, TableSchema, WriteDisposition};
pub use types::{Cell, DataType};

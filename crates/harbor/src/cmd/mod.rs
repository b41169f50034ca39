//! One module per command.

pub mod collect;
pub mod demo;
pub mod ingest;
pub mod load;
pub mod schema;
pub mod status;

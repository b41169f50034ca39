//! One module per command.

pub mod collect;
pub mod demo;
pub mod ingest;
pub mod backup;
pub mod export;
pub mod load;
pub mod restore;
pub mod schema;
pub mod status;

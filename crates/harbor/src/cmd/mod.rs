//! One module per command.

pub mod ingest;
pub mod load;
pub mod schema;
pub mod status;

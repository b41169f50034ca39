//! One module per command.

pub mod collect;
pub mod demo;
pub mod ingest;
pub mod backup;
pub mod export;
pub mod load;
pub mod restore;
pub mod opportunities;
pub mod pii;
pub mod schema;
pub mod score;
pub mod score_llm;
pub mod status;

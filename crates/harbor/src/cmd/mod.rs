//! One module per command.

pub mod backup;
pub mod check;
pub mod collect;
pub mod compare;
pub mod cutover;
pub mod demo;
pub mod export;
pub mod import;
pub mod ingest;
pub mod load;
pub mod metrics;
pub mod opportunities;
pub mod packages;
pub mod pii;
pub mod restore;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod schema;
pub mod score;
pub mod score_llm;
pub mod serve;
pub mod serve_schedule;
pub mod status;
pub mod token;
pub mod watch;

//! One module per command.

pub mod check;
pub mod compare;
pub mod cutover;
pub mod import;
pub mod load;
pub mod metrics;
pub mod runs;
pub mod schedule;
pub mod schema;
pub mod status;

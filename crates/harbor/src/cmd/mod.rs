//! One module per command.

pub mod load;
pub mod schema;
pub mod serve;
pub mod status;
pub mod token;

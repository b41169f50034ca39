//! One module per command.

pub mod load;
pub mod schema;
pub mod status;

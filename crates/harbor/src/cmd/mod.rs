//! One module per command.

pub mod backup;
pub mod export;
pub mod load;
pub mod restore;
pub mod schema;
pub mod status;

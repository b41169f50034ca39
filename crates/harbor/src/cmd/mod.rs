//! One module per command.

pub mod load;
pub mod opportunities;
pub mod pii;
pub mod schema;
pub mod score;
pub mod score_llm;
pub mod status;

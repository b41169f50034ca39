//! The normalizer: JSON records in, typed rows per table out.
//!
//! Two phases, so the expensive part runs in parallel and the schema stays deterministic:
//! [`FlatChunk`] (parallel, no schema access) flattens records into cells keyed by raw paths;
//! [`resolve`] (sequential, in input order) names and types the columns against the [`crate::Schema`].

mod flatten;
mod resolve;
mod shape;

pub use flatten::{FlatChunk, FlatColumn, FlatTable, FlattenOptions, Reject, SourceRef, hash_id};
pub use resolve::{ResolveOptions, ResolveStats, ResolvedTable, resolve};
pub use shape::{Routing, detect_table};

/// Everything the normalizer needs to know, for both phases.
#[derive(Debug, Clone, Default)]
pub struct NormalizeOptions {
    /// Phase one: nesting depth, primary keys.
    pub flatten: FlattenOptions,
    /// Where bare objects go.
    pub routing: Routing,
    /// Phase two: contracts, identifier length, dispositions.
    pub resolve: ResolveOptions,
}

impl NormalizeOptions {
    /// Flattens a batch of parsed records (phase one).
    pub fn flatten<I>(&self, records: I) -> FlatChunk
    where
        I: IntoIterator<Item = (serde_json::Value, SourceRef)>,
    {
        let mut chunk = FlatChunk::default();
        for (value, source) in records {
            chunk.add_record(value, source, &self.routing, &self.flatten);
        }
        chunk
    }
}

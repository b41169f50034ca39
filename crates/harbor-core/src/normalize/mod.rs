//! The normalizer: JSON records in, typed rows per table out.
//!
//! Two phases, so the expensive part runs in parallel and the schema stays deterministic:
//! [`FlatChunk`] (parallel, no schema access) flattens records into cells keyed by raw paths;
//! [`resolve`] (sequential, in input order) names and types the columns against the [`crate::Schema`].

mod budget;
mod flatten;
mod resolve;
mod shape;
mod wide;

pub use flatten::{FlatChunk, FlatColumn, FlatTable, FlattenOptions, Reject, SourceRef, hash_id};
pub use resolve::{ResolveOptions, ResolveStats, ResolvedTable, resolve};
pub use shape::{Routing, detect_table};
pub use wide::{ColumnBudget, ID_KEY_SHARE_PERCENT, MIN_ID_KEYS, is_id_keyed, looks_like_id};

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
    /// These options with the object paths `schema` already keeps as one JSON column, so phase one
    /// keeps them as JSON from the first record of a load on (instead of flattening them and
    /// leaving phase two to fold them back). Call once per load, before flattening.
    pub fn with_schema(&self, schema: &crate::Schema) -> NormalizeOptions {
        let mut out = self.clone();
        out.flatten.json_paths.clear();
        for (raw_table, name) in schema.table_names.iter() {
            if let Some(t) = schema.tables.get(name)
                && !t.json_paths.is_empty()
            {
                let keys = t.json_paths.keys().cloned().collect();
                out.flatten
                    .json_paths
                    .insert(raw_table.to_owned(), std::sync::Arc::new(keys));
            }
        }
        out
    }

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

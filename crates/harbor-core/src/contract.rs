//! Schema contracts: what happens when data would add a table, a column, or a variant column.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to do with data that would change the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractMode {
    /// Change the schema (the default).
    #[default]
    Evolve,
    /// Refuse: the load fails with an error naming the table and column.
    Freeze,
    /// Drop the whole row (and its child rows), counted as discarded.
    DiscardRow,
    /// Drop the offending value only, counted as discarded.
    DiscardValue,
}

impl ContractMode {
    /// Parses `evolve`, `freeze`, `discard_row` or `discard_value`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "evolve" => Some(Self::Evolve),
            "freeze" => Some(Self::Freeze),
            "discard_row" => Some(Self::DiscardRow),
            "discard_value" => Some(Self::DiscardValue),
            _ => None,
        }
    }
}

/// The contract for one table: new tables, new columns, and new data types (variant columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaContract {
    /// A table that does not exist yet.
    pub tables: ContractMode,
    /// A column that does not exist yet.
    pub columns: ContractMode,
    /// A value whose type conflicts with its column (a variant column would be needed).
    pub data_type: ContractMode,
}

impl SchemaContract {
    /// The same mode for tables, columns and data types.
    pub fn all(mode: ContractMode) -> Self {
        Self {
            tables: mode,
            columns: mode,
            data_type: mode,
        }
    }
}

/// The pipeline-wide contract plus per-table overrides (a child table uses its root table's entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contracts {
    /// The default for every table.
    pub default: SchemaContract,
    /// Overrides by root table name.
    pub tables: BTreeMap<String, SchemaContract>,
}

impl Contracts {
    /// The contract that applies to a table with the given root table.
    pub fn for_root(&self, root: &str) -> SchemaContract {
        self.tables.get(root).copied().unwrap_or(self.default)
    }
}

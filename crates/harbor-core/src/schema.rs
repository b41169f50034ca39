//! The pipeline schema: tables, columns, their types, and how one schema version differs from another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::naming::NameMap;
use crate::types::DataType;

/// Name of the system column holding a row's deterministic id.
pub const C_ID: &str = "_harbor_id";
/// Name of the system column holding the load package id that wrote the row.
pub const C_LOAD_ID: &str = "_harbor_load_id";
/// Name of the system column linking a child row to its parent row's `_harbor_id`.
pub const C_PARENT_ID: &str = "_harbor_parent_id";
/// Name of the system column linking a child row to its root row's `_harbor_id`.
pub const C_ROOT_ID: &str = "_harbor_root_id";
/// Name of the system column holding a child row's position in its list.
pub const C_LIST_IDX: &str = "_harbor_list_idx";
/// Name of the system column of root tables holding a hash of the raw input record the row came
/// from (xxh3-128, hex), when the input was a line of text. A later load skips records whose hash
/// is already stored: an identical record cannot change a merged row.
pub const C_CONTENT_HASH: &str = "_harbor_content_hash";
/// Name of the JSON column holding, per row, the values that got no column of their own because the
/// table reached its column budget (`{"path": {"to": value}}`, nested as in the input).
pub const C_OVERFLOW: &str = "_harbor_overflow";

/// The default column budget of a table: every column counts (system, data and variant columns),
/// and a table never gets more. The bound that matters is Postgres' row, not its 1,600 columns: a
/// row must fit one 8 KB page after TOAST, and TOAST can shrink a value to an 18-byte pointer at
/// best, so 1,000 short texts (9 bytes each) already fail ("row is too big"). 400 columns of 18
/// bytes, the row header and the null bitmap fit in 8,160 bytes whatever the values are, and leave
/// room for real Reddit tables (submissions have about 160 columns over 2020-2022 dumps).
pub const DEFAULT_MAX_COLUMNS: usize = 400;

/// Why an object is stored as one JSON column instead of one column per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonReason {
    /// Its keys look like ids (Reddit base36 ids, `t3_` fullnames, numbers, UUIDs, hex hashes):
    /// the keys are data, and every record would add new columns.
    IdKeys,
    /// It alone has more leaf values than the table's column budget.
    Wide,
}

impl JsonReason {
    /// The phrase used in load summaries and `harbor schema`.
    pub fn describe(self) -> &'static str {
        match self {
            JsonReason::IdKeys => "keys look like ids",
            JsonReason::Wide => "more keys than the column budget",
        }
    }
}

/// An object path of a table that is stored as one JSON column, for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonPath {
    /// The column that holds it.
    pub column: String,
    /// Why.
    pub reason: JsonReason,
}

/// How rows are written to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum WriteDisposition {
    /// Upsert on the primary key: a row with a known key replaces the stored one.
    #[default]
    Merge,
    /// Add every row.
    Append,
    /// Replace the table's content with this load's rows.
    Replace,
}

impl WriteDisposition {
    /// Parses `merge`, `append` or `replace`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "merge" => Some(Self::Merge),
            "append" => Some(Self::Append),
            "replace" => Some(Self::Replace),
            _ => None,
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Append => "append",
            Self::Replace => "replace",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Normalized column name.
    pub name: String,
    /// Logical type.
    pub data_type: DataType,
    /// The column was created from null values only; its type becomes the first real value's type.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub placeholder: bool,
    /// For a variant column (`score__v_text`), the column whose values conflicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_of: Option<String>,
    /// A `_harbor_*` column written by the pipeline itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
}

/// One table of the schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Normalized table name.
    pub name: String,
    /// Parent table for child tables made from lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Root table (equal to `name` for root tables).
    pub root: String,
    /// Primary key column of a root table, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
    /// How rows are written.
    pub disposition: WriteDisposition,
    /// Columns in creation order.
    pub columns: Vec<Column>,
    /// Raw flattened path -> column name.
    pub names: NameMap,
    /// Raw object paths stored as one JSON column (see [`JsonReason`]). Once a path is here, every
    /// later value under it goes to that column, in every load.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub json_paths: BTreeMap<String, JsonPath>,
}

impl TableSchema {
    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether this is a child table.
    pub fn is_child(&self) -> bool {
        self.parent.is_some()
    }
}

/// All tables of one pipeline, with a version that grows with every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Incremented whenever a table or column is added or a column retyped.
    pub version: u64,
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
    /// Raw table path -> table name.
    pub table_names: NameMap,
}

/// One change between two schema versions, in the order a destination must apply it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SchemaChange {
    /// A new table with all its columns.
    CreateTable(TableSchema),
    /// A new column in an existing table.
    AddColumn {
        /// Table name.
        table: String,
        /// The column.
        column: Column,
    },
    /// A placeholder column (only nulls so far) gets its real type.
    RetypeColumn {
        /// Table name.
        table: String,
        /// The column, with its new type.
        column: Column,
    },
}

impl Schema {
    /// Rebuilds the name indexes after deserialization.
    pub fn reindex(&mut self) {
        self.table_names.reindex();
        for t in self.tables.values_mut() {
            t.names.reindex();
        }
    }

    /// Parses a schema from its JSON form.
    pub fn from_json(json: &str) -> serde_json::Result<Schema> {
        let mut s: Schema = serde_json::from_str(json)?;
        s.reindex();
        Ok(s)
    }

    /// Serializes the schema to JSON.
    pub fn to_json(&self) -> String {
        // Serialization of plain maps and strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The changes that turn `old` into `self`, parents before children.
    pub fn diff_from(&self, old: &Schema) -> Vec<SchemaChange> {
        let mut tables: Vec<&TableSchema> = self.tables.values().collect();
        // Parents before children: sort by nesting depth, then name.
        tables.sort_by_key(|t| (t.name.matches("__").count(), t.name.clone()));
        let mut changes = Vec::new();
        for t in tables {
            match old.tables.get(&t.name) {
                None => changes.push(SchemaChange::CreateTable(t.clone())),
                Some(o) => {
                    for c in &t.columns {
                        match o.column(&c.name) {
                            None => changes.push(SchemaChange::AddColumn {
                                table: t.name.clone(),
                                column: c.clone(),
                            }),
                            Some(oc) if oc.data_type != c.data_type => {
                                changes.push(SchemaChange::RetypeColumn {
                                    table: t.name.clone(),
                                    column: c.clone(),
                                })
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
        }
        changes
    }

    /// Merges `other` into `self`: adds what is missing, never removes or narrows. Used when a stored
    /// schema and a package schema meet.
    pub fn merge(&mut self, other: &Schema) {
        for (name, t) in &other.tables {
            match self.tables.get_mut(name) {
                None => {
                    self.tables.insert(name.clone(), t.clone());
                }
                Some(mine) => {
                    for c in &t.columns {
                        match mine.columns.iter_mut().find(|m| m.name == c.name) {
                            None => mine.columns.push(c.clone()),
                            Some(m) if m.placeholder && !c.placeholder => *m = c.clone(),
                            Some(_) => {}
                        }
                    }
                    let mut names = mine.names.clone();
                    for (raw, n) in t.names_iter() {
                        names.assign(raw, n, usize::MAX);
                    }
                    mine.names = names;
                    for (raw, p) in &t.json_paths {
                        mine.json_paths.entry(raw.clone()).or_insert_with(|| p.clone());
                    }
                }
            }
        }
        for (raw, n) in other.table_names_iter() {
            self.table_names.assign(raw, n, usize::MAX);
        }
        self.version = self.version.max(other.version);
    }

    fn table_names_iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.table_names.iter()
    }
}

impl TableSchema {
    fn names_iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter()
    }
}

//! Phase one of normalization: JSON objects to per-table, per-column cells, with no schema access.
//!
//! This phase runs in parallel on independent chunks of input. Columns are keyed by their raw path
//! (the original JSON keys); names and types are decided in phase two ([`super::resolve`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::wide::{self, ColumnBudget};
use crate::registry;
use crate::schema::{C_OVERFLOW, JsonReason};
use crate::types::{Cell, DataType};

/// Separator between raw path segments in a column's raw key. Never appears in JSON keys we accept.
pub(crate) const RAW_SEP: char = '\u{1f}';

/// Where a record came from: file index (as given by the caller) and 1-based line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceRef {
    /// Index of the input file in the caller's list.
    pub file: u32,
    /// 1-based line number (1 for whole-document inputs).
    pub line: u64,
}

/// A record that could not be turned into rows, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Where it came from.
    pub source: SourceRef,
    /// Why it was rejected.
    pub reason: String,
}

/// One column of a [`FlatTable`]: its raw path and the non-null cells seen, by row.
#[derive(Debug, Clone)]
pub struct FlatColumn {
    /// Raw path segments relative to the table.
    pub segments: Vec<String>,
    /// Type from the Reddit field registry, if this is a known top-level field.
    pub registry: Option<DataType>,
    /// `(row, value)` for every non-null value.
    pub cells: Vec<(u32, Cell)>,
}

impl FlatColumn {
    pub(crate) fn raw_key(&self) -> String {
        let mut s = String::new();
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                s.push(RAW_SEP);
            }
            s.push_str(seg);
        }
        s
    }
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: HashMap<Box<str>, u32>,
    segments: Vec<String>,
    registry: Option<DataType>,
    column: Option<u32>,
    child_table: Option<u32>,
    /// Objects at this path are kept as one JSON column.
    json: bool,
}

/// Rows of one table (root or child) within a chunk.
#[derive(Debug, Clone, Default)]
pub struct FlatTable {
    /// Raw path: `["submissions"]`, `["submissions", "all_awardings"]`.
    pub path: Vec<String>,
    /// Index of the parent table in the chunk.
    pub parent: Option<u32>,
    /// Columns in first-seen order.
    pub columns: Vec<FlatColumn>,
    /// `_harbor_id` per row.
    pub ids: Vec<String>,
    /// Parent row index per row (child tables only).
    pub parent_rows: Vec<u32>,
    /// `_harbor_parent_id` per row (child tables only).
    pub parent_ids: Vec<String>,
    /// `_harbor_root_id` per row (child tables only).
    pub root_ids: Vec<String>,
    /// `_harbor_list_idx` per row (child tables only).
    pub list_idx: Vec<i64>,
    /// Source of each row (root tables only).
    pub sources: Vec<SourceRef>,
    /// Object paths (relative to the table) this chunk decided to keep as one JSON column, with why.
    pub json_paths: Vec<(Vec<String>, JsonReason)>,
    /// Object paths already kept as JSON before this load (raw keys), from the schema.
    known_json: Option<Arc<HashSet<String>>>,
    nodes: Vec<Node>,
}

impl FlatTable {
    fn new(path: Vec<String>, parent: Option<u32>, opts: &FlattenOptions) -> Self {
        let known_json = opts.json_paths.get(&path.join(&RAW_SEP.to_string())).cloned();
        Self {
            path,
            parent,
            known_json,
            nodes: vec![Node::default()],
            ..Default::default()
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The raw root table name.
    pub fn root(&self) -> &str {
        &self.path[0]
    }
}

/// Options of phase one.
#[derive(Debug, Clone)]
pub struct FlattenOptions {
    /// Objects and lists nested deeper than this are kept as one JSON column.
    pub max_nesting: usize,
    /// Root tables with a primary key (raw table name -> key field). Rows missing the key are rejected.
    pub primary_keys: HashMap<String, String>,
    /// Which `harbor`-computed Reddit fields apply (`edited` -> `is_edited`/`edited_at`).
    pub reddit_fields: bool,
    /// Column budget per table: an object with more leaves than its table's budget is kept as one
    /// JSON column.
    pub budget: ColumnBudget,
    /// Object paths the schema already keeps as JSON: raw table path (segments joined by `\u{1f}`)
    /// -> raw column keys. Filled from the schema at the start of a load
    /// ([`super::NormalizeOptions::with_schema`]).
    pub json_paths: HashMap<String, Arc<HashSet<String>>>,
}

impl Default for FlattenOptions {
    fn default() -> Self {
        let primary_keys = ["submissions", "comments", "redditors", "subreddits", "messages"]
            .into_iter()
            .map(|t| (t.to_owned(), "id".to_owned()))
            .collect();
        Self {
            max_nesting: 6,
            primary_keys,
            reddit_fields: true,
            budget: ColumnBudget::default(),
            json_paths: HashMap::new(),
        }
    }
}

/// The output of phase one for a chunk of records.
#[derive(Debug, Default)]
pub struct FlatChunk {
    /// Tables, parents before children.
    pub tables: Vec<FlatTable>,
    /// Records that produced no rows, with reasons.
    pub rejects: Vec<Reject>,
    /// `more` stubs (unloaded comment ids) seen and skipped.
    pub more_stubs: u64,
    roots: HashMap<String, u32>,
}

impl FlatChunk {
    /// Adds one root object (a thing's `data`, or a bare dump line) to the table `table`.
    pub fn add_root(
        &mut self,
        table: &str,
        mut data: Map<String, Value>,
        source: SourceRef,
        opts: &FlattenOptions,
    ) {
        let t = match self.roots.get(table) {
            Some(&t) => t,
            None => {
                let t = self.tables.len() as u32;
                self.tables
                    .push(FlatTable::new(vec![table.to_owned()], None, opts));
                self.roots.insert(table.to_owned(), t);
                t
            }
        };
        let id = match opts.primary_keys.get(table) {
            Some(pk) => match data.get(pk) {
                Some(Value::String(s)) if !s.is_empty() => hash_id(&[table, s]),
                Some(Value::Number(n)) => hash_id(&[table, &n.to_string()]),
                _ => {
                    self.rejects.push(Reject {
                        source,
                        reason: format!("a `{table}` record has no primary key `{pk}`"),
                    });
                    return;
                }
            },
            None => hash_id(&[table, &Value::Object(data.clone()).to_string()]),
        };
        let edited = if opts.reddit_fields {
            data.remove("edited")
        } else {
            None
        };
        let row = self.tables[t as usize].ids.len() as u32;
        {
            let tab = &mut self.tables[t as usize];
            tab.ids.push(id);
            tab.sources.push(source);
        }
        if let Some(e) = edited {
            self.add_edited(t, row, e, opts);
        }
        self.flatten_row(t, row, data, 0, opts);
    }

    /// Flattens the object of one table row. A row object keyed by ids keeps its id keys in the
    /// table's overflow column.
    fn flatten_row(
        &mut self,
        t: u32,
        row: u32,
        mut data: Map<String, Value>,
        depth: usize,
        opts: &FlattenOptions,
    ) {
        if wide::is_id_keyed(&data) {
            let root = self.tables[t as usize].root().to_owned();
            let ids = wide::split_id_keys(&mut data, &opts.primary_keys, &root);
            let n = self.child_node(t, 0, C_OVERFLOW);
            self.mark_json(t, n, JsonReason::IdKeys);
            self.push(t, n, row, Cell::Json(Value::Object(ids).to_string()));
        }
        self.flatten_object(t, row, 0, data, depth, opts);
    }

    /// Records (once per chunk) that objects at `node` are kept as one JSON column.
    fn mark_json(&mut self, t: u32, node: u32, reason: JsonReason) {
        let tab = &mut self.tables[t as usize];
        let n = &mut tab.nodes[node as usize];
        if !n.json {
            n.json = true;
            tab.json_paths.push((n.segments.clone(), reason));
        }
    }

    /// `edited` is `false`, `true`, or epoch seconds (float, int, or numeric string in old dumps):
    /// it becomes `is_edited` and `edited_at` (null unless a time is known). Other values are kept
    /// under `edited`.
    fn add_edited(&mut self, t: u32, row: u32, e: Value, opts: &FlattenOptions) {
        let secs = match &e {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let (is_edited, at) = match (&e, secs) {
            (Value::Bool(b), _) => (Some(*b), None),
            (_, Some(s)) if s > 0.0 => (Some(true), Some(s)),
            (_, Some(_)) => (Some(false), None),
            (Value::Null, _) => (None, None),
            _ => {
                let mut m = Map::new();
                m.insert("edited".to_owned(), e);
                self.flatten_object(t, row, 0, m, 0, opts);
                return;
            }
        };
        let n = self.child_node(t, 0, "is_edited");
        match is_edited {
            Some(b) => self.push(t, n, row, Cell::Bool(b)),
            None => self.touch(t, n),
        }
        let n = self.child_node(t, 0, "edited_at");
        match at {
            Some(s) => self.push(t, n, row, Cell::Float(s)),
            None => self.touch(t, n),
        }
    }

    fn child_node(&mut self, t: u32, node: u32, key: &str) -> u32 {
        let tab = &mut self.tables[t as usize];
        if let Some(&c) = tab.nodes[node as usize].children.get(key) {
            return c;
        }
        let mut segments = tab.nodes[node as usize].segments.clone();
        segments.push(key.to_owned());
        let registry = if node == 0 && tab.parent.is_none() {
            registry::field_type(&tab.path[0], key)
        } else {
            None
        };
        let json = tab
            .known_json
            .as_ref()
            .is_some_and(|k| k.contains(&segments.join(&RAW_SEP.to_string())));
        let c = tab.nodes.len() as u32;
        tab.nodes.push(Node {
            segments,
            registry,
            json,
            ..Default::default()
        });
        tab.nodes[node as usize].children.insert(key.into(), c);
        c
    }

    fn column_of(&mut self, t: u32, node: u32) -> u32 {
        let tab = &mut self.tables[t as usize];
        if let Some(c) = tab.nodes[node as usize].column {
            return c;
        }
        let n = &tab.nodes[node as usize];
        let c = tab.columns.len() as u32;
        tab.columns.push(FlatColumn {
            segments: n.segments.clone(),
            registry: n.registry,
            cells: Vec::new(),
        });
        tab.nodes[node as usize].column = Some(c);
        c
    }

    /// Makes sure the column exists even though this value is null.
    fn touch(&mut self, t: u32, node: u32) {
        self.column_of(t, node);
    }

    fn push(&mut self, t: u32, node: u32, row: u32, cell: Cell) {
        let c = self.column_of(t, node);
        self.tables[t as usize].columns[c as usize]
            .cells
            .push((row, cell));
    }

    fn flatten_object(
        &mut self,
        t: u32,
        row: u32,
        node: u32,
        obj: Map<String, Value>,
        depth: usize,
        opts: &FlattenOptions,
    ) {
        for (k, v) in obj {
            let child = self.child_node(t, node, &k);
            self.flatten_value(t, row, child, v, depth, opts);
        }
    }

    fn flatten_value(&mut self, t: u32, row: u32, node: u32, v: Value, depth: usize, opts: &FlattenOptions) {
        let registry = self.tables[t as usize].nodes[node as usize].registry;
        match v {
            Value::Null => self.touch(t, node),
            Value::Bool(b) => self.push(t, node, row, Cell::Bool(b)),
            Value::Number(n) => self.push(t, node, row, number_cell(&n)),
            Value::String(s) => {
                let cell = match registry {
                    Some(DataType::Bigint | DataType::Double | DataType::Timestamp) => numeric_string(&s)
                        .map(|n| number_cell(&n))
                        .unwrap_or(Cell::Text(s)),
                    Some(DataType::Json) => Cell::Json(Value::String(s).to_string()),
                    _ => Cell::Text(s),
                };
                self.push(t, node, row, cell)
            }
            v @ (Value::Object(_) | Value::Array(_))
                if registry == Some(DataType::Json) || depth >= opts.max_nesting =>
            {
                self.push(t, node, row, Cell::Json(v.to_string()))
            }
            Value::Object(m) => {
                if let Some(reason) = self.json_reason(t, node, &m, opts) {
                    self.mark_json(t, node, reason);
                }
                if self.tables[t as usize].nodes[node as usize].json {
                    self.push(t, node, row, Cell::Json(Value::Object(m).to_string()))
                } else {
                    self.flatten_object(t, row, node, m, depth + 1, opts)
                }
            }
            Value::Array(items) => self.flatten_list(t, row, node, items, depth + 1, opts),
        }
    }

    /// Why an object at `node` should be one JSON column, if it should and is not yet known to be.
    fn json_reason(
        &self,
        t: u32,
        node: u32,
        m: &Map<String, Value>,
        opts: &FlattenOptions,
    ) -> Option<JsonReason> {
        let tab = &self.tables[t as usize];
        let n = &tab.nodes[node as usize];
        if n.json {
            return None;
        }
        if wide::is_id_keyed(m) {
            return Some(JsonReason::IdKeys);
        }
        // Only the outermost object of a row can be the first one past the budget: an object
        // inside a narrower one is narrower still.
        let budget = opts.budget.for_root(tab.root());
        (m.len() > budget || (n.segments.len() == 1 && wide::wider_than(m, budget)))
            .then_some(JsonReason::Wide)
    }

    fn flatten_list(
        &mut self,
        t: u32,
        row: u32,
        node: u32,
        items: Vec<Value>,
        depth: usize,
        opts: &FlattenOptions,
    ) {
        let ct = match self.tables[t as usize].nodes[node as usize].child_table {
            Some(ct) => ct,
            None => {
                let parent = &self.tables[t as usize];
                let mut path = parent.path.clone();
                path.extend(parent.nodes[node as usize].segments.iter().cloned());
                let ct = self.tables.len() as u32;
                self.tables.push(FlatTable::new(path, Some(t), opts));
                self.tables[t as usize].nodes[node as usize].child_table = Some(ct);
                ct
            }
        };
        let parent_id = self.tables[t as usize].ids[row as usize].clone();
        let root_id = match self.tables[t as usize].parent {
            None => parent_id.clone(),
            Some(_) => self.tables[t as usize].root_ids[row as usize].clone(),
        };
        let table_key = self.tables[ct as usize].path.join("\u{1f}");
        for (i, item) in items.into_iter().enumerate() {
            let crow = {
                let tab = &mut self.tables[ct as usize];
                let crow = tab.ids.len() as u32;
                tab.ids.push(hash_id(&[&parent_id, &table_key, &i.to_string()]));
                tab.parent_rows.push(row);
                tab.parent_ids.push(parent_id.clone());
                tab.root_ids.push(root_id.clone());
                tab.list_idx.push(i as i64);
                crow
            };
            match item {
                Value::Object(m) => self.flatten_row(ct, crow, m, depth, opts),
                Value::Array(_) => {
                    let n = self.child_node(ct, 0, "value");
                    self.push(ct, n, crow, Cell::Json(item.to_string()));
                }
                scalar => {
                    let n = self.child_node(ct, 0, "value");
                    self.flatten_value(ct, crow, n, scalar, depth, opts);
                }
            }
        }
    }
}

fn number_cell(n: &serde_json::Number) -> Cell {
    match n.as_i64() {
        Some(i) => Cell::Int(i),
        None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

fn numeric_string(s: &str) -> Option<serde_json::Number> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(i.into());
    }
    t.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
}

/// A deterministic 128-bit id (32 hex characters) from its parts.
pub fn hash_id(parts: &[&str]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    format!("{:032x}", h.digest128())
}

//! Phase two of normalization: resolves a [`FlatChunk`] against the pipeline [`Schema`].
//!
//! Runs sequentially, chunk after chunk in input order, so names and column order are deterministic.
//! Decides table and column names, column types (registry first, then the first value seen), routes
//! conflicting values to variant columns, and applies the schema contracts.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::budget::{
    RowObjects, fold_json_paths, has_room, mark_json_path, note_overflow, overflow_column, overflow_insert,
    settle_json_paths,
};
use super::flatten::{FlatChunk, FlatColumn, RAW_SEP};
use super::wide::ColumnBudget;
use crate::contract::{ContractMode, Contracts};
use crate::error::{Error, Result};
use crate::naming::{join_path, name_segment};
use crate::registry;
use crate::schema::{
    C_CONTENT_HASH, C_ID, C_LIST_IDX, C_LOAD_ID, C_OVERFLOW, C_PARENT_ID, C_ROOT_ID, Column, JsonReason,
    Schema, TableSchema, WriteDisposition,
};
use crate::types::{Cell, DataType};

/// Options of phase two.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// Contracts per root table.
    pub contracts: Contracts,
    /// Longest identifier the destination accepts.
    pub max_identifier_len: usize,
    /// Disposition and primary key per raw root table name; tables not listed use the Reddit
    /// defaults (merge on `id`) or append.
    pub tables: BTreeMap<String, (WriteDisposition, Option<String>)>,
    /// Most columns per table; values that would need more go to the table's overflow column.
    pub budget: ColumnBudget,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            contracts: Contracts::default(),
            max_identifier_len: crate::naming::DEFAULT_MAX_IDENTIFIER_LEN,
            tables: BTreeMap::new(),
            budget: ColumnBudget::default(),
        }
    }
}

/// Rows of one table, column-major, ready to be written as a job file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedTable {
    /// Table name.
    pub name: String,
    /// Columns present in this chunk (a subset of the table's columns).
    pub columns: Vec<Column>,
    /// One vector per column, each `rows` long.
    pub values: Vec<Vec<Cell>>,
    /// Number of rows.
    pub rows: usize,
}

/// Counts of what resolution did, for the run summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolveStats {
    /// Columns created, as `table.column`.
    pub new_columns: Vec<String>,
    /// Tables created.
    pub new_tables: Vec<String>,
    /// Rows dropped by `discard_row` contracts.
    pub discarded_rows: u64,
    /// Values dropped by `discard_value` contracts.
    pub discarded_values: u64,
    /// Object paths that became one JSON column in this run: (table, column, why).
    pub json_columns: Vec<(String, String, JsonReason)>,
    /// Per table, the paths (`a.b.c`) whose values went to the overflow column because the table
    /// had reached its column budget.
    pub overflowed: BTreeMap<String, BTreeSet<String>>,
}

impl ResolveStats {
    /// One line per object kept as one JSON column and per table that reached its column budget,
    /// for run summaries: `submissions.votes kept as one JSON column: keys look like ids`.
    pub fn wide_notes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .json_columns
            .iter()
            .map(|(t, c, r)| format!("{t}.{c} kept as one JSON column: {}", r.describe()))
            .collect();
        for (t, paths) in &self.overflowed {
            out.push(format!(
                "{t}: {} keys past the column budget kept in the JSON column {t}.{C_OVERFLOW}",
                paths.len()
            ));
        }
        out
    }
}

/// Where the cells of one flat column go.
#[derive(Debug, Clone, Copy)]
enum Target {
    Keep(usize),
    DropValue,
    DropRow,
    /// Over the column budget: into the row's overflow object.
    Overflow,
}

/// Where the routed cells of one table of a chunk are collected.
#[derive(Default)]
struct Sink {
    /// Cells per column index.
    routed: BTreeMap<usize, Vec<(u32, Cell)>>,
    /// Overflow object per row.
    overflow: RowObjects,
}

/// Resolves a chunk against `schema`, changing the schema as the contracts allow.
pub fn resolve(
    chunk: FlatChunk,
    schema: &mut Schema,
    opts: &ResolveOptions,
    load_id: &str,
    stats: &mut ResolveStats,
) -> Result<Vec<ResolvedTable>> {
    let mut names: Vec<String> = Vec::with_capacity(chunk.tables.len());
    let mut path_lens: Vec<usize> = Vec::with_capacity(chunk.tables.len());
    let mut dropped: Vec<Vec<bool>> = Vec::with_capacity(chunk.tables.len());
    let mut out = Vec::with_capacity(chunk.tables.len());
    for ft in chunk.tables {
        let rows = ft.len();
        let mut drop_row: Vec<bool> = match ft.parent {
            Some(p) => ft
                .parent_rows
                .iter()
                .map(|&r| dropped[p as usize][r as usize])
                .collect(),
            None => vec![false; rows],
        };
        let inherited = drop_row.iter().filter(|d| **d).count() as u64;
        let contract = opts.contracts.for_root(ft.root());
        let parent_name = ft.parent.map(|p| names[p as usize].clone());
        let parent_ref = ft
            .parent
            .map(|p| (names[p as usize].as_str(), path_lens[p as usize]));
        let name = table_name(schema, &ft.path, parent_ref, opts);
        path_lens.push(ft.path.len());
        if !schema.tables.contains_key(&name) {
            match contract.tables {
                ContractMode::Evolve => {
                    create_table(schema, &name, parent_name, ft.root(), opts);
                    stats.new_tables.push(name.clone());
                }
                ContractMode::Freeze => return Err(Error::FrozenTable { table: name }),
                ContractMode::DiscardRow | ContractMode::DiscardValue => {
                    stats.discarded_rows += rows as u64 - inherited;
                    names.push(name);
                    dropped.push(vec![true; rows]);
                    continue;
                }
            }
        }
        // Paths this chunk keeps as JSON join the schema before any cell is routed, so objects
        // of earlier records of the chunk that were flattened fold into the same column.
        for (segs, reason) in &ft.json_paths {
            mark_json_path(schema, &name, segs, *reason, opts, stats);
        }
        let mut sink = Sink::default();
        let budget = opts.budget.for_root(ft.root());
        let flat = fold_json_paths(&schema.tables[&name], ft.columns, &mut sink.overflow);
        for fc in flat {
            route_column(
                schema,
                &name,
                fc,
                (contract.columns, contract.data_type),
                budget,
                opts,
                stats,
                &mut drop_row,
                &mut sink,
            )?;
        }
        let mut routed = sink.routed;
        if !sink.overflow.is_empty() {
            let i = overflow_column(schema, &name);
            let cells = routed.entry(i).or_default();
            for (row, obj) in sink.overflow {
                cells.push((row, Cell::Json(Value::Object(obj).to_string())));
            }
        }
        settle_json_paths(schema, &name);
        stats.discarded_rows += drop_row.iter().filter(|d| **d).count() as u64 - inherited;

        let mut new_index = vec![u32::MAX; rows];
        let mut kept = 0usize;
        for (i, d) in drop_row.iter().enumerate() {
            if !*d {
                new_index[i] = kept as u32;
                kept += 1;
            }
        }
        let table = &schema.tables[&name];
        let keep = |i: usize| !drop_row[i];
        let texts = |v: &[String]| -> Vec<Cell> {
            v.iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, s)| Cell::Text(s.clone()))
                .collect()
        };
        let sys = |n: &str| {
            table
                .column(n)
                .cloned()
                .unwrap_or_else(|| system_column(n, DataType::Text))
        };
        let mut columns = vec![sys(C_ID), sys(C_LOAD_ID)];
        let mut values = vec![texts(&ft.ids), vec![Cell::Text(load_id.to_owned()); kept]];
        if ft.parent.is_some() {
            columns.extend([sys(C_PARENT_ID), sys(C_ROOT_ID), sys(C_LIST_IDX)]);
            values.push(texts(&ft.parent_ids));
            values.push(texts(&ft.root_ids));
            values.push(
                ft.list_idx
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, v)| Cell::Int(*v))
                    .collect(),
            );
        }
        for (col_idx, cells) in routed {
            let mut dense = vec![Cell::Null; kept];
            for (row, cell) in cells {
                let ni = new_index[row as usize];
                if ni != u32::MAX {
                    dense[ni as usize] = cell;
                }
            }
            columns.push(table.columns[col_idx].clone());
            values.push(dense);
        }
        if kept > 0 {
            out.push(ResolvedTable {
                name: name.clone(),
                columns,
                values,
                rows: kept,
            });
        }
        names.push(name);
        dropped.push(drop_row);
    }
    Ok(out)
}

fn table_name(
    schema: &mut Schema,
    path: &[String],
    parent: Option<(&str, usize)>,
    opts: &ResolveOptions,
) -> String {
    let raw = path.join(&RAW_SEP.to_string());
    if let Some(n) = schema.table_names.get(&raw) {
        return n.to_owned();
    }
    let candidate = match parent {
        None => crate::naming::normalize_segment(&path[0]),
        Some((parent_name, parent_len)) => {
            // The child's own segments are those past its parent's path.
            let mut segs = vec![parent_name.to_owned()];
            segs.extend(path[parent_len..].iter().map(|s| name_segment(s)));
            join_path(&segs, usize::MAX)
        }
    };
    schema
        .table_names
        .assign(&raw, &candidate, opts.max_identifier_len)
}

fn system_column(name: &str, data_type: DataType) -> Column {
    Column {
        name: name.to_owned(),
        data_type,
        placeholder: false,
        variant_of: None,
        system: true,
    }
}

pub(super) fn data_column(
    name: String,
    data_type: DataType,
    placeholder: bool,
    variant_of: Option<String>,
) -> Column {
    Column {
        name,
        data_type,
        placeholder,
        variant_of,
        system: false,
    }
}

fn create_table(
    schema: &mut Schema,
    name: &str,
    parent: Option<String>,
    raw_root: &str,
    opts: &ResolveOptions,
) {
    let root_name = match &parent {
        None => name.to_owned(),
        Some(p) => schema
            .tables
            .get(p)
            .map(|t| t.root.clone())
            .unwrap_or_else(|| p.clone()),
    };
    let (disposition, primary_key) = match opts.tables.get(raw_root) {
        Some((d, pk)) => (*d, pk.clone()),
        None if registry::is_reddit_table(raw_root) => (WriteDisposition::Merge, Some("id".to_owned())),
        None => (WriteDisposition::Append, None),
    };
    let mut table = TableSchema {
        name: name.to_owned(),
        parent: parent.clone(),
        root: root_name,
        primary_key: if parent.is_none() { primary_key } else { None },
        disposition,
        columns: Vec::new(),
        names: Default::default(),
        json_paths: BTreeMap::new(),
    };
    if parent.is_none() {
        for (field, t) in registry::fields(raw_root) {
            let n = table
                .names
                .assign(field, &name_segment(field), opts.max_identifier_len);
            table.columns.push(data_column(n, t, false, None));
        }
    }
    let mut sys = vec![(C_ID, DataType::Text), (C_LOAD_ID, DataType::Text)];
    if parent.is_some() {
        sys.extend([
            (C_PARENT_ID, DataType::Text),
            (C_ROOT_ID, DataType::Text),
            (C_LIST_IDX, DataType::Bigint),
        ]);
    } else {
        sys.push((C_CONTENT_HASH, DataType::Text));
    }
    for (n, t) in sys {
        table.names.reserve(n);
        table.columns.push(system_column(n, t));
    }
    schema.tables.insert(name.to_owned(), table);
    schema.version += 1;
}

/// Decides the column of every cell of one flat column, creating columns as the contract allows.
#[allow(clippy::too_many_arguments)]
fn route_column(
    schema: &mut Schema,
    table_name: &str,
    fc: FlatColumn,
    (columns_mode, types_mode): (ContractMode, ContractMode),
    budget: usize,
    opts: &ResolveOptions,
    stats: &mut ResolveStats,
    drop_row: &mut [bool],
    sink: &mut Sink,
) -> Result<()> {
    let raw = fc.raw_key();
    let table = schema.tables.get_mut(table_name).ok_or_else(|| Error::Package {
        path: Default::default(),
        message: format!("table `{table_name}` vanished from the schema"),
    })?;
    if raw == C_CONTENT_HASH && table.parent.is_none() && table.column(C_CONTENT_HASH).is_none() {
        // A root table created before content hashes existed gets the system column now.
        table.names.reserve(C_CONTENT_HASH);
        table.columns.push(system_column(C_CONTENT_HASH, DataType::Text));
        schema.version += 1;
    }
    let table = schema.tables.get_mut(table_name).ok_or_else(|| Error::Package {
        path: Default::default(),
        message: format!("table `{table_name}` vanished from the schema"),
    })?;
    let existing = table
        .names
        .get(&raw)
        .and_then(|n| table.columns.iter().position(|c| c.name == n));
    let first_type = fc
        .registry
        .or_else(|| fc.cells.iter().find_map(|(_, c)| c.natural_type()));
    let main = match existing {
        Some(i) => Target::Keep(i),
        None => {
            let candidate = column_candidate(&fc.segments);
            let shown = crate::naming::shorten(&candidate, opts.max_identifier_len);
            match columns_mode {
                ContractMode::Evolve if !has_room(table, budget) => Target::Overflow,
                ContractMode::Evolve => {
                    let n = table.names.assign(&raw, &candidate, opts.max_identifier_len);
                    let placeholder = first_type.is_none();
                    table.columns.push(data_column(
                        n.clone(),
                        first_type.unwrap_or(DataType::Text),
                        placeholder,
                        None,
                    ));
                    stats.new_columns.push(format!("{table_name}.{n}"));
                    schema.version += 1;
                    Target::Keep(schema.tables[table_name].columns.len() - 1)
                }
                ContractMode::Freeze => {
                    return Err(Error::FrozenColumn {
                        table: table_name.to_owned(),
                        column: shown,
                    });
                }
                ContractMode::DiscardRow => Target::DropRow,
                ContractMode::DiscardValue => Target::DropValue,
            }
        }
    };
    let main_idx = match main {
        Target::Keep(i) => i,
        Target::DropRow => {
            for (row, _) in &fc.cells {
                drop_row[*row as usize] = true;
            }
            return Ok(());
        }
        Target::DropValue => {
            stats.discarded_values += fc.cells.len() as u64;
            return Ok(());
        }
        Target::Overflow => {
            note_overflow(stats, table_name, &fc.segments);
            for (row, cell) in fc.cells {
                overflow_insert(sink.overflow.entry(row).or_default(), &fc.segments, cell);
            }
            return Ok(());
        }
    };
    let mut variants: BTreeMap<DataType, Target> = BTreeMap::new();
    for (row, cell) in fc.cells {
        let table = schema.tables.get_mut(table_name).ok_or_else(|| Error::Package {
            path: Default::default(),
            message: format!("table `{table_name}` vanished from the schema"),
        })?;
        let col = &mut table.columns[main_idx];
        if col.placeholder
            && let Some(t) = cell.natural_type()
        {
            col.placeholder = false;
            col.data_type = t;
            schema.version += 1;
        }
        let cell = match cell.coerce(table.columns[main_idx].data_type) {
            Ok(c) => {
                sink.routed.entry(main_idx).or_default().push((row, c));
                continue;
            }
            Err(c) => c,
        };
        let Some(vt) = cell.natural_type() else { continue };
        let target = match variants.get(&vt) {
            Some(t) => *t,
            None => {
                let t = variant_target(schema, table_name, &raw, main_idx, vt, (types_mode, budget), opts)?;
                if matches!(t, Target::Overflow) {
                    note_overflow(stats, table_name, &fc.segments);
                }
                variants.insert(vt, t);
                t
            }
        };
        match target {
            Target::Keep(i) => sink.routed.entry(i).or_default().push((row, cell)),
            Target::DropRow => drop_row[row as usize] = true,
            Target::DropValue => stats.discarded_values += 1,
            Target::Overflow => overflow_insert(sink.overflow.entry(row).or_default(), &fc.segments, cell),
        }
    }
    Ok(())
}

fn variant_target(
    schema: &mut Schema,
    table_name: &str,
    raw: &str,
    main_idx: usize,
    vt: DataType,
    (mode, budget): (ContractMode, usize),
    opts: &ResolveOptions,
) -> Result<Target> {
    let table = schema.tables.get_mut(table_name).ok_or_else(|| Error::Package {
        path: Default::default(),
        message: format!("table `{table_name}` vanished from the schema"),
    })?;
    let main = table.columns[main_idx].clone();
    let raw_variant = format!("{raw}{RAW_SEP}v_{}", vt.name());
    if let Some(i) = table
        .names
        .get(&raw_variant)
        .and_then(|n| table.columns.iter().position(|c| c.name == n))
    {
        return Ok(Target::Keep(i));
    }
    Ok(match mode {
        ContractMode::Evolve if !has_room(table, budget) => Target::Overflow,
        ContractMode::Evolve => {
            let candidate = format!("{}__v_{}", main.name, vt.name());
            let n = table
                .names
                .assign(&raw_variant, &candidate, opts.max_identifier_len);
            table
                .columns
                .push(data_column(n, vt, false, Some(main.name.clone())));
            let i = table.columns.len() - 1;
            schema.version += 1;
            Target::Keep(i)
        }
        ContractMode::Freeze => {
            return Err(Error::FrozenDataType {
                table: table_name.to_owned(),
                column: main.name,
                expected: main.data_type,
                found: vt,
            });
        }
        ContractMode::DiscardRow => Target::DropRow,
        ContractMode::DiscardValue => Target::DropValue,
    })
}

/// The snake_case name a column of these raw segments gets if nothing else holds it.
pub(super) fn column_candidate(segments: &[String]) -> String {
    join_path(
        &segments.iter().map(|s| name_segment(s)).collect::<Vec<_>>(),
        usize::MAX,
    )
}

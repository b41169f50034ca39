//! DDL for data tables and the `_harbor_*` system tables.

use harbor_core::{Column, DataType, SchemaChange, TableSchema};

/// The DuckDB type of a logical type. Timestamps are UTC.
pub fn duck_type(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "BOOLEAN",
        DataType::Bigint => "BIGINT",
        DataType::Double => "DOUBLE",
        DataType::Text => "VARCHAR",
        DataType::Timestamp => "TIMESTAMP",
        DataType::Json => "JSON",
    }
}

/// Quotes an identifier.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Quotes a string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn column_def(c: &Column) -> String {
    let not_null = if c.name == harbor_core::schema::C_ID {
        " NOT NULL"
    } else {
        ""
    };
    format!("{} {}{not_null}", quote(&c.name), duck_type(c.data_type))
}

/// `CREATE TABLE` for a data table. No primary key constraint: the loader enforces key uniqueness
/// (merge deletes the keys it inserts), which keeps bulk loads free of index maintenance.
pub fn create_table_sql(t: &TableSchema) -> String {
    let cols: Vec<String> = t.columns.iter().map(column_def).collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n)",
        quote(&t.name),
        cols.join(",\n  ")
    )
}

/// The statements for one schema change.
///
/// A table that another pipeline created already (shards with a pipeline each sharing one
/// database) keeps its rows and gains the columns this pipeline's schema has and it lacks.
pub fn change_sql(change: &SchemaChange) -> String {
    match change {
        SchemaChange::CreateTable(t) => {
            let mut sql = create_table_sql(t);
            // `id` (NOT NULL) is in every table a pipeline creates.
            for c in t.columns.iter().filter(|c| c.name != harbor_core::schema::C_ID) {
                sql.push_str(&format!(
                    ";\nALTER TABLE {} ADD COLUMN IF NOT EXISTS {}",
                    quote(&t.name),
                    column_def(c)
                ));
            }
            sql
        }
        SchemaChange::AddColumn { table, column } => {
            format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}",
                quote(table),
                column_def(column)
            )
        }
        SchemaChange::RetypeColumn { table, column } => format!(
            "ALTER TABLE {} ALTER COLUMN {} SET DATA TYPE {}",
            quote(table),
            quote(&column.name),
            duck_type(column.data_type)
        ),
    }
}

/// Human-readable form of a change, for summaries.
pub fn describe_change(change: &SchemaChange) -> String {
    match change {
        SchemaChange::CreateTable(t) => format!("created table {} ({} columns)", t.name, t.columns.len()),
        SchemaChange::AddColumn { table, column } => {
            format!("added column {table}.{} {}", column.name, column.data_type)
        }
        SchemaChange::RetypeColumn { table, column } => {
            format!("typed column {table}.{} as {}", column.name, column.data_type)
        }
    }
}

/// The system tables. No constraints, so a delete and an insert of the same key can share a
/// transaction.
pub const SYSTEM_TABLES: &str = "
CREATE TABLE IF NOT EXISTS _harbor_loads (
  load_id VARCHAR NOT NULL,
  pipeline VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  inserted_at TIMESTAMP NOT NULL,
  rows BIGINT NOT NULL,
  schema_version BIGINT NOT NULL,
  source VARCHAR
);
CREATE TABLE IF NOT EXISTS _harbor_state (
  pipeline VARCHAR NOT NULL,
  key VARCHAR NOT NULL,
  value JSON,
  load_id VARCHAR NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS _harbor_schema (
  pipeline VARCHAR NOT NULL,
  version BIGINT NOT NULL,
  load_id VARCHAR NOT NULL,
  inserted_at TIMESTAMP NOT NULL,
  schema JSON NOT NULL
);
";

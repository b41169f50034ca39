//! DDL for data tables and the `_harbor_*` system tables, and the type mapping.
//!
//! | harbor type | Postgres type      | notes                                                    |
//! |-------------|--------------------|----------------------------------------------------------|
//! | bool        | `boolean`          |                                                          |
//! | bigint      | `bigint`           |                                                          |
//! | double      | `double precision` | bit-exact                                                |
//! | text        | `text`             | NUL characters are dropped (Postgres text cannot hold them) |
//! | timestamp   | `timestamptz`      | UTC instants, microseconds                               |
//! | json        | `json`             | the text is kept exactly as loaded; cast to `jsonb` to index |
//!
//! Root tables created by a merge load get a unique index on their primary key (needed by
//! `INSERT ... ON CONFLICT`); an append into such a table replaces it by a non-unique index, and merges
//! into a table without the unique index delete + insert by key instead; child tables get an index on `_harbor_root_id` (merge replaces the child
//! rows of every merged root).

use harbor_core::package::TablePlan;
use harbor_core::schema::{C_ID, C_ROOT_ID};
use harbor_core::{Column, DataType, SchemaChange, TableSchema, WriteDisposition};

/// The Postgres type of a logical type.
pub fn pg_type(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "boolean",
        DataType::Bigint => "bigint",
        DataType::Double => "double precision",
        DataType::Text => "text",
        DataType::Timestamp => "timestamptz",
        DataType::Json => "jsonb",
    }
}

/// The logical type of a Postgres type name (as `format_type` spells it).
pub fn from_pg_type(name: &str) -> Option<DataType> {
    Some(match name {
        "boolean" => DataType::Bool,
        "bigint" | "integer" | "smallint" => DataType::Bigint,
        "double precision" | "real" => DataType::Double,
        "text" | "character varying" => DataType::Text,
        "timestamp with time zone" | "timestamp without time zone" => DataType::Timestamp,
        "json" | "jsonb" => DataType::Json,
        _ => return None,
    })
}

/// Quotes an identifier.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Quotes a string literal (standard_conforming_strings, the default since Postgres 9.1).
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\0', "").replace('\'', "''"))
}

/// `"schema"."table"`.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

fn column_def(c: &Column) -> String {
    let not_null = if c.name == C_ID { " NOT NULL" } else { "" };
    format!("{} {}{not_null}", quote(&c.name), pg_type(c.data_type))
}

/// Name of the unique index on a merge table's primary key.
pub fn pk_index(table: &str) -> String {
    // Identifiers are at most 63 bytes; harbor names are shorter than that, the hash keeps it unique.
    format!("{}_hpk", &table[..table.len().min(50)])
}

/// Replaces the unique key index of a root table by a non-unique one on the same column (before an
/// append that may repeat keys).
pub fn relax_key_sql(schema: &str, table: &str, plan: &TablePlan) -> String {
    let key = plan.primary_key.as_deref().unwrap_or(C_ID);
    format!(
        "DROP INDEX {}; CREATE INDEX IF NOT EXISTS {} ON {} ({})",
        qualified(schema, &pk_index(table)),
        quote(&format!("{}_hkey", &table[..table.len().min(50)])),
        qualified(schema, table),
        quote(key)
    )
}

/// The columns a table that exists already lacks, added: the table was created by another
/// pipeline (shards with a pipeline each share the tables). Only what is missing, so a load into a
/// table that has every column takes no table lock beyond its inserts.
pub fn complete_table_sql(
    schema: &str,
    t: &TableSchema,
    existing: &std::collections::BTreeSet<String>,
) -> String {
    t.columns
        .iter()
        .filter(|c| !existing.contains(&c.name))
        .map(|c| {
            format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {};\n",
                qualified(schema, &t.name),
                column_def(c)
            )
        })
        .collect()
}

/// `CREATE TABLE` (and its indexes) for a data table.
pub fn create_table_sql(schema: &str, t: &TableSchema) -> String {
    let cols: Vec<String> = t.columns.iter().map(column_def).collect();
    let name = qualified(schema, &t.name);
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n  {}\n);",
        cols.join(",\n  ")
    );
    if t.parent.is_none()
        && t.disposition == WriteDisposition::Merge
        && let Some(pk) = &t.primary_key
    {
        sql.push_str(&format!(
            "\nCREATE UNIQUE INDEX IF NOT EXISTS {} ON {name} ({});",
            quote(&pk_index(&t.name)),
            quote(pk)
        ));
    }
    if t.parent.is_some() {
        sql.push_str(&format!(
            "\nCREATE INDEX IF NOT EXISTS {} ON {name} ({});",
            quote(&format!("{}_hroot", &t.name[..t.name.len().min(50)])),
            quote(C_ROOT_ID)
        ));
    }
    sql
}

/// The statements for one schema change.
pub fn change_sql(schema: &str, change: &SchemaChange) -> String {
    match change {
        SchemaChange::CreateTable(t) => create_table_sql(schema, t),
        SchemaChange::AddColumn { table, column } => format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}",
            qualified(schema, table),
            column_def(column)
        ),
        // Placeholder columns hold only NULLs, so any cast succeeds.
        SchemaChange::RetypeColumn { table, column } => format!(
            "ALTER TABLE {} ALTER COLUMN {c} TYPE {t} USING {c}::text::{t}",
            qualified(schema, table),
            c = quote(&column.name),
            t = pg_type(column.data_type)
        ),
    }
}

/// Human-readable form of a change, for summaries (same wording as the DuckDB destination).
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

/// The schema and system tables.
pub fn system_tables_sql(schema: &str) -> String {
    let s = quote(schema);
    format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}._harbor_loads (
  load_id text PRIMARY KEY,
  pipeline text NOT NULL,
  status text NOT NULL,
  inserted_at timestamptz NOT NULL,
  rows bigint NOT NULL,
  schema_version bigint NOT NULL,
  source text
);
CREATE TABLE IF NOT EXISTS {s}._harbor_state (
  pipeline text NOT NULL,
  key text NOT NULL,
  value json,
  load_id text NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (pipeline, key)
);
CREATE TABLE IF NOT EXISTS {s}._harbor_schema (
  pipeline text NOT NULL,
  version bigint NOT NULL,
  load_id text NOT NULL,
  inserted_at timestamptz NOT NULL,
  schema json NOT NULL
);"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_mapping_round_trips() {
        for t in DataType::ALL {
            let spelled = match pg_type(t) {
                "timestamptz" => "timestamp with time zone",
                other => other,
            };
            assert_eq!(from_pg_type(spelled), Some(t));
        }
    }

    #[test]
    fn literals_escape_quotes_and_drop_nul() {
        assert_eq!(literal("it's\0"), "'it''s'");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}

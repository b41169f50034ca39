//! The DuckDB destination.

use std::path::{Path, PathBuf};

use duckdb::{Connection, params};
use harbor_core::destination::{Destination, DestinationError, LoadRecord, LoadReport};
use harbor_core::package::{Job, Package, TablePlan};
use harbor_core::schema::{C_CONTENT_HASH, C_ID, C_ROOT_ID};
use harbor_core::state::PipelineState;
use harbor_core::{Schema, WriteDisposition};

use crate::ddl::{SYSTEM_TABLES, change_sql, describe_change, literal, quote};

/// Tunables of the DuckDB connection.
#[derive(Debug, Clone)]
pub struct DuckDbOptions {
    /// DuckDB worker threads (default: all cores).
    pub threads: Option<usize>,
    /// DuckDB memory limit, e.g. `"512MB"`.
    pub memory_limit: Option<String>,
}

impl Default for DuckDbOptions {
    fn default() -> Self {
        Self {
            threads: None,
            memory_limit: Some("1GB".to_owned()),
        }
    }
}

/// A DuckDB database file used as a destination.
pub struct DuckDbDestination {
    conn: Connection,
    path: PathBuf,
}

fn err(context: impl std::fmt::Display) -> impl FnOnce(duckdb::Error) -> DestinationError {
    let context = context.to_string();
    move |e| {
        let text = e.to_string();
        let mut d = DestinationError::new(format!("{context}: {text}"));
        if text.contains("Could not set lock") || text.contains("Conflicting lock") {
            d = d
                .hint("another process has this DuckDB file open; wait for it to finish or load into another file")
                .transient();
        }
        d.source(e)
    }
}

impl DuckDbDestination {
    /// Opens (creating if needed) a database file and its system tables.
    pub fn open(path: impl AsRef<Path>, opts: &DuckDbOptions) -> Result<Self, DestinationError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                DestinationError::new(format!(
                    "cannot create directory {} for the database",
                    dir.display()
                ))
                .hint("check the path and its permissions")
                .source(e)
            })?;
        }
        crate::create::create_if_missing(&path).map_err(|e| {
            DestinationError::new(format!("cannot create DuckDB database {}", path.display()))
                .hint("check that the directory is writable")
                .source(e)
        })?;
        let conn = Connection::open(&path)
            .map_err(err(format!("cannot open DuckDB database {}", path.display())))?;
        let mut setup = String::from("SET preserve_insertion_order = false;");
        if let Some(t) = opts.threads {
            setup.push_str(&format!("SET threads = {t};"));
        }
        if let Some(m) = &opts.memory_limit {
            setup.push_str(&format!("SET memory_limit = {};", literal(m)));
        }
        conn.execute_batch(&setup)
            .map_err(err("cannot configure DuckDB"))?;
        conn.execute_batch(SYSTEM_TABLES)
            .map_err(err(format!("cannot create system tables in {}", path.display())))?;
        Ok(Self { conn, path })
    }

    /// The underlying connection, for queries by other parts of harbor (status, export, API).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// A second handle on the same open database (shares its storage, cache and lock), for another
    /// thread of the same process: the API server queries while a background run loads.
    pub fn try_clone(&self) -> Result<Self, DestinationError> {
        let conn = self.conn.try_clone().map_err(err(format!(
            "cannot open another connection to {}",
            self.path.display()
        )))?;
        Ok(Self {
            conn,
            path: self.path.clone(),
        })
    }

    fn descendants(schema: &Schema, root: &str) -> Vec<String> {
        schema
            .tables
            .values()
            .filter(|t| t.root == root && t.name != root)
            .map(|t| t.name.clone())
            .collect()
    }
}

fn parquet_source(jobs: &[&Job]) -> String {
    let files: Vec<String> = jobs.iter().map(|j| literal(&j.path.to_string_lossy())).collect();
    format!(
        "read_parquet([{}], union_by_name = true, filename = true, file_row_number = true)",
        files.join(", ")
    )
}

impl Destination for DuckDbDestination {
    fn describe(&self) -> String {
        format!("duckdb://{}", self.path.display())
    }

    fn stored_schema(&mut self, pipeline: &str) -> Result<Schema, DestinationError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT schema::VARCHAR FROM _harbor_schema WHERE pipeline = ? ORDER BY version DESC LIMIT 1",
            )
            .map_err(err("cannot read _harbor_schema"))?;
        let mut rows = stmt
            .query(params![pipeline])
            .map_err(err("cannot read _harbor_schema"))?;
        match rows.next().map_err(err("cannot read _harbor_schema"))? {
            None => Ok(Schema::default()),
            Some(row) => {
                let json: String = row.get(0).map_err(err("cannot read _harbor_schema"))?;
                Schema::from_json(&json).map_err(|e| {
                    DestinationError::new(format!("stored schema of pipeline `{pipeline}` is invalid: {e}"))
                })
            }
        }
    }

    fn stored_state(&mut self, pipeline: &str) -> Result<PipelineState, DestinationError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value::VARCHAR FROM _harbor_state WHERE pipeline = ?")
            .map_err(err("cannot read _harbor_state"))?;
        let rows = stmt
            .query_map(params![pipeline], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(err("cannot read _harbor_state"))?;
        let mut state = PipelineState::default();
        for row in rows {
            let (k, v) = row.map_err(err("cannot read _harbor_state"))?;
            let value = v
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or(serde_json::Value::Null);
            state.set(k, value);
        }
        Ok(state)
    }

    fn is_loaded(&mut self, load_id: &str) -> Result<bool, DestinationError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM _harbor_loads WHERE load_id = ?",
                params![load_id],
                |r| r.get(0),
            )
            .map_err(err("cannot read _harbor_loads"))?;
        Ok(n > 0)
    }

    fn load(&mut self, package: &Package) -> Result<LoadReport, DestinationError> {
        let m = &package.manifest;
        if self.is_loaded(&m.load_id)? {
            return Ok(LoadReport {
                load_id: m.load_id.clone(),
                already_loaded: true,
                ..Default::default()
            });
        }
        let jobs = package
            .jobs(harbor_core::package::JobState::Started)
            .map_err(|e| DestinationError::new(format!("cannot list jobs of package {}: {e}", m.load_id)))?;
        let stored = self.stored_schema(&m.pipeline)?;
        let changes = m.schema.diff_from(&stored);
        let mut full = stored.clone();
        full.merge(&m.schema);
        let tx = self.conn.transaction().map_err(err("cannot begin transaction"))?;
        for c in &changes {
            tx.execute_batch(&change_sql(c))
                .map_err(err(format!("schema change failed ({})", describe_change(c))))?;
        }
        let mut report = LoadReport {
            load_id: m.load_id.clone(),
            schema_changes: changes.iter().map(describe_change).collect(),
            ..Default::default()
        };
        let mut roots = RootFacts::default();
        let mut total = 0u64;
        for plan in &m.tables {
            let table_jobs: Vec<&Job> = jobs.iter().filter(|j| j.table == plan.name).collect();
            if table_jobs.is_empty() {
                continue;
            }
            let rows = load_table(&tx, plan, &table_jobs, &full, &mut roots)?;
            total += rows;
            report.rows.push((plan.name.clone(), rows));
        }
        tx.execute(
            "INSERT INTO _harbor_loads VALUES (?, ?, 'completed', now()::TIMESTAMP, ?, ?, ?)",
            params![m.load_id, m.pipeline, total as i64, full.version as i64, m.source],
        )
        .map_err(err("cannot record the load in _harbor_loads"))?;
        for (key, value) in &m.state.values {
            tx.execute(
                "DELETE FROM _harbor_state WHERE pipeline = ? AND key = ?",
                params![m.pipeline, key],
            )
            .map_err(err("cannot write _harbor_state"))?;
            tx.execute(
                "INSERT INTO _harbor_state VALUES (?, ?, ?::JSON, ?, now()::TIMESTAMP)",
                params![m.pipeline, key, value.to_string(), m.load_id],
            )
            .map_err(err("cannot write _harbor_state"))?;
        }
        if !changes.is_empty() || stored.tables.is_empty() {
            tx.execute(
                "INSERT INTO _harbor_schema VALUES (?, ?, ?, now()::TIMESTAMP, ?::JSON)",
                params![m.pipeline, full.version as i64, m.load_id, full.to_json()],
            )
            .map_err(err("cannot write _harbor_schema"))?;
        }
        harbor_core::testhook::pause_point("commit");
        tx.commit()
            .map_err(err(format!("commit of load {} failed", m.load_id)))?;
        Ok(report)
    }

    fn loads(&mut self, pipeline: Option<&str>, limit: usize) -> Result<Vec<LoadRecord>, DestinationError> {
        let sql = format!(
            "SELECT load_id, pipeline, strftime(inserted_at, '%Y-%m-%dT%H:%M:%SZ'), rows, schema_version, \
             coalesce(source, '') FROM _harbor_loads WHERE ? IS NULL OR pipeline = ? \
             ORDER BY inserted_at DESC, load_id DESC LIMIT {limit}"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(err("cannot read _harbor_loads"))?;
        let rows = stmt
            .query_map(params![pipeline, pipeline], |r| {
                Ok(LoadRecord {
                    load_id: r.get(0)?,
                    pipeline: r.get(1)?,
                    inserted_at: r.get(2)?,
                    rows: r.get::<_, i64>(3)? as u64,
                    schema_version: r.get::<_, i64>(4)? as u64,
                    source: r.get(5)?,
                })
            })
            .map_err(err("cannot read _harbor_loads"))?;
        rows.collect::<Result<_, _>>()
            .map_err(err("cannot read _harbor_loads"))
    }

    fn content_hashes(
        &mut self,
        schema: &Schema,
    ) -> Result<std::collections::HashSet<u128>, DestinationError> {
        let mut out = std::collections::HashSet::new();
        for t in schema.tables.values() {
            if t.parent.is_some()
                || t.disposition != WriteDisposition::Merge
                || t.column(C_CONTENT_HASH).is_none()
            {
                continue;
            }
            let sql = format!(
                "SELECT {c} FROM {t} WHERE {c} IS NOT NULL",
                c = quote(C_CONTENT_HASH),
                t = quote(&t.name)
            );
            let what = format!("cannot read content hashes of `{}`", t.name);
            let mut stmt = self.conn.prepare(&sql).map_err(err(&what))?;
            let mut rows = stmt.query([]).map_err(err(&what))?;
            while let Some(row) = rows.next().map_err(err(&what))? {
                let hex: String = row.get(0).map_err(err(&what))?;
                if let Ok(h) = u128::from_str_radix(&hex, 16) {
                    out.insert(h);
                }
            }
        }
        Ok(out)
    }

    fn query_json(&mut self, sql: &str) -> Result<Vec<serde_json::Value>, DestinationError> {
        // DuckDB renders each row as one JSON object; the column types map to JSON types.
        let wrapped = format!("SELECT to_json(q)::VARCHAR FROM ({sql}) AS q");
        let ctx = || format!("query failed: {sql}");
        let mut stmt = self.conn.prepare(&wrapped).map_err(err(ctx()))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(err(ctx()))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(err(ctx()))?;
            let value = serde_json::from_str(&text).map_err(|e| {
                DestinationError::new(format!("query returned invalid JSON: {sql}")).source(e)
            })?;
            out.push(value);
        }
        Ok(out)
    }

    fn execute_sql(&mut self, sql: &str) -> Result<(), DestinationError> {
        self.conn
            .execute_batch(sql)
            .map_err(err(format!("statement failed: {sql}")))
    }

    fn indexes(&mut self) -> Result<Vec<harbor_core::destination::IndexInfo>, DestinationError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_name, index_name, COALESCE(sql, '') FROM duckdb_indexes() \
                 WHERE schema_name = 'main' AND table_name NOT LIKE '\\_harbor\\_%' ESCAPE '\\' \
                 ORDER BY table_name, index_name",
            )
            .map_err(err("cannot list the indexes"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(harbor_core::destination::IndexInfo {
                    table: r.get(0)?,
                    name: r.get(1)?,
                    definition: r.get(2)?,
                    purpose: None,
                })
            })
            .map_err(err("cannot list the indexes"))?;
        rows.collect::<Result<_, _>>()
            .map_err(err("cannot list the indexes"))
    }

    fn table_counts(&mut self) -> Result<Vec<(String, u64)>, DestinationError> {
        let names: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' \
                     AND table_name NOT LIKE '\\_harbor\\_%' ESCAPE '\\' ORDER BY table_name",
                )
                .map_err(err("cannot list tables"))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(err("cannot list tables"))?;
            rows.collect::<Result<_, _>>()
                .map_err(err("cannot list tables"))?
        };
        let mut out = Vec::new();
        for n in names {
            let c: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM {}", quote(&n)), [], |r| r.get(0))
                .map_err(err(format!("cannot count {n}")))?;
            out.push((n, c as u64));
        }
        Ok(out)
    }

    fn export_table(
        &mut self,
        table: &str,
        filter: Option<&str>,
        out: &Path,
    ) -> Result<u64, DestinationError> {
        crate::export::export_table(self, table, filter, out)
    }
}

/// What the load of a package learned about its root tables, for their child tables.
#[derive(Default)]
struct RootFacts {
    /// Roots already emptied by a `replace`.
    cleared: Vec<String>,
    /// Merged roots whose keys are unique within the package (no dedup needed for them or their
    /// children: child ids derive from the root's).
    unique: Vec<String>,
}

/// Whether a query answering one boolean says true.
fn ask(tx: &duckdb::Transaction<'_>, sql: &str, what: &str) -> Result<bool, DestinationError> {
    tx.query_row(sql, [], |r| r.get(0)).map_err(err(what.to_owned()))
}

/// Loads one table's jobs inside the open transaction and returns the rows written.
///
/// Merge takes the fast path where it can: a key that occurs once in the package needs no
/// latest-row window, and keys no stored row has need no delete (of roots or children).
fn load_table(
    tx: &duckdb::Transaction<'_>,
    plan: &TablePlan,
    jobs: &[&Job],
    schema: &Schema,
    roots: &mut RootFacts,
) -> Result<u64, DestinationError> {
    let src = parquet_source(jobs);
    let t = quote(&plan.name);
    let ctx = |what: &str| format!("{what} of table `{}` failed", plan.name);
    let select = "SELECT * EXCLUDE (filename, file_row_number)";
    let latest = |key: &str, unique: bool| {
        if unique {
            format!("{select} FROM {src}")
        } else {
            format!(
                "{select} FROM {src} QUALIFY row_number() OVER (PARTITION BY {} ORDER BY filename DESC, file_row_number DESC) = 1",
                quote(key)
            )
        }
    };
    let is_root = plan.parent.is_none();
    let insert = match (plan.disposition, is_root) {
        (WriteDisposition::Merge, true) => {
            let key = plan.primary_key.as_deref().unwrap_or(C_ID);
            let unique = ask(
                tx,
                &format!("SELECT count(*) = count(DISTINCT {k}) FROM {src}", k = quote(key)),
                &ctx("merge (key check)"),
            )?;
            if unique {
                roots.unique.push(plan.name.clone());
            }
            // No stored row has a key of this package (always so for an empty table, and for
            // every package but the updates of a large load split into several): nothing to
            // delete, neither roots nor their children. One scan of the key column instead of
            // a delete pass over every child table.
            let fresh = ask(
                tx,
                &format!(
                    "SELECT NOT EXISTS (SELECT 1 FROM {t} WHERE {k} IN (SELECT {k} FROM {src}))",
                    k = quote(key)
                ),
                &ctx("merge (key overlap check)"),
            )?;
            if !fresh {
                // Child rows of every merged root are replaced, including children the new version
                // lacks. Every table of the merged schema exists: the schema changes ran first.
                for child in DuckDbDestination::descendants(schema, &plan.name) {
                    tx.execute(
                        &format!(
                            "DELETE FROM {} WHERE {} IN (SELECT {} FROM {src})",
                            quote(&child),
                            quote(C_ROOT_ID),
                            quote(C_ID)
                        ),
                        [],
                    )
                    .map_err(err(ctx("merge (child rows)")))?;
                }
                tx.execute(
                    &format!(
                        "DELETE FROM {t} WHERE {k} IN (SELECT {k} FROM {src})",
                        k = quote(key)
                    ),
                    [],
                )
                .map_err(err(ctx("merge (delete)")))?;
            }
            format!("INSERT INTO {t} BY NAME ({})", latest(key, unique))
        }
        (WriteDisposition::Merge, false) => {
            format!(
                "INSERT INTO {t} BY NAME ({})",
                latest(C_ID, roots.unique.contains(&plan.root))
            )
        }
        (WriteDisposition::Replace, _) => {
            if is_root && !roots.cleared.contains(&plan.name) {
                for name in std::iter::once(plan.name.clone())
                    .chain(DuckDbDestination::descendants(schema, &plan.name))
                {
                    tx.execute(&format!("DELETE FROM {}", quote(&name)), [])
                        .map_err(err(ctx("replace")))?;
                }
                roots.cleared.push(plan.name.clone());
            }
            format!("INSERT INTO {t} BY NAME ({select} FROM {src})")
        }
        (WriteDisposition::Append, _) => format!("INSERT INTO {t} BY NAME ({select} FROM {src})"),
    };
    let n = tx.execute(&insert, []).map_err(err(ctx("insert")))?;
    Ok(n as u64)
}

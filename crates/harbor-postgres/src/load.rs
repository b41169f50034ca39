//! One load transaction: advisory lock, idempotency check, schema changes, binary COPY of every job
//! file, merge/append/replace, and the `_harbor_*` rows, committed together.

use std::fs::File;
use std::io::Write;

use arrow::record_batch::{RecordBatch, RecordBatchReader};
use harbor_core::destination::{DestinationError, LoadReport};
use harbor_core::package::{Job, JobState, Package, TablePlan};
use harbor_core::schema::{C_ID, C_ROOT_ID};
use harbor_core::{DataType, Schema, SchemaChange, TableSchema, WriteDisposition};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use postgres::Transaction;

use crate::copy::{CopyColumn, encode_batch, header, trailer};
use crate::ddl::{
    change_sql, complete_table_sql, describe_change, literal, pk_index, qualified, relax_key_sql,
};
use crate::destination::{PostgresDestination, exec, parse_schema, q, read_is_loaded, read_schema, rows};
use crate::error::pg_err;

/// Bytes buffered before they are handed to the COPY stream.
const COPY_CHUNK: usize = 1 << 20;

/// How long a load's schema change waits for a table lock before the load steps back and tries
/// again (readers queue behind a waiting `ALTER TABLE`, so this bounds how long they can stall).
pub const DDL_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);

/// Loads a package in one transaction. A transient error leaves nothing behind (the transaction is
/// rolled back with the connection) and can be retried from the package.
pub fn load_once(d: &mut PostgresDestination, package: &Package) -> Result<LoadReport, DestinationError> {
    let m = &package.manifest;
    let cfg = d.cfg.clone();
    let target = cfg.describe();
    let t = target.as_str();
    let e = |what: String| move |err: postgres::Error| pg_err(what, t, err);
    let jobs = package
        .jobs(JobState::Started)
        .map_err(|err| DestinationError::new(format!("cannot list jobs of package {}: {err}", m.load_id)))?;
    let client = d.client()?;
    let mut tx = client
        .transaction()
        .map_err(e("cannot begin transaction".into()))?;
    let lock_key = literal(&format!("harbor:{}:{}", cfg.schema, m.pipeline));
    if cfg.lock_wait {
        exec(
            &mut tx,
            &format!("SELECT pg_advisory_xact_lock(hashtextextended({lock_key}, 0))"),
        )
        .map_err(e(format!("cannot take the lock of pipeline `{}`", m.pipeline)))?;
    } else {
        let got = rows(
            &mut tx,
            &format!("SELECT pg_try_advisory_xact_lock(hashtextextended({lock_key}, 0))"),
        )
        .map_err(e(format!("cannot take the lock of pipeline `{}`", m.pipeline)))?;
        if got.first().and_then(|r| r[0].as_deref()) != Some("t") {
            return Err(DestinationError::new(format!(
                "another run is loading pipeline `{}` into {} right now",
                m.pipeline,
                cfg.describe()
            ))
            .hint("wait for it to finish, or drop lock=nowait from the URL to wait for it"));
        }
    }
    if read_is_loaded(&mut tx, &cfg, &m.load_id).map_err(e("cannot read _harbor_loads".into()))? {
        return Ok(LoadReport {
            load_id: m.load_id.clone(),
            already_loaded: true,
            ..Default::default()
        });
    }
    let stored = parse_schema(
        read_schema(&mut tx, &cfg, &m.pipeline).map_err(e("cannot read _harbor_schema".into()))?,
        &m.pipeline,
    )?;
    let changes = m.schema.diff_from(&stored);
    let mut full = stored.clone();
    full.merge(&m.schema);
    if !changes.is_empty() {
        // `ALTER TABLE` needs the table's exclusive lock, and while it waits for a reader to finish,
        // every reader that comes after queues behind it: the API would stall. So the schema
        // changes wait at most `DDL_LOCK_TIMEOUT`; on timeout the load rolls back and is tried
        // again (see `PostgresDestination::load`), letting the queued readers through.
        exec(
            &mut tx,
            &format!("SET LOCAL lock_timeout = '{}ms'", DDL_LOCK_TIMEOUT.as_millis()),
        )
        .map_err(e("cannot set lock_timeout".into()))?;
    }
    for c in &changes {
        // A merge table gets its unique key index when it is created, unless this load appends to it
        // (`--disposition append` overrides the schema's disposition and may repeat keys).
        let c = &match c {
            SchemaChange::CreateTable(t) => {
                let mut t = t.clone();
                let plan = m.tables.iter().find(|p| p.name == t.name);
                if plan.is_some_and(|p| p.disposition == WriteDisposition::Append) {
                    t.disposition = WriteDisposition::Append;
                }
                SchemaChange::CreateTable(t)
            }
            other => other.clone(),
        };
        let sql = match c {
            SchemaChange::CreateTable(t) => match existing_columns(&mut tx, &cfg.schema, &t.name)
                .map_err(e(format!("cannot read the columns of {}", t.name)))?
            {
                Some(have) => complete_table_sql(&cfg.schema, t, &have),
                None => change_sql(&cfg.schema, c),
            },
            _ => change_sql(&cfg.schema, c),
        };
        if !sql.is_empty() {
            tx.batch_execute(&sql)
                .map_err(e(format!("schema change failed ({})", describe_change(c))))?;
        }
    }
    if !changes.is_empty() {
        exec(&mut tx, "SET LOCAL lock_timeout TO DEFAULT").map_err(e("cannot reset lock_timeout".into()))?;
    }
    let mut report = LoadReport {
        load_id: m.load_id.clone(),
        schema_changes: changes.iter().map(describe_change).collect(),
        ..Default::default()
    };
    let mut cleared: Vec<String> = Vec::new();
    let mut direct: Vec<String> = Vec::new();
    let mut total = 0u64;
    for plan in &m.tables {
        let table_jobs: Vec<&Job> = jobs.iter().filter(|j| j.table == plan.name).collect();
        if table_jobs.is_empty() {
            continue;
        }
        let Some(ts) = full.tables.get(&plan.name) else {
            return Err(DestinationError::new(format!(
                "table `{}` of load {} is not in its schema",
                plan.name, m.load_id
            )));
        };
        let mut ctx = TableLoad {
            tx: &mut tx,
            schema: &cfg.schema,
            target: &cfg.describe(),
            full: &full,
            table: ts,
        };
        let n = ctx.load(plan, &table_jobs, &mut cleared, &mut direct)?;
        total += n;
        report.rows.push((plan.name.clone(), n));
    }
    let sys = |t: &str| qualified(&cfg.schema, t);
    let mut sql = format!(
        "INSERT INTO {} VALUES ({}, {}, 'completed', now(), {total}, {}, {});",
        sys("_harbor_loads"),
        literal(&m.load_id),
        literal(&m.pipeline),
        full.version,
        literal(&m.source)
    );
    for (key, value) in &m.state.values {
        sql.push_str(&format!(
            "INSERT INTO {} VALUES ({}, {}, {}::json, {}, now()) ON CONFLICT (pipeline, key) DO UPDATE \
             SET value = EXCLUDED.value, load_id = EXCLUDED.load_id, updated_at = EXCLUDED.updated_at;",
            sys("_harbor_state"),
            literal(&m.pipeline),
            literal(key),
            literal(&value.to_string()),
            literal(&m.load_id)
        ));
    }
    if !changes.is_empty() || stored.tables.is_empty() {
        sql.push_str(&format!(
            "INSERT INTO {} VALUES ({}, {}, {}, now(), {}::json);",
            sys("_harbor_schema"),
            literal(&m.pipeline),
            full.version,
            literal(&m.load_id),
            literal(&full.to_json())
        ));
    }
    tx.batch_execute(&sql)
        .map_err(e("cannot record the load, state and schema".into()))?;
    harbor_core::testhook::pause_point("commit");
    tx.commit()
        .map_err(e(format!("commit of load {} failed", m.load_id)))?;
    Ok(report)
}

struct TableLoad<'a, 't> {
    tx: &'a mut Transaction<'t>,
    schema: &'a str,
    target: &'a str,
    full: &'a Schema,
    table: &'a TableSchema,
}

/// The columns of a table, or `None` when it does not exist.
fn existing_columns(
    tx: &mut postgres::Transaction<'_>,
    schema: &str,
    table: &str,
) -> Result<Option<std::collections::BTreeSet<String>>, postgres::Error> {
    let found = crate::destination::rows(
        tx,
        &format!(
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = {} AND table_name = {}",
            literal(schema),
            literal(table)
        ),
    )?;
    let cols: std::collections::BTreeSet<String> = found
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    Ok((!cols.is_empty()).then_some(cols))
}

fn descendants(schema: &Schema, root: &str) -> Vec<String> {
    schema
        .tables
        .values()
        .filter(|t| t.root == root && t.name != root)
        .map(|t| t.name.clone())
        .collect()
}

impl TableLoad<'_, '_> {
    fn err(&self, what: &str) -> impl FnOnce(postgres::Error) -> DestinationError + use<> {
        let ctx = format!("{what} of table `{}` failed", self.table.name);
        let target = self.target.to_owned();
        move |e| pg_err(ctx, &target, e)
    }

    fn load(
        &mut self,
        plan: &TablePlan,
        jobs: &[&Job],
        cleared: &mut Vec<String>,
        direct: &mut Vec<String>,
    ) -> Result<u64, DestinationError> {
        let t = qualified(self.schema, &plan.name);
        let is_root = plan.parent.is_none();
        match plan.disposition {
            WriteDisposition::Append => {
                if is_root && self.has_pk_index()? {
                    // Append keeps rows with known keys, so the unique index of a table first loaded
                    // with merge gives way to a plain one (later merges delete + insert on it).
                    exec(self.tx, &relax_key_sql(self.schema, &self.table.name, plan))
                        .map_err(self.err("append (key index)"))?;
                }
                self.copy_jobs(&t, jobs, false)
            }
            WriteDisposition::Replace => {
                if is_root && !cleared.contains(&plan.name) {
                    let names: Vec<String> = std::iter::once(plan.name.clone())
                        .chain(descendants(self.full, &plan.name))
                        .map(|n| qualified(self.schema, &n))
                        .collect();
                    exec(self.tx, &format!("TRUNCATE {}", names.join(", "))).map_err(self.err("replace"))?;
                    cleared.push(plan.name.clone());
                }
                self.copy_jobs(&t, jobs, false)
            }
            WriteDisposition::Merge => {
                if let Some(n) = self.merge_into_empty(plan, jobs, direct)? {
                    return Ok(n);
                }
                let stage = q(&format!("_harbor_stage_{}", plan.name));
                exec(
                    self.tx,
                    &format!(
                        "DROP TABLE IF EXISTS {stage}; CREATE TEMP TABLE {stage} (LIKE {t}) ON COMMIT DROP; \
                         ALTER TABLE {stage} ADD COLUMN _harbor_seq bigint"
                    ),
                )
                .map_err(self.err("staging"))?;
                self.copy_jobs(&stage, jobs, true)?;
                let cols: Vec<String> = self.table.columns.iter().map(|c| q(&c.name)).collect();
                let list = cols.join(", ");
                let n = if is_root {
                    let key = q(plan.primary_key.as_deref().unwrap_or(C_ID));
                    for child in descendants(self.full, &plan.name) {
                        let sql = format!(
                            "DELETE FROM {} WHERE {} IN (SELECT {} FROM {stage})",
                            qualified(self.schema, &child),
                            q(C_ROOT_ID),
                            q(C_ID)
                        );
                        exec(self.tx, &sql).map_err(self.err("merge (child rows)"))?;
                    }
                    let latest = format!(
                        "SELECT DISTINCT ON ({key}) {list} FROM {stage} ORDER BY {key}, _harbor_seq DESC"
                    );
                    if self.has_pk_index()? {
                        let set: Vec<String> = cols.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
                        let sql = format!(
                            "INSERT INTO {t} ({list}) {latest} ON CONFLICT ({key}) DO UPDATE SET {}",
                            set.join(", ")
                        );
                        exec(self.tx, &sql).map_err(self.err("merge (upsert)"))?
                    } else {
                        // Tables created without a unique key (first loaded as append) merge by delete + insert.
                        let sql = format!("DELETE FROM {t} WHERE {key} IN (SELECT {key} FROM {stage})");
                        exec(self.tx, &sql).map_err(self.err("merge (delete)"))?;
                        exec(self.tx, &format!("INSERT INTO {t} ({list}) {latest}"))
                            .map_err(self.err("merge (insert)"))?
                    }
                } else {
                    let id = q(C_ID);
                    let sql = format!(
                        "INSERT INTO {t} ({list}) SELECT DISTINCT ON ({id}) {list} FROM {stage} ORDER BY {id}, _harbor_seq DESC"
                    );
                    exec(self.tx, &sql).map_err(self.err("merge (insert)"))?
                };
                exec(self.tx, &format!("DROP TABLE {stage}")).map_err(self.err("staging cleanup"))?;
                Ok(n)
            }
        }
    }

    /// The first load into an empty table needs no staging: its rows are COPYed straight into the
    /// table, which halves what Postgres writes. A root table qualifies when its unique key index
    /// exists (a key repeated within the load then fails the COPY, which is rolled back to a
    /// savepoint and merged through the staging table instead); a child table when its root went
    /// this way in this load (unique roots give unique child rows). `None`: take the staging path.
    fn merge_into_empty(
        &mut self,
        plan: &TablePlan,
        jobs: &[&Job],
        direct: &mut Vec<String>,
    ) -> Result<Option<u64>, DestinationError> {
        let t = qualified(self.schema, &plan.name);
        let qualifies = match &plan.parent {
            None => self.has_pk_index()?,
            Some(_) => direct.contains(&self.table.root),
        };
        if !qualifies {
            return Ok(None);
        }
        let empty = rows(self.tx, &format!("SELECT NOT EXISTS (SELECT 1 FROM {t})"))
            .map_err(self.err("emptiness check"))?;
        if empty.first().and_then(|r| r[0].as_deref()) != Some("t") {
            return Ok(None);
        }
        exec(self.tx, "SAVEPOINT harbor_direct").map_err(self.err("savepoint"))?;
        match self.copy_jobs(&t, jobs, false) {
            Ok(n) => {
                exec(self.tx, "RELEASE SAVEPOINT harbor_direct").map_err(self.err("savepoint"))?;
                if plan.parent.is_none() {
                    direct.push(plan.name.clone());
                }
                Ok(Some(n))
            }
            Err(first) => {
                // Most likely a key repeated within the load; anything else shows up again on the
                // staging path (or here, if the connection is gone).
                exec(self.tx, "ROLLBACK TO SAVEPOINT harbor_direct").map_err(|_| first)?;
                Ok(None)
            }
        }
    }

    fn has_pk_index(&mut self) -> Result<bool, DestinationError> {
        let sql = format!(
            "SELECT to_regclass({}) IS NOT NULL",
            literal(&qualified(self.schema, &pk_index(&self.table.name)))
        );
        let r = rows(self.tx, &sql).map_err(self.err("index lookup"))?;
        Ok(r.first().and_then(|r| r[0].as_deref()) == Some("t"))
    }

    /// COPYs every job file into `into` (the table, or its staging table with a sequence column).
    /// The `jsonb` columns of the table `into` (a quoted name). JSON columns of tables made
    /// before harbor used `jsonb` are `json`, and the two take different binary COPY input.
    fn jsonb_columns(&mut self, into: &str) -> Result<std::collections::HashSet<String>, DestinationError> {
        let sql = format!(
            "SELECT CAST(attname AS TEXT) FROM pg_attribute WHERE attrelid = to_regclass({}) \
             AND attnum > 0 AND NOT attisdropped AND atttypid = CAST('jsonb' AS regtype)",
            literal(into)
        );
        let rows = crate::destination::rows(self.tx, &sql).map_err(self.err("column types"))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    }

    fn copy_jobs(&mut self, into: &str, jobs: &[&Job], with_seq: bool) -> Result<u64, DestinationError> {
        let mut seq = 0i64;
        let mut total = 0;
        let jsonb = self.jsonb_columns(into)?;
        for job in jobs {
            let io = |what: &str, e: &dyn std::fmt::Display| {
                DestinationError::new(format!("cannot {what} job file {}: {e}", job.path.display()))
            };
            let file = File::open(&job.path).map_err(|e| io("open", &e))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| io("read", &e))?
                .with_batch_size(8192)
                .build()
                .map_err(|e| io("read", &e))?;
            let arrow_schema = reader.schema();
            let mut cols: Vec<CopyColumn> = Vec::new();
            let mut names: Vec<String> = Vec::new();
            for (i, f) in arrow_schema.fields().iter().enumerate() {
                let Some(c) = self.table.column(f.name()) else {
                    return Err(DestinationError::new(format!(
                        "job file {} has column `{}` that table `{}` does not have",
                        job.path.display(),
                        f.name(),
                        self.table.name
                    )));
                };
                cols.push(CopyColumn {
                    index: i,
                    data_type: c.data_type,
                    jsonb: c.data_type == DataType::Json && jsonb.contains(f.name().as_str()),
                });
                names.push(q(f.name()));
            }
            if with_seq {
                names.push("_harbor_seq".into());
            }
            let sql = format!("COPY {into} ({}) FROM STDIN (FORMAT binary)", names.join(", "));
            let copy_err = self.err("copy");
            let finish_err = self.err("copy");
            let mut writer = self.tx.copy_in(sql.as_str()).map_err(copy_err)?;
            let mut buf = Vec::with_capacity(COPY_CHUNK + 65536);
            header(&mut buf);
            for batch in reader {
                let batch: RecordBatch = batch.map_err(|e| io("decode", &e))?;
                encode_batch(&batch, &cols, with_seq.then_some(&mut seq), &mut buf)
                    .map_err(|e| io("convert", &e))?;
                if buf.len() >= COPY_CHUNK {
                    writer.write_all(&buf).map_err(|e| io("send", &e).transient())?;
                    buf.clear();
                }
            }
            trailer(&mut buf);
            writer.write_all(&buf).map_err(|e| io("send", &e).transient())?;
            total += writer.finish().map_err(finish_err)?;
        }
        Ok(total)
    }
}

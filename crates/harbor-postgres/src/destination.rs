//! The Postgres destination: connection handling and the read side of the [`Destination`] trait.
//!
//! Every statement goes through the simple query protocol, except `COPY`, which the driver sends with
//! the extended protocol; `COPY` only ever runs inside a transaction. So no prepared statement outlives
//! its transaction, which is what a transaction pooler (Supabase on port 6543, pgbouncer with
//! `pool_mode = transaction`) requires: each transaction may run on another server connection.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use harbor_core::destination::{Destination, DestinationError, IndexInfo, LoadRecord, LoadReport};
use harbor_core::package::Package;
use harbor_core::schema::C_CONTENT_HASH;
use harbor_core::state::PipelineState;
use harbor_core::{Schema, WriteDisposition};
use postgres::{Client, GenericClient, SimpleQueryMessage};

use crate::config::PgConfig;
use crate::connect::{Tls, backoff, connect, tls};
use crate::ddl::{literal, qualified, quote, system_tables_sql};
use crate::error::pg_err;

/// A data table: its name and its columns (name, `format_type`), in column order.
pub type DataTable = (String, Vec<(String, String)>);

/// A Postgres database (one schema of it) used as a destination.
pub struct PostgresDestination {
    pub(crate) cfg: PgConfig,
    tls: Tls,
    client: Option<Client>,
    /// Whether the missing `pg_trgm` was reported already (once per process is enough).
    told_trigram: bool,
}

/// Runs a simple query and returns its rows as text.
pub(crate) fn rows(
    c: &mut impl GenericClient,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, postgres::Error> {
    let mut out = Vec::new();
    for m in c.simple_query(sql)? {
        if let SimpleQueryMessage::Row(r) = m {
            out.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect());
        }
    }
    Ok(out)
}

/// Runs a simple statement and returns the rows it affected.
pub(crate) fn exec(c: &mut impl GenericClient, sql: &str) -> Result<u64, postgres::Error> {
    let mut n = 0;
    for m in c.simple_query(sql)? {
        if let SimpleQueryMessage::CommandComplete(k) = m {
            n += k;
        }
    }
    Ok(n)
}

/// How long a load keeps stepping back for a schema change whose table is busy.
const LOCK_WAIT_BUDGET: Duration = Duration::from_secs(120);

impl PostgresDestination {
    /// Connects (retrying transient failures) and creates the schema and system tables.
    pub fn open(url: &str) -> Result<Self, DestinationError> {
        Self::with_config(PgConfig::parse(url)?)
    }

    /// Like [`PostgresDestination::open`] with parsed settings.
    pub fn with_config(cfg: PgConfig) -> Result<Self, DestinationError> {
        let tls = tls(cfg.sslmode)?;
        let mut d = Self {
            cfg,
            tls,
            client: None,
            told_trigram: false,
        };
        let sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('harbor:ddl', 0)); {} COMMIT;",
            system_tables_sql(&d.cfg.schema)
        );
        d.with_retry("cannot create the harbor system tables", |c, _| {
            c.batch_execute(&sql)
        })?;
        Ok(d)
    }

    /// Creates the indexes `harbor serve` needs that are missing (see [`crate::indexes`]). After a
    /// committed load, so a failure here costs speed, never data: it is logged and retried by the
    /// next load.
    pub fn ensure_api_indexes(&mut self) {
        let schema = self.cfg.schema.clone();
        let result = self.client().map_err(|e| e.message.clone()).and_then(|c| {
            crate::indexes::ensure(c, &schema)
                .map_err(|e| crate::error::pg_err("create the API indexes", "postgres", e).message)
        });
        match result {
            Ok(report) => {
                if !report.created.is_empty() {
                    tracing::info!(indexes = ?report.created, "Created the API's indexes");
                }
                if let Some(why) = report.trigram_unavailable
                    && !self.told_trigram
                {
                    self.told_trigram = true;
                    tracing::warn!(reason = %why, "No trigram indexes for the API's text search `q`: it scans instead");
                }
            }
            Err(e) => {
                self.reset();
                tracing::warn!(error = %e, "Could not create the API's indexes; the next load tries again");
            }
        }
    }

    /// The settings.
    pub fn config(&self) -> &PgConfig {
        &self.cfg
    }

    /// The open connection, reconnecting if there is none or it was closed.
    pub(crate) fn client(&mut self) -> Result<&mut Client, DestinationError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(connect(&self.cfg, &self.tls)?);
        }
        // Set just above when absent.
        self.client
            .as_mut()
            .ok_or_else(|| DestinationError::new("no postgres connection"))
    }

    /// Forgets the connection (after an error that may have broken it).
    pub(crate) fn reset(&mut self) {
        self.client = None;
    }

    /// `"schema"."table"`.
    pub(crate) fn table(&self, name: &str) -> String {
        qualified(&self.cfg.schema, name)
    }

    /// Runs `f` on the connection; a lost connection is re-opened and `f` run again (reads only).
    fn with_retry<T>(
        &mut self,
        context: &str,
        mut f: impl FnMut(&mut Client, &PgConfig) -> Result<T, postgres::Error>,
    ) -> Result<T, DestinationError> {
        let mut attempt = 0;
        loop {
            let cfg = self.cfg.clone();
            let result = f(self.client()?, &cfg);
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let err = pg_err(context, &cfg.describe(), e);
                    attempt += 1;
                    if !err.transient || attempt >= cfg.load_attempts.max(1) {
                        return Err(err);
                    }
                    self.reset();
                    std::thread::sleep(backoff(attempt - 1));
                }
            }
        }
    }

    /// Data tables and their columns (name, `format_type`), in column order.
    pub fn data_tables(&mut self) -> Result<Vec<DataTable>, DestinationError> {
        let sql = format!(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid \
             WHERE n.nspname = {} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
             AND c.relname NOT LIKE '\\_harbor\\_%' ORDER BY c.relname, a.attnum",
            literal(&self.cfg.schema)
        );
        let r = self.with_retry("cannot list tables", |c, _| rows(c, &sql))?;
        let mut out: Vec<DataTable> = Vec::new();
        for row in r {
            let (Some(t), Some(col), Some(ty)) = (row[0].clone(), row[1].clone(), row[2].clone()) else {
                continue;
            };
            match out.last_mut() {
                Some((name, cols)) if *name == t => cols.push((col, ty)),
                _ => out.push((t, vec![(col, ty)])),
            }
        }
        Ok(out)
    }
}

/// Reads the latest schema of a pipeline with an open connection or transaction.
pub(crate) fn read_schema(
    c: &mut impl GenericClient,
    cfg: &PgConfig,
    pipeline: &str,
) -> Result<Option<String>, postgres::Error> {
    let sql = format!(
        "SELECT schema::text FROM {} WHERE pipeline = {} ORDER BY version DESC LIMIT 1",
        qualified(&cfg.schema, "_harbor_schema"),
        literal(pipeline)
    );
    Ok(rows(c, &sql)?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// Whether a load id is committed, with an open connection or transaction.
pub(crate) fn read_is_loaded(
    c: &mut impl GenericClient,
    cfg: &PgConfig,
    load_id: &str,
) -> Result<bool, postgres::Error> {
    let sql = format!(
        "SELECT 1 FROM {} WHERE load_id = {}",
        qualified(&cfg.schema, "_harbor_loads"),
        literal(load_id)
    );
    Ok(!rows(c, &sql)?.is_empty())
}

pub(crate) fn parse_schema(json: Option<String>, pipeline: &str) -> Result<Schema, DestinationError> {
    match json {
        None => Ok(Schema::default()),
        Some(j) => Schema::from_json(&j).map_err(|e| {
            DestinationError::new(format!("stored schema of pipeline `{pipeline}` is invalid: {e}"))
        }),
    }
}

impl Destination for PostgresDestination {
    fn describe(&self) -> String {
        self.cfg.describe()
    }

    fn stored_schema(&mut self, pipeline: &str) -> Result<Schema, DestinationError> {
        let json = self.with_retry("cannot read _harbor_schema", |c, cfg| {
            read_schema(c, cfg, pipeline)
        })?;
        parse_schema(json, pipeline)
    }

    fn stored_state(&mut self, pipeline: &str) -> Result<PipelineState, DestinationError> {
        let sql = format!(
            "SELECT key, value::text FROM {} WHERE pipeline = {} ORDER BY key",
            self.table("_harbor_state"),
            literal(pipeline)
        );
        let r = self.with_retry("cannot read _harbor_state", |c, _| rows(c, &sql))?;
        let mut state = PipelineState::default();
        for row in r {
            let Some(key) = row[0].clone() else { continue };
            let value = row[1]
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or(serde_json::Value::Null);
            state.set(key, value);
        }
        Ok(state)
    }

    fn is_loaded(&mut self, load_id: &str) -> Result<bool, DestinationError> {
        self.with_retry("cannot read _harbor_loads", |c, cfg| {
            read_is_loaded(c, cfg, load_id)
        })
    }

    fn load(&mut self, package: &Package) -> Result<LoadReport, DestinationError> {
        let mut attempt = 0;
        let started = std::time::Instant::now();
        loop {
            match crate::load::load_once(self, package) {
                Ok(r) => {
                    self.ensure_api_indexes();
                    return Ok(r);
                }
                // A schema change that found its table busy (a long reader): step back so the
                // readers queued behind it go on, and try again, for up to LOCK_WAIT_BUDGET.
                Err(e) if crate::error::is_lock_timeout(&e) && started.elapsed() < LOCK_WAIT_BUDGET => {
                    tracing::info!(load_id = %package.manifest.load_id, "A schema change waits for readers of its table; trying again");
                    self.reset();
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) if crate::error::is_lock_timeout(&e) => {
                    return Err(e.hint(format!(
                        "another session held a lock on the table for more than {} s, so the schema change \
                         could not run; nothing of this load was committed, and it stays on disk: run the same \
                         command again (pg_stat_activity shows who holds the table)",
                        LOCK_WAIT_BUDGET.as_secs()
                    )));
                }
                Err(e) if e.transient && attempt + 1 < self.cfg.load_attempts.max(1) => {
                    // The transaction rolled back with the connection; the package is still on disk.
                    tracing::warn!(load_id = %package.manifest.load_id, error = %e.message, "Load interrupted, retrying from the package");
                    self.reset();
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(e) if e.transient => {
                    // Out of attempts: say what state things are in, unless a more precise hint exists.
                    let hint = e.hint.clone().unwrap_or_else(|| {
                        "the connection to the server was lost and retries ran out".to_owned()
                    });
                    return Err(e.hint(format!(
                        "{hint}; nothing of this load was committed, and it stays on disk: run the same \
                         command again to load it"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn loads(&mut self, pipeline: Option<&str>, limit: usize) -> Result<Vec<LoadRecord>, DestinationError> {
        let filter = pipeline
            .map(|p| format!("WHERE pipeline = {}", literal(p)))
            .unwrap_or_default();
        let sql = format!(
            "SELECT load_id, pipeline, to_char(inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), rows, \
             schema_version, coalesce(source, '') FROM {} {filter} ORDER BY inserted_at DESC, load_id DESC LIMIT {limit}",
            self.table("_harbor_loads")
        );
        let r = self.with_retry("cannot read _harbor_loads", |c, _| rows(c, &sql))?;
        Ok(r.into_iter()
            .map(|row| {
                let s = |i: usize| row[i].clone().unwrap_or_default();
                LoadRecord {
                    load_id: s(0),
                    pipeline: s(1),
                    inserted_at: s(2),
                    rows: s(3).parse().unwrap_or(0),
                    schema_version: s(4).parse().unwrap_or(0),
                    source: s(5),
                }
            })
            .collect())
    }

    fn content_hashes(&mut self, schema: &Schema) -> Result<HashSet<u128>, DestinationError> {
        let mut out = HashSet::new();
        let existing: HashSet<String> = self.data_tables()?.into_iter().map(|(t, _)| t).collect();
        for t in schema.tables.values() {
            if t.parent.is_some()
                || t.disposition != WriteDisposition::Merge
                || t.column(C_CONTENT_HASH).is_none()
                || !existing.contains(&t.name)
            {
                continue;
            }
            let sql = format!(
                "SELECT {c} FROM {} WHERE {c} IS NOT NULL",
                self.table(&t.name),
                c = q(C_CONTENT_HASH)
            );
            let what = format!("cannot read content hashes of `{}`", t.name);
            for row in self.with_retry(&what, |c, _| rows(c, &sql))? {
                if let Some(h) = row[0]
                    .as_deref()
                    .and_then(|hex| u128::from_str_radix(hex, 16).ok())
                {
                    out.insert(h);
                }
            }
        }
        Ok(out)
    }

    fn table_counts(&mut self) -> Result<Vec<(String, u64)>, DestinationError> {
        let mut out = Vec::new();
        for (t, _) in self.data_tables()? {
            let sql = format!("SELECT count(*) FROM {}", self.table(&t));
            let r = self.with_retry("cannot count rows", |c, _| rows(c, &sql))?;
            let n = r
                .first()
                .and_then(|r| r[0].as_deref())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.push((t, n));
        }
        Ok(out)
    }

    fn indexes(&mut self) -> Result<Vec<IndexInfo>, DestinationError> {
        let schema = self.cfg.schema.clone();
        self.with_retry("cannot list the indexes", |c, _| crate::indexes::list(c, &schema))
    }

    fn query_json(&mut self, sql: &str) -> Result<Vec<serde_json::Value>, DestinationError> {
        // One round trip in one transaction, so it also works through a transaction pooler: the
        // search path names the destination's schema for the unqualified names of portable SQL.
        let batch = format!(
            "BEGIN READ ONLY; SET LOCAL search_path TO {}; \
             SELECT row_to_json(q)::text FROM ({sql}) AS q; COMMIT;",
            quote(&self.cfg.schema)
        );
        let context = format!("query failed: {sql}");
        let result = self.with_retry(&context, |c, _| rows(c, &batch));
        let text_rows = match result {
            Ok(r) => r,
            Err(e) => {
                // A failed statement leaves the session in an aborted transaction.
                self.reset();
                return Err(e);
            }
        };
        text_rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    DestinationError::new(format!("query returned invalid JSON: {sql}")).source(e)
                })
            })
            .collect()
    }

    fn execute_sql(&mut self, sql: &str) -> Result<(), DestinationError> {
        let batch = format!(
            "BEGIN; SET LOCAL search_path TO {}; {sql}; COMMIT;",
            quote(&self.cfg.schema)
        );
        let context = format!("statement failed: {sql}");
        let result = self.with_retry(&context, |c, _| c.batch_execute(&batch));
        if result.is_err() {
            self.reset();
        }
        result
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

/// Quotes an identifier (re-export for the loader).
pub(crate) fn q(s: &str) -> String {
    quote(s)
}

//! The command side: a [`Destination`] and a [`SqlStore`] whose calls `harbor serve` executes.

use std::collections::HashSet;
use std::io::{BufReader, BufWriter};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harbor_core::destination::{Destination, DestinationError, IndexInfo, LoadRecord, LoadReport};
use harbor_core::package::Package;
use harbor_core::state::PipelineState;
use harbor_ops::store::{Dialect, SqlStore, Stmt, Value};
use serde::de::DeserializeOwned;

use super::wire::{self, Answer, Request, WireIndex, WireRecord, WireReport, WireValue};

/// How long the server may take to answer the first frame.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the server that owns a DuckDB file.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
    /// The database file as the command named it.
    path: PathBuf,
    socket: PathBuf,
    pid: u64,
}

/// Connects to the server that owns the database at `path`; `Ok(None)` when none answers (no
/// socket, or one left by a server that is gone).
pub fn connect(path: &Path) -> Result<Option<Client>, DestinationError> {
    let socket = super::socket_path(path);
    let stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) => {
            if socket.exists() {
                tracing::debug!(socket = %socket.display(), error = %e, "Ignoring a socket no server answers on");
            }
            return Ok(None);
        }
    };
    let lost = |e: std::io::Error| {
        DestinationError::new(format!(
            "harbor serve owns {} but did not answer on {}: {e}",
            path.display(),
            socket.display()
        ))
        .hint("check the server's log; when it has stopped, run the command again")
        .transient()
    };
    stream.set_read_timeout(Some(HELLO_TIMEOUT)).map_err(lost)?;
    let mut client = Client {
        reader: BufReader::new(stream.try_clone().map_err(lost)?),
        writer: BufWriter::new(stream),
        path: path.to_path_buf(),
        socket: socket.clone(),
        pid: 0,
    };
    let about: serde_json::Value = client.call(&Request::Hello {
        path: super::canonical_db(path),
        version: wire::VERSION,
    })?;
    client.pid = about["pid"].as_u64().unwrap_or(0);
    // Calls (a load) may take as long as they take; the server answers every one.
    client.reader.get_ref().set_read_timeout(None).map_err(lost)?;
    tracing::debug!(pid = client.pid, url = %about["url"], "Using the database through harbor serve");
    Ok(Some(client))
}

impl Client {
    /// Another connection to the same server (a second handle, as for the run trace).
    pub fn another(&self) -> Result<Client, DestinationError> {
        connect(&self.path)?.ok_or_else(|| self.gone("the socket is gone"))
    }

    /// The pid of the server.
    pub fn pid(&self) -> u64 {
        self.pid
    }

    fn gone(&self, why: impl std::fmt::Display) -> DestinationError {
        DestinationError::new(format!(
            "lost the connection to harbor serve (pid {}), which owns {}: {why}",
            self.pid,
            self.path.display()
        ))
        .hint(
            "the server stopped while this command ran; run the command again (a load the server did not \
             commit is replayed, one it committed is not loaded twice)",
        )
        .transient()
    }

    fn call<T: DeserializeOwned>(&mut self, req: &Request) -> Result<T, DestinationError> {
        wire::write_frame(&mut self.writer, req).map_err(|e| self.gone(e))?;
        if matches!(req, Request::Load { .. }) {
            // Crash tests kill the command here, while the server loads its package.
            harbor_core::testhook::pause_point("proxied-load");
        }
        let answer: Answer = match wire::read_frame(&mut self.reader) {
            Ok(Some(a)) => a,
            Ok(None) => return Err(self.gone("it closed the connection")),
            Err(e) => return Err(self.gone(e)),
        };
        let value = answer.map_err(DestinationError::from)?;
        serde_json::from_value(value).map_err(|e| {
            DestinationError::new(format!(
                "harbor serve (pid {}) on {} answered in an unexpected shape: {e}",
                self.pid,
                self.socket.display()
            ))
            .hint("run the same harbor version as the server")
        })
    }
}

/// An absolute path (the server's working directory is not the command's).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The destination of a command whose DuckDB file `harbor serve` owns.
pub struct ProxyDestination {
    client: Client,
}

impl ProxyDestination {
    /// Wraps a connection.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl Destination for ProxyDestination {
    /// The same description as the file opened directly, so load packages keep their identity.
    fn describe(&self) -> String {
        format!("duckdb://{}", self.client.path.display())
    }

    fn stored_schema(&mut self, pipeline: &str) -> Result<harbor_core::Schema, DestinationError> {
        self.client.call(&Request::StoredSchema {
            pipeline: pipeline.to_owned(),
        })
    }

    fn stored_state(&mut self, pipeline: &str) -> Result<PipelineState, DestinationError> {
        self.client.call(&Request::StoredState {
            pipeline: pipeline.to_owned(),
        })
    }

    fn is_loaded(&mut self, load_id: &str) -> Result<bool, DestinationError> {
        self.client.call(&Request::IsLoaded {
            load_id: load_id.to_owned(),
        })
    }

    fn load(&mut self, package: &Package) -> Result<LoadReport, DestinationError> {
        let report: WireReport = self.client.call(&Request::Load {
            dir: absolute(&package.dir),
            manifest: Box::new(package.manifest.clone()),
        })?;
        Ok(report.into())
    }

    fn loads(&mut self, pipeline: Option<&str>, limit: usize) -> Result<Vec<LoadRecord>, DestinationError> {
        let v: Vec<WireRecord> = self.client.call(&Request::Loads {
            pipeline: pipeline.map(str::to_owned),
            limit,
        })?;
        Ok(v.into_iter().map(Into::into).collect())
    }

    fn content_hashes(&mut self, schema: &harbor_core::Schema) -> Result<HashSet<u128>, DestinationError> {
        let v: Vec<[u64; 2]> = self.client.call(&Request::ContentHashes {
            schema: Box::new(schema.clone()),
        })?;
        Ok(v.into_iter()
            .map(|[hi, lo]| (u128::from(hi) << 64) | u128::from(lo))
            .collect())
    }

    fn table_counts(&mut self) -> Result<Vec<(String, u64)>, DestinationError> {
        self.client.call(&Request::TableCounts)
    }

    fn indexes(&mut self) -> Result<Vec<IndexInfo>, DestinationError> {
        let v: Vec<WireIndex> = self.client.call(&Request::Indexes)?;
        Ok(v.into_iter().map(Into::into).collect())
    }

    fn query_json(&mut self, sql: &str) -> Result<Vec<serde_json::Value>, DestinationError> {
        self.client.call(&Request::QueryJson { sql: sql.to_owned() })
    }

    fn execute_sql(&mut self, sql: &str) -> Result<(), DestinationError> {
        self.client.call(&Request::ExecuteSql { sql: sql.to_owned() })
    }

    fn export_table(
        &mut self,
        table: &str,
        filter: Option<&str>,
        out: &Path,
    ) -> Result<u64, DestinationError> {
        self.client.call(&Request::ExportTable {
            table: table.to_owned(),
            filter: filter.map(str::to_owned),
            out: absolute(out),
        })
    }
}

/// The operations store of a command whose DuckDB file `harbor serve` owns.
pub struct ProxyStore {
    client: Client,
}

impl ProxyStore {
    /// Wraps a connection.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    fn call<T: DeserializeOwned>(&mut self, req: &Request, what: &str) -> harbor_ops::Result<T> {
        self.client.call(req).map_err(|e| harbor_ops::Error::Sql {
            store: self.describe(),
            what: what.to_owned(),
            message: match e.hint {
                Some(h) => format!("{} (hint: {h})", e.message),
                None => e.message,
            },
        })
    }
}

fn wire_params(params: &[Value]) -> Vec<WireValue> {
    params.iter().map(WireValue::from).collect()
}

impl SqlStore for ProxyStore {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    fn describe(&self) -> String {
        format!("duckdb://{}", self.client.path.display())
    }

    fn batch(&mut self, sql: &str, what: &str) -> harbor_ops::Result<()> {
        self.call(
            &Request::Batch {
                sql: sql.to_owned(),
                what: what.to_owned(),
            },
            what,
        )
    }

    fn execute(&mut self, sql: &str, params: &[Value], what: &str) -> harbor_ops::Result<u64> {
        self.call(
            &Request::Execute {
                sql: sql.to_owned(),
                params: wire_params(params),
                what: what.to_owned(),
            },
            what,
        )
    }

    fn query(&mut self, sql: &str, params: &[Value], what: &str) -> harbor_ops::Result<Vec<Vec<Value>>> {
        let rows: Vec<Vec<WireValue>> = self.call(
            &Request::Query {
                sql: sql.to_owned(),
                params: wire_params(params),
                what: what.to_owned(),
            },
            what,
        )?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(Into::into).collect())
            .collect())
    }

    fn transaction(&mut self, stmts: &[Stmt], what: &str) -> harbor_ops::Result<()> {
        self.call(
            &Request::Transaction {
                stmts: stmts
                    .iter()
                    .map(|s| (s.sql.clone(), wire_params(&s.params)))
                    .collect(),
                what: what.to_owned(),
            },
            what,
        )
    }
}

//! The server side: `harbor serve` executes other commands' destination calls on its own handle.
//!
//! One thread accepts connections on the socket; each connection gets a thread with its own
//! connection to the open database (a clone of the server's handle), and answers its calls one at
//! a time. Loads from all connections run one at a time (a replay of a package waits for a load
//! of that package still running for a killed command, then finds it committed). After every call
//! that may write, the server's response cache is told that the data changed.

use std::io::{BufReader, BufWriter};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use harbor_core::destination::{Destination, DestinationError};
use harbor_core::package::Package;
use harbor_duckdb::DuckDbDestination;
use harbor_ops::store::{DuckStore, SqlStore, Stmt};
use serde::Serialize;

use super::wire::{self, Answer, Request, WireError, WireIndex, WireRecord, WireReport};

/// Called after a call that may have changed data.
pub type OnWrite = Arc<dyn Fn() + Send + Sync>;

/// How long a stopping server waits for calls still running (a load in its transaction).
const DRAIN: Duration = Duration::from_secs(60);

struct Shared {
    /// Canonical path of the database file.
    db: PathBuf,
    /// The server's handle, cloned for every connection.
    dest: Mutex<DuckDbDestination>,
    /// Loads run one at a time.
    loads: Mutex<()>,
    on_write: OnWrite,
    /// What the hello answer says about this server.
    about: serde_json::Value,
    stop: AtomicBool,
    running: AtomicUsize,
}

/// The listening socket; removed (after running calls end) when dropped.
pub struct ProxyServer {
    socket: PathBuf,
    shared: Arc<Shared>,
}

impl ProxyServer {
    /// Listens on [`super::socket_path`] of `db_path` (whose file this process holds open as
    /// `dest`). A socket left there by a killed server is replaced: this process holds the file,
    /// so no other server of it is alive. `url` is the HTTP address, for messages.
    pub fn start(
        db_path: &Path,
        dest: DuckDbDestination,
        url: &str,
        on_write: OnWrite,
    ) -> anyhow::Result<Self> {
        let socket = super::socket_path(db_path);
        // Bound under a private name, made 0600, then renamed into place: no moment where another
        // user could connect, and a stale socket is replaced atomically.
        let tmp = socket.with_file_name(format!(
            "{}.{}.tmp",
            socket
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        let listener =
            UnixListener::bind(&tmp).with_context(|| format!("cannot listen on {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {} to its owner", tmp.display()))?;
        std::fs::rename(&tmp, &socket).with_context(|| format!("cannot create {}", socket.display()))?;
        let shared = Arc::new(Shared {
            db: super::canonical_db(db_path),
            dest: Mutex::new(dest),
            loads: Mutex::new(()),
            on_write,
            about: serde_json::json!({"pid": std::process::id(), "url": url}),
            stop: AtomicBool::new(false),
            running: AtomicUsize::new(0),
        });
        let accept = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("harbor-socket".into())
            .spawn(move || accept_loop(listener, accept))
            .context("cannot start the socket thread")?;
        tracing::info!(socket = %socket.display(), "Other harbor commands on this file go through the server");
        Ok(Self { socket, shared })
    }

    /// Where the server listens.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.socket);
        let started = Instant::now();
        let mut told = false;
        while self.shared.running.load(Ordering::SeqCst) > 0 && started.elapsed() < DRAIN {
            if !told {
                eprintln!("waiting for a command running through the server to finish its call");
                told = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot accept a connection on the socket");
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("harbor-socket-conn".into())
            .spawn(move || {
                if let Err(e) = session(stream, &shared) {
                    tracing::debug!(error = %e, "A command's connection ended");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "Cannot start a thread for a command's connection");
        }
    }
}

fn session(stream: UnixStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let Some(hello) = wire::read_frame::<Request>(&mut reader)? else {
        return Ok(());
    };
    let refuse = |message: String| -> Answer {
        Err(WireError {
            message,
            hint: None,
            transient: false,
        })
    };
    let answer = match hello {
        Request::Hello { version, .. } if version != wire::VERSION => refuse(format!(
            "the harbor serve process (pid {}) speaks socket protocol {}, this harbor {version}",
            std::process::id(),
            wire::VERSION
        )),
        Request::Hello { path, .. } if path != shared.db => refuse(format!(
            "this socket serves {}, not {}",
            shared.db.display(),
            path.display()
        )),
        Request::Hello { .. } => Ok(shared.about.clone()),
        _ => refuse("the first call on the socket must be Hello".into()),
    };
    let ok = answer.is_ok();
    wire::write_frame(&mut writer, &answer)?;
    if !ok {
        return Ok(());
    }
    let mut conn = Conn {
        dest: shared
            .dest
            .lock()
            .map_err(|_| std::io::Error::other("database handle poisoned"))?
            .try_clone()
            .map_err(std::io::Error::other)?,
        store: None,
    };
    while let Some(req) = wire::read_frame::<Request>(&mut reader)? {
        let writes = req.writes();
        shared.running.fetch_add(1, Ordering::SeqCst);
        let answer = conn.handle(shared, req);
        shared.running.fetch_sub(1, Ordering::SeqCst);
        if writes {
            (shared.on_write)();
        }
        // A command killed during its call is gone now; the call itself ran to its end (its
        // transaction committed or rolled back), which is all exactly-once needs.
        wire::write_frame(&mut writer, &answer)?;
    }
    Ok(())
}

/// One command's connection to the database.
struct Conn {
    dest: DuckDbDestination,
    store: Option<DuckStore>,
}

fn json(v: impl Serialize) -> Answer {
    serde_json::to_value(v).map_err(|e| WireError {
        message: format!("cannot encode the answer: {e}"),
        hint: None,
        transient: false,
    })
}

fn dest_answer<T: Serialize>(r: Result<T, DestinationError>) -> Answer {
    match r {
        Ok(v) => json(v),
        Err(e) => Err(e.into()),
    }
}

/// A store error keeps the database's own message (the client puts its store and task around it).
fn store_answer<T: Serialize>(r: harbor_ops::Result<T>) -> Answer {
    match r {
        Ok(v) => json(v),
        Err(harbor_ops::Error::Sql { message, .. }) => Err(WireError {
            message,
            hint: None,
            transient: false,
        }),
        Err(e) => Err(WireError {
            message: e.to_string(),
            hint: None,
            transient: false,
        }),
    }
}

impl Conn {
    fn store(&mut self) -> harbor_ops::Result<&mut DuckStore> {
        if self.store.is_none() {
            let conn = self
                .dest
                .connection()
                .try_clone()
                .map_err(|e| harbor_ops::Error::Open {
                    store: self.dest.describe(),
                    message: e.to_string(),
                })?;
            self.store = Some(DuckStore::from_connection(conn, self.dest.describe()));
        }
        // Set just above when it was missing.
        Ok(self.store.as_mut().expect("store is set"))
    }

    fn handle(&mut self, shared: &Shared, req: Request) -> Answer {
        let d = &mut self.dest;
        match req {
            Request::Hello { .. } => Err(WireError {
                message: "Hello is only the first call".into(),
                hint: None,
                transient: false,
            }),
            Request::StoredSchema { pipeline } => dest_answer(d.stored_schema(&pipeline)),
            Request::StoredState { pipeline } => dest_answer(d.stored_state(&pipeline)),
            Request::IsLoaded { load_id } => dest_answer(d.is_loaded(&load_id)),
            Request::Load { dir, manifest } => {
                let _one = shared.loads.lock().unwrap_or_else(|p| p.into_inner());
                let package = Package {
                    dir,
                    manifest: *manifest,
                };
                dest_answer(d.load(&package).map(WireReport::from))
            }
            Request::Loads { pipeline, limit } => dest_answer(
                d.loads(pipeline.as_deref(), limit)
                    .map(|v| v.into_iter().map(WireRecord::from).collect::<Vec<_>>()),
            ),
            Request::ContentHashes { schema } => dest_answer(d.content_hashes(&schema).map(|set| {
                set.into_iter()
                    .map(|h| [(h >> 64) as u64, h as u64])
                    .collect::<Vec<_>>()
            })),
            Request::TableCounts => dest_answer(d.table_counts()),
            Request::Indexes => dest_answer(
                d.indexes()
                    .map(|v| v.into_iter().map(WireIndex::from).collect::<Vec<_>>()),
            ),
            Request::QueryJson { sql } => dest_answer(d.query_json(&sql)),
            Request::ExecuteSql { sql } => dest_answer(d.execute_sql(&sql)),
            Request::ExportTable { table, filter, out } => {
                dest_answer(d.export_table(&table, filter.as_deref(), &out))
            }
            Request::Batch { sql, what } => store_answer(self.store().and_then(|s| s.batch(&sql, &what))),
            Request::Execute { sql, params, what } => {
                let params: Vec<_> = params.into_iter().map(Into::into).collect();
                store_answer(self.store().and_then(|s| s.execute(&sql, &params, &what)))
            }
            Request::Query { sql, params, what } => {
                let params: Vec<_> = params.into_iter().map(Into::into).collect();
                store_answer(
                    self.store()
                        .and_then(|s| s.query(&sql, &params, &what))
                        .map(|rows| {
                            rows.iter()
                                .map(|r| r.iter().map(wire::WireValue::from).collect::<Vec<_>>())
                                .collect::<Vec<_>>()
                        }),
                )
            }
            Request::Transaction { stmts, what } => {
                let stmts: Vec<Stmt> = stmts
                    .into_iter()
                    .map(|(sql, p)| Stmt::new(sql, p.into_iter().map(Into::into).collect()))
                    .collect();
                store_answer(self.store().and_then(|s| s.transaction(&stmts, &what)))
            }
        }
    }
}

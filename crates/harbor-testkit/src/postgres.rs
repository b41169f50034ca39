//! [`PgCluster`]: a throwaway PostgreSQL cluster on a free `127.0.0.1` port, for tests.
//!
//! Uses the Debian `postgresql` package (`/usr/lib/postgresql/15/bin`, override with `HARBOR_PG_BIN`).
//! As root, the data directory is given to the `postgres` user and the binaries run as that user
//! (`runuser -u postgres --`), because the server refuses to run as root. Host connections need the
//! password [`PgCluster::PASSWORD`] (SCRAM), so tests can check bad credentials; the cluster is
//! stopped and its directory removed on drop. [`PgCluster::shared`] gives one cluster per test process
//! (stopped by a watchdog when the process exits); tests then take their own database with
//! [`PgCluster::create_database`].

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

/// What went wrong starting or driving a cluster.
#[derive(Debug, thiserror::Error)]
#[error("test postgres: {0}")]
pub struct PgError(String);

static SEQ: AtomicU64 = AtomicU64::new(0);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, PgError> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| PgError(format!("no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| PgError(e.to_string()))
}

impl PgCluster {
    /// Password of the `postgres` user for TCP connections.
    pub const PASSWORD: &'static str = "harbor-test-secret";

    /// The directory holding `initdb`, `pg_ctl`, `postgres`.
    pub fn bin_dir() -> PathBuf {
        std::env::var_os("HARBOR_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into())
    }

    /// Initializes and starts a new cluster.
    pub fn start() -> Result<PgCluster, PgError> {
        let bin = Self::bin_dir();
        if !bin.join("initdb").exists() {
            return Err(PgError(format!(
                "{} not found; install PostgreSQL: apt-get update && apt-get install -y postgresql",
                bin.join("initdb").display()
            )));
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("harbor-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| PgError(format!("cannot create {}: {e}", dir.display())))?;
        let as_postgres = is_root();
        let mut cluster = PgCluster {
            dir,
            port: 0,
            bin,
            as_postgres,
        };
        if as_postgres {
            cluster.run_plain(
                "chown",
                &["-R", "postgres:postgres", &cluster.dir.to_string_lossy()],
            )?;
        }
        let pwfile = cluster.dir.join("pwfile");
        std::fs::write(&pwfile, Self::PASSWORD).map_err(|e| PgError(e.to_string()))?;
        if as_postgres {
            cluster.run_plain("chown", &["postgres:postgres", &pwfile.to_string_lossy()])?;
        }
        let data = cluster.data_dir();
        cluster.run_bin(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        // A few ports may be taken between the probe and the start; try again with another.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| PgError("cannot start".into())))
    }

    /// One cluster for the whole test process, stopped by a watchdog when the process exits.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            // A test harness without Postgres cannot test this destination: fail loudly, never skip.
            let c = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
            c.spawn_watchdog();
            c
        })
    }

    fn spawn_watchdog(&self) {
        let pid = std::process::id();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{dir}'",
            stop = self.stop_command(),
            dir = self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    fn stop_command(&self) -> String {
        let ctl = format!(
            "{} -D '{}' -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.data_dir().display()
        );
        if self.as_postgres {
            format!("runuser -u postgres -- {ctl}")
        } else {
            ctl
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The cluster directory (data in `data/`, log in `log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL (with the password) for a database.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{db}?sslmode=disable",
            Self::PASSWORD,
            self.port
        )
    }

    /// Creates a fresh database with a unique name derived from `prefix` and returns its URL.
    pub fn create_database(&self, prefix: &str) -> Result<String, PgError> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let clean: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("{clean}_{n}");
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(&name))
    }

    /// Runs SQL with `psql` over the Unix socket and returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, PgError> {
        let psql = self.bin.join("psql");
        let out = self
            .command(
                &psql.to_string_lossy(),
                &[
                    "-X",
                    "-q",
                    "-A",
                    "-t",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    &self.dir.to_string_lossy(),
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    db,
                    "-c",
                    sql,
                ],
            )
            .output()
            .map_err(|e| PgError(format!("psql: {e}")))?;
        if !out.status.success() {
            return Err(PgError(format!(
                "psql failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    }

    /// Restarts the server (`pg_ctl restart -m fast`): open connections are terminated.
    pub fn restart_fast(&self) -> Result<(), PgError> {
        self.run_bin(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().to_string_lossy(),
                "-m",
                "fast",
                "-w",
                "restart",
            ],
        )
    }

    /// Stops the server (`-m immediate`).
    pub fn stop(&self) -> Result<(), PgError> {
        self.run_bin(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    /// Starts a stopped server again on the same port.
    pub fn start_again(&self) -> Result<(), PgError> {
        self.pg_ctl_start()
    }

    fn pg_ctl_start(&self) -> Result<(), PgError> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.display()
        );
        self.run_bin(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().to_string_lossy(),
                "-l",
                &self.dir.join("log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "-t",
                "30",
                "start",
            ],
        )
    }

    /// Starts PgBouncer (`/usr/sbin/pgbouncer`, Debian's `pgbouncer` package; override with
    /// `HARBOR_PGBOUNCER`) in front of this cluster in transaction pooling mode with two server
    /// connections: a stand-in for Supabase's transaction pooler. Stopped on drop.
    pub fn pgbouncer(&self) -> Result<PgBouncer, PgError> {
        let program = std::env::var_os("HARBOR_PGBOUNCER")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/sbin/pgbouncer".into());
        if !program.exists() {
            return Err(PgError(format!(
                "{} not found; install it: apt-get install -y pgbouncer",
                program.display()
            )));
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.join(format!("pgbouncer-{n}"));
        std::fs::create_dir_all(&dir).map_err(|e| PgError(format!("pgbouncer dir: {e}")))?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let ini = format!(
                "[databases]\n* = host=127.0.0.1 port={server}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {dir}/users.txt\n\
                 pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 50\n\
                 logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
                server = self.port,
                dir = dir.display()
            );
            let write = |name: &str, text: &str| {
                std::fs::write(dir.join(name), text).map_err(|e| PgError(format!("pgbouncer {name}: {e}")))
            };
            write("pgbouncer.ini", &ini)?;
            write("users.txt", &format!("\"postgres\" \"{}\"\n", Self::PASSWORD))?;
            if self.as_postgres {
                self.run_plain("chown", &["-R", "postgres:postgres", &dir.to_string_lossy()])?;
            }
            let st = self
                .command(
                    &program.to_string_lossy(),
                    &["-d", &dir.join("pgbouncer.ini").to_string_lossy()],
                )
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| PgError(format!("pgbouncer: {e}")))?;
            let bouncer = PgBouncer {
                dir: dir.clone(),
                port,
            };
            // `-d` forks once the configuration is read; wait until it accepts connections.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while st.success() && std::time::Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(bouncer);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let log = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
            last = Some(PgError(format!("pgbouncer did not start: {}", log.trim())));
        }
        Err(last.unwrap_or_else(|| PgError("pgbouncer did not start".into())))
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]).args(args);
            c
        } else {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }

    fn run_bin(&self, name: &str, args: &[&str]) -> Result<(), PgError> {
        let program = self.bin.join(name);
        // Output goes to a file, not a pipe: the server started by `pg_ctl` inherits the descriptors and
        // would keep a pipe open forever.
        let out_path = self.dir.join(format!("{name}.out"));
        let out = std::fs::File::create(&out_path).map_err(|e| PgError(format!("{name}: {e}")))?;
        let err = out.try_clone().map_err(|e| PgError(format!("{name}: {e}")))?;
        let status = self
            .command(&program.to_string_lossy(), args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| PgError(format!("{name}: {e}")))?;
        if !status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            let said = std::fs::read_to_string(&out_path).unwrap_or_default();
            return Err(PgError(format!("{name} failed: {} (log: {tail})", said.trim())));
        }
        Ok(())
    }

    fn run_plain(&self, program: &str, args: &[&str]) -> Result<(), PgError> {
        let st = Command::new(program)
            .args(args)
            .status()
            .map_err(|e| PgError(format!("{program}: {e}")))?;
        if st.success() {
            Ok(())
        } else {
            Err(PgError(format!("{program} {args:?} failed")))
        }
    }
}

/// A running PgBouncer in transaction pooling mode (see [`PgCluster::pgbouncer`]).
#[derive(Debug)]
pub struct PgBouncer {
    dir: PathBuf,
    port: u16,
}

impl PgBouncer {
    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL through the pooler for a database of the cluster.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{db}?sslmode=disable",
            PgCluster::PASSWORD,
            self.port
        )
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("pgbouncer.pid"))
            .ok()
            .map(|s| s.trim().to_owned())
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_starts_runs_sql_and_is_removed() {
        let c = PgCluster::start().expect("postgres must be installed for the test suite");
        let dir = c.dir().to_path_buf();
        let url = c.create_database("t").expect("create database");
        let db = url
            .rsplit('/')
            .next()
            .and_then(|s| s.split('?').next())
            .expect("db name")
            .to_owned();
        assert_eq!(c.psql(&db, "SELECT 40 + 2").expect("psql"), "42");
        c.restart_fast().expect("restart");
        assert_eq!(c.psql(&db, "SELECT 1").expect("psql after restart"), "1");
        drop(c);
        assert!(!dir.exists());
    }
}

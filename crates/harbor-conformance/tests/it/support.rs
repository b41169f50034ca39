//! What the cases share: destinations under test, running a pipeline, reading a table back.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow::util::display::{ArrayFormatter, FormatOptions};
pub use harbor_conformance::{Run, Target, load_into};
use harbor_core::destination::Destination;
use harbor_pipeline::RunSummary;
use harbor_testkit::postgres::PgCluster;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A scratch directory plus the destination.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub target: Target,
}

pub fn duckdb() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::DuckDb(dir.path().join("harbor.duckdb"));
    Env { dir, target }
}

pub fn postgres() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = PgCluster::shared()
        .create_database("conformance")
        .expect("create database");
    Env {
        dir,
        target: Target::Postgres(url),
    }
}

pub fn parquet() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::Parquet(dir.path().join("lake"));
    Env { dir, target }
}

impl Env {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).expect("write input");
        p
    }

    /// Loads NDJSON lines as `submissions`.
    pub fn load(&self, file: &Path, run: &Run) -> harbor_pipeline::Result<RunSummary> {
        load_into(&self.target, &self.path().join("work"), file, run)
    }

    pub fn dest(&self) -> Box<dyn Destination> {
        self.target.open()
    }

    /// The rows of a table as a reader sees them.
    pub fn table(&self, table: &str) -> Table {
        let out = self.path().join(format!("export-{table}.parquet"));
        let mut d = self.dest();
        d.export_table(table, None, &out)
            .unwrap_or_else(|e| panic!("export {table}: {e}"));
        Table::read(&out)
    }

    /// The name the destination's catalog gives a JSON column.
    pub fn json_type_name(&self) -> &'static str {
        match self.target {
            Target::DuckDb(_) => "JSON",
            Target::Postgres(_) => "jsonb",
            Target::Parquet(_) => "Some(Json)",
        }
    }

    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut c = self.dest().table_counts().expect("table counts");
        c.sort();
        c
    }
}

/// A table read back: column names and Arrow types, and its rows rendered as text.
#[derive(Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open export"))
            .expect("parquet");
        let schema = builder.schema().clone();
        let reader = builder.build().expect("reader");
        let columns = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect();
        let mut rows = Vec::new();
        let opts = FormatOptions::default().with_null("NULL");
        for b in reader {
            let b = b.expect("batch");
            let fmts: Vec<ArrayFormatter> = b
                .columns()
                .iter()
                .map(|a| ArrayFormatter::try_new(a.as_ref(), &opts).expect("formatter"))
                .collect();
            for r in 0..b.num_rows() {
                rows.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
            }
        }
        rows.sort();
        Table { columns, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.columns))
    }

    pub fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|(n, _)| n == name)
    }

    pub fn ty(&self, name: &str) -> &str {
        &self.columns[self.col(name)].1
    }

    /// The value of column `name` in the row whose `id` is `id`.
    pub fn get(&self, id: &str, name: &str) -> String {
        let (i, c) = (self.col("id"), self.col(name));
        let rows: Vec<&Vec<String>> = self.rows.iter().filter(|r| r[i] == id).collect();
        assert_eq!(rows.len(), 1, "rows with id {id}");
        rows[0][c].clone()
    }

    pub fn values(&self, name: &str) -> BTreeSet<String> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].clone()).collect()
    }

    /// Rows with columns in name order, so tables whose columns were added in a different order
    /// compare; load ids (different in every destination) are left out.
    pub fn canonical(&self) -> (Vec<(String, String)>, Vec<Vec<String>>) {
        let mut order: Vec<usize> = (0..self.columns.len())
            .filter(|i| self.columns[*i].0 != "_harbor_load_id")
            .collect();
        order.sort_by(|a, b| self.columns[*a].0.cmp(&self.columns[*b].0));
        let cols = order.iter().map(|i| self.columns[*i].clone()).collect();
        let mut rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| order.iter().map(|i| r[*i].clone()).collect())
            .collect();
        rows.sort();
        (cols, rows)
    }
}

/// `n` submissions starting at `start`: nested preview images, a list of awards (`i % 3` of them,
/// plus `extra_awards`), `edited` false or an epoch, `title` with a `tag`.
pub fn submissions(start: usize, n: usize, tag: &str, extra_awards: usize) -> String {
    let mut out = String::new();
    for i in start..start + n {
        let awards: Vec<serde_json::Value> = (0..(i % 3 + extra_awards))
            .map(|k| serde_json::json!({"id": format!("award_{k}"), "name": "Silver", "count": k + 1,
                "resized_icons": [{"url": "https://x/16.png", "width": 16}, {"url": "https://x/32.png", "width": 32}]}))
            .collect();
        let subreddit = ["rust", "python"][i % 2];
        let v = serde_json::json!({
            "id": format!("p{i:05}"), "name": format!("t3_p{i:05}"), "title": format!("Post {i} {tag}"),
            "subreddit": subreddit, "author": format!("user{}", i % 7),
            "created_utc": 1_690_000_000.0 + i as f64 * 10.0, "score": (i * 31) % 1000,
            "upvote_ratio": 0.5 + (i % 50) as f64 / 100.0, "over_18": i % 4 == 0,
            "edited": if i % 5 == 0 { serde_json::json!(1_700_000_000.5 + i as f64) } else { serde_json::json!(false) },
            "all_awardings": awards,
            "preview": {"images": [{"id": format!("img{i}"), "source": {"url": "https://i/x.jpg", "width": 640}}]},
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// Awards in [`submissions`] rows `start..start+n`.
pub fn awards(start: usize, n: usize, extra: usize) -> u64 {
    (start..start + n).map(|i| (i % 3 + extra) as u64).sum()
}

pub fn count(counts: &[(String, u64)], table: &str) -> u64 {
    counts
        .iter()
        .find(|(t, _)| t == table)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

/// Runs the load of `file` in a `conformance-load` process (same target, the scratch dir's `work`
/// directory) paused at `point`, and kills it there with SIGKILL.
pub fn kill_load_at(env: &Env, file: &Path, point: &str) {
    kill_split_load_when(env, file, point, None, &|| true)
}

/// [`kill_load_at`] for a load split into packages of `package_bytes` of input, killed once the
/// process paused at `point` and `ready()` holds (checked every 10 ms for up to a minute: for what
/// the other threads of the paused process reach, such as the next package written).
pub fn kill_split_load_when(
    env: &Env,
    file: &Path,
    point: &str,
    package_bytes: Option<u64>,
    ready: &dyn Fn() -> bool,
) {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conformance-load"));
    cmd.arg(env.target.to_arg())
        .arg(env.path().join("work"))
        .arg(file);
    if let Some(n) = package_bytes {
        cmd.arg(n.to_string());
    }
    let mut child = cmd
        .env("HARBOR_TEST_PAUSE_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn conformance-load");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let want = format!("harbor: paused at {point}");
    let mut said = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains(&want) => break,
            Some(Ok(l)) => said.push(l),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "conformance-load ended before pause point {point}: {}",
                    said.join("\n")
                );
            }
        }
    }
    // Keep reading stderr so the paused process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("paused at {point}, but what the kill waits for did not happen within a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // `Child::kill` sends SIGKILL on Unix: no destructor, no rollback by the process itself.
    child.kill().expect("SIGKILL conformance-load");
    let _ = child.wait();
}

/// Runs `sql` in the Postgres database of `env` (a Postgres target).
pub fn psql(env: &Env, sql: &str) {
    let Target::Postgres(url) = &env.target else {
        panic!("psql on {}", env.target.to_arg());
    };
    let db = url
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default();
    PgCluster::shared()
        .psql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// Every data table: its row count and its rows in canonical form.
pub type Snapshot = Vec<(String, u64, (Vec<(String, String)>, Vec<Vec<String>>))>;

pub fn snapshot(env: &Env) -> Snapshot {
    env.counts()
        .into_iter()
        .map(|(t, n)| {
            let rows = env.table(&t).canonical();
            (t, n, rows)
        })
        .collect()
}

/// Every `.parquet` file under `dir`, at any depth.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

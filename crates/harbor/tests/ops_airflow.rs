//! The Airflow DAG in deploy/airflow, loaded and run by real Apache Airflow (the virtualenv that
//! `.ci/run` caches in ~/.cache/harbor-airflow-venv; HARBOR_AIRFLOW_VENV overrides it).

#[allow(unused_imports)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Harbor;
use common::reddit::{Fake, corpus};

fn venv() -> PathBuf {
    let v = std::env::var_os("HARBOR_AIRFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/harbor-airflow-venv")
        });
    assert!(
        v.join("bin/airflow").exists(),
        "Apache Airflow is not installed in {}: run the Airflow block of .ci/run \
         (python3 -m venv {0} && {0}/bin/pip install apache-airflow==3.3.2)",
        v.display()
    );
    v
}

fn dag_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/airflow/reddit_opportunity_dag.py")
}

struct Airflow {
    home: tempfile::TempDir,
    venv: PathBuf,
    env: Vec<(String, String)>,
}

impl Airflow {
    fn new(env: Vec<(String, String)>) -> Airflow {
        let home = tempfile::tempdir().expect("airflow home");
        std::fs::create_dir_all(home.path().join("dags")).expect("dags");
        std::fs::copy(dag_file(), home.path().join("dags/reddit_opportunity_dag.py")).expect("copy dag");
        Airflow {
            home,
            venv: venv(),
            env,
        }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(self.venv.join("bin").join(program));
        c.args(args)
            .env("AIRFLOW_HOME", self.home.path())
            .env("AIRFLOW__CORE__DAGS_FOLDER", self.home.path().join("dags"))
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program, args).output().expect("run airflow");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
        text
    }
}

#[test]
fn the_dag_loads_in_airflow_and_runs_every_shard_end_to_end() {
    let h = Harbor::new();
    let subs = [
        "opensource",
        "SideProject",
        "productivity",
        "freelance",
        "personalfinance",
    ];
    // The fake Reddit serves these subreddits on 127.0.0.1 from this process: Airflow's task
    // processes reach it over TCP like any Reddit endpoint. Each shard runs the DAG's default
    // command, `harbor run --subreddits {subreddits}` (collect -> load -> score -> trace).
    let fake = Fake::start(corpus(&subs, 20));
    let failures = h.path().join("failures.jsonl");
    let mut env: Vec<(String, String)> = fake.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.extend([
        ("HARBOR_BIN".into(), env!("CARGO_BIN_EXE_harbor").into()),
        ("HARBOR_PROJECT_DIR".into(), h.path().display().to_string()),
        ("HARBOR_SUBREDDITS".into(), subs.join(",")),
        ("HARBOR_SHARDS".into(), "3".into()),
        ("HARBOR_FAILURE_LOG".into(), failures.display().to_string()),
    ]);
    let af = Airflow::new(env);

    // The DAG's shape, read by Airflow itself: parallel shards, retries, failure callback.
    let probe = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import reddit_opportunity_dag as m
d = m.dag
shards = [t for t in d.tasks if t.task_id.startswith("harbor_shard_")]
m.on_failure({"task_instance": type("TI", (), {"task_id": "harbor_shard_0", "try_number": 3})(), "run_id": "r1", "exception": ValueError("boom")})
print(json.dumps({
  "dag_id": d.dag_id,
  "shards": [sorted(t.upstream_task_ids) for t in shards],
  "commands": [t.bash_command for t in shards],
  "retries": [t.retries for t in d.tasks],
  "delay": [t.retry_delay.total_seconds() for t in d.tasks],
  "callback": all(t.on_failure_callback for t in d.tasks),
  "check_upstream": sorted(d.get_task("harbor_check").upstream_task_ids),
}))
"#;
    let dags = af.home.path().join("dags").display().to_string();
    let out = af
        .command("python", &["-c", probe, &dags])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shape: serde_json::Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| l.starts_with(b"{"))
            .unwrap_or_default(),
    )
    .expect("probe json");
    assert_eq!(shape["dag_id"], "reddit_opportunity_pipeline");
    assert_eq!(
        shape["shards"],
        serde_json::json!([[], [], []]),
        "shards run in parallel"
    );
    assert!(
        shape["retries"]
            .as_array()
            .expect("retries")
            .iter()
            .all(|r| r == 2)
    );
    assert!(
        shape["delay"]
            .as_array()
            .expect("delay")
            .iter()
            .all(|r| r == 300.0)
    );
    assert_eq!(shape["callback"], true);
    assert_eq!(
        shape["check_upstream"],
        serde_json::json!(["harbor_shard_0", "harbor_shard_1", "harbor_shard_2"])
    );
    let logged = std::fs::read_to_string(&failures).expect("failure log");
    assert!(
        logged.contains("\"task\": \"harbor_shard_0\"") && logged.contains("boom"),
        "{logged}"
    );
    std::fs::remove_file(&failures).expect("rm");

    // Airflow parses the DAG without import errors, then runs it end to end.
    af.run("airflow", &["db", "migrate"]);
    let t0 = std::time::Instant::now();
    let out = af.run(
        "airflow",
        &["dags", "test", "reddit_opportunity_pipeline", "2025-01-02"],
    );
    eprintln!("airflow dags test took {:.1} s", t0.elapsed().as_secs_f64());
    assert!(out.contains("harbor_check"), "{out}");

    // Every shard collected and scored its subreddits; every run is traced; nothing failed.
    assert_eq!(h.count("submissions"), 100);
    let subs_loaded = h.strings("SELECT DISTINCT subreddit FROM submissions");
    assert_eq!(subs_loaded, subs.map(String::from).into());
    assert!(h.count("comments") > 0);
    let ok: i64 = h.query("SELECT count(*) FROM _harbor_runs WHERE command = 'run' AND status = 'ok'");
    assert_eq!(ok, 3);
    let runs: i64 = h.query("SELECT count(*) FROM _harbor_runs");
    assert_eq!(runs, 3, "one traced run per shard");
    let scored: i64 =
        h.query("SELECT count(DISTINCT post_id) FROM opportunity_analysis WHERE status = 'scored'");
    let problem: i64 = h.query("SELECT count(*) FROM submissions WHERE is_problem");
    assert!(problem > 0);
    assert_eq!(scored, problem, "every problem post was scored");
    assert_eq!(fake.fake.count("listing"), 5, "one listing page per subreddit");
    assert!(
        !failures.exists(),
        "a task failed: {}",
        std::fs::read_to_string(&failures).unwrap_or_default()
    );
}

//! The cases of a load split into several packages by size: the same tables as one package, a
//! kill between packages (or with the next package already built), and a refused package.

use harbor_core::WriteDisposition;
use harbor_core::package::{Package, PackageStore};

use harbor_conformance::PIPELINE;

use crate::cases::AWARDS;
use crate::support::{Env, Run, awards, count, kill_split_load_when, snapshot, submissions};

/// Input bytes per package in the split cases: about 15 submissions of the suite's data.
const SPLIT: u64 = 8_000;

/// A load split into several packages by size gives the same tables as one package, whatever the
/// disposition: merge across packages keeps the last version of a key, append keeps every row, and
/// replace replaces only at the first package of the run.
pub fn split_load_matches_one_package(make: fn() -> Env) {
    // For merge: keys 0..60 twice in one file (the second time with another title), then 60..90.
    let repeated = submissions(0, 60, "a", 0) + &submissions(0, 60, "b", 1) + &submissions(60, 30, "c", 0);
    // Append and replace load keys once (Postgres refuses a repeated key in an appended table).
    let distinct = submissions(0, 90, "d", 0);
    let split = Run {
        package_bytes: Some(SPLIT),
        ..Default::default()
    };
    for disposition in [
        None,
        Some(WriteDisposition::Append),
        Some(WriteDisposition::Replace),
    ] {
        let data = if disposition.is_none() {
            &repeated
        } else {
            &distinct
        };
        let whole = make();
        let f = whole.write("s.ndjson", data);
        let run = Run {
            disposition,
            ..Default::default()
        };
        let old = whole.write("old.ndjson", &submissions(500, 5, "old", 0));
        whole.load(&old, &Run::default()).expect("earlier load");
        whole.load(&f, &run).expect("load as one package");
        let env = make();
        let f = env.write("s.ndjson", data);
        // Something to replace: rows a replace must remove, an append or merge keep.
        let old = env.write("old.ndjson", &submissions(500, 5, "old", 0));
        env.load(&old, &Run::default()).expect("earlier load");
        // Append also checks the packages loaded one after the other (no overlap).
        let s = env
            .load(
                &f,
                &Run {
                    disposition,
                    sequential_packages: disposition == Some(WriteDisposition::Append),
                    ..split.clone()
                },
            )
            .expect("split load");
        assert!(
            s.load_ids.len() >= 4,
            "{disposition:?}: {} packages",
            s.load_ids.len()
        );
        let c = env.counts();
        let t = env.table("submissions");
        match disposition {
            None => {
                assert_eq!(count(&c, "submissions"), 95, "{c:?}");
                assert_eq!(t.get("p00007", "title"), "Post 7 b");
                assert_eq!(t.get("p00077", "title"), "Post 77 c");
                assert_eq!(
                    count(&c, AWARDS),
                    awards(0, 60, 1) + awards(60, 30, 0) + awards(500, 5, 0)
                );
            }
            Some(WriteDisposition::Append) => assert_eq!(count(&c, "submissions"), 95, "{c:?}"),
            _ => {
                assert_eq!(count(&c, "submissions"), 90, "{c:?}");
                assert!(
                    t.values("id").iter().all(|id| !id.starts_with("p005")),
                    "replaced"
                );
            }
        }
        assert!(
            snapshot(&env) == snapshot(&whole),
            "{disposition:?}: a split load gives other tables than one package"
        );
        let mut d = env.dest();
        let state = d.stored_state(PIPELINE).expect("state");
        let key = state
            .values
            .keys()
            .find(|k| k.ends_with("s.ndjson"))
            .expect("file state");
        assert!(
            state.values[key].get("line").is_none(),
            "a file read to its end is stored as loaded: {state:?}"
        );
        drop(d);
        let again = env.load(&f, &split).expect("rerun");
        assert_eq!(again.skipped.len(), 1, "{disposition:?}: the file is loaded");
    }
}

/// How a kill case of [`split_load_resumes_after_a_kill`] ends the process.
struct Kill {
    /// The pause point the process is killed at.
    point: &'static str,
    /// Complete packages that must be waiting in the store before the kill (those the builder
    /// thread wrote while the loader was paused), all of which the rerun must replay in order.
    built: usize,
}

/// A load split into packages, killed between two packages (or inside a commit, or with the next
/// package already built while the last one loaded), resumes after the last committed package and
/// ends with every row exactly once, in as many loads as a clean run.
pub fn split_load_resumes_after_a_kill(make: fn() -> Env) {
    let data = submissions(0, 120, "k", 0);
    let clean = make();
    let f = clean.write("k.ndjson", &data);
    let run = Run {
        package_bytes: Some(SPLIT),
        ..Default::default()
    };
    let s = clean.load(&f, &run).expect("clean load");
    let packages = s.load_ids.len();
    assert!(packages >= 5, "{packages} packages");
    let expected = snapshot(&clean);
    assert_eq!(count(&clean.counts(), "submissions"), 120);
    let kills = [
        Kill {
            point: "load:committed:1",
            built: 0,
        },
        Kill {
            point: "load:committed:3",
            built: 0,
        },
        // Package 3 was built while package 2 loaded: replayed, then the run resumes after it.
        Kill {
            point: "load:committed:2",
            built: 1,
        },
        // Inside the commit of package 1 with package 2 built: both replayed, 1 before 2.
        Kill {
            point: "commit",
            built: 2,
        },
        Kill {
            point: "commit",
            built: 0,
        },
        Kill {
            point: "package",
            built: 0,
        },
    ];
    for Kill { point, built } in kills {
        let case = format!("a kill at {point} with {built} built");
        let env = make();
        let f = env.write("k.ndjson", &data);
        kill_split_load_when(&env, &f, point, Some(SPLIT), &|| pending(&env).len() >= built);
        let mut d = env.dest();
        let before = d.loads(None, 100).expect("loads").len();
        drop(d);
        let s = env
            .load(&f, &run)
            .unwrap_or_else(|e| panic!("rerun after {case}: {e}"));
        if point.starts_with("load:committed") {
            assert_eq!(s.resumed.len(), 1, "resumed after {case}");
            assert!(before >= 1, "{case}: committed before the kill");
        }
        if built > 0 {
            assert_eq!(s.recovered.len(), built, "replayed after {case}");
        }
        assert_eq!(
            before + s.recovered.len() + s.load_ids.len(),
            packages,
            "packages after {case}"
        );
        assert!(snapshot(&env) == expected, "tables after {case}");
        let mut d = env.dest();
        assert_eq!(
            d.loads(None, 100).expect("loads").len(),
            packages,
            "loads after {case}"
        );
        let state = d.stored_state(PIPELINE).expect("state");
        assert_eq!(state.values.len(), 1, "state after {case}: {state:?}");
        drop(d);
        let s = env.load(&f, &run).expect("third run");
        assert_eq!(s.skipped.len(), 1, "third run after {case}");
        assert!(snapshot(&env) == expected, "third run after {case}");
    }
}

/// A package of a split load that the destination refuses (`refuse` makes it refuse the row with
/// id `p00070`, `allow` undoes that) stops the run there, with or without overlap: the packages
/// before it stay committed with the position they reached, the package built while it loaded is
/// neither committed nor left behind, and the next run loads the refused package first and resumes
/// after it, every row exactly once.
pub fn split_load_stops_at_a_refused_package(make: fn() -> Env, refuse: fn(&Env), allow: fn(&Env)) {
    let data = submissions(0, 120, "k", 0);
    let old = submissions(500, 5, "old", 0);
    let clean = make();
    let f = clean.write("k.ndjson", &data);
    let split = Run {
        package_bytes: Some(SPLIT),
        ..Default::default()
    };
    clean
        .load(&clean.write("old.ndjson", &old), &Run::default())
        .expect("earlier load");
    let s = clean.load(&f, &split).expect("clean load");
    let packages = s.load_ids.len();
    let expected = snapshot(&clean);
    for sequential in [false, true] {
        let env = make();
        let f = env.write("k.ndjson", &data);
        // The earlier load makes the table the refusal is set on.
        env.load(&env.write("old.ndjson", &old), &Run::default())
            .expect("earlier load");
        refuse(&env);
        let run = Run {
            sequential_packages: sequential,
            ..split.clone()
        };
        let e = env.load(&f, &run).expect_err("a refused package fails the run");
        assert!(
            matches!(e, harbor_pipeline::Error::PackageFailed { attempts: 1, .. }),
            "sequential {sequential}: {e}"
        );
        // What committed is a prefix of the file, ending before the refused row.
        let ids: Vec<String> = env
            .table("submissions")
            .values("id")
            .into_iter()
            .filter(|id| !id.starts_with("p005"))
            .collect();
        let n = ids.len();
        assert!(n > 0 && n <= 70, "sequential {sequential}: {n} rows committed");
        let prefix: Vec<String> = (0..n).map(|i| format!("p{i:05}")).collect();
        assert_eq!(ids, prefix, "sequential {sequential}");
        let mut d = env.dest();
        let state = d.stored_state(PIPELINE).expect("state");
        let key = state
            .values
            .keys()
            .find(|k| k.ends_with("k.ndjson"))
            .expect("file state");
        assert_eq!(
            state.values[key]["line"], n as u64,
            "sequential {sequential}: {state:?}"
        );
        let committed = d.loads(None, 100).expect("loads").len() - 1;
        drop(d);
        // Only the refused package is left: it starts where the committed ones end and holds the
        // refused row; the one built after it is gone.
        let left = pending(&env);
        assert_eq!(left.len(), 1, "sequential {sequential}: packages left");
        let refused = &left[0].manifest;
        let end = refused.state.values[key]["line"]
            .as_u64()
            .expect("refused package's line");
        assert!(
            end > 70,
            "sequential {sequential}: the refused package ends at line {end}"
        );
        let rows = refused
            .tables
            .iter()
            .find(|t| t.name == "submissions")
            .expect("plan")
            .rows;
        assert_eq!(rows, end - n as u64, "sequential {sequential}");
        assert!(
            leftovers(&env).is_empty(),
            "sequential {sequential}: {:?}",
            leftovers(&env)
        );

        allow(&env);
        let s = env.load(&f, &run).expect("rerun");
        assert_eq!(
            s.recovered.len(),
            1,
            "sequential {sequential}: the refused package first"
        );
        assert_eq!(s.resumed.len(), 1, "sequential {sequential}");
        assert_eq!(
            committed + 1 + s.load_ids.len(),
            packages,
            "sequential {sequential}"
        );
        assert!(
            snapshot(&env) == expected,
            "sequential {sequential}: tables after the rerun"
        );
        assert!(pending(&env).is_empty(), "sequential {sequential}");
    }
}

/// The complete packages waiting in the conformance pipeline's store.
fn pending(env: &Env) -> Vec<Package> {
    PackageStore::open(store_dir(env))
        .and_then(|s| s.pending())
        .expect("package store")
}

/// Entries of the store besides the completed and failed areas and complete pending packages:
/// half-written packages.
fn leftovers(env: &Env) -> Vec<String> {
    std::fs::read_dir(store_dir(env))
        .expect("store dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".extracting"))
        .collect()
}

fn store_dir(env: &Env) -> std::path::PathBuf {
    env.path().join("work").join(PIPELINE).join("packages")
}

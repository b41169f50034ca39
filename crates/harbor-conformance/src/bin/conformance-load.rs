//! `conformance-load TARGET WORKDIR FILE [PACKAGE_BYTES]`: one conformance pipeline run in its own
//! process, so the kill cases of the suite can SIGKILL it at a pause point (`HARBOR_TEST_PAUSE_AT`).
//! `PACKAGE_BYTES` splits the load into packages of that much input. Exits 0 when the load
//! succeeded, 1 with the error on stderr otherwise.

use std::path::PathBuf;

use harbor_conformance::{Run, Target, load_with};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (target, workdir, file, package_bytes) = match args.as_slice() {
        [t, w, f] => (t, w, f, None),
        [t, w, f, n] if n.parse::<u64>().is_ok() => (t, w, f, n.parse().ok()),
        _ => {
            eprintln!(
                "usage: conformance-load TARGET WORKDIR FILE [PACKAGE_BYTES] (TARGET: duckdb:PATH | postgres:URL | parquet:PATH)"
            );
            std::process::exit(2);
        }
    };
    let Some(target) = Target::from_arg(target) else {
        eprintln!("unknown target {target}");
        std::process::exit(2);
    };
    let dest = match target.try_open() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("load failed: cannot open {}: {e}", target.to_arg());
            std::process::exit(1);
        }
    };
    if let Err(e) = load_with(
        dest,
        &PathBuf::from(workdir),
        &PathBuf::from(file),
        &Run {
            package_bytes,
            ..Run::default()
        },
    ) {
        eprintln!("load failed: {e}");
        std::process::exit(1);
    }
}

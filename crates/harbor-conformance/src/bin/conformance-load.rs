//! `conformance-load TARGET WORKDIR FILE`: one conformance pipeline run in its own process, so the
//! kill case of the suite can SIGKILL it at a pause point (`HARBOR_TEST_PAUSE_AT`). Exits 0 when the
//! load succeeded, 1 with the error on stderr otherwise.

use std::path::PathBuf;

use harbor_conformance::{Run, Target, load_with};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, workdir, file] = args.as_slice() else {
        eprintln!(
            "usage: conformance-load TARGET WORKDIR FILE (TARGET: duckdb:PATH | postgres:URL | parquet:PATH)"
        );
        std::process::exit(2);
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
        &Run::default(),
    ) {
        eprintln!("load failed: {e}");
        std::process::exit(1);
    }
}

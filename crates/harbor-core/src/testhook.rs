//! Pause points for crash tests.
//!
//! When `HARBOR_TEST_PAUSE_AT` names a point, the process prints `harbor: paused at <point>` on stderr
//! and sleeps there forever, so a test can kill it with SIGKILL at an exact stage (mid-extract, after
//! the package is written, inside the load transaction, after commit). Unset, this costs one env read.

use std::sync::OnceLock;

/// Pauses forever if `HARBOR_TEST_PAUSE_AT` equals `point`.
pub fn pause_point(point: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("HARBOR_TEST_PAUSE_AT").ok());
    if target.as_deref() == Some(point) {
        eprintln!("harbor: paused at {point}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

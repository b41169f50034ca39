//! One run of a pipeline at a time, across processes, decided BEFORE the destination is opened.
//!
//! The pipeline lock (`Pipeline::open`) protects packages and state, but an embedded destination
//! such as DuckDB admits one process per file: a second run that opened the file first would fail
//! with a lock error instead of waiting. Every command that writes (load, import, collect, ingest,
//! run, score) takes this lock first; the second of two runs started at once then waits for the
//! first (or, with `--no-wait`, refuses with a clear message).

use std::fs::File;
use std::path::PathBuf;

use crate::output::UserError;
use crate::settings::Settings;

/// The held lock; released when dropped (or when the process ends, however it ends).
pub struct RunLock {
    _file: File,
}

/// Takes the run lock of the configured pipeline, waiting for another run when `wait`.
pub fn acquire(settings: &Settings, wait: bool) -> anyhow::Result<RunLock> {
    let dir: PathBuf = settings.workdir.join(&settings.pipeline);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("run.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) if wait => {
            eprintln!(
                "waiting: another harbor process is running pipeline `{}` ({})",
                settings.pipeline,
                path.display()
            );
            file.lock()?;
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(UserError {
                message: format!(
                    "pipeline `{}` is busy: another harbor process is running it ({})",
                    settings.pipeline,
                    path.display()
                ),
                hint: Some("wait for it to finish, or leave out --no-wait to queue behind it".into()),
            }
            .into());
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    Ok(RunLock { _file: file })
}

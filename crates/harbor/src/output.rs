//! Output rules: data on stdout, messages on stderr, `hint:` lines under errors, progress bars only on
//! a terminal, `NO_COLOR` respected.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use harbor_core::destination::DestinationError;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An error the user can fix (exit code 2) as opposed to a failure (exit code 1).
#[derive(Debug)]
pub struct UserError {
    /// The message.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Converts a destination error into an `anyhow` error carrying its hint.
pub fn dest_error(e: DestinationError) -> anyhow::Error {
    match e.hint.clone() {
        Some(hint) => anyhow::Error::new(UserError {
            message: e.message.clone(),
            hint: Some(hint),
        }),
        None => anyhow::Error::new(e),
    }
}

/// Converts a pipeline error, keeping its hint and whether it is the user's to fix.
pub fn pipeline_error(e: harbor_pipeline::Error) -> anyhow::Error {
    if e.is_user_error() || e.hint().is_some() {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message.push_str(&format!(": {s}"));
            src = s.source();
        }
        anyhow::Error::new(UserError {
            message,
            hint: e.hint(),
        })
    } else {
        anyhow::Error::new(e)
    }
}

/// Prints an error chain and hint on stderr; returns the exit code.
pub fn report_error(e: &anyhow::Error) -> i32 {
    if let Some(u) = e.downcast_ref::<UserError>() {
        eprintln!("error: {}", u.message);
        if let Some(h) = &u.hint {
            eprintln!("hint: {h}");
        }
        return 2;
    }
    eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    let disk_full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(28))
            || c.to_string().contains("os error 28")
    });
    if disk_full {
        eprintln!(
            "hint: the disk is full: free space (or use another --workdir) and run again; nothing of this run was \
             committed, and the rerun resumes from the last complete package"
        );
    }
    1
}

/// A byte progress bar over a shared counter, drawn only on a terminal.
pub struct Progress {
    bar: ProgressBar,
    stop: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar that follows `counter` up to `total` bytes.
    pub fn bytes(message: &str, total: u64, counter: Arc<AtomicU64>) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        let style =
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(message.to_owned());
        let stop = Arc::new(AtomicU64::new(0));
        let (b, s) = (bar.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while s.load(Ordering::Relaxed) == 0 {
                b.set_position(counter.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Progress {
            bar,
            stop,
            handle: Some(handle),
        }
    }

    /// Removes the bar.
    pub fn finish(mut self) {
        self.stop.store(1, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.bar.finish_and_clear();
    }
}

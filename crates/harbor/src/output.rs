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

/// A failure with its own exit code (1: a failure with a hint; 3: the run finished but its result
/// fails a check).
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: i32,
    /// The message.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

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
/// The user's errors exit 2; other failures with a hint (a package that failed on a lost
/// connection) exit 1 with the hint.
pub fn pipeline_error(e: harbor_pipeline::Error) -> anyhow::Error {
    if e.is_user_error() {
        anyhow::Error::new(UserError {
            message: harbor_pipeline::error_text(&e),
            hint: e.hint(),
        })
    } else if let Some(hint) = e.hint() {
        anyhow::Error::new(Failure {
            code: 1,
            message: harbor_pipeline::error_text(&e),
            hint: Some(hint),
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
    if let Some(f) = e.downcast_ref::<Failure>() {
        eprintln!("error: {}", f.message);
        if let Some(h) = &f.hint {
            eprintln!("hint: {h}");
        }
        return f.code;
    }
    for line in error_lines(e) {
        eprintln!("{line}");
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

/// The lines `report_error` prints for a failure: `error: ...` and one `caused by:` per cause whose
/// text is not already printed (errors often repeat their source in their own message, and wrappers
/// repeat it again; each text is printed once).
pub fn error_lines(e: &anyhow::Error) -> Vec<String> {
    let mut printed = e.to_string();
    let mut lines = vec![format!("error: {printed}")];
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        // A short generic wrapper (`db error`) whose own source carries the detail is left out.
        let generic = text.len() < 12 && cause.source().is_some();
        if generic || harbor_pipeline::run::is_repeated(&printed, &text) {
            continue;
        }
        lines.push(format!("  caused by: {text}"));
        printed.push('\n');
        printed.push_str(&text);
    }
    lines
}

/// The error and its causes on one line, each text once (for run traces).
pub fn error_text(e: &anyhow::Error) -> String {
    let lines = error_lines(e);
    lines
        .iter()
        .map(|l| {
            l.strip_prefix("error: ")
                .or_else(|| l.strip_prefix("  caused by: "))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join(": ")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that repeats its source in its own message, as wrappers do.
    #[derive(Debug)]
    struct Wrap(String, Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.0, self.1)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.1.as_ref())
        }
    }

    #[test]
    fn each_cause_is_printed_once() {
        let oom = std::io::Error::other("Out of Memory Error: 953 MiB");
        let middle = Wrap("cannot load x".into(), Box::new(oom));
        let outer = Wrap("destination d".into(), Box::new(middle));
        let e = anyhow::Error::new(outer).context("load failed");
        let lines = error_lines(&e);
        let all = lines.join("\n");
        assert_eq!(all.matches("Out of Memory Error").count(), 1, "{all}");
        assert_eq!(all.matches("cannot load x").count(), 1, "{all}");
        assert_eq!(lines[0], "error: load failed");
        assert_eq!(lines.len(), 2, "{all}");
        let text = error_text(&e);
        assert_eq!(text.matches("Out of Memory Error").count(), 1, "{text}");
        assert!(text.starts_with("load failed: destination d: "), "{text}");
    }
}

//! The parallel filter stage: a reader thread cuts lines into batches, workers filter them, and the
//! survivors come out on the calling thread in input order. Channels are bounded, so memory stays
//! at a few batches whatever the file size.

use std::collections::HashMap;

use crossbeam_channel::bounded;

use crate::error::Error;
use crate::filter::{DumpFilter, Verdict};
use crate::reader::DumpReader;

/// A kept record.
#[derive(Debug)]
pub struct DumpRecord {
    /// 1-based line number in the file.
    pub line: u64,
    /// The record.
    pub payload: Payload,
}

/// The content of a kept record.
#[derive(Debug)]
pub enum Payload {
    /// The line as it was (no projection, or not JSON: the normalizer rejects it).
    Bytes(Vec<u8>),
    /// The projected record.
    Value(serde_json::Value),
}

/// What one [`stream`] call did.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Lines consumed (blank lines included).
    pub lines: u64,
    /// Uncompressed bytes consumed.
    pub bytes: u64,
    /// Records handed on.
    pub kept: u64,
    /// Records the filter dropped.
    pub dropped: u64,
    /// The read error that ended the stream early (everything before it was handed on).
    pub error: Option<Error>,
    /// Whether `emit` asked to stop.
    pub stopped: bool,
}

/// Lines per batch handed to a worker.
const BATCH_LINES: usize = 512;

type Batch = (u64, Vec<(u64, Vec<u8>)>);
type Filtered = (u64, Vec<DumpRecord>, u64);

/// Reads up to `max_lines` lines from `reader`, filters them on `workers` threads and passes the kept
/// records to `emit` in input order. `emit` returns false to stop early. The reader's position is
/// exactly after the last line consumed when this returns.
pub fn stream(
    reader: &mut DumpReader,
    max_lines: u64,
    filter: &DumpFilter,
    workers: usize,
    emit: &mut dyn FnMut(DumpRecord) -> bool,
) -> StreamStats {
    if !filter.filters_records() && !filter.projects() {
        return pass_through(reader, max_lines, emit);
    }
    let workers = workers.max(1);
    let start = reader.position();
    let (raw_tx, raw_rx) = bounded::<Batch>(workers * 2);
    let (out_tx, out_rx) = bounded::<Filtered>(workers * 2);
    let mut stats = StreamStats::default();
    let src = &mut *reader;
    let read_error = std::thread::scope(|s| {
        let read = s.spawn(move || -> Option<Error> {
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(BATCH_LINES);
            let mut remaining = max_lines;
            let mut error = None;
            while remaining > 0 {
                match src.next_line() {
                    Ok(Some(line)) => {
                        remaining -= 1;
                        batch.push(line);
                        if batch.len() >= BATCH_LINES {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
                            if raw_tx.send((seq, full)).is_err() {
                                return None;
                            }
                            seq += 1;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = raw_tx.send((seq, batch));
            }
            error
        });
        for _ in 0..workers {
            let raw_rx = raw_rx.clone();
            let out_tx = out_tx.clone();
            s.spawn(move || {
                for (seq, batch) in raw_rx {
                    let mut kept = Vec::with_capacity(batch.len());
                    let mut dropped = 0u64;
                    for (line, bytes) in batch {
                        if bytes.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        match filter.apply(bytes) {
                            Verdict::Keep(payload) => kept.push(DumpRecord { line, payload }),
                            Verdict::Drop => dropped += 1,
                        }
                    }
                    if out_tx.send((seq, kept, dropped)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(raw_rx);
        drop(out_tx);

        let mut pending: HashMap<u64, Filtered> = HashMap::new();
        let mut next = 0u64;
        'outer: for item in out_rx.iter() {
            pending.insert(item.0, item);
            while let Some((_, records, dropped)) = pending.remove(&next) {
                next += 1;
                stats.dropped += dropped;
                for r in records {
                    stats.kept += 1;
                    if !emit(r) {
                        stats.stopped = true;
                        break 'outer;
                    }
                }
            }
        }
        drop(out_rx);
        read.join()
            .unwrap_or_else(|_| Some(Error::Filter("the dump reader thread panicked".into())))
    });
    let end = reader.position();
    stats.lines = end.line - start.line;
    stats.bytes = end.offset - start.offset;
    stats.error = read_error;
    stats
}

/// [`stream`] without filters: lines go to `emit` on this thread, with no hand-over between threads.
fn pass_through(
    reader: &mut DumpReader,
    max_lines: u64,
    emit: &mut dyn FnMut(DumpRecord) -> bool,
) -> StreamStats {
    let start = reader.position();
    let mut stats = StreamStats::default();
    let mut remaining = max_lines;
    while remaining > 0 {
        match reader.next_line() {
            Ok(Some((line, bytes))) => {
                remaining -= 1;
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                stats.kept += 1;
                if !emit(DumpRecord {
                    line,
                    payload: Payload::Bytes(bytes),
                }) {
                    stats.stopped = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                stats.error = Some(e);
                break;
            }
        }
    }
    let end = reader.position();
    stats.lines = end.line - start.line;
    stats.bytes = end.offset - start.offset;
    stats
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::reader::Position;

    fn lines(n: usize) -> String {
        (0..n)
            .map(|i| {
                if i % 10 == 3 {
                    "\n".to_owned()
                } else {
                    format!(
                        "{{\"id\":\"r{i}\",\"subreddit\":\"{}\",\"created_utc\":{i}}}\n",
                        ["a", "B"][i % 2]
                    )
                }
            })
            .collect()
    }

    fn run(path: &std::path::Path, filter: &DumpFilter, workers: usize, per_call: u64) -> Vec<u64> {
        let mut reader =
            DumpReader::open(path, Position::default(), Arc::new(AtomicU64::new(0))).expect("open");
        let mut got = Vec::new();
        loop {
            let before = reader.position();
            let stats = stream(&mut reader, per_call, filter, workers, &mut |r| {
                got.push(r.line);
                true
            });
            assert!(stats.error.is_none());
            assert_eq!(stats.lines, reader.position().line - before.line);
            if stats.lines < per_call {
                break;
            }
        }
        got
    }

    #[test]
    fn keeps_input_order_and_exact_positions_with_and_without_filters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("RS_t.ndjson");
        std::fs::write(&path, lines(5000)).expect("write");
        let all: Vec<u64> = (0..5000u64).filter(|i| i % 10 != 3).map(|i| i + 1).collect();
        assert_eq!(run(&path, &DumpFilter::default(), 2, 777), all);
        let b: Vec<u64> = all.iter().copied().filter(|l| (l - 1) % 2 == 1).collect();
        let f = DumpFilter::default().subreddits(["b"]);
        assert_eq!(run(&path, &f, 3, 1000), b);
        assert_eq!(run(&path, &f, 1, 5000), b);
    }
}

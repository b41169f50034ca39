//! Fuzz-style property tests (bounded, seconds in CI) of the line reader over plain and zstd input
//! and of the normalizer behind it: arbitrary bytes, mutated real dump records, truncated and
//! corrupted zstd. Nothing may panic; every line either becomes rows or is rejected with its line
//! number; a broken zstd stream ends with an error naming the last complete line, and every line
//! returned before it is a complete, unchanged line of the input.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use harbor_core::Schema;
use harbor_core::normalize::{NormalizeOptions, ResolveStats, SourceRef, resolve};
use harbor_dumps::{DumpReader, Error, Position};
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/dumps")
}

/// The first lines of the real comment dump excerpt (2019) and the Pushshift API submissions.
fn real_lines() -> &'static [Vec<u8>] {
    static LINES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let mut out = Vec::new();
        for f in [
            "pushshift_zreader/RC_2019-08_first1007.ndjson",
            "pushshift_api_pmaw/RS_pushshift-api_science+programming_2020-08..2022-12.head100.ndjson",
        ] {
            let text = std::fs::read(fixtures().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            out.extend(
                text.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .take(60)
                    .map(<[u8]>::to_vec),
            );
        }
        assert!(out.len() >= 100, "fixture lines: {}", out.len());
        out
    })
}

/// Reads every line of `path`: the lines with their numbers, and the error that ended the read.
fn read_all(path: &Path) -> (Vec<(u64, Vec<u8>)>, Option<Error>) {
    let mut r = match DumpReader::open(path, Position::default(), Arc::new(AtomicU64::new(0))) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut lines = Vec::new();
    loop {
        match r.next_line() {
            Ok(Some(l)) => lines.push(l),
            Ok(None) => return (lines, None),
            Err(e) => return (lines, Some(e)),
        }
    }
}

/// Normalizes the lines as dump records: each non-blank line must give rows or a reject carrying
/// its own line number.
fn check_normalized(lines: &[(u64, Vec<u8>)]) -> Result<(), TestCaseError> {
    let mut opts = NormalizeOptions::default();
    opts.routing.default_table = Some("submissions".into());
    let mut parsed = Vec::new();
    let mut bad_json = Vec::new();
    for (n, l) in lines {
        if l.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(l) {
            Ok(v) => parsed.push((v, SourceRef { file: 0, line: *n })),
            Err(_) => bad_json.push(*n),
        }
    }
    let empty: Vec<u64> = parsed
        .iter()
        .filter(|(v, _)| v.as_array().is_some_and(Vec::is_empty))
        .map(|(_, s)| s.line)
        .collect();
    let chunk = opts.flatten(parsed.iter().cloned());
    let mut accounted: std::collections::BTreeSet<u64> =
        chunk.rejects.iter().map(|r| r.source.line).collect();
    for t in chunk.tables.iter().filter(|t| t.parent.is_none()) {
        accounted.extend(t.sources.iter().map(|s| s.line));
    }
    for (_, s) in &parsed {
        prop_assert!(
            accounted.contains(&s.line) || empty.contains(&s.line),
            "line {} neither loaded nor rejected",
            s.line
        );
    }
    let lines_in: std::collections::BTreeSet<u64> = lines.iter().map(|(n, _)| *n).collect();
    prop_assert!(
        accounted.iter().all(|l| lines_in.contains(l)),
        "a row or reject names a line that does not exist"
    );
    let mut schema = Schema::default();
    let tables = resolve(
        chunk,
        &mut schema,
        &opts.resolve,
        "L",
        &mut ResolveStats::default(),
    );
    prop_assert!(tables.is_ok(), "resolve failed: {:?}", tables.err());
    for t in tables.unwrap_or_default() {
        prop_assert!(
            t.values.iter().all(|v| v.len() == t.rows),
            "ragged table {}",
            t.name
        );
    }
    // Lines that are not JSON are the pipeline's to reject (with their number); they must be real.
    prop_assert!(bad_json.iter().all(|l| lines_in.contains(l)));
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write input");
    p
}

/// Edits of a byte string: flip, insert, delete, cut.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Cut(usize),
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Flip(i, x) if !b.is_empty() => b[i % n] ^= x | 1,
            Edit::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Edit::Delete(i) if !b.is_empty() => {
                b.remove(i % n);
            }
            Edit::Cut(i) => b.truncate(i % n),
            _ => {}
        }
    }
    b
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        any::<u8>(),
        Just(b'\n'),
        Just(b'"'),
        Just(b'{'),
        Just(b'}'),
        Just(b',')
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, x)| Edit::Flip(i, x)),
        (any::<usize>(), byte).prop_map(|(i, x)| Edit::Insert(i, x)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

fn zstd_of(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).expect("zstd")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(
        prop_oneof![8 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'{')], 0..4096)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lines, err) = read_all(&write(dir.path(), "x.ndjson", &bytes));
        prop_assert!(err.is_none(), "{err:?}");
        let n = bytes.split(|b| *b == b'\n').count() - usize::from(bytes.ends_with(b"\n") || bytes.is_empty());
        prop_assert_eq!(lines.len(), n);
        prop_assert!(lines.iter().enumerate().all(|(i, (l, _))| *l == i as u64 + 1));
        check_normalized(&lines)?;
        // The same bytes as a zstd file read back the same lines.
        let (zlines, zerr) = read_all(&write(dir.path(), "x.zst", &zstd_of(&bytes)));
        prop_assert!(zerr.is_none(), "{zerr:?}");
        prop_assert_eq!(zlines, lines);
    }

    #[test]
    fn mutated_real_records_load_or_are_rejected_by_line(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..12),
        edits in prop::collection::vec(edit(), 0..6),
    ) {
        let real = real_lines();
        let mut text = Vec::new();
        for p in &picks {
            text.extend_from_slice(&real[p.index(real.len())]);
            text.push(b'\n');
        }
        let text = apply(text, &edits);
        let dir = tempfile::tempdir().expect("tempdir");
        let (lines, err) = read_all(&write(dir.path(), "m.ndjson", &text));
        prop_assert!(err.is_none(), "{err:?}");
        check_normalized(&lines)?;
    }

    #[test]
    fn truncated_or_corrupt_zstd_ends_with_the_last_complete_line(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..40),
        cut in any::<prop::sample::Index>(),
        flip in prop::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let real = real_lines();
        let mut text = Vec::new();
        let mut originals = Vec::new();
        for p in &picks {
            let l = &real[p.index(real.len())];
            originals.push(l.clone());
            text.extend_from_slice(l);
            text.push(b'\n');
        }
        let mut z = zstd_of(&text);
        let full = z.len();
        z.truncate(cut.index(full).max(1));
        if let Some((i, x)) = flip {
            let n = z.len();
            z[i.index(n)] ^= x;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (lines, err) = read_all(&write(dir.path(), "t.ndjson.zst", &z));
        // Every line handed out is numbered in order and, when the stream was only cut short, is a
        // complete original line (a flipped byte without a checksum can change a line's text).
        for (i, (n, l)) in lines.iter().enumerate() {
            prop_assert_eq!(*n, i as u64 + 1);
            prop_assert!(flip.is_some() || originals.get(i) == Some(l), "line {} is not the original line", n);
        }
        match err {
            Some(Error::Corrupt { line, .. }) => prop_assert_eq!(line, lines.len() as u64),
            Some(other) => prop_assert!(false, "unexpected error {other}"),
            // A cut that removed nothing of the data (or a flip the frame absorbed) reads to the end.
            None => prop_assert!(flip.is_some() || cut.index(full).max(1) == full || lines.len() <= originals.len()),
        }
        check_normalized(&lines)?;
    }
}

//! What a dump file holds (submissions or comments) and how it is encoded.

use std::path::Path;

/// The encoding of a dump file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// zstd-compressed NDJSON (any window up to 2 GiB, several frames allowed).
    Zstd,
    /// Plain NDJSON, including `.json` files with one object per line.
    Ndjson,
}

impl DumpFormat {
    /// Chooses the encoding from the file name.
    pub fn detect(path: &Path) -> DumpFormat {
        let name = file_name(path);
        if name.ends_with(".zst") || name.ends_with(".zstd") {
            DumpFormat::Zstd
        } else {
            DumpFormat::Ndjson
        }
    }
}

/// What the records of a dump are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// `RS_*` files: submissions.
    Submissions,
    /// `RC_*` files: comments.
    Comments,
}

impl DumpKind {
    /// The destination table.
    pub fn table(self) -> &'static str {
        match self {
            DumpKind::Submissions => "submissions",
            DumpKind::Comments => "comments",
        }
    }

    /// From the Pushshift naming convention: `RS_2019-08.zst`, `RC_2019-08.zst` (case-insensitive;
    /// also `RS-...` and names containing `submissions` / `comments`).
    pub fn from_name(path: &Path) -> Option<DumpKind> {
        let name = file_name(path);
        if name.starts_with("rs_") || name.starts_with("rs-") || name.contains("submission") {
            Some(DumpKind::Submissions)
        } else if name.starts_with("rc_") || name.starts_with("rc-") || name.contains("comment") {
            Some(DumpKind::Comments)
        } else {
            None
        }
    }

    /// From one record: submissions have a `title`, comments a `body`.
    pub fn from_record(line: &[u8]) -> Option<DumpKind> {
        #[derive(serde::Deserialize)]
        struct Probe {
            title: Option<serde::de::IgnoredAny>,
            body: Option<serde::de::IgnoredAny>,
        }
        let p: Probe = serde_json::from_slice(line).ok()?;
        match (p.title.is_some(), p.body.is_some()) {
            (true, _) => Some(DumpKind::Submissions),
            (false, true) => Some(DumpKind::Comments),
            _ => None,
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_names_and_records() {
        assert_eq!(
            DumpKind::from_name(Path::new("/d/RS_2019-08.zst")),
            Some(DumpKind::Submissions)
        );
        assert_eq!(
            DumpKind::from_name(Path::new("RC_2019-08.zst")),
            Some(DumpKind::Comments)
        );
        assert_eq!(DumpKind::from_name(Path::new("reddit_data.zst")), None);
        assert_eq!(
            DumpKind::from_record(br#"{"title":"x","id":"a"}"#),
            Some(DumpKind::Submissions)
        );
        assert_eq!(
            DumpKind::from_record(br#"{"body":"x","id":"a"}"#),
            Some(DumpKind::Comments)
        );
        assert_eq!(DumpKind::from_record(b"{"), None);
        assert_eq!(DumpFormat::detect(Path::new("a.ndjson.zst")), DumpFormat::Zstd);
        assert_eq!(DumpFormat::detect(Path::new("a.json")), DumpFormat::Ndjson);
    }
}

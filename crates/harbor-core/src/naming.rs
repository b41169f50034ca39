//! Identifier normalization: every table and column name is snake_case, collision-free within its
//! scope, idempotent, and no longer than the destination's limit.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Separator between the segments of a flattened path (`media__oembed__title`) and between a parent
/// table and its child table (`submissions__all_awardings`).
pub const PATH_SEPARATOR: &str = "__";

/// The identifier length every destination accepts (Postgres allows 63 bytes).
pub const DEFAULT_MAX_IDENTIFIER_LEN: usize = 63;

/// Normalizes one segment of a name to snake_case: `AuthorFlairText` -> `author_flair_text`,
/// `can't stop` -> `can_t_stop`, `1st` -> `_1st`. Runs of separators collapse to one `_`, so a segment
/// never contains the path separator `__`.
pub fn normalize_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 4);
    let mut prev: Option<char> = None;
    let chars: Vec<char> = raw.chars().collect();
    // Only letters that really change case count as uppercase (some, like '𝕊', have no lowercase).
    let upper = |c: char| c.is_uppercase() && c.to_lowercase().next() != Some(c);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            if upper(c) {
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
                let boundary = match prev {
                    Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                    Some(p) if upper(p) => next_lower,
                    _ => false,
                };
                if boundary && !out.ends_with('_') {
                    out.push('_');
                }
                out.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
            } else {
                out.push(c);
            }
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        prev = Some(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        return "_".to_owned();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The name of one raw key segment in a table or column name: [`normalize_segment`], plus a short
/// suffix derived from the spelling itself when the key has capitals that its snake_case name does
/// not need (`Foo`, `FOO`, `ID`, `FooBar`): `foo` -> `foo`, `Foo` -> `foo_1c2b9e`, whichever of the
/// two is seen first. The suffix depends only on the key, so keys that differ only in case get the
/// same names in every load order. Capitals that mark a word boundary a lowercase spelling could not
/// (`fooBar` -> `foo_bar`) need no suffix.
///
/// Names already stored in a schema keep their mapping; this only names keys seen for the first time.
pub fn name_segment(raw: &str) -> String {
    let name = normalize_segment(raw);
    if is_case_canonical(raw) {
        name
    } else {
        let hash = xxhash_rust::xxh3::xxh3_64(raw.as_bytes()) as u32 & 0x00ff_ffff;
        format!("{name}_{hash:06x}")
    }
}

/// Whether `raw` is the preferred spelling among the keys that differ from it only in case: every
/// capital in it is a camelCase hump (after a lowercase letter or digit, not followed by another
/// capital), which the snake_case name records as a `_`. Two different preferred spellings that
/// differ only in case therefore have different names, and every other spelling gets a suffix.
fn is_case_canonical(raw: &str) -> bool {
    let upper = |c: char| c.is_uppercase() && c.to_lowercase().next() != Some(c);
    let chars: Vec<char> = raw.chars().collect();
    chars.iter().enumerate().all(|(i, &c)| {
        !upper(c)
            || (i > 0
                && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit())
                && !chars.get(i + 1).is_some_and(|&n| upper(n)))
    })
}

/// Joins already normalized segments with [`PATH_SEPARATOR`] and shortens the result to `max_len`
/// bytes, keeping it unique with a hash suffix. Idempotent: a name that is already short enough is
/// returned unchanged.
pub fn join_path<S: AsRef<str>>(segments: &[S], max_len: usize) -> String {
    let joined = segments
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(PATH_SEPARATOR);
    shorten(&joined, max_len)
}

/// Shortens `name` to at most `max_len` bytes by truncating and appending a hash of the full name.
pub fn shorten(name: &str, max_len: usize) -> String {
    if name.len() <= max_len {
        return name.to_owned();
    }
    let hash = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(name.as_bytes()) as u32);
    let keep = max_len.saturating_sub(hash.len() + 1);
    let mut cut = keep;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", name[..cut].trim_end_matches('_'))
}

/// Normalizes a full identifier that may already contain path separators, segment by segment.
/// `normalize_identifier(normalize_identifier(x)) == normalize_identifier(x)`.
pub fn normalize_identifier(raw: &str, max_len: usize) -> String {
    let segments: Vec<String> = raw.split(PATH_SEPARATOR).map(normalize_segment).collect();
    join_path(&segments, max_len)
}

/// Assigns collision-free names within one scope (the columns of a table, or all tables).
///
/// Two different raw paths that normalize to the same name get distinct names: the first keeps the
/// name, later ones get a numeric suffix. Assignments are stable once made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NameMap {
    by_raw: HashMap<String, String>,
    #[serde(skip)]
    taken: HashMap<String, String>,
}

impl NameMap {
    /// Rebuilds the reverse index after deserialization.
    pub fn reindex(&mut self) {
        self.taken = self.by_raw.iter().map(|(r, n)| (n.clone(), r.clone())).collect();
    }

    /// The name assigned to `raw`, if any.
    pub fn get(&self, raw: &str) -> Option<&str> {
        self.by_raw.get(raw).map(String::as_str)
    }

    /// Whether a name is already assigned to some raw path.
    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains_key(name)
    }

    /// Assigns (or returns the existing) name for `raw`, starting from the candidate `normalized`.
    pub fn assign(&mut self, raw: &str, normalized: &str, max_len: usize) -> String {
        if let Some(n) = self.by_raw.get(raw) {
            return n.clone();
        }
        let mut name = shorten(normalized, max_len);
        let mut n = 2;
        while self.taken.contains_key(&name) {
            name = shorten(&format!("{normalized}_{n}"), max_len);
            n += 1;
        }
        self.by_raw.insert(raw.to_owned(), name.clone());
        self.taken.insert(name.clone(), raw.to_owned());
        name
    }

    /// Reserves a name for a system column so no data column takes it.
    pub fn reserve(&mut self, name: &str) {
        self.assign(name, name, usize::MAX);
    }
}

impl NameMap {
    /// Every (raw, assigned) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_raw.iter().map(|(r, n)| (r.as_str(), n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_examples() {
        assert_eq!(normalize_segment("AuthorFlairText"), "author_flair_text");
        assert_eq!(normalize_segment("created_utc"), "created_utc");
        assert_eq!(normalize_segment("HTMLParser"), "html_parser");
        assert_eq!(normalize_segment("can't stop"), "can_t_stop");
        assert_eq!(normalize_segment("1st"), "_1st");
        assert_eq!(normalize_segment("_meta"), "meta");
        assert_eq!(normalize_segment("a__b"), "a_b");
        assert_eq!(normalize_segment(""), "_");
        assert_eq!(normalize_segment("Ünïcode Straße"), "ünïcode_straße");
    }

    #[test]
    fn long_names_are_shortened_uniquely() {
        let a = "x".repeat(100);
        let b = format!("{}y", "x".repeat(99));
        let na = normalize_identifier(&a, 63);
        let nb = normalize_identifier(&b, 63);
        assert!(na.len() <= 63 && nb.len() <= 63);
        assert_ne!(na, nb);
        assert_eq!(normalize_identifier(&na, 63), na);
    }

    #[test]
    fn case_twins_are_named_by_their_own_spelling() {
        assert_eq!(name_segment("foo"), "foo");
        assert_eq!(name_segment("foo_bar"), "foo_bar");
        assert_eq!(name_segment("fooBar"), "foo_bar");
        assert_eq!(name_segment("author_flair_text"), "author_flair_text");
        let twins = ["Foo", "FOO", "fOO", "FooBar", "fooBAR"];
        for t in twins {
            let n = name_segment(t);
            assert!(n.len() == normalize_segment(t).len() + 7, "{t} -> {n}");
            assert_eq!(n, name_segment(t), "stable");
        }
        let all: std::collections::HashSet<String> = ["foo", "Foo", "FOO", "fOO"]
            .iter()
            .map(|t| name_segment(t))
            .collect();
        assert_eq!(all.len(), 4);
        let bar: std::collections::HashSet<String> = ["fooBar", "FooBar", "fooBAR"]
            .iter()
            .map(|t| name_segment(t))
            .collect();
        assert_eq!(bar.len(), 3);
    }

    #[test]
    fn collisions_get_suffixes() {
        let mut m = NameMap::default();
        assert_eq!(m.assign("fooBar", "foo_bar", 63), "foo_bar");
        assert_eq!(m.assign("foo_bar", "foo_bar", 63), "foo_bar_2");
        assert_eq!(m.assign("fooBar", "foo_bar", 63), "foo_bar");
    }
}

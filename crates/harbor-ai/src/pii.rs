//! PII masking: e-mail addresses, phone numbers and `u/name` mentions in titles and bodies, and
//! author names replaced by a keyed hash (HMAC-SHA256), applied before anything is written or sent.
//!
//! The same author always maps to the same `user_<hex>` under one key, so per-author analysis still
//! works, but the name cannot be recovered without the key.

use std::borrow::Cow;
use std::sync::LazyLock;

use hmac::{Hmac, KeyInit, Mac};
use regex::Regex;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::post::Post;

/// The `[pii]` section of `harbor.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiOptions {
    /// Mask before loading (collect, load, ingest) and before sending to an LLM.
    pub enabled: bool,
    /// Replace e-mail addresses with `[email]`.
    pub emails: bool,
    /// Replace phone numbers (9 to 15 digits) with `[phone]`.
    pub phones: bool,
    /// Replace `u/name` mentions with `u/[user]`.
    pub usernames: bool,
    /// Replace author names with `user_<keyed hash>`.
    pub authors: bool,
    /// The hash key (env `HARBOR_PII_KEY`); when unset, a random key is created once and kept in
    /// the pipeline's working directory. Never logged.
    #[serde(skip_serializing)]
    pub key: Option<SecretString>,
}

impl Default for PiiOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            emails: true,
            phones: true,
            usernames: true,
            authors: true,
            key: None,
        }
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .unwrap_or_else(|_| Regex::new("$^").expect("trivial regex"))
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+?\(?\d[\d\s().-]{6,}\d").unwrap_or_else(|_| Regex::new("$^").expect("trivial regex"))
});
static USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^\w/])/?u/[A-Za-z0-9_-]{2,20}")
        .unwrap_or_else(|_| Regex::new("$^").expect("trivial regex"))
});

/// Text fields of Reddit things that are masked.
const TEXT_FIELDS: &[&str] = &["title", "selftext", "selftext_html", "body", "body_html"];
/// Author fields replaced by the keyed hash.
const AUTHOR_FIELDS: &[&str] = &["author", "link_author"];

/// Applies the masking options with a key.
#[derive(Clone)]
pub struct Masker {
    opts: PiiOptions,
    key: Vec<u8>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Masker {
    /// A masker with these options and hash key.
    pub fn new(opts: &PiiOptions, key: &[u8]) -> Self {
        Self {
            opts: PiiOptions {
                key: None,
                ..opts.clone()
            },
            key: key.to_vec(),
        }
    }

    /// Masks e-mail addresses, phone numbers and `u/name` mentions in a text.
    pub fn mask_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        if self.opts.emails && EMAIL.is_match(&out) {
            out = Cow::Owned(EMAIL.replace_all(&out, "[email]").into_owned());
        }
        if self.opts.phones && PHONE.is_match(&out) {
            let replaced = PHONE.replace_all(&out, |c: &regex::Captures<'_>| {
                let m = &c[0];
                let digits = m.chars().filter(char::is_ascii_digit).count();
                if (9..=15).contains(&digits) {
                    "[phone]".to_owned()
                } else {
                    m.to_owned()
                }
            });
            out = Cow::Owned(replaced.into_owned());
        }
        if self.opts.usernames && USER.is_match(&out) {
            out = Cow::Owned(USER.replace_all(&out, "${1}u/[user]").into_owned());
        }
        out
    }

    /// The keyed hash of an author name (`[deleted]` and empty names are kept).
    pub fn author(&self, name: &str) -> String {
        if name.is_empty() || name == "[deleted]" || !self.opts.authors {
            return name.to_owned();
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return "user_unknown".to_owned();
        };
        mac.update(name.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let hex: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("user_{hex}")
    }

    /// A copy of a post with its title, body and comments masked.
    pub fn mask_post(&self, post: &Post) -> Post {
        let mut p = post.clone();
        p.title = self.mask_text(&p.title).into_owned();
        p.body = self.mask_text(&p.body).into_owned();
        for c in &mut p.comments {
            c.body = self.mask_text(&c.body).into_owned();
        }
        p
    }

    /// Masks a Reddit record in place, in any shape (a thing, a Listing, a comment tree, a bare
    /// dump line): text fields of every object, and author names.
    pub fn mask_record(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    match x {
                        Value::String(s) if TEXT_FIELDS.contains(&k.as_str()) => {
                            if let Cow::Owned(m) = self.mask_text(s) {
                                *s = m;
                            }
                        }
                        Value::String(s) if AUTHOR_FIELDS.contains(&k.as_str()) => {
                            *s = self.author(s);
                        }
                        Value::Object(_) | Value::Array(_) => self.mask_record(x),
                        _ => {}
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| self.mask_record(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker() -> Masker {
        Masker::new(&PiiOptions::default(), b"test key")
    }

    #[test]
    fn masks_emails_phones_and_mentions() {
        let m = masker();
        let t = m.mask_text(
            "Mail jane.doe@example.co.uk or call +1 (555) 123-4567, ask u/Jane_Doe or /u/bob. \
             Version 1.95 from 2024-05-01 costs $20.",
        );
        assert_eq!(
            t,
            "Mail [email] or call [phone], ask u/[user] or u/[user]. Version 1.95 from 2024-05-01 costs $20."
        );
        assert!(matches!(m.mask_text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn authors_get_a_stable_keyed_hash() {
        let m = masker();
        let a = m.author("spez");
        assert!(a.starts_with("user_") && a.len() == 21, "{a}");
        assert_eq!(m.author("spez"), a);
        assert_ne!(Masker::new(&PiiOptions::default(), b"other").author("spez"), a);
        assert_eq!(m.author("[deleted]"), "[deleted]");
    }

    #[test]
    fn masks_nested_reddit_things() {
        let mut v = json!({"kind": "Listing", "data": {"children": [{"kind": "t1", "data": {
            "author": "alice", "body": "write me at a@b.io", "replies": {"kind": "Listing", "data": {"children": [
                {"kind": "t1", "data": {"author": "bob", "body": "u/alice is right", "score": 3}}]}}}}]}});
        masker().mask_record(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("alice") && !text.contains("a@b.io") && !text.contains("\"bob\""),
            "{text}"
        );
        assert!(text.contains("[email]") && text.contains("u/[user] is right"));
    }
}

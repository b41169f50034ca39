//! Keeps secrets out of traces, alerts, messages and stored failure reasons.

use std::sync::LazyLock;

use regex::Regex;

static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a constant, valid pattern.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)[^@\s]+@").unwrap()
});

static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a constant, valid pattern.
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r#"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api[_-]?key|authorization)(["']?\s*[=:]\s*["']?)([^\s"'&,;]+)"#,
    )
    .unwrap()
});

static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a constant, valid pattern.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+").unwrap()
});

/// Replaces the password of every `scheme://user:password@host` in `text`, and the value of every
/// `password=...`, `token: ...`, `Bearer ...`-like pair.
pub fn redact_secrets(text: &str) -> String {
    let s = URL_PASSWORD.replace_all(text, "${1}***@");
    let s = KEY_VALUE.replace_all(&s, "${1}${2}***");
    BEARER.replace_all(&s, "${1}${2}***").into_owned()
}

static API_KEY: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a constant, valid pattern. Provider key shapes: `sk-...`, `sk-proj-...`,
    // `sk-ant-...`, `gsk_...`, `xai-...`, `AIza...`.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"\b(?:sk|gsk|xai|pk|rk)[-_][A-Za-z0-9_-]{8,}|\bAIza[A-Za-z0-9_-]{20,}").unwrap()
});

static LONG_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a constant, valid pattern.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"[A-Za-z0-9_+/=.-]{32,}").unwrap()
});

/// For text a remote service sent back (an LLM endpoint's error body, which a proxy may fill with
/// echoed request headers): [`redact_secrets`], then every provider-style key (`sk-...`), every
/// token-like run of 32 or more letters, digits and `_+/=.-` that mixes letters and digits, and
/// every occurrence of `known` (the configured key) replaced by `***`.
pub fn redact_remote(text: &str, known: Option<&str>) -> String {
    let mut s = text.to_owned();
    if let Some(k) = known.map(str::trim).filter(|k| k.len() >= 4) {
        s = s.replace(k, "***");
    }
    let s = redact_secrets(&s);
    let s = API_KEY.replace_all(&s, "***");
    LONG_TOKEN
        .replace_all(&s, |c: &regex::Captures<'_>| {
            let t = &c[0];
            let letters = t.bytes().any(|b| b.is_ascii_alphabetic());
            let digits = t.bytes().any(|b| b.is_ascii_digit());
            if letters && digits {
                "***".to_owned()
            } else {
                t.to_owned()
            }
        })
        .into_owned()
}

/// A URL with its password replaced (`postgres://user:***@host/db`).
pub fn redact_url(url: &str) -> String {
    URL_PASSWORD.replace_all(url, "${1}***@").into_owned()
}

/// Scheme, host and port of a URL: what may be shown of a webhook (its path is often the secret).
pub fn endpoint_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid url>".into();
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens_are_replaced() {
        let t = "cannot connect to postgres://harbor:s3cr3t@db:5432/x: password=hunter2 and Bearer abc.def token: xyz";
        let r = redact_secrets(t);
        for secret in ["s3cr3t", "hunter2", "abc.def", "xyz"] {
            assert!(!r.contains(secret), "{secret} leaked in {r}");
        }
        assert!(r.contains("postgres://harbor:***@db:5432/x"), "{r}");
        assert_eq!(redact_secrets("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn remote_bodies_lose_keys_and_tokens() {
        let key = "my-configured-key-123";
        let body = "{\"error\":\"bad key\",\"echo\":{\"authorization\":\"Bearer sk-proj-AbC123xyz789\",\
            \"x-api-key\":\"my-configured-key-123\"},\"url\":\"/v1?api_key=abcd1234\",\
            \"trace\":\"9f8e7d6c5b4a39281716a5b4c3d2e1f0a9b8c7d6\",\"other\":\"sk-ant-api03-QQQQQQQQ\"}";
        let r = redact_remote(body, Some(key));
        for secret in [
            "sk-proj-AbC123xyz789",
            "my-configured-key-123",
            "abcd1234",
            "9f8e7d6c5b4a39281716",
            "QQQQQQQQ",
        ] {
            assert!(!r.contains(secret), "{secret} leaked in {r}");
        }
        assert!(r.contains("bad key"), "{r}");
        assert_eq!(
            redact_remote("model not found: gpt-4o-mini", None),
            "model not found: gpt-4o-mini"
        );
    }

    #[test]
    fn endpoints_hide_paths_and_credentials() {
        assert_eq!(
            endpoint_of("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            endpoint_of("http://u:p@127.0.0.1:9000/hook?k=1"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(redact_url("postgres://u:p@h/db"), "postgres://u:***@h/db");
    }
}

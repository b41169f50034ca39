//! Keeps secrets out of traces, alerts and messages.

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

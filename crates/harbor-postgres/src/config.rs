//! Connection settings parsed from a `postgres://` URL.

use std::time::Duration;

use harbor_core::destination::DestinationError;

/// TLS use, as in libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS if the server offers it (libpq's default).
    Prefer,
    /// TLS required; the certificate is not checked (libpq semantics, what Supabase documents).
    Require,
    /// TLS required and the certificate checked against the Mozilla roots and the host name.
    VerifyFull,
}

/// Everything needed to connect, parsed from
/// `postgres://user:pass@host:port/db?schema=...&sslmode=...&pooler=transaction&lock=nowait`.
#[derive(Clone)]
pub struct PgConfig {
    /// User name.
    pub user: String,
    /// Password (never printed: see the `Debug` impl and [`PgConfig::describe`]).
    password: Option<String>,
    /// Host name or IP, or the directory of the server's Unix socket (starts with `/`: given as
    /// `postgres://user@%2Fvar%2Frun%2Fpostgresql/db` or `?host=/var/run/postgresql`, as libpq takes it).
    pub host: String,
    /// Port (default 5432).
    pub port: u16,
    /// Database (default: the user name).
    pub dbname: String,
    /// Schema holding the data and `_harbor_*` tables (default `public`).
    pub schema: String,
    /// TLS mode (default `prefer`).
    pub sslmode: SslMode,
    /// Transaction-pooler mode: no statement outlives its transaction (automatic on port 6543).
    pub transaction_pooler: bool,
    /// Wait for another run holding the pipeline's advisory lock (`lock=nowait` fails at once).
    pub lock_wait: bool,
    /// Timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// Connection attempts before a transient connection error is reported.
    pub connect_attempts: u32,
    /// Attempts of one load when the connection is lost mid-load.
    pub load_attempts: u32,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn bad(url_redacted: &str, what: impl std::fmt::Display) -> DestinationError {
    DestinationError::new(format!("invalid postgres URL `{url_redacted}`: {what}"))
        .hint("expected postgres://user:password@host:5432/database?schema=public&sslmode=require")
}

/// Decodes `%XX` escapes (passwords often hold `@`, `:` or `/`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl PgConfig {
    /// Parses a `postgres://` or `postgresql://` URL.
    pub fn parse(url: &str) -> Result<PgConfig, DestinationError> {
        let shown = redact(url);
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad(&shown, "it must start with postgres://"))?;
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = main.split_once('/').unwrap_or((main, ""));
        let (creds, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user, password) = match creds {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (percent_decode(u), Some(percent_decode(p))),
                None => (percent_decode(c), None),
            },
            None => ("postgres".to_owned(), None),
        };
        let hostport = percent_decode(hostport);
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, p) = h
                .split_once(']')
                .ok_or_else(|| bad(&shown, "unclosed [ in host"))?;
            (h.to_owned(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p),
                None => (hostport.clone(), ""),
            }
        };
        let port = if port.is_empty() {
            5432
        } else {
            port.parse()
                .map_err(|_| bad(&shown, format!("bad port `{port}`")))?
        };
        let host = if host.is_empty() {
            "localhost".to_owned()
        } else {
            host
        };
        let dbname = if path.is_empty() {
            user.clone()
        } else {
            percent_decode(path)
        };
        let mut cfg = PgConfig {
            user,
            password,
            host,
            port,
            dbname,
            schema: "public".into(),
            sslmode: SslMode::Prefer,
            transaction_pooler: port == 6543,
            lock_wait: true,
            connect_timeout: Duration::from_secs(10),
            connect_attempts: 5,
            load_attempts: 3,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "schema" | "search_path" => cfg.schema = v,
                "host" if !v.is_empty() => cfg.host = v,
                "port" => cfg.port = v.parse().map_err(|_| bad(&shown, format!("bad port `{v}`")))?,
                "sslmode" => {
                    cfg.sslmode = match v.as_str() {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" | "verify-ca" => SslMode::Require,
                        "verify-full" => SslMode::VerifyFull,
                        other => return Err(bad(&shown, format!("unknown sslmode `{other}`"))),
                    }
                }
                "pooler" => cfg.transaction_pooler = v == "transaction",
                "lock" => cfg.lock_wait = v != "nowait",
                "connect_timeout" => {
                    let s: u64 = v
                        .parse()
                        .map_err(|_| bad(&shown, "connect_timeout must be seconds"))?;
                    cfg.connect_timeout = Duration::from_secs(s.max(1));
                }
                "connect_attempts" => {
                    cfg.connect_attempts = v.parse().map_err(|_| bad(&shown, "bad connect_attempts"))?
                }
                "load_attempts" => {
                    cfg.load_attempts = v.parse().map_err(|_| bad(&shown, "bad load_attempts"))?
                }
                "application_name" | "options" => {}
                other => return Err(bad(&shown, format!("unknown parameter `{other}`"))),
            }
        }
        if cfg.host.contains('/') && !cfg.host.starts_with('/') {
            return Err(bad(
                &shown,
                format!(
                    "host `{}` is neither a host name nor a socket directory (an absolute path)",
                    cfg.host
                ),
            ));
        }
        if cfg.schema.is_empty() {
            return Err(bad(&shown, "schema is empty"));
        }
        Ok(cfg)
    }

    /// `postgres://user@host:port/db?schema=s`, without the password.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "postgres://{}@{}:{}/{}?schema={}",
            self.user,
            self.host.replace('/', "%2F"),
            self.port,
            self.dbname,
            self.schema
        );
        if self.transaction_pooler {
            s.push_str("&pooler=transaction");
        }
        s
    }

    /// The driver configuration.
    pub(crate) fn driver(&self) -> postgres::Config {
        self.async_driver().into()
    }

    /// The async driver's connection settings (for connection pools over `tokio-postgres`).
    pub fn async_driver(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.user(&self.user)
            .host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .application_name("harbor")
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        if let Some(p) = &self.password {
            c.password(p);
        }
        // A Unix socket never carries TLS (libpq does not use it there either).
        let local = self.host.starts_with('/');
        c.ssl_mode(match self.sslmode {
            _ if local => tokio_postgres::config::SslMode::Disable,
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supabase_pooler_url() {
        let c = PgConfig::parse("postgres://postgres.abc:p%40ss%3Aw@aws-0-eu.pooler.supabase.com:6543/postgres?sslmode=require&schema=reddit")
            .expect("valid");
        assert_eq!(c.user, "postgres.abc");
        assert_eq!(c.password.as_deref(), Some("p@ss:w"));
        assert_eq!(c.port, 6543);
        assert!(c.transaction_pooler);
        assert_eq!(c.sslmode, SslMode::Require);
        assert_eq!(c.schema, "reddit");
        assert!(!format!("{c:?}").contains("p@ss"));
        assert!(!c.describe().contains("p@ss"));
    }

    #[test]
    fn unix_socket_directories_as_libpq_takes_them() {
        let c = PgConfig::parse("postgres://u:pw@%2Fvar%2Frun%2Fpostgresql:5433/db").expect("valid");
        assert_eq!((c.host.as_str(), c.port), ("/var/run/postgresql", 5433));
        assert_eq!(
            c.describe(),
            "postgres://u@%2Fvar%2Frun%2Fpostgresql:5433/db?schema=public"
        );
        let c = PgConfig::parse("postgresql:///db?host=/tmp&port=5444").expect("valid");
        assert_eq!((c.host.as_str(), c.port, c.dbname.as_str()), ("/tmp", 5444, "db"));
        assert!(PgConfig::parse("postgres://u@db/x?host=tmp/sock").is_err());
    }

    #[test]
    fn defaults_and_errors() {
        let c = PgConfig::parse("postgresql://u@localhost/db").expect("valid");
        assert_eq!(
            (c.port, c.schema.as_str(), c.transaction_pooler, c.lock_wait),
            (5432, "public", false, true)
        );
        let e = PgConfig::parse("postgres://u:secret@h:xx/db").expect_err("bad port");
        assert!(!e.message.contains("secret"), "{}", e.message);
        assert!(PgConfig::parse("postgres://u@h/db?sslmode=maybe").is_err());
        assert!(PgConfig::parse("postgres://u@h/db?lock=nowait").is_ok_and(|c| !c.lock_wait));
    }
}

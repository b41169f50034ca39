//! The few expressions that differ between DuckDB and Postgres, and `?` placeholders in
//! Postgres' numbered form.

/// The SQL that differs between the engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// PostgreSQL (and Supabase).
    Postgres,
}

impl Dialect {
    /// A timestamp as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub fn iso(self, expr: &str) -> String {
        match self {
            Dialect::DuckDb => format!("strftime({expr}, '%Y-%m-%dT%H:%M:%SZ')"),
            Dialect::Postgres => format!("to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"),
        }
    }

    /// A timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    pub fn iso_ms(self, expr: &str) -> String {
        match self {
            Dialect::DuckDb => format!("strftime({expr}, '%Y-%m-%dT%H:%M:%S.%gZ')"),
            Dialect::Postgres => format!("to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"),
        }
    }

    /// Microseconds since the Unix epoch of a timestamp, as BIGINT.
    pub fn epoch_us(self, expr: &str) -> String {
        match self {
            Dialect::DuckDb => format!("epoch_us({expr})"),
            Dialect::Postgres => format!("CAST(EXTRACT(EPOCH FROM {expr}) * 1000000 AS BIGINT)"),
        }
    }

    /// `?` placeholders as `$1, $2, ...` (Postgres); quoted text and identifiers are left alone.
    pub(super) fn placeholders(self, sql: &str) -> String {
        if self == Dialect::DuckDb {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let (mut n, mut quote) = (0, None::<char>);
        for ch in sql.chars() {
            match (quote, ch) {
                (None, '\'' | '"') => {
                    quote = Some(ch);
                    out.push(ch);
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    out.push(ch);
                }
                (None, '?') => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(ch),
            }
        }
        out
    }
}

//! [`SqlStore`] over a PostgreSQL connection (the Postgres destination, or a legacy database).

use postgres::Client;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::{Dialect, SqlStore, Stmt, Value, quote};
use crate::error::{Error, Result};
use crate::redact::redact_url;

/// A PostgreSQL database.
pub struct PgStore {
    client: Client,
    /// To connect again after the server closed the connection (a restart); holds the password,
    /// so it is never printed (no `Debug`).
    url: String,
    describe: String,
    /// `SET LOCAL search_path ...` run first in every transaction, when the connection goes through
    /// a transaction pooler (which keeps no session state between transactions).
    scoped: Option<String>,
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl PgStore {
    /// Connects to `postgres://user:password@host:port/db` (the password never appears in errors).
    ///
    /// The URL takes the options of the Postgres destination (`schema`, `sslmode`, `pooler`): the
    /// operations tables live in the destination's schema, and behind a transaction pooler every
    /// statement runs in a transaction of its own that sets the search path first.
    pub fn connect(url: &str) -> Result<Self> {
        let describe = redact_url(url);
        let open_err = |message: String| Error::Open {
            store: describe.clone(),
            message: crate::redact::redact_secrets(&message),
        };
        let (mut client, cfg) = harbor_postgres::open_client(url).map_err(|e| {
            let mut message = e.message.clone();
            if let Some(hint) = &e.hint {
                message.push_str(&format!(" (hint: {hint})"));
            }
            open_err(message)
        })?;
        let search_path = format!("SET search_path TO {}", quote(&cfg.schema));
        let scoped = if cfg.transaction_pooler {
            Some(search_path.replacen("SET", "SET LOCAL", 1))
        } else {
            client
                .batch_execute(&search_path)
                .map_err(|e| open_err(error_text(&e)))?;
            None
        };
        Ok(Self {
            client,
            url: url.to_owned(),
            describe,
            scoped,
        })
    }

    /// Connects again when the server closed the connection (a restart or failover after an earlier
    /// statement failed), so one outage does not fail every later statement of a long process.
    fn live(&mut self) -> Result<()> {
        if self.client.is_closed() {
            tracing::info!(store = %self.describe, "The connection was closed; connecting again");
            *self = Self::connect(&self.url)?;
        }
        Ok(())
    }

    fn err(&self, what: &str) -> impl Fn(postgres::Error) -> Error + use<> {
        let store = self.describe.clone();
        let what = what.to_owned();
        move |e| Error::Sql {
            store: store.clone(),
            what: what.clone(),
            message: error_text(&e),
        }
    }
}

fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s.push_str(&format!(": {x}"));
                src = x.source();
            }
            s
        }
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => text_to_sql(&i.to_string(), ty, out),
            },
            Value::Float(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::INT8 => (*f as i64).to_sql(ty, out),
                _ => text_to_sql(&f.to_string(), ty, out),
            },
            Value::Text(s) => text_to_sql(s, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn text_to_sql(
    s: &str,
    ty: &Type,
    out: &mut postgres::types::private::BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    match *ty {
        Type::JSONB => {
            out.extend_from_slice(&[1]);
            out.extend_from_slice(s.as_bytes());
            Ok(IsNull::No)
        }
        Type::JSON | Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            out.extend_from_slice(s.as_bytes());
            Ok(IsNull::No)
        }
        _ => Err(format!("a text parameter cannot be sent as {ty}; cast it in the statement").into()),
    }
}

/// A result cell of any type.
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(Cell(match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Float(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Float(f64::from_sql(ty, raw)?),
            Type::JSONB => Value::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_owned()),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                // Microseconds since 2000-01-01 00:00:00 UTC.
                let micros = i64::from_sql(&Type::INT8, raw)?;
                let t = chrono::DateTime::from_timestamp_micros(micros + 946_684_800_000_000)
                    .ok_or("timestamp out of range")?;
                Value::Text(t.naive_utc().to_string())
            }
            Type::NUMERIC => return Err("cast NUMERIC results to DOUBLE PRECISION in the statement".into()),
            _ => Value::Text(std::str::from_utf8(raw)?.to_owned()),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl SqlStore for PgStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn batch(&mut self, sql: &str, what: &str) -> Result<()> {
        self.live()?;
        let e = self.err(what);
        match &self.scoped {
            Some(set) => self
                .client
                .batch_execute(&format!("BEGIN; {set}; {sql}; COMMIT;"))
                .map_err(e),
            None => self.client.batch_execute(sql).map_err(e),
        }
    }

    fn execute(&mut self, sql: &str, params: &[Value], what: &str) -> Result<u64> {
        self.live()?;
        let e = self.err(what);
        let scoped = self.scoped.clone();
        let Some(set) = scoped else {
            return self.client.execute(sql, &refs(params)).map_err(e);
        };
        let mut tx = self.client.transaction().map_err(&e)?;
        tx.batch_execute(&set).map_err(&e)?;
        let n = tx.execute(sql, &refs(params)).map_err(&e)?;
        tx.commit().map_err(e)?;
        Ok(n)
    }

    fn query(&mut self, sql: &str, params: &[Value], what: &str) -> Result<Vec<Vec<Value>>> {
        self.live()?;
        let e = self.err(what);
        let scoped = self.scoped.clone();
        let rows = match scoped {
            None => self.client.query(sql, &refs(params)).map_err(&e)?,
            Some(set) => {
                let mut tx = self.client.transaction().map_err(&e)?;
                tx.batch_execute(&set).map_err(&e)?;
                let rows = tx.query(sql, &refs(params)).map_err(&e)?;
                tx.commit().map_err(&e)?;
                rows
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                cells.push(row.try_get::<_, Cell>(i).map_err(&e)?.0);
            }
            out.push(cells);
        }
        Ok(out)
    }

    fn transaction(&mut self, stmts: &[Stmt], what: &str) -> Result<()> {
        self.live()?;
        let e = self.err(what);
        let scoped = self.scoped.clone();
        let mut tx = self.client.transaction().map_err(&e)?;
        if let Some(set) = scoped {
            tx.batch_execute(&set).map_err(&e)?;
        }
        for s in stmts {
            tx.execute(s.sql.as_str(), &refs(&s.params)).map_err(&e)?;
        }
        tx.commit().map_err(e)
    }
}

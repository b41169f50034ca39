//! Result rows of each engine as [`Row`]s of [`Cell`]s, and [`Param`]s bound in each engine's types.

use duckdb::Connection;
use tokio_postgres::types::{ToSql, Type};

use super::{Cell, Param, Row, pg_error};
use crate::error::ApiError;

pub(super) fn duck_rows(c: &Connection, sql: &str, params: &[Param]) -> Result<Vec<Row>, ApiError> {
    let mut out = Vec::new();
    duck_each(c, sql, params, |r| {
        out.push(r);
        Ok(true)
    })?;
    Ok(out)
}

/// Hands the rows of a query to `each` one by one, until it returns false.
pub fn duck_each(
    c: &Connection,
    sql: &str,
    params: &[Param],
    mut each: impl FnMut(Row) -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    use duckdb::types::{Value, ValueRef};
    let values: Vec<Value> = params
        .iter()
        .map(|p| match p {
            Param::Null => Value::Null,
            Param::Text(s) => Value::Text(s.clone()),
            Param::Int(n) => Value::BigInt(*n),
            Param::Float(f) => Value::Double(*f),
            Param::Bool(b) => Value::Boolean(*b),
        })
        .collect();
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(values))?;
    while let Some(r) = rows.next()? {
        let n = r.as_ref().column_count();
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(match r.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Boolean(b) => Cell::Bool(b),
                ValueRef::TinyInt(v) => Cell::Int(v.into()),
                ValueRef::SmallInt(v) => Cell::Int(v.into()),
                ValueRef::Int(v) => Cell::Int(v.into()),
                ValueRef::BigInt(v) => Cell::Int(v),
                ValueRef::UTinyInt(v) => Cell::Int(v.into()),
                ValueRef::USmallInt(v) => Cell::Int(v.into()),
                ValueRef::UInt(v) => Cell::Int(v.into()),
                ValueRef::UBigInt(v) => {
                    Cell::Int(i64::try_from(v).map_err(|e| ApiError::internal("result row", e))?)
                }
                ValueRef::HugeInt(v) => {
                    Cell::Int(i64::try_from(v).map_err(|e| ApiError::internal("result row", e))?)
                }
                ValueRef::Float(v) => Cell::Float(v.into()),
                ValueRef::Double(v) => Cell::Float(v),
                ValueRef::Decimal(_) => Cell::Float(r.get::<_, f64>(i)?),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                other => {
                    return Err(ApiError::internal(
                        "result row",
                        format!("column {i}: unsupported type {:?}", other.data_type()),
                    ));
                }
            });
        }
        if !each(Row(cells))? {
            break;
        }
    }
    Ok(())
}

const NULL_TEXT: Option<String> = None;

pub(super) async fn pg_rows<C: tokio_postgres::GenericClient + Sync>(
    c: &C,
    sql: &str,
    params: &[Param],
) -> Result<Vec<Row>, ApiError> {
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|p| -> (&(dyn ToSql + Sync), Type) {
            match p {
                Param::Null => (&NULL_TEXT, Type::TEXT),
                Param::Text(s) => (s, Type::TEXT),
                Param::Int(n) => (n, Type::INT8),
                Param::Float(f) => (f, Type::FLOAT8),
                Param::Bool(b) => (b, Type::BOOL),
            }
        })
        .collect();
    let rows = c
        .query_typed(sql, &typed)
        .await
        .map_err(|e| pg_error("database query", e))?;
    rows.iter().map(pg_row).collect()
}

pub(super) fn pg_row(r: &tokio_postgres::Row) -> Result<Row, ApiError> {
    let get_err = |e: tokio_postgres::Error| pg_error("result row", e);
    let mut cells = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let cell = if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i).map_err(get_err)?.map(Cell::Bool)
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map_err(get_err)?
                .map(|v| Cell::Int(v.into()))
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map_err(get_err)?
                .map(|v| Cell::Int(v.into()))
        } else if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i).map_err(get_err)?.map(Cell::Int)
        } else if *t == Type::FLOAT4 {
            r.try_get::<_, Option<f32>>(i)
                .map_err(get_err)?
                .map(|v| Cell::Float(v.into()))
        } else if *t == Type::FLOAT8 {
            r.try_get::<_, Option<f64>>(i).map_err(get_err)?.map(Cell::Float)
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME, Type::UNKNOWN].contains(t) {
            r.try_get::<_, Option<String>>(i)
                .map_err(get_err)?
                .map(Cell::Text)
        } else {
            return Err(ApiError::internal(
                "result row",
                format!("column {i} ({}): unsupported type {t}", col.name()),
            ));
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row(cells))
}

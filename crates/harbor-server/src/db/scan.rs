//! Reading every row of a few statements from one snapshot, one row at a time (the page index's
//! builds): DuckDB hands rows over from its result chunks, Postgres streams them from the wire, so
//! neither holds the whole result in memory.

use std::pin::pin;

use futures_util::TryStreamExt;
use tokio_postgres::types::Type;

use super::rows::pg_row;
use super::{Backend, Db, Row, begin, duck_each, pg_error};
use crate::error::ApiError;

/// What a scan hands each row to: the statement's index, the row; false stops the scan.
pub type Each<S> = fn(&mut S, usize, Row) -> Result<bool, ApiError>;

impl Db {
    /// Hands the rows of `stmts` (no parameters), in order, to `each` with `state`, all read from
    /// one snapshot; returns the state and whether every row was taken (false: `each` stopped).
    pub async fn scan<S: Send + 'static>(
        &self,
        stmts: Vec<String>,
        mut state: S,
        each: Each<S>,
    ) -> Result<(S, bool), ApiError> {
        match &self.backend {
            Backend::Duck { .. } => {
                self.run(move |c| {
                    let many = stmts.len() > 1;
                    if many {
                        c.execute_batch("BEGIN TRANSACTION")?;
                    }
                    let mut whole = true;
                    for (i, sql) in stmts.iter().enumerate() {
                        let done = duck_each(c, sql, &[], |r| {
                            whole = each(&mut state, i, r)?;
                            Ok(whole)
                        });
                        if let Err(e) = done {
                            if many {
                                let _ = c.execute_batch("ROLLBACK");
                            }
                            return Err(e);
                        }
                        if !whole {
                            break;
                        }
                    }
                    if many {
                        c.execute_batch("COMMIT")?;
                    }
                    Ok((state, whole))
                })
                .await
            }
            Backend::Pg { pool, scoped } => {
                let mut client = pool.get().await.map_err(|e| pg_error("postgres connection", e))?;
                let tx = begin(&mut client, false, scoped).await?;
                let mut whole = true;
                'stmts: for (i, sql) in stmts.iter().enumerate() {
                    let stream = tx
                        .query_typed_raw(sql, std::iter::empty::<(&str, Type)>())
                        .await
                        .map_err(|e| pg_error("database query", e))?;
                    let mut stream = pin!(stream);
                    while let Some(r) = stream
                        .try_next()
                        .await
                        .map_err(|e| pg_error("database query", e))?
                    {
                        whole = each(&mut state, i, pg_row(&r)?)?;
                        if !whole {
                            break 'stmts;
                        }
                    }
                }
                // Read only: dropping the transaction would roll back just the same, but a
                // commit gives the connection back to the pool at once.
                tx.commit().await.map_err(|e| pg_error("postgres commit", e))?;
                Ok((state, whole))
            }
        }
    }
}

//! The indexes the HTTP API's filters and orderings need (`harbor serve`), created as part of
//! harbor's schema migrations: after every committed load, each index whose table has the
//! columns it covers and that does not exist yet is created, idempotently (`IF NOT EXISTS`, in its
//! own transaction under the DDL advisory lock, so concurrent loaders never race on it).
//!
//! | index | serves |
//! |---|---|
//! | `submissions (COALESCE(created_utc, epoch) DESC, id DESC)` | `/submissions` newest first, `since`/`until`, the keyset cursor |
//! | `submissions (lower(subreddit), COALESCE(created_utc, epoch) DESC, id DESC)` | `/submissions?subreddit=`, `/subreddits` |
//! | `submissions (score)` | `min_score` |
//! | `submissions USING gin (title gin_trgm_ops)`, same for `selftext` | `q` (`ILIKE '%...%'`), when `pg_trgm` is available |
//! | `comments (link_id, created_utc, id)` | a submission's comment tree |
//! | `opportunity_analysis (final_score DESC NULLS LAST, post_id, scorer_id)` | `/opportunities` ranked |
//!
//! `q` keeps the substring semantics it has on DuckDB (the same answers on every destination); the
//! trigram indexes of Postgres' `pg_trgm` extension answer exactly those `ILIKE` patterns. When
//! the extension is not installed and cannot be created (it needs the `CREATE` privilege on the
//! database; Supabase ships it), `q` still works, by a scan, and `harbor schema` says so.

use std::collections::{BTreeMap, BTreeSet};

use postgres::Client;

use harbor_core::destination::IndexInfo;

use crate::ddl::{literal, qualified, quote};
use crate::destination::rows;

/// One index of the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiIndex {
    /// The table.
    pub table: &'static str,
    /// The index name (unique in the schema).
    pub name: &'static str,
    /// Columns the table must have.
    pub needs: &'static [&'static str],
    /// What follows `ON "schema"."table"`; `{trgm}` is the qualified trigram operator class.
    pub using: &'static str,
    /// Whether it needs `pg_trgm`.
    pub trigram: bool,
    /// What it serves, for `harbor schema`.
    pub serves: &'static str,
}

/// Every index of the API.
pub const API_INDEXES: &[ApiIndex] = &[
    ApiIndex {
        table: "submissions",
        name: "submissions_hapi_created",
        needs: &["id", "created_utc"],
        using: "((COALESCE(created_utc, TIMESTAMPTZ '1970-01-01 00:00:00+00')) DESC, id DESC)",
        trigram: false,
        serves: "newest first, since/until, cursor",
    },
    ApiIndex {
        table: "submissions",
        name: "submissions_hapi_subreddit",
        needs: &["id", "created_utc", "subreddit"],
        using: "(lower(subreddit), (COALESCE(created_utc, TIMESTAMPTZ '1970-01-01 00:00:00+00')) DESC, id DESC)",
        trigram: false,
        serves: "subreddit filter",
    },
    ApiIndex {
        table: "submissions",
        name: "submissions_hapi_score",
        needs: &["score"],
        using: "(score)",
        trigram: false,
        serves: "min_score",
    },
    ApiIndex {
        table: "submissions",
        name: "submissions_hapi_title_trgm",
        needs: &["title"],
        using: "USING gin (title {trgm})",
        trigram: true,
        serves: "q (title)",
    },
    ApiIndex {
        table: "submissions",
        name: "submissions_hapi_selftext_trgm",
        needs: &["selftext"],
        using: "USING gin (selftext {trgm})",
        trigram: true,
        serves: "q (selftext)",
    },
    ApiIndex {
        table: "comments",
        name: "comments_hapi_link",
        needs: &["link_id", "created_utc", "id"],
        using: "(link_id, created_utc, id)",
        trigram: false,
        serves: "comment tree of a submission",
    },
    ApiIndex {
        table: "opportunity_analysis",
        name: "opportunity_analysis_hapi_rank",
        needs: &["final_score", "post_id", "scorer_id"],
        using: "(final_score DESC NULLS LAST, post_id, scorer_id)",
        trigram: false,
        serves: "opportunities ranked",
    },
];

/// What [`ensure`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IndexReport {
    /// Indexes created now.
    pub created: Vec<String>,
    /// Why the trigram indexes are missing, when they are.
    pub trigram_unavailable: Option<String>,
}

fn columns(c: &mut Client, schema: &str) -> Result<BTreeMap<String, BTreeSet<String>>, postgres::Error> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let sql = format!(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns \
         WHERE table_schema = {} AND table_name IN ('submissions', 'comments', 'opportunity_analysis')",
        literal(schema)
    );
    for r in rows(c, &sql)? {
        if let [Some(t), Some(col)] = r.as_slice() {
            out.entry(t.clone()).or_default().insert(col.clone());
        }
    }
    Ok(out)
}

/// The index names of a schema.
pub fn existing(c: &mut Client, schema: &str) -> Result<BTreeSet<String>, postgres::Error> {
    let sql = format!(
        "SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE schemaname = {}",
        literal(schema)
    );
    Ok(rows(c, &sql)?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// The schema-qualified `gin_trgm_ops`, creating the extension when it is missing and allowed.
fn trigram_opclass(c: &mut Client) -> Result<String, String> {
    let find = |c: &mut Client| -> Result<Option<String>, postgres::Error> {
        Ok(rows(
            c,
            "SELECT CAST(n.nspname AS TEXT) FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace \
             WHERE o.opcname = 'gin_trgm_ops' LIMIT 1",
        )?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
    };
    let found = match find(c).map_err(|e| e.to_string())? {
        Some(ns) => ns,
        None => {
            c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .map_err(|e| match e.as_db_error() {
                    Some(db) => format!("pg_trgm is not installed and cannot be created: {}", db.message()),
                    None => e.to_string(),
                })?;
            find(c)
                .map_err(|e| e.to_string())?
                .ok_or("pg_trgm created but gin_trgm_ops not found")?
        }
    };
    Ok(format!("{}.gin_trgm_ops", quote(&found)))
}

/// Creates the missing indexes of [`API_INDEXES`] in `schema` whose tables have their columns.
pub fn ensure(c: &mut Client, schema: &str) -> Result<IndexReport, postgres::Error> {
    let cols = columns(c, schema)?;
    let have = existing(c, schema)?;
    let missing: Vec<&ApiIndex> = API_INDEXES
        .iter()
        .filter(|ix| !have.contains(ix.name))
        .filter(|ix| {
            cols.get(ix.table)
                .is_some_and(|t| ix.needs.iter().all(|n| t.contains(*n)))
        })
        .collect();
    let mut report = IndexReport::default();
    if missing.is_empty() {
        return Ok(report);
    }
    let trgm = if missing.iter().any(|ix| ix.trigram) {
        match trigram_opclass(c) {
            Ok(op) => Some(op),
            Err(why) => {
                report.trigram_unavailable = Some(why);
                None
            }
        }
    } else {
        None
    };
    let mut sql = String::from("BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('harbor:ddl', 0));");
    for ix in &missing {
        let using = match (&trgm, ix.trigram) {
            (Some(op), true) => ix.using.replace("{trgm}", op),
            (None, true) => continue,
            (_, false) => ix.using.to_owned(),
        };
        sql.push_str(&format!(
            "\nCREATE INDEX IF NOT EXISTS {} ON {} {using};",
            quote(ix.name),
            qualified(schema, ix.table)
        ));
        report.created.push(ix.name.to_owned());
    }
    if report.created.is_empty() {
        return Ok(report);
    }
    sql.push_str("\nCOMMIT;");
    if let Err(e) = c.batch_execute(&sql) {
        let _ = c.batch_execute("ROLLBACK");
        return Err(e);
    }
    Ok(report)
}

/// Every index of the tables of `schema`, with what the API's indexes serve.
pub fn list(c: &mut Client, schema: &str) -> Result<Vec<IndexInfo>, postgres::Error> {
    let sql = format!(
        "SELECT CAST(tablename AS TEXT), CAST(indexname AS TEXT), indexdef FROM pg_indexes \
         WHERE schemaname = {} AND tablename NOT LIKE '\\_harbor\\_%' ESCAPE '\\' ORDER BY tablename, indexname",
        literal(schema)
    );
    Ok(rows(c, &sql)?
        .into_iter()
        .filter_map(|r| {
            let mut r = r.into_iter();
            let (table, name, definition) = (r.next()??, r.next()??, r.next()??);
            Some(IndexInfo {
                table,
                purpose: API_INDEXES
                    .iter()
                    .find(|ix| ix.name == name)
                    .map(|ix| ix.serves.to_owned()),
                name,
                definition,
            })
        })
        .collect())
}

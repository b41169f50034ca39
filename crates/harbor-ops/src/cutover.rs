//! The gradual cutover from a legacy collector: each subreddit is routed to `harbor` or to
//! `legacy` (a configured command that harbor runs for the legacy share).
//!
//! Routes live in `_harbor_cutover` (one row per pipeline and subreddit, plus a `*` row: the route
//! of subreddits not listed), every change is appended to `_harbor_cutover_audit` with who, when
//! and why, and both happen in one transaction. A pipeline without rows has no cutover: everything
//! goes to harbor.
//!
//! Percentage phases rank the subreddits by a stable hash of their lowercased name (XXH3) and send
//! the first `ceil(n * pct / 100)` to harbor, so 10% of 5 subreddits is 1, 50% is 3, and every
//! subreddit routed to harbor at 10% stays on harbor at 50%.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{SqlStore, Stmt, Value};
use crate::trace::sql_now;

/// Where a subreddit is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// By harbor.
    Harbor,
    /// By the legacy command.
    Legacy,
}

impl Route {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Harbor => "harbor",
            Route::Legacy => "legacy",
        }
    }

    fn parse(s: &str) -> Route {
        if s == "harbor" {
            Route::Harbor
        } else {
            Route::Legacy
        }
    }
}

/// A cutover phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Everything on legacy (also the state after a rollback).
    ManualOnly,
    /// A share of the subreddits on harbor (100 = all).
    Percent(u8),
    /// Exactly these subreddits on harbor.
    List(Vec<String>),
}

impl Phase {
    /// Parses `manual_only`, `10%`, `50`, `100%`.
    pub fn parse(s: &str) -> Result<Phase> {
        let t = s.trim().to_ascii_lowercase();
        if t == "manual_only" || t == "manual" || t == "legacy" {
            return Ok(Phase::ManualOnly);
        }
        let n: u8 = t
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown cutover phase `{s}`: expected manual_only, 10%, 50%, 100% or a percentage"
                ))
            })?;
        Ok(if n == 0 {
            Phase::ManualOnly
        } else {
            Phase::Percent(n)
        })
    }

    /// The stored name (`manual_only`, `10%`, `list`).
    pub fn name(&self) -> String {
        match self {
            Phase::ManualOnly => "manual_only".into(),
            Phase::Percent(n) => format!("{n}%"),
            Phase::List(_) => "list".into(),
        }
    }
}

/// Checks a subreddit name (it is substituted into the legacy command line).
pub fn valid_subreddit(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn rank(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.to_ascii_lowercase().as_bytes())
}

/// The routes a phase gives a set of subreddits.
pub fn plan(phase: &Phase, subreddits: &[String]) -> BTreeMap<String, Route> {
    let mut subs: Vec<String> = subreddits.iter().map(|s| s.to_ascii_lowercase()).collect();
    subs.sort();
    subs.dedup();
    let harbor: Vec<String> = match phase {
        Phase::ManualOnly => Vec::new(),
        Phase::Percent(p) => {
            let mut ranked = subs.clone();
            ranked.sort_by_key(|s| (rank(s), s.clone()));
            let k = (subs.len() * usize::from(*p)).div_ceil(100);
            ranked.into_iter().take(k).collect()
        }
        Phase::List(l) => l.iter().map(|s| s.to_ascii_lowercase()).collect(),
    };
    let mut out: BTreeMap<String, Route> = subs.into_iter().map(|s| (s, Route::Legacy)).collect();
    for s in harbor {
        out.insert(s, Route::Harbor);
    }
    out
}

/// `CREATE TABLE IF NOT EXISTS` for the cutover and audit tables.
pub fn ensure_tables(store: &mut dyn SqlStore) -> Result<()> {
    let d = store.dialect();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS _harbor_cutover (
  pipeline TEXT NOT NULL, subreddit TEXT NOT NULL, route TEXT NOT NULL, phase TEXT NOT NULL,
  updated_at TIMESTAMP NOT NULL, PRIMARY KEY (pipeline, subreddit));
CREATE TABLE IF NOT EXISTS _harbor_cutover_audit (
  changed_at TIMESTAMP NOT NULL, pipeline TEXT NOT NULL, action TEXT NOT NULL, phase_from TEXT, phase_to TEXT NOT NULL,
  who TEXT NOT NULL, why TEXT, routes {json}, seconds {dbl});",
        json = d.json(),
        dbl = d.double()
    );
    store.batch(&sql, "create the cutover tables")
}

/// The cutover of one pipeline as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutoverStatus {
    /// The pipeline.
    pub pipeline: String,
    /// The phase (`off` when no cutover was ever set: everything on harbor).
    pub phase: String,
    /// Route of subreddits not listed.
    pub default_route: Route,
    /// Route per listed subreddit.
    pub routes: BTreeMap<String, Route>,
    /// The latest audit entries, newest first.
    pub audit: Vec<AuditEntry>,
}

impl CutoverStatus {
    /// The route of one subreddit.
    pub fn route_of(&self, subreddit: &str) -> Route {
        self.routes
            .get(&subreddit.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.default_route)
    }

    /// Splits subreddits into (harbor, legacy), keeping their order.
    pub fn split(&self, subreddits: &[String]) -> (Vec<String>, Vec<String>) {
        subreddits
            .iter()
            .cloned()
            .partition(|s| self.route_of(s) == Route::Harbor)
    }
}

/// One row of `_harbor_cutover_audit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// `set` or `rollback`.
    pub action: String,
    /// Phase before.
    pub phase_from: Option<String>,
    /// Phase after.
    pub phase_to: String,
    /// Who made the change (`--by`, or user@host).
    pub who: String,
    /// Why (`--reason`, or the triggers of `harbor check --rollback`).
    pub why: Option<String>,
    /// Seconds the change took, commit included.
    pub seconds: Option<f64>,
}

/// Reads the cutover of a pipeline (with up to `audit` audit entries).
pub fn status(store: &mut dyn SqlStore, pipeline: &str, audit: usize) -> Result<CutoverStatus> {
    let mut st = CutoverStatus {
        pipeline: pipeline.to_owned(),
        phase: "off".into(),
        default_route: Route::Harbor,
        routes: BTreeMap::new(),
        audit: Vec::new(),
    };
    if !store.table_exists("_harbor_cutover")? {
        return Ok(st);
    }
    let rows = store.query(
        "SELECT subreddit, route, phase FROM _harbor_cutover WHERE pipeline = CAST($1 AS TEXT) ORDER BY subreddit",
        &[pipeline.into()],
        "read _harbor_cutover",
    )?;
    for r in rows {
        let sub = r.first().and_then(Value::as_text).unwrap_or_default();
        let route = Route::parse(&r.get(1).and_then(Value::as_text).unwrap_or_default());
        if sub == "*" {
            st.default_route = route;
            st.phase = r.get(2).and_then(Value::as_text).unwrap_or_default();
        } else {
            st.routes.insert(sub, route);
        }
    }
    let rows = store.query(
        "SELECT CAST(changed_at AS TEXT), action, phase_from, phase_to, who, why, seconds FROM _harbor_cutover_audit \
         WHERE pipeline = CAST($1 AS TEXT) ORDER BY changed_at DESC LIMIT CAST($2 AS BIGINT)",
        &[pipeline.into(), i64::try_from(audit).unwrap_or(i64::MAX).into()],
        "read _harbor_cutover_audit",
    )?;
    st.audit = rows
        .into_iter()
        .map(|r| {
            let t = |i: usize| r.get(i).and_then(Value::as_text);
            AuditEntry {
                at: crate::trace::rfc3339(&t(0).unwrap_or_default()),
                action: t(1).unwrap_or_default(),
                phase_from: t(2),
                phase_to: t(3).unwrap_or_default(),
                who: t(4).unwrap_or_default(),
                why: t(5),
                seconds: r.get(6).and_then(Value::as_f64),
            }
        })
        .collect();
    Ok(st)
}

/// Who is making a change: `$USER@host`.
pub fn default_actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// One change, as the audit table records it.
struct Change<'a> {
    pipeline: &'a str,
    action: &'a str,
    from: &'a str,
    to: &'a str,
    who: &'a str,
    why: Option<&'a str>,
}

fn audit_stmt(c: &Change<'_>, routes: &BTreeMap<String, Route>, json: &str, seconds: f64) -> Stmt {
    let routes = serde_json::to_string(routes).unwrap_or_else(|_| "{}".into());
    Stmt::new(
        format!(
            "INSERT INTO _harbor_cutover_audit (changed_at, pipeline, action, phase_from, phase_to, who, why, routes, seconds) \
             VALUES (CAST(CAST($1 AS TEXT) AS TIMESTAMP), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), \
             CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT), CAST(CAST($8 AS TEXT) AS {json}), CAST($9 AS DOUBLE PRECISION))"
        ),
        vec![
            sql_now().into(),
            c.pipeline.into(),
            c.action.into(),
            c.from.into(),
            c.to.into(),
            c.who.into(),
            c.why.into(),
            routes.into(),
            seconds.into(),
        ],
    )
}

fn upsert_stmt(pipeline: &str, sub: &str, route: Route, phase: &str, now: &str) -> Stmt {
    Stmt::new(
        "INSERT INTO _harbor_cutover (pipeline, subreddit, route, phase, updated_at) VALUES (CAST($1 AS TEXT), \
         CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST(CAST($5 AS TEXT) AS TIMESTAMP)) \
         ON CONFLICT (pipeline, subreddit) DO UPDATE SET route = EXCLUDED.route, phase = EXCLUDED.phase, \
         updated_at = EXCLUDED.updated_at",
        vec![
            pipeline.into(),
            sub.into(),
            route.as_str().into(),
            phase.into(),
            now.into(),
        ],
    )
}

/// Sets a phase for `subreddits` (for a percentage: the population to take the share of). Returns
/// the new status. One transaction: the routes and the audit row.
pub fn set(
    store: &mut dyn SqlStore,
    pipeline: &str,
    phase: &Phase,
    subreddits: &[String],
    who: &str,
    why: Option<&str>,
) -> Result<CutoverStatus> {
    for s in subreddits.iter().chain(match phase {
        Phase::List(l) => l.iter(),
        _ => [].iter(),
    }) {
        if !valid_subreddit(s) {
            return Err(Error::invalid(format!(
                "`{s}` is not a subreddit name (letters, digits and _ only)"
            )));
        }
    }
    let t0 = Instant::now();
    ensure_tables(store)?;
    let before = status(store, pipeline, 0)?;
    let mut population: Vec<String> = subreddits.to_vec();
    if population.is_empty() {
        population = before.routes.keys().cloned().collect();
    }
    if let Phase::List(l) = phase {
        population.extend(l.iter().cloned());
    }
    if matches!(phase, Phase::Percent(p) if *p < 100) && population.is_empty() {
        return Err(Error::invalid(
            "a percentage needs the subreddits to share out: pass --subreddits or set [cutover] subreddits",
        ));
    }
    let routes = plan(phase, &population);
    let default = if *phase == Phase::Percent(100) {
        Route::Harbor
    } else {
        Route::Legacy
    };
    let name = phase.name();
    let now = sql_now();
    let mut stmts = vec![Stmt::new(
        "DELETE FROM _harbor_cutover WHERE pipeline = CAST($1 AS TEXT)",
        vec![pipeline.into()],
    )];
    stmts.push(upsert_stmt(pipeline, "*", default, &name, &now));
    for (s, r) in &routes {
        stmts.push(upsert_stmt(pipeline, s, *r, &name, &now));
    }
    let json = store.dialect().json();
    let change = Change {
        pipeline,
        action: "set",
        from: &before.phase,
        to: &name,
        who,
        why,
    };
    stmts.push(audit_stmt(&change, &routes, json, t0.elapsed().as_secs_f64()));
    store.transaction(&stmts, "set the cutover")?;
    status(store, pipeline, 5)
}

/// Sends every subreddit of a pipeline back to legacy in one transaction (routes + audit row).
/// Returns the seconds it took, commit included.
pub fn rollback(store: &mut dyn SqlStore, pipeline: &str, who: &str, why: Option<&str>) -> Result<f64> {
    let t0 = Instant::now();
    ensure_tables(store)?;
    let now = sql_now();
    let json = store.dialect().json();
    let phase_from = store
        .query(
            "SELECT phase FROM _harbor_cutover WHERE pipeline = CAST($1 AS TEXT) AND subreddit = '*'",
            &[pipeline.into()],
            "read _harbor_cutover",
        )?
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_text)
        .unwrap_or_else(|| "off".into());
    let change = Change {
        pipeline,
        action: "rollback",
        from: &phase_from,
        to: "manual_only",
        who,
        why,
    };
    let stmts = vec![
        Stmt::new(
            "UPDATE _harbor_cutover SET route = 'legacy', phase = 'manual_only', updated_at = CAST(CAST($2 AS TEXT) AS TIMESTAMP) \
             WHERE pipeline = CAST($1 AS TEXT)",
            vec![pipeline.into(), now.clone().into()],
        ),
        upsert_stmt(pipeline, "*", Route::Legacy, "manual_only", &now),
        audit_stmt(&change, &BTreeMap::new(), json, t0.elapsed().as_secs_f64()),
    ];
    store.transaction(&stmts, "roll back the cutover")?;
    Ok(t0.elapsed().as_secs_f64())
}

/// `(pipeline, route, subreddits)` for metrics; empty when no cutover table exists.
pub fn route_counts(store: &mut dyn SqlStore) -> Result<Vec<(String, String, u64)>> {
    if !store.table_exists("_harbor_cutover")? {
        return Ok(Vec::new());
    }
    let rows = store.query(
        "SELECT pipeline, route, count(*) FROM _harbor_cutover WHERE subreddit <> '*' GROUP BY pipeline, route ORDER BY 1, 2",
        &[],
        "read _harbor_cutover",
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some((
                r.first()?.as_text()?,
                r.get(1)?.as_text()?,
                r.get(2)?.as_i64()? as u64,
            ))
        })
        .collect())
}

/// Runs the legacy command for `subreddits`: `{subreddits}` in `template` becomes the
/// comma-separated names, and the line runs with `sh -c`. Returns the exit code.
pub fn run_legacy(template: &str, subreddits: &[String]) -> Result<i32> {
    if let Some(bad) = subreddits.iter().find(|s| !valid_subreddit(s)) {
        return Err(Error::invalid(format!("`{bad}` is not a subreddit name")));
    }
    let line = template.replace("{subreddits}", &subreddits.join(","));
    let shown = crate::redact::redact_secrets(&line);
    tracing::info!(command = %shown, "Running the legacy collector");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(&line)
        .status()
        .map_err(|e| Error::Command {
            command: shown.clone(),
            message: e.to_string(),
        })?;
    Ok(status.code().unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sub{i}")).collect()
    }

    #[test]
    fn percentages_grow_monotonically_and_round_up() {
        let s = subs(5);
        let on = |p: &Phase| {
            plan(p, &s)
                .into_iter()
                .filter(|(_, r)| *r == Route::Harbor)
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        let (ten, fifty, all) = (
            on(&Phase::Percent(10)),
            on(&Phase::Percent(50)),
            on(&Phase::Percent(100)),
        );
        assert_eq!((ten.len(), fifty.len(), all.len()), (1, 3, 5));
        assert!(ten.iter().all(|x| fifty.contains(x)));
        assert!(on(&Phase::ManualOnly).is_empty());
        assert_eq!(Phase::parse("10%").ok(), Some(Phase::Percent(10)));
        assert_eq!(Phase::parse("manual_only").ok(), Some(Phase::ManualOnly));
        assert!(Phase::parse("150%").is_err());
        assert!(!valid_subreddit("a;rm -rf /") && valid_subreddit("Rust_lang"));
    }
}

//! Settings: built-in defaults, then `harbor.toml`, then `--config FILE`, then `HARBOR_*` env vars,
//! then command-line flags, resolved into one validated [`Settings`] value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use harbor_core::WriteDisposition;
use harbor_core::contract::{Contracts, SchemaContract};
use serde::{Deserialize, Serialize};

/// The contents of `harbor.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Pipeline name: state, schema versions and loads are kept per pipeline.
    pub pipeline: String,
    /// Destination URL: `duckdb:///path/file.duckdb` (or a plain `*.duckdb` path).
    pub destination: String,
    /// Working directory for load packages and rejects files.
    pub workdir: PathBuf,
    /// Normalization and loading.
    pub load: LoadSettings,
    /// DuckDB tuning.
    pub duckdb: DuckDbSettings,
    /// Schema contracts: a `default` and per-table entries.
    pub contracts: ContractSettings,
    /// Per-table options for tables that are not Reddit things.
    pub tables: BTreeMap<String, TableSettings>,
    /// How to reach the Reddit API (`harbor collect`).
    pub reddit: RedditSettings,
    /// What `harbor collect` collects.
    pub collect: CollectSettings,
    /// Opportunity scoring (`harbor score`).
    pub score: harbor_ai::ScoreConfig,
    /// PII masking before loading and before sending to an LLM.
    pub pii: harbor_ai::PiiOptions,
    /// Alert webhooks (`[alerts]`).
    pub alerts: harbor_ops::alert::AlertConfig,
    /// The cutover from a legacy collector (`[cutover]`).
    pub cutover: harbor_ops::config::CutoverConfig,
    /// Rollback triggers evaluated by `harbor check` (`[check]`).
    pub check: harbor_ops::config::CheckConfig,
    /// Schedules run by `harbor schedule` (`[[schedules]]`).
    pub schedules: Vec<harbor_ops::config::ScheduleConfig>,
    /// The HTTP API (`harbor serve`).
    pub serve: ServeSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pipeline: "reddit".into(),
            destination: "duckdb:///harbor.duckdb".into(),
            workdir: PathBuf::from(".harbor"),
            load: LoadSettings::default(),
            duckdb: DuckDbSettings::default(),
            contracts: ContractSettings::default(),
            tables: BTreeMap::new(),
            reddit: RedditSettings::default(),
            collect: CollectSettings::default(),
            score: harbor_ai::ScoreConfig::default(),
            pii: harbor_ai::PiiOptions::default(),
            alerts: Default::default(),
            cutover: Default::default(),
            check: Default::default(),
            schedules: Vec::new(),
            serve: ServeSettings::default(),
        }
    }
}

/// Normalization and loading.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadSettings {
    /// Records per chunk (one job file per table per chunk).
    pub chunk_records: usize,
    /// Parse/normalize threads (0 = one per core).
    pub workers: usize,
    /// Objects and lists nested deeper than this are stored as one JSON column.
    pub max_nesting: usize,
    /// Compress job files with Snappy.
    pub compress_jobs: bool,
    /// Keep the job files of completed packages.
    pub keep_packages: bool,
    /// Column budget: the most columns a table gets (system, data and variant columns all count).
    /// An object with more leaves than this is stored as one JSON column; values that would need a
    /// column past it go to the table's `_harbor_overflow` JSON column. The default (1,000) stays
    /// under Postgres' limit of 1,600 columns per table with room for later variant columns.
    pub max_columns: usize,
    /// A package that failed this many times with the same non-transient error is set aside
    /// (`harbor packages list`) and later runs go on without it.
    pub max_package_attempts: u32,
    /// `harbor load` input per package (`64MB`, `1GB`, bytes): a larger input becomes several
    /// packages, each committed with the file position it reached, so memory stays bounded and a
    /// killed load resumes after the last committed package.
    pub package_size: String,
    /// Build the next package of a split `harbor load` while the last one loads (one more package
    /// in memory). Off by default: on 2 cores it was slower (bench/RESULTS.md, issue 16).
    pub overlap_packages: bool,
}

impl Default for LoadSettings {
    fn default() -> Self {
        Self {
            chunk_records: 2000,
            workers: 0,
            max_nesting: 6,
            compress_jobs: true,
            keep_packages: false,
            max_columns: harbor_core::schema::DEFAULT_MAX_COLUMNS,
            max_package_attempts: harbor_pipeline::DEFAULT_MAX_ATTEMPTS,
            package_size: format!("{}MB", harbor_pipeline::DEFAULT_PACKAGE_BYTES >> 20),
            overlap_packages: false,
        }
    }
}

/// DuckDB tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DuckDbSettings {
    /// DuckDB memory limit (`512MB`, `2GB`).
    pub memory_limit: String,
    /// DuckDB threads (0 = one per core).
    pub threads: usize,
}

impl Default for DuckDbSettings {
    fn default() -> Self {
        Self {
            memory_limit: "1GB".into(),
            threads: 0,
        }
    }
}

/// The HTTP API (`harbor serve`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSettings {
    /// Listen address.
    pub bind: String,
    /// Browser origins allowed to call the API (CORS), e.g. the web app's `https://app.example.com`.
    pub cors_origins: Vec<String>,
    /// Directory that `POST /api/v1/runs` may load files from (default: `<workdir>/inbox`).
    pub inbox: Option<PathBuf>,
    /// Seconds before a request is answered with 503 `timeout`.
    pub request_timeout_secs: u64,
    /// Largest page size a client may ask for.
    pub max_page: u32,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Database connections the API keeps for queries (default: 4 on DuckDB, 16 on Postgres).
    pub pool_size: Option<usize>,
    /// Megabytes of listing rows the API keeps rendered in their order per table, so that
    /// uncached `/submissions` and `/opportunities` pages need no query (0: always SQL).
    pub page_index_mb: usize,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            cors_origins: Vec::new(),
            inbox: None,
            request_timeout_secs: 30,
            max_page: 500,
            body_limit: 64 * 1024,
            pool_size: None,
            page_index_mb: 256,
        }
    }
}

/// Schema contracts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContractSettings {
    /// Applies to every table without its own entry.
    pub default: SchemaContract,
    /// By root table name.
    pub tables: BTreeMap<String, SchemaContract>,
}

/// Options of one root table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSettings {
    /// Primary key field (required for merge).
    pub primary_key: Option<String>,
    /// `merge`, `append` or `replace`.
    #[serde(default = "default_disposition")]
    pub disposition: String,
    /// Column budget of this table and its child tables (default: `[load] max_columns`).
    #[serde(default)]
    pub max_columns: Option<usize>,
}

fn default_disposition() -> String {
    "append".into()
}

/// `[reddit]`: how to reach the Reddit API. Secrets never go here: the client secret, the password
/// and a refresh token come only from `REDDIT_CLIENT_SECRET`, `REDDIT_PASSWORD` and
/// `REDDIT_REFRESH_TOKEN`; `REDDIT_CLIENT_ID`, `REDDIT_USERNAME`, `REDDIT_USER_AGENT`,
/// `HARBOR_REDDIT_API_URL` and `HARBOR_REDDIT_TOKEN_URL` override the values below.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedditSettings {
    /// OAuth client id of your Reddit app.
    pub client_id: String,
    /// User-Agent, e.g. `linux:myharbor:0.1 (by /u/yourname)`; Reddit requires a descriptive one.
    pub user_agent: String,
    /// API base URL.
    pub api_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Per-request timeout in milliseconds.
    pub timeout_ms: u64,
    /// Retries of a transient failure (429, 5xx, timeouts, broken bodies).
    pub max_retries: u32,
    /// First retry delay in milliseconds (doubled each retry, with jitter).
    pub retry_min_delay_ms: u64,
    /// Longest retry delay in milliseconds.
    pub retry_max_delay_ms: u64,
}

impl Default for RedditSettings {
    fn default() -> Self {
        let client = harbor_reddit::RedditConfig::default();
        Self {
            client_id: String::new(),
            user_agent: String::new(),
            api_url: client.api_url,
            token_url: client.token_url,
            timeout_ms: client.timeout_ms,
            max_retries: client.retry.max_retries,
            retry_min_delay_ms: client.retry.min_delay_ms,
            retry_max_delay_ms: client.retry.max_delay_ms,
        }
    }
}

/// `[collect]`: what `harbor collect` collects (flags override each value for one run).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectSettings {
    /// Subreddit names (without `r/`).
    pub subreddits: Vec<String>,
    /// Listings per subreddit: `new` (incremental), `hot`, `rising`, `top:week`, `controversial:all`.
    pub listings: Vec<String>,
    /// Most items read from one listing in one run (Reddit serves about 1000).
    pub limit: usize,
    /// Seconds below the `new` cursor that are read again, for posts that show up late.
    pub lag_window_secs: f64,
    /// Collect comment trees (of new posts and of posts whose `num_comments` grew).
    pub comments: bool,
    /// Comment sort: `confidence`, `new`, `top`, `old`...
    pub comment_sort: String,
    /// Calls per thread to expand "load more" stubs (like PRAW's `replace_more(limit)`); -1 = all.
    pub max_more_calls: i64,
    /// Posts younger than this many days are refreshed (score, comments, edits, deletions); 0 = off.
    pub refresh_window_days: f64,
    /// Problem filter: `tag` (store all, tag problem posts), `only` (store problem posts) or `off`.
    pub filter: String,
    /// Problem keywords; empty = the legacy list (struggle, problem, frustrated, wish, can't...).
    pub keywords: Vec<String>,
    /// Keep a `submission_history` row (score, comments, ratio) per post and run.
    pub history: bool,
    /// Blank the text and author of deleted or removed content (`removed_at` is always recorded).
    pub purge_removed: bool,
    /// Collect `/r/{sub}/about` into `subreddits`.
    pub subreddit_about: bool,
    /// Collect `/user/{name}/about` of new posts' authors into `redditors`.
    pub redditor_about: bool,
}

impl Default for CollectSettings {
    fn default() -> Self {
        Self {
            subreddits: Vec::new(),
            listings: vec!["new".into()],
            limit: 1000,
            lag_window_secs: 0.0,
            comments: true,
            comment_sort: "confidence".into(),
            max_more_calls: -1,
            refresh_window_days: 7.0,
            filter: "tag".into(),
            keywords: Vec::new(),
            history: false,
            purge_removed: false,
            subreddit_about: false,
            redditor_about: false,
        }
    }
}

/// Top-level keys that `HARBOR_*` variables may set (others, like `HARBOR_REDDIT_API_URL`, belong to
/// other parts and are ignored here).
const ENV_KEYS: &[&str] = &[
    "pipeline",
    "destination",
    "workdir",
    "load",
    "duckdb",
    "reddit.",
    "collect.",
    "score",
    "pii",
    "alerts",
    "serve",
];

impl Settings {
    /// Loads settings from `harbor.toml` in the current directory (if present), an explicit config file,
    /// and the environment.
    pub fn load(config: Option<&Path>) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if Path::new("harbor.toml").exists() {
            fig = fig.merge(Toml::file("harbor.toml"));
        }
        if let Some(c) = config {
            if !c.exists() {
                bail!("config file {} does not exist", c.display());
            }
            fig = fig.merge(Toml::file(c));
        }
        fig = fig.merge(Env::prefixed("HARBOR_").split("__").filter(|k| {
            // Keys keep the case of the variable name: HARBOR_DESTINATION is `DESTINATION`.
            let key = k.as_str().to_ascii_lowercase();
            ENV_KEYS.iter().any(|e| key.starts_with(e))
        }));
        let s: Settings = fig
            .extract()
            .context("invalid configuration (harbor.toml, --config or HARBOR_* variables)")?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (name, t) in &self.tables {
            let Some(d) = WriteDisposition::parse(&t.disposition) else {
                bail!(
                    "[tables.{name}] disposition = {:?}: expected merge, append or replace",
                    t.disposition
                );
            };
            if d == WriteDisposition::Merge && t.primary_key.is_none() {
                bail!("[tables.{name}] uses merge but has no primary_key");
            }
        }
        Ok(())
    }

    /// The contracts in core form.
    pub fn contracts(&self) -> Contracts {
        Contracts {
            default: self.contracts.default,
            tables: self.contracts.tables.clone(),
        }
    }

    /// Normalization and job-file options from `[load]`, `[contracts]` and `[tables]`, for sources
    /// that produce Reddit things (`harbor collect`).
    pub fn extract_options(&self) -> anyhow::Result<harbor_pipeline::ExtractOptions> {
        use harbor_core::normalize::{NormalizeOptions, ResolveOptions};
        let mut tables = BTreeMap::new();
        for (name, t) in &self.tables {
            let Some(d) = WriteDisposition::parse(&t.disposition) else {
                bail!("invalid disposition for {name}")
            };
            tables.insert(name.clone(), (d, t.primary_key.clone()));
        }
        let mut normalize = NormalizeOptions {
            resolve: ResolveOptions {
                contracts: self.contracts(),
                tables,
                ..Default::default()
            },
            ..Default::default()
        };
        normalize.flatten.max_nesting = self.load.max_nesting;
        let mut budget = harbor_core::normalize::ColumnBudget {
            default: self.load.max_columns,
            tables: BTreeMap::new(),
        };
        for (name, t) in &self.tables {
            if let Some(n) = t.max_columns {
                budget.tables.insert(name.clone(), n);
            }
        }
        // Fewer than 16 columns cannot hold the system columns and a few fields.
        for (what, n) in std::iter::once(("[load] max_columns".to_owned(), budget.default)).chain(
            budget
                .tables
                .iter()
                .map(|(t, n)| (format!("[tables.{t}] max_columns"), *n)),
        ) {
            if n < 16 {
                bail!("column budget of {what} is {n}; it must be at least 16");
            }
        }
        normalize.flatten.budget = budget.clone();
        normalize.resolve.budget = budget;
        for (name, t) in &self.tables {
            match &t.primary_key {
                Some(pk) => normalize.flatten.primary_keys.insert(name.clone(), pk.clone()),
                None => normalize.flatten.primary_keys.remove(name),
            };
        }
        let mut extract = harbor_pipeline::ExtractOptions {
            normalize,
            ..Default::default()
        };
        extract.chunk_records = self.load.chunk_records;
        if self.load.workers > 0 {
            extract.workers = self.load.workers;
        }
        extract.job = harbor_parquet::JobWriteOptions {
            compress: self.load.compress_jobs,
        };
        Ok(extract)
    }

    /// The Reddit client config: `[reddit]`, then the `REDDIT_*` / `HARBOR_REDDIT_*_URL` variables.
    pub fn reddit_config(&self) -> harbor_reddit::RedditConfig {
        let mut c = harbor_reddit::RedditConfig {
            client_id: self.reddit.client_id.clone(),
            user_agent: self.reddit.user_agent.clone(),
            api_url: self.reddit.api_url.clone(),
            token_url: self.reddit.token_url.clone(),
            timeout_ms: self.reddit.timeout_ms,
            ..Default::default()
        };
        c.retry.max_retries = self.reddit.max_retries;
        c.retry.min_delay_ms = self.reddit.retry_min_delay_ms;
        c.retry.max_delay_ms = self.reddit.retry_max_delay_ms;
        c.with_env_overrides()
    }
}

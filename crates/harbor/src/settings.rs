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
}

impl Default for LoadSettings {
    fn default() -> Self {
        Self {
            chunk_records: 2000,
            workers: 0,
            max_nesting: 6,
            compress_jobs: true,
            keep_packages: false,
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
}

fn default_disposition() -> String {
    "append".into()
}

/// Top-level keys that `HARBOR_*` variables may set (others, like `HARBOR_REDDIT_API_URL`, belong to
/// other parts and are ignored here).
const ENV_KEYS: &[&str] = &["pipeline", "destination", "workdir", "load", "duckdb", "serve"];

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
        fig = fig.merge(
            Env::prefixed("HARBOR_")
                .split("__")
                .filter(|k| ENV_KEYS.iter().any(|e| k.as_str().starts_with(e))),
        );
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
}

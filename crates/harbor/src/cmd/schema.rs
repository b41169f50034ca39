//! `harbor schema`

use clap::Args;

use crate::output::pipeline_error;
use crate::settings::Settings;

/// Print the tables and columns of the pipeline schema.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Only this table (and its child tables).
    #[arg(long, short = 't')]
    table: Option<String>,
    /// Print the schema as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: SchemaArgs) -> anyhow::Result<()> {
    let dest = crate::dest::open(settings)?;
    let mut p = crate::dest::open_pipeline(settings, dest)?;
    let schema = p.schema().map_err(pipeline_error)?;
    let tables: Vec<_> = schema
        .tables
        .values()
        .filter(|t| args.table.as_ref().is_none_or(|n| t.root == *n || t.name == *n))
        .collect();
    let indexes = p
        .destination()
        .indexes()
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let shown = |t: &str| tables.iter().any(|x| x.name == t);
    if args.json {
        // Each table with its indexes (`indexes` is left out where the destination keeps none).
        let out: Vec<serde_json::Value> = tables
            .iter()
            .map(|t| {
                let mut v = serde_json::to_value(t)?;
                let ix: Vec<_> = indexes.iter().filter(|i| i.table == t.name).collect();
                if let Some(o) = v.as_object_mut()
                    && !ix.is_empty()
                {
                    o.insert("indexes".into(), serde_json::to_value(ix)?);
                }
                Ok(v)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if tables.is_empty() {
        eprintln!(
            "no tables yet (schema version {}); load something with `harbor load`",
            schema.version
        );
        return Ok(());
    }
    let budget = settings.extract_options()?.normalize.resolve.budget;
    println!("schema version {}", schema.version);
    for t in &tables {
        let key = t
            .primary_key
            .as_deref()
            .map(|k| format!(", key {k}"))
            .unwrap_or_default();
        let parent = t
            .parent
            .as_deref()
            .map(|p| format!(", child of {p}"))
            .unwrap_or_default();
        println!("\n{} ({}{key}{parent})", t.name, t.disposition.name());
        // Which columns hold whole objects, and why (several paths can share the overflow column).
        let mut kept: std::collections::BTreeMap<&str, Vec<&'static str>> = Default::default();
        for p in t.json_paths.values() {
            let why = kept.entry(p.column.as_str()).or_default();
            if !why.contains(&p.reason.describe()) {
                why.push(p.reason.describe());
            }
        }
        for c in &t.columns {
            let note = match (&c.variant_of, c.placeholder, c.system) {
                (Some(v), _, _) => format!("  variant of {v}"),
                (_, true, _) => "  (only nulls so far)".to_owned(),
                (_, _, true) => "  (system)".to_owned(),
                _ if c.name == harbor_core::schema::C_OVERFLOW => {
                    "  keys past the column budget (and id keys of rows keyed by ids), as JSON".to_owned()
                }
                _ => match kept.get(c.name.as_str()) {
                    Some(why) => format!("  kept as one JSON column: {}", why.join(", ")),
                    None => String::new(),
                },
            };
            println!("  {:<40} {:<10}{note}", c.name, c.data_type.name());
        }
        println!(
            "  {} of {} columns used (column budget)",
            t.columns.len(),
            budget.for_root(&t.root)
        );
        for ix in indexes.iter().filter(|i| i.table == t.name) {
            let purpose = ix
                .purpose
                .as_deref()
                .map(|p| format!("  (API: {p})"))
                .unwrap_or_default();
            println!("  index {}{purpose}\n    {}", ix.name, ix.definition);
        }
    }
    let api_indexes = indexes
        .iter()
        .filter(|i| shown(&i.table) && i.purpose.is_some())
        .count();
    if api_indexes > 0 {
        println!("\n{api_indexes} indexes for `harbor serve`, created and kept by harbor's migrations");
    }
    Ok(())
}

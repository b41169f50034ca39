//! `harbor state show|reset`: what a pipeline remembers (cursors, tracked posts, file positions),
//! and forgetting it so the next run starts over.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use harbor_pipeline::collect::{self, Tracked};
use serde_json::Value;

use crate::output::{UserError, pipeline_error};
use crate::settings::Settings;

/// Show or reset the pipeline state: listing cursors, tracked posts, watch cursors, file positions.
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    action: StateAction,
}

#[derive(Debug, Subcommand)]
enum StateAction {
    /// Print the state keys and a summary of each value (tracked posts as counts).
    Show(ShowArgs),
    /// Forget state so the next run collects as a first run would; collected rows stay.
    ///
    /// Prints every key it would clear first, then asks (or --yes). Without --subreddit every key of
    /// the pipeline is cleared; stop `harbor watch` on the pipeline first, or it commits its
    /// cursors again.
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// Only the keys of these subreddits (repeatable).
    #[arg(long)]
    subreddit: Vec<String>,
    /// Print the values in full as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ResetArgs {
    /// Only the keys of these subreddits (repeatable): their listing, tracked-post and watch keys.
    #[arg(long)]
    subreddit: Vec<String>,
    /// Reset without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(settings: &Settings, args: StateArgs) -> anyhow::Result<()> {
    let dest = crate::dest::open(settings)?;
    let mut pipeline = crate::dest::open_pipeline(settings, dest)?;
    let state = pipeline.state().map_err(pipeline_error)?;
    let subreddits = match &args.action {
        StateAction::Show(a) => &a.subreddit,
        StateAction::Reset(a) => &a.subreddit,
    };
    let selected: Vec<(&String, &Value)> = state
        .values
        .iter()
        .filter(|(_, v)| !v.is_null())
        .filter(|(k, _)| subreddits.is_empty() || subreddits.iter().any(|s| collect::subreddit_key(k, s)))
        .collect();
    let describe = pipeline.destination().describe();
    match args.action {
        StateAction::Show(a) if a.json => {
            let map: serde_json::Map<String, Value> = selected
                .iter()
                .map(|(k, v)| ((*k).clone(), (*v).clone()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
        }
        StateAction::Show(_) => {
            println!(
                "pipeline {} -> {describe}: {} state keys",
                settings.pipeline,
                selected.len()
            );
            print_keys(&selected);
        }
        StateAction::Reset(a) => {
            if selected.is_empty() {
                eprintln!(
                    "nothing to reset: pipeline `{}` has no such state",
                    settings.pipeline
                );
                return Ok(());
            }
            println!(
                "reset of pipeline `{}` in {describe} forgets {} state keys (collected rows stay; the \
                 next run collects as a first run would):",
                settings.pipeline,
                selected.len()
            );
            print_keys(&selected);
            if !a.yes && !confirm()? {
                eprintln!("nothing changed");
                return Ok(());
            }
            let keys: Vec<String> = selected.iter().map(|(k, _)| (*k).clone()).collect();
            let source = if a.subreddit.is_empty() {
                "harbor state reset".to_owned()
            } else {
                format!("harbor state reset r/{}", a.subreddit.join(", r/"))
            };
            let n = collect::forget(&mut pipeline, &keys, &source).map_err(pipeline_error)?;
            eprintln!("forgot {n} state keys");
        }
    }
    Ok(())
}

/// Asks on the terminal; refuses when stdin is not one (a script must say --yes).
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(UserError {
            message: "not resetting: stdin is not a terminal, so nobody can confirm".into(),
            hint: Some("pass --yes to reset without asking (the keys above are what changes)".into()),
        }
        .into());
    }
    eprint!("reset these keys? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn print_keys(keys: &[(&String, &Value)]) {
    let width = keys.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in keys {
        println!("  {k:<width$}  {}", summarize(k, v));
    }
}

/// A value in one short line: tracked posts as a count, long lists as their length.
pub fn summarize(key: &str, value: &Value) -> String {
    if key.starts_with("reddit/tracked/") {
        let n = value.as_object().map_or(0, serde_json::Map::len);
        return format!("{n} tracked posts");
    }
    let text = shrink(value).to_string();
    match text.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// The value with every list longer than 3 replaced by `"<n items>"`.
fn shrink(value: &Value) -> Value {
    match value {
        Value::Array(a) if a.len() > 3 => Value::String(format!("<{} items>", a.len())),
        Value::Array(a) => Value::Array(a.iter().map(shrink).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shrink(v))).collect()),
        other => other.clone(),
    }
}

/// Tracked posts per subreddit (`reddit/tracked/r/{sub}` keys), for `harbor status`.
pub fn tracked_counts(state: &harbor_core::state::PipelineState) -> Vec<(String, usize)> {
    state
        .values
        .keys()
        .filter_map(|k| k.strip_prefix("reddit/tracked/r/"))
        .map(|sub| (sub.to_owned(), Tracked::from_state(state, sub).posts.len()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_summarized_in_one_short_line() {
        let tracked = json!({"t3_a": {"c": 1.0}, "t3_b": {"c": 2.0}});
        assert_eq!(summarize("reddit/tracked/r/rust", &tracked), "2 tracked posts");
        let cursor =
            json!({"head_utc": 5.0, "recent": [["t3_a", 1.0], ["t3_b", 2.0], ["t3_c", 3.0], ["t3_d", 4.0]]});
        assert_eq!(
            summarize("watch/r/rust/new", &cursor),
            r#"{"head_utc":5.0,"recent":"<4 items>"}"#
        );
        assert_eq!(summarize("x", &json!("y".repeat(300))).chars().count(), 101);
    }
}

//! `harbor init`: a commented `harbor.toml` and a `.env` template in a directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::output::UserError;

/// The `harbor.toml` written: every setting with its default or an example, commented out.
pub const HARBOR_TOML: &str = include_str!("../../templates/harbor.toml");

/// The `.env` template: the variables that carry secrets, empty.
pub const ENV_TEMPLATE: &str = include_str!("../../templates/env");

/// Write a commented harbor.toml and a .env template for the secrets.
///
/// harbor.toml lists the settings a new pipeline usually changes, each with its default or an
/// example, commented out; .env (mode 0600) lists the variables that carry secrets (Reddit app,
/// Postgres password, LLM key, alert webhook). Refuses to overwrite either file: nothing is
/// written when one of them exists.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into.
    #[arg(default_value = ".", value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    let toml = args.dir.join("harbor.toml");
    let env = args.dir.join(".env");
    let existing: Vec<String> = [&toml, &env]
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(UserError {
            message: format!("{} already exists; nothing written", existing.join(" and ")),
            hint: Some(
                "move it away to start over, or edit it (`harbor init DIR` writes into another directory)"
                    .into(),
            ),
        }
        .into());
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    write_new(&toml, HARBOR_TOML, 0o644)?;
    write_new(&env, ENV_TEMPLATE, 0o600)?;
    eprintln!("wrote {} and {} (mode 0600)", toml.display(), env.display());
    eprintln!(
        "next: fill in .env (a Reddit app's id and secret), load it with `set -a; . ./.env; set +a`, \
         set [collect] subreddits, then `harbor run`"
    );
    Ok(())
}

/// Creates `path` with `text`; fails if it exists (also when another process made it meanwhile).
fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = open
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    /// The template with every `# key = value`, `# [section]` and `# [[section]]` line uncommented.
    fn uncommented() -> String {
        HARBOR_TOML
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        }) =>
                {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn load(text: &str) -> Settings {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("harbor.toml");
        std::fs::write(&path, text).expect("write");
        Settings::load(Some(&path)).unwrap_or_else(|e| panic!("{e:#}\n{text}"))
    }

    /// Every key whose value differs from the built-in default, as `section.key`.
    fn differences(s: &Settings) -> Vec<String> {
        let ours = serde_json::to_value(s).expect("json");
        let defaults = serde_json::to_value(Settings::default()).expect("json");
        let mut out = Vec::new();
        for (section, value) in ours.as_object().expect("object") {
            match value.as_object() {
                Some(map) => {
                    for (key, v) in map {
                        if defaults[section][key] != *v {
                            out.push(format!("{section}.{key}"));
                        }
                    }
                }
                None if defaults[section] != *value => out.push(section.clone()),
                None => {}
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_template_parses_as_written_and_equals_the_defaults() {
        assert_eq!(differences(&load(HARBOR_TOML)), Vec::<String>::new());
    }

    #[test]
    fn every_documented_setting_is_real_and_says_its_true_default() {
        let text = uncommented();
        assert!(
            text.lines().filter(|l| l.contains(" = ")).count() > 30,
            "the settings were uncommented:\n{text}"
        );
        let s = load(&text);
        // Only the examples differ from the defaults; every other value shown is the default.
        assert_eq!(
            differences(&s),
            [
                "alerts.email",
                "collect.subreddits",
                "reddit.user_agent",
                "schedules",
                "score.max_cost_usd",
                "serve.cors_origins"
            ]
        );
        assert_eq!(s.schedules[0].args[0], "run");
    }

    #[test]
    fn the_env_template_names_only_variables_harbor_reads() {
        let names: Vec<&str> = ENV_TEMPLATE
            .lines()
            .map(|l| l.trim_start_matches("# "))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(names.len() >= 9, "{names:?}");
        let sources = [
            include_str!("../../../harbor-reddit/src/config.rs"),
            include_str!("../../../harbor-ai/src/config.rs"),
            include_str!("pii.rs"),
            include_str!("../settings.rs"),
        ]
        .concat();
        for name in names {
            let read = match name.split_once("__") {
                // HARBOR_ALERTS__WEBHOOK: figment's HARBOR_ prefix, section and key.
                Some((section, key)) => {
                    let section = section.trim_start_matches("HARBOR_").to_ascii_lowercase();
                    sources.contains(&format!("\"{section}\"")) && {
                        // HARBOR_ALERTS__EMAIL__SMTP_URL: the first key is a field of [alerts].
                        let key = key.split("__").next().unwrap_or(key).to_ascii_lowercase();
                        include_str!("../../../harbor-ops/src/alert.rs").contains(&format!("pub {key}:"))
                    }
                }
                None if name == "HARBOR_DESTINATION" => sources.contains("\"destination\""),
                None => sources.contains(&format!("\"{name}\"")),
            };
            assert!(read, "{name} is not read by harbor");
        }
    }
}

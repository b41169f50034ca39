//! `harbor token create|list|revoke`: bearer tokens of the HTTP API.

use clap::{Args, Subcommand};
use harbor_server::{Scope, TokenStore};

use crate::output::UserError;
use crate::settings::Settings;

/// Manage API tokens (stored hashed in <workdir>/tokens.json; a token is shown once).
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: TokenAction,
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token and print it once on stdout.
    Create {
        /// read (data, runs, status, metrics), write (also start runs) or admin (also cutover).
        #[arg(long, value_parser = ["read", "write", "admin"])]
        scope: String,
        /// A name to recognise it by (e.g. the app using it).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List tokens (ids, names, scopes; never the tokens).
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or name; a running server refuses it at once.
    Revoke {
        /// Token id (from `harbor token list`) or name.
        id: String,
    },
}

/// Where the tokens live.
pub fn store(settings: &Settings) -> TokenStore {
    TokenStore::new(settings.workdir.join("tokens.json"))
}

pub fn run(settings: &Settings, args: TokenArgs) -> anyhow::Result<()> {
    let store = store(settings);
    match args.action {
        TokenAction::Create { scope, name } => {
            let scope = Scope::parse(&scope).ok_or_else(|| UserError {
                message: format!("unknown scope {scope}"),
                hint: Some("use read, write or admin".into()),
            })?;
            let (rec, token) = store.create(scope, &name)?;
            println!("{token}");
            eprintln!(
                "created {} token {} ({}); it is shown only this once, store it now",
                scope.as_str(),
                rec.id,
                store.path().display()
            );
        }
        TokenAction::List { json } => {
            let records = store.list()?;
            if json {
                let v: Vec<_> = records
                    .iter()
                    .map(|r| {
                        serde_json::json!({"id": r.id, "name": r.name, "scope": r.scope,
                            "created_at": r.created_at, "revoked_at": r.revoked_at})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for r in &records {
                    println!(
                        "{}  {:<6} {:<20} created {}{}",
                        r.id,
                        r.scope.as_str(),
                        r.name,
                        r.created_at,
                        r.revoked_at
                            .as_ref()
                            .map(|t| format!("  revoked {t}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        TokenAction::Revoke { id } => {
            if !store.revoke(&id)? {
                return Err(UserError {
                    message: format!("no live token with id or name `{id}`"),
                    hint: Some("`harbor token list` shows the ids".into()),
                }
                .into());
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}

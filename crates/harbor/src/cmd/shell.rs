//! `harbor completions` and `harbor man`: shell completions and man pages generated from the CLI
//! definition itself (clap_complete, clap_mangen), so they never fall behind the flags.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a shell completion script on stdout.
///
/// bash: `harbor completions bash > ~/.local/share/bash-completion/completions/harbor`;
/// zsh: `harbor completions zsh > ~/.zfunc/_harbor` (with `fpath+=~/.zfunc` before `compinit`);
/// fish: `harbor completions fish > ~/.config/fish/completions/harbor.fish`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Print the man page (roff) on stdout, or write one page per command into a directory.
///
/// `harbor man | man -l -` reads it now; `harbor man --dir /usr/local/share/man/man1` installs
/// harbor.1 and harbor-<command>.1 for every command.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write harbor.1 and a harbor-<command>.1 per command here instead of printing harbor.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = crate::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "harbor", &mut out);
    out.flush().context("cannot write the completion script")
}

pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let cmd = crate::Cli::command();
    let Some(dir) = args.dir else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .context("cannot write the man page")?;
        return out.flush().context("cannot write the man page");
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut pages = vec![("harbor".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        let name = format!("harbor-{}", sub.get_name());
        // The page's title and usage line name the whole command: `harbor-collect` / `harbor collect`.
        let page = sub.clone().bin_name(format!("harbor {}", sub.get_name()));
        pages.push((name, page));
    }
    for (name, page) in &pages {
        let path = dir.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(page.clone())
            .title(name.clone())
            .render(&mut text)
            .with_context(|| format!("cannot render {name}.1"))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("wrote {} man pages to {}", pages.len(), dir.display());
    Ok(())
}

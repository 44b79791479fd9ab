//! `genred completions SHELL` and `genred man`: shell completions and the man page, made by
//! clap's own generators from the same definitions `--help` shows, so they never drift.

use std::io::{self, Write};
use std::process::ExitCode;

/// Print the completions for a shell.
///
/// bash: `genred completions bash > /etc/bash_completion.d/genred`; zsh: into a folder of
/// `$fpath` as `_genred`; fish: `~/.config/fish/completions/genred.fish`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<ExitCode> {
    let name = command.get_name().to_owned();
    let mut out = io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, name, &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Print the man page (roff): `genred man > /usr/share/man/man1/genred.1`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {}

pub fn man(_: ManArgs, command: clap::Command) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    clap_mangen::Man::new(command).render(&mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

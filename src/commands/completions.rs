//! `graphd completions SHELL` and `graphd man`: generated from the clap definitions, so they
//! cannot drift from the flags.

use clap::CommandFactory;

use crate::cli::{Cli, Shell};
use crate::error::Error;
use crate::output;
use crate::output::OutputError;

pub fn run(shell: Shell) -> Result<(), Error> {
    use clap_complete::Shell as S;
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let s = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
    };
    clap_complete::generate(s, &mut cmd, "graphd", &mut buf);
    output::bytes(&buf)?;
    Ok(())
}

pub fn man() -> Result<(), Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(OutputError::Io)?;
    output::bytes(&buf)?;
    Ok(())
}

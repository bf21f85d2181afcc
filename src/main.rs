//! The graphd binary: parse, run, render the error, return the exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = graphd::cli::Cli::parse_with_origins();
    match graphd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err.exit_code();
            if code != graphd::error::exit::SUCCESS
                && !matches!(err, graphd::error::Error::NotStored)
            {
                eprint!(
                    "{}",
                    graphd::term::style_error(&graphd::error::render(&err))
                );
            }
            ExitCode::from(code)
        }
    }
}

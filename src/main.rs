//! The graphd binary: parse, run, render the error, return the exit code `run` gave.

use std::process::ExitCode;

// The one place graphd writes stderr directly: the rendered error (logs go through tracing).
#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = graphd::cli::Cli::parse_with_origins();
    ExitCode::from(match graphd::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprint!(
                "{}",
                graphd::term::style_error(&graphd::error::render(&err))
            );
            err.exit_code()
        }
    })
}

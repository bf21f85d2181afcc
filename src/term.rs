//! The terminal: whether to colour (`--color`, `NO_COLOR`, is it a terminal), how wide a table
//! may be (`COLUMNS`, the terminal's width), and the progress line on stderr while listing.
//!
//! Decisions only, plus the progress line (indicatif, stderr). This module never writes
//! stdout and never decides *what* is printed; `output` asks it *how*.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Instant;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to colour (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only on a terminal, and never when NO_COLOR is set
    Auto,
    /// Always (also when piped)
    Always,
    /// Never
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records `--color` for the rest of the run (first call wins).
pub fn init(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

fn choice() -> ColorChoice {
    CHOICE.get().copied().unwrap_or(ColorChoice::Auto)
}

/// `NO_COLOR` counts when set and not empty (no-color.org).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The decision, pure: `always` and `never` win; `auto` means a terminal and no `NO_COLOR`.
pub fn decide(choice: ColorChoice, no_color: bool, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && !no_color,
    }
}

/// Whether stderr (errors, logs, progress) is coloured.
pub fn color_stderr() -> bool {
    decide(choice(), no_color(), std::io::stderr().is_terminal())
}

/// Whether stdout (the table header) is coloured.
pub fn color_stdout() -> bool {
    decide(choice(), no_color(), std::io::stdout().is_terminal())
}

/// The width a table must fit: `COLUMNS` if set, else the terminal's, else unlimited (piped).
pub fn table_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    if std::io::stdout().is_terminal() {
        return terminal_size::terminal_size_of(std::io::stdout())
            .map(|(terminal_size::Width(w), _)| usize::from(w));
    }
    None
}

/// Writes a short note for the user on stderr (e.g. `count: 42`); never data, never secrets.
pub fn note(text: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{text}");
}

/// Colours the `error:` / `hint:` prefixes of a rendered error when stderr is coloured.
pub fn style_error(text: &str) -> String {
    if !color_stderr() {
        return text.to_string();
    }
    text.lines()
        .map(|l| {
            for (prefix, code) in [
                ("error:", "1;31"),
                ("hint:", "1;36"),
                ("caused by:", "33"),
                ("note:", "2"),
            ] {
                if let Some(rest) = l.strip_prefix(prefix) {
                    return format!("\x1b[{code}m{prefix}\x1b[0m{rest}\n");
                }
            }
            format!("{l}\n")
        })
        .collect()
}

/// The progress line: pages, items so far, rate. Exists only when stderr is a terminal and
/// no `-v` log would interleave with it; everything is a no-op otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    what: &'static str,
}

impl Progress {
    pub fn new(what: &'static str, verbose: u8) -> Progress {
        let bar = (verbose == 0 && std::io::stderr().is_terminal()).then(|| {
            let template = if color_stderr() {
                "{spinner:.cyan} {msg}"
            } else {
                "{spinner} {msg}"
            };
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            what,
        }
    }

    /// After each page: `pages`, `items` so far, and the total when Graph said (`$count`).
    pub fn page(&self, pages: u64, items: u64, total: Option<u64>) {
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            bar.set_message(format!(
                "{pages} page{} · {items}{of} {} · {:.0}/s",
                if pages == 1 { "" } else { "s" },
                self.what,
                items as f64 / secs
            ));
        }
    }

    /// Runs `f` (which writes to stderr) with the line hidden.
    pub fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the line (also on error, through Drop).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_decision() {
        assert!(decide(ColorChoice::Auto, false, true));
        assert!(!decide(ColorChoice::Auto, true, true), "NO_COLOR");
        assert!(!decide(ColorChoice::Auto, false, false), "piped");
        assert!(decide(ColorChoice::Always, true, false));
        assert!(!decide(ColorChoice::Never, false, true));
    }
}

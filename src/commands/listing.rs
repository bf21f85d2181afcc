//! The one streaming loop of every listing command (`users`, `get --all`): pages from a
//! `Pager`, items to `output` as each page arrives (a failed page is retried alone inside the
//! pager, so no item is written twice and none is skipped), a progress line on a terminal,
//! `--max-items`, and a note after the first page.
//!
//! A delta listing (`--delta STATE`) runs the same loop over one round of a delta function
//! and then keeps the round's deltaLink: [`DeltaSync::prepare`] reads and checks STATE before
//! any credential is read or request sent, [`DeltaSync::run`] streams the round (from STATE's
//! deltaLink, or a full round) and saves STATE only after the round's last item was written,
//! flushed (and, for a file, synced) to stdout, then writes the report. A run that dies before
//! that leaves STATE as it was, so the next run repeats the round: at-least-once delivery.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::{info, warn};
use url::Url;

use crate::cli::DeltaArgs;
use crate::error::Error;
use crate::files;
use crate::graph::delta::{self, Binding, Cause, DeltaError, Report, ResyncReason, Round, State};
use crate::graph::{Graph, Pager};
use crate::output::{Output, OutputError, OutputFormat, REMOVED};
use crate::term::Progress;
use crate::time;

/// How to write one listing.
pub struct Listing<'a> {
    /// What the items are, for the progress line and the log ("users", "items").
    pub what: &'static str,
    pub format: OutputFormat,
    /// Columns of table/CSV/TSV (empty: the first item's keys).
    pub columns: Vec<String>,
    pub max_items: Option<u64>,
    pub verbose: u8,
    /// Called once Graph answered the first page, with its `@odata.count`: a note for stderr.
    pub first_page_note: Option<&'a dyn Fn(Option<u64>) -> String>,
    /// A delta round: table, CSV and TSV end with the `@removed` column.
    pub delta: bool,
}

/// What one listing wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Streamed {
    pub items: u64,
    /// Items marked `@removed` (delta rounds).
    pub removed: u64,
    pub pages: u64,
}

/// Streams every page of `pager` to stdout. On an error, `pager.pages()` tells whether
/// anything was written: nothing is before Graph answered the first page.
pub fn stream(pager: &mut Pager<'_, '_>, listing: &Listing<'_>) -> Result<Streamed, Error> {
    let mut out = Output::stdout(listing.format).columns(listing.columns.clone());
    if listing.delta {
        out = out.removed_column();
    }
    let progress = Progress::new(listing.what, listing.verbose);
    let mut remaining = listing.max_items.unwrap_or(u64::MAX);
    let mut listed = 0u64;
    let mut removed = 0u64;
    while let Some(items) = pager.next_page()? {
        if pager.pages() == 1 {
            // Only once Graph answered: a refusal leaves stdout empty, not a dangling `[`.
            out.begin()?;
            if let Some(note) = listing.first_page_note {
                let text = note(pager.count());
                progress.suspend(|| crate::term::note(&text));
            }
        }
        for item in items
            .iter()
            .take(usize::try_from(remaining).unwrap_or(usize::MAX))
        {
            out.item(item)?;
            remaining -= 1;
            listed += 1;
            if item.get(REMOVED).is_some() {
                removed += 1;
            }
        }
        out.flush()?;
        progress.page(pager.pages(), listed, pager.count());
        if remaining == 0 {
            break;
        }
    }
    let pages = pager.pages();
    progress.finish();
    let n = out.end()?;
    info!(target: "graphd", "listed {n} {} in {pages} pages", listing.what);
    Ok(Streamed {
        items: n,
        removed,
        pages,
    })
}

/// Where a delta run's round starts.
#[derive(Debug, Clone)]
enum Start {
    /// STATE's deltaLink: the changes since the last round.
    Link(Url),
    /// The delta function without a token: every object.
    Full(Cause),
    /// `$deltatoken=latest`: no object, a deltaLink for now.
    FromNow,
}

/// A delta run, checked and ready: what the round is bound to, its first request, and where
/// it starts.
#[derive(Debug)]
pub struct DeltaSync {
    state: PathBuf,
    report: Option<PathBuf>,
    binding: Binding,
    /// The round's first request without a token (with `$select`/`$filter`).
    first: Url,
    start: Start,
}

impl DeltaSync {
    /// Reads STATE (unless `--delta-reset`), checks that it was made for `binding` and that its
    /// deltaLink is on the Graph origin, and removes an earlier run's report. No network, no
    /// credential: a STATE file that is wrong stops the run before a token is asked for.
    pub fn prepare(
        args: &DeltaArgs,
        state: &Path,
        binding: Binding,
        first: Url,
        graph_endpoint: &Url,
    ) -> Result<DeltaSync, Error> {
        if let Some(report) = &args.delta_report
            && same_file(report, state)
        {
            return Err(DeltaError::SameFile(report.clone()).into());
        }
        let start = if args.delta_reset {
            delta::check_dir(state)?;
            if args.delta_from_now {
                Start::FromNow
            } else {
                Start::Full(Cause::Reset)
            }
        } else {
            match delta::load(state)? {
                None if args.delta_from_now => Start::FromNow,
                None => Start::Full(Cause::NoState),
                Some(saved) => {
                    if let Some((field, saved, current)) = saved.binding.difference(&binding) {
                        return Err(DeltaError::Mismatch {
                            path: state.to_owned(),
                            field,
                            saved,
                            current,
                        }
                        .into());
                    }
                    let link = delta::check_link(graph_endpoint, &saved.delta_link).map_err(
                        |problem| match problem {
                            delta::LinkProblem::NotHttps => DeltaError::BadLink {
                                path: state.to_owned(),
                            },
                            delta::LinkProblem::Foreign { found, expected } => {
                                DeltaError::ForeignLink {
                                    path: state.to_owned(),
                                    found,
                                    expected,
                                }
                            }
                        },
                    )?;
                    if let Err((found, expected)) = saved.binding.admits(&link) {
                        return Err(DeltaError::Mismatch {
                            path: state.to_owned(),
                            field: "deltaLink path",
                            saved: found,
                            current: expected,
                        }
                        .into());
                    }
                    if args.delta_from_now {
                        Start::FromNow
                    } else {
                        Start::Link(link)
                    }
                }
            }
        };
        if let Some(report) = &args.delta_report {
            delta::check_report_dir(report)?;
            Report::remove_old(report)?;
        }
        Ok(DeltaSync {
            state: state.to_owned(),
            report: args.delta_report.clone(),
            binding,
            first,
            start,
        })
    }

    /// Streams the round, then saves STATE and the report. When Graph says STATE's sync state
    /// is gone before anything was written, the run starts a full round instead (said on
    /// stderr and in the report); after something was written, it stops with STATE unchanged.
    pub fn run(
        self,
        graph: &Graph<'_>,
        headers: Vec<(String, String)>,
        listing: Listing<'_>,
    ) -> Result<(), Error> {
        let mut start = self.start.clone();
        let mut resync = None;
        let (streamed, link, round, cause) = loop {
            let (url, round, cause) = match &start {
                Start::Link(link) => (link.clone(), Round::Changes, Cause::DeltaLink),
                Start::Full(cause) => (self.first.clone(), Round::Full, *cause),
                Start::FromNow => {
                    let mut url = self.first.clone();
                    url.query_pairs_mut().append_pair("$deltatoken", "latest");
                    (url, Round::FromNow, Cause::FromNow)
                }
            };
            info!(target: "graphd", "delta: a {} round ({})", round.name(), cause_text(cause));
            let mut pager = graph.pages(url, headers.clone());
            let err = match stream(&mut pager, &listing) {
                Ok(streamed) => {
                    let link = pager.delta_link().cloned().ok_or(DeltaError::NoDeltaLink)?;
                    break (streamed, link, round, cause);
                }
                Err(Error::Graph(e)) => e,
                Err(e) => return Err(e),
            };
            let Some((status, code)) = delta::state_gone(&err) else {
                return Err(err.into());
            };
            if pager.pages() > 0 {
                return Err(DeltaError::LostMidRound {
                    path: self.state.clone(),
                    status,
                    code,
                }
                .into());
            }
            if !matches!(start, Start::Link(_)) {
                return Err(err.into());
            }
            warn!(
                target: "graphd",
                "the sync state in {} is gone (Graph answered HTTP {status} {code}): starting a full round; \
                 apply it as a full set",
                self.state.display()
            );
            resync = Some(ResyncReason { status, code });
            start = Start::Full(Cause::Resync);
        };
        // Everything is on stdout; make it durable before the state moves past it.
        files::sync_stdout().map_err(|e| Error::Output(OutputError::from(e)))?;
        let now = time::rfc3339_of(SystemTime::now());
        // The report is written before STATE moves and put in place right after: a report
        // that cannot be written stops the run with STATE unchanged (the next run repeats
        // the round) instead of leaving a delivered round without its report.
        let report = match &self.report {
            Some(path) => Some((
                path,
                Report {
                    format: delta::REPORT_FORMAT.into(),
                    round,
                    cause,
                    items: streamed.items,
                    removed: streamed.removed,
                    pages: streamed.pages,
                    state: self.state.display().to_string(),
                    finished_at: now.clone(),
                    resync,
                }
                .stage(path)?,
            )),
            None => None,
        };
        delta::save(
            &self.state,
            &State {
                format: delta::STATE_FORMAT.into(),
                binding: self.binding,
                delta_link: link.to_string(),
                saved_at: now,
                round,
                items: streamed.items,
                removed: streamed.removed,
            },
        )?;
        info!(
            target: "graphd",
            "delta: {} round done: {} items ({} removed) in {} pages; state saved in {}",
            round.name(),
            streamed.items,
            streamed.removed,
            streamed.pages,
            self.state.display()
        );
        if let Some((path, staged)) = report {
            staged
                .commit()
                .map_err(|e| DeltaError::Report(path.clone(), e))?;
        }
        Ok(())
    }
}

fn cause_text(cause: Cause) -> &'static str {
    match cause {
        Cause::NoState => "no state saved yet",
        Cause::Reset => "--delta-reset",
        Cause::Resync => "the saved state is gone",
        Cause::DeltaLink => "from the saved deltaLink",
        Cause::FromNow => "--delta-from-now",
    }
}

/// Whether two paths name the same file, existing or not: the same path, or the same name in
/// the same (canonical) directory (`s`, `./s` and `dir/../s` on a first run).
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    if let (Ok(x), Ok(y)) = (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        return x == y;
    }
    let place = |p: &Path| {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Some((std::fs::canonicalize(dir).ok()?, p.file_name()?.to_owned()))
    };
    matches!((place(a), place(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_spellings_of_files_not_made_yet() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(same_file(&d.join("s"), &d.join(".").join("s")));
        std::fs::create_dir(d.join("sub")).unwrap();
        assert!(same_file(&d.join("s"), &d.join("sub").join("..").join("s")));
        assert!(!same_file(&d.join("s"), &d.join("t")));
        assert!(!same_file(&d.join("s"), &d.join("sub").join("s")));
        std::fs::write(d.join("s"), b"x").unwrap();
        assert!(same_file(&d.join("s"), &d.join(".").join("s")));
    }
}

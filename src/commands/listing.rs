//! The one streaming loop of every listing command (`users`, `get --all`): pages from a
//! `Pager`, items to `output` as each page arrives (a failed page is retried alone inside the
//! pager, so no item is written twice and none is skipped), a progress line on a terminal,
//! `--max-items`, and a note after the first page.

use tracing::info;

use crate::error::Error;
use crate::graph::Pager;
use crate::output::{Output, OutputFormat};
use crate::term::Progress;

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
}

/// Streams every page of `pager` to stdout; returns how many items were written.
pub fn stream(mut pager: Pager<'_, '_>, listing: Listing<'_>) -> Result<u64, Error> {
    let mut out = Output::stdout(listing.format).columns(listing.columns);
    let progress = Progress::new(listing.what, listing.verbose);
    let mut remaining = listing.max_items.unwrap_or(u64::MAX);
    let mut listed = 0u64;
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
    Ok(n)
}

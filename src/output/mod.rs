//! The only writer to stdout: items as a JSON array, JSON lines, CSV or TSV written page by
//! page, or a table fitted to the terminal once all rows are in; single objects; and the
//! bytes of `completions`, `man` and `token`.
//!
//! The array is opened before the first page arrives and closed after the last, so memory
//! stays one page however many users there are (a table must see every row to size its
//! columns, so it buffers them). A closed pipe (`graphd users | head -1`) surfaces as
//! `OutputError::Closed`, which `run` treats as a quiet success.
//!
//! A delta round's removed objects (`{"id": ..., "@removed": {"reason": "changed"}}`) are
//! items like any other: JSON and JSON lines carry them as Graph sent them; table, CSV and TSV
//! get a last column `@removed` holding the reason (`changed`, `deleted`), empty for objects
//! that were added or changed.

pub mod escape;
pub mod table;

use std::io::{self, IsTerminal, Write};

use clap::ValueEnum;
use serde_json::Value;

use crate::term;

/// How data is written to stdout (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One JSON array, written as pages arrive
    Json,
    /// One JSON object per line
    Jsonl,
    /// Aligned columns fitted to the terminal width (COLUMNS), long cells cut with an ellipsis
    Table,
    /// RFC 4180 CSV with a header row; cells starting with = + - @ are prefixed with '
    Csv,
    /// Tab-separated values, no header; tab, newline, CR and backslash escaped as \\t \\n \\r \\\\
    Tsv,
}

impl OutputFormat {
    /// The name used in flags and `config show`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
        }
    }
}

/// Writing the output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader went away (EPIPE); not an error for a CLI.
    #[error("standard output was closed")]
    Closed,
    #[error("cannot write to standard output")]
    Io(#[source] io::Error),
}

impl crate::diagnostic::Diagnostic for OutputError {}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        // Windows: ERROR_NO_DATA (232) is std's BrokenPipe; a pipe whose reader is gone can also
        // answer ERROR_PIPE_NOT_CONNECTED (233), which std leaves uncategorized (Wine does).
        let closed_pipe = cfg!(windows) && e.raw_os_error() == Some(233);
        if e.kind() == io::ErrorKind::BrokenPipe || closed_pipe {
            OutputError::Closed
        } else {
            OutputError::Io(e)
        }
    }
}

/// Writes a command's result for people (e.g. `secret status`, `cert show`) to stdout, with
/// every control character but line breaks escaped (it may quote a server or a file).
pub fn message(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", escape::terminal_text(text))?;
    out.flush()?;
    Ok(())
}

/// Writes graphd's own bytes (a completion script, a man page) to stdout.
pub fn bytes(data: &[u8]) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

/// Writes a response body that is not JSON (`graphd get` of a photo, a CSV report): the bytes
/// untouched when stdout is a file or a pipe, shown with control characters escaped when it is
/// a terminal (a body must not drive the terminal it is shown on).
pub fn body(data: &[u8]) -> Result<(), OutputError> {
    if io::stdout().is_terminal() {
        return message(&String::from_utf8_lossy(data));
    }
    bytes(data)
}

/// Writes one JSON document to stdout, pretty, serialised straight into stdout's buffer (for
/// `graphd token`, no intermediate `String` holds the token).
pub fn json(value: &impl serde::Serialize) -> Result<(), OutputError> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    escape::write_json_pretty(&mut out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Writes one object (`graphd user`, `graphd get` without `--all`) in `format`: JSON pretty,
/// JSONL one line, a table of property/value rows, or a CSV/TSV row under `columns` (or the
/// object's own keys). Keys starting with `@odata.` are left out of tables, CSV and TSV.
pub fn object(value: &Value, format: OutputFormat, columns: &[String]) -> Result<(), OutputError> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        OutputFormat::Json => {
            escape::write_json_pretty(&mut out, value).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        OutputFormat::Jsonl => {
            escape::write_json(&mut out, value).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        OutputFormat::Table => {
            let keys = if columns.is_empty() {
                keys_of(value)
            } else {
                columns.to_vec()
            };
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| vec![k.clone(), table::cell(value.get(k))])
                .collect();
            let text = table::render(
                &["property".to_string(), "value".to_string()],
                &rows,
                term::table_width(),
                term::color_stdout(),
            );
            out.write_all(text.as_bytes())?;
        }
        OutputFormat::Csv | OutputFormat::Tsv => {
            let mut o = Output::new(out, format).columns(columns.to_vec());
            o.begin()?;
            o.item(value)?;
            o.end()?;
            return Ok(());
        }
    }
    out.flush()?;
    Ok(())
}

/// The keys of an object, in order, without OData annotations.
fn keys_of(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !k.starts_with("@odata."))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The annotation a delta round puts on a removed object.
pub const REMOVED: &str = "@removed";

/// The value of column `column` of an item: the property, except that the `@removed` column
/// shows the removal's reason rather than the object `{"reason": ...}`.
fn column_value<'v>(item: &'v Value, column: &str) -> Option<&'v Value> {
    let v = item.get(column);
    if column == REMOVED {
        return v.map(|r| r.get("reason").unwrap_or(r));
    }
    v
}

/// Streams items in one format.
pub struct Output<W: Write> {
    out: io::BufWriter<W>,
    format: OutputFormat,
    count: u64,
    /// Columns of table/CSV/TSV; empty means the first item's keys.
    columns: Vec<String>,
    /// Table rows, kept until `end` (a table sizes its columns from every row).
    rows: Vec<Vec<String>>,
    /// A delta listing: the columns end with `@removed`.
    removed: bool,
}

impl Output<io::StdoutLock<'static>> {
    /// Items in `format` to standard output.
    pub fn stdout(format: OutputFormat) -> Self {
        Output::new(io::stdout().lock(), format)
    }
}

impl<W: Write> Output<W> {
    pub fn new(out: W, format: OutputFormat) -> Self {
        Output {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            format,
            count: 0,
            columns: Vec::new(),
            rows: Vec::new(),
            removed: false,
        }
    }

    /// The columns of `-o table|csv|tsv` (from `--select`, or a command's defaults).
    pub fn columns(mut self, columns: Vec<String>) -> Self {
        self.columns = columns;
        self.add_removed_column();
        self
    }

    /// A delta listing: table, CSV and TSV end with a `@removed` column (the reason an object
    /// was removed, empty for the others), whatever the other columns are.
    pub fn removed_column(mut self) -> Self {
        self.removed = true;
        self.add_removed_column();
        self
    }

    fn add_removed_column(&mut self) {
        if self.removed && !self.columns.is_empty() {
            self.columns.retain(|c| c != REMOVED);
            self.columns.push(REMOVED.to_string());
        }
    }

    /// Starts the output (the `[` of a JSON array).
    pub fn begin(&mut self) -> Result<(), OutputError> {
        if self.format == OutputFormat::Json {
            self.out.write_all(b"[")?;
        }
        Ok(())
    }

    /// Writes one item.
    pub fn item(&mut self, item: &Value) -> Result<(), OutputError> {
        match self.format {
            OutputFormat::Json => {
                self.out
                    .write_all(if self.count == 0 { b"\n  " } else { b",\n  " })?;
                escape::write_json(&mut self.out, item).map_err(io::Error::from)?;
            }
            OutputFormat::Jsonl => {
                escape::write_json(&mut self.out, item).map_err(io::Error::from)?;
                self.out.write_all(b"\n")?;
            }
            OutputFormat::Table | OutputFormat::Csv | OutputFormat::Tsv => {
                if self.count == 0 && self.columns.is_empty() {
                    self.columns = keys_of(item);
                    self.add_removed_column();
                }
                if self.count == 0 && self.format == OutputFormat::Csv {
                    self.out.write_all(&table::csv_header(&self.columns))?;
                }
                match self.format {
                    OutputFormat::Csv => {
                        let row: Vec<String> = self
                            .columns
                            .iter()
                            .map(|c| table::csv_cell(column_value(item, c)))
                            .collect();
                        self.out.write_all(&table::csv_record(&row))?;
                    }
                    OutputFormat::Tsv => {
                        let row: Vec<String> = self
                            .columns
                            .iter()
                            .map(|c| table::cell(column_value(item, c)))
                            .collect();
                        self.out.write_all(&table::tsv_record(&row))?;
                    }
                    _ => self.rows.push(
                        self.columns
                            .iter()
                            .map(|c| table::cell(column_value(item, c)))
                            .collect(),
                    ),
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Pushes what is buffered to the reader (after each page).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush().map_err(OutputError::from)
    }

    /// Ends the output and flushes.
    pub fn end(self) -> Result<u64, OutputError> {
        let width = term::table_width();
        let bold = term::color_stdout();
        self.end_with(width, bold)
    }

    /// `end` with the table's width and header style given (tests).
    pub fn end_with(mut self, width: Option<usize>, bold: bool) -> Result<u64, OutputError> {
        match self.format {
            OutputFormat::Json => {
                self.out
                    .write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?
            }
            OutputFormat::Csv if self.count == 0 && !self.columns.is_empty() => {
                self.out.write_all(&table::csv_header(&self.columns))?
            }
            OutputFormat::Table if !self.columns.is_empty() => {
                let text = table::render(&self.columns, &self.rows, width, bold);
                self.out.write_all(text.as_bytes())?;
            }
            _ => {}
        }
        self.flush()?;
        Ok(self.count)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(format: OutputFormat, items: &[Value]) -> String {
        let mut buf = Vec::new();
        let mut o = Output::new(&mut buf, format);
        o.begin().unwrap();
        for i in items {
            o.item(i).unwrap();
        }
        assert_eq!(o.end().unwrap(), items.len() as u64);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_array_is_valid_for_zero_one_many() {
        let items = [
            json!({"a":"x,\"y\"\nz"}),
            json!({"b":null}),
            json!({"c":"🦀"}),
        ];
        for n in 0..=3 {
            let s = render(OutputFormat::Json, &items[..n]);
            let parsed: Vec<Value> = serde_json::from_str(&s).unwrap();
            assert_eq!(parsed, &items[..n]);
            assert!(s.ends_with('\n'));
        }
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let items = [json!({"a":"line\nbreak"}), json!({"b":1})];
        let s = render(OutputFormat::Jsonl, &items);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(serde_json::from_str::<Value>(lines[0]).unwrap(), items[0]);
    }

    #[test]
    fn removed_column_holds_the_reason() {
        let items = [
            json!({"id": "1", "displayName": "Ada"}),
            json!({"id": "2", "@removed": {"reason": "deleted"}}),
            json!({"id": "3", "@removed": {"reason": "changed"}}),
        ];
        let run = |format, columns: Vec<String>| {
            let mut buf = Vec::new();
            let mut o = Output::new(&mut buf, format)
                .removed_column()
                .columns(columns);
            o.begin().unwrap();
            for i in &items {
                o.item(i).unwrap();
            }
            o.end_with(None, false).unwrap();
            String::from_utf8(buf).unwrap()
        };
        assert_eq!(
            run(OutputFormat::Csv, vec!["id".into(), "displayName".into()]),
            "id,displayName,@removed\r\n1,Ada,\r\n2,,deleted\r\n3,,changed\r\n"
        );
        assert_eq!(
            run(OutputFormat::Tsv, vec![]),
            "1\tAda\t\n2\t\tdeleted\n3\t\tchanged\n",
            "the first item's keys, then @removed"
        );
        let table = run(OutputFormat::Table, vec!["id".into(), REMOVED.into()]);
        assert!(table.starts_with("id  @removed\n"), "{table}");
        assert!(table.contains("2   deleted\n"), "{table}");
        // No item: the CSV header still names the column.
        let mut buf = Vec::new();
        let o = Output::new(&mut buf, OutputFormat::Csv)
            .columns(vec!["id".into()])
            .removed_column();
        o.end_with(None, false).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "id,@removed\r\n");
    }

    #[test]
    fn broken_pipe_is_closed() {
        let e: OutputError = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(matches!(e, OutputError::Closed));
    }
}

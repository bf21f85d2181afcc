//! The only writer to stdout: users as a JSON array or JSON lines, written page by page.
//!
//! The array is opened before the first page arrives and closed after the last, so memory
//! stays one page however many users there are. A closed pipe (`graphd users | head -1`)
//! surfaces as `OutputError::Closed`, which `run` treats as a quiet success.

use std::io::{self, Write};

use serde_json::Value;

use crate::cli::OutputFormat;

/// Writing the output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader went away (EPIPE); not an error for a CLI.
    #[error("standard output was closed")]
    Closed,
    #[error("cannot write to standard output")]
    Io(#[source] io::Error),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::Closed
        } else {
            OutputError::Io(e)
        }
    }
}

/// Writes one line of a command's result (e.g. `secret status`) to stdout.
pub fn message(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// Streams items in one format.
pub struct Output<W: Write> {
    out: io::BufWriter<W>,
    format: OutputFormat,
    count: u64,
}

impl<W: Write> Output<W> {
    pub fn new(out: W, format: OutputFormat) -> Self {
        Output {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            format,
            count: 0,
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
                serde_json::to_writer(&mut self.out, item).map_err(io::Error::from)?;
            }
            OutputFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, item).map_err(io::Error::from)?;
                self.out.write_all(b"\n")?;
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
    pub fn end(mut self) -> Result<u64, OutputError> {
        if self.format == OutputFormat::Json {
            self.out
                .write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?;
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
    fn broken_pipe_is_closed() {
        let e: OutputError = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(matches!(e, OutputError::Closed));
    }
}

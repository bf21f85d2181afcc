//! Cells and rows for `-o table`, `-o csv` and `-o tsv`: how a JSON value becomes a cell, how
//! a table fits a width (display width, so CJK and emoji count double), and the CSV/TSV lines.
//!
//! Pure functions over strings; writing them is `output`'s job. Cells and headers are made
//! safe for a terminal (`escape`: control characters, ESC included, are shown escaped; CSV
//! keeps the line breaks and tabs its quoting handles); CSV cells and header cells that a
//! spreadsheet would run as a formula are neutralised with a leading `'` (OWASP's advice).

use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::escape;

/// Columns between two table columns.
const GAP: usize = 2;
/// A column is never cut narrower than this (unless its content is narrower).
const MIN_COLUMN: usize = 4;

/// The text of a cell: strings as they are, null/absent empty, nested values JSON-encoded.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A cell as a spreadsheet may read it: strings starting with `=`, `+`, `-`, `@`, tab or CR
/// get a leading `'`, so Excel / LibreOffice / Sheets show them as text instead of running
/// them. Numbers and nested values (JSON) are left alone.
pub fn csv_cell(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => csv_text(s),
        _ => escape::escape(&cell(v), CSV_KEEPS).into_owned(),
    }
}

/// What CSV's own quoting carries safely (everything else is escaped).
const CSV_KEEPS: &[char] = &['\n', '\r', '\t'];

/// A string cell for CSV: control characters escaped, then the formula guard.
fn csv_text(s: &str) -> String {
    let s = escape::escape(s, CSV_KEEPS);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.into_owned()
    }
}

/// The CSV header row: the column names get the same escaping and formula guard as cells
/// (property names of open extensions are chosen by other users), but for graphd's own
/// `@removed` column, which no server chooses.
pub fn csv_header(columns: &[String]) -> Vec<u8> {
    let guarded: Vec<String> = columns
        .iter()
        .map(|c| {
            if c == super::REMOVED {
                c.clone()
            } else {
                csv_text(c)
            }
        })
        .collect();
    csv_record(&guarded)
}

/// One RFC 4180 record (quoted where needed, CRLF-terminated), by the `csv` crate.
pub fn csv_record(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(256)
        .from_writer(Vec::with_capacity(256));
    // Writing into a Vec cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// One TSV line: fields joined by tabs; `\` doubled, then tab, newline, CR and every other
/// control character escaped (`\t`, `\n`, `\r`, `\u{1b}`), so a record is one safe line.
pub fn tsv_record(fields: &[String]) -> Vec<u8> {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        line.push_str(&escape::terminal(&f.replace('\\', "\\\\")));
    }
    line.push('\n');
    line.into_bytes()
}

/// A cell made safe and single-line for a terminal (see `escape`).
pub fn visible(s: &str) -> String {
    escape::terminal(s).into_owned()
}

/// Cuts `s` to at most `width` display columns, ending in `…` when cut, padded to `width`.
fn fit(s: &str, width: usize, pad: bool) -> String {
    let w = s.width();
    if w <= width {
        let mut out = s.to_string();
        if pad {
            out.extend(std::iter::repeat_n(' ', width - w));
        }
        return out;
    }
    let mut out = String::new();
    let mut used = 0;
    let room = width.saturating_sub(1); // for the ellipsis
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw > room {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    used += 1;
    if pad {
        out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    }
    out
}

/// Column widths that fit `total` (if any): narrow columns keep their width, the widest are
/// cut to a common cap, and what is left over goes to the cut columns from the left.
fn widths(natural: &[usize], total: Option<usize>) -> Vec<usize> {
    let Some(total) = total else {
        return natural.to_vec();
    };
    let gaps = GAP * natural.len().saturating_sub(1);
    let available = total.saturating_sub(gaps);
    if natural.iter().sum::<usize>() <= available {
        return natural.to_vec();
    }
    let used = |cap: usize| natural.iter().map(|w| (*w).min(cap)).sum::<usize>();
    let max = natural.iter().copied().max().unwrap_or(0);
    let mut cap = MIN_COLUMN;
    while cap < max && used(cap + 1) <= available {
        cap += 1;
    }
    let mut out: Vec<usize> = natural.iter().map(|w| (*w).min(cap)).collect();
    let mut left = available.saturating_sub(out.iter().sum());
    for (o, n) in out.iter_mut().zip(natural) {
        if left == 0 {
            break;
        }
        if *n > *o {
            let add = (n - *o).min(left);
            *o += add;
            left -= add;
        }
    }
    out
}

/// Renders a table: a header, a rule, and the rows, fitted to `width` display columns.
pub fn render(
    headers: &[String],
    rows: &[Vec<String>],
    width: Option<usize>,
    bold: bool,
) -> String {
    let headers: Vec<String> = headers.iter().map(|h| visible(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| visible(c)).collect())
        .collect();
    let natural: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.width()))
                .chain([headers[i].width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let widths = widths(&natural, width);
    let line = |cells: &[String], out: &mut String, style: Option<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map(String::as_str).unwrap_or("");
            text.push_str(&fit(c, *w, i != last));
            if i != last {
                text.push_str(&" ".repeat(GAP));
            }
        }
        let text = text.trim_end();
        match style {
            Some(s) => out.push_str(&format!("\x1b[{s}m{text}\x1b[0m")),
            None => out.push_str(text),
        }
        out.push('\n');
    };
    let mut out = String::new();
    line(&headers, &mut out, bold.then_some("1"));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&rule, &mut out, None);
    for r in &rows {
        line(r, &mut out, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cells() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&json!(null))), "");
        assert_eq!(cell(Some(&json!(["a", "b"]))), r#"["a","b"]"#);
        assert_eq!(cell(Some(&json!({"k": 1}))), r#"{"k":1}"#);
        assert_eq!(cell(Some(&json!(true))), "true");
        assert_eq!(csv_cell(Some(&json!("=1+1"))), "'=1+1");
        assert_eq!(csv_cell(Some(&json!("-x"))), "'-x");
        assert_eq!(csv_cell(Some(&json!("@x"))), "'@x");
        assert_eq!(csv_cell(Some(&json!("+1 425"))), "'+1 425");
        assert_eq!(csv_cell(Some(&json!(-5))), "-5", "numbers are not formulas");
        assert_eq!(csv_cell(Some(&json!(["=x"]))), r#"["=x"]"#);
    }

    #[test]
    fn csv_and_tsv_records() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            String::from_utf8(csv_record(&f(&[
                "Smith, John",
                "a \"q\"",
                "line\nbreak",
                "x"
            ])))
            .unwrap(),
            "\"Smith, John\",\"a \"\"q\"\"\",\"line\nbreak\",x\r\n"
        );
        assert_eq!(
            String::from_utf8(tsv_record(&f(&["a\tb", "c\nd", "e\\f", ""]))).unwrap(),
            "a\\tb\tc\\nd\te\\\\f\t\n"
        );
    }

    #[test]
    fn fits_wide_characters_and_escapes_controls() {
        assert_eq!(fit("山田 太郎", 6, true), "山田 …");
        assert_eq!(fit("山田 太郎", 5, true), "山田…");
        assert_eq!(fit("山田", 4, true), "山田");
        assert_eq!(fit("Ferris 🦀 Crab", 10, true), "Ferris 🦀…");
        assert_eq!(
            fit("Ferris 🦀 Crab", 9, true),
            "Ferris … ",
            "a wide char that does not fit"
        );
        assert_eq!(visible("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(visible("\u{202e}x"), "\\u{202e}x");
    }

    #[test]
    fn widths_shrink_the_widest_first() {
        assert_eq!(widths(&[5, 30, 10], None), [5, 30, 10]);
        assert_eq!(widths(&[5, 30, 10], Some(100)), [5, 30, 10]);
        // 40 - 4 gaps = 36: 5 + 21 + 10
        assert_eq!(widths(&[5, 30, 10], Some(40)), [5, 21, 10]);
        assert_eq!(widths(&[20, 30, 40], Some(34)), [10, 10, 10]);
        assert_eq!(
            widths(&[20, 30], Some(3)),
            [4, 4],
            "never below the minimum"
        );
    }
}

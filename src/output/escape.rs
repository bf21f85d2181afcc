//! The one escaping function for anything bound for a terminal, and the JSON formatter that
//! applies the same rule inside JSON strings.
//!
//! A string from a server or a file (a display name, an Entra error description, a certificate's
//! subject) may carry control characters that a terminal obeys: ESC sequences that clear the
//! screen, retitle the window or write OSC 8 hyperlinks, C1 controls (U+0080–U+009F, which some
//! terminals read as ESC sequences), and bidirectional overrides that make text read differently
//! from what it is. Every such character is shown escaped instead (`\n`, `\t`, `\u{1b}`), so
//! data can neither move the cursor nor disguise itself. JSON output stays valid and equivalent:
//! serde_json escapes C0 itself; [`Safe`] adds `\uXXXX` for C1, DEL and bidi controls.

use std::borrow::Cow;
use std::io;

use serde_json::ser::Formatter;

/// Whether a terminal may act on `c` rather than show it.
pub fn is_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || ('\u{202a}'..='\u{202e}').contains(&c) // bidi embeddings and overrides
        || ('\u{2066}'..='\u{2069}').contains(&c) // bidi isolates
        || c == '\u{200e}'
        || c == '\u{200f}'
        || c == '\u{061c}'
}

/// `s` with every control character escaped, on one line (`\n` shown as `\\n`).
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape(s, &[])
}

/// `s` with every control character escaped but line breaks, which stay (multi-line text).
pub fn terminal_text(s: &str) -> Cow<'_, str> {
    escape(s, &['\n'])
}

/// `s` with every control character escaped but `keep`.
pub fn escape<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    if !s.chars().any(|c| is_control(c) && !keep.contains(&c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if keep.contains(&c) || !is_control(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&c.escape_unicode().to_string()),
        }
    }
    Cow::Owned(out)
}

/// A serde_json formatter that also escapes C1, DEL and bidi controls inside strings (as
/// `\uXXXX`, which any JSON reader decodes back to the same character).
pub struct Safe<F>(pub F);

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_control(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as compact JSON through [`Safe`].
pub fn write_json<W: io::Write, T: serde::Serialize + ?Sized>(
    w: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(w, Safe(serde_json::ser::CompactFormatter));
    value.serialize(&mut ser)
}

/// Writes `value` as pretty JSON through [`Safe`].
pub fn write_json_pretty<W: io::Write, T: serde::Serialize + ?Sized>(
    w: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(w, Safe(serde_json::ser::PrettyFormatter::new()));
    value.serialize(&mut ser)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn what_a_terminal_would_obey_is_shown_escaped() {
        for (raw, shown) in [
            ("plain Ådå 山田 🦀", "plain Ådå 山田 🦀"),
            ("\x1b[2J\x1b[H", "\\u{1b}[2J\\u{1b}[H"),
            ("\x1b]0;owned\x07", "\\u{1b}]0;owned\\u{7}"),
            (
                "\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\",
                "\\u{1b}]8;;https://evil\\u{1b}\\click\\u{1b}]8;;\\u{1b}\\",
            ),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("a\u{202e}cba", "a\\u{202e}cba"),
            ("line\nbreak\ttab\r", "line\\nbreak\\ttab\\r"),
            ("\u{7f}", "\\u{7f}"),
        ] {
            assert_eq!(terminal(raw), shown, "{raw:?}");
        }
        assert_eq!(terminal_text("a\nb\x1b"), "a\nb\\u{1b}");
        assert!(matches!(terminal("nothing to do"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_valid_and_equal() {
        let v = json!({"name": "a\u{9b}b\u{202e}c\x1b[2J\u{7f}", "k\u{9b}": [1, "x"]});
        for pretty in [false, true] {
            let mut buf = Vec::new();
            if pretty {
                write_json_pretty(&mut buf, &v).unwrap();
            } else {
                write_json(&mut buf, &v).unwrap();
            }
            let text = String::from_utf8(buf).unwrap();
            assert!(!text.chars().any(is_control) || pretty, "{text:?}");
            assert!(
                !text.contains('\u{9b}') && !text.contains('\u{202e}'),
                "{text:?}"
            );
            assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
        }
    }
}

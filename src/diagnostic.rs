//! The one shape every domain error reports in: what the user can do (`hint`) and the ids
//! support asks for (`notes`). `error` renders them as `hint:` and `note:` lines.
//!
//! Each domain's error enum implements [`Diagnostic`]; the top-level `error::Error` asks its
//! inner error through it, so hints are written beside the errors they explain and exit codes
//! stay in `error`. Imports nothing of graphd's.

/// A hint and notes for an error.
pub trait Diagnostic: std::error::Error {
    /// What the user can do about it, as one line (no `hint:` prefix), if anything.
    fn hint(&self) -> Option<String> {
        None
    }

    /// Facts for a support ticket (request ids, trace ids, attempts), one per line.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Why a body or file is not the JSON it should be, by position only: serde_json's own message
/// can quote the input, which may be a token, a secret or a hostile server's escape sequences.
pub fn json_position(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

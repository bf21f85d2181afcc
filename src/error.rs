//! The error taxonomy, exit codes, hints, and the `error:` / `caused by:` / `hint:` rendering.
//!
//! Exit codes come from matching variants, never from downcasting. Rendering prints the
//! error, one `caused by:` line per source, any ids support needs (`note:`), and a hint.
//! Nothing rendered here can hold a secret: no error type carries one (see `secret`).

use std::error::Error as StdError;
use std::fmt::Write;

use crate::config::ConfigError;
use crate::credential::CredentialError;
use crate::credential::keyring::KeyringError;
use crate::graph::GraphError;
use crate::http::HttpSetupError;
use crate::output::OutputError;
use crate::request::UsageError;
use crate::token::TokenError;
use crate::token::cache::CacheError;

/// Exit codes, documented in README and `--help`.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const OTHER: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const AUTH: u8 = 3;
    pub const GRAPH_REFUSED: u8 = 4;
    pub const NETWORK: u8 = 5;
}

/// Everything `run` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    HttpSetup(#[from] HttpSetupError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Graph(GraphError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    CertTool(#[from] crate::commands::cert::CertToolError),
    #[error(transparent)]
    Keys(#[from] crate::commands::keys::KeysError),
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// `graphd secret status` found nothing; its message is already on stdout.
    #[error("no client secret stored")]
    NotStored,
}

// By hand, not `#[from]`: a token failure met while talking to Graph (a renewal after a 401)
// is a token error, with the token error's exit code, notes and hint.
impl From<GraphError> for Error {
    fn from(e: GraphError) -> Self {
        match e {
            GraphError::Token(t) => Error::Token(*t),
            g => Error::Graph(g),
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::HttpSetup(_) | Error::Usage(_) => exit::USAGE,
            Error::Credential(CredentialError::NoCredential { .. }) => exit::USAGE,
            Error::Credential(_) => exit::AUTH,
            Error::Keyring(_) => exit::AUTH,
            Error::Cache(_) | Error::NotStored => exit::OTHER,
            Error::CertTool(e) if e.is_usage() => exit::USAGE,
            Error::CertTool(_) => exit::OTHER,
            Error::Keys(e) => e.exit_code(),
            Error::Token(TokenError::Credential(_)) => exit::AUTH,
            Error::Token(TokenError::Entra(e)) if e.is_transient() => exit::NETWORK,
            Error::Token(TokenError::Entra(_)) => exit::AUTH,
            Error::Token(
                TokenError::Send(_) | TokenError::Status { .. } | TokenError::BadResponse { .. },
            ) => exit::NETWORK,
            Error::Graph(g) if g.is_refusal() => exit::GRAPH_REFUSED,
            Error::Graph(_) => exit::NETWORK,
            Error::Output(OutputError::Closed) => exit::SUCCESS,
            Error::Output(_) => exit::OTHER,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Config(e) => e.hint(),
            Error::HttpSetup(_) => Some("--ca-bundle must be a PEM file of CA certificates".into()),
            Error::Credential(e) | Error::Token(TokenError::Credential(e)) => e.hint(),
            Error::Token(TokenError::Entra(e)) => e.hint(),
            Error::Token(TokenError::Send(e)) if e.deadline_hit => Some(
                "the whole command ran out of time: raise --deadline (seconds)".into(),
            ),
            Error::Token(TokenError::Send(_)) => Some(
                "check the network, HTTPS_PROXY / NO_PROXY, and --ca-bundle if a proxy inspects TLS; \
                 --timeout sets the time one attempt may take"
                    .into(),
            ),
            Error::Token(TokenError::Status { status: 300..=399, .. }) => Some(
                "the token endpoint redirected and graphd follows no redirects: --authority-host must be \
                 the authority itself (e.g. https://login.microsoftonline.com)"
                    .into(),
            ),
            Error::Token(TokenError::Status { .. } | TokenError::BadResponse { .. }) => Some(
                "something other than Entra answered (a proxy or captive portal?): check --authority-host, \
                 HTTPS_PROXY / NO_PROXY"
                    .into(),
            ),
            Error::Graph(e) => e.hint(),
            Error::Keyring(e) => Some(e.hint()),
            Error::CertTool(e) => e.hint(),
            Error::Keys(e) => e.hint(),
            Error::Usage(e) => Some(e.hint()),
            _ => None,
        }
    }

    fn notes(&self) -> Vec<String> {
        match self {
            Error::Token(TokenError::Entra(e)) => e.notes(),
            Error::Token(TokenError::Status {
                request_id: Some(r),
                ..
            }) => vec![format!("request id: {r}")],
            Error::Token(TokenError::Send(e)) => e.notes(),
            Error::Graph(e) => e.notes(),
            Error::Keys(e) => e.notes(),
            _ => Vec::new(),
        }
    }
}

/// The text printed on stderr for an error.
pub fn render(err: &Error) -> String {
    let mut s = format!("error: {err}\n");
    let mut source = err.source();
    // `#[error(transparent)]` forwards source() to the inner error, whose Display we printed.
    while let Some(cause) = source {
        let _ = writeln!(s, "caused by: {cause}");
        source = cause.source();
    }
    for note in err.notes() {
        let _ = writeln!(s, "note: {note}");
    }
    if let Some(hint) = err.hint() {
        let _ = writeln!(s, "hint: {hint}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_domain() {
        assert_eq!(Error::from(ConfigError::MissingTenant).exit_code(), 2);
        assert_eq!(
            Error::from(CredentialError::EmptySecret("x".into())).exit_code(),
            3
        );
        assert_eq!(Error::from(GraphError::RepeatedNextLink).exit_code(), 5);
        assert_eq!(Error::from(OutputError::Closed).exit_code(), 0);
    }

    #[test]
    fn render_has_error_and_hint() {
        let s = render(&Error::from(ConfigError::MissingTenant));
        assert_eq!(
            s,
            "error: no tenant given\nhint: pass --tenant or set AZURE_TENANT_ID\n"
        );
    }
}

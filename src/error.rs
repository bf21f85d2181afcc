//! The top-level error, the one place exit codes are assigned, and the `error:` / `caused by:`
//! / `note:` / `hint:` rendering.
//!
//! Each domain owns its error enum and says, through `diagnostic::Diagnostic`, what the user
//! can do; this module wraps them, maps each variant to an exit code by matching (never by
//! downcasting), and renders. Nothing rendered here can hold a secret: no error type carries
//! one (see `secret`). The exit codes are documented in the README and in `--help`.

use std::error::Error as StdError;
use std::fmt::Write;

use crate::config::ConfigError;
use crate::credential::CredentialError;
use crate::credential::keyring::KeyringError;
use crate::credential::make::MakeError;
use crate::diagnostic::Diagnostic;
use crate::graph::GraphError;
use crate::graph::delta::DeltaError;
use crate::graph::query::QueryError;
use crate::http::HttpSetupError;
use crate::output::OutputError;
use crate::output::escape::terminal;
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

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The answer is "no" and the command already said so on stdout (`secret status` with
    /// nothing stored): exit code 1, no error message.
    Absent,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => exit::SUCCESS,
            Outcome::Absent => exit::OTHER,
        }
    }
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
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Make(#[from] MakeError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Graph(GraphError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Delta(#[from] DeltaError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A multi-step change (`cert rotate`) stopped: what the app holds now and what to run next.
    #[error("rotation stopped: {what}")]
    Rotation {
        what: String,
        state: String,
        next: String,
        #[source]
        source: Box<Error>,
    },
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
    /// The process exit code for this error: the one place they are assigned.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::HttpSetup(_) | Error::Query(_) => exit::USAGE,
            Error::Credential(e) | Error::Token(TokenError::Credential(e)) if e.is_usage() => {
                exit::USAGE
            }
            // A managed identity's endpoint that kept failing is a server problem, like Entra's.
            Error::Credential(e) | Error::Token(TokenError::Credential(e))
                if e.is_unavailable() =>
            {
                exit::NETWORK
            }
            Error::Credential(_) | Error::Keyring(_) => exit::AUTH,
            Error::Make(e) if e.is_usage() => exit::USAGE,
            // A token that cannot make or sign the key is a credential failure, as elsewhere.
            Error::Make(MakeError::Token(_) | MakeError::BadTokenSignature) => exit::AUTH,
            Error::Make(_) | Error::Cache(_) | Error::Output(_) => exit::OTHER,
            Error::Token(TokenError::Credential(_)) => exit::AUTH,
            Error::Token(TokenError::Entra(e)) if e.is_transient() => exit::NETWORK,
            Error::Token(TokenError::Entra(_)) => exit::AUTH,
            Error::Token(
                TokenError::Send(_) | TokenError::Status { .. } | TokenError::BadResponse { .. },
            ) => exit::NETWORK,
            Error::Delta(e) if e.is_usage() => exit::USAGE,
            Error::Delta(e) if e.is_transient() => exit::NETWORK,
            Error::Delta(_) => exit::OTHER,
            Error::Graph(g) if g.is_refusal() => exit::GRAPH_REFUSED,
            Error::Graph(_) => exit::NETWORK,
            Error::Rotation { source, .. } => source.exit_code(),
        }
    }

    /// The inner error's diagnostic.
    fn diagnostic(&self) -> Option<&dyn Diagnostic> {
        Some(match self {
            Error::Config(e) => e,
            Error::HttpSetup(e) => e,
            Error::Credential(e) => e,
            Error::Keyring(e) => e,
            Error::Make(e) => e,
            Error::Token(e) => e,
            Error::Graph(e) => e,
            Error::Query(e) => e,
            Error::Delta(e) => e,
            Error::Cache(e) => e,
            Error::Output(e) => e,
            Error::Rotation { .. } => return None,
        })
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Rotation { next, .. } => Some(format!("next: {next}")),
            e => e.diagnostic().and_then(|d| d.hint()),
        }
    }

    fn notes(&self) -> Vec<String> {
        match self {
            Error::Rotation { state, .. } => vec![format!("state: {state}")],
            e => e.diagnostic().map(|d| d.notes()).unwrap_or_default(),
        }
    }
}

/// The text printed on stderr for an error. Each part is escaped for the terminal: errors
/// quote what servers and files said (an Entra description, a Graph message, a request id).
pub fn render(err: &Error) -> String {
    let line = |s: &mut String, prefix: &str, text: &dyn std::fmt::Display| {
        let _ = writeln!(s, "{prefix}{}", terminal(&text.to_string()));
    };
    let mut s = String::new();
    line(&mut s, "error: ", err);
    let mut source = err.source();
    // `#[error(transparent)]` forwards source() to the inner error, whose Display we printed.
    while let Some(cause) = source {
        line(&mut s, "caused by: ", &cause);
        source = cause.source();
    }
    for note in err.notes() {
        line(&mut s, "note: ", &note);
    }
    if let Some(hint) = err.hint() {
        line(&mut s, "hint: ", &hint);
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
        assert_eq!(Error::from(GraphError::NoObjectId).exit_code(), 4);
        assert_eq!(
            Error::from(OutputError::Io(std::io::ErrorKind::Other.into())).exit_code(),
            1
        );
        // The same failure has the same code whatever the command: a keyring that cannot be
        // read is 3, met by `secret status` or by `users` looking for a stored secret.
        let unreachable = || KeyringError::Timeout {
            backend: crate::credential::KeyringBackend::Keyutils,
        };
        assert_eq!(Error::from(unreachable()).exit_code(), 3);
        assert_eq!(
            Error::from(CredentialError::NoCredential {
                backend: "keyutils",
                cause: Some(unreachable()),
            })
            .exit_code(),
            3
        );
        assert_eq!(
            Error::from(CredentialError::NoCredential {
                backend: "keyutils",
                cause: None,
            })
            .exit_code(),
            2
        );
        let rotation = Error::Rotation {
            what: "w".into(),
            state: "s".into(),
            next: "n".into(),
            source: Box::new(Error::from(GraphError::NoObjectId)),
        };
        assert_eq!(rotation.exit_code(), 4);
        // A managed identity: the environment (2), the identity (3), the endpoint failing (5),
        // whether met while loading the credential or while getting a token.
        use crate::credential::ManagedIdentityError as Mi;
        let mi = |e: Mi| Error::from(CredentialError::from(e)).exit_code();
        let token = |e: Mi| Error::from(TokenError::Credential(e.into())).exit_code();
        assert_eq!(mi(Mi::AzureMl), 2);
        assert_eq!(token(Mi::CloudShellNotFederated), 2);
        let not_found = || Mi::IdentityNotFound {
            platform: "IMDS",
            sent: None,
            from: None,
            summary: None,
        };
        assert_eq!((mi(not_found()), token(not_found())), (3, 3));
        let unavailable = || Mi::Unavailable {
            platform: "IMDS",
            status: 503,
            attempts: 5,
            code: None,
            summary: None,
        };
        assert_eq!((mi(unavailable()), token(unavailable())), (5, 5));
        assert_eq!(Outcome::Absent.exit_code(), 1);
        let path = std::path::PathBuf::from("s");
        assert_eq!(
            Error::from(DeltaError::Mismatch {
                path: path.clone(),
                field: "tenant",
                saved: "a".into(),
                current: "b".into(),
            })
            .exit_code(),
            2
        );
        assert_eq!(Error::from(DeltaError::NoDeltaLink).exit_code(), 5);
        assert_eq!(
            Error::from(DeltaError::Save(path, std::io::ErrorKind::Other.into())).exit_code(),
            1
        );
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

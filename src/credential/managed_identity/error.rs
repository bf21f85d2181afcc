//! Why a managed identity's token could not be had. `error` maps these to exit codes through
//! [`ManagedIdentityError::is_usage`] (2: the environment or the flags need fixing) and
//! [`ManagedIdentityError::is_unavailable`] (5: the endpoint kept failing); the rest are 3.
//!
//! Nothing here holds a secret: the identity header, the Arc file's content and the token never
//! enter an error. Text that came from the endpoint (an error code, a summary, a path named by a
//! challenge) is cut short and stripped of control characters first (`printable`).

use crate::diagnostic::Diagnostic;
use crate::http::HttpSetupError;
use crate::names::{self, ENV_IDENTITY_HEADER, ENV_IDENTITY_SERVER_THUMBPRINT};
use crate::retry::RetryError;

/// A managed identity's token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ManagedIdentityError {
    #[error("{var} '{value}' is not a usable identity endpoint ({why})")]
    BadEndpoint {
        var: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "refused to send a token request over plain http to {url} ({var}): only a loopback or link-local address may be used without TLS"
    )]
    NotLocal { var: &'static str, url: String },
    #[error("{ENV_IDENTITY_SERVER_THUMBPRINT} '{0}' is not a SHA-1 thumbprint (40 hex digits)")]
    BadThumbprint(String),
    #[error(
        "Azure Machine Learning's managed identity endpoint (MSI_ENDPOINT with MSI_SECRET) is not supported"
    )]
    AzureMl,
    #[error(
        "{platform} offers one identity only, so a user-assigned one cannot be chosen ({selector}, from {from})"
    )]
    SelectorNotSupported {
        platform: &'static str,
        selector: String,
        from: String,
    },
    #[error(
        "Cloud Shell's token is the signed-in user's, not a managed identity's: it cannot be an app's federated credential"
    )]
    CloudShellNotFederated,
    #[error("cannot set up the client for the identity endpoint")]
    Setup(#[source] HttpSetupError),
    #[error("no managed identity endpoint answered: is this running on Azure?")]
    NoAnswer {
        platform: &'static str,
        endpoint: String,
        why: String,
        #[source]
        source: Box<RetryError>,
    },
    #[error("the {platform} endpoint has no such managed identity{}", sent.as_ref().map(|s| format!(" ({s} was asked for)")).unwrap_or_else(|| " (the system-assigned one was asked for)".into()))]
    IdentityNotFound {
        platform: &'static str,
        /// The selector parameter sent, e.g. `client_id=...`, and where it came from.
        sent: Option<String>,
        from: Option<String>,
        summary: Option<String>,
    },
    #[error(
        "the {platform} endpoint refused the token request: HTTP {status}{}",
        detail(code, summary)
    )]
    Refused {
        platform: &'static str,
        status: u16,
        code: Option<String>,
        summary: Option<String>,
    },
    #[error("the {platform} endpoint is unavailable: HTTP {status} after {attempts} attempt{}{}", if *attempts == 1 { "" } else { "s" }, detail(code, summary))]
    Unavailable {
        platform: &'static str,
        status: u16,
        attempts: u32,
        code: Option<String>,
        summary: Option<String>,
    },
    #[error("cannot get a token from the {platform} endpoint at {endpoint}")]
    Send {
        platform: &'static str,
        endpoint: String,
        #[source]
        source: Box<RetryError>,
    },
    #[error("TLS with the {platform} endpoint at {endpoint} failed")]
    Tls {
        platform: &'static str,
        endpoint: String,
        #[source]
        source: Box<RetryError>,
    },
    #[error("Azure Arc's answer is not a usable challenge: {0}")]
    ArcChallenge(&'static str),
    #[error("refused to read Azure Arc's challenge file {path}: {why}; nothing was sent")]
    ArcFile { path: String, why: String },
    #[error("the {platform} endpoint's answer is not a valid token response ({reason})")]
    BadResponse {
        platform: &'static str,
        reason: String,
    },
}

fn detail(code: &Option<String>, summary: &Option<String>) -> String {
    match (code, summary) {
        (Some(c), Some(s)) => format!(" ({c}: {s})"),
        (Some(c), None) => format!(" ({c})"),
        (None, Some(s)) => format!(" ({s})"),
        (None, None) => String::new(),
    }
}

impl ManagedIdentityError {
    /// The environment or the flags must change: exit code 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::BadEndpoint { .. }
                | Self::NotLocal { .. }
                | Self::BadThumbprint(_)
                | Self::AzureMl
                | Self::SelectorNotSupported { .. }
                | Self::CloudShellNotFederated
                | Self::Setup(_)
        )
    }

    /// The endpoint answered but kept failing, or the network did: exit code 5.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Send { .. } | Self::BadResponse { .. }
        )
    }
}

impl Diagnostic for ManagedIdentityError {
    fn hint(&self) -> Option<String> {
        let selectors = format!(
            "{}, {} or {}",
            names::MI_CLIENT_ID.flag,
            names::MI_OBJECT_ID.flag,
            names::MI_RESOURCE_ID.flag
        );
        Some(match self {
            Self::BadEndpoint { var, .. } => format!(
                "{var} is set by the platform: run graphd where it set it, or unset it to use another source"
            ),
            Self::NotLocal { var, .. } => format!(
                "a managed identity's endpoint is on this machine (or IMDS's link-local 169.254.169.254); \
                 a non-local http {var} would carry the request, and its answer, in clear text: fix or unset {var}"
            ),
            Self::BadThumbprint(_) => format!(
                "{ENV_IDENTITY_SERVER_THUMBPRINT} is set by Service Fabric: the SHA-1 of its endpoint's certificate, as hex"
            ),
            Self::AzureMl => "use another credential (a certificate, or --federated-token-file) on Azure Machine Learning".into(),
            Self::SelectorNotSupported { from, .. } => format!(
                "drop it ({from}); a user-assigned identity is chosen with {selectors} on IMDS (VMs, AKS) and App Service only"
            ),
            Self::CloudShellNotFederated => format!(
                "use {} in Cloud Shell, or run where a managed identity is assigned",
                names::MANAGED_IDENTITY.flag
            ),
            Self::Setup(e) => return e.hint(),
            Self::NoAnswer {
                platform,
                endpoint,
                why,
                ..
            } => format!(
                "graphd asked {platform} at {endpoint} because {why}; on Azure, enable a managed identity \
                 for this resource; elsewhere, use another credential"
            ),
            Self::IdentityNotFound {
                platform, sent, from, ..
            } => match (sent, from) {
                (Some(sent), from) => format!(
                    "the request named {sent}{}: assign that user-assigned identity to this resource \
                     (portal: Identity > User assigned), or name another with {selectors}{}",
                    from.as_ref().map(|f| format!(" (from {f})")).unwrap_or_default(),
                    if *platform == "Service Fabric" {
                        format!("; Service Fabric also answers this when {ENV_IDENTITY_HEADER} is not accepted")
                    } else {
                        String::new()
                    }
                ),
                (None, _) if *platform == "Service Fabric" => format!(
                    "the application has no managed identity assigned, or Service Fabric did not accept {ENV_IDENTITY_HEADER}: \
                     check the application's managed identity in its manifest"
                ),
                (None, _) => format!(
                    "no identity was named, so the system-assigned one was asked for: enable it (portal: \
                     Identity > System assigned), or name a user-assigned one with {selectors}"
                ),
            },
            Self::Refused {
                status: 401,
                platform: "Azure Arc",
                ..
            } => "Azure Arc did not accept the challenge file's content: run graphd again (each challenge \
                  names a new file), as a user who may read the agent's token directory"
                .into(),
            Self::Refused { status: 401, .. } => format!(
                "the endpoint did not accept {ENV_IDENTITY_HEADER}: the platform rotates it; run graphd with the \
                 environment the platform gives the process now"
            ),
            Self::Refused { status: 400 | 500, summary: Some(s), .. } if s.contains("AADSTS500011") => {
                "Entra does not know that resource in the identity's tenant: check --graph-endpoint / --cloud".into()
            }
            // No error body of IMDS's shape: something else answers at its address.
            Self::Refused {
                platform: "IMDS",
                code: None,
                ..
            }
            | Self::Unavailable {
                platform: "IMDS",
                code: None,
                summary: None,
                ..
            } => "the answer has no IMDS error body: is this running on Azure? (other clouds' metadata \
                  services answer at 169.254.169.254 too); use another credential there"
                .into(),
            Self::Refused { .. } => return None,
            Self::Unavailable { .. } => {
                "the identity endpoint kept failing and graphd retried with backoff: try again later, or raise \
                 --max-retries / --deadline"
                    .into()
            }
            Self::Send { source, .. } => return source.hint(),
            Self::Tls { platform, .. } if *platform == "Service Fabric" => format!(
                "graphd trusts exactly the certificate whose SHA-1 is {ENV_IDENTITY_SERVER_THUMBPRINT}: check that it \
                 names the endpoint's current certificate"
            ),
            Self::Tls { .. } => "check the endpoint's certificate, and --ca-bundle".into(),
            Self::ArcChallenge(_) => {
                "check what listens on IDENTITY_ENDPOINT: Azure Arc's agent answers 401 with \
                 WWW-Authenticate: Basic realm=<a .key file in its token directory>"
                    .into()
            }
            Self::ArcFile { .. } => format!(
                "Azure Arc's agent only ever names a .key file of at most 4096 bytes directly in {}: \
                 whatever answered on IDENTITY_ENDPOINT is not the agent, or it is misconfigured",
                super::arc::TOKEN_DIR_TEXT
            ),
            Self::BadResponse { .. } => {
                "something other than a managed identity endpoint answered: check the identity endpoint variables".into()
            }
        })
    }

    fn notes(&self) -> Vec<String> {
        match self {
            Self::NoAnswer { source, .. }
            | Self::Send { source, .. }
            | Self::Tls { source, .. } => source.notes(),
            Self::IdentityNotFound {
                summary: Some(s), ..
            } => vec![format!("the endpoint said: {s}")],
            _ => Vec::new(),
        }
    }
}

/// Text from an endpoint (or a path it named) made safe to print: control characters dropped,
/// at most `max` characters, one line.
/// An endpoint value as it may be shown: any user info (`user:password@`) in its authority
/// replaced by `[redacted]@`, then [`printable`]. The value may not even parse as a URL.
pub fn shown_endpoint(value: &str, max: usize) -> String {
    let redacted = match value.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://[redacted]{}", &rest[at..]),
                None => value.to_string(),
            }
        }
        None => value.to_string(),
    };
    printable(&redacted, max)
}

pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_string();
    if text.chars().filter(|c| !c.is_control()).count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_endpoint_never_shows_user_info() {
        assert_eq!(
            shown_endpoint("http://user:s3cret@127.0.0.1:40342/token?x=a@b", 200),
            "http://[redacted]@127.0.0.1:40342/token?x=a@b"
        );
        assert_eq!(
            shown_endpoint("http://127.0.0.1/a@b", 200),
            "http://127.0.0.1/a@b"
        );
        assert!(!shown_endpoint("https://:pw@[::1", 200).contains("pw"));
    }

    #[test]
    fn printable_strips_terminal_controls_and_bounds() {
        assert_eq!(printable("a\u{1b}]0;title\u{7}b\nc", 100), "a]0;titlebc");
        assert_eq!(printable(&"x".repeat(10), 4), "xxxx…");
        assert_eq!(printable("  ok  ", 10), "ok");
    }

    #[test]
    fn exit_classes() {
        assert!(ManagedIdentityError::AzureMl.is_usage());
        let nf = ManagedIdentityError::IdentityNotFound {
            platform: "IMDS",
            sent: Some("client_id=abc".into()),
            from: Some("flag --managed-identity-client-id".into()),
            summary: None,
        };
        assert!(!nf.is_usage() && !nf.is_unavailable());
        let hint = nf.hint().unwrap();
        assert!(
            hint.contains("client_id=abc") && hint.contains("--managed-identity-client-id"),
            "{hint}"
        );
        assert!(nf.to_string().contains("client_id=abc"));
        let system = ManagedIdentityError::IdentityNotFound {
            platform: "IMDS",
            sent: None,
            from: None,
            summary: None,
        };
        assert!(system.to_string().contains("system-assigned"));
        assert!(system.hint().unwrap().contains("System assigned"));
        assert!(
            ManagedIdentityError::Unavailable {
                platform: "IMDS",
                status: 500,
                attempts: 5,
                code: None,
                summary: None
            }
            .is_unavailable()
        );
    }
}

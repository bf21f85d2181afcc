//! Why a Graph request failed, Graph's error envelope (PROTOCOL.md §3), and what the user
//! should do. Messages never carry a body: only Graph's code, its one-line message, and ids.

use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::http::Reply;
use crate::retry::RetryError;
use crate::token::TokenError;

/// Ids of one Graph request, for Microsoft support.
#[derive(Debug, Clone, Default)]
pub struct RequestIds {
    pub request_id: Option<String>,
    pub client_request_id: String,
    pub date: Option<String>,
}

/// A Graph request failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Graph refused the request: HTTP {status} {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Refused {
        status: u16,
        code: String,
        message: Option<String>,
        ids: Box<RequestIds>,
        consent_url: String,
    },
    #[error("Graph failed: HTTP {status} {code}{}", if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() })]
    Server {
        status: u16,
        code: String,
        ids: Box<RequestIds>,
        attempts: u32,
    },
    #[error("Graph answered HTTP {status}, a redirect{}; graphd follows no redirects", location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default())]
    Redirected {
        status: u16,
        /// The origin the redirect pointed to (never its path or query).
        location: Option<String>,
        ids: Box<RequestIds>,
    },
    #[error("cannot reach Graph")]
    Send(#[source] RetryError),
    /// Getting a token for Graph failed; `Error` unwraps this into its token error.
    #[error(transparent)]
    Token(Box<TokenError>),
    #[error(
        "Graph sent {0} empty pages in a row, each with a next link; stopping instead of looping"
    )]
    TooManyEmptyPages(u32),
    #[error("Graph's response is not a valid page ({reason})")]
    BadPage {
        reason: String,
        ids: Box<RequestIds>,
    },
    #[error(
        "Graph's next link goes to {found}, not to {expected}; not following it with the token"
    )]
    ForeignNextLink { found: String, expected: String },
    #[error(
        "Graph's deltaLink goes to {found}, not to {expected}; not keeping it for the next round"
    )]
    ForeignDeltaLink { found: String, expected: String },
    #[error("Graph returned the same next link twice; stopping instead of looping")]
    RepeatedNextLink,
    #[error("Graph returned a next link that is not an https URL")]
    InvalidNextLink,
    #[error("Graph returned a next link of {bytes} bytes, longer than the {max} graphd follows")]
    NextLinkTooLong { bytes: usize, max: usize },
    #[error("cannot find the application object id for client id {client_id}")]
    ObjectIdNeeded {
        client_id: String,
        #[source]
        source: Box<GraphError>,
    },
    #[error("Graph answered the application object without an id")]
    NoObjectId,
}

impl GraphError {
    /// Graph refused (a 4xx other than 429), or the app's object cannot be found: the request
    /// as asked cannot succeed (exit code 4, `error` decides); anything else may on a retry.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            GraphError::Refused { .. } | GraphError::ObjectIdNeeded { .. } | GraphError::NoObjectId
        )
    }
}

impl Diagnostic for GraphError {
    fn notes(&self) -> Vec<String> {
        let ids = match self {
            Self::Refused { ids, .. }
            | Self::Server { ids, .. }
            | Self::BadPage { ids, .. }
            | Self::Redirected { ids, .. } => ids,
            Self::Send(e) => return e.notes(),
            _ => return Vec::new(),
        };
        let mut v = vec![format!("client-request-id: {}", ids.client_request_id)];
        if let Some(r) = &ids.request_id {
            v.insert(0, format!("request-id: {r}"));
        }
        if let Some(d) = &ids.date {
            v.push(format!("date: {d}"));
        }
        v
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Refused { status: 403, code, consent_url, .. } if code == "Authorization_RequestDenied" => Some(format!(
                "the app lacks the User.Read.All application permission, or an admin has not consented to it: \
                 add it under API permissions (type Application, not Delegated), then have an admin open {consent_url}"
            )),
            Self::Refused { status: 403, consent_url, .. } => {
                Some(format!("the app is not allowed to do this; an admin can grant consent at {consent_url}"))
            }
            Self::Refused { code, .. } if code == "Authentication_MissingOrMalformed" => Some(
                "Graph refused the proof of possession: it must be signed by a certificate that is registered on the \
                 app and still valid (pass that one with --cert/--key)"
                    .into(),
            ),
            Self::Refused { status: 401, .. } => Some(
                "Graph did not accept the token, even a fresh one (InvalidAuthenticationToken): check that \
                 --graph-endpoint and --authority-host are the same cloud, and the machine's clock"
                    .into(),
            ),
            Self::Refused { status: 404, .. } => Some("check the id or user principal name".into()),
            Self::Refused { status: 400, code, .. } if code == "Request_UnsupportedQuery" => Some(
                "Graph does not support this query here: advanced queries need ConsistencyLevel: eventual \
                 and $count=true"
                    .into(),
            ),
            Self::Refused { status: 400, .. } => Some("check --select property names and --top (1..999)".into()),
            Self::Server { status: 429, .. } => Some(
                "Graph is throttling this app: graphd retried as Retry-After asked; wait a few minutes, \
                 use a larger --top (fewer requests), or raise --max-retries / --max-retry-wait"
                    .into(),
            ),
            Self::Server { status: 500..=599, .. } => Some(
                "Graph or a proxy in between failed: graphd retried; try again later, or raise --max-retries \
                 (a text/html body usually means a proxy answered)"
                    .into(),
            ),
            Self::Redirected { .. } => Some(
                "a proxy or captive portal redirected the request; --graph-endpoint must be Graph itself \
                 (set HTTPS_PROXY for a proxy)"
                    .into(),
            ),
            Self::BadPage { .. } => Some(
                "a proxy or captive portal may have answered instead of Graph: check HTTPS_PROXY / NO_PROXY \
                 and --graph-endpoint"
                    .into(),
            ),
            Self::ForeignNextLink { .. }
            | Self::ForeignDeltaLink { .. }
            | Self::RepeatedNextLink
            | Self::InvalidNextLink
            | Self::NextLinkTooLong { .. }
            | Self::TooManyEmptyPages(_) => {
                Some("a proxy or the server misbehaved; --graph-endpoint must be the real Graph origin".into())
            }
            Self::Send(e) => e.hint(),
            Self::Token(e) => e.hint(),
            Self::ObjectIdNeeded { .. } | Self::NoObjectId => Some(
                "pass --app-object-id: in the portal, App registrations > the app > Overview > Object ID \
                 (not the Application (client) ID)"
                    .into(),
            ),
            Self::Refused { .. } | Self::Server { .. } => None,
        }
    }
}

impl From<TokenError> for GraphError {
    fn from(e: TokenError) -> Self {
        GraphError::Token(Box::new(e))
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "innerError", alias = "innererror", default)]
    inner: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(rename = "request-id", default)]
    request_id: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

/// The error for a non-2xx, non-3xx reply: 429 and 5xx are server failures, other 4xx refusals.
pub(super) fn from_reply(reply: &Reply, consent_url: &str) -> GraphError {
    let envelope = serde_json::from_slice::<ErrorEnvelope>(&reply.body).ok();
    let (code, message, inner) = match envelope {
        Some(e) => (e.error.code, e.error.message, e.error.inner),
        None => (None, None, None),
    };
    let ids = ids_with(reply, inner);
    let code = code.unwrap_or_else(|| "(no Graph error code)".into());
    let status = reply.status;
    if status == 429 || !(400..500).contains(&status) {
        let code = match reply.header("content-type") {
            Some(ct) if code.starts_with('(') && !ct.contains("json") => {
                format!(
                    "(no Graph error code; a {} body)",
                    ct.split(';').next().unwrap_or(ct).trim()
                )
            }
            _ => code,
        };
        return GraphError::Server {
            status,
            code,
            ids,
            attempts: reply.attempts,
        };
    }
    GraphError::Refused {
        status,
        code,
        message: message.map(|m| one_line(&m)),
        ids,
        consent_url: consent_url.to_string(),
    }
}

/// The request ids of a reply (its `request-id` header).
pub(super) fn ids(reply: &Reply) -> Box<RequestIds> {
    ids_with(reply, None)
}

/// The request ids of a reply (the header, else the envelope's `innerError`).
fn ids_with(reply: &Reply, inner: Option<InnerError>) -> Box<RequestIds> {
    let (inner_id, date) = inner.map(|i| (i.request_id, i.date)).unwrap_or_default();
    Box::new(RequestIds {
        request_id: reply.header("request-id").map(str::to_string).or(inner_id),
        client_request_id: reply.client_request_id.clone(),
        date,
    })
}

/// A reply's body that should have been JSON but is not.
pub(super) fn bad_json(reply: &Reply, e: &serde_json::Error) -> GraphError {
    GraphError::BadPage {
        reason: crate::diagnostic::json_position(e),
        ids: ids(reply),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

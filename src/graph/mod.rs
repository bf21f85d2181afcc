//! Authenticated Graph requests, the Graph error envelope, and paging.
//!
//! `graph` receives a token; it never fetches one. Paging is data (`Page`), and a next link
//! is followed only to the configured Graph origin and never twice (`NextLinkGuard`), so the
//! bearer token never leaves for another host and a looping server cannot loop graphd.

pub mod query;

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::config::origin;
use crate::http::{Http, Reply, SendError};
use crate::secret::AccessToken;

/// One page of a collection.
#[derive(Debug)]
pub enum Page {
    More { items: Vec<Value>, next: String },
    Done { items: Vec<Value> },
}

#[derive(Deserialize)]
struct WirePage {
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
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
    #[error("Graph failed: HTTP {status} {code}")]
    Server {
        status: u16,
        code: String,
        ids: Box<RequestIds>,
    },
    #[error("cannot reach Graph")]
    Send(#[source] SendError),
    #[error("Graph's response is not a valid page ({reason})")]
    BadPage {
        reason: String,
        ids: Box<RequestIds>,
    },
    #[error(
        "Graph's next link goes to {found}, not to {expected}; not following it with the token"
    )]
    ForeignNextLink { found: String, expected: String },
    #[error("Graph returned the same next link twice; stopping instead of looping")]
    RepeatedNextLink,
    #[error("Graph returned a next link that is not an https URL")]
    InvalidNextLink,
}

impl GraphError {
    /// Exit code 4 when Graph refused (4xx other than 429), else 5.
    pub fn is_refusal(&self) -> bool {
        matches!(self, GraphError::Refused { .. })
    }

    /// The ids Microsoft support asks for.
    pub fn notes(&self) -> Vec<String> {
        let ids = match self {
            Self::Refused { ids, .. } | Self::Server { ids, .. } | Self::BadPage { ids, .. } => ids,
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

    /// What the user should do.
    pub fn hint(&self) -> Option<String> {
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
                "Graph did not accept the token: check that --graph-endpoint and --authority-host are the same cloud"
                    .into(),
            ),
            Self::Refused { status: 404, .. } => Some("check the id or user principal name".into()),
            Self::Refused { status: 400, .. } => Some("check --select property names and --top (1..999)".into()),
            Self::Server { status: 429, .. } => Some("Graph is throttling this app: wait and retry".into()),
            Self::ForeignNextLink { .. } | Self::RepeatedNextLink => {
                Some("a proxy or the server misbehaved; --graph-endpoint must be the real Graph origin".into())
            }
            _ => None,
        }
    }
}

/// Authenticated GETs against one Graph origin.
pub struct Graph<'a> {
    http: &'a Http,
    token: &'a AccessToken,
    consent_url: String,
}

impl<'a> Graph<'a> {
    pub fn new(http: &'a Http, token: &'a AccessToken, consent_url: String) -> Self {
        Graph {
            http,
            token,
            consent_url,
        }
    }

    /// GETs one page of a collection.
    pub fn get_page(&self, url: &Url) -> Result<Page, GraphError> {
        let request = self
            .http
            .client()
            .get(url.clone())
            .bearer_auth(self.token.expose())
            .header("accept", "application/json");
        let reply = self.http.send("graph", request).map_err(GraphError::Send)?;
        if !(200..300).contains(&reply.status) {
            return Err(self.error(&reply));
        }
        let page: WirePage =
            serde_json::from_slice(&reply.body).map_err(|e| GraphError::BadPage {
                reason: format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
                ids: ids(&reply, None),
            })?;
        Ok(match page.next_link {
            Some(next) => Page::More {
                items: page.value,
                next,
            },
            None => Page::Done { items: page.value },
        })
    }

    /// A JSON request (GET, or POST with a body) for single resources such as the application
    /// object; `Ok(None)` for an empty success (204).
    pub fn call_json(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<Value>, GraphError> {
        let mut request = self
            .http
            .client()
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let reply = self.http.send("graph", request).map_err(GraphError::Send)?;
        if !(200..300).contains(&reply.status) {
            return Err(self.error(&reply));
        }
        if reply.body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&reply.body)
            .map(Some)
            .map_err(|e| GraphError::BadPage {
                reason: format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
                ids: ids(&reply, None),
            })
    }

    fn error(&self, reply: &Reply) -> GraphError {
        let envelope = serde_json::from_slice::<ErrorEnvelope>(&reply.body).ok();
        let (code, message, inner) = match envelope {
            Some(e) => (e.error.code, e.error.message, e.error.inner),
            None => (None, None, None),
        };
        let ids = ids(reply, inner);
        let code = code.unwrap_or_else(|| "(no Graph error code)".into());
        let status = reply.status;
        if status == 429 || !(400..500).contains(&status) {
            return GraphError::Server { status, code, ids };
        }
        GraphError::Refused {
            status,
            code,
            message: message.map(|m| one_line(&m)),
            ids,
            consent_url: self.consent_url.clone(),
        }
    }
}

fn ids(reply: &Reply, inner: Option<InnerError>) -> Box<RequestIds> {
    let (inner_id, date) = inner.map(|i| (i.request_id, i.date)).unwrap_or_default();
    Box::new(RequestIds {
        request_id: reply.header("request-id").map(str::to_string).or(inner_id),
        client_request_id: reply.client_request_id.clone(),
        date,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

/// Checks next links: same origin as Graph, https, never seen before.
pub struct NextLinkGuard {
    origin: String,
    seen: HashSet<String>,
}

impl NextLinkGuard {
    /// A guard for links on `graph_endpoint`'s origin; `first` is the first page's URL.
    pub fn new(graph_endpoint: &Url, first: &Url) -> Self {
        let mut seen = HashSet::new();
        seen.insert(first.as_str().to_string());
        NextLinkGuard {
            origin: origin(graph_endpoint),
            seen,
        }
    }

    /// The URL to follow, if `link` may be followed.
    pub fn check(&mut self, link: &str) -> Result<Url, GraphError> {
        let url = Url::parse(link).map_err(|_| GraphError::InvalidNextLink)?;
        if url.scheme() != "https" {
            return Err(GraphError::InvalidNextLink);
        }
        let found = origin(&url);
        if found != self.origin || !url.username().is_empty() || url.password().is_some() {
            return Err(GraphError::ForeignNextLink {
                found,
                expected: self.origin.clone(),
            });
        }
        if !self.seen.insert(link.to_string()) {
            return Err(GraphError::RepeatedNextLink);
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> NextLinkGuard {
        let g = Url::parse("https://graph.example:8443").unwrap();
        NextLinkGuard::new(
            &g,
            &Url::parse("https://graph.example:8443/v1.0/users?$top=5").unwrap(),
        )
    }

    #[test]
    fn follows_same_origin_once() {
        let mut g = guard();
        let link = "https://graph.example:8443/v1.0/users?$top=5&$skiptoken=abc";
        assert_eq!(g.check(link).unwrap().as_str(), link, "verbatim");
        assert!(matches!(g.check(link), Err(GraphError::RepeatedNextLink)));
        assert!(matches!(
            g.check("https://graph.example:8443/v1.0/users?$top=5"),
            Err(GraphError::RepeatedNextLink)
        ));
    }

    #[test]
    fn refuses_other_origins() {
        let mut g = guard();
        for bad in [
            "https://graph.example/v1.0/users",
            "https://evil.example:8443/v1.0/users",
            "https://graph.example:8443@evil.example/x",
            "https://user@graph.example:8443/x",
            "https://graph.example.evil:8443/x",
        ] {
            assert!(
                matches!(g.check(bad), Err(GraphError::ForeignNextLink { .. })),
                "{bad}"
            );
        }
        for bad in [
            "http://graph.example:8443/v1.0/users",
            "/v1.0/users?$skiptoken=x",
            "not a url",
        ] {
            assert!(
                matches!(g.check(bad), Err(GraphError::InvalidNextLink)),
                "{bad}"
            );
        }
    }
}

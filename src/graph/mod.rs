//! Authenticated Graph requests, the Graph error envelope, and paging.
//!
//! `graph` receives a token provider (`TokenSource`); it never fetches a token itself, but
//! on a 401 it asks the provider once for a fresh one and repeats the request. Every request
//! goes through `retry` (429, 5xx, resets, timeouts), so a failed page is retried on its
//! own, never from the start. Paging is data (`Page`, `Pager`), and a next link is followed
//! only to the configured Graph origin and never twice (`NextLinkGuard`), so the bearer token
//! never leaves for another host and a looping server cannot loop graphd.

pub mod query;

use std::collections::HashSet;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::config::{Config, origin};
use crate::http::{Http, Reply};
use crate::retry::{self, RetryError, RetryPolicy};
use crate::secret::AccessToken;
use crate::token::TokenError;
use crate::token::provider::TokenSource;

/// Empty pages with a next link in a row before graphd calls it a loop: Graph may send an
/// empty page now and then, never a hundred in a row.
pub const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 100;

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
    /// On the first page of a `$count=true` query.
    #[serde(rename = "@odata.count", default)]
    count: Option<u64>,
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
            Self::ForeignNextLink { .. } | Self::RepeatedNextLink | Self::InvalidNextLink | Self::TooManyEmptyPages(_) => {
                Some("a proxy or the server misbehaved; --graph-endpoint must be the real Graph origin".into())
            }
            Self::Send(e) if e.deadline_hit => Some(
                "the whole command ran out of time: raise --deadline (seconds), or list less (--max-items)".into(),
            ),
            Self::Send(e) if e.source.retry_reason().is_none() && matches!(e.source, crate::http::SendError::TooLarge { .. }) => Some(
                "raise --max-response-mib, or ask for smaller pages with --top".into(),
            ),
            Self::Send(_) => Some(
                "check the network, HTTPS_PROXY / NO_PROXY, and --ca-bundle if a proxy inspects TLS; \
                 --timeout sets the time one attempt may take"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl From<TokenError> for GraphError {
    fn from(e: TokenError) -> Self {
        GraphError::Token(Box::new(e))
    }
}

/// Parses a Graph collection page (public for the fuzz target). The reason of an error names
/// a line, a column or a JSON path, never the content.
pub fn parse_page(body: &[u8]) -> Result<Page, String> {
    parse_counted_page(body).map(|(page, _)| page)
}

/// A page and its `@odata.count`, if Graph sent one.
pub fn parse_counted_page(body: &[u8]) -> Result<(Page, Option<u64>), String> {
    let page: WirePage = serde_json::from_slice(body).map_err(|e| {
        let looks_html = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'<');
        if looks_html {
            "not JSON but HTML".to_string()
        } else {
            format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )
        }
    })?;
    if let Some(i) = page.value.iter().position(|v| !v.is_object()) {
        return Err(format!("value[{i}] is not an object"));
    }
    let count = page.count;
    Ok((
        match page.next_link {
            Some(next) => Page::More {
                items: page.value,
                next,
            },
            None => Page::Done { items: page.value },
        },
        count,
    ))
}

/// Authenticated GETs against one Graph origin.
pub struct Graph<'a> {
    http: &'a Http,
    tokens: &'a dyn TokenSource,
    retry: &'a RetryPolicy,
    endpoint: &'a Url,
    consent_url: String,
}

impl<'a> Graph<'a> {
    /// Requests go to `config.graph_endpoint` only, with `config.retry`'s policy.
    pub fn new(http: &'a Http, tokens: &'a dyn TokenSource, config: &'a Config) -> Self {
        Graph {
            http,
            tokens,
            retry: &config.retry,
            endpoint: &config.graph_endpoint,
            consent_url: config.admin_consent_url(),
        }
    }

    /// An authenticated GET with retries; on a 401 it gets a fresh token once and repeats.
    /// Anything but a 2xx is an error. `url` must be on the Graph origin.
    pub fn get(&self, url: &Url) -> Result<Reply, GraphError> {
        self.request(reqwest::Method::GET, url, &[], None)
    }

    /// An authenticated request with extra `headers` and an optional JSON `body`. GETs are
    /// retried on transient failures; other methods are sent once (a POST such as addKey
    /// must not be repeated after a timeout), except that any request is repeated once with a
    /// fresh token after a 401, which Graph answers before doing anything.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Reply, GraphError> {
        let expected = origin(self.endpoint);
        if origin(url) != expected || url.scheme() != "https" {
            return Err(GraphError::ForeignNextLink {
                found: origin(url),
                expected,
            });
        }
        let once;
        let policy = if method == reqwest::Method::GET {
            self.retry
        } else {
            once = RetryPolicy {
                max_retries: 0,
                ..self.retry.clone()
            };
            &once
        };
        let mut token: Rc<AccessToken> = self.tokens.bearer()?;
        let mut renewed = false;
        loop {
            let make = || {
                let mut r = self
                    .http
                    .client()
                    .request(method.clone(), url.clone())
                    .bearer_auth(token.expose())
                    .header("accept", "application/json");
                for (k, v) in headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                if let Some(b) = body {
                    r = r
                        .header("content-type", "application/json")
                        .body(b.to_vec());
                }
                r
            };
            let reply = retry::send(self.http, policy, "graph", &make, &|_| None)
                .map_err(GraphError::Send)?;
            if reply.status == 401
                && !renewed
                && let Some(fresh) = self.tokens.renew(&token)?
            {
                token = fresh;
                renewed = true;
                continue;
            }
            if (300..400).contains(&reply.status) {
                return Err(GraphError::Redirected {
                    status: reply.status,
                    location: reply
                        .header("location")
                        .and_then(|l| Url::parse(l).ok())
                        .map(|u| origin(&u)),
                    ids: ids(&reply, None),
                });
            }
            if !(200..300).contains(&reply.status) {
                return Err(self.error(&reply));
            }
            return Ok(reply);
        }
    }

    /// GETs one page of a collection.
    pub fn get_page(&self, url: &Url) -> Result<Page, GraphError> {
        self.get_page_with(url, &[]).map(|(page, _)| page)
    }

    /// GETs one page with extra `headers` (e.g. `ConsistencyLevel`), and its `@odata.count`.
    pub fn get_page_with(
        &self,
        url: &Url,
        headers: &[(String, String)],
    ) -> Result<(Page, Option<u64>), GraphError> {
        let reply = self.request(reqwest::Method::GET, url, headers, None)?;
        parse_counted_page(&reply.body).map_err(|reason| GraphError::BadPage {
            reason: match reply.header("content-type") {
                Some(ct) if !ct.contains("json") => format!("{reason}; content-type {ct}"),
                _ => reason,
            },
            ids: ids(&reply, None),
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
        let bytes =
            body.map(|b| zeroize::Zeroizing::new(serde_json::to_vec(b).unwrap_or_default()));
        let reply = self.request(method, &url, &[], bytes.as_ref().map(|b| b.as_slice()))?;
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

    /// The pages of the collection at `first`, one at a time.
    pub fn pages(&self, first: Url) -> Pager<'_, 'a> {
        self.pages_with(first, Vec::new())
    }

    /// The same, re-sending `headers` on every page (Graph does not carry them over).
    pub fn pages_with(&self, first: Url, headers: Vec<(String, String)>) -> Pager<'_, 'a> {
        Pager {
            graph: self,
            guard: NextLinkGuard::new(self.endpoint, &first),
            next: Some(first),
            link: None,
            empty_run: 0,
            pages: 0,
            headers,
            count: None,
        }
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

/// Walks a collection page by page: a failed page is retried on its own (inside `get`), the
/// next link is checked only when it is about to be followed, and a run of empty pages is
/// bounded.
pub struct Pager<'g, 'a> {
    graph: &'g Graph<'a>,
    guard: NextLinkGuard,
    next: Option<Url>,
    link: Option<String>,
    empty_run: u32,
    pages: u64,
    headers: Vec<(String, String)>,
    count: Option<u64>,
}

impl Pager<'_, '_> {
    /// The items of the next page, or `None` after the last one.
    pub fn next_page(&mut self) -> Result<Option<Vec<Value>>, GraphError> {
        if let Some(link) = self.link.take() {
            self.next = Some(self.guard.check(&link)?);
        }
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let (page, count) = self.graph.get_page_with(&url, &self.headers)?;
        let (items, link) = match page {
            Page::More { items, next } => (items, Some(next)),
            Page::Done { items } => (items, None),
        };
        if self.pages == 0 {
            self.count = count;
        }
        self.pages += 1;
        if items.is_empty() && link.is_some() {
            self.empty_run += 1;
            if self.empty_run >= MAX_EMPTY_PAGES_IN_A_ROW {
                return Err(GraphError::TooManyEmptyPages(self.empty_run));
            }
        } else {
            self.empty_run = 0;
        }
        self.link = link;
        Ok(Some(items))
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The first page's `@odata.count` (a `$count=true` query).
    pub fn count(&self) -> Option<u64> {
        self.count
    }
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
    fn pages_of_the_wrong_shape_are_errors_that_quote_nothing() {
        let ok = br#"{"value":[{"id":"1"}],"@odata.nextLink":"https://g/v1.0/users?$skiptoken=x"}"#;
        assert!(matches!(parse_page(ok), Ok(Page::More { items, .. }) if items.len() == 1));
        assert!(
            matches!(parse_page(br#"{"value":[],"@odata.nextLink":null}"#), Ok(Page::Done { items }) if items.is_empty())
        );
        for (body, want) in [
            (
                &b"<html><body>Sign in</body></html>"[..],
                "not JSON but HTML",
            ),
            (b"  \n<!DOCTYPE html>", "not JSON but HTML"),
            (br#"{"value":[{"id":"1"}"#, "Eof error"),
            (br#"{"value":{"id":"secret-looking"}}"#, "Data error"),
            (br#"{"values":[]}"#, "Data error"),
            (br#"{"value":[1,2]}"#, "value[0] is not an object"),
            (br#"{"value":[],"@odata.nextLink":42}"#, "Data error"),
            (b"", "Eof error"),
        ] {
            let reason = parse_page(body).unwrap_err();
            assert!(reason.contains(want), "{reason}");
            assert!(!reason.contains("secret-looking"), "{reason}");
        }
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

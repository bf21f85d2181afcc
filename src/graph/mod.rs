//! Authenticated Microsoft Graph requests: one client for every call, Graph's error envelope
//! (`error`), paging (`paging`), URL and OData rules (`query`), delta query's state and report
//! files (`delta`) and the application API that rolls an app's own certificates
//! (`applications`).
//!
//! `graph` receives a token provider (`TokenSource`) and a narrow [`Target`] (the Graph
//! origin, the admin-consent URL for hints, the retry policy), never the whole configuration.
//! It never fetches a token itself: on a 401 it asks the provider once for a fresh one and
//! repeats the request. Every request goes through `retry`, and only to the configured Graph
//! origin, so the bearer token never leaves for another host.

pub mod applications;
pub mod delta;
pub mod error;
pub mod paging;
pub mod query;

use std::rc::Rc;

use serde_json::Value;
use url::Url;

pub use error::{GraphError, RequestIds};
pub use paging::{NextLinkGuard, Page, Pager, parse_page};

use crate::http::{Http, Reply};
use crate::retry::{self, RetryPolicy};
use crate::secret::AccessToken;
use crate::token::provider::TokenSource;

/// Where Graph requests go and how hard to try.
#[derive(Debug, Clone)]
pub struct Target {
    /// Origin of Graph, e.g. `https://graph.microsoft.com`.
    pub endpoint: Url,
    /// The admin-consent URL a 403's hint points to.
    pub consent_url: String,
    pub retry: RetryPolicy,
}

impl Target {
    /// `{endpoint}/{path}` (path without a leading slash).
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.set_path(path);
        url
    }
}

/// The origin of a URL, without a trailing slash.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Authenticated requests against one Graph origin.
pub struct Graph<'a> {
    http: &'a Http,
    tokens: &'a dyn TokenSource,
    target: &'a Target,
}

/// A successful response body and whether it said it is JSON.
pub struct Body {
    pub reply: Reply,
    pub json: bool,
}

impl<'a> Graph<'a> {
    pub fn new(http: &'a Http, tokens: &'a dyn TokenSource, target: &'a Target) -> Self {
        Graph {
            http,
            tokens,
            target,
        }
    }

    /// Where requests go.
    pub fn target(&self) -> &Target {
        self.target
    }

    /// An authenticated request with extra `headers` and an optional JSON `body`. GETs are
    /// retried on transient failures; other methods are sent once (a POST such as addKey
    /// must not be repeated after a timeout), except that any request is repeated once with a
    /// fresh token after a 401, which Graph answers before doing anything. Anything but a
    /// 2xx is an error. `url` must be on the Graph origin.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Reply, GraphError> {
        let expected = origin(&self.target.endpoint);
        if origin(url) != expected || url.scheme() != "https" {
            return Err(GraphError::ForeignNextLink {
                found: origin(url),
                expected,
            });
        }
        let once;
        let policy = if method == reqwest::Method::GET {
            &self.target.retry
        } else {
            once = RetryPolicy {
                max_retries: 0,
                ..self.target.retry.clone()
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
                    ids: error::ids(&reply),
                });
            }
            if !(200..300).contains(&reply.status) {
                return Err(error::from_reply(&reply, &self.target.consent_url));
            }
            return Ok(reply);
        }
    }

    /// GETs `url` with `headers` added.
    pub fn get_with(&self, url: &Url, headers: &[(String, String)]) -> Result<Body, GraphError> {
        let reply = self.request(reqwest::Method::GET, url, headers, None)?;
        let json = reply
            .header("content-type")
            .is_none_or(|c| c.to_ascii_lowercase().contains("json"));
        Ok(Body { reply, json })
    }

    /// GETs one JSON object.
    pub fn get_object(&self, url: &Url, headers: &[(String, String)]) -> Result<Value, GraphError> {
        let body = self.get_with(url, headers)?;
        serde_json::from_slice(&body.reply.body).map_err(|e| error::bad_json(&body.reply, &e))
    }

    /// A JSON request (GET, or POST with a body already serialised) for single resources such
    /// as the application object; `Ok(None)` for an empty success (204).
    pub fn call_json(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<Option<Value>, GraphError> {
        let reply = self.request(method, url, &[], body)?;
        if reply.body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&reply.body)
            .map(Some)
            .map_err(|e| error::bad_json(&reply, &e))
    }
}

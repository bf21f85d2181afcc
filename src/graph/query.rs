//! GETs with extra request headers (`get --header`) and single objects; pages with headers
//! and `@odata.count` go through the parent's `Pager`.
//!
//! Same rules as the parent module: a token is received, never fetched; errors go through
//! the parent's Graph error envelope mapping. `get_page` stays as it is for plain listings.

use serde_json::Value;
use url::Url;

use super::{Graph, GraphError, ids};
use crate::http::Reply;

/// A successful response body and whether it said it is JSON.
pub struct Body {
    pub reply: Reply,
    pub json: bool,
}

impl Graph<'_> {
    /// GETs `url` with `headers` added; a non-2xx answer is a `GraphError`.
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
        serde_json::from_slice(&body.reply.body).map_err(|e| bad_page(&body.reply, &e, "not JSON"))
    }
}

fn bad_page(reply: &Reply, e: &serde_json::Error, what: &str) -> GraphError {
    GraphError::BadPage {
        reason: format!(
            "{what}: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
        ids: ids(reply, None),
    }
}

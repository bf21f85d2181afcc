//! Collections, page by page: the page shape (`value` + `@odata.nextLink`, or a delta round's
//! final `@odata.deltaLink`), the pager that follows next links, and the guard that decides
//! whether a next link may be followed (and a deltaLink kept).
//!
//! A failed page is retried on its own (inside `Graph::request`), a next link is checked only
//! when it is about to be followed, and a run of empty pages is bounded, so a hostile or
//! broken server can neither loop graphd nor lead its token to another origin.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{Graph, GraphError, error, origin};

/// Empty pages with a next link in a row before graphd calls it a loop: Graph may send an
/// empty page now and then, never a hundred in a row.
pub const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 100;

/// The longest next link graphd follows. Graph's carry an opaque `$skiptoken` and the original
/// query (a long `$filter` included) in a few KiB; a longer one is a server making graphd hold
/// what it should not.
pub const MAX_NEXT_LINK_BYTES: usize = 32 * 1024;

/// One page of a collection.
#[derive(Debug)]
pub enum Page {
    More {
        items: Vec<Value>,
        next: String,
    },
    Done {
        items: Vec<Value>,
    },
    /// The last page of a delta round: where the next round starts (PROTOCOL.md §9).
    Delta {
        items: Vec<Value>,
        delta: String,
    },
}

#[derive(Deserialize)]
struct WirePage {
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    /// On the last page of a delta round.
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
    /// On the first page of a `$count=true` query.
    #[serde(rename = "@odata.count", default)]
    count: Option<u64>,
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
            crate::diagnostic::json_position(&e)
        }
    })?;
    if let Some(i) = page.value.iter().position(|v| !v.is_object()) {
        return Err(format!("value[{i}] is not an object"));
    }
    let count = page.count;
    Ok((
        // A next link wins: only the round's last page carries the deltaLink that counts.
        match (page.next_link, page.delta_link) {
            (Some(next), _) => Page::More {
                items: page.value,
                next,
            },
            (None, Some(delta)) => Page::Delta {
                items: page.value,
                delta,
            },
            (None, None) => Page::Done { items: page.value },
        },
        count,
    ))
}

impl<'a> Graph<'a> {
    /// The pages of the collection at `first`, re-sending `headers` on every page (Graph does
    /// not carry them over).
    pub fn pages(&self, first: Url, headers: Vec<(String, String)>) -> Pager<'_, 'a> {
        Pager {
            graph: self,
            guard: NextLinkGuard::new(&self.target.endpoint, &first),
            next: Some(first),
            link: None,
            delta_link: None,
            empty_run: 0,
            pages: 0,
            headers,
            count: None,
        }
    }

    /// GETs one page with extra `headers` (e.g. `ConsistencyLevel`), and its `@odata.count`.
    fn page(
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
            ids: error::ids(&reply),
        })
    }
}

/// Walks a collection page by page.
pub struct Pager<'g, 'a> {
    graph: &'g Graph<'a>,
    guard: NextLinkGuard,
    next: Option<Url>,
    link: Option<String>,
    /// The checked `@odata.deltaLink` of a delta round's last page.
    delta_link: Option<Url>,
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
        let (page, count) = self.graph.page(&url, &self.headers)?;
        let (items, link) = match page {
            Page::More { items, next } => (items, Some(next)),
            Page::Done { items } => (items, None),
            Page::Delta { items, delta } => {
                // Checked before the page's items are handed out, like a next link.
                self.delta_link = Some(self.guard.check_delta_link(&delta)?);
                (items, None)
            }
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

    /// The `@odata.deltaLink` of a delta round, once its last page was fetched.
    pub fn delta_link(&self) -> Option<&Url> {
        self.delta_link.as_ref()
    }
}

/// Checks next links: not too long, https on the Graph origin with no user info, and never
/// seen before. What it remembers of each link is a 64-bit keyed hash (SipHash with a random
/// key per run), so its memory grows by a few bytes per page whatever the server sends, and a
/// server cannot aim a link at another's hash.
pub struct NextLinkGuard {
    origin: String,
    hasher: RandomState,
    seen: HashSet<u64>,
}

impl NextLinkGuard {
    /// A guard for links on `graph_endpoint`'s origin; `first` is the first page's URL.
    pub fn new(graph_endpoint: &Url, first: &Url) -> Self {
        let hasher = RandomState::new();
        let mut seen = HashSet::new();
        seen.insert(hasher.hash_one(first.as_str()));
        NextLinkGuard {
            origin: origin(graph_endpoint),
            hasher,
            seen,
        }
    }

    /// The URL to follow, if `link` may be followed.
    pub fn check(&mut self, link: &str) -> Result<Url, GraphError> {
        let url = self.on_origin(link, |found, expected| GraphError::ForeignNextLink {
            found,
            expected,
        })?;
        if !self.seen.insert(self.hasher.hash_one(link)) {
            return Err(GraphError::RepeatedNextLink);
        }
        Ok(url)
    }

    /// The URL of a delta round's `@odata.deltaLink`, if it may be kept for the next round:
    /// https on the same origin, no user info. It is not a link of this round, so it is not
    /// checked for repeats (a round without changes may end on the link it started from).
    pub fn check_delta_link(&self, link: &str) -> Result<Url, GraphError> {
        self.on_origin(link, |found, expected| GraphError::ForeignDeltaLink {
            found,
            expected,
        })
    }

    /// `link` as a URL if it is within the size cap, https, on the Graph origin and without
    /// user info; `foreign(found, expected)` is the error for another origin.
    fn on_origin(
        &self,
        link: &str,
        foreign: fn(String, String) -> GraphError,
    ) -> Result<Url, GraphError> {
        if link.len() > MAX_NEXT_LINK_BYTES {
            return Err(GraphError::NextLinkTooLong {
                bytes: link.len(),
                max: MAX_NEXT_LINK_BYTES,
            });
        }
        let url = Url::parse(link).map_err(|_| GraphError::InvalidNextLink)?;
        if url.scheme() != "https" {
            return Err(GraphError::InvalidNextLink);
        }
        let found = origin(&url);
        if found != self.origin || !url.username().is_empty() || url.password().is_some() {
            return Err(foreign(found, self.origin.clone()));
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
        let last = br#"{"value":[{"id":"1","@removed":{"reason":"deleted"}}],"@odata.deltaLink":"https://g/v1.0/users/delta?$deltatoken=x"}"#;
        assert!(
            matches!(parse_page(last), Ok(Page::Delta { items, delta }) if items.len() == 1 && delta.ends_with("=x"))
        );
        let both =
            br#"{"value":[],"@odata.nextLink":"https://g/n","@odata.deltaLink":"https://g/d"}"#;
        assert!(
            matches!(parse_page(both), Ok(Page::More { .. })),
            "the next link wins"
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
    fn long_links_are_refused_and_memory_is_a_hash_per_link() {
        let mut g = guard();
        let base = "https://graph.example:8443/v1.0/users?$skiptoken=";
        let long = format!("{base}{}", "x".repeat(MAX_NEXT_LINK_BYTES));
        assert!(matches!(
            g.check(&long),
            Err(GraphError::NextLinkTooLong { .. })
        ));
        for i in 0..1000 {
            let link = format!("{base}{i}{}", "y".repeat(16 * 1024));
            g.check(&link).unwrap();
        }
        // 1,001 links of 16 KiB each are remembered as 1,001 hashes.
        assert_eq!(g.seen.len(), 1001);
        assert_eq!(std::mem::size_of_val(g.seen.iter().next().unwrap()), 8);
    }

    #[test]
    fn delta_links_on_the_origin_only_and_may_repeat() {
        let g = guard();
        let link = "https://graph.example:8443/v1.0/users/delta?$deltatoken=abc";
        assert_eq!(g.check_delta_link(link).unwrap().as_str(), link);
        assert!(g.check_delta_link(link).is_ok(), "not a link of the round");
        for bad in [
            "https://evil.example:8443/v1.0/users/delta?$deltatoken=abc",
            "https://u@graph.example:8443/x",
        ] {
            assert!(
                matches!(
                    g.check_delta_link(bad),
                    Err(GraphError::ForeignDeltaLink { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            g.check_delta_link("http://graph.example:8443/x"),
            Err(GraphError::InvalidNextLink)
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

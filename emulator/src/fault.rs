//! Switchable faults for graphd's fault suite: what a misbehaving network, proxy or service
//! does to a client — throttling, outages, resets and stalls mid-body, truncated and non-JSON
//! bodies, hostile next links, huge pages, revoked tokens, redirects to another origin.
//!
//! Tests arm faults through [`crate::Emulator::set_fault`]; each armed fault counts the
//! requests of its own listener (Graph or token endpoint) from the moment it was armed and
//! fires on the ones its trigger selects. This module decides *whether* and *which* fault
//! fires and builds the bodies that need a stream; the listeners apply them. It holds no
//! secret and never changes what a correct request gets when no fault is armed.

use axum::body::{Body, Bytes};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Graph: `429 TooManyRequests` with `Retry-After: retry_after_secs`.
    Throttle { retry_after_secs: u64 },
    /// Graph: `503 serviceNotAvailable` without `Retry-After`.
    Unavailable,
    /// Graph: half of the real page, then the stream is reset.
    ResetMidBody,
    /// Graph: `Content-Length` larger than the bytes sent (half the real page).
    TruncatedBody,
    /// Graph: `200` with an HTML body (a captive portal or a proxy's login page).
    NonJson200,
    /// Graph: `200` `text/plain` with these bytes (a report's CSV, a `$value`), for what a
    /// client does with a body that is not JSON.
    TextBody(Vec<u8>),
    /// Graph: `502` with an HTML body, as a proxy answers when the upstream fails.
    Html502,
    /// Graph: headers and half of the real page, then nothing for `secs` seconds, then the rest.
    Stall { secs: u64 },
    /// Graph: the page's nextLink points at the foreign listener (another origin).
    ForeignNextLink,
    /// Graph: the page's nextLink is the URL of the request itself.
    RepeatedNextLink,
    /// Graph: an empty `value` with a nextLink that leads to the page that was asked for.
    EmptyPage,
    /// Graph: the page's nextLink carries an extra `pad` parameter of this many bytes (Graph
    /// ignores parameters that are not OData options, so the link still works): a server that
    /// makes a client keep long links.
    LongNextLink { padding_bytes: usize },
    /// Graph: the real page with an extra `@emulator.padding` string of this many bytes.
    LargePage { padding_bytes: usize },
    /// Graph: the presented access token is revoked (as if it expired): `401` now and every
    /// time it is presented again.
    ExpireToken,
    /// Graph: `307` to the same path on the foreign listener.
    RedirectToForeign,
    /// Token endpoint: `503` with `temporarily_unavailable`.
    TokenUnavailable,
    /// Token endpoint: `307` to the same path on the foreign listener.
    TokenRedirectToForeign,
    /// Graph: this answer, verbatim, in the endpoint's place (a hostile server's).
    GraphRaw(RawAnswer),
    /// Token endpoint: this answer, verbatim, in the endpoint's place (a hostile server's).
    TokenRaw(RawAnswer),
}

/// An answer a hostile server gives: status, headers (values as bytes: HTTP allows obs-text,
/// such as UTF-8 C1 controls) and body, sent as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The response it is; headers HTTP cannot carry are left out.
    pub(crate) fn response(&self) -> axum::response::Response {
        let mut r = axum::response::Response::new(Body::from(self.body.clone()));
        *r.status_mut() = axum::http::StatusCode::from_u16(self.status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                axum::http::HeaderValue::from_bytes(value),
            ) {
                r.headers_mut().append(n, v);
            }
        }
        r
    }
}

impl FaultKind {
    /// Whether the token endpoint (not Graph) counts and serves this fault.
    pub fn is_token(&self) -> bool {
        matches!(
            self,
            Self::TokenUnavailable | Self::TokenRedirectToForeign | Self::TokenRaw(_)
        )
    }

    /// A short name for the request log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Throttle { .. } => "throttle",
            Self::Unavailable => "unavailable",
            Self::ResetMidBody => "reset_mid_body",
            Self::TruncatedBody => "truncated_body",
            Self::NonJson200 => "non_json_200",
            Self::TextBody(_) => "text_body",
            Self::GraphRaw(_) => "graph_raw",
            Self::TokenRaw(_) => "token_raw",
            Self::Html502 => "html_502",
            Self::Stall { .. } => "stall",
            Self::ForeignNextLink => "foreign_next_link",
            Self::RepeatedNextLink => "repeated_next_link",
            Self::EmptyPage => "empty_page",
            Self::LongNextLink { .. } => "long_next_link",
            Self::LargePage { .. } => "large_page",
            Self::ExpireToken => "expire_token",
            Self::RedirectToForeign => "redirect_to_foreign",
            Self::TokenUnavailable => "token_unavailable",
            Self::TokenRedirectToForeign => "token_redirect_to_foreign",
        }
    }
}

/// A fault and the requests it fires on. Requests are numbered from 1 per listener, counted
/// from the moment the fault was armed; the fault fires on request `n` when `n > after`,
/// `(n - after)` is a multiple of `every`, and it has fired fewer than `times` times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub after: usize,
    pub every: usize,
    pub times: usize,
}

impl Fault {
    /// Fires on the next request of its listener, once.
    pub fn once(kind: FaultKind) -> Fault {
        Fault {
            kind,
            after: 0,
            every: 1,
            times: 1,
        }
    }

    /// Fires on every request of its listener.
    pub fn always(kind: FaultKind) -> Fault {
        Fault::once(kind).times(usize::MAX)
    }

    /// Fires on every `k`-th request (k, 2k, 3k, ...), without limit.
    pub fn every_kth(k: usize, kind: FaultKind) -> Fault {
        Fault {
            kind,
            after: 0,
            every: k.max(1),
            times: usize::MAX,
        }
    }

    /// Lets `n` requests through first.
    pub fn after(mut self, n: usize) -> Fault {
        self.after = n;
        self
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }
}

struct Armed {
    fault: Fault,
    seen: usize,
    fired: usize,
}

#[derive(Default)]
struct State {
    armed: Vec<Armed>,
    revoked: HashSet<String>,
}

/// The armed faults and the tokens revoked by `ExpireToken`.
#[derive(Default)]
pub(crate) struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn set(&self, faults: Vec<Fault>) {
        self.with(|s| {
            s.armed = faults
                .into_iter()
                .map(|fault| Armed {
                    fault,
                    seen: 0,
                    fired: 0,
                })
                .collect()
        });
    }

    pub(crate) fn add(&self, fault: Fault) {
        self.with(|s| {
            s.armed.push(Armed {
                fault,
                seen: 0,
                fired: 0,
            })
        });
    }

    /// Counts one request of the token endpoint (`token`) or Graph, and returns the fault that
    /// fires on it, if any (the first armed one that does).
    pub(crate) fn next(&self, token: bool) -> Option<FaultKind> {
        self.with(|s| {
            let mut hit = None;
            for a in s
                .armed
                .iter_mut()
                .filter(|a| a.fault.kind.is_token() == token)
            {
                a.seen += 1;
                let f = &a.fault;
                let fires = a.seen > f.after
                    && (a.seen - f.after) % f.every.max(1) == 0
                    && a.fired < f.times;
                if fires && hit.is_none() {
                    a.fired += 1;
                    hit = Some(f.kind.clone());
                }
            }
            hit
        })
    }

    pub(crate) fn revoke(&self, token: &str) {
        self.with(|s| {
            s.revoked.insert(token.to_owned());
        });
    }

    pub(crate) fn is_revoked(&self, token: &str) -> bool {
        self.with(|s| s.revoked.contains(token))
    }
}

/// How a streamed body misbehaves after its first half.
pub(crate) enum Stream {
    /// The stream fails: the connection (HTTP/1.1) or stream (HTTP/2) is reset.
    Reset,
    /// The stream ends early; the caller declares the full length plus some.
    End,
    /// The stream pauses, then sends the rest.
    Stall(Duration),
}

/// A body that sends the first half of `bytes`, then misbehaves as `how` says.
pub(crate) fn streamed(bytes: Vec<u8>, how: Stream) -> Body {
    let half = bytes.len() / 2;
    let rest = Bytes::copy_from_slice(&bytes[half..]);
    let first = Bytes::copy_from_slice(&bytes[..half]);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        match how {
            Stream::Reset => {
                // Give the first half time to leave before the failure tears the stream down.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx
                    .send(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "graphd-emulator fault: reset mid-body",
                    )))
                    .await;
            }
            Stream::End => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Stream::Stall(d) => {
                tokio::time::sleep(d).await;
                let _ = tx.send(Ok(rest)).await;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

/// The HTML a proxy or captive portal sends instead of JSON.
pub(crate) fn html(title: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{title}</title></head>\
         <body><h1>{title}</h1><p>The proxy server received an invalid response from an upstream server.</p></body></html>\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(f: Fault, n: usize) -> Vec<usize> {
        let faults = Faults::default();
        faults.set(vec![f]);
        (1..=n)
            .filter(|_| faults.next(false).is_some())
            .collect::<Vec<_>>()
    }

    #[test]
    fn triggers() {
        assert_eq!(fired(Fault::once(FaultKind::Unavailable), 5), vec![1]);
        assert_eq!(
            fired(Fault::every_kth(3, FaultKind::Unavailable), 10),
            vec![3, 6, 9]
        );
        assert_eq!(
            fired(Fault::once(FaultKind::Unavailable).after(2).times(2), 10),
            vec![3, 4]
        );
        assert_eq!(fired(Fault::always(FaultKind::Html502), 3), vec![1, 2, 3]);
        // Token faults do not count Graph requests.
        assert!(fired(Fault::once(FaultKind::TokenUnavailable), 3).is_empty());
    }
}

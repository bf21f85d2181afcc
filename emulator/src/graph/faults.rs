//! How an armed fault changes a Graph answer (the fault suite, see `crate::fault`): faults that
//! answer in the endpoint's place (an HTML 200, a plain-text body, a proxy's 502, a redirect to
//! another origin)
//! and faults that damage a computed page (a foreign or repeated nextLink, padding, a body that
//! is reset, truncated or stalls half-way). It decides nothing about *whether* a fault fires.

use crate::fault::{self, FaultKind, Stream};
use crate::state::Shared;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

/// A fault that answers in the endpoint's place: no page is computed.
pub(super) fn replacing_fault(s: &Shared, fault: &FaultKind, uri: &Uri) -> Option<Response> {
    if let FaultKind::GraphRaw(answer) = fault {
        return Some(answer.response());
    }
    let mut content_type = "text/html; charset=utf-8";
    let (status, body, location) = match fault {
        FaultKind::NonJson200 => (StatusCode::OK, fault::html("Sign in to continue"), None),
        FaultKind::TextBody(bytes) => {
            content_type = "text/plain; charset=utf-8";
            (StatusCode::OK, bytes.clone(), None)
        }
        FaultKind::Html502 => (
            StatusCode::BAD_GATEWAY,
            fault::html("502 Bad Gateway"),
            None,
        ),
        FaultKind::RedirectToForeign => {
            let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            (
                StatusCode::TEMPORARY_REDIRECT,
                Vec::new(),
                Some(format!("{}{target}", s.foreign_url)),
            )
        }
        _ => return None,
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Some(r)
}

/// The page body as a fault changes it: rewritten next link, padding, or a stream that breaks.
pub(super) fn faulty_body(
    s: &Shared,
    fault: Option<&FaultKind>,
    uri: &Uri,
    body: Vec<u8>,
) -> Response {
    let set_next = |body: Vec<u8>, link: String| -> Vec<u8> {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(mut v) if v.get("@odata.nextLink").is_some() => {
                v["@odata.nextLink"] = serde_json::Value::String(link);
                serde_json::to_vec(&v).unwrap_or(body)
            }
            _ => body,
        }
    };
    let current = || {
        format!(
            "{}{}",
            s.graph_url,
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
        )
    };
    let (body, stream) = match fault {
        Some(FaultKind::ForeignNextLink) => {
            let v: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let link = v
                .as_ref()
                .and_then(|v| v["@odata.nextLink"].as_str())
                .map(|l| l.replacen(&s.graph_url, &s.foreign_url, 1));
            match link {
                Some(l) => (set_next(body, l), None),
                None => (body, None),
            }
        }
        Some(FaultKind::RepeatedNextLink) => (set_next(body, current()), None),
        Some(FaultKind::LongNextLink { padding_bytes }) => {
            let v: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let link = v
                .as_ref()
                .and_then(|v| v["@odata.nextLink"].as_str())
                .map(|l| format!("{l}&pad={}", "x".repeat(*padding_bytes)));
            match link {
                Some(l) => (set_next(body, l), None),
                None => (body, None),
            }
        }
        Some(FaultKind::LargePage { padding_bytes }) if body.first() == Some(&b'{') => {
            let mut padded = Vec::with_capacity(body.len() + padding_bytes + 32);
            padded.extend_from_slice(b"{\"@emulator.padding\":\"");
            padded.resize(padded.len() + padding_bytes, b'x');
            padded.extend_from_slice(b"\",");
            padded.extend_from_slice(&body[1..]);
            (padded, None)
        }
        Some(FaultKind::ResetMidBody) => (body, Some(Stream::Reset)),
        Some(FaultKind::TruncatedBody) => (body, Some(Stream::End)),
        Some(FaultKind::Stall { secs }) => (
            body,
            Some(Stream::Stall(std::time::Duration::from_secs(*secs))),
        ),
        _ => (body, None),
    };
    match stream {
        None => Response::new(Body::from(body)),
        Some(how) => {
            let declared = body.len();
            let truncated = matches!(how, Stream::End);
            let mut r = Response::new(fault::streamed(body, how));
            if truncated {
                // Declares the whole page, sends half: the client sees a truncated body.
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
            }
            r
        }
    }
}

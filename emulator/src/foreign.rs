//! The foreign listener: another origin (same host, another port, the same trusted test
//! certificate) that hostile next links and redirects point to. It records each request —
//! whether an `Authorization` header came and how large the body was, never their values —
//! and answers with a page holding one "foreign" user, so a client that followed would show it.

use crate::log::ForeignRecord;
use crate::state::Shared;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::Response;
use std::sync::Arc;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.log.foreign(ForeignRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        raw_query: uri.query().map(str::to_owned),
        authorization: headers.contains_key(header::AUTHORIZATION),
        body_bytes: body.len(),
    });
    let mut r = Response::new(Body::from(
        &br#"{"value":[{"id":"foreign-origin-user","displayName":"must never be listed"}]}"#[..],
    ));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

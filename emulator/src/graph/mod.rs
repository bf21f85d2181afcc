//! The Graph listener's front door: one handler for every request (`handle`) that draws the
//! armed fault, routes by path (`/{v1.0|beta}/users...`, `/v1.0/applications...`), validates the
//! bearer token and its `roles` (`caller`), and renders Graph's error envelope with the
//! `request-id` / `client-request-id` headers, recording each request in the log. What a path
//! answers lives beside it: query-option parsing in `odata` (and the advanced `$search` /
//! `$orderby` / `ne` / `endsWith` in `advanced`), user listing and lookup in `users`, the
//! faults' rewriting of a page in `faults`. Nothing here builds a page itself.

pub(crate) mod advanced;
mod faults;
pub(crate) mod odata;
mod users;

use crate::fault::FaultKind;
use crate::log::GraphRecord;
use crate::state::Shared;
use crate::util::{format_time, guid, now_parts, now_unix};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A Graph error: status, `error.code`, `error.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

pub(crate) fn gerr(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> GraphError {
    GraphError {
        status,
        code,
        message: message.into(),
    }
}

pub(crate) fn bad(message: impl Into<String>) -> GraphError {
    gerr(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

pub(crate) fn unsupported(message: impl Into<String>) -> GraphError {
    gerr(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
}

pub(crate) fn no_property(name: &str) -> GraphError {
    bad(format!(
        "Could not find a property named '{name}' on type 'microsoft.graph.user'."
    ))
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request_id = guid();
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let client_request_id = header_str("client-request-id");
    let mut rec = GraphRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        raw_query: uri.query().map(str::to_owned),
        status: 200,
        authorized: false,
        error_code: None,
        items: 0,
        next_link_verbatim: None,
        consistency_level: header_str("consistencylevel"),
        client_request_id: client_request_id.clone(),
        fault: None,
    };
    let fault = s.faults.next(false);
    rec.fault = fault.as_ref().map(|f| f.name().to_owned());
    if fault == Some(FaultKind::ExpireToken)
        && let Some(token) = bearer(&headers)
    {
        s.faults.revoke(token);
    }
    if let Some(r) = fault
        .as_ref()
        .and_then(|f| faults::replacing_fault(&s, f, &uri))
    {
        rec.status = r.status().as_u16();
        s.log.graph(rec);
        return r;
    }
    let result = match &fault {
        Some(FaultKind::Throttle { .. }) => Err(gerr(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests are being made to this resource. Please try again later.",
        )),
        Some(FaultKind::Unavailable) => Err(gerr(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please try again later.",
        )),
        _ if uri.path().starts_with("/v1.0/applications") => {
            crate::applications::route(&s, &method, &uri, &headers, &body)
        }
        _ => route(&s, &method, &uri, &headers, &mut rec, fault.as_ref())
            .map(|b| (StatusCode::OK, b)),
    };
    let mut response = match result {
        Ok((status, body)) => {
            let mut r = faults::faulty_body(&s, fault.as_ref(), &uri, body);
            if status != StatusCode::OK {
                *r.status_mut() = status;
            }
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
                ),
            );
            r.headers_mut()
                .insert("odata-version", HeaderValue::from_static("4.0"));
            r
        }
        Err(e) => {
            rec.error_code = Some(e.code.to_owned());
            let throttled = match &fault {
                Some(FaultKind::Throttle { retry_after_secs }) => Some(*retry_after_secs),
                _ => None,
            };
            let (secs, _) = now_parts();
            let body = json!({
                "error": {
                    "code": e.code,
                    "message": e.message,
                    "innerError": {
                        "date": format_time(secs, 0, 0, false),
                        "request-id": request_id,
                        "client-request-id": client_request_id.clone().unwrap_or_else(|| request_id.clone()),
                    }
                }
            });
            let mut r = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
            *r.status_mut() = e.status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(secs) = throttled {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            if e.status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                    ),
                );
            }
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    if let Some(c) = &client_request_id
        && let Ok(v) = HeaderValue::from_str(c)
    {
        response.headers_mut().insert("client-request-id", v);
    }
    rec.status = response.status().as_u16();
    s.log.graph(rec);
    response
}

/// The presented bearer token, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => Some(token.trim()),
        _ => None,
    }
}

/// What the path names.
enum Target<'a> {
    List,
    One(&'a str),
}

fn route(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    rec: &mut GraphRecord,
    fault: Option<&FaultKind>,
) -> Result<Vec<u8>, GraphError> {
    let path = uri.path();
    let mut segs = path.trim_start_matches('/').split('/');
    let version = segs.next().unwrap_or("");
    if version != "v1.0" && version != "beta" {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Invalid version: {version}"),
        ));
    }
    let has_role = authenticate(s, headers)?;
    let rest: Vec<&str> = segs.collect();
    let target = match rest.as_slice() {
        ["users"] | ["users", ""] => Target::List,
        ["users", id] => Target::One(id),
        ["users", _, more, ..] => return Err(segment_not_found(more)),
        ["me", ..] => {
            return Err(gerr(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            ));
        }
        [first, ..] => return Err(segment_not_found(first)),
        [] => return Err(segment_not_found("")),
    };
    if method != Method::GET {
        return Err(gerr(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        ));
    }
    if !has_role {
        return Err(gerr(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    rec.authorized = true;
    let opts = odata::parse_query(uri.query())?;
    let version = if version == "beta" { "beta" } else { "v1.0" };
    match target {
        Target::List => users::list(
            s,
            uri,
            &opts,
            rec,
            version,
            fault == Some(&FaultKind::EmptyPage),
        ),
        Target::One(seg) => users::one(s, seg, &opts, rec, version),
    }
}

fn segment_not_found(seg: &str) -> GraphError {
    gerr(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
}

/// Validates the bearer token; returns whether it carries `User.Read.All`.
fn authenticate(s: &Shared, headers: &HeaderMap) -> Result<bool, GraphError> {
    Ok(caller(s, headers)?.roles.is_some_and(|r| {
        r.iter()
            .any(|r| r == "User.Read.All" || r == "Directory.Read.All")
    }))
}

/// Validates the bearer token and returns its claims (who is calling, with which roles).
pub(crate) fn caller(
    s: &Shared,
    headers: &HeaderMap,
) -> Result<crate::jwt::AccessClaims, GraphError> {
    let unauth = |m: &str| gerr(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => token.trim(),
        _ => "",
    };
    if token.is_empty() {
        return Err(unauth("Access token is empty."));
    }
    if s.faults.is_revoked(token) {
        return Err(unauth("Lifetime validation failed, the token is expired."));
    }
    let claims = s
        .token_key
        .check(token, &s.graph_url, &s.token_issuer(), now_unix())
        .map_err(|r| unauth(r.message()))?;
    if claims.tid != s.tenant_id {
        return Err(unauth("Access token validation failure. Invalid tenant."));
    }
    Ok(claims)
}

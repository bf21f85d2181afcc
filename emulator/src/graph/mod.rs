//! The Graph listener's front door: one handler for every request (`handle`) that draws the
//! armed fault, routes by path (`/{v1.0|beta}/users...`, `/v1.0/applications...`), validates the
//! bearer token and its `roles` (`caller`), and renders Graph's error envelope with the
//! `request-id` / `client-request-id` headers, recording each request in the log. What a path
//! answers lives beside it: query-option parsing in `odata` (and the advanced `$search` /
//! `$orderby` / `ne` / `endsWith` in `advanced`), user listing and lookup in `users`, the
//! faults' rewriting of a page in `faults`, delta query (`/users/delta`, `/groups/delta`) in
//! `delta`. Nothing here builds a page itself.

pub(crate) mod advanced;
pub(crate) mod delta;
mod faults;
pub(crate) mod odata;
mod users;

use crate::directory::Collection;
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
use std::borrow::Cow;
use std::sync::Arc;

/// Application permissions that let an app read users (PROTOCOL.md §4).
const USER_ROLES: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Application permissions that let an app read groups, as Graph documents them for
/// `/groups/delta`: `User.Read.All` is not one of them.
const GROUP_ROLES: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A Graph error: status, `error.code`, `error.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
}

pub(crate) fn gerr(
    status: StatusCode,
    code: impl Into<Cow<'static, str>>,
    message: impl Into<String>,
) -> GraphError {
    GraphError {
        status,
        code: code.into(),
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
    no_property_on(name, "microsoft.graph.user")
}

pub(crate) fn no_property_on(name: &str, type_name: &str) -> GraphError {
    bad(format!(
        "Could not find a property named '{name}' on type '{type_name}'."
    ))
}

/// A successful answer: status, body, and whether `Prefer: return=minimal` was applied.
type Answer = (StatusCode, Vec<u8>, bool);

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
                .map(|(status, body)| (status, body, false))
        }
        _ => route(&s, &method, &uri, &headers, &mut rec, fault.as_ref()),
    };
    let mut response = match result {
        Ok((status, body, minimal)) => {
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
            if minimal {
                r.headers_mut().insert(
                    "preference-applied",
                    HeaderValue::from_static("return=minimal"),
                );
            }
            r
        }
        Err(e) => {
            rec.error_code = Some(e.code.to_string());
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
    Delta(Collection),
}

/// Whether a path segment names the delta function (`delta` is short for
/// `microsoft.graph.delta`; SDKs send the long form, some with `()`).
fn is_delta(seg: &str) -> bool {
    matches!(
        seg,
        "delta" | "delta()" | "microsoft.graph.delta" | "microsoft.graph.delta()"
    )
}

fn route(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    rec: &mut GraphRecord,
    fault: Option<&FaultKind>,
) -> Result<Answer, GraphError> {
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
    let claims = caller(s, headers)?;
    // An app (or managed identity) holds application roles; a delegated token (Cloud Shell's)
    // the same permissions as delegated scopes.
    let mut roles = claims.roles.unwrap_or_default();
    roles.extend(
        claims
            .scp
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    );
    let rest: Vec<&str> = segs.collect();
    let target = match rest.as_slice() {
        ["users", f] if is_delta(f) => Target::Delta(Collection::Users),
        ["groups", f] if is_delta(f) => Target::Delta(Collection::Groups),
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
    let needed = match target {
        Target::Delta(Collection::Groups) => GROUP_ROLES,
        _ => USER_ROLES,
    };
    if !roles.iter().any(|r| needed.contains(&r.as_str())) {
        return Err(gerr(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    rec.authorized = true;
    let version = if version == "beta" { "beta" } else { "v1.0" };
    let empty = fault == Some(&FaultKind::EmptyPage);
    match target {
        Target::Delta(c) => delta::page(s, c, uri, headers, rec, version, empty)
            .map(|(body, minimal)| (StatusCode::OK, body, minimal)),
        Target::List => {
            let opts = odata::parse_query(uri.query())?;
            users::list(s, uri, &opts, rec, version, empty).map(|b| (StatusCode::OK, b, false))
        }
        Target::One(seg) => {
            let opts = odata::parse_query(uri.query())?;
            users::one(s, seg, &opts, rec, version).map(|b| (StatusCode::OK, b, false))
        }
    }
}

fn segment_not_found(seg: &str) -> GraphError {
    gerr(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
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

//! App Service and Azure Functions: the local token service at `IDENTITY_ENDPOINT`
//! (`http://127.0.0.1:PORT/MSI/token` here), guarded by the `IDENTITY_HEADER` secret.
//!
//! Request: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R` with the header
//! `X-IDENTITY-HEADER: {IDENTITY_HEADER}` and at most one of `client_id`, `principal_id` (the
//! docs' name; `object_id` is its documented alias, and what MSAL sends) and `mi_res_id`.
//!
//! Success: `200` `{"access_token","expires_on":"<epoch seconds as a string>","resource",
//! "token_type":"Bearer","client_id"}` (the docs' sample response).
//!
//! Refusals (App Service's error body is `{"statusCode","message","correlationId"}`):
//! - no `X-IDENTITY-HEADER`, or a wrong one → `401` (what azure-sdk-for-js#11595 reports the
//!   2019-08-01 protocol answering; the exact message is not documented);
//! - `api-version` missing or older than 2019-08-01 (2017-09-01 is the old protocol with the
//!   `secret` header) , `resource` missing, a repeated parameter or more than one selector → `400`;
//! - no such identity → `400` "Unable to load the proper Managed Identity.";
//! - a resource the tenant does not know → `500` (MSAL Python: "wrong resource ends up with a
//!   vague statusCode=500") whose message carries AADSTS500011;
//! - another path → `404`; another method → `405`.
//!
//! Sources: <https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>,
//! MSAL Python `msal/managed_identity.py` (`_obtain_token_on_app_service`),
//! <https://github.com/Azure/azure-sdk-for-js/issues/11595>.

use super::{
    MiRequest, MiSource, Outcome, SelectorKind, identity_not_found, json_response,
    mint_for_identity, param, refuse, selector, target, unknown_resource_message, version_at_least,
};
use crate::state::Shared;
use axum::http::{Method, StatusCode};
use serde_json::json;

const SOURCE: MiSource = MiSource::AppService;

const MIN_API_VERSION: &str = "2019-08-01";

const SELECTORS: [(&str, SelectorKind); 4] = [
    ("client_id", SelectorKind::Client),
    ("principal_id", SelectorKind::Object),
    ("object_id", SelectorKind::Object),
    ("mi_res_id", SelectorKind::Resource),
];

/// Compares two secrets without an early exit on the first differing byte.
pub(super) fn same_secret(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len() && openssl::memcmp::eq(sent.as_bytes(), expected.as_bytes())
}

pub(super) fn handle(s: &Shared, req: &MiRequest) -> Outcome {
    let refused = |status, message: String| {
        let code = if status == StatusCode::UNAUTHORIZED {
            "unauthorized"
        } else if status == StatusCode::INTERNAL_SERVER_ERROR {
            "invalid_resource"
        } else {
            "bad_request"
        };
        Outcome::refused(SOURCE, refuse(status, code, message))
    };
    let path = req.uri.path();
    if path != "/MSI/token" && path != "/MSI/token/" {
        return refused(StatusCode::NOT_FOUND, format!("Not found: {path}"));
    }
    if req.method != Method::GET {
        return refused(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("The method {} is not allowed.", req.method),
        );
    }
    match req.header("x-identity-header") {
        None => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: the X-IDENTITY-HEADER header is missing.".into(),
            );
        }
        Some(sent) if !same_secret(sent, &s.mi.app_service_header) => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: the X-IDENTITY-HEADER header is not valid.".into(),
            );
        }
        Some(_) => {}
    }
    let query = match req.query() {
        Ok(q) => q,
        Err(name) => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!("The parameter '{name}' was specified more than once."),
            );
        }
    };
    if !version_at_least(param(&query, "api-version"), MIN_API_VERSION) {
        return refused(
            StatusCode::BAD_REQUEST,
            format!(
                "The api-version is missing or not supported. Use {MIN_API_VERSION} or later with the X-IDENTITY-HEADER header."
            ),
        );
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The resource parameter is missing.".into(),
        );
    };
    let sel = match selector(&query, &SELECTORS) {
        Ok(sel) => sel,
        Err(names) => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!(
                    "Only one of client_id, principal_id (object_id), mi_res_id may be given; got {names}."
                ),
            );
        }
    };
    let Some(identity) = s.mi.select(sel.as_ref()) else {
        return Outcome::refused(SOURCE, identity_not_found(SOURCE));
    };
    let Some(t) = target(s, resource) else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            unknown_resource_message(s, resource),
        );
    };
    match mint_for_identity(s, identity, t) {
        Ok(m) => {
            let body = json!({
                "access_token": m.access_token,
                "expires_on": m.expires_on.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": m.client_id,
            });
            Outcome::issued(json_response(StatusCode::OK, &body), &m)
        }
        Err(_) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred while getting a token.".into(),
        ),
    }
}

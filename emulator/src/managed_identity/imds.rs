//! IMDS, the Instance Metadata Service of VMs, scale sets and AKS (pod-managed identity), on a
//! plain-http loopback listener that graphd reaches through `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
//!
//! Request: `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R` with at most
//! one of `client_id`, `object_id`, `msi_res_id`, and the header `Metadata: true` ("in all lower
//! case", an SSRF mitigation). Requests carrying `X-Forwarded-For` are refused (IMDS refuses
//! anything that came through a proxy).
//!
//! Success: `200` `{"access_token","client_id","expires_in","expires_on","ext_expires_in",
//! "not_before","resource","token_type":"Bearer"}`, every number a string.
//!
//! Refusals, in the order checked (`{"error","error_description"}`):
//! - no or wrong `Metadata` → `400 bad_request_102` "Required metadata header not specified"
//!   (the error the docs list); `X-Forwarded-For` → `400 invalid_request`;
//! - missing or too old `api-version`, missing `resource`, a repeated parameter or more than one
//!   selector → `400 invalid_request`;
//! - a selector naming no assigned identity → `400 invalid_request` "Identity not found" (final);
//! - a resource the tenant does not know (anything but the emulator's Graph origin, with or
//!   without one trailing `/`, and `api://AzureADTokenExchange`) → `400 invalid_resource`
//!   AADSTS500011;
//! - another path → `404`; another method → `405`.
//!
//! Source: <https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>
//! ("Get a token using HTTP", "Error handling"); the X-Forwarded-For rule is from the IMDS
//! overview <https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service>.

use super::{
    MiRequest, MiSource, Outcome, SelectorKind, TOKEN_PATH, has_metadata_true, identity_not_found,
    imds_body, json_response, mint_for_identity, param, refuse, selector, target,
    unknown_resource_message, version_at_least,
};
use crate::state::Shared;
use axum::http::{Method, StatusCode};

const SOURCE: MiSource = MiSource::Imds;

/// The oldest api-version of the identity endpoint ("use 2018-02-01 or greater").
const MIN_API_VERSION: &str = "2018-02-01";

const SELECTORS: [(&str, SelectorKind); 3] = [
    ("client_id", SelectorKind::Client),
    ("object_id", SelectorKind::Object),
    ("msi_res_id", SelectorKind::Resource),
];

pub(super) fn handle(s: &Shared, req: &MiRequest) -> Outcome {
    let refused =
        |status, code, message: String| Outcome::refused(SOURCE, refuse(status, code, message));
    if req.uri.path() != TOKEN_PATH {
        return refused(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("API not found: path = {}", req.uri.path()),
        );
    }
    if req.method != Method::GET {
        return refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("Http method not allowed: method = {}", req.method),
        );
    }
    if req.headers.contains_key("x-forwarded-for") {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Requests that went through a proxy (X-Forwarded-For) are not accepted".into(),
        );
    }
    if !has_metadata_true(req) {
        return refused(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified".into(),
        );
    }
    let query = match req.query() {
        Ok(q) => q,
        Err(name) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("The parameter '{name}' was specified more than once"),
            );
        }
    };
    let version = param(&query, "api-version");
    if !version_at_least(version, MIN_API_VERSION) {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "Required parameter 'api-version' is missing or not supported (use {MIN_API_VERSION} or later)"
            ),
        );
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required parameter 'resource' is missing".into(),
        );
    };
    let sel = match selector(&query, &SELECTORS) {
        Ok(sel) => sel,
        Err(names) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("Only one of client_id, object_id, msi_res_id may be given; got {names}"),
            );
        }
    };
    let Some(identity) = s.mi.select(sel.as_ref()) else {
        return Outcome::refused(SOURCE, identity_not_found(SOURCE));
    };
    let Some(t) = target(s, resource) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            unknown_resource_message(s, resource),
        );
    };
    match mint_for_identity(s, identity, t) {
        Ok(m) => Outcome::issued(json_response(StatusCode::OK, &imds_body(&m, resource)), &m),
        Err(_) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            "Failed to retrieve token from the Active directory.".into(),
        ),
    }
}

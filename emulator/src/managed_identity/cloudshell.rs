//! Azure Cloud Shell: `MSI_ENDPOINT` (`http://127.0.0.1:PORT/oauth2/token`, as Cloud Shell's
//! `http://localhost:50342/oauth2/token`), which hands out the *signed-in user's* token.
//!
//! Request: `POST {MSI_ENDPOINT}`, `Content-Type: application/x-www-form-urlencoded`, body
//! `resource=R`, header `Metadata: true`. There is one identity (the user); a selector
//! (`client_id`, `object_id`, `msi_res_id`, ...) in the body or query → `400`.
//!
//! Success: the IMDS-shaped body (numbers as strings). The token is delegated: issued to the
//! Azure CLI (`appid` 04b07795-8ddb-461a-bbee-02f9e1bf7b46, `appidacr` "0"), `idtyp: "user"`,
//! `scp: "User.Read User.Read.All"`, `upn` and `name` of the directory's first user, `oid` its
//! id, no `roles`. Graph lists users with it (real Graph allows delegated `User.Read.All`).
//!
//! Refusals (`{"error","error_description"}`): no `Metadata: true` → `400 bad_request_102`;
//! another content type, `resource` missing, a repeated field, a selector → `400
//! invalid_request`; `api://AzureADTokenExchange` (a user is no managed identity) or another
//! unknown resource → `400 invalid_resource`; a path other than `/oauth2/token` → `404`;
//! a method other than POST → `405`.
//!
//! Sources: azure-identity's `CloudShellCredential` (POST, form `resource`, `Metadata: true`);
//! MSAL Python's note that Cloud Shell "yields a token with delegated permissions for the end
//! user who has signed in" (`msal/managed_identity.py`).

use super::{
    ALL_SELECTORS, MiRequest, MiSource, Outcome, Target, decode_pairs, has_metadata_true,
    imds_body, json_response, mint_for_cloud_shell_user, param, refuse, target,
    unknown_resource_message,
};
use crate::state::Shared;
use axum::http::{Method, StatusCode, header};

const SOURCE: MiSource = MiSource::CloudShell;

pub(super) fn handle(s: &Shared, req: &MiRequest) -> Outcome {
    let refused =
        |status, code, message: String| Outcome::refused(SOURCE, refuse(status, code, message));
    if req.uri.path() != "/oauth2/token" {
        return refused(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Not found: {}", req.uri.path()),
        );
    }
    if req.method != Method::POST {
        return refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("Http method not allowed: method = {}", req.method),
        );
    }
    if !has_metadata_true(req) {
        return refused(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified".into(),
        );
    }
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("The body must be application/x-www-form-urlencoded, not '{content_type}'"),
        );
    }
    let (form, query) = match (decode_pairs(&req.body), req.query()) {
        (Ok(f), Ok(q)) => (f, q),
        (Err(name), _) | (_, Err(name)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("The parameter '{name}' was specified more than once"),
            );
        }
    };
    if let Some(sel) = ALL_SELECTORS
        .iter()
        .find(|n| param(&form, n).is_some() || param(&query, n).is_some())
    {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("Cloud Shell has one identity, the signed-in user's; '{sel}' is not accepted"),
        );
    }
    let Some(resource) = param(&form, "resource").filter(|r| !r.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required parameter 'resource' is missing from the form body".into(),
        );
    };
    if target(s, resource) != Some(Target::Graph) {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            unknown_resource_message(s, resource),
        );
    }
    match mint_for_cloud_shell_user(s) {
        Ok(m) => Outcome::issued(json_response(StatusCode::OK, &imds_body(&m, resource)), &m),
        Err(_) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            "Failed to retrieve token.".into(),
        ),
    }
}

//! Graph's application object, for an app rolling its own keys (PROTOCOL.md §7):
//! `GET /v1.0/applications/{id}`, `GET /v1.0/applications(appId='{appId}')`, and
//! `POST /v1.0/applications/{id}/addKey` / `removeKey`, each with a proof-of-possession JWT
//! validated strictly: RS256 with the `x5t` of a currently registered certificate, signature,
//! `aud` = `00000002-0000-0000-c000-000000000000`, `iss` = the application object id (not the
//! client id), `nbf`/`exp` within 10 minutes, and no base64 `=` padding anywhere. A removed
//! key stops working at the token endpoint at once (both read the same list).

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::assertion::RegisteredCert;
use crate::graph::{GraphError, caller, gerr};
use crate::jwt::{self, Alg};
use crate::state::{App, Shared};
use crate::util::now_unix;

/// The `aud` of every proof: the old Azure AD Graph's application id.
pub const PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// Longest a proof may live.
const MAX_PROOF_LIFETIME: i64 = 600;

type Reply = Result<(StatusCode, Vec<u8>), GraphError>;

/// Serves `/v1.0/applications...` for the calling app.
pub(crate) fn route(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let claims = caller(s, headers)?;
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let rest = path.trim_start_matches("/v1.0/");
    let segs: Vec<&str> = rest.split('/').collect();
    let (app, action) = match segs.as_slice() {
        [first] if first.starts_with("applications(appId=") => {
            let app_id = first
                .trim_start_matches("applications(appId=")
                .trim_end_matches(')')
                .trim_matches('\'');
            (s.app(app_id), None)
        }
        ["applications", id] => (find_by_object_id(s, id), None),
        ["applications", id, action] => (find_by_object_id(s, id), Some(*action)),
        _ => {
            return Err(gerr(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment 'applications'.",
            ));
        }
    };
    let Some(app) = app else {
        return Err(gerr(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
                segs.last().unwrap_or(&"")
            ),
        ));
    };
    let own = claims.appid.eq_ignore_ascii_case(&app.client_id);
    let roles = claims.roles.unwrap_or_default();
    match (method, action) {
        (&Method::GET, None) => {
            // Reading an application object needs a permission, even one's own.
            let may_read = roles
                .iter()
                .any(|r| r == "Application.Read.All" || r == "Application.ReadWrite.All")
                || (own && roles.iter().any(|r| r == "Application.ReadWrite.OwnedBy"));
            if !may_read {
                return Err(denied());
            }
            Ok((
                StatusCode::OK,
                serde_json::to_vec(&application_json(s, app)).unwrap_or_default(),
            ))
        }
        (&Method::POST, Some("addKey")) if own => add_key(s, app, body),
        (&Method::POST, Some("removeKey")) if own => remove_key(app, body),
        (&Method::POST, Some("addKey" | "removeKey")) => Err(denied()),
        _ => Err(gerr(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )),
    }
}

fn denied() -> GraphError {
    gerr(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn find_by_object_id<'a>(s: &'a Shared, id: &str) -> Option<&'a App> {
    [&s.main_app, &s.noperm_app]
        .into_iter()
        .find(|a| a.application_id.eq_ignore_ascii_case(id))
}

fn key_json(c: &RegisteredCert) -> Value {
    json!({
        "customKeyIdentifier": crate::tls::hex_upper(&c.sha1),
        "displayName": c.display_name,
        "endDateTime": crate::util::format_time(c.not_after, 0, 0, true),
        "key": null,
        "keyId": c.key_id,
        "startDateTime": crate::util::format_time(c.not_before, 0, 0, true),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    })
}

fn application_json(s: &Shared, app: &App) -> Value {
    let certs = app.certs.read().unwrap_or_else(|p| p.into_inner());
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#applications/$entity", s.graph_url),
        "id": app.application_id,
        "appId": app.client_id,
        "displayName": app.display_name,
        "keyCredentials": certs.iter().map(key_json).collect::<Vec<_>>(),
    })
}

fn malformed(message: impl Into<String>) -> GraphError {
    gerr(
        StatusCode::UNAUTHORIZED,
        "Authentication_MissingOrMalformed",
        message,
    )
}

/// Validates a proof of possession; returns nothing or the refusal.
fn check_proof(app: &App, proof: &str, now: i64) -> Result<(), GraphError> {
    if proof.contains('=') {
        return Err(malformed(
            "The proof has base64 padding ('='); it must be unpadded base64url.",
        ));
    }
    let raw = jwt::split(proof).map_err(|e| malformed(format!("The proof is not a JWT: {e}.")))?;
    let header: Map<String, Value> = serde_json::from_slice(&raw.header)
        .map_err(|_| malformed("The proof's header is not JSON."))?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(malformed("The proof must be signed RS256."));
    }
    let x5t = header
        .get("x5t")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("The proof's header has no x5t."))?;
    let thumb = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, x5t)
        .map_err(|_| malformed("The proof's x5t is not base64url."))?;
    let cert = app
        .certs
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|c| c.sha1 == thumb)
        .cloned()
        .ok_or_else(|| {
            malformed("The proof is signed by a key that is not registered on the application.")
        })?;
    if now < cert.not_before || now > cert.not_after {
        return Err(malformed("The proof is signed by a key that has expired."));
    }
    if !jwt::verify(
        Alg::Rs256,
        &cert.public_key,
        raw.signing_input.as_bytes(),
        &raw.signature,
    ) {
        return Err(malformed("The proof's signature is invalid."));
    }
    let claims: Map<String, Value> = serde_json::from_slice(&raw.claims)
        .map_err(|_| malformed("The proof's payload is not JSON."))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    if text("aud") != PROOF_AUDIENCE {
        return Err(malformed(format!(
            "The proof's aud must be {PROOF_AUDIENCE}."
        )));
    }
    let iss = text("iss");
    if iss.eq_ignore_ascii_case(&app.client_id) {
        return Err(malformed(
            "The proof's iss is the client (application) id; it must be the application object id.",
        ));
    }
    if !iss.eq_ignore_ascii_case(&app.application_id) {
        return Err(malformed(
            "The proof's iss must be the application object id.",
        ));
    }
    let (Some(nbf), Some(exp)) = (
        claims.get("nbf").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(malformed("The proof must carry numeric nbf and exp."));
    };
    if exp <= now || nbf > now + 300 || exp - nbf > MAX_PROOF_LIFETIME {
        return Err(malformed(
            "The proof is expired, not yet valid, or lives longer than 10 minutes.",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddKey {
    key_credential: KeyCredentialIn,
    proof: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyCredentialIn {
    #[serde(rename = "type")]
    kind: String,
    usage: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveKey {
    key_id: String,
    proof: String,
}

fn add_key(s: &Shared, app: &App, body: &[u8]) -> Reply {
    let req: AddKey = serde_json::from_slice(body).map_err(|_| {
        gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The request body must be {keyCredential, passwordCredential, proof}.",
        )
    })?;
    check_proof(app, &req.proof, now_unix())?;
    if req.key_credential.kind != "AsymmetricX509Cert" || req.key_credential.usage != "Verify" {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "keyCredential must be type AsymmetricX509Cert, usage Verify.",
        ));
    }
    let der = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        req.key_credential.key.trim(),
    )
    .map_err(|_| {
        gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "keyCredential.key must be base64 of a DER certificate.",
        )
    })?;
    let cert = openssl::x509::X509::from_der(&der).map_err(|_| {
        gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "keyCredential.key is not a certificate.",
        )
    })?;
    let mut registered = RegisteredCert::from_x509(&cert).map_err(|_| {
        gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "keyCredential.key is not a usable certificate.",
        )
    })?;
    let mut certs = app.certs.write().unwrap_or_else(|p| p.into_inner());
    if certs.iter().any(|c| c.sha1 == registered.sha1) {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "A key credential with this thumbprint already exists on the application.",
        ));
    }
    registered.usable_from = now_unix()
        + s.key_propagation_secs
            .load(std::sync::atomic::Ordering::SeqCst);
    let out = key_json(&registered);
    certs.push(registered);
    Ok((StatusCode::OK, serde_json::to_vec(&out).unwrap_or_default()))
}

fn remove_key(app: &App, body: &[u8]) -> Reply {
    let req: RemoveKey = serde_json::from_slice(body).map_err(|_| {
        gerr(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The request body must be {keyId, proof}.",
        )
    })?;
    check_proof(app, &req.proof, now_unix())?;
    let mut certs = app.certs.write().unwrap_or_else(|p| p.into_inner());
    let before = certs.len();
    certs.retain(|c| !c.key_id.eq_ignore_ascii_case(&req.key_id));
    if certs.len() == before {
        return Err(gerr(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "No key credential with keyId '{}' on the application.",
                req.key_id
            ),
        ));
    }
    Ok((StatusCode::NO_CONTENT, Vec::new()))
}

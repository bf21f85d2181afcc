//! The authority listener: Entra ID's v2.0 token endpoint for the client-credentials grant
//! (PROTOCOL.md §1–§3), strict about every field, plus what MSAL fetches around it — OpenID
//! configuration, instance discovery and the JWKS. Assertion rules are in `assertion`; this module
//! owns the HTTP shape: form parsing, the order of checks, Entra's error bodies and headers.

use crate::assertion::{self, Expect};
use crate::fault::FaultKind;
use crate::jwt::AccessClaims;
use crate::log::{OtherRecord, TokenRecord};
use crate::state::{App, Shared};
use crate::util::{format_time, guid, now_parts, now_unix};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A token-endpoint refusal, rendered as Entra's JSON error body.
#[derive(Debug)]
struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

fn bad_request(code: u32, message: impl Into<String>) -> AadError {
    AadError {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_request",
        code,
        message: message.into(),
    }
}

fn invalid_client(code: u32, message: impl Into<String>) -> AadError {
    AadError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        code,
        message: message.into(),
    }
}

fn malformed_request(detail: &str) -> AadError {
    // AADSTS9002313 is what Entra answers for requests it cannot parse.
    bad_request(
        9002313,
        format!("Invalid request. Request is malformed or invalid. {detail}"),
    )
}

fn missing(param: &str) -> AadError {
    bad_request(
        900144,
        format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// Per-request ids and the response headers Entra sets on every token-endpoint answer.
struct Ctx {
    trace_id: String,
    correlation_id: String,
    echo_client_request_id: Option<String>,
}

impl Ctx {
    fn new(headers: &HeaderMap) -> Ctx {
        let crid = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let wants_echo = headers
            .get("return-client-request-id")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        // Entra uses a GUID client-request-id as the correlation id.
        let correlation_id = crid
            .as_deref()
            .filter(|c| uuid::Uuid::parse_str(c).is_ok())
            .map(str::to_owned)
            .unwrap_or_else(guid);
        Ctx {
            trace_id: guid(),
            correlation_id,
            echo_client_request_id: if wants_echo { crid } else { None },
        }
    }

    fn respond(&self, status: StatusCode, body: Vec<u8>) -> Response {
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = status;
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        if let Ok(v) = HeaderValue::from_str(&self.trace_id) {
            h.insert("x-ms-request-id", v);
        }
        if let Some(c) = &self.echo_client_request_id
            && let Ok(v) = HeaderValue::from_str(c)
        {
            h.insert("client-request-id", v);
        }
        r
    }

    fn error(&self, s: &Shared, e: &AadError) -> Response {
        let (secs, _) = now_parts();
        let ts = format_time(secs, 0, 0, true).replace('T', " ");
        let body = json!({
            "error": e.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
                e.code, e.message, self.trace_id, self.correlation_id, ts
            ),
            "error_codes": [e.code],
            "timestamp": ts,
            "trace_id": self.trace_id,
            "correlation_id": self.correlation_id,
            "error_uri": format!("{}/error?code={}", s.authority_url, e.code),
        });
        self.respond(e.status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ctx = Ctx::new(&headers);
    if let [tenant, "oauth2", "v2.0", "token"] = segs.as_slice()
        && method == Method::POST
    {
        let mut rec = TokenRecord {
            tenant: (*tenant).to_owned(),
            client_id: None,
            auth: "none".into(),
            alg: None,
            thumbprint_header: None,
            jti: None,
            replayed_jti: false,
            status: 200,
            error_code: None,
            has_x5c: false,
            client_request_id: headers
                .get("client-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            return_client_request_id: headers
                .get("return-client-request-id")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            fault: None,
        };
        let fault = s.faults.next(true);
        rec.fault = fault.as_ref().map(|f| f.name().to_owned());
        if let Some(assertion) = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "client_assertion")
            .map(|(_, v)| v.into_owned())
        {
            s.remember_secret(&assertion);
        }
        let response = match fault {
            Some(FaultKind::TokenUnavailable) => {
                let e = AadError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    error: "temporarily_unavailable",
                    code: 90033,
                    message: "A transient error has occurred. Please try again.".into(),
                };
                rec.status = e.status.as_u16();
                rec.error_code = Some(e.code);
                ctx.error(&s, &e)
            }
            Some(FaultKind::TokenRaw(answer)) => {
                rec.status = answer.status;
                answer.response()
            }
            Some(FaultKind::TokenRedirectToForeign) => {
                let mut r = ctx.respond(StatusCode::TEMPORARY_REDIRECT, Vec::new());
                if let Ok(l) = HeaderValue::from_str(&format!("{}{path}", s.foreign_url)) {
                    r.headers_mut().insert(header::LOCATION, l);
                }
                rec.status = 307;
                r
            }
            _ => match token(&s, tenant, &headers, &body, &mut rec) {
                Ok(body) => ctx.respond(StatusCode::OK, body),
                Err(e) => {
                    rec.status = e.status.as_u16();
                    rec.error_code = Some(e.code);
                    ctx.error(&s, &e)
                }
            },
        };
        s.log.token(rec);
        return response;
    }

    let response = match (segs.as_slice(), &method) {
        ([_, "oauth2", "v2.0", "token"], m) => ctx.error(
            &s,
            &bad_request(
                900561,
                format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {m} request."
                ),
            ),
        ),
        ([tenant, "v2.0", ".well-known", "openid-configuration"], &Method::GET) => {
            openid_configuration(&s, &ctx, tenant)
        }
        (["common", "discovery", "instance"], &Method::GET) => instance_discovery(&s, &ctx, &uri),
        (["_emulator", "federated-token"], &Method::POST) => {
            // Test control endpoint: mint a CI provider's token (loopback only, like everything here).
            let spec: crate::federation::FederatedTokenSpec = if body.is_empty() {
                Default::default()
            } else {
                match serde_json::from_slice(&body) {
                    Ok(spec) => spec,
                    Err(_) => {
                        return ctx.respond(StatusCode::BAD_REQUEST, b"{\"error\":\"bad spec\"}".to_vec());
                    }
                }
            };
            ctx.respond(StatusCode::OK, s.federation.mint(&spec, now_unix()).into_bytes())
        }
        (["_emulator", "directory"], &Method::POST) => {
            let (status, body) = crate::control::directory(&s, &body);
            ctx.respond(status, body)
        }
        ([tenant, "discovery", "v2.0", "keys"], &Method::GET) => {
            if s.is_our_tenant(tenant) || is_multi_tenant(tenant) {
                jwks(&s, &ctx)
            } else {
                ctx.error(&s, &tenant_not_found(tenant))
            }
        }
        _ => ctx.respond(
            StatusCode::NOT_FOUND,
            br#"{"error":"not_found","error_description":"graphd-emulator: no such authority endpoint"}"#
                .to_vec(),
        ),
    };
    s.log.other(OtherRecord {
        listener: "authority".into(),
        method: method.to_string(),
        path: path.to_owned(),
        raw_query: uri.query().map(str::to_owned),
        status: response.status().as_u16(),
    });
    response
}

fn is_multi_tenant(tenant: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(tenant))
}

fn tenant_not_found(tenant: &str) -> AadError {
    bad_request(
        90002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

/// The token request, in Entra's order: tenant, body shape, grant, client, scope, credential.
fn token(
    s: &Shared,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    rec: &mut TokenRecord,
) -> Result<Vec<u8>, AadError> {
    if is_multi_tenant(tenant) {
        // PROTOCOL.md names AADSTS90130 and 9001023 for /common-style endpoints. 90130 ("not
        // supported over the /common or /consumers endpoints") is the one Entra documents for
        // endpoint restrictions; 9001023 is specific to other grant types. /organizations is
        // refused too: an app-only token needs a concrete tenant.
        return Err(bad_request(
            90130,
            format!(
                "Application is not supported over the /{tenant} endpoint for the client credentials flow. Please use the tenant-specific endpoint (tenant ID or verified domain)."
            ),
        ));
    }
    if !s.is_our_tenant(tenant) {
        return Err(tenant_not_found(tenant));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(malformed_request(&format!(
            "The Content-Type must be application/x-www-form-urlencoded, not '{content_type}'."
        )));
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(malformed_request(&format!(
                "The parameter '{k}' was specified more than once."
            )));
        }
    }
    let secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    rec.auth = match (secret, assertion) {
        (Some(_), Some(_)) => "both",
        (Some(_), None) => "client_secret",
        (None, Some(_)) => "client_assertion",
        (None, None) => "none",
    }
    .into();
    rec.client_id = form.get("client_id").cloned();

    let grant = form
        .get("grant_type")
        .ok_or_else(|| missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
            code: 70003,
            message: format!("The app requested an unsupported grant type '{grant}'."),
        });
    }
    let client_id = form.get("client_id").ok_or_else(|| missing("client_id"))?;
    let app = s.app(client_id).ok_or_else(|| AadError {
        status: StatusCode::BAD_REQUEST,
        error: "unauthorized_client",
        code: 700016,
        message: format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
            s.tenant_domain
        ),
    })?;
    let scope = form.get("scope").ok_or_else(|| missing("scope"))?;
    let want_scope = format!("{}/.default", s.graph_url);
    if *scope != want_scope {
        return Err(AadError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
            code: 70011,
            message: format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. The only scope this emulator accepts is {want_scope}."
            ),
        });
    }

    let acr = match (secret, assertion) {
        (Some(_), Some(_)) => {
            return Err(malformed_request(
                "Both client_secret and client_assertion were sent; send exactly one credential.",
            ));
        }
        // AADSTS7000218 is Entra's "body must contain client_assertion or client_secret".
        (None, None) => {
            return Err(bad_request(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        (Some(secret), None) => {
            check_secret(app, secret)?;
            "1"
        }
        (None, Some(assertion)) => {
            match form.get("client_assertion_type") {
                None => return Err(missing("client_assertion_type")),
                Some(t) if t != JWT_BEARER => {
                    return Err(malformed_request(&format!(
                        "client_assertion_type must be '{JWT_BEARER}', not '{t}'."
                    )));
                }
                Some(_) => {}
            }
            if crate::federation::Federation::is_federated(assertion, &app.client_id) {
                // A CI provider's token exchanged for an app token (workload identity federation).
                rec.auth = "federated".into();
                let record = std::ptr::eq(app, &s.main_app).then_some(&s.federation);
                let Some(fic) = record else {
                    return Err(bad_request(
                        70021,
                        "No matching federated identity record found for presented assertion. The application has no federated identity credentials.",
                    ));
                };
                // A managed identity's token-exchange token (its issuer is the tenant's own) is
                // checked against the app's managed-identity credentials; any other issuer
                // against the CI provider's.
                let verdict =
                    match crate::managed_identity::exchange::check(s, assertion, now_unix()) {
                        Some(verdict) => {
                            rec.auth = "federated_managed_identity".into();
                            verdict
                        }
                        None => fic.check(assertion, now_unix()),
                    };
                verdict.map_err(|(code, message)| match code {
                    700024 | 700027 => invalid_client(code, message),
                    _ => bad_request(code, message),
                })?;
                "2"
            } else {
                let audience = format!("{}/{tenant}/oauth2/v2.0/token", s.authority_url);
                let certs = app.certs.read().unwrap_or_else(|p| p.into_inner()).clone();
                let trusted = app
                    .trusted_subjects
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                let (facts, result) = assertion::check(
                    assertion,
                    &Expect {
                        audience: &audience,
                        client_id: &app.client_id,
                        certs: &certs,
                        trusted: &trusted,
                        now: now_unix(),
                    },
                );
                rec.alg = facts.alg;
                rec.thumbprint_header = facts.thumbprint_header;
                rec.has_x5c = facts.has_x5c;
                rec.jti = facts.jti;
                result.map_err(|r| invalid_client(r.code, r.message))?;
                if let Some(jti) = &rec.jti {
                    let mut seen = s.seen_jtis.lock().unwrap_or_else(|p| p.into_inner());
                    // A repeated jti is logged, never refused: MSAL Python re-sends its assertion.
                    rec.replayed_jti = !seen.insert(jti.clone());
                }
                "2"
            }
        }
    };

    let now = now_unix();
    let lifetime = i64::try_from(s.token_lifetime_secs).unwrap_or(i64::MAX / 4);
    let claims = AccessClaims {
        aud: s.graph_url.clone(),
        iss: s.token_issuer(),
        iat: now,
        nbf: now,
        exp: now.saturating_add(lifetime),
        app_displayname: app.display_name.clone(),
        appid: app.client_id.clone(),
        appidacr: acr.into(),
        idp: s.token_issuer(),
        idtyp: "app".into(),
        oid: app.object_id.clone(),
        roles: (!app.roles.is_empty()).then(|| app.roles.clone()),
        sub: app.object_id.clone(),
        tid: s.tenant_id.clone(),
        uti: crate::util::b64url(&crate::util::random_bytes(16)),
        ver: "1.0".into(),
        ..Default::default()
    };
    let access_token = s.token_key.issue(&claims).map_err(|_| AadError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "temporarily_unavailable",
        code: 90033,
        message: "A transient error has occurred. Please try again.".into(),
    })?;
    s.remember_secret(&access_token);
    let mut out = json!({
        "token_type": "Bearer",
        "expires_in": s.token_lifetime_secs,
        "ext_expires_in": s.token_lifetime_secs,
        "access_token": access_token,
    });
    if let Some(r) = s.refresh_in_secs {
        out["refresh_in"] = json!(r);
    }
    Ok(serde_json::to_vec(&out).unwrap_or_default())
}

fn check_secret(app: &App, secret: &str) -> Result<(), AadError> {
    let found = app.secrets.iter().find(|s| {
        s.value.len() == secret.len() && openssl::memcmp::eq(s.value.as_bytes(), secret.as_bytes())
    });
    match found {
        Some(s) if s.expired => Err(invalid_client(
            7000222,
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                app.client_id
            ),
        )),
        Some(_) => Ok(()),
        None => Err(invalid_client(
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        )),
    }
}

fn openid_configuration(s: &Shared, ctx: &Ctx, tenant: &str) -> Response {
    if !s.is_our_tenant(tenant) && !is_multi_tenant(tenant) {
        return ctx.error(s, &tenant_not_found(tenant));
    }
    let a = &s.authority_url;
    let issuer_tenant = if is_multi_tenant(tenant) {
        "{tenantid}"
    } else {
        s.tenant_id.as_str()
    };
    let graph_host = s.graph_url.trim_start_matches("https://");
    let body = json!({
        "token_endpoint": format!("{a}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{a}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{a}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{}/oidc/userinfo", s.graph_url),
        "authorization_endpoint": format!("{a}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{a}/{tenant}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{a}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{a}/{tenant}/kerberos"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": graph_host,
        "rbac_url": "https://pas.windows.net",
    });
    ctx.respond(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

fn instance_discovery(s: &Shared, ctx: &Ctx, uri: &Uri) -> Response {
    let host = s.authority_url.trim_start_matches("https://");
    let auth_endpoint = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "authorization_endpoint")
        .map(|(_, v)| v.into_owned());
    // The tenant is the first path segment of the authorization endpoint MSAL asks about.
    let tenant = auth_endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut p| p.next().map(str::to_owned))
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| s.tenant_id.clone());
    let body = json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", s.authority_url),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    });
    ctx.respond(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

fn jwks(s: &Shared, ctx: &Ctx) -> Response {
    let k = &s.token_key;
    let body = json!({
        "keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": k.kid,
            "x5t": k.kid,
            "n": k.n,
            "e": k.e,
            "x5c": [STANDARD.encode(&k.cert_der)],
            "issuer": format!("{}/{}/v2.0", s.authority_url, s.tenant_id),
        }]
    });
    ctx.respond(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

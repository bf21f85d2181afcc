//! Azure Arc-enabled servers: the agent's identity endpoint (`IDENTITY_ENDPOINT` =
//! `http://127.0.0.1:PORT/metadata/identity/oauth2/token`, `IMDS_ENDPOINT` = its origin), with
//! the challenge that proves the caller may read the agent's token directory.
//!
//! Round trip: `GET {IDENTITY_ENDPOINT}?api-version=2019-11-01&resource=R` with `Metadata: true`
//! → `401` with `WWW-Authenticate: Basic realm=<path>`, where `<path>` is a fresh file
//! `<random>.key` in the token directory holding a random secret (64 characters, mode 0600);
//! then the same request with `Authorization: Basic <the file's content>` → `200` with the
//! IMDS-shaped body (numbers as strings). Each secret is good for one token. Only the
//! system-assigned identity: any selector parameter → `400`.
//!
//! The token directory is `Options::arc_token_dir` (the real agent's is `/var/opt/azcmagent/tokens`,
//! which graphd's tests create as root); when that is `None`, it is `arc-tokens/` (mode 0700)
//! under `Options::dir`, a directory graphd must refuse to read from. The files written are
//! removed at shutdown.
//!
//! For attack tests, `Emulator::set_arc_challenge_realm(Some(path))` makes the challenge name
//! any path instead (and write nothing); every `Authorization` value that arrives is kept in
//! memory (`Emulator::arc_authorizations`), so a test can assert that a client sent nothing.
//!
//! Refusals (`{"error","error_description"}` as IMDS): no `Metadata: true` → `400
//! bad_request_102`; `api-version` older than 2019-11-01 or missing, `resource` missing, a
//! repeated parameter, a selector → `400 invalid_request`; a wrong or reused secret → `401
//! invalid_client` (no new challenge); an unknown resource → `400 invalid_resource`.
//!
//! Sources: <https://learn.microsoft.com/azure/azure-arc/servers/managed-identity-authentication>
//! (the bash and PowerShell samples use api-version 2019-11-01 and 2020-06-01); MSAL Python
//! `_obtain_token_on_arc` (the `.key` file, the 4,096-byte limit, the token directories).

use super::{
    ALL_SELECTORS, MiIdentity, MiRequest, MiSource, Outcome, TOKEN_PATH, error_response,
    has_metadata_true, imds_body, json_response, lock, mint_for_identity, param, refuse, target,
    unknown_resource_message, version_at_least,
};
use crate::state::Shared;
use crate::util::{b64url, random_bytes};
use axum::http::{HeaderValue, Method, StatusCode, header};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::Mutex;

const SOURCE: MiSource = MiSource::Arc;

const MIN_API_VERSION: &str = "2019-11-01";

/// A challenge file written and the secret it holds (`None` once used).
struct Issued {
    path: PathBuf,
    secret: Option<String>,
}

/// The Arc agent's challenge state.
pub(crate) struct ArcState {
    pub dir: PathBuf,
    issued: Mutex<Vec<Issued>>,
    realm_override: Mutex<Option<String>>,
    authorizations: Mutex<Vec<String>>,
}

impl ArcState {
    pub(crate) fn new(dir: PathBuf) -> ArcState {
        ArcState {
            dir,
            issued: Mutex::new(Vec::new()),
            realm_override: Mutex::new(None),
            authorizations: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn set_realm(&self, realm: Option<String>) {
        *lock(&self.realm_override) = realm;
    }

    /// Every `Authorization` header value the endpoint received, in order.
    pub(crate) fn authorizations(&self) -> Vec<String> {
        lock(&self.authorizations).clone()
    }

    /// The challenge files written so far.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        lock(&self.issued).iter().map(|i| i.path.clone()).collect()
    }

    /// Removes every challenge file written (at shutdown).
    pub(crate) fn cleanup(&self) {
        for i in lock(&self.issued).drain(..) {
            let _ = std::fs::remove_file(&i.path);
        }
    }

    /// Writes a new challenge file and returns the realm (its path); the override when set.
    fn challenge(&self, s: &Shared) -> std::io::Result<String> {
        if let Some(realm) = lock(&self.realm_override).clone() {
            return Ok(realm);
        }
        let secret = b64url(&random_bytes(48));
        let path = self
            .dir
            .join(format!("{}.key", uuid::Uuid::new_v4().simple()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(secret.as_bytes())?;
        f.sync_all()?;
        s.remember_secret(&secret);
        lock(&self.issued).push(Issued {
            path: path.clone(),
            secret: Some(secret),
        });
        Ok(path.to_string_lossy().into_owned())
    }

    /// Whether `sent` is an unused secret; it is used up if so.
    fn redeem(&self, sent: &str) -> bool {
        let mut issued = lock(&self.issued);
        let found = issued.iter_mut().find(|i| {
            i.secret
                .as_deref()
                .is_some_and(|s| super::appservice::same_secret(sent, s))
        });
        match found {
            Some(i) => {
                i.secret = None;
                true
            }
            None => false,
        }
    }
}

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
    let arc = &s.mi.arc;
    let authorization = req.header("authorization").map(str::to_owned);
    if let Some(a) = &authorization {
        s.remember_secret(a);
        lock(&arc.authorizations).push(a.clone());
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
    if !version_at_least(param(&query, "api-version"), MIN_API_VERSION) {
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
    if let Some(sel) = ALL_SELECTORS.iter().find(|n| param(&query, n).is_some()) {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "Azure Arc supports only the system-assigned managed identity; '{sel}' is not accepted"
            ),
        );
    }
    let Some(authorization) = authorization else {
        return match arc.challenge(s) {
            Ok(realm) => {
                let mut r = error_response(
                    SOURCE,
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "Authorization required: send the content of the file named in WWW-Authenticate as 'Authorization: Basic <content>'",
                );
                match HeaderValue::from_str(&format!("Basic realm={realm}")) {
                    Ok(v) => {
                        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                    }
                    Err(_) => {
                        r.headers_mut().insert(
                            header::WWW_AUTHENTICATE,
                            HeaderValue::from_static("Basic realm="),
                        );
                    }
                }
                Outcome {
                    response: r,
                    error: Some("challenge".into()),
                    minted: None,
                }
            }
            Err(e) => refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unknown",
                format!("cannot write the challenge file: {}", e.kind()),
            ),
        };
    };
    let secret = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .map(|(_, secret)| secret);
    if !secret.is_some_and(|sent| arc.redeem(sent)) {
        return refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The Authorization header does not hold a valid, unused challenge secret".into(),
        );
    }
    let Some(t) = target(s, resource) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            unknown_resource_message(s, resource),
        );
    };
    match mint_for_identity(s, s.mi.identity(MiIdentity::System), t) {
        Ok(m) => Outcome::issued(json_response(StatusCode::OK, &imds_body(&m, resource)), &m),
        Err(_) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            "Failed to retrieve token from the Active directory.".into(),
        ),
    }
}

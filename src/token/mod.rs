//! The token flow: one `POST {authority}/{tenant}/oauth2/v2.0/token` (no discovery round
//! trip), the encrypted cache in front of it, and the mapping of Entra's errors (`entra`).
//!
//! It takes a narrow [`TokenRequest`] (authority, tenant, client id, scope, retry policy, cache
//! switch), never the whole configuration, and a loaded `Credential`. Entra errors keep
//! `error`, `error_codes`, `trace_id` and `correlation_id`, never the raw body: on a 200 the
//! body is the token, and parse errors report only a line and column.

pub mod cache;
pub mod entra;
pub mod provider;

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tracing::{info, warn};
use url::Url;

use self::cache::{CacheKey, TokenCache};
pub use self::entra::{EntraError, HintContext};

use crate::credential::{
    ClientAuth, Credential, CredentialError, JWT_BEARER, ManagedIdentity, federated,
};
use crate::diagnostic::Diagnostic;
use crate::http::Http;
use crate::retry::{self, RetryError, RetryPolicy};
use crate::secret::AccessToken;
use crate::time;

/// What a token is asked for, and how hard to try.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Origin of the authority, e.g. `https://login.microsoftonline.com`.
    pub authority: Url,
    pub tenant: String,
    pub client_id: String,
    /// `{resource}/.default`.
    pub scope: String,
    pub retry: RetryPolicy,
    /// Whether tokens are cached across runs.
    pub cache: bool,
}

impl TokenRequest {
    /// The token endpoint: one POST, no discovery round trip.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            origin(&self.authority),
            self.tenant
        )
    }

    /// What a cached token is bound to, with the credential's `label`.
    fn cache_binding(&self, label: &str) -> String {
        format!(
            "{}|{}|{}|{}|{label}",
            origin(&self.authority),
            self.tenant.to_ascii_lowercase(),
            self.client_id.to_ascii_lowercase(),
            self.scope
        )
    }
}

/// The origin of a URL, without a trailing slash.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// An access token and when it stops being valid.
#[derive(Debug)]
pub struct Token {
    pub access_token: AccessToken,
    pub expires_on: SystemTime,
    /// When Entra suggests refreshing (`refresh_in`), if it said.
    pub refresh_on: Option<SystemTime>,
}

/// The longest token lifetime graphd believes (`time::MAX_TOKEN_LIFETIME`, where the reasoning
/// is, shared with the managed-identity endpoints' answers). A longer `expires_in`,
/// `ext_expires_in` or `refresh_in` is a broken or hostile answer: refused, never cached.
pub const MAX_LIFETIME: Duration = crate::time::MAX_TOKEN_LIFETIME;

/// The success body. `expires_in` may arrive as a number or a string (PROTOCOL.md §1).
#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    expires_in: NumberOrString,
    #[serde(default)]
    ext_expires_in: Option<NumberOrString>,
    #[serde(default)]
    refresh_in: Option<NumberOrString>,
    access_token: AccessToken,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    String(String),
}

impl NumberOrString {
    fn seconds(&self) -> Option<u64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::String(s) => s.trim().parse().ok(),
        }
    }
}

/// The token request failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Entra(Box<EntraError>),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("cannot reach the token endpoint")]
    Send(#[source] RetryError),
    #[error("the token endpoint answered HTTP {status} without an Entra error body{}", attempts_suffix(*attempts))]
    Status {
        status: u16,
        request_id: Option<String>,
        attempts: u32,
    },
    #[error("the token endpoint's response is not a valid token response ({reason})")]
    BadResponse { reason: String },
}

impl Diagnostic for TokenError {
    fn hint(&self) -> Option<String> {
        match self {
            TokenError::Entra(e) => e.hint(),
            TokenError::Credential(e) => e.hint(),
            TokenError::Send(e) => e.hint(),
            TokenError::Status { status: 300..=399, .. } => Some(
                "the token endpoint redirected and graphd follows no redirects: --authority-host must be \
                 the authority itself (e.g. https://login.microsoftonline.com)"
                    .into(),
            ),
            TokenError::Status { .. } | TokenError::BadResponse { .. } => Some(
                "something other than Entra answered (a proxy or captive portal?): check --authority-host, \
                 HTTPS_PROXY / NO_PROXY"
                    .into(),
            ),
        }
    }

    fn notes(&self) -> Vec<String> {
        match self {
            TokenError::Entra(e) => e.notes(),
            TokenError::Status {
                request_id: Some(r),
                ..
            } => vec![format!("request id: {r}")],
            TokenError::Send(e) => e.notes(),
            TokenError::Credential(e) => e.notes(),
            _ => Vec::new(),
        }
    }
}

fn attempts_suffix(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// A token for `request.scope`: from the encrypted cache when it holds a fresh one for this
/// exact credential, else from Entra (and then cached). Cache trouble never fails the run.
pub fn obtain(
    http: &Http,
    request: &TokenRequest,
    credential: &Credential,
) -> Result<Token, TokenError> {
    if let Some(mi) = credential.managed_identity() {
        return from_managed_identity(mi, request);
    }
    let fetch = || request_token(http, request, credential);
    match cache_slot(request, credential) {
        Some((cache, key)) => {
            cache.get_or_fetch(&key, SystemTime::now, request.retry.deadline, fetch)
        }
        None => fetch(),
    }
}

/// A new token from Entra, never from the cache (the cached one was refused), which then
/// replaces the cached one so the next run does not pick up the refused token.
pub fn obtain_fresh(
    http: &Http,
    request: &TokenRequest,
    credential: &Credential,
) -> Result<Token, TokenError> {
    if let Some(mi) = credential.managed_identity() {
        return from_managed_identity(mi, request);
    }
    let token = request_token(http, request, credential)?;
    if let Some((cache, key)) = cache_slot(request, credential)
        && let Err(e) = cache.store(&key, &token)
    {
        warn!(target: "graphd::cache", "cannot write the token cache: {e}");
    }
    Ok(token)
}

/// A managed identity's token, from its endpoint for the scope's resource (`https://graph.microsoft.com`,
/// not `.../.default`). Never cached across runs: the endpoint caches tokens itself, and graphd
/// holds no secret to key a cache entry with.
fn from_managed_identity(
    mi: &ManagedIdentity,
    request: &TokenRequest,
) -> Result<Token, TokenError> {
    let resource = request
        .scope
        .strip_suffix("/.default")
        .unwrap_or(&request.scope);
    let t = mi
        .token(resource)
        .map_err(|e| TokenError::Credential(e.into()))?;
    Ok(Token {
        access_token: t.access_token,
        expires_on: t.expires_on,
        refresh_on: None,
    })
}

/// The cache and this credential's entry in it, when the cache is on and usable.
fn cache_slot(request: &TokenRequest, credential: &Credential) -> Option<(TokenCache, CacheKey)> {
    if !request.cache {
        return None;
    }
    // With its causes: "cannot use the directory X" alone does not say what to fix.
    let unavailable = |e: &dyn std::error::Error| {
        let mut why = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            why.push_str(&format!(": {c}"));
            cause = c.source();
        }
        warn!(target: "graphd::cache", "token cache unavailable ({why}); requesting a token without it");
    };
    let cache = match TokenCache::default_dir().and_then(TokenCache::open) {
        Ok(c) => c,
        Err(e) => {
            unavailable(&e);
            return None;
        }
    };
    let binding = request.cache_binding(&credential.cache_label());
    let material = match credential.cache_material(&binding) {
        Ok(Some(m)) => m,
        Ok(None) => {
            let what = match credential {
                Credential::FederatedManagedIdentity { .. } => {
                    "tokens got with a managed identity's federated credential are"
                }
                _ => "federated credentials are",
            };
            info!(target: "graphd::cache", "{what} not cached across processes");
            return None;
        }
        Err(e) => {
            unavailable(&e);
            return None;
        }
    };
    match CacheKey::derive(&material, &binding) {
        Ok(key) => Some((cache, key)),
        Err(e) => {
            unavailable(&e);
            None
        }
    }
}

/// Asks Entra for a token for `request.scope` with `credential`.
pub fn request_token(
    http: &Http,
    request: &TokenRequest,
    credential: &Credential,
) -> Result<Token, TokenError> {
    let token_url = request.token_url();
    let now = SystemTime::now();
    let auth = credential.client_auth(&request.client_id, &token_url, time::unix_secs(now))?;
    let mut form: Vec<(&str, &str)> = vec![
        ("client_id", &request.client_id),
        ("scope", &request.scope),
        ("grant_type", "client_credentials"),
    ];
    match &auth {
        ClientAuth::Secret(s) => form.push(("client_secret", s.expose())),
        ClientAuth::Assertion(a) => {
            form.push(("client_assertion_type", JWT_BEARER));
            form.push(("client_assertion", a.expose()));
        }
    }
    info!(target: "graphd::token", "requesting a token for {} with {}", request.scope, credential.describe());
    // The same form (and assertion, valid for minutes) on every attempt, as MSAL does.
    let make = || {
        http.client()
            .post(&token_url)
            .header("return-client-request-id", "true")
            .header("accept", "application/json")
            .form(&form)
    };
    let transient = |reply: &crate::http::Reply| {
        let body = serde_json::from_slice::<entra::ErrorBody>(&reply.body).ok()?;
        body.is_transient().then(|| {
            format!(
                "Entra answered {} ({})",
                reply.status,
                crate::output::escape::terminal(&body.error)
            )
        })
    };
    let reply =
        retry::send(http, &request.retry, "token", &make, &transient).map_err(TokenError::Send)?;
    if reply.status == 200 {
        return parse_token_response(&reply.body, now);
    }
    match serde_json::from_slice::<entra::ErrorBody>(&reply.body) {
        Ok(body) => Err(TokenError::Entra(Box::new(EntraError::new(
            reply.status,
            body,
            hint_context(request, credential, &auth),
            reply.attempts,
        )))),
        Err(_) => Err(TokenError::Status {
            status: reply.status,
            request_id: reply.header("x-ms-request-id").map(str::to_string),
            attempts: reply.attempts,
        }),
    }
}

fn hint_context(request: &TokenRequest, credential: &Credential, auth: &ClientAuth) -> HintContext {
    let (thumbprint, x5t_s256) = match credential {
        Credential::Certificate(c) => (Some(c.thumbprint_hex()), c.x5t_s256()),
        _ => (None, None),
    };
    // The public claims of the federated token that was sent, to compare with the app's
    // federated credentials.
    let federated = match (credential, auth) {
        (
            Credential::Federated(_) | Credential::FederatedManagedIdentity { .. },
            ClientAuth::Assertion(a),
        ) => federated::claims_of(a.expose()),
        _ => None,
    };
    HintContext {
        tenant: request.tenant.clone(),
        client_id: request.client_id.clone(),
        authority: origin(&request.authority),
        thumbprint,
        x5t_s256,
        federated,
        managed_identity: matches!(credential, Credential::FederatedManagedIdentity { .. }),
        system_assigned: matches!(
            credential,
            Credential::FederatedManagedIdentity { identity, .. } if identity.is_system_assigned()
        ),
    }
}

/// Parses a 200 token response (public for the fuzz target). Errors never quote the body.
pub fn parse_token_response(body: &[u8], requested_at: SystemTime) -> Result<Token, TokenError> {
    let response: TokenResponse =
        serde_json::from_slice(body).map_err(|e| TokenError::BadResponse {
            // Line and column only: serde_json's message can quote the input, which is the token.
            reason: crate::diagnostic::json_position(&e),
        })?;
    if !response.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::BadResponse {
            // Not quoted: any field of this body may carry the token (a fuzzer found one that did).
            reason: "token_type is not Bearer".into(),
        });
    }
    if response.access_token.expose().is_empty() {
        return Err(TokenError::BadResponse {
            reason: "access_token is empty".into(),
        });
    }
    let lifetime = |name: &str, v: &NumberOrString| -> Result<Duration, TokenError> {
        let secs = v.seconds().ok_or_else(|| TokenError::BadResponse {
            reason: format!("{name} is not a number of seconds"),
        })?;
        let d = Duration::from_secs(secs);
        if d > MAX_LIFETIME {
            return Err(TokenError::BadResponse {
                reason: format!(
                    "{name} of {secs} s is beyond the {} h any Entra token lives",
                    MAX_LIFETIME.as_secs() / 3600
                ),
            });
        }
        Ok(d)
    };
    let expires_in = lifetime("expires_in", &response.expires_in)?;
    if let Some(ext) = &response.ext_expires_in {
        lifetime("ext_expires_in", ext)?;
    }
    let refresh_in = response
        .refresh_in
        .as_ref()
        .map(|r| lifetime("refresh_in", r))
        .transpose()?;
    // Bounded above, so these cannot overflow; checked all the same.
    let at = |d: Duration| requested_at.checked_add(d);
    let expires_on = at(expires_in).ok_or_else(|| TokenError::BadResponse {
        reason: "expires_in is out of range".into(),
    })?;
    let refresh_on = refresh_in.and_then(at);
    Ok(Token {
        access_token: response.access_token,
        expires_on,
        refresh_on,
    })
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn success_accepts_numbers_and_strings() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let t = parse_token_response(br#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":3599,"access_token":"abc"}"#, t0)
            .unwrap();
        assert_eq!(t.expires_on, t0 + Duration::from_secs(3599));
        assert!(t.refresh_on.is_none());
        let t = parse_token_response(
            br#"{"token_type":"Bearer","expires_in":60,"refresh_in":30,"access_token":"abc"}"#,
            t0,
        )
        .unwrap();
        assert_eq!(t.refresh_on, Some(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn an_absurd_lifetime_is_an_error_not_a_panic() {
        let body = br#"{"token_type":"Bearer","expires_in":"11011111111111111111","refresh_in":18446744073709551615,"access_token":"abc"}"#;
        let e = parse_token_response(body, SystemTime::now()).unwrap_err();
        assert!(e.to_string().contains("beyond the 36 h"), "{e}");
    }

    #[test]
    fn lifetimes_beyond_the_bound_are_refused() {
        let now = SystemTime::now();
        let ok = |body: &str| parse_token_response(body.as_bytes(), now);
        let max = MAX_LIFETIME.as_secs();
        assert!(
            ok(&format!(
                r#"{{"token_type":"Bearer","expires_in":{max},"access_token":"a"}}"#
            ))
            .is_ok()
        );
        for body in [
            r#"{"token_type":"Bearer","expires_in":"300000000000","access_token":"a"}"#.to_string(),
            format!(
                r#"{{"token_type":"Bearer","expires_in":{},"access_token":"a"}}"#,
                max + 1
            ),
            format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":"{}","access_token":"a"}}"#,
                max + 1
            ),
            format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"refresh_in":{},"access_token":"a"}}"#,
                max + 1
            ),
            r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":"soon","access_token":"a"}"#
                .to_string(),
        ] {
            let e = ok(&body).unwrap_err();
            assert!(matches!(e, TokenError::BadResponse { .. }), "{body}: {e}");
        }
    }

    #[test]
    fn bad_success_body_never_quotes_the_token() {
        let canary = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.canary";
        for body in [
            format!(r#"{{"token_type":"Bearer","expires_in":"soon","access_token":"{canary}"}}"#),
            format!(r#"{{"token_type":"Bearer","expires_in":{{}},"access_token":"{canary}"}}"#),
            format!(r#"{{"token_type":"Bearer","access_token":"{canary}""#),
            format!(r#"{{"token_type":"mac","expires_in":1,"access_token":"{canary}"}}"#),
            format!(r#"{{"token_type":"Bearer","expires_in":1,"access_token":["{canary}"]}}"#),
            // Found by the token_response fuzz target: the token inside another field.
            format!(r#"{{"token_type":"x{canary}","expires_in":1,"access_token":"{canary}"}}"#),
        ] {
            let e = parse_token_response(body.as_bytes(), SystemTime::now()).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("canary"), "{shown}");
        }
    }
}

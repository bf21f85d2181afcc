//! The token flow: one `POST {authority}/{tenant}/oauth2/v2.0/token` (no discovery round
//! trip), and the mapping of Entra's errors into typed errors with hints.
//!
//! Entra errors keep `error`, `error_codes`, `trace_id` and `correlation_id`, never the raw
//! body: on a 200 the body is the token, and parse errors report only a line and column.

pub mod cache;
pub mod provider;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tracing::{info, warn};

use self::cache::{CacheKey, TokenCache};

use crate::config::Config;
use crate::credential::{ClientAuth, Credential, CredentialError, JWT_BEARER};
use crate::http::Http;
use crate::retry::{self, RetryError};
use crate::secret::AccessToken;

/// An access token and when it stops being valid.
#[derive(Debug)]
pub struct Token {
    pub access_token: AccessToken,
    pub expires_on: SystemTime,
    /// When Entra suggests refreshing (`refresh_in`), if it said.
    pub refresh_on: Option<SystemTime>,
}

/// The success body. `expires_in` may arrive as a number or a string (PROTOCOL.md §1).
#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    expires_in: NumberOrString,
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

/// Entra's error body; only the fields graphd keeps.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u64>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// Entra refused the request.
#[derive(Debug)]
pub struct EntraError {
    pub status: u16,
    pub error: String,
    pub codes: Vec<u64>,
    /// The first sentence of `error_description` (before "Trace ID:").
    pub summary: Option<String>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    /// Context for hints: tenant, client id, authority, and the certificate's thumbprint.
    pub context: HintContext,
    /// How many attempts were made (more than one when the error was retryable).
    pub attempts: u32,
}

/// What a hint may mention.
#[derive(Debug, Clone, Default)]
pub struct HintContext {
    pub tenant: String,
    pub client_id: String,
    pub authority: String,
    pub thumbprint: Option<String>,
    pub x5t_s256: Option<String>,
    /// The federated token's public claims, to compare with the app's federated credential.
    pub federated: Option<crate::credential::federated::FederatedClaims>,
}

impl std::fmt::Display for EntraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Entra refused the token request: {}", self.error)?;
        if !self.codes.is_empty() {
            let codes: Vec<String> = self.codes.iter().map(|c| format!("AADSTS{c}")).collect();
            write!(f, " ({})", codes.join(", "))?;
        }
        if let Some(s) = &self.summary {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl EntraError {
    /// Whether `code` is among the AADSTS codes.
    pub fn has(&self, code: u64) -> bool {
        self.codes.contains(&code)
    }

    /// The ids Microsoft support asks for.
    pub fn notes(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(t) = &self.trace_id {
            v.push(format!("trace id: {t}"));
        }
        if let Some(c) = &self.correlation_id {
            v.push(format!("correlation id: {c}"));
        }
        if self.attempts > 1 {
            v.push(format!("gave up after {} attempts", self.attempts));
        }
        v
    }

    /// What the user should do, by AADSTS code (PROTOCOL.md §3).
    pub fn hint(&self) -> Option<String> {
        let c = &self.context;
        if self.error == "temporarily_unavailable"
            && !self.codes.iter().any(|c| KNOWN_CODES.contains(c))
        {
            return Some(
                "Entra is temporarily unavailable: graphd retried; try again later, or raise \
                 --max-retries / --deadline"
                    .into(),
            );
        }
        let code = self
            .codes
            .iter()
            .copied()
            .find(|c| KNOWN_CODES.contains(c))
            .or_else(|| self.codes.first().copied());
        Some(match code? {
            7000215 => "the client secret is wrong: use the secret's Value (shown once, when it was created), \
                        not its Secret ID"
                .into(),
            7000222 => "the client secret has expired: create a new one under Certificates & secrets, \
                        or move to a certificate"
                .into(),
            700027 => match &c.thumbprint {
                Some(tp) => format!(
                    "Entra does not accept this certificate: check that the app registration lists a certificate \
                     with thumbprint {tp} (x5t#S256 {}) that has not expired, and that the key matches it",
                    c.x5t_s256.as_deref().unwrap_or("-")
                ),
                None => "Entra could not verify the client assertion: upload the certificate to the app registration"
                    .into(),
            },
            700024 => "the client assertion is outside its valid time range: check this machine's clock \
                       (timedatectl / NTP)"
                .into(),
            700016 => format!(
                "no application with client id {} in tenant {}: check the client id and tenant, \
                 and that the app is registered (or consented) in that tenant",
                c.client_id, c.tenant
            ),
            90002 => format!(
                "tenant {} was not found at {}: check the tenant id or domain, and the cloud (--authority-host)",
                c.tenant, c.authority
            ),
            70021 | 700211 | 700212 | 700213 => {
                let (iss, sub, aud) = c.federated.as_ref().map_or(("-".into(), "-".into(), "-".into()), |f| {
                    (f.iss.clone().unwrap_or_default(), f.sub.clone().unwrap_or_default(), f.audience())
                });
                format!(
                    "no federated identity credential on the app matches this token (issuer {iss}, subject {sub}, \
                     audience {aud}): add one under Certificates & secrets > Federated credentials, with audience \
                     api://AzureADTokenExchange"
                )
            }
            70011 => "the scope must be a resource followed by /.default: check --graph-endpoint".into(),
            50196 => "Entra detected a loop of identical token requests: slow down and reuse tokens \
                      (keep the token cache on; do not pass --no-token-cache in loops)"
                .into(),
            90055 | 90024 => "Entra is throttling this tenant: graphd retried with backoff; wait a few \
                              minutes, reuse tokens (the token cache), or raise --max-retries"
                .into(),
            50048 => "the assertion's subject (sub) does not match its issuer (iss): both must be the \
                      client id"
                .into(),
            50027 => "Entra could not read the client assertion (malformed, or the wrong audience): \
                      check --authority-host and the tenant"
                .into(),
            90130 | 9001023 => "app-only tokens need a concrete tenant: pass the tenant id or its \
                                verified domain, not common/organizations/consumers"
                .into(),
            7000218 => "Entra received no client secret or assertion: give a credential".into(),
            code => format!("see {}/error?code={code}", c.authority),
        })
    }

    /// Entra's own "try again": retried, and exit code 5 (not 3) when retries ran out.
    pub fn is_transient(&self) -> bool {
        self.error == "temporarily_unavailable" || self.has(90055) || self.has(90024)
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

/// The AADSTS codes with a specific hint (PROTOCOL.md §3 and §2).
const KNOWN_CODES: &[u64] = &[
    7000215, 7000222, 700027, 700024, 700016, 90002, 70011, 50196, 90055, 90024, 50048, 50027,
    90130, 9001023, 7000218,
];

fn attempts_suffix(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// A token for `config.scope()`: from the encrypted cache when it holds a fresh one for this
/// exact credential, else from Entra (and then cached). Cache trouble never fails the run.
pub fn obtain(http: &Http, config: &Config, credential: &Credential) -> Result<Token, TokenError> {
    let fetch = || request_token(http, config, credential);
    match cache_slot(config, credential) {
        Some((cache, key)) => cache.get_or_fetch(&key, SystemTime::now, fetch),
        None => fetch(),
    }
}

/// A new token from Entra, never from the cache (the cached one was refused), which then
/// replaces the cached one so the next run does not pick up the refused token.
pub fn obtain_fresh(
    http: &Http,
    config: &Config,
    credential: &Credential,
) -> Result<Token, TokenError> {
    let token = request_token(http, config, credential)?;
    if let Some((cache, key)) = cache_slot(config, credential)
        && let Err(e) = cache.store(&key, &token)
    {
        warn!(target: "graphd::cache", "cannot write the token cache: {e}");
    }
    Ok(token)
}

/// The cache and this credential's entry in it, when the cache is on and usable.
fn cache_slot(config: &Config, credential: &Credential) -> Option<(TokenCache, CacheKey)> {
    if !config.token_cache {
        return None;
    }
    let cache = match TokenCache::default_dir().and_then(TokenCache::open) {
        Ok(c) => c,
        Err(e) => {
            warn!(target: "graphd::cache", "token cache unavailable ({e}); requesting a token without it");
            return None;
        }
    };
    let which = match credential {
        Credential::Certificate(c) => format!("cert:{}", c.thumbprint_hex()),
        Credential::Secret(_) | Credential::Federated(_) => "secret".into(),
    };
    let binding = format!(
        "{}|{}|{}|{}|{which}",
        crate::config::origin(&config.authority_host),
        config.tenant.to_ascii_lowercase(),
        config.client_id.to_ascii_lowercase(),
        config.scope()
    );
    let Some(material) = credential.cache_material() else {
        info!(target: "graphd::cache", "federated credentials are not cached across processes");
        return None;
    };
    match CacheKey::derive(&material, &binding) {
        Ok(key) => Some((cache, key)),
        Err(e) => {
            warn!(target: "graphd::cache", "token cache unavailable ({e}); requesting a token without it");
            None
        }
    }
}

/// Asks Entra for a token for `config.scope()` with `credential`.
pub fn request_token(
    http: &Http,
    config: &Config,
    credential: &Credential,
) -> Result<Token, TokenError> {
    let token_url = config.token_url();
    let now = SystemTime::now();
    let scope = config.scope();
    let auth = credential.client_auth(&config.client_id, &token_url, unix(now))?;
    let mut form: Vec<(&str, &str)> = vec![
        ("client_id", &config.client_id),
        ("scope", &scope),
        ("grant_type", "client_credentials"),
    ];
    match &auth {
        ClientAuth::Secret(s) => form.push(("client_secret", s.expose())),
        ClientAuth::Assertion(a) => {
            form.push(("client_assertion_type", JWT_BEARER));
            form.push(("client_assertion", a.expose()));
        }
    }
    info!(target: "graphd::token", "requesting a token for {scope} with {}", credential.describe());
    // The same form (and assertion, valid for minutes) on every attempt, as MSAL does.
    let make = || {
        http.client()
            .post(&token_url)
            .header("return-client-request-id", "true")
            .header("accept", "application/json")
            .form(&form)
    };
    let transient = |reply: &crate::http::Reply| {
        let body = serde_json::from_slice::<ErrorBody>(&reply.body).ok()?;
        let throttled = body.error_codes.iter().any(|c| [90055, 90024].contains(c));
        (body.error == "temporarily_unavailable" || throttled)
            .then(|| format!("Entra answered {} ({})", reply.status, body.error))
    };
    let reply =
        retry::send(http, &config.retry, "token", &make, &transient).map_err(TokenError::Send)?;
    if reply.status == 200 {
        return parse_token_response(&reply.body, now);
    }
    match serde_json::from_slice::<ErrorBody>(&reply.body) {
        Ok(body) => Err(TokenError::Entra(Box::new(EntraError {
            status: reply.status,
            error: body.error,
            codes: body.error_codes,
            summary: body.error_description.as_deref().and_then(summarize),
            trace_id: body.trace_id,
            correlation_id: body.correlation_id,
            context: hint_context(config, credential),
            attempts: reply.attempts,
        }))),
        Err(_) => Err(TokenError::Status {
            status: reply.status,
            request_id: reply.header("x-ms-request-id").map(str::to_string),
            attempts: reply.attempts,
        }),
    }
}

fn hint_context(config: &Config, credential: &Credential) -> HintContext {
    let (thumbprint, x5t_s256) = match credential {
        Credential::Certificate(c) => (Some(c.thumbprint_hex()), c.x5t_s256()),
        Credential::Secret(_) | Credential::Federated(_) => (None, None),
    };
    let federated = match credential {
        Credential::Federated(f) => f.read(unix(SystemTime::now())).ok().map(|(_, c)| c),
        _ => None,
    };
    HintContext {
        tenant: config.tenant.clone(),
        client_id: config.client_id.clone(),
        authority: crate::config::origin(&config.authority_host),
        thumbprint,
        x5t_s256,
        federated,
    }
}

/// Parses a 200 token response (public for the fuzz target). Errors never quote the body.
pub fn parse_token_response(body: &[u8], requested_at: SystemTime) -> Result<Token, TokenError> {
    let response: TokenResponse =
        serde_json::from_slice(body).map_err(|e| TokenError::BadResponse {
            // Line and column only: serde_json's message can quote the input, which is the token.
            reason: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
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
    let expires_in = response
        .expires_in
        .seconds()
        .ok_or_else(|| TokenError::BadResponse {
            reason: "expires_in is not a number of seconds".into(),
        })?;
    // A lifetime past what SystemTime can hold is a broken answer, not a panic (found by the
    // token_response fuzzer: "expires_in":"11011111111111111111").
    let at = |secs: u64| requested_at.checked_add(Duration::from_secs(secs));
    let expires_on = at(expires_in).ok_or_else(|| TokenError::BadResponse {
        reason: "expires_in is out of range".into(),
    })?;
    let refresh_on = response.refresh_in.and_then(|r| r.seconds()).and_then(at);
    Ok(Token {
        access_token: response.access_token,
        expires_on,
        refresh_on,
    })
}

/// The useful part of an AADSTS description: up to "Trace ID:", on one line, bounded.
fn summarize(description: &str) -> Option<String> {
    let head = description.split("Trace ID:").next()?.trim();
    let head: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
    let head: String = head.chars().take(300).collect();
    (!head.is_empty()).then_some(head)
}

/// Seconds since the Unix epoch.
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
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
        assert!(e.to_string().contains("out of range"), "{e}");
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

    #[test]
    fn summary_stops_before_trace_id() {
        let d = "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1 Correlation ID: 2 Timestamp: 3";
        assert_eq!(
            summarize(d).unwrap(),
            "AADSTS7000215: Invalid client secret provided."
        );
    }

    #[test]
    fn hints_by_code() {
        let mk = |code| EntraError {
            status: 401,
            error: "invalid_client".into(),
            codes: vec![code],
            summary: None,
            trace_id: Some("t".into()),
            correlation_id: Some("c".into()),
            context: HintContext {
                tenant: "T".into(),
                client_id: "C".into(),
                authority: "https://a".into(),
                thumbprint: Some("ABCDEF".into()),
                x5t_s256: Some("xyz".into()),
                ..Default::default()
            },
            attempts: 1,
        };
        assert!(mk(7000215).hint().unwrap().contains("Value"));
        assert!(mk(7000215).hint().unwrap().contains("Secret ID"));
        assert!(mk(7000222).hint().unwrap().contains("expired"));
        assert!(mk(700027).hint().unwrap().contains("ABCDEF"));
        assert!(mk(700024).hint().unwrap().contains("clock"));
        assert!(mk(700016).hint().unwrap().contains("client id C"));
        assert!(mk(90002).hint().unwrap().contains("tenant T"));
        assert!(mk(12345).hint().unwrap().contains("error?code=12345"));
        assert_eq!(mk(1).notes(), vec!["trace id: t", "correlation id: c"]);
        assert_eq!(
            mk(7000215).to_string(),
            "Entra refused the token request: invalid_client (AADSTS7000215)"
        );
    }
}

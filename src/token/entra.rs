//! Entra's refusals: the error body of the token endpoint (PROTOCOL.md §1, §3), kept as typed
//! fields, and what the user should do for each AADSTS code.
//!
//! Only `error`, `error_codes`, the first sentence of `error_description`, `trace_id` and
//! `correlation_id` are kept, never the raw body. Each code's hint is written once, in
//! [`code_hint`]; the throttling codes once, in [`THROTTLE_CODES`].

use serde::Deserialize;

use crate::credential::federated::FederatedClaims;

/// AADSTS codes meaning Entra is throttling the tenant: retried, exit code 5 when retries run out.
pub const THROTTLE_CODES: [u64; 2] = [90055, 90024];

/// Entra's error body; only the fields graphd keeps.
#[derive(Deserialize)]
pub(super) struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

impl ErrorBody {
    /// Entra's own "try again": `temporarily_unavailable` or a throttling code.
    pub fn is_transient(&self) -> bool {
        self.error == "temporarily_unavailable"
            || self.error_codes.iter().any(|c| THROTTLE_CODES.contains(c))
    }
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
    pub federated: Option<FederatedClaims>,
    /// The federated token was a managed identity's (`--federated-managed-identity`) ...
    pub managed_identity: bool,
    /// ... its system-assigned one (Microsoft documents user-assigned ones only for this).
    pub system_assigned: bool,
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
    pub(super) fn new(
        status: u16,
        body: ErrorBody,
        context: HintContext,
        attempts: u32,
    ) -> EntraError {
        EntraError {
            status,
            summary: body.error_description.as_deref().and_then(summarize),
            error: body.error,
            codes: body.error_codes,
            trace_id: body.trace_id,
            correlation_id: body.correlation_id,
            context,
            attempts,
        }
    }

    /// Whether `code` is among the AADSTS codes.
    pub fn has(&self, code: u64) -> bool {
        self.codes.contains(&code)
    }

    /// Entra's own "try again": retried, and exit code 5 (not 3) when retries ran out.
    pub fn is_transient(&self) -> bool {
        self.error == "temporarily_unavailable"
            || self.codes.iter().any(|c| THROTTLE_CODES.contains(c))
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

    /// What the user should do: the first code with a hint of its own, else a pointer to
    /// Entra's error page for the first code (PROTOCOL.md §3).
    pub fn hint(&self) -> Option<String> {
        let c = &self.context;
        if let Some(h) = self.codes.iter().find_map(|&code| code_hint(code, c)) {
            return Some(h);
        }
        if self.error == "temporarily_unavailable" {
            return Some(
                "Entra is temporarily unavailable: graphd retried; try again later, or raise \
                 --max-retries / --deadline"
                    .into(),
            );
        }
        self.codes
            .first()
            .map(|code| format!("see {}/error?code={code}", c.authority))
    }
}

/// The hint for one AADSTS code, if graphd knows it.
pub fn code_hint(code: u64, c: &HintContext) -> Option<String> {
    Some(match code {
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
            if c.managed_identity {
                return Some(format!(
                    "app {} does not trust this managed identity: add a federated credential to it \
                     (portal: Certificates & secrets > Federated credentials > Add credential) with \
                     issuer {iss}, subject {sub} (the identity's object id), audience {aud}{}",
                    c.client_id,
                    if c.system_assigned {
                        "; Microsoft documents only user-assigned identities for this: name one with \
                         --managed-identity-client-id"
                    } else {
                        ""
                    }
                ));
            }
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
        _ => return None,
    })
}

/// The useful part of an AADSTS description: up to "Trace ID:", on one line, bounded.
fn summarize(description: &str) -> Option<String> {
    let head = description.split("Trace ID:").next()?.trim();
    let head: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
    let head: String = head.chars().take(300).collect();
    (!head.is_empty()).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(mk(90055).is_transient() && !mk(700027).is_transient());
        assert_eq!(mk(1).notes(), vec!["trace id: t", "correlation id: c"]);
        assert_eq!(
            mk(7000215).to_string(),
            "Entra refused the token request: invalid_client (AADSTS7000215)"
        );
    }
}

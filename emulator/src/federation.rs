//! Workload identity federation: a federated identity credential on the main app (issuer,
//! subject, audience `api://AzureADTokenExchange`) backed by an issuer key the emulator
//! generates, the validation Entra does of a token exchanged at the token endpoint, and a way
//! to mint such tokens (`Emulator::mint_federated_token`, and `POST /_emulator/federated-token`
//! on the authority listener for the binary's users: the demo and benchmark scripts).
//!
//! AADSTS codes: PROTOCOL.md lists none for federation; these are the ones Entra is reported
//! to return: 700211 (no credential for the issuer), 700212 (audience), 700213 (subject),
//! 70021 (none matches), 700024 (outside its time window), 700027 (signature).

use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jwt::{self, Alg};

/// The audience Entra requires of exchanged tokens.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The federated identity credential record and the key of the issuer it trusts.
pub(crate) struct Federation {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    key: PKey<Private>,
    /// A key no issuer publishes: tokens signed with it must fail the signature check.
    foreign_key: PKey<Private>,
}

/// What a minted federated token says (defaults: the registered record, 10 minutes of life).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FederatedTokenSpec {
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audience: Option<String>,
    /// Seconds from now until `exp`; negative for an already expired token. Default 600.
    pub lifetime_secs: Option<i64>,
    /// Sign with a key the issuer never published.
    #[serde(default)]
    pub foreign_key: bool,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

impl Federation {
    pub(crate) fn generate(authority_url: &str) -> Result<Federation, crate::Error> {
        let key = |what| {
            Rsa::generate(2048)
                .and_then(PKey::from_rsa)
                .map_err(|e| crate::Error::Crypto(what, e))
        };
        Ok(Federation {
            issuer: format!("{authority_url}/federation/ci-issuer"),
            subject: "repo:contoso/payroll:environment:production".into(),
            audience: FEDERATED_AUDIENCE.into(),
            key: key("generating the federation issuer key")?,
            foreign_key: key("generating a foreign key")?,
        })
    }

    /// A token as the CI provider would issue it.
    pub(crate) fn mint(&self, spec: &FederatedTokenSpec, now: i64) -> String {
        let claims = serde_json::json!({
            "iss": spec.issuer.clone().unwrap_or_else(|| self.issuer.clone()),
            "sub": spec.subject.clone().unwrap_or_else(|| self.subject.clone()),
            "aud": spec.audience.clone().unwrap_or_else(|| self.audience.clone()),
            "iat": now,
            "nbf": now,
            "exp": now + spec.lifetime_secs.unwrap_or(600),
            "jti": crate::util::guid(),
        });
        let key = if spec.foreign_key {
            &self.foreign_key
        } else {
            &self.key
        };
        jwt::sign(
            Alg::Rs256,
            key,
            &Header {
                alg: "RS256",
                typ: "JWT",
                kid: "ci-issuer-1",
            },
            &claims,
        )
        .unwrap_or_default()
    }

    /// Whether an assertion is a federated token rather than the app's own client assertion:
    /// the app's own assertions have `iss` = the client id.
    pub(crate) fn is_federated(assertion: &str, client_id: &str) -> bool {
        jwt::split(assertion)
            .ok()
            .and_then(|raw| serde_json::from_slice::<Map<String, Value>>(&raw.claims).ok())
            .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|iss| !iss.eq_ignore_ascii_case(client_id))
    }

    /// Entra's checks of an exchanged token: `(code, message)` on refusal.
    pub(crate) fn check(&self, token: &str, now: i64) -> Result<(), (u32, String)> {
        let raw = jwt::split(token)
            .map_err(|e| (50027, format!("JWT token is invalid or malformed: {e}.")))?;
        let header: Map<String, Value> = serde_json::from_slice(&raw.header)
            .map_err(|_| (50027, "The JWT header is not JSON.".to_string()))?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err((50027, "The federated token must be signed RS256.".into()));
        }
        let claims: Map<String, Value> = serde_json::from_slice(&raw.claims)
            .map_err(|_| (50027, "The JWT payload is not JSON.".to_string()))?;
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (iss, sub) = (text("iss"), text("sub"));
        let auds: Vec<String> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if iss != self.issuer {
            return Err((
                700211,
                format!(
                    "No matching federated identity record found for presented assertion issuer '{iss}'."
                ),
            ));
        }
        if !jwt::verify(
            Alg::Rs256,
            &self.key,
            raw.signing_input.as_bytes(),
            &raw.signature,
        ) {
            return Err((700027, "Client assertion contains an invalid signature. [Reason - The key was not found in the issuer's published keys.]".into()));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or((50027, "The token has no numeric exp.".to_string()))?;
        let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(now);
        if exp <= now || nbf > now + 300 {
            return Err((
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
                ),
            ));
        }
        if !auds.contains(&self.audience) {
            return Err((
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience '{}'.",
                    auds.join(",")
                ),
            ));
        }
        if sub != self.subject {
            return Err((
                700213,
                format!(
                    "No matching federated identity record found for presented assertion subject '{sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion."
                ),
            ));
        }
        Ok(())
    }
}

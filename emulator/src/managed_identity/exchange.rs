//! A managed identity as an app's federated credential (PROTOCOL.md §8, last bullet).
//!
//! Minting: a managed-identity request for the resource `api://AzureADTokenExchange` returns a
//! JWT signed with the tenant's token key (RS256, the access tokens' `kid`/`x5t`) with
//! `iss` = `{authority}/{tenant}/v2.0`, `sub` = `oid` = the identity's object id,
//! `aud` = `api://AzureADTokenExchange`, `azp` = its client id, `idtyp: "app"`, `ver: "2.0"`,
//! `iat`/`nbf`/`exp`, and `xms_mirid` for user-assigned identities. (Whether Entra puts the
//! audience URI or the token-exchange app's GUID in `aud` is unconfirmed; the federated
//! credential names the URI, and so does this token.)
//!
//! Accepting: the token endpoint hands an assertion whose `iss` is that issuer to [`check`],
//! which verifies, in order, the signature (tenant key; AADSTS700027), the time window
//! (AADSTS700024, 5 minutes of skew on `nbf`), the audience (AADSTS700212) and the subject
//! against the main app's trusted managed identities (the system-assigned identity, plus
//! `Emulator::trust_managed_identity`): an untrusted subject is AADSTS70021 with Entra's
//! "Assertion Issuer / Subject / Audience" message (as quoted in
//! <https://github.com/Azure/azure-workload-identity/issues/616>).

use super::Identity;
use crate::jwt::{self, AccessRejection};
use crate::state::Shared;
use crate::util::{b64url, random_bytes};
use serde::Serialize;
use serde_json::{Map, Value};

/// The audience a token-exchange token carries (public cloud).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = crate::federation::FEDERATED_AUDIENCE;

/// `iss` of token-exchange tokens: the tenant's v2.0 issuer on the emulator's authority.
pub(crate) fn issuer(authority_url: &str, tenant_id: &str) -> String {
    format!("{authority_url}/{tenant_id}/v2.0")
}

#[derive(Serialize)]
struct ExchangeClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    azp: &'a str,
    /// "2": the identity authenticated with a certificate the platform holds.
    azpacr: &'a str,
    idtyp: &'a str,
    oid: &'a str,
    sub: &'a str,
    tid: &'a str,
    uti: String,
    ver: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    xms_mirid: Option<&'a str>,
}

/// The token-exchange token of `id`, valid `life` seconds from `now`.
pub(crate) fn mint(
    s: &Shared,
    id: &Identity,
    now: i64,
    life: i64,
) -> Result<String, openssl::error::ErrorStack> {
    s.token_key.sign_claims(&ExchangeClaims {
        aud: TOKEN_EXCHANGE_AUDIENCE,
        iss: &s.mi.issuer,
        iat: now,
        nbf: now,
        exp: now.saturating_add(life),
        azp: &id.client_id,
        azpacr: "2",
        idtyp: "app",
        oid: &id.object_id,
        sub: &id.object_id,
        tid: &s.tenant_id,
        uti: b64url(&random_bytes(16)),
        ver: "2.0",
        xms_mirid: id.resource_id.as_deref(),
    })
}

/// Entra's checks of a managed identity's token presented as the main app's `client_assertion`.
/// `None` when the assertion's `iss` is not the managed-identity issuer (then it is someone
/// else's federated token); otherwise the verdict, `Err((AADSTS code, message))` on refusal.
pub(crate) fn check(s: &Shared, assertion: &str, now: i64) -> Option<Result<(), (u32, String)>> {
    let raw = jwt::split(assertion).ok()?;
    let unverified: Map<String, Value> = serde_json::from_slice(&raw.claims).ok()?;
    let iss = unverified.get("iss").and_then(Value::as_str)?;
    if iss != s.mi.issuer {
        return None;
    }
    Some(verify(s, assertion, now))
}

fn verify(s: &Shared, assertion: &str, now: i64) -> Result<(), (u32, String)> {
    let claims = s.token_key.verify_signed(assertion).map_err(|r| match r {
        AccessRejection::Malformed => (50027, "JWT token is invalid or malformed.".to_string()),
        _ => (
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found in the issuer's published keys.]".to_string(),
        ),
    })?;
    let claims: Map<String, Value> = serde_json::from_slice(&claims)
        .map_err(|_| (50027, "The JWT payload is not JSON.".to_string()))?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or((50027, "The token has no numeric exp.".to_string()))?;
    let nbf = claims
        .get("nbf")
        .or_else(|| claims.get("iat"))
        .and_then(Value::as_i64)
        .unwrap_or(now);
    if exp <= now || nbf > now + 300 {
        return Err((
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
            ),
        ));
    }
    let auds: Vec<String> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if !auds.iter().any(|a| a == TOKEN_EXCHANGE_AUDIENCE) {
        return Err((
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                auds.join(",")
            ),
        ));
    }
    let sub = text("sub");
    let trusted =
        s.mi.trusted_subjects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&sub);
    if !trusted {
        return Err((
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{sub}'. Assertion Audience: '{TOKEN_EXCHANGE_AUDIENCE}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation",
                s.mi.issuer
            ),
        ));
    }
    Ok(())
}

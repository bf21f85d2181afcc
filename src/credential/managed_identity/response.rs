//! The identity endpoints' answers (PROTOCOL.md §8): a token, with its expiry as `expires_on`
//! (Unix seconds) and/or `expires_in` (seconds from now) — numbers or, on IMDS, Arc, Cloud Shell
//! and App Service, numbers *as strings* — and three shapes of refusal: IMDS's
//! `{"error","error_description"}`, App Service's `{"statusCode","message"}`, Service Fabric's
//! `{"error":{"code","message"}}`.
//!
//! The token goes straight into its secret type; parse errors report a line and column, never
//! the body (on success the body *is* the token). A lifetime beyond `time::MAX_TOKEN_LIFETIME`,
//! or an expiry already past, is refused like any token lifetime.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::error::printable;
use crate::secret::AccessToken;
use crate::time;

/// A managed identity's token.
#[derive(Debug)]
pub struct MiToken {
    pub access_token: AccessToken,
    pub expires_on: SystemTime,
}

#[derive(Deserialize)]
struct Success {
    access_token: AccessToken,
    #[serde(default)]
    expires_on: Option<Number>,
    #[serde(default)]
    expires_in: Option<Number>,
    #[serde(default)]
    token_type: Option<String>,
}

/// A count of seconds as a JSON number or a string of digits.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Number {
    fn seconds(&self) -> Option<i64> {
        match self {
            Number::Int(n) => Some(*n),
            // Whole seconds only; anything beyond i64 is no time at all.
            Number::Float(f) if f.is_finite() && f.abs() < 9.0e15 => Some(f.trunc() as i64),
            Number::Float(_) => None,
            Number::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// Parses a 200 answer requested at `requested_at`. `expires_on` is preferred (it is what
/// every source sends, and what `graphd token` prints); `expires_in` is used without it.
pub fn parse_token(body: &[u8], requested_at: SystemTime) -> Result<MiToken, String> {
    let wire: Success =
        serde_json::from_slice(body).map_err(|e| crate::diagnostic::json_position(&e))?;
    if wire.access_token.expose().is_empty() {
        return Err("access_token is empty".into());
    }
    if let Some(t) = &wire.token_type
        && !t.eq_ignore_ascii_case("bearer")
    {
        // Not quoted: a hostile answer could put the token here too.
        return Err("token_type is not Bearer".into());
    }
    let expires_on: SystemTime = match (&wire.expires_on, &wire.expires_in) {
        (Some(on), _) => on
            .seconds()
            .ok_or("expires_on is not a number of seconds")
            .and_then(|s| time::from_unix(s).ok_or("expires_on is out of range"))?,
        (None, Some(within)) => within
            .seconds()
            .and_then(|s| u64::try_from(s).ok())
            .ok_or("expires_in is not a number of seconds")
            .and_then(|s| {
                requested_at
                    .checked_add(Duration::from_secs(s))
                    .ok_or("expires_in is out of range")
            })?,
        (None, None) => return Err("it has neither expires_on nor expires_in".into()),
    };
    time::check_token_expiry(expires_on, requested_at)?;
    Ok(MiToken {
        access_token: wire.access_token,
        expires_on,
    })
}

#[derive(Deserialize, Default)]
struct Refusal {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The code and the first part of the message of a refusal, whatever its shape, made printable.
pub fn parse_refusal(body: &[u8]) -> (Option<String>, Option<String>) {
    let r: Refusal = serde_json::from_slice(body).unwrap_or_default();
    let (code, message) = match r.error {
        Some(serde_json::Value::String(code)) => (Some(code), r.error_description),
        Some(serde_json::Value::Object(o)) => (
            o.get("code").and_then(|c| c.as_str()).map(str::to_string),
            o.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string),
        ),
        _ => (None, r.message),
    };
    let summary = message
        .as_deref()
        .map(|m| m.split("Trace ID:").next().unwrap_or(m))
        .map(|m| printable(m, 300))
        .filter(|m| !m.is_empty());
    (
        code.map(|c| printable(&c, 80)).filter(|c| !c.is_empty()),
        summary,
    )
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn every_source_shape() {
        let now = at(1_700_000_000);
        // IMDS, Arc, Cloud Shell: numbers as strings.
        let t = parse_token(br#"{"access_token":"a","client_id":"c","expires_in":"86399","expires_on":"1700086399","ext_expires_in":"86399","not_before":"1700000000","resource":"r","token_type":"Bearer"}"#, now).unwrap();
        assert_eq!(t.expires_on, at(1_700_086_399));
        // App Service: expires_on only, a string.
        let t = parse_token(
            br#"{"access_token":"a","expires_on":"1700003599","resource":"r","token_type":"Bearer","client_id":"c"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_on, at(1_700_003_599));
        // Service Fabric: a number (or a string).
        let t = parse_token(
            br#"{"token_type":"Bearer","access_token":"a","expires_on":1700003599,"resource":"r"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_on, at(1_700_003_599));
        // expires_in alone counts from the request.
        let t = parse_token(br#"{"access_token":"a","expires_in":60}"#, now).unwrap();
        assert_eq!(t.expires_on, at(1_700_000_060));
    }

    #[test]
    fn lifetimes_are_bounded() {
        let now = at(1_700_000_000);
        for body in [
            r#"{"access_token":"a","expires_on":"1699999999"}"#,
            r#"{"access_token":"a","expires_on":"99999999999"}"#,
            r#"{"access_token":"a","expires_in":"300000000000"}"#,
            r#"{"access_token":"a","expires_in":"-5"}"#,
            r#"{"access_token":"a","expires_on":"-9223372036854775808"}"#,
            r#"{"access_token":"a","expires_on":1e300}"#,
            r#"{"access_token":"a","expires_on":"soon"}"#,
            r#"{"access_token":"a"}"#,
            r#"{"access_token":"","expires_in":60}"#,
            r#"{"access_token":"a","expires_in":60,"token_type":"pop"}"#,
        ] {
            assert!(parse_token(body.as_bytes(), now).is_err(), "{body}");
        }
    }

    #[test]
    fn errors_never_quote_the_token() {
        let canary = "eyJ0eXAiOiJKV1QifQ.canary";
        for body in [
            format!(r#"{{"access_token":"{canary}","expires_in":"never"}}"#),
            format!(r#"{{"access_token":"{canary}","expires_in":60,"token_type":"{canary}"}}"#),
            format!(r#"{{"access_token":"{canary}""#),
            format!(r#"{{"access_token":["{canary}"]}}"#),
        ] {
            let e = parse_token(body.as_bytes(), at(1_700_000_000)).unwrap_err();
            assert!(!e.contains("canary"), "{e}");
        }
    }

    #[test]
    fn refusals_of_every_shape() {
        assert_eq!(
            parse_refusal(
                br#"{"error":"invalid_request","error_description":"Identity not found"}"#
            ),
            (
                Some("invalid_request".into()),
                Some("Identity not found".into())
            )
        );
        assert_eq!(
            parse_refusal(br#"{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"x"}"#),
            (None, Some("Unable to load the proper Managed Identity.".into()))
        );
        assert_eq!(
            parse_refusal(br#"{"error":{"correlationId":"x","code":"ManagedIdentityNotFound","message":"not found"}}"#),
            (Some("ManagedIdentityNotFound".into()), Some("not found".into()))
        );
        assert_eq!(parse_refusal(b"<html>busy</html>"), (None, None));
        let (_, s) = parse_refusal(
            "{\"error\":\"x\",\"error_description\":\"AADSTS1: bad\\u001b[2J. Trace ID: 1\"}"
                .as_bytes(),
        );
        assert_eq!(s.as_deref(), Some("AADSTS1: bad[2J."));
    }
}

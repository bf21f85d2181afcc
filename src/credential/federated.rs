//! Workload identity federation: a JWT issued by the CI provider (GitHub Actions, GitLab,
//! Azure Pipelines, a Kubernetes service-account token), read from a file and sent as the
//! client assertion.
//!
//! The file is read again for every token request (providers rotate it) and never cached
//! across processes. Before anything is sent, the token's `exp` is decoded *without*
//! verifying the signature (only Entra can verify it) so that a missing, empty or expired file
//! is a clear local error. Only `iss`, `sub`, `aud` and `exp` are ever shown, never the token.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::CredentialError;
use super::input::read_secret_file;
use crate::secret::Assertion;

/// The public claims of a federated token, for checks and hints.
#[derive(Debug, Clone, Deserialize)]
pub struct FederatedClaims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    #[serde(default)]
    pub exp: Option<f64>,
}

impl FederatedClaims {
    /// `aud` as text (a string, or an array joined with commas).
    pub fn audience(&self) -> String {
        match &self.aud {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(","),
            _ => "-".into(),
        }
    }
}

/// A federated token file.
#[derive(Debug, Clone)]
pub struct FederatedToken {
    pub path: PathBuf,
}

impl FederatedToken {
    /// Reads the file now and checks it: present, not empty, a JWT, `exp` in the future.
    pub fn read(&self, now: u64) -> Result<(Assertion, FederatedClaims), CredentialError> {
        read_token(&self.path, now)
    }
}

fn read_token(path: &Path, now: u64) -> Result<(Assertion, FederatedClaims), CredentialError> {
    let bytes = read_secret_file(path)?;
    let text =
        std::str::from_utf8(bytes.expose()).map_err(|_| CredentialError::BadFederatedToken {
            path: path.to_path_buf(),
            reason: "not UTF-8 text".into(),
        })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CredentialError::EmptyFederatedToken {
            path: path.to_path_buf(),
        });
    }
    let claims = decode_claims(token).ok_or_else(|| CredentialError::BadFederatedToken {
        path: path.to_path_buf(),
        reason: "not a JWT (three base64url parts with a JSON payload)".into(),
    })?;
    let exp = claims
        .exp
        .ok_or_else(|| CredentialError::BadFederatedToken {
            path: path.to_path_buf(),
            reason: "its payload has no exp".into(),
        })?;
    if exp <= now as f64 {
        return Err(CredentialError::ExpiredFederatedToken {
            path: path.to_path_buf(),
            at: crate::time::rfc3339(exp as i64),
        });
    }
    Ok((Assertion::new(token.to_string()), claims))
}

/// The public claims of a JWT sent as a client assertion (a CI provider's token, a managed
/// identity's token-exchange token), decoded without verifying the signature, for hints.
pub fn claims_of(token: &str) -> Option<FederatedClaims> {
    decode_claims(token)
}

/// The payload's public claims, decoded without verifying the signature.
fn decode_claims(token: &str) -> Option<FederatedClaims> {
    let mut parts = token.split('.');
    let (_h, payload, _s, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next())
    else {
        return None;
    };
    let json = Zeroizing::new(URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?);
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    fn file(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("token");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn checks_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let ok = file(
            dir.path(),
            &format!(
                "{}\n",
                jwt(r#"{"iss":"i","sub":"s","aud":"api://AzureADTokenExchange","exp":2000}"#)
            ),
        );
        let (a, c) = read_token(&ok, 1000).unwrap();
        assert!(!a.expose().ends_with('\n'));
        assert_eq!(
            (c.iss.as_deref(), c.audience().as_str()),
            (Some("i"), "api://AzureADTokenExchange")
        );

        let e = read_token(&ok, 3000).unwrap_err();
        assert!(
            matches!(&e, CredentialError::ExpiredFederatedToken { at, .. } if at == "1970-01-01T00:33:20Z"),
            "{e}"
        );
        let e = read_token(&file(dir.path(), "  \n"), 0).unwrap_err();
        assert!(matches!(e, CredentialError::EmptyFederatedToken { .. }));
        let e = read_token(&file(dir.path(), "not-a-jwt"), 0).unwrap_err();
        assert!(matches!(e, CredentialError::BadFederatedToken { .. }));
        let e = read_token(&file(dir.path(), &jwt(r#"{"iss":"i"}"#)), 0).unwrap_err();
        assert!(matches!(e, CredentialError::BadFederatedToken { .. }));
        let e = read_token(&dir.path().join("missing"), 0).unwrap_err();
        assert!(matches!(e, CredentialError::ReadFile { .. }));
        // Errors never carry the token.
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("eyJ"));
    }
}

//! Builds and signs the client-assertion JWT (RFC 7523) from typed serde structs.
//!
//! Per PROTOCOL.md §2: `PS256` with `x5t#S256` (default) or `RS256` with `x5t`, never a mix;
//! `aud` is the exact token URL, `iss` = `sub` = the client id, a fresh UUID v4 `jti`,
//! `nbf` = `iat` = now, `exp` = now + `ASSERTION_LIFETIME_SECS`. The signature is made by the
//! certificate's `Signer`. This module reads no files.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::ValueEnum;
use jsonwebtoken::Algorithm;
use serde::Serialize;

use super::{CertificateCredential, CredentialError};
use crate::secret::Assertion;

/// The client-assertion signature algorithm and its thumbprint header (`--assertion-alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssertionAlg {
    /// RSASSA-PSS SHA-256 with an `x5t#S256` header (Microsoft's current form)
    Ps256,
    /// PKCS#1 v1.5 SHA-256 with an `x5t` header (the legacy form)
    Rs256,
}

impl AssertionAlg {
    /// The name used in flags, profiles and `config show`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ps256 => "ps256",
            Self::Rs256 => "rs256",
        }
    }

    /// Parses a profile's `assertion_alg = "..."` value (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Ps256, Self::Rs256]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

/// How long an assertion is valid. Entra's docs say "keep it short"; 5 minutes is what the
/// Rust Azure SDK uses, well inside the 10 minutes the emulator (and Entra) tolerate.
pub const ASSERTION_LIFETIME_SECS: u64 = 300;

/// The JOSE header. Exactly one of `x5t` / `x5t#S256` is set, matching `alg`.
#[derive(Debug, Serialize)]
struct Header {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    x5t: Option<String>,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<String>,
    /// The chain, leaf first, standard base64 of DER (Subject Name + Issuer authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    x5c: Option<Vec<String>>,
}

/// The claims Entra checks.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// Signs a fresh assertion for `client_id` addressed to `token_url`, issued at `now` (Unix seconds).
pub fn sign(
    cert: &CertificateCredential,
    client_id: &str,
    token_url: &str,
    now: u64,
) -> Result<Assertion, CredentialError> {
    let x5c = (cert.send_x5c && !cert.chain_der.is_empty()).then(|| cert.x5c());
    // Config refuses PS256 without a certificate; without x5t#S256 graphd sends RS256 + x5t.
    let (alg, header) = match (cert.alg, cert.x5t_s256()) {
        (AssertionAlg::Ps256, Some(s256)) => (
            Algorithm::PS256,
            Header {
                alg: "PS256",
                typ: "JWT",
                x5t: None,
                x5t_s256: Some(s256),
                x5c,
            },
        ),
        _ => (
            Algorithm::RS256,
            Header {
                alg: "RS256",
                typ: "JWT",
                x5t: Some(cert.x5t()),
                x5t_s256: None,
                x5c,
            },
        ),
    };
    let claims = Claims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME_SECS,
    };
    sign_jwt(&header, &claims, cert, alg)
}

/// `base64url(header).base64url(claims).signature`, signed by the certificate's signer: the
/// one place graphd makes a JWT (assertions and addKey proofs).
pub(crate) fn sign_jwt<H: Serialize, C: Serialize>(
    header: &H,
    claims: &C,
    cert: &CertificateCredential,
    alg: Algorithm,
) -> Result<Assertion, CredentialError> {
    let json = |v: serde_json::Result<Vec<u8>>| {
        v.map_err(|e| CredentialError::Sign(jsonwebtoken::errors::Error::from(e)))
    };
    let mut message = URL_SAFE_NO_PAD.encode(json(serde_json::to_vec(header))?);
    message.push('.');
    message.push_str(&URL_SAFE_NO_PAD.encode(json(serde_json::to_vec(claims))?));
    let signature = cert.signer.sign(message.as_bytes(), alg)?;
    message.push('.');
    message.push_str(&signature);
    Ok(Assertion::new(message))
}

/// Installs jsonwebtoken's aws-lc backend once (CRATES.md trap 1: with none it panics at sign).
pub fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use openssl::hash::MessageDigest;
    use openssl::rsa::Padding;
    use openssl::sign::{RsaPssSaltlen, Verifier};
    use serde_json::Value;

    use super::*;
    use crate::credential::certificate::tests::{rsa, self_signed, write};

    fn part(jwt: &str, i: usize) -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    }

    fn check(alg: AssertionAlg) {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let key = rsa(2048);
        let cert = self_signed(&key, -1, 30);
        let c = write(dir.path(), "c.pem", &cert.to_pem().unwrap());
        let k = write(
            dir.path(),
            "k.pem",
            &key.private_key_to_pem_pkcs8().unwrap(),
        );
        let cred = crate::credential::certificate::tests::load(&c, Some(&k), alg).unwrap();
        let url = "https://login.example/t/oauth2/v2.0/token";
        let a = sign(&cred, "client-1", url, 1_000_000).unwrap();
        let b = sign(&cred, "client-1", url, 1_000_000).unwrap();
        let jwt = a.expose();
        assert!(!jwt.contains('='), "no base64 padding");

        let h = part(jwt, 0);
        let claims = part(jwt, 1);
        assert_eq!(h["typ"], "JWT");
        match alg {
            AssertionAlg::Ps256 => {
                assert_eq!(h["alg"], "PS256");
                assert_eq!(h["x5t#S256"], cred.x5t_s256().unwrap());
                assert!(h.get("x5t").is_none(), "never a mix: {h}");
            }
            AssertionAlg::Rs256 => {
                assert_eq!(h["alg"], "RS256");
                assert_eq!(h["x5t"], cred.x5t());
                assert!(h.get("x5t#S256").is_none(), "never a mix: {h}");
            }
        }
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["nbf"], 1_000_000);
        assert_eq!(claims["iat"], 1_000_000);
        assert_eq!(claims["exp"], 1_000_300);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);
        assert_ne!(
            jti,
            part(b.expose(), 1)["jti"].as_str().unwrap(),
            "fresh jti each time"
        );

        // Verify the signature independently with openssl.
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let pubkey = cert.public_key().unwrap();
        let mut v = Verifier::new(MessageDigest::sha256(), &pubkey).unwrap();
        if alg == AssertionAlg::Ps256 {
            v.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
            v.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
            v.set_rsa_pss_saltlen(RsaPssSaltlen::custom(32)).unwrap();
        }
        v.update(signed.as_bytes()).unwrap();
        assert!(v.verify(&sig).unwrap(), "signature must verify");
    }

    #[test]
    fn ps256_with_x5t_s256() {
        check(AssertionAlg::Ps256);
    }

    #[test]
    fn rs256_with_x5t() {
        check(AssertionAlg::Rs256);
    }
}

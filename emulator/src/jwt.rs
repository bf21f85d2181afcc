//! JWTs by hand: splitting a compact JWS into its three strictly base64url (unpadded) segments,
//! RS256 / PS256 signing and verification with OpenSSL, and the emulator's own access tokens
//! (issued by the authority, checked by Graph). Client-assertion *rules* live in `assertion`.
//! This module deliberately shares no code with graphd (which uses jsonwebtoken).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde::{Deserialize, Serialize};

/// A compact JWS split and decoded, not yet verified.
#[derive(Debug)]
pub(crate) struct RawJwt<'a> {
    /// `header.payload` as sent: the bytes the signature covers.
    pub signing_input: &'a str,
    pub header: Vec<u8>,
    pub claims: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Splits `a.b.c` and base64url-decodes each segment. Padding (`=`), the standard alphabet
/// (`+`, `/`), whitespace, empty segments and a count other than three are all refused.
pub(crate) fn split(token: &str) -> Result<RawJwt<'_>, &'static str> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a JWS must have exactly three dot-separated segments");
    };
    if h.is_empty() || c.is_empty() || s.is_empty() {
        return Err("a JWS segment is empty");
    }
    let dec = |seg: &str| {
        URL_SAFE_NO_PAD
            .decode(seg)
            .map_err(|_| "a JWS segment is not unpadded base64url")
    };
    Ok(RawJwt {
        signing_input: &token[..h.len() + 1 + c.len()],
        header: dec(h)?,
        claims: dec(c)?,
        signature: dec(s)?,
    })
}

/// The two signature algorithms Entra accepts on client assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    Ps256,
}

/// Verifies `sig` over `input` with an RSA public key. Any OpenSSL error counts as a mismatch.
pub(crate) fn verify<T: HasPublic>(alg: Alg, key: &PKeyRef<T>, input: &[u8], sig: &[u8]) -> bool {
    let run = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(MessageDigest::sha256(), key)?;
        match alg {
            Alg::Rs256 => v.set_rsa_padding(Padding::PKCS1)?,
            Alg::Ps256 => {
                v.set_rsa_padding(Padding::PKCS1_PSS)?;
                v.set_rsa_mgf1_md(MessageDigest::sha256())?;
                v.set_rsa_pss_saltlen(RsaPssSaltlen::custom(32))?;
            }
        }
        v.update(input)?;
        v.verify(sig)
    };
    run().unwrap_or(false)
}

/// Signs `header.claims` (both serialized with serde) and returns the compact JWS.
pub(crate) fn sign<H: Serialize, C: Serialize>(
    alg: Alg,
    key: &PKeyRef<Private>,
    header: &H,
    claims: &C,
) -> Result<String, openssl::error::ErrorStack> {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap_or_default());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{h}.{c}");
    let mut s = Signer::new(MessageDigest::sha256(), key)?;
    match alg {
        Alg::Rs256 => s.set_rsa_padding(Padding::PKCS1)?,
        Alg::Ps256 => {
            s.set_rsa_padding(Padding::PKCS1_PSS)?;
            s.set_rsa_mgf1_md(MessageDigest::sha256())?;
            s.set_rsa_pss_saltlen(RsaPssSaltlen::custom(32))?;
        }
    }
    s.update(input.as_bytes())?;
    let sig = s.sign_to_vec()?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The emulator's token-signing key (RSA-2048, with a self-signed certificate for the JWKS).
pub(crate) struct TokenKey {
    key: PKey<Private>,
    /// `kid` and `x5t` of issued tokens: base64url SHA-1 of the certificate, as Entra does.
    pub kid: String,
    pub cert_der: Vec<u8>,
    /// RSA modulus and exponent, base64url, for the JWKS.
    pub n: String,
    pub e: String,
}

/// The claims of an access token the emulator issues (a subset of Entra's v1 app tokens; the
/// optional ones at the end are for managed-identity and delegated tokens).
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub app_displayname: String,
    pub appid: String,
    /// "1" for a client secret, "2" for a certificate.
    pub appidacr: String,
    pub idp: String,
    pub idtyp: String,
    pub oid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    /// Delegated tokens: the space-separated delegated permissions (no `roles` then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// Delegated tokens: the signed-in user's UPN and display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Managed-identity tokens of a user-assigned identity: its Azure resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xms_mirid: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct AccessHeader {
    typ: String,
    alg: String,
    x5t: String,
    kid: String,
}

/// Why Graph refused a bearer token (each maps to one `InvalidAuthenticationToken` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessRejection {
    Malformed,
    BadSignature,
    Audience,
    Issuer,
    Expired,
    NotYetValid,
}

impl AccessRejection {
    pub(crate) fn message(self) -> &'static str {
        match self {
            AccessRejection::Malformed => {
                "IDX14100: JWT is not well formed, there are no dots (.)."
            }
            AccessRejection::BadSignature => "Access token validation failure. Invalid signature.",
            AccessRejection::Audience => "Access token validation failure. Invalid audience.",
            AccessRejection::Issuer => "Access token validation failure. Invalid issuer.",
            AccessRejection::Expired => "Lifetime validation failed, the token is expired.",
            AccessRejection::NotYetValid => {
                "Lifetime validation failed, the token is not yet valid."
            }
        }
    }
}

impl TokenKey {
    pub(crate) fn generate() -> Result<TokenKey, crate::Error> {
        let g = crate::tls::generate_client_cert(&crate::tls::ClientCertSpec {
            common_name: "graphd-emulator token signing".into(),
            ..Default::default()
        })?;
        let err = |e| crate::Error::Crypto("loading the token-signing key", e);
        let key = PKey::private_key_from_pem(&g.key_pem).map_err(err)?;
        let cert = openssl::x509::X509::from_pem(&g.cert_pem).map_err(err)?;
        let rsa = key.rsa().map_err(err)?;
        Ok(TokenKey {
            kid: g.x5t.clone(),
            cert_der: cert.to_der().map_err(err)?,
            n: URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            e: URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
            key,
        })
    }

    /// Signs an access token (RS256, `kid` and `x5t` set).
    pub(crate) fn issue(
        &self,
        claims: &AccessClaims,
    ) -> Result<String, openssl::error::ErrorStack> {
        self.sign_claims(claims)
    }

    /// Signs any claims with the tenant key and the access-token header (RS256, `kid`, `x5t`):
    /// for tokens that are not Graph access tokens, such as a managed identity's token-exchange
    /// token.
    pub(crate) fn sign_claims<C: Serialize>(
        &self,
        claims: &C,
    ) -> Result<String, openssl::error::ErrorStack> {
        let header = AccessHeader {
            typ: "JWT".into(),
            alg: "RS256".into(),
            x5t: self.kid.clone(),
            kid: self.kid.clone(),
        };
        sign(Alg::Rs256, &self.key, &header, claims)
    }

    /// Checks that `token` is well formed and signed by this key (RS256, this `kid`) and returns
    /// its decoded claims segment; no claim is looked at.
    pub(crate) fn verify_signed(&self, token: &str) -> Result<Vec<u8>, AccessRejection> {
        let raw = split(token).map_err(|_| AccessRejection::Malformed)?;
        let header: AccessHeader =
            serde_json::from_slice(&raw.header).map_err(|_| AccessRejection::Malformed)?;
        if header.alg != "RS256" || header.kid != self.kid {
            return Err(AccessRejection::BadSignature);
        }
        if !verify(
            Alg::Rs256,
            &self.key,
            raw.signing_input.as_bytes(),
            &raw.signature,
        ) {
            return Err(AccessRejection::BadSignature);
        }
        Ok(raw.claims)
    }

    /// Checks a bearer token as Graph would: signature with this key, issuer, audience, lifetime
    /// (no clock skew on `exp`; 5 minutes on `nbf`).
    pub(crate) fn check(
        &self,
        token: &str,
        audience: &str,
        issuer: &str,
        now: i64,
    ) -> Result<AccessClaims, AccessRejection> {
        let raw_claims = self.verify_signed(token)?;
        let claims: AccessClaims =
            serde_json::from_slice(&raw_claims).map_err(|_| AccessRejection::Malformed)?;
        if claims.iss != issuer {
            return Err(AccessRejection::Issuer);
        }
        if claims.aud != audience {
            return Err(AccessRejection::Audience);
        }
        if claims.exp <= now {
            return Err(AccessRejection::Expired);
        }
        if claims.nbf > now + 300 {
            return Err(AccessRejection::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_strict() {
        assert!(split("a.b").is_err());
        assert!(split("a.b.c.d").is_err());
        assert!(split("e30.e30.").is_err());
        assert!(split("e30=.e30.AA").is_err(), "padding refused");
        assert!(split("e30.e30.A+").is_err(), "standard alphabet refused");
        let j = split("e30.eyJhIjoxfQ.AQ").unwrap();
        assert_eq!(j.signing_input, "e30.eyJhIjoxfQ");
        assert_eq!(j.header, b"{}");
        assert_eq!(j.signature, vec![1]);
    }

    #[test]
    fn access_tokens_round_trip_and_fail_precisely() {
        let k = TokenKey::generate().unwrap();
        let claims = AccessClaims {
            aud: "https://g".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: 1000,
            nbf: 1000,
            exp: 2000,
            app_displayname: "x".into(),
            appid: "a".into(),
            appidacr: "1".into(),
            idp: "i".into(),
            idtyp: "app".into(),
            oid: "o".into(),
            roles: None,
            sub: "o".into(),
            tid: "t".into(),
            uti: "u".into(),
            ver: "1.0".into(),
            ..Default::default()
        };
        let t = k.issue(&claims).unwrap();
        let iss = "https://sts.windows.net/t/";
        assert!(k.check(&t, "https://g", iss, 1500).is_ok());
        assert_eq!(
            k.check(&t, "https://h", iss, 1500).unwrap_err(),
            AccessRejection::Audience
        );
        assert_eq!(
            k.check(&t, "https://g", iss, 2000).unwrap_err(),
            AccessRejection::Expired
        );
        assert_eq!(
            k.check(&t, "https://g", "x", 1500).unwrap_err(),
            AccessRejection::Issuer
        );
        let mut tampered = t.clone().into_bytes();
        let at = tampered.len() - 10;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            k.check(&tampered, "https://g", iss, 1500).unwrap_err(),
            AccessRejection::BadSignature
        );
        assert_eq!(
            k.check("nope", "https://g", iss, 1500).unwrap_err(),
            AccessRejection::Malformed
        );
        let other = TokenKey::generate().unwrap();
        assert!(other.check(&t, "https://g", iss, 1500).is_err());
    }
}

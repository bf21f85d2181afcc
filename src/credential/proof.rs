//! The proof-of-possession JWT that `addKey` / `removeKey` require (PROTOCOL.md §7): signed
//! RS256 with the key of a currently registered certificate, `x5t` of that certificate,
//! `aud` = `00000002-0000-0000-c000-000000000000`, `iss` = the application *object* id (not
//! the client id), `nbf` = now, `exp` = now + `PROOF_LIFETIME_SECS` (at most 10 minutes), and
//! no base64 padding anywhere. Typed serde structs, like the client assertion.

use jsonwebtoken::Algorithm;
use serde::Serialize;

use super::{CertificateCredential, CredentialError};
use crate::secret::Assertion;

/// The audience of every proof: the legacy Azure AD Graph's application id.
pub const PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// A proof lives 5 minutes: Graph refuses more than 10, and it is used at once.
pub const PROOF_LIFETIME_SECS: u64 = 300;

#[derive(Serialize)]
struct Header {
    alg: &'static str,
    typ: &'static str,
    x5t: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    nbf: u64,
    exp: u64,
    jti: String,
}

/// Signs a proof for the application whose object id is `app_object_id`, at `now`.
pub fn sign(
    cert: &CertificateCredential,
    app_object_id: &str,
    now: u64,
) -> Result<Assertion, CredentialError> {
    let header = Header {
        alg: "RS256",
        typ: "JWT",
        x5t: cert.x5t(),
    };
    let claims = Claims {
        aud: PROOF_AUDIENCE,
        iss: app_object_id,
        nbf: now,
        exp: now + PROOF_LIFETIME_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    super::assertion::sign_jwt(&header, &claims, cert, Algorithm::RS256)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::credential::AssertionAlg;
    use crate::credential::certificate::tests::{load, rsa, self_signed, write};

    #[test]
    fn proof_claims_and_no_padding() {
        crate::credential::assertion::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let key = rsa(2048);
        let cert = self_signed(&key, -1, 30);
        let c = write(dir.path(), "c.pem", &cert.to_pem().unwrap());
        let k = write(
            dir.path(),
            "k.pem",
            &key.private_key_to_pem_pkcs8().unwrap(),
        );
        let cred = load(&c, Some(&k), AssertionAlg::Ps256).unwrap();
        let p = sign(&cred, "app-object-id", 1000).unwrap();
        let jwt = p.expose();
        assert!(!jwt.contains('='));
        let part = |i: usize| -> serde_json::Value {
            serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(jwt.split('.').nth(i).unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(part(0)["alg"], "RS256");
        assert_eq!(part(0)["x5t"], cred.x5t());
        let c = part(1);
        assert_eq!(
            (c["aud"].as_str(), c["iss"].as_str()),
            (Some(PROOF_AUDIENCE), Some("app-object-id"))
        );
        assert_eq!(
            (c["nbf"].as_u64(), c["exp"].as_u64()),
            (Some(1000), Some(1300))
        );
    }
}

//! Windows: a private key in a certificate store, signing through CNG (`--cert-store` with
//! `--thumbprint`). The key never leaves its provider; graphd hashes the JWS signing input
//! with SHA-256 and asks CNG for a PSS (PS256, salt 32) or PKCS#1 v1.5 (RS256) signature
//! (the FFI is the `graphd-win` crate's). Every signature is verified with the certificate's
//! public key before it is used, so a key that does not match its certificate fails here, as
//! a file key that does not match fails at load.
//!
//! The token cache's material for such a key is a PKCS#1 v1.5 signature over the entry's
//! binding: deterministic, and only the key's holder can make it (`Signer::cache_material`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphd_win::certstore::{Error as StoreError, Padding, StoreKey};
use jsonwebtoken::Algorithm;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding as RsaPadding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use zeroize::Zeroizing;

use super::CredentialError;

/// PS256's salt length: the digest's (what Entra and MSAL use).
const PSS_SALT_LEN: u32 = 32;

/// A certificate store's key, and the certificate's public key that checks its signatures.
pub struct StoreSigner {
    key: StoreKey,
    public: PKey<Public>,
    /// The certificate's SHA-1 thumbprint (uppercase hex), for messages.
    thumbprint: String,
}

impl StoreSigner {
    pub fn new(key: StoreKey, public: PKey<Public>, thumbprint: String) -> StoreSigner {
        StoreSigner {
            key,
            public,
            thumbprint,
        }
    }

    /// The base64url signature of `message` with `alg` (PS256 or RS256), checked.
    pub fn sign(&self, message: &[u8], alg: Algorithm) -> Result<String, CredentialError> {
        let padding = match alg {
            Algorithm::PS256 => Padding::Pss {
                salt_len: PSS_SALT_LEN,
            },
            Algorithm::RS256 => Padding::Pkcs1,
            _ => {
                return Err(self.sign_error(StoreError::BadInput(
                    "a store key signs RS256 or PS256 only",
                )));
            }
        };
        let sig = self.raw(message, padding)?;
        if !self.verifies(message, &sig, padding) {
            return Err(CredentialError::StoreKeyMismatch {
                thumbprint: self.thumbprint.clone(),
            });
        }
        Ok(URL_SAFE_NO_PAD.encode(sig))
    }

    /// A PKCS#1 v1.5 signature over `binding`: deterministic, so the same key derives the same
    /// cache key every run, and only this key's holder can make it.
    pub fn cache_material(&self, binding: &str) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        self.raw(binding.as_bytes(), Padding::Pkcs1)
            .map(Zeroizing::new)
    }

    fn raw(&self, message: &[u8], padding: Padding) -> Result<Vec<u8>, CredentialError> {
        let digest = openssl::sha::sha256(message);
        self.key
            .sign_digest(&digest, padding)
            .map_err(|e| self.sign_error(e))
    }

    fn sign_error(&self, source: StoreError) -> CredentialError {
        CredentialError::StoreSign {
            thumbprint: self.thumbprint.clone(),
            source,
        }
    }

    /// Whether the certificate's public key verifies `sig` over `message`.
    fn verifies(&self, message: &[u8], sig: &[u8], padding: Padding) -> bool {
        let check = || -> Result<bool, openssl::error::ErrorStack> {
            let mut v = Verifier::new(MessageDigest::sha256(), &self.public)?;
            if let Padding::Pss { salt_len } = padding {
                v.set_rsa_padding(RsaPadding::PKCS1_PSS)?;
                v.set_rsa_mgf1_md(MessageDigest::sha256())?;
                v.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt_len as i32))?;
            }
            v.update(message)?;
            v.verify(sig)
        };
        check().unwrap_or(false)
    }
}

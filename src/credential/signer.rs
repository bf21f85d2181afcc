//! What signs with a certificate's private key: a key in memory (a file graphd read and
//! checked), a key that never leaves a PKCS#11 token, or (Windows) a key in a certificate store
//! that signs through CNG and never leaves it (`winstore`). Nothing above this module needs to
//! know which one signed.
//!
//! A signer signs a JWS signing input and answers the secret material the token cache keys
//! its entries with (something only the key's holder can produce).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use zeroize::Zeroizing;

use super::CredentialError;
use super::pkcs11::{Scheme, TokenKey};
use crate::secret::PrivateKeyDer;

/// The fixed, domain-separated prefix of the message a token key signs to key the token cache.
/// It can never be a JWS signing input (those are base64url and `.`), so no assertion or proof
/// graphd sends carries this signature.
pub const CACHE_MESSAGE_PREFIX: &str = "graphd token cache key v1: RSASSA-PKCS1-v1_5 SHA-256 over authority|tenant|client|scope|certificate\n";

/// A private key that can sign client assertions and proofs of possession.
pub enum Signer {
    /// An RSA key read from a file, as PKCS#1 DER (what jsonwebtoken signs with).
    File(PrivateKeyDer),
    /// An RSA key on a PKCS#11 token: it signs there and is never read.
    Pkcs11(TokenKey),
    /// Windows: a certificate store's key (`--cert-store`), signing through CNG.
    #[cfg(windows)]
    Store(Box<super::winstore::StoreSigner>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::File(_) => f.write_str("Signer::File([redacted])"),
            Signer::Pkcs11(k) => write!(f, "Signer::Pkcs11({})", k.describe()),
            #[cfg(windows)]
            Signer::Store(_) => f.write_str("Signer::Store(CNG key)"),
        }
    }
}

impl Signer {
    /// The base64url signature of `message` with `alg` (RS256 or PS256).
    pub fn sign(&self, message: &[u8], alg: Algorithm) -> Result<String, CredentialError> {
        match self {
            Signer::File(key) => {
                let key = EncodingKey::from_rsa_der(key.expose());
                jsonwebtoken::crypto::sign(message, &key, alg).map_err(CredentialError::Sign)
            }
            Signer::Pkcs11(key) => {
                let scheme = match alg {
                    Algorithm::PS256 => Scheme::Pss,
                    Algorithm::RS256 => Scheme::Pkcs1,
                    _ => {
                        return Err(CredentialError::Sign(
                            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into(),
                        ));
                    }
                };
                Ok(URL_SAFE_NO_PAD.encode(key.sign(message, scheme)?))
            }
            #[cfg(windows)]
            Signer::Store(s) => s.sign(message, alg),
        }
    }

    /// Secret material only this key's holder has, for the token cache's key derivation of the
    /// entry bound to `binding` (authority, tenant, client, scope, certificate). A key in
    /// memory gives itself. A token key cannot be read out: it gives its deterministic
    /// RSASSA-PKCS1-v1_5 signature of [`CACHE_MESSAGE_PREFIX`] + `binding`, which only the
    /// token's holder can produce (one signature on the token per run that reads the cache).
    pub fn cache_material(&self, binding: &str) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        match self {
            Signer::File(key) => Ok(Zeroizing::new(key.expose().to_vec())),
            Signer::Pkcs11(key) => {
                let message = format!("{CACHE_MESSAGE_PREFIX}{binding}");
                Ok(Zeroizing::new(key.sign(message.as_bytes(), Scheme::Pkcs1)?))
            }
            // The same domain separation as a token key: a store key never signs the bare
            // binding (which could be a message something else asks it to sign).
            #[cfg(windows)]
            Signer::Store(s) => s.cache_material(&format!("{CACHE_MESSAGE_PREFIX}{binding}")),
        }
    }
}

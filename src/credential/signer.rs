//! What signs with a certificate's private key: a key in memory (a file graphd read and
//! checked), or (Windows) a key in a certificate store that signs through CNG and never leaves
//! it (`winstore`); nothing above this module needs to know which one signed.
//!
//! A signer signs a JWS signing input and answers the secret material the token cache keys
//! its entries with (something only the key's holder can produce).

use jsonwebtoken::{Algorithm, EncodingKey};
use zeroize::Zeroizing;

use super::CredentialError;
use crate::secret::PrivateKeyDer;

/// A private key that can sign client assertions and proofs of possession.
pub enum Signer {
    /// An RSA key read from a file, as PKCS#1 DER (what jsonwebtoken signs with).
    File(PrivateKeyDer),
    /// Windows: a certificate store's key (`--cert-store`), signing through CNG.
    #[cfg(windows)]
    Store(Box<super::winstore::StoreSigner>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::File(_) => f.write_str("Signer::File([redacted])"),
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
            #[cfg(windows)]
            Signer::Store(s) => s.sign(message, alg),
        }
    }

    /// Secret material only this key's holder has, for the token cache's key derivation of the
    /// entry bound to `binding` (authority, tenant, client, scope, certificate). A key in
    /// memory gives itself; a key that cannot be read out must derive it from something only
    /// its holder can produce for `binding` (e.g. a deterministic signature over it).
    pub fn cache_material(&self, binding: &str) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        let _ = binding;
        match self {
            Signer::File(key) => Ok(Zeroizing::new(key.expose().to_vec())),
            #[cfg(windows)]
            Signer::Store(s) => s.cache_material(binding),
        }
    }
}

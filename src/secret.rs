//! Redacting, zeroizing newtypes for every secret graphd handles.
//!
//! A value of one of these types never prints: `Debug` shows `[redacted]`, there is no
//! `Display` and no `Serialize`, and the memory is zeroized on drop (through `secrecy`).
//! Code that needs the value calls `expose()` at the one place it is sent, which keeps
//! every use greppable. This module must not log, and must not grow a way to print a value.

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value; the `String` moves in and is zeroized with the wrapper.
            pub fn new(value: String) -> Self {
                Self(SecretString::from(value))
            }

            /// The value, for the one place that sends it.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::new)
            }
        }
    };
}

secret_string!(
    /// An Entra client secret (the secret's *value*, not its ID).
    ClientSecret
);
secret_string!(
    /// A bearer access token issued by Entra for Graph.
    AccessToken
);
secret_string!(
    /// The password of an encrypted private key or a PKCS#12 file.
    CertPassword
);
secret_string!(
    /// A signed client-assertion JWT: as good as the key for its few minutes of life.
    Assertion
);
secret_string!(
    /// `IDENTITY_HEADER`: what App Service and Service Fabric's local token endpoints want to
    /// see (as `X-IDENTITY-HEADER` / `secret`) before they hand out a managed identity's token.
    IdentityHeader
);
secret_string!(
    /// The content of Azure Arc's challenge file: sent once as `Authorization: Basic ...` to
    /// prove the caller may read the agent's token directory.
    ArcSecret
);
secret_string!(
    /// The user PIN of a PKCS#11 token: with the token, it signs as the app.
    Pin
);

/// An RSA private key as PKCS#1 DER, the form jsonwebtoken signs with.
pub struct PrivateKeyDer(SecretBox<Vec<u8>>);

impl PrivateKeyDer {
    /// Wraps DER bytes; they are zeroized with the wrapper.
    pub fn new(der: Vec<u8>) -> Self {
        Self(SecretBox::new(Box::new(der)))
    }

    /// The DER bytes, for the signer.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyDer([redacted])")
    }
}

/// Bytes read from a file, a pipe or stdin that may hold secret material (a client secret, a PEM
/// key, a PKCS#12 file, a password): zeroized on drop, capacity included, and never printed.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are zeroized with the wrapper.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes, for the parser that reads them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted], {} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "s3cr3t~canary.value_123";

    #[test]
    fn debug_is_redacted() {
        let shown = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            ClientSecret::new(CANARY.into()),
            AccessToken::new(CANARY.into()),
            Assertion::new(CANARY.into()),
            CertPassword::new(CANARY.into()),
            IdentityHeader::new(CANARY.into()),
            ArcSecret::new(CANARY.into()),
            PrivateKeyDer::new(CANARY.as_bytes().to_vec()),
            SecretBytes::new(CANARY.as_bytes().to_vec()),
            Pin::new(CANARY.into())
        );
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(!shown.contains("canary"), "{shown}");
        // Not even the bytes as numbers.
        assert!(!shown.contains("115, 51"), "{shown}");
        assert_eq!(shown.matches("[redacted]").count(), 9, "{shown}");
    }

    #[test]
    fn deserialize_keeps_value_and_redacts() {
        #[derive(Deserialize, Debug)]
        struct Wire {
            #[allow(dead_code)]
            access_token: AccessToken,
        }
        let w: Wire = serde_json::from_str(&format!(r#"{{"access_token":"{CANARY}"}}"#)).unwrap();
        assert_eq!(w.access_token.expose(), CANARY);
        assert!(!format!("{w:?}").contains(CANARY));
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(ClientSecret::new(CANARY.into()).expose(), CANARY);
        assert_eq!(PrivateKeyDer::new(vec![1, 2, 3]).expose(), &[1, 2, 3]);
    }
}

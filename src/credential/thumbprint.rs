//! A certificate's thumbprints in the forms Entra, the portal and the JOSE header use:
//! SHA-1 as uppercase hex (the portal's "Thumbprint"), `x5t` and `x5t#S256` (base64url, no
//! padding), and the portal's hex parsed back. Pure functions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::x509::X509Ref;

/// The SHA-1 and (when the certificate itself is known) SHA-256 of a certificate's DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbprints {
    pub sha1: Vec<u8>,
    pub sha256: Option<Vec<u8>>,
}

impl Thumbprints {
    /// Both digests of `cert`.
    pub fn of(cert: &X509Ref) -> Result<Self, openssl::error::ErrorStack> {
        Ok(Thumbprints {
            sha1: cert.digest(MessageDigest::sha1())?.to_vec(),
            sha256: Some(cert.digest(MessageDigest::sha256())?.to_vec()),
        })
    }

    /// Only the SHA-1 the user gave (`--thumbprint`): no certificate, so no SHA-256.
    pub fn sha1_only(sha1: Vec<u8>) -> Self {
        Thumbprints { sha1, sha256: None }
    }

    /// The SHA-1 thumbprint as the portal shows it: uppercase hex.
    pub fn hex(&self) -> String {
        hex_upper(&self.sha1)
    }

    /// `x5t`: base64url (no padding) of the SHA-1.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha1)
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256, when known.
    pub fn x5t_s256(&self) -> Option<String> {
        self.sha256.as_ref().map(|d| URL_SAFE_NO_PAD.encode(d))
    }
}

/// Uppercase hex, as the portal shows thumbprints.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Parses a SHA-1 thumbprint as the portal shows it (hex, any case, colons or spaces allowed).
pub fn parse_thumbprint(text: &str) -> Option<Vec<u8>> {
    let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_parse_as_the_portal_shows_them() {
        let want: Vec<u8> = (0..20).collect();
        assert_eq!(
            parse_thumbprint("000102030405060708090A0B0C0D0E0F10111213").unwrap(),
            want
        );
        assert_eq!(
            parse_thumbprint("00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13")
                .unwrap(),
            want
        );
        assert!(parse_thumbprint("0001").is_none());
        assert!(parse_thumbprint("zz0102030405060708090A0B0C0D0E0F10111213").is_none());
        let t = Thumbprints::sha1_only(want);
        assert_eq!(t.hex(), "000102030405060708090A0B0C0D0E0F10111213");
        assert_eq!(t.x5t_s256(), None);
    }
}

//! Loads a certificate credential and checks it before anything is sent.
//!
//! The certificate (PEM, leaf first) and the private key (PEM, PKCS#1 or PKCS#8) are parsed
//! with openssl; the key must be RSA of 2048 bits or more (Entra accepts nothing else), must
//! match the certificate, and the certificate must be within its validity window. Errors
//! name the file and the problem, never the key material. Signing is `assertion`'s job.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::X509;

use super::{CredentialError, read_secret_file};
use crate::cli::AssertionAlg;
use crate::secret::PrivateKeyDer;

/// Entra's minimum RSA modulus size for app credentials (PROTOCOL.md §2).
pub const MIN_RSA_BITS: u32 = 2048;

/// A checked certificate and its private key, ready to sign assertions.
pub struct CertificateCredential {
    /// DER of the leaf certificate.
    pub cert_der: Vec<u8>,
    /// The PKCS#1 DER private key jsonwebtoken signs with.
    pub key: PrivateKeyDer,
    pub alg: AssertionAlg,
    sha1: Vec<u8>,
    sha256: Vec<u8>,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("thumbprint", &self.thumbprint_hex())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// Loads `cert` and `key` (or the key from `cert` itself when `key` is `None`) and checks them.
    pub fn load(
        cert_path: &Path,
        key_path: Option<&Path>,
        alg: AssertionAlg,
    ) -> Result<Self, CredentialError> {
        let cert_bytes = read_secret_file(cert_path)?;
        let key = match key_path {
            Some(p) => Some((read_secret_file(p)?, p)),
            None => None,
        };
        Self::from_pem(
            &cert_bytes,
            cert_path,
            key.as_ref().map(|(bytes, p)| (&bytes[..], *p)),
            alg,
        )
    }

    /// Checks a certificate PEM and its key PEM (`None`: the key is in `cert_pem`), already
    /// read; the paths only name them in errors. Public for the fuzz target.
    pub fn from_pem(
        cert_pem: &[u8],
        cert_path: &Path,
        key_pem: Option<(&[u8], &Path)>,
        alg: AssertionAlg,
    ) -> Result<Self, CredentialError> {
        let chain =
            X509::stack_from_pem(cert_pem).map_err(|source| CredentialError::BadCertificate {
                path: cert_path.to_path_buf(),
                source,
            })?;
        let leaf = chain
            .into_iter()
            .next()
            .ok_or_else(|| CredentialError::NoCertificate {
                path: cert_path.to_path_buf(),
            })?;

        let (key_bytes, key_path) = match key_pem {
            Some((bytes, p)) => (bytes, p.to_path_buf()),
            None => (cert_pem, cert_path.to_path_buf()),
        };
        let pkey = parse_private_key(key_bytes, &key_path)?;
        check_rsa(&pkey, &key_path)?;
        let matches = leaf
            .public_key()
            .map_err(CredentialError::Crypto)?
            .public_eq(&pkey);
        if !matches {
            return Err(CredentialError::KeyMismatch {
                cert: cert_path.to_path_buf(),
                key: key_path,
            });
        }
        check_validity(&leaf, cert_path)?;

        let der = pkey
            .rsa()
            .and_then(|rsa| rsa.private_key_to_der())
            .map_err(CredentialError::Crypto)?;
        let cert_der = leaf.to_der().map_err(CredentialError::Crypto)?;
        let sha1 = leaf
            .digest(MessageDigest::sha1())
            .map_err(CredentialError::Crypto)?
            .to_vec();
        let sha256 = leaf
            .digest(MessageDigest::sha256())
            .map_err(CredentialError::Crypto)?
            .to_vec();
        Ok(CertificateCredential {
            cert_der,
            key: PrivateKeyDer::new(der),
            alg,
            sha1,
            sha256,
        })
    }

    /// The SHA-1 thumbprint as the portal shows it: uppercase hex.
    pub fn thumbprint_hex(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// `x5t`: base64url (no padding) of the SHA-1 of the certificate's DER.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha1)
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate's DER.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha256)
    }
}

fn parse_private_key(bytes: &[u8], path: &Path) -> Result<PKey<Private>, CredentialError> {
    if !contains(bytes, b"PRIVATE KEY-----") {
        return Err(CredentialError::NoKey {
            path: path.to_path_buf(),
        });
    }
    let mut asked_for_password = false;
    let parsed = PKey::private_key_from_pem_callback(bytes, |_buf| {
        // openssl calls this only for an encrypted key; refuse rather than guess a password.
        asked_for_password = true;
        Ok(0)
    });
    match parsed {
        Ok(k) => Ok(k),
        Err(_) if asked_for_password => Err(CredentialError::EncryptedKey {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(CredentialError::BadKey {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn check_rsa(pkey: &PKey<Private>, path: &Path) -> Result<(), CredentialError> {
    let kind = match pkey.id() {
        Id::RSA => {
            let bits = pkey.bits();
            if bits < MIN_RSA_BITS {
                return Err(CredentialError::KeyTooSmall {
                    path: path.to_path_buf(),
                    bits,
                });
            }
            return Ok(());
        }
        Id::EC => "an EC key".to_string(),
        Id::ED25519 => "an Ed25519 key".to_string(),
        Id::ED448 => "an Ed448 key".to_string(),
        Id::DSA => "a DSA key".to_string(),
        Id::RSA_PSS => "an RSA-PSS-only key".to_string(),
        other => format!("a key of type {}", other.as_raw()),
    };
    Err(CredentialError::NotRsa {
        path: path.to_path_buf(),
        kind,
    })
}

fn check_validity(cert: &X509, path: &Path) -> Result<(), CredentialError> {
    let now = Asn1Time::days_from_now(0).map_err(CredentialError::Crypto)?;
    let (nb, na) = (cert.not_before(), cert.not_after());
    let dates = || (nb.to_string(), na.to_string());
    if na < now {
        let (not_before, not_after) = dates();
        return Err(CredentialError::CertificateExpired {
            path: PathBuf::from(path),
            not_before,
            not_after,
        });
    }
    if nb > now {
        let (not_before, not_after) = dates();
        return Err(CredentialError::CertificateNotYetValid {
            path: PathBuf::from(path),
            not_before,
            not_after,
        });
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    use super::*;

    pub(crate) fn self_signed(key: &PKey<Private>, days_from: i64, days_to: i64) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "graphd-test").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        b.set_not_before(&Asn1Time::from_unix(now + days_from * 86400).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + days_to * 86400).unwrap())
            .unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    pub(crate) fn rsa(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    #[test]
    fn loads_separate_and_combined_pem_with_thumbprints() {
        let dir = tempfile::tempdir().unwrap();
        let key = rsa(2048);
        let cert = self_signed(&key, -1, 30);
        let c = write(dir.path(), "c.pem", &cert.to_pem().unwrap());
        let k = write(
            dir.path(),
            "k.pem",
            &key.private_key_to_pem_pkcs8().unwrap(),
        );
        let cred = CertificateCredential::load(&c, Some(&k), AssertionAlg::Ps256).unwrap();
        let sha1 = cert.digest(MessageDigest::sha1()).unwrap();
        assert_eq!(cred.x5t(), URL_SAFE_NO_PAD.encode(&*sha1));
        assert_eq!(cred.thumbprint_hex().len(), 40);
        assert!(
            cred.thumbprint_hex()
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert!(!format!("{cred:?}").contains("BEGIN"));

        // PKCS#1, key before the certificate, in one file.
        let mut both = key.rsa().unwrap().private_key_to_pem().unwrap();
        both.extend_from_slice(&cert.to_pem().unwrap());
        let b = write(dir.path(), "both.pem", &both);
        let cred2 = CertificateCredential::load(&b, None, AssertionAlg::Rs256).unwrap();
        assert_eq!(cred2.x5t_s256(), cred.x5t_s256());
    }

    #[test]
    fn refusals_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = rsa(2048);
        let cert = self_signed(&key, -1, 30);
        let c = write(dir.path(), "c.pem", &cert.to_pem().unwrap());

        let small = rsa(1024);
        let k = write(
            dir.path(),
            "small.pem",
            &small.private_key_to_pem_pkcs8().unwrap(),
        );
        let e = CertificateCredential::load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(
            matches!(e, CredentialError::KeyTooSmall { bits: 1024, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("small.pem"));

        let ec = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let k = write(
            dir.path(),
            "ec.pem",
            &ec.private_key_to_pem_pkcs8().unwrap(),
        );
        let e = CertificateCredential::load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(matches!(e, CredentialError::NotRsa { .. }), "{e}");

        let other = rsa(2048);
        let k = write(
            dir.path(),
            "other.pem",
            &other.private_key_to_pem_pkcs8().unwrap(),
        );
        let e = CertificateCredential::load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(matches!(e, CredentialError::KeyMismatch { .. }), "{e}");

        let e = CertificateCredential::load(&c, None, AssertionAlg::Ps256).unwrap_err();
        assert!(matches!(e, CredentialError::NoKey { .. }), "{e}");

        let enc = key
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"pw")
            .unwrap();
        let k = write(dir.path(), "enc.pem", &enc);
        let e = CertificateCredential::load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(matches!(e, CredentialError::EncryptedKey { .. }), "{e}");

        let k = write(
            dir.path(),
            "key.pem",
            &key.private_key_to_pem_pkcs8().unwrap(),
        );
        let notcert = write(dir.path(), "notcert.pem", b"hello");
        let e = CertificateCredential::load(&notcert, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(
            matches!(
                e,
                CredentialError::NoCertificate { .. } | CredentialError::BadCertificate { .. }
            ),
            "{e}"
        );

        let expired = write(
            dir.path(),
            "old.pem",
            &self_signed(&key, -30, -1).to_pem().unwrap(),
        );
        let e = CertificateCredential::load(&expired, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(
            matches!(e, CredentialError::CertificateExpired { .. }),
            "{e}"
        );
        let future = write(
            dir.path(),
            "future.pem",
            &self_signed(&key, 2, 30).to_pem().unwrap(),
        );
        let e = CertificateCredential::load(&future, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(
            matches!(e, CredentialError::CertificateNotYetValid { .. }),
            "{e}"
        );
    }
}

//! The checks a certificate credential passes before anything is sent: an RSA key of 2048 bits
//! or more, a certificate within its validity window at `now` (with a warning when it expires
//! soon), and an unencrypted key file that only its owner may read. Pure but for the warning.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{HasPublic, Id, PKeyRef};
use openssl::x509::X509Ref;
use tracing::warn;

use super::CredentialError;
use crate::{files, time};

/// Entra's minimum RSA modulus size for app credentials (PROTOCOL.md §2).
pub const MIN_RSA_BITS: u32 = 2048;

/// A certificate that expires sooner than this (or than a fifth of its lifetime, if that is
/// shorter) gets a warning: a year-long certificate warns for its last month, a day-long CI
/// certificate only for its last few hours, not on every run.
pub const EXPIRY_WARNING_MAX_SECS: i64 = 30 * 24 * 3600;

/// An unencrypted key file must not be open to group or others (as ssh requires): by its
/// `mode` bits (Unix), or by its ACL (Windows: `exposed` says who else may read it).
pub fn private_mode(
    path: &Path,
    mode: Option<u32>,
    exposed: Option<&str>,
) -> Result<(), CredentialError> {
    match (mode, exposed) {
        (Some(mode), _) if files::open_to_others(mode) => Err(CredentialError::InsecureKeyFile {
            path: path.to_path_buf(),
            mode,
        }),
        (_, Some(who)) => Err(CredentialError::InsecureKeyFileAcl {
            path: path.to_path_buf(),
            who: who.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The key is RSA of at least `MIN_RSA_BITS`.
pub fn rsa<T: HasPublic>(pkey: &PKeyRef<T>, path: &Path) -> Result<(), CredentialError> {
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

/// Unix seconds of an ASN.1 time (any year OpenSSL can hold).
pub fn unix_of(t: &Asn1TimeRef) -> Result<i64, openssl::error::ErrorStack> {
    let d = Asn1Time::from_unix(0)?.diff(t)?;
    Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// The certificate is valid at `now`; warns when it expires soon.
pub fn validity(cert: &X509Ref, path: &Path, now: SystemTime) -> Result<(), CredentialError> {
    let (nb, na) = (
        unix_of(cert.not_before()).map_err(CredentialError::Crypto)?,
        unix_of(cert.not_after()).map_err(CredentialError::Crypto)?,
    );
    let now = time::unix(now);
    // OpenSSL's own rendering ("Nov 29 13:16:46 2026 GMT"), as `openssl x509 -dates` shows.
    let dates = || (cert.not_before().to_string(), cert.not_after().to_string());
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
    let (left, life) = (na - now, na.saturating_sub(nb));
    if left < EXPIRY_WARNING_MAX_SECS.min(life / 5) {
        warn!(
            target: "graphd::credential",
            "the certificate in {} expires in {} (on {}): make and register a new one",
            path.display(),
            time::human_duration(left),
            cert.not_after()
        );
    }
    Ok(())
}

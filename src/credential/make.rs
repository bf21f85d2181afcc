//! Making a new certificate credential (`graphd cert new`): an RSA key, a self-signed
//! certificate suitable for an app registration, an optional PKCS#12, and writing them without
//! ever overwriting a file (the key and the PKCS#12 private, the certificate public).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Name, X509NameBuilder};
use zeroize::Zeroizing;

use crate::diagnostic::Diagnostic;
use crate::files::{self, Access};
use crate::secret::CertPassword;
use crate::time;

/// The certificate is made valid this long before now, so a server whose clock is slightly
/// behind already accepts it.
pub const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Making or writing a new credential failed.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("{} already exists; graphd cert new never overwrites", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("subject '{0}' is not a distinguished name like CN=name or CN=name,O=org")]
    BadSubject(String),
    #[error("cannot make the certificate")]
    Crypto(#[from] openssl::error::ErrorStack),
}

impl MakeError {
    /// What the user asked wrongly (exit code 2, `error` decides), rather than a failure.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Exists { .. } | Self::BadSubject(_))
    }
}

impl Diagnostic for MakeError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Exists { .. } => {
                Some("choose another path, or move the old file away first".into())
            }
            Self::BadSubject(_) => Some("e.g. --subject CN=my-daemon".into()),
            Self::Write { .. } | Self::Crypto(_) => None,
        }
    }
}

/// Refuses before anything is made when one of `paths` exists.
pub fn refuse_existing(paths: &[&Path]) -> Result<(), MakeError> {
    match paths.iter().find(|p| p.exists()) {
        Some(p) => Err(MakeError::Exists {
            path: p.to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// `CN=a,O=b` as an X.509 name.
pub fn parse_subject(subject: &str) -> Result<X509Name, MakeError> {
    let bad = || MakeError::BadSubject(subject.to_string());
    let mut name = X509NameBuilder::new()?;
    let mut any = false;
    for part in subject.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(bad)?;
        if value.is_empty() {
            return Err(bad());
        }
        name.append_entry_by_text(key.trim(), value.trim())
            .map_err(|_| bad())?;
        any = true;
    }
    if !any {
        return Err(bad());
    }
    Ok(name.build())
}

/// A new RSA key of `bits` bits.
pub fn rsa_key(bits: u32) -> Result<PKey<Private>, MakeError> {
    Ok(PKey::from_rsa(Rsa::generate(bits)?)?)
}

/// A self-signed certificate for `key`, valid from `now - BACKDATE` for `lifetime`: client
/// authentication, digital signature, no CA.
pub fn self_signed(
    key: &PKey<Private>,
    name: &X509Name,
    lifetime: Duration,
    now: SystemTime,
) -> Result<X509, MakeError> {
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(name)?;
    b.set_issuer_name(name)?;
    b.set_pubkey(key)?;
    let now = time::unix(now);
    let not_before = Asn1Time::from_unix(now - BACKDATE.as_secs() as i64)?;
    b.set_not_before(&not_before)?;
    let not_after = Asn1Time::from_unix(
        now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
    )?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// The key as PKCS#8 PEM (zeroized on drop).
pub fn key_pem(key: &PKey<Private>) -> Result<Zeroizing<Vec<u8>>, MakeError> {
    Ok(Zeroizing::new(key.private_key_to_pem_pkcs8()?))
}

/// A PKCS#12 of `key` and `cert` under `password`, named `friendly`.
pub fn pkcs12(
    key: &PKey<Private>,
    cert: &X509,
    friendly: &str,
    password: &CertPassword,
) -> Result<Zeroizing<Vec<u8>>, MakeError> {
    let p12 = Pkcs12::builder()
        .name(friendly)
        .pkey(key)
        .cert(cert)
        .build2(password.expose())?;
    Ok(Zeroizing::new(p12.to_der()?))
}

/// Writes a new file (never over an existing one).
pub fn write_new(path: &Path, bytes: &[u8], access: Access) -> Result<(), MakeError> {
    files::write_new(path, bytes, access).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            MakeError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            MakeError::Write {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::info::name_line;

    #[test]
    fn subjects_parse_or_are_refused() {
        assert_eq!(
            name_line(&parse_subject("CN=a, O=Contoso").unwrap()),
            "CN=a,O=Contoso"
        );
        for bad in ["", "CN", "CN=", "XX=a", ","] {
            assert!(parse_subject(bad).is_err(), "{bad}");
        }
    }
}

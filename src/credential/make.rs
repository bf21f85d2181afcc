//! Making a new certificate credential (`graphd cert new`): an RSA key, a self-signed
//! certificate suitable for an app registration, an optional PKCS#12, and writing them without
//! ever overwriting a file (the key and the PKCS#12 private, the certificate public).
//!
//! For a key made inside a PKCS#11 token the certificate is signed by the token: openssl's
//! `X509Builder` signs only with a private key in memory, so `rcgen` builds the
//! TBSCertificate and hands it to the token (through [`rcgen::SigningKey`]) to sign.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use openssl::asn1::{Asn1Object, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Name, X509NameBuilder};
use zeroize::Zeroizing;

use super::pkcs11::{Pkcs11Error, Scheme, TokenKey};
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
    #[error("the validity period does not fit a certificate")]
    BadValidity,
    #[error("cannot make the certificate")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("cannot build the certificate")]
    Build(#[source] rcgen::Error),
    #[error(transparent)]
    Token(Box<Pkcs11Error>),
    #[error("the token's signature on the new certificate does not verify with its public key")]
    BadTokenSignature,
}

impl From<Pkcs11Error> for MakeError {
    fn from(e: Pkcs11Error) -> Self {
        MakeError::Token(Box::new(e))
    }
}

impl MakeError {
    /// What the user asked wrongly (exit code 2, `error` decides), rather than a failure.
    pub fn is_usage(&self) -> bool {
        match self {
            Self::Token(e) => e.is_usage(),
            _ => matches!(self, Self::Exists { .. } | Self::BadSubject(_)),
        }
    }
}

impl Diagnostic for MakeError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::BadValidity => Some("choose a shorter --days or --hours".into()),
            Self::Exists { .. } => {
                Some("choose another path, or move the old file away first".into())
            }
            Self::BadSubject(_) => Some("e.g. --subject CN=my-daemon".into()),
            Self::Token(e) => e.hint(),
            Self::BadTokenSignature => {
                Some("the token or its module is faulty; try another token".into())
            }
            Self::Write { .. } | Self::Crypto(_) | Self::Build(_) => None,
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

/// The attributes of a subject as rcgen writes them, e.g. `CN=a,O=b`; repeated types are
/// refused (rcgen keeps one of each).
fn rcgen_subject(name: &X509Name, subject: &str) -> Result<rcgen::DistinguishedName, MakeError> {
    use rcgen::{DnType, DnValue};
    let bad = || MakeError::BadSubject(subject.to_string());
    let mut dn = rcgen::DistinguishedName::new();
    let mut seen: Vec<DnType> = Vec::new();
    for e in name.entries() {
        let value = e.data().to_string().map_err(|_| bad())?;
        let nid = e.object().nid();
        let ty = match nid {
            n if n == Nid::COMMONNAME => DnType::CommonName,
            n if n == Nid::ORGANIZATIONNAME => DnType::OrganizationName,
            n if n == Nid::ORGANIZATIONALUNITNAME => DnType::OrganizationalUnitName,
            n if n == Nid::COUNTRYNAME => DnType::CountryName,
            n if n == Nid::LOCALITYNAME => DnType::LocalityName,
            n if n == Nid::STATEORPROVINCENAME => DnType::StateOrProvinceName,
            _ => {
                let oid = Asn1Object::from_str(&e.object().to_string()).map_err(|_| bad())?;
                DnType::CustomDnType(oid_arcs(oid.as_slice()).ok_or_else(bad)?)
            }
        };
        if seen.contains(&ty) {
            return Err(bad());
        }
        seen.push(ty.clone());
        let value = if ty == DnType::CountryName {
            DnValue::PrintableString(value.try_into().map_err(|_| bad())?)
        } else {
            DnValue::Utf8String(value)
        };
        dn.push(ty, value);
    }
    Ok(dn)
}

/// The arcs of a DER-encoded OBJECT IDENTIFIER's content.
fn oid_arcs(der: &[u8]) -> Option<Vec<u64>> {
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    for (i, &b) in der.iter().enumerate() {
        v = v.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.extend([first, v - first * 40]);
            } else {
                arcs.push(v);
            }
            v = 0;
        } else if i + 1 == der.len() {
            return None;
        }
    }
    (arcs.len() >= 2).then_some(arcs)
}

/// The token key, as rcgen sees a signer: its public key, and `sign` done on the token.
struct OnToken<'a> {
    key: &'a TokenKey,
    /// PKCS#1 `RSAPublicKey` DER: the subjectPublicKey of an rsaEncryption SPKI.
    public_der: Vec<u8>,
    failed: RefCell<Option<Pkcs11Error>>,
}

impl rcgen::PublicKeyData for OnToken<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public_der
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for OnToken<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key.sign(msg, Scheme::Pkcs1).map_err(|e| {
            *self.failed.borrow_mut() = Some(e);
            rcgen::Error::RemoteKeyError
        })
    }
}

/// A self-signed certificate for a key on a token, signed by the token (sha256WithRSAEncryption),
/// valid from `now - BACKDATE` for `lifetime`: client authentication, digital signature, no CA.
/// The signature is checked against the key's public part before the certificate is returned.
pub fn token_self_signed(
    key: &TokenKey,
    name: &X509Name,
    subject: &str,
    lifetime: Duration,
    now: SystemTime,
) -> Result<X509, MakeError> {
    let public_der = key.public.rsa()?.public_key_to_der_pkcs1()?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen_subject(name, subject)?;
    let mut serial = vec![0u8; 16];
    openssl::rand::rand_bytes(&mut serial)?;
    serial[0] &= 0x7f;
    params.serial_number = Some(serial.into());
    let now = time::unix(now);
    let at = |secs: i64| {
        ::time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| MakeError::BadValidity)
    };
    params.not_before = at(now - BACKDATE.as_secs() as i64)?;
    params.not_after =
        at(now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)))?;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    // RFC 5280 §4.2.1.2 method 1, as openssl's SubjectKeyIdentifier: SHA-1 of the key bits.
    params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(
        openssl::hash::hash(MessageDigest::sha1(), &public_der)?.to_vec(),
    );
    let signer = OnToken {
        key,
        public_der,
        failed: RefCell::new(None),
    };
    let cert =
        params
            .self_signed(&signer)
            .map_err(|e| match signer.failed.borrow_mut().take() {
                Some(token) => MakeError::from(token),
                None => MakeError::Build(e),
            })?;
    let cert = X509::from_der(cert.der())?;
    if !cert.verify(&key.public)? {
        return Err(MakeError::BadTokenSignature);
    }
    Ok(cert)
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
    fn oids_decode() {
        // 1.2.840.113549.1.9.1 (emailAddress), 0.9.2342.19200300.100.1.25 (DC).
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).unwrap(),
            vec![1, 2, 840, 113549, 1, 9, 1]
        );
        assert_eq!(
            oid_arcs(&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19]).unwrap(),
            vec![0, 9, 2342, 19200300, 100, 1, 25]
        );
        assert!(oid_arcs(&[0x86]).is_none());
        assert!(oid_arcs(&[]).is_none());
        let name = parse_subject("CN=a,O=b,emailAddress=x@y,C=FI").unwrap();
        assert!(rcgen_subject(&name, "s").is_ok());
        let twice = parse_subject("OU=a,OU=b").unwrap();
        assert!(rcgen_subject(&twice, "s").is_err());
        let bad_country = parse_subject("C=F_").unwrap_or_else(|_| parse_subject("CN=x").unwrap());
        let _ = rcgen_subject(&bad_country, "s");
    }

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

//! Certificates, generated with OpenSSL at start-up: the test CA and the server certificate both
//! listeners present, and client certificates (RSA for the app's credential; odd ones — small
//! keys, expired windows, ECDSA — for tests that check graphd refuses them). Nothing is read from
//! disk here and nothing is cached: callers decide where PEM files go.

use crate::Error;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder, X509Ref};

/// The TLS material both listeners serve: the CA (PEM, for clients to trust) and the server
/// certificate and key (DER, for rustls).
pub(crate) struct ServerTls {
    pub ca_pem: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// Which key a generated client certificate carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKey {
    /// RSA with this many bits (Entra requires 2048 or more).
    Rsa(u32),
    /// ECDSA P-256 (Entra rejects it; useful to test local refusal).
    EcP256,
}

/// What [`generate_client_cert`] makes: a self-signed certificate for an app credential.
#[derive(Clone, Debug)]
pub struct ClientCertSpec {
    pub key: ClientKey,
    /// Validity start as Unix seconds.
    pub not_before: i64,
    /// Validity end as Unix seconds.
    pub not_after: i64,
    pub common_name: String,
}

impl Default for ClientCertSpec {
    /// RSA-2048, valid from an hour ago for 365 days, CN `graphd-emulator client`.
    fn default() -> Self {
        let now = crate::util::now_unix();
        ClientCertSpec {
            key: ClientKey::Rsa(2048),
            not_before: now - 3600,
            not_after: now + 365 * 86_400,
            common_name: "graphd-emulator client".into(),
        }
    }
}

/// A generated certificate with its unencrypted PKCS#8 key and both thumbprints.
#[derive(Clone)]
pub struct GeneratedCert {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Uppercase hex SHA-1 of the DER, as the Entra portal shows it.
    pub sha1_thumbprint_hex: String,
    /// base64url SHA-1 of the DER (the `x5t` header value).
    pub x5t: String,
    /// base64url SHA-256 of the DER (the `x5t#S256` header value).
    pub x5t_s256: String,
}

impl std::fmt::Debug for GeneratedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCert")
            .field("sha1_thumbprint_hex", &self.sha1_thumbprint_hex)
            .finish_non_exhaustive()
    }
}

fn ossl<T>(what: &'static str, r: Result<T, openssl::error::ErrorStack>) -> Result<T, Error> {
    r.map_err(|e| Error::Crypto(what, e))
}

fn serial() -> Result<Asn1Integer, openssl::error::ErrorStack> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    bn.to_asn1_integer()
}

fn name(cn: &str) -> Result<openssl::x509::X509Name, openssl::error::ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    Ok(b.build())
}

fn p256() -> Result<PKey<Private>, openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

/// Generates the test CA (P-256, CA:TRUE, keyCertSign) and a server certificate it signed with
/// SAN IP:127.0.0.1, IP:::1, DNS:localhost and serverAuth, valid from an hour ago for 30 days.
pub(crate) fn generate_server_tls() -> Result<ServerTls, Error> {
    ossl(
        "generating the test CA and server certificate",
        server_tls_inner(),
    )
}

fn server_tls_inner() -> Result<ServerTls, openssl::error::ErrorStack> {
    let now = crate::util::now_unix();
    let not_before = Asn1Time::from_unix(now - 3600)?;
    let not_after = Asn1Time::from_unix(now + 30 * 86_400)?;

    let ca_key = p256()?;
    let ca_name = name("graphd-emulator test CA")?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let sn = serial()?;
    b.set_serial_number(&sn)?;
    b.set_subject_name(&ca_name)?;
    b.set_issuer_name(&ca_name)?;
    b.set_pubkey(&ca_key)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&ca_key, MessageDigest::sha256())?;
    let ca = b.build();

    let key = p256()?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let sn = serial()?;
    b.set_serial_number(&sn)?;
    let subject = name("localhost")?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(ca.subject_name())?;
    b.set_pubkey(&key)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_agreement()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .ip("::1")
        .dns("localhost")
        .build(&b.x509v3_context(Some(&ca), None))?;
    b.append_extension(san)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&ca), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .build(&b.x509v3_context(Some(&ca), None))?;
    b.append_extension(aki)?;
    b.sign(&ca_key, MessageDigest::sha256())?;
    let cert = b.build();

    Ok(ServerTls {
        ca_pem: ca.to_pem()?,
        cert_der: cert.to_der()?,
        key_der: key.private_key_to_pkcs8()?,
    })
}

/// Generates a self-signed client certificate for an app credential (see [`ClientCertSpec`]).
pub fn generate_client_cert(spec: &ClientCertSpec) -> Result<GeneratedCert, Error> {
    ossl("generating a client certificate", client_cert_inner(spec))
}

fn client_cert_inner(spec: &ClientCertSpec) -> Result<GeneratedCert, openssl::error::ErrorStack> {
    let key = match spec.key {
        ClientKey::Rsa(bits) => PKey::from_rsa(Rsa::generate(bits)?)?,
        ClientKey::EcP256 => p256()?,
    };
    let subject = name(&spec.common_name)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let sn = serial()?;
    b.set_serial_number(&sn)?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(&subject)?;
    b.set_pubkey(&key)?;
    let (nb, na) = (
        Asn1Time::from_unix(spec.not_before)?,
        Asn1Time::from_unix(spec.not_after)?,
    );
    b.set_not_before(&nb)?;
    b.set_not_after(&na)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
    b.sign(&key, MessageDigest::sha256())?;
    let cert = b.build();
    let (sha1, sha256) = thumbprints(&cert)?;
    Ok(GeneratedCert {
        cert_pem: cert.to_pem()?,
        key_pem: key.private_key_to_pem_pkcs8()?,
        sha1_thumbprint_hex: hex_upper(&sha1),
        x5t: crate::util::b64url(&sha1),
        x5t_s256: crate::util::b64url(&sha256),
    })
}

/// SHA-1 and SHA-256 of a certificate's DER.
pub(crate) fn thumbprints(
    cert: &X509Ref,
) -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    Ok((
        cert.digest(MessageDigest::sha1())?.to_vec(),
        cert.digest(MessageDigest::sha256())?.to_vec(),
    ))
}

/// Uppercase hex, as the portal prints thumbprints.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Unix seconds of an ASN.1 time.
pub(crate) fn asn1_to_unix(
    t: &openssl::asn1::Asn1TimeRef,
) -> Result<i64, openssl::error::ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(t)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// Parses every certificate in a PEM input; an input with none is an error.
pub(crate) fn certs_from_pem(pem: &[u8]) -> Result<Vec<X509>, Error> {
    let certs = ossl("parsing a PEM certificate", X509::stack_from_pem(pem))?;
    if certs.is_empty() {
        return Err(Error::NoCertificate);
    }
    Ok(certs)
}

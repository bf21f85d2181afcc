//! Unit tests of `certificate`.
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509;
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

/// Writes a file with mode 0600, as a careful user keeps keys.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

pub(crate) fn spec(cert: &Path, key: Option<&Path>, alg: AssertionAlg) -> CertSpec {
    CertSpec {
        cert: Some(cert.to_path_buf()),
        key: key.map(|k| KeyRef::File(k.to_path_buf())),
        pkcs11_module: None,
        thumbprint: None,
        store: None,
        alg: Some(alg),
        send_x5c: false,
        allow_insecure_key_file: false,
    }
}

pub(crate) fn load_with(
    spec: &CertSpec,
    password: Option<&str>,
) -> Result<CertificateCredential, CredentialError> {
    let mut stdin = std::io::empty();
    let source = match password {
        Some(p) => PasswordSource::Env(CertPassword::new(p.into())),
        None => PasswordSource::Prompt,
    };
    CertificateCredential::load(
        spec,
        &mut Passwords::new(source, &mut stdin, false),
        SystemTime::now(),
    )
}

pub(crate) fn load(
    cert: &Path,
    key: Option<&Path>,
    alg: AssertionAlg,
) -> Result<CertificateCredential, CredentialError> {
    load_with(&spec(cert, key, alg), None)
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
    let cred = load(&c, Some(&k), AssertionAlg::Ps256).unwrap();
    let sha1 = cert.digest(MessageDigest::sha1()).unwrap();
    assert_eq!(cred.x5t(), URL_SAFE_NO_PAD.encode(&*sha1));
    assert_eq!(cred.thumbprint_hex(), thumbprint::hex_upper(&sha1));
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
    let cred2 = load(&b, None, AssertionAlg::Rs256).unwrap();
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
    let e = load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
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
    let e = load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
    assert!(matches!(e, CredentialError::NotRsa { .. }), "{e}");

    let other = rsa(2048);
    let k = write(
        dir.path(),
        "other.pem",
        &other.private_key_to_pem_pkcs8().unwrap(),
    );
    let e = load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
    assert!(matches!(e, CredentialError::KeyMismatch { .. }), "{e}");

    let e = load(&c, None, AssertionAlg::Ps256).unwrap_err();
    assert!(matches!(e, CredentialError::NoKey { .. }), "{e}");

    let enc = key
        .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"pw")
        .unwrap();
    let k = write(dir.path(), "enc.pem", &enc);
    let e = load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
    assert!(matches!(e, CredentialError::NeedPassword { .. }), "{e}");
    let e = load_with(&spec(&c, Some(&k), AssertionAlg::Ps256), Some("wrong")).unwrap_err();
    assert!(matches!(e, CredentialError::WrongPassword { .. }), "{e}");
    assert!(load_with(&spec(&c, Some(&k), AssertionAlg::Ps256), Some("pw")).is_ok());

    let k = write(
        dir.path(),
        "key.pem",
        &key.private_key_to_pem_pkcs8().unwrap(),
    );
    let notcert = write(dir.path(), "notcert.pem", b"hello");
    let e = load(&notcert, Some(&k), AssertionAlg::Ps256).unwrap_err();
    assert!(matches!(e, CredentialError::NotACertificate { .. }), "{e}");

    let expired = write(
        dir.path(),
        "old.pem",
        &self_signed(&key, -30, -1).to_pem().unwrap(),
    );
    let e = load(&expired, Some(&k), AssertionAlg::Ps256).unwrap_err();
    assert!(
        matches!(e, CredentialError::CertificateExpired { .. }),
        "{e}"
    );
    let future = write(
        dir.path(),
        "future.pem",
        &self_signed(&key, 2, 30).to_pem().unwrap(),
    );
    let e = load(&future, Some(&k), AssertionAlg::Ps256).unwrap_err();
    assert!(
        matches!(e, CredentialError::CertificateNotYetValid { .. }),
        "{e}"
    );

    #[cfg(unix)]
    {
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load(&c, Some(&k), AssertionAlg::Ps256).unwrap_err();
        assert!(
            matches!(e, CredentialError::InsecureKeyFile { mode: 0o640, .. }),
            "{e}"
        );
        let mut s = spec(&c, Some(&k), AssertionAlg::Ps256);
        s.allow_insecure_key_file = true;
        assert!(load_with(&s, None).is_ok());
    }
}

#[test]
fn pkcs12_without_and_with_password_and_base64() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa(2048);
    let cert = self_signed(&key, -1, 30);
    let p12 = Pkcs12::builder()
        .pkey(&key)
        .cert(&cert)
        .build2("s3cret")
        .unwrap()
        .to_der()
        .unwrap();
    let p = write(dir.path(), "c.pfx", &p12);
    let e = load(&p, None, AssertionAlg::Ps256).unwrap_err();
    assert!(matches!(e, CredentialError::NeedPassword { .. }), "{e}");
    let e = load_with(&spec(&p, None, AssertionAlg::Ps256), Some("nope")).unwrap_err();
    assert!(matches!(e, CredentialError::WrongPassword { .. }), "{e}");
    let cred = load_with(&spec(&p, None, AssertionAlg::Ps256), Some("s3cret")).unwrap();
    assert_eq!(
        cred.thumbprint_hex(),
        thumbprint::hex_upper(&cert.digest(MessageDigest::sha1()).unwrap())
    );

    let b64 = write(dir.path(), "c.pfx.b64", STANDARD.encode(&p12).as_bytes());
    assert!(load_with(&spec(&b64, None, AssertionAlg::Ps256), Some("s3cret")).is_ok());

    let open = Pkcs12::builder()
        .pkey(&key)
        .cert(&cert)
        .build2("")
        .unwrap()
        .to_der()
        .unwrap();
    let p = write(dir.path(), "open.pfx", &open);
    assert!(
        load(&p, None, AssertionAlg::Ps256).is_ok(),
        "no password needed, none asked"
    );
}

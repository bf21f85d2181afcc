//! The certificate + key loader (PEM in any arrangement, DER, PKCS#12 and its base64, encrypted
//! keys, RSA >= 2048, key matches, validity): never panics, and an error never shows the key.
//! Input: the certificate file, then after a 0x00 byte, the key file (no 0x00: the key is in
//! the certificate's file). Encrypted inputs are opened with the password "fuzz".
#![no_main]

use graphd::credential::{AssertionAlg, CertificateCredential};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0);
    let (cert, key) = match split {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let now = std::time::SystemTime::now();
    match CertificateCredential::from_bytes(cert, key, AssertionAlg::Ps256, Some("fuzz"), now) {
        Ok(c) => {
            assert_eq!(c.thumbprint_hex().len(), 40);
            assert!(!format!("{c:?}").contains("PRIVATE"));
        }
        Err(e) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("PRIVATE KEY-----\n"), "{shown}");
        }
    }
});

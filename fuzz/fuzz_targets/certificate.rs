//! The certificate + key loader (PEM, PKCS#1 / PKCS#8, RSA >= 2048, key matches, validity):
//! never panics, and an error never shows the key. Input: certificate PEM, then after a
//! 0x00 byte, the key PEM (no 0x00: the key is in the certificate's file).
#![no_main]

use std::path::Path;

use graphd::cli::AssertionAlg;
use graphd::credential::certificate::CertificateCredential;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0);
    let (cert, key) = match split {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let key = key.map(|k| (k, Path::new("key.pem")));
    match CertificateCredential::from_pem(cert, Path::new("cert.pem"), key, AssertionAlg::Ps256) {
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

//! Turns the bytes of a certificate or key input into OpenSSL objects, whatever form they came
//! in: PEM (certificate, chain leaf first, with or without the key, in either order), DER,
//! PKCS#12 (DER or base64 of it; modern AES/PBKDF2 and legacy RC2/3DES exports, for which
//! OpenSSL's legacy provider is loaded only when needed). Sniffed by content, not extension.
//!
//! Passwords are asked of [`Passwords`] only when the content turns out to be encrypted. No
//! checks here (that is `checks`), no file reading (that is `input`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::error::ErrorStack;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use tracing::info;
use zeroize::Zeroizing;

use super::CredentialError;
use super::input::{Input, Passwords};

/// What a certificate input held.
pub struct Parsed {
    pub chain: Vec<X509>,
    pub key: Option<ParsedKey>,
}

/// A private key and how it was stored.
pub struct ParsedKey {
    pub key: PKey<Private>,
    /// Whether it was protected by a password (an unprotected key file must be private).
    pub encrypted: bool,
}

static LEGACY_LOADED: AtomicBool = AtomicBool::new(false);

/// Loads OpenSSL's legacy provider (RC2, RC4, DES) next to the default one, once; true if it
/// is now loaded. Only called when a parse failed in a way the legacy provider can fix.
fn load_legacy_provider() -> bool {
    if LEGACY_LOADED.load(Ordering::SeqCst) {
        return false; // already loaded: it cannot help a second time
    }
    // `try_load` with fallback keeps the default provider (a bare `load` would disable it).
    match openssl::provider::Provider::try_load(None, "legacy", true) {
        Ok(provider) => {
            // Dropping the handle would unload it; it stays for the life of the process.
            std::mem::forget(provider);
            LEGACY_LOADED.store(true, Ordering::SeqCst);
            info!(target: "graphd::credential", "loaded OpenSSL's legacy provider for an old PKCS#12 or key encryption");
            true
        }
        Err(_) => false,
    }
}

fn has_reason(e: &ErrorStack, needle: &str) -> bool {
    e.errors().iter().any(|x| {
        x.reason()
            .is_some_and(|r| r.to_ascii_lowercase().contains(needle))
    })
}

/// Whether the bytes hold a PEM block.
pub fn looks_like_pem(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ")
}

/// Whether the bytes hold a PEM private key block (any kind, encrypted or not).
pub fn has_pem_key(bytes: &[u8]) -> bool {
    contains(bytes, b"PRIVATE KEY-----")
}

/// Whether the bytes hold a PEM certificate block.
pub fn has_pem_certificate(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN CERTIFICATE-----")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// DER bytes of a binary input, or of base64 text (CI secret stores hold PFX files that way).
fn der_of(bytes: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if bytes.first() == Some(&0x30) {
        return Some(Zeroizing::new(bytes.to_vec()));
    }
    let text: Zeroizing<Vec<u8>> = Zeroizing::new(
        bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    );
    let der = Zeroizing::new(STANDARD.decode(&*text).ok()?);
    (der.first() == Some(&0x30)).then_some(der)
}

/// The certificates (and key, if any) of a certificate input.
pub fn certificate_input(
    input: &Input,
    passwords: &mut Passwords<'_>,
) -> Result<Parsed, CredentialError> {
    let path = &input.path;
    let bytes = input.bytes.expose();
    if looks_like_pem(bytes) {
        let chain =
            X509::stack_from_pem(bytes).map_err(|source| CredentialError::BadCertificate {
                path: path.clone(),
                source,
            })?;
        let key = if has_pem_key(bytes) {
            Some(pem_key(bytes, path, passwords)?)
        } else {
            None
        };
        return Ok(Parsed { chain, key });
    }
    let der =
        der_of(bytes).ok_or_else(|| CredentialError::NotACertificate { path: path.clone() })?;
    if let Ok(p12) = Pkcs12::from_der(&der) {
        return pkcs12(&p12, &der, path, passwords);
    }
    let cert = X509::from_der(&der)
        .map_err(|_| CredentialError::NotACertificate { path: path.clone() })?;
    Ok(Parsed {
        chain: vec![cert],
        key: None,
    })
}

/// The private key of a PEM key input (`--key`).
pub fn key_input(
    input: &Input,
    passwords: &mut Passwords<'_>,
) -> Result<ParsedKey, CredentialError> {
    if !has_pem_key(input.bytes.expose()) {
        return Err(CredentialError::BadKeyFile {
            path: input.path.clone(),
        });
    }
    pem_key(input.bytes.expose(), &input.path, passwords)
}

fn pem_key(
    bytes: &[u8],
    path: &Path,
    passwords: &mut Passwords<'_>,
) -> Result<ParsedKey, CredentialError> {
    let what = path.display().to_string();
    let attempt = |passwords: &mut Passwords<'_>| {
        let (mut asked, mut nonempty) = (false, false);
        let mut failure = None;
        let parsed = PKey::private_key_from_pem_callback(bytes, |buf| {
            asked = true;
            match passwords.get(&what) {
                Ok(p) if p.expose().len() <= buf.len() => {
                    // Protected only by a password that is not empty.
                    nonempty = !p.expose().is_empty();
                    buf[..p.expose().len()].copy_from_slice(p.expose().as_bytes());
                    Ok(p.expose().len())
                }
                Ok(_) => Ok(0),
                Err(e) => {
                    failure = Some(e);
                    Ok(0)
                }
            }
        });
        (parsed, asked, nonempty, failure)
    };
    let (mut parsed, mut asked, mut nonempty, mut failure) = attempt(passwords);
    if let Err(e) = &parsed
        && failure.is_none()
        && has_reason(e, "unsupported")
        && load_legacy_provider()
    {
        (parsed, asked, nonempty, failure) = attempt(passwords);
    }
    match parsed {
        Ok(key) => Ok(ParsedKey {
            key,
            encrypted: asked && nonempty,
        }),
        Err(_) if failure.is_some() => Err(failure.expect("checked")),
        Err(source) if has_reason(&source, "unsupported") => {
            Err(CredentialError::UnsupportedEncryption {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(_) if asked => Err(CredentialError::WrongPassword {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(CredentialError::BadKey {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A PKCS#12 file's certificates and key. The key counts as protected (so the file may be
/// readable by others, like an encrypted PEM key) only when it sits in an encrypted bag under
/// a non-empty password; a key in a plain `keyBag`, or under the empty password, is not.
fn pkcs12(
    p12: &Pkcs12,
    der: &[u8],
    path: &Path,
    passwords: &mut Passwords<'_>,
) -> Result<Parsed, CredentialError> {
    let what = path.display().to_string();
    // A PFX without a password is tried as such first, so nobody is asked needlessly.
    let try_with = |pass: &str| -> Result<openssl::pkcs12::ParsedPkcs12_2, ErrorStack> {
        p12.parse2(pass).or_else(|e| {
            // "mac verify failure" can be a missing legacy provider as well as a wrong password.
            if (has_reason(&e, "unsupported") || has_reason(&e, "mac verify failure"))
                && load_legacy_provider()
            {
                p12.parse2(pass)
            } else {
                Err(e)
            }
        })
    };
    let (parsed, password_given) = if passwords.explicit() {
        let p = passwords.get(&what)?.expose();
        (try_with(p), !p.is_empty())
    } else {
        match try_with("") {
            Ok(p) => (Ok(p), false),
            Err(e) if has_reason(&e, "mac verify failure") => {
                let p = passwords.get(&what)?.expose();
                (try_with(p), !p.is_empty())
            }
            Err(e) => (Err(e), false),
        }
    };
    let encrypted = password_given && super::pfx::has_plain_key_bag(der) == Some(false);
    let parsed = parsed.map_err(|source| {
        if has_reason(&source, "mac verify failure") {
            CredentialError::WrongPassword {
                path: path.to_path_buf(),
            }
        } else if has_reason(&source, "unsupported") {
            CredentialError::UnsupportedEncryption {
                path: path.to_path_buf(),
                source,
            }
        } else {
            CredentialError::BadPkcs12 {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let mut chain: Vec<X509> = parsed.cert.into_iter().collect();
    chain.extend(parsed.ca.into_iter().flatten());
    Ok(Parsed {
        chain,
        key: parsed.pkey.map(|key| ParsedKey { key, encrypted }),
    })
}

/// Just the certificates of an input (`graphd cert show`, `cert add`): any PEM, DER or
/// PKCS#12; a PEM's key is not even parsed.
pub fn certificates(
    input: &Input,
    passwords: &mut Passwords<'_>,
) -> Result<Vec<X509>, CredentialError> {
    let chain = if looks_like_pem(input.bytes.expose()) {
        X509::stack_from_pem(input.bytes.expose()).map_err(|source| {
            CredentialError::BadCertificate {
                path: input.path.clone(),
                source,
            }
        })?
    } else {
        certificate_input(input, passwords)?.chain
    };
    if chain.is_empty() {
        return Err(CredentialError::NoCertificate {
            path: input.path.clone(),
        });
    }
    Ok(chain)
}

//! Loads a certificate credential, in every form certificates arrive in, and checks it
//! before anything is sent.
//!
//! `--cert` is sniffed by content, not extension: PEM (certificate, chain leaf first, with or
//! without the key, in either order), PKCS#12 (DER, or base64 of it; modern AES/PBKDF2 and
//! legacy RC2/3DES exports, for which OpenSSL's legacy provider is loaded only when needed),
//! from a path, `-` (stdin) or `/dev/fd/N`. Encrypted keys and PKCS#12 passwords are asked
//! for only when needed. Checks: RSA of 2048 bits or more, key matches certificate,
//! certificate within its validity window (and a warning when it expires soon), and an
//! unencrypted key file not readable by group or others. Errors name the file and the
//! problem, never the key material. Signing is `assertion`'s job.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::asn1::Asn1Time;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::X509;
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::CredentialError;
use crate::cli::AssertionAlg;
use crate::secret::{CertPassword, PrivateKeyDer};

/// Entra's minimum RSA modulus size for app credentials (PROTOCOL.md §2).
pub const MIN_RSA_BITS: u32 = 2048;

/// A certificate that expires sooner than this (or than a fifth of its lifetime, if that is
/// shorter) gets a warning: a year-long certificate warns for its last month, a day-long CI
/// certificate only for its last few hours, not on every run.
pub const EXPIRY_WARNING_MAX_SECS: i64 = 30 * 24 * 3600;

/// How a certificate credential was given.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// `--cert` / `AZURE_CLIENT_CERTIFICATE_PATH` (`-` is stdin); `None` with `--thumbprint`.
    pub cert: Option<PathBuf>,
    /// `--key` (`-` is stdin).
    pub key: Option<PathBuf>,
    /// `--thumbprint`: the SHA-1 thumbprint as the portal shows it, already validated.
    pub thumbprint: Option<Vec<u8>>,
    /// `--assertion-alg`, when given.
    pub alg: Option<AssertionAlg>,
    /// `--send-x5c` / `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`.
    pub send_x5c: bool,
    /// `--allow-insecure-key-file`.
    pub allow_insecure_key_file: bool,
}

/// Where a password comes from, asked for only when a file turns out to need one.
pub enum PasswordSource {
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
    Env(CertPassword),
    /// `--cert-password-stdin`: the first line of stdin.
    Stdin,
    /// A no-echo prompt when stdin is a terminal; otherwise none.
    Prompt,
}

/// Hands out the password once asked, reading or prompting at most once.
pub struct Passwords<'a> {
    source: PasswordSource,
    cached: Option<CertPassword>,
    stdin: &'a mut dyn Read,
    stdin_is_terminal: bool,
}

impl<'a> Passwords<'a> {
    pub fn new(source: PasswordSource, stdin: &'a mut dyn Read, stdin_is_terminal: bool) -> Self {
        Passwords {
            source,
            cached: None,
            stdin,
            stdin_is_terminal,
        }
    }

    /// Whether the user gave a password explicitly (then it is used first, not "").
    fn explicit(&self) -> bool {
        !matches!(self.source, PasswordSource::Prompt)
    }

    /// The password for `what` (a file name, for the prompt and errors).
    fn get(&mut self, what: &str) -> Result<&CertPassword, CredentialError> {
        if self.cached.is_none() {
            let password = match &self.source {
                PasswordSource::Env(p) => CertPassword::new(p.expose().to_string()),
                PasswordSource::Stdin => {
                    let mut buf = Zeroizing::new(Vec::new());
                    self.stdin
                        .read_to_end(&mut buf)
                        .map_err(CredentialError::Stdin)?;
                    let text =
                        std::str::from_utf8(&buf).map_err(|_| CredentialError::PasswordNotUtf8)?;
                    CertPassword::new(text.split(['\r', '\n']).next().unwrap_or("").to_string())
                }
                PasswordSource::Prompt if self.stdin_is_terminal => CertPassword::new(
                    rpassword::prompt_password(format!("Password for {what}: "))
                        .map_err(CredentialError::Stdin)?,
                ),
                PasswordSource::Prompt => {
                    return Err(CredentialError::NeedPassword {
                        what: what.to_string(),
                    });
                }
            };
            if password.expose().contains('\0') {
                return Err(CredentialError::PasswordNotUtf8);
            }
            self.cached = Some(password);
        }
        Ok(self.cached.as_ref().expect("just set"))
    }
}

/// An input file's bytes and what is known of where they came from.
struct Input {
    bytes: Zeroizing<Vec<u8>>,
    path: PathBuf,
    /// The permission bits when it is a regular file (stdin and pipes have none that matter).
    mode: Option<u32>,
}

fn read_input(path: &Path, stdin: &mut dyn Read) -> Result<Input, CredentialError> {
    let mut bytes = Zeroizing::new(Vec::new());
    if path == Path::new("-") {
        stdin
            .read_to_end(&mut bytes)
            .map_err(CredentialError::Stdin)?;
        return Ok(Input {
            bytes,
            path: PathBuf::from("standard input"),
            mode: None,
        });
    }
    let err = |source| CredentialError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    file.read_to_end(&mut bytes).map_err(err)?;
    let mode = meta.file_type().is_file().then(|| meta.mode() & 0o777);
    Ok(Input {
        bytes,
        path: path.to_path_buf(),
        mode,
    })
}

/// What a certificate input held.
struct Parsed {
    chain: Vec<X509>,
    key: Option<ParsedKey>,
}

struct ParsedKey {
    key: PKey<Private>,
    /// Whether it was protected by a password (an unprotected key file must be private).
    encrypted: bool,
}

/// A checked certificate (or thumbprint) and its private key, ready to sign assertions.
pub struct CertificateCredential {
    /// DER of the leaf certificate; `None` when only a thumbprint was given.
    pub cert_der: Option<Vec<u8>>,
    /// DER of the chain, leaf first, sent as `x5c` when `send_x5c`.
    pub chain_der: Vec<Vec<u8>>,
    /// The PKCS#1 DER private key jsonwebtoken signs with.
    pub key: PrivateKeyDer,
    pub alg: AssertionAlg,
    pub send_x5c: bool,
    sha1: Vec<u8>,
    sha256: Option<Vec<u8>>,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("thumbprint", &self.thumbprint_hex())
            .field("alg", &self.alg)
            .field("send_x5c", &self.send_x5c)
            .finish_non_exhaustive()
    }
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

fn looks_like_pem(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ")
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

fn parse_input(input: &Input, passwords: &mut Passwords<'_>) -> Result<Parsed, CredentialError> {
    let path = &input.path;
    if looks_like_pem(&input.bytes) {
        let chain = X509::stack_from_pem(&input.bytes).map_err(|source| {
            CredentialError::BadCertificate {
                path: path.clone(),
                source,
            }
        })?;
        let key = if contains(&input.bytes, b"PRIVATE KEY-----") {
            Some(parse_pem_key(&input.bytes, path, passwords)?)
        } else {
            None
        };
        return Ok(Parsed { chain, key });
    }
    let der = der_of(&input.bytes)
        .ok_or_else(|| CredentialError::NotACertificate { path: path.clone() })?;
    if let Ok(p12) = Pkcs12::from_der(&der) {
        return parse_pkcs12(&p12, path, passwords);
    }
    let cert = X509::from_der(&der)
        .map_err(|_| CredentialError::NotACertificate { path: path.clone() })?;
    Ok(Parsed {
        chain: vec![cert],
        key: None,
    })
}

fn parse_pem_key(
    bytes: &[u8],
    path: &Path,
    passwords: &mut Passwords<'_>,
) -> Result<ParsedKey, CredentialError> {
    let what = path.display().to_string();
    let attempt = |passwords: &mut Passwords<'_>| {
        let mut asked = false;
        let mut failure = None;
        let parsed = PKey::private_key_from_pem_callback(bytes, |buf| {
            asked = true;
            match passwords.get(&what) {
                Ok(p) if p.expose().len() <= buf.len() => {
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
        (parsed, asked, failure)
    };
    let (mut parsed, mut asked, mut failure) = attempt(passwords);
    if let Err(e) = &parsed
        && failure.is_none()
        && has_reason(e, "unsupported")
        && load_legacy_provider()
    {
        (parsed, asked, failure) = attempt(passwords);
    }
    match parsed {
        Ok(key) => Ok(ParsedKey {
            key,
            encrypted: asked,
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

fn parse_pkcs12(
    p12: &Pkcs12,
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
    let (parsed, encrypted) = if passwords.explicit() {
        (try_with(passwords.get(&what)?.expose()), true)
    } else {
        match try_with("") {
            Ok(p) => (Ok(p), false),
            Err(e) if has_reason(&e, "mac verify failure") => {
                (try_with(passwords.get(&what)?.expose()), true)
            }
            Err(e) => (Err(e), false),
        }
    };
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

/// Parses a thumbprint as the portal shows it (hex, any case, colons or spaces allowed).
pub fn parse_thumbprint(text: &str) -> Option<Vec<u8>> {
    let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Reads just the certificates of `path` (for `graphd cert show`): any PEM, DER or PKCS#12.
pub fn read_certificates(
    path: &Path,
    passwords: &mut Passwords<'_>,
    stdin: &mut dyn Read,
) -> Result<Vec<X509>, CredentialError> {
    let input = read_input(path, stdin)?;
    if looks_like_pem(&input.bytes) {
        let chain = X509::stack_from_pem(&input.bytes).map_err(|source| {
            CredentialError::BadCertificate {
                path: input.path.clone(),
                source,
            }
        })?;
        if chain.is_empty() {
            return Err(CredentialError::NoCertificate { path: input.path });
        }
        return Ok(chain);
    }
    let parsed = parse_input(&input, passwords)?;
    if parsed.chain.is_empty() {
        return Err(CredentialError::NoCertificate { path: input.path });
    }
    Ok(parsed.chain)
}

impl CertificateCredential {
    /// Loads and checks a certificate credential. `stdin` serves `-` paths and the password.
    pub fn load(spec: &CertSpec, passwords: &mut Passwords<'_>) -> Result<Self, CredentialError> {
        if let Some(thumbprint) = &spec.thumbprint {
            // With the certificate at hand (given, or in the key file as the quickstart's
            // private_key_file sometimes is), load it and check it is the one named.
            let key_holds_cert = spec.cert.is_none()
                && spec.key.as_deref().is_some_and(|k| {
                    k != Path::new("-")
                        && std::fs::read(k)
                            .is_ok_and(|b| contains(&b, b"-----BEGIN CERTIFICATE-----"))
                });
            if spec.cert.is_none() && !key_holds_cert {
                return Self::load_thumbprint_only(spec, thumbprint.clone(), passwords);
            }
            let with_cert = CertSpec {
                cert: spec.cert.clone().or_else(|| spec.key.clone()),
                key: spec.key.clone(),
                thumbprint: None,
                ..spec.clone()
            };
            let loaded = Self::load(&with_cert, passwords)?;
            if loaded.sha1 != *thumbprint {
                return Err(CredentialError::ThumbprintMismatch {
                    path: with_cert.cert.unwrap_or_default(),
                    expected: hex_upper(thumbprint),
                    actual: loaded.thumbprint_hex(),
                });
            }
            return Ok(loaded);
        }
        let cert_path = spec
            .cert
            .as_deref()
            .expect("config gives --cert or --thumbprint");
        let cert_input = {
            let stdin: &mut dyn Read = &mut *passwords.stdin;
            read_input(cert_path, stdin)?
        };
        let key_input = match &spec.key {
            Some(key_path) => {
                let stdin: &mut dyn Read = &mut *passwords.stdin;
                Some(read_input(key_path, stdin)?)
            }
            None => None,
        };
        Self::from_inputs(cert_input, key_input, spec, passwords)
    }

    /// Checks a certificate and key already in memory (`key`: `None` when it is in `cert`),
    /// with `password` for an encrypted key or PKCS#12. No file is read and no permission is
    /// checked: this is the loader the fuzz target drives.
    pub fn from_bytes(
        cert: &[u8],
        key: Option<&[u8]>,
        alg: AssertionAlg,
        password: Option<&str>,
    ) -> Result<Self, CredentialError> {
        let input = |bytes: &[u8], name: &str| Input {
            bytes: Zeroizing::new(bytes.to_vec()),
            path: PathBuf::from(name),
            mode: None,
        };
        let spec = CertSpec {
            cert: Some(PathBuf::from("cert")),
            key: key.map(|_| PathBuf::from("key")),
            thumbprint: None,
            alg: Some(alg),
            send_x5c: false,
            allow_insecure_key_file: true,
        };
        let source = match password {
            Some(p) => PasswordSource::Env(CertPassword::new(p.to_string())),
            None => PasswordSource::Prompt,
        };
        let mut no_stdin = std::io::empty();
        let mut passwords = Passwords::new(source, &mut no_stdin, false);
        Self::from_inputs(
            input(cert, "cert"),
            key.map(|k| input(k, "key")),
            &spec,
            &mut passwords,
        )
    }

    fn from_inputs(
        cert_input: Input,
        key_input: Option<Input>,
        spec: &CertSpec,
        passwords: &mut Passwords<'_>,
    ) -> Result<Self, CredentialError> {
        let parsed = parse_input(&cert_input, passwords)?;
        let mut chain = parsed.chain.into_iter();
        let leaf = chain.next().ok_or_else(|| CredentialError::NoCertificate {
            path: cert_input.path.clone(),
        })?;

        let (key, key_input_path, key_mode) = match key_input {
            Some(key_input) => {
                if !contains(&key_input.bytes, b"PRIVATE KEY-----") {
                    return Err(CredentialError::BadKeyFile {
                        path: key_input.path,
                    });
                }
                let key = parse_pem_key(&key_input.bytes, &key_input.path, passwords)?;
                (key, key_input.path, key_input.mode)
            }
            None => match parsed.key {
                Some(key) => (key, cert_input.path.clone(), cert_input.mode),
                None => {
                    return Err(CredentialError::NoKey {
                        path: cert_input.path,
                    });
                }
            },
        };
        check_rsa(&key.key, &key_input_path)?;
        if !key.encrypted && !spec.allow_insecure_key_file {
            check_private_mode(&key_input_path, key_mode)?;
        }
        let public = leaf.public_key().map_err(CredentialError::Crypto)?;
        if !public.public_eq(&key.key) {
            return Err(CredentialError::KeyMismatch {
                cert: cert_input.path,
                key: key_input_path,
            });
        }
        check_validity(&leaf, &cert_input.path)?;

        let der = key
            .key
            .rsa()
            .and_then(|rsa| rsa.private_key_to_der())
            .map_err(CredentialError::Crypto)?;
        let cert_der = leaf.to_der().map_err(CredentialError::Crypto)?;
        let mut chain_der = vec![cert_der.clone()];
        for c in chain {
            chain_der.push(c.to_der().map_err(CredentialError::Crypto)?);
        }
        let sha1 = leaf
            .digest(MessageDigest::sha1())
            .map_err(CredentialError::Crypto)?
            .to_vec();
        let sha256 = leaf
            .digest(MessageDigest::sha256())
            .map_err(CredentialError::Crypto)?
            .to_vec();
        Ok(CertificateCredential {
            cert_der: Some(cert_der),
            chain_der,
            key: PrivateKeyDer::new(der),
            alg: spec.alg.unwrap_or(AssertionAlg::Ps256),
            send_x5c: spec.send_x5c,
            sha1,
            sha256: Some(sha256),
        })
    }

    /// The quickstart's form: a thumbprint and a key, no certificate. Only `RS256` + `x5t` can
    /// be sent, since `x5t#S256` is a hash of the certificate itself.
    fn load_thumbprint_only(
        spec: &CertSpec,
        sha1: Vec<u8>,
        passwords: &mut Passwords<'_>,
    ) -> Result<Self, CredentialError> {
        let key_path = spec
            .key
            .as_deref()
            .expect("config requires --key with --thumbprint");
        let key_input = {
            let stdin: &mut dyn Read = &mut *passwords.stdin;
            read_input(key_path, stdin)?
        };
        if !contains(&key_input.bytes, b"PRIVATE KEY-----") {
            return Err(CredentialError::BadKeyFile {
                path: key_input.path,
            });
        }
        let key = parse_pem_key(&key_input.bytes, &key_input.path, passwords)?;
        check_rsa(&key.key, &key_input.path)?;
        if !key.encrypted && !spec.allow_insecure_key_file {
            check_private_mode(&key_input.path, key_input.mode)?;
        }
        info!(
            target: "graphd::credential",
            "--thumbprint without a certificate: sending RS256 with x5t (x5t#S256 is a hash of the certificate, which graphd does not have)"
        );
        let der = key
            .key
            .rsa()
            .and_then(|rsa| rsa.private_key_to_der())
            .map_err(CredentialError::Crypto)?;
        Ok(CertificateCredential {
            cert_der: None,
            chain_der: Vec::new(),
            key: PrivateKeyDer::new(der),
            alg: AssertionAlg::Rs256,
            send_x5c: false,
            sha1,
            sha256: None,
        })
    }

    /// The SHA-1 thumbprint as the portal shows it: uppercase hex.
    pub fn thumbprint_hex(&self) -> String {
        hex_upper(&self.sha1)
    }

    /// `x5t`: base64url (no padding) of the SHA-1 of the certificate's DER.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha1)
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate's DER, when known.
    pub fn x5t_s256(&self) -> Option<String> {
        self.sha256.as_ref().map(|d| URL_SAFE_NO_PAD.encode(d))
    }

    /// `x5c`: the chain, leaf first, standard base64 of DER, one line each.
    pub fn x5c(&self) -> Vec<String> {
        self.chain_der.iter().map(|d| STANDARD.encode(d)).collect()
    }
}

/// Uppercase hex, as the portal shows thumbprints.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn check_private_mode(path: &Path, mode: Option<u32>) -> Result<(), CredentialError> {
    match mode {
        Some(mode) if mode & 0o077 != 0 => Err(CredentialError::InsecureKeyFile {
            path: path.to_path_buf(),
            mode,
        }),
        _ => Ok(()),
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
    let secs = |d: openssl::asn1::TimeDiff| i64::from(d.days) * 86_400 + i64::from(d.secs);
    if let (Ok(left), Ok(life)) = (now.diff(na), nb.diff(na)) {
        let (left, life) = (secs(left), secs(life));
        if left < EXPIRY_WARNING_MAX_SECS.min(life / 5) {
            warn!(
                target: "graphd::credential",
                "the certificate in {} expires in {} (on {na}): make and register a new one",
                path.display(),
                human_duration(left)
            );
        }
    }
    Ok(())
}

/// "3 days", "5 hours", "12 minutes", rounded to the nearest unit.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let unit = if secs >= 2 * 86_400 {
        (86_400, "day")
    } else if secs >= 2 * 3600 {
        (3600, "hour")
    } else {
        (60, "minute")
    };
    let n = (secs + unit.0 / 2) / unit.0;
    format!("{n} {}{}", unit.1, if n == 1 { "" } else { "s" })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

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

    /// Writes a file with mode 0600, as a careful user keeps keys.
    pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    pub(crate) fn spec(cert: &Path, key: Option<&Path>, alg: AssertionAlg) -> CertSpec {
        CertSpec {
            cert: Some(cert.to_path_buf()),
            key: key.map(Path::to_path_buf),
            thumbprint: None,
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
        CertificateCredential::load(spec, &mut Passwords::new(source, &mut stdin, false))
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
        assert_eq!(cred.thumbprint_hex(), hex_upper(&sha1));
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
            hex_upper(&cert.digest(MessageDigest::sha1()).unwrap())
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
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(3 * 86_400 + 5), "3 days");
        assert_eq!(human_duration(10 * 86_400 - 3), "10 days");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(60), "1 minute");
    }
}

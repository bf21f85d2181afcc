//! A certificate credential: the certificate (or only its thumbprint), its chain and its
//! private key's signer, loaded from the forms certificates arrive in and checked before
//! anything is sent.
//!
//! `--cert` may be PEM (with or without the key), DER or PKCS#12, from a path, `-` (stdin) or
//! `/dev/fd/N`; `--key` a PEM key. Reading is `input`'s, decoding `decode`'s, the checks
//! `checks`' (RSA of 2048 bits or more, key matches certificate, validity at `now`, a private
//! key file). Signing is `assertion`'s and `proof`'s, through the `Signer`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use graphd_win::certstore::StoreName;
use tracing::info;

use super::assertion::AssertionAlg;
use super::decode::{self, ParsedKey};
use super::input::{self, Input, PasswordSource, Passwords};
use super::pkcs11::{self, Pkcs11Error, Pkcs11Uri, Scheme, TokenKey, UriError};
use super::signer::Signer;
use super::thumbprint::{self, Thumbprints};
use super::{CredentialError, checks};
use crate::secret::{CertPassword, PrivateKeyDer, SecretBytes};

/// Where a certificate's private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A PEM file (`-` is standard input).
    File(PathBuf),
    /// A key on a PKCS#11 token, named by an RFC 7512 URI (`--key 'pkcs11:...'`).
    Token(Box<Pkcs11Uri>),
}

impl KeyRef {
    /// `pkcs11:...` names a token key, anything else a file.
    pub fn parse(given: &Path) -> Result<KeyRef, UriError> {
        match given.to_str() {
            Some(s) if Pkcs11Uri::is_uri(s) => {
                Pkcs11Uri::parse_key(s).map(|u| KeyRef::Token(Box::new(u)))
            }
            _ => Ok(KeyRef::File(given.to_path_buf())),
        }
    }

    /// The key file, if the key is in one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            KeyRef::File(p) => Some(p),
            KeyRef::Token(_) => None,
        }
    }

    /// The token key's URI, if the key is on a token.
    pub fn token(&self) -> Option<&Pkcs11Uri> {
        match self {
            KeyRef::Token(u) => Some(u),
            KeyRef::File(_) => None,
        }
    }

    /// A path, or the URI (which never holds a PIN).
    pub fn describe(&self) -> String {
        match self {
            KeyRef::File(p) => p.display().to_string(),
            KeyRef::Token(u) => u.to_string(),
        }
    }
}

/// How a certificate credential was given.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// `--cert` / `AZURE_CLIENT_CERTIFICATE_PATH` (`-` is stdin); `None` with `--thumbprint`,
    /// or with a token key whose certificate is on the token.
    pub cert: Option<PathBuf>,
    /// `--key` (`-` is stdin), or a `pkcs11:` URI.
    pub key: Option<KeyRef>,
    /// `--pkcs11-module` / `GRAPHD_PKCS11_MODULE`, for a token key.
    pub pkcs11_module: Option<PathBuf>,
    /// `--thumbprint`: the SHA-1 thumbprint as the portal shows it, already validated.
    pub thumbprint: Option<Vec<u8>>,
    /// `--cert-store` (Windows): the store holding the certificate `thumbprint` names and its
    /// key; then `cert` and `key` are `None`.
    pub store: Option<StoreName>,
    /// `--assertion-alg`, when given.
    pub alg: Option<AssertionAlg>,
    /// `--send-x5c` / `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`.
    pub send_x5c: bool,
    /// `--allow-insecure-key-file`.
    pub allow_insecure_key_file: bool,
}

/// A checked certificate (or thumbprint) and its private key, ready to sign assertions.
pub struct CertificateCredential {
    /// DER of the leaf certificate; `None` when only a thumbprint was given.
    pub cert_der: Option<Vec<u8>>,
    /// DER of the chain, leaf first, sent as `x5c` when `send_x5c`.
    pub chain_der: Vec<Vec<u8>>,
    /// What signs with the private key.
    pub signer: Signer,
    pub alg: AssertionAlg,
    pub send_x5c: bool,
    pub thumbprints: Thumbprints,
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

impl CertificateCredential {
    /// Loads and checks a certificate credential at `now`. `passwords` also serves `-` paths.
    pub fn load(
        spec: &CertSpec,
        passwords: &mut Passwords<'_>,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        let read = |path: &Path, passwords: &mut Passwords<'_>| {
            let stdin: &mut dyn Read = &mut *passwords.stdin;
            input::read_input(path, stdin)
        };
        if let (Some(store), Some(thumbprint)) = (&spec.store, &spec.thumbprint) {
            return Self::from_store(store, thumbprint, spec, now);
        }
        if let Some(KeyRef::Token(uri)) = &spec.key {
            return Self::load_token(spec, uri, passwords, now);
        }
        let key_file = spec.key.as_ref().and_then(KeyRef::file);
        if let Some(thumbprint) = &spec.thumbprint {
            let key_path = key_file.expect("config requires --key with --thumbprint");
            let (loaded, cert_path) = match &spec.cert {
                Some(cert) => {
                    let cert_input = read(cert, passwords)?;
                    let key_input = read(key_path, passwords)?;
                    let path = cert_input.path.clone();
                    (
                        Self::from_inputs(cert_input, Some(key_input), spec, passwords, now)?,
                        path,
                    )
                }
                None => {
                    // Read once (a pipe can be read only once): a key file that also holds the
                    // certificate (as the quickstart's private_key_file sometimes does) is
                    // loaded whole, and checked against the thumbprint.
                    let key_input = read(key_path, passwords)?;
                    if !decode::has_pem_certificate(key_input.bytes.expose()) {
                        return Self::thumbprint_only(
                            key_input,
                            spec,
                            thumbprint.clone(),
                            passwords,
                        );
                    }
                    let path = key_input.path.clone();
                    (
                        Self::from_inputs(key_input, None, spec, passwords, now)?,
                        path,
                    )
                }
            };
            if loaded.thumbprints.sha1 != *thumbprint {
                return Err(CredentialError::ThumbprintMismatch {
                    path: cert_path,
                    expected: thumbprint::hex_upper(thumbprint),
                    actual: loaded.thumbprint_hex(),
                });
            }
            return Ok(loaded);
        }
        let cert_path = spec
            .cert
            .as_deref()
            .expect("config gives --cert or --thumbprint");
        let cert_input = read(cert_path, passwords)?;
        let key_input = match key_file {
            Some(key_path) => Some(read(key_path, passwords)?),
            None => None,
        };
        Self::from_inputs(cert_input, key_input, spec, passwords, now)
    }

    /// A key on a token, with its certificate from `--cert` or from the token. Every check a
    /// file key passes is made here too, before anything is sent: RSA of 2048 bits or more (read
    /// from the token), the certificate's public key is the key's, the certificate is valid at
    /// `now`, and the token offers the mechanism the assertion needs.
    fn load_token(
        spec: &CertSpec,
        uri: &Pkcs11Uri,
        passwords: &mut Passwords<'_>,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        // A certificate file is read first: a bad file fails before the token asks for a PIN.
        let from_file = match &spec.cert {
            Some(path) => {
                let input = input::read_input(path, &mut *passwords.stdin)?;
                let parsed = decode::certificate_input(&input, passwords)?;
                if parsed.chain.is_empty() {
                    return Err(CredentialError::NoCertificate { path: input.path });
                }
                Some((parsed.chain, input.path))
            }
            None => None,
        };
        let access = pkcs11::Access {
            module: spec.pkcs11_module.as_deref(),
            allow_insecure_pin_file: spec.allow_insecure_key_file,
        };
        let key = pkcs11::open_key(uri, access, passwords)?;
        let (chain, cert_name) = match from_file {
            Some(found) => found,
            None => match key.certificate()? {
                Some(cert) => (vec![cert], PathBuf::from(&key.uri)),
                None => match &spec.thumbprint {
                    Some(sha1) => return Self::token_thumbprint_only(key, sha1.clone()),
                    None => {
                        return Err(Pkcs11Error::NoCertificate {
                            token: key.token().clone(),
                            object: key.object.clone(),
                        }
                        .into());
                    }
                },
            },
        };
        let leaf = &chain[0];
        let public = leaf.public_key().map_err(CredentialError::Crypto)?;
        if !public.public_eq(&key.public) {
            return Err(CredentialError::TokenKeyMismatch {
                cert: cert_name.display().to_string(),
                key: key.describe(),
            });
        }
        checks::validity(leaf, &cert_name, now)?;
        let thumbprints = Thumbprints::of(leaf).map_err(CredentialError::Crypto)?;
        if let Some(expected) = &spec.thumbprint
            && thumbprints.sha1 != *expected
        {
            return Err(CredentialError::ThumbprintMismatch {
                path: cert_name,
                expected: thumbprint::hex_upper(expected),
                actual: thumbprints.hex(),
            });
        }
        let alg = match (spec.alg, &spec.thumbprint) {
            (Some(alg), _) => alg,
            // The quickstart's thumbprint form means RS256 + x5t, as with a key file.
            (None, Some(_)) => AssertionAlg::Rs256,
            (None, None) => AssertionAlg::Ps256,
        };
        key.require(scheme(alg))?;
        let mut chain_der = Vec::new();
        for c in &chain {
            chain_der.push(c.to_der().map_err(CredentialError::Crypto)?);
        }
        Ok(CertificateCredential {
            cert_der: Some(chain_der[0].clone()),
            chain_der,
            signer: Signer::Pkcs11(key),
            alg,
            send_x5c: spec.send_x5c,
            thumbprints,
        })
    }

    /// A token key, its certificate known only by its SHA-1 thumbprint: RS256 + `x5t`.
    fn token_thumbprint_only(key: TokenKey, sha1: Vec<u8>) -> Result<Self, CredentialError> {
        key.require(Scheme::Pkcs1)?;
        info!(
            target: "graphd::credential",
            "no certificate on the token: sending RS256 with x5t of the thumbprint given"
        );
        Ok(CertificateCredential {
            cert_der: None,
            chain_der: Vec::new(),
            signer: Signer::Pkcs11(key),
            alg: AssertionAlg::Rs256,
            send_x5c: false,
            thumbprints: Thumbprints::sha1_only(sha1),
        })
    }

    /// Checks a certificate and key already in memory (`key`: `None` when it is in `cert`),
    /// with `password` for an encrypted key or PKCS#12. No file is read and no permission is
    /// checked: this is the loader the fuzz target drives.
    pub fn from_bytes(
        cert: &[u8],
        key: Option<&[u8]>,
        alg: AssertionAlg,
        password: Option<&str>,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        let input = |bytes: &[u8], name: &str| Input {
            bytes: SecretBytes::new(bytes.to_vec()),
            path: PathBuf::from(name),
            mode: None,
            exposed: None,
        };
        let spec = CertSpec {
            cert: Some(PathBuf::from("cert")),
            key: key.map(|_| KeyRef::File(PathBuf::from("key"))),
            pkcs11_module: None,
            thumbprint: None,
            store: None,
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
            now,
        )
    }

    fn from_inputs(
        cert_input: Input,
        key_input: Option<Input>,
        spec: &CertSpec,
        passwords: &mut Passwords<'_>,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        let parsed = decode::certificate_input(&cert_input, passwords)?;
        let mut chain = parsed.chain.into_iter();
        let leaf = chain.next().ok_or_else(|| CredentialError::NoCertificate {
            path: cert_input.path.clone(),
        })?;

        let (key, key_path, key_mode, key_exposed) = match key_input {
            Some(key_input) => (
                decode::key_input(&key_input, passwords)?,
                key_input.path,
                key_input.mode,
                key_input.exposed,
            ),
            None => match parsed.key {
                Some(key) => (
                    key,
                    cert_input.path.clone(),
                    cert_input.mode,
                    cert_input.exposed.clone(),
                ),
                None => {
                    return Err(CredentialError::NoKey {
                        path: cert_input.path,
                    });
                }
            },
        };
        check_key(&key, &key_path, key_mode, key_exposed.as_deref(), spec)?;
        let public = leaf.public_key().map_err(CredentialError::Crypto)?;
        if !public.public_eq(&key.key) {
            return Err(CredentialError::KeyMismatch {
                cert: cert_input.path,
                key: key_path,
            });
        }
        checks::validity(&leaf, &cert_input.path, now)?;

        let cert_der = leaf.to_der().map_err(CredentialError::Crypto)?;
        let mut chain_der = vec![cert_der.clone()];
        for c in chain {
            chain_der.push(c.to_der().map_err(CredentialError::Crypto)?);
        }
        Ok(CertificateCredential {
            cert_der: Some(cert_der),
            chain_der,
            signer: file_signer(&key)?,
            alg: spec.alg.unwrap_or(AssertionAlg::Ps256),
            send_x5c: spec.send_x5c,
            thumbprints: Thumbprints::of(&leaf).map_err(CredentialError::Crypto)?,
        })
    }

    /// The quickstart's form: a thumbprint and a key, no certificate. Only `RS256` + `x5t` can
    /// be sent, since `x5t#S256` is a hash of the certificate itself.
    fn thumbprint_only(
        key_input: Input,
        spec: &CertSpec,
        sha1: Vec<u8>,
        passwords: &mut Passwords<'_>,
    ) -> Result<Self, CredentialError> {
        let key = decode::key_input(&key_input, passwords)?;
        check_key(
            &key,
            &key_input.path,
            key_input.mode,
            key_input.exposed.as_deref(),
            spec,
        )?;
        info!(
            target: "graphd::credential",
            "--thumbprint without a certificate: sending RS256 with x5t (x5t#S256 is a hash of the certificate, which graphd does not have)"
        );
        Ok(CertificateCredential {
            cert_der: None,
            chain_der: Vec::new(),
            signer: file_signer(&key)?,
            alg: AssertionAlg::Rs256,
            send_x5c: false,
            thumbprints: Thumbprints::sha1_only(sha1),
        })
    }

    /// A certificate in a Windows certificate store and its key, which signs in the store
    /// (CNG). The same checks as a file's certificate: RSA of 2048 bits or more, valid at `now`.
    #[cfg(windows)]
    fn from_store(
        store: &StoreName,
        sha1: &[u8],
        spec: &CertSpec,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        let hex = thumbprint::hex_upper(sha1);
        let key = graphd_win::certstore::StoreKey::find(store, sha1).map_err(|source| {
            CredentialError::CertStore {
                store: store.to_string(),
                thumbprint: hex.clone(),
                source,
            }
        })?;
        // Named as PowerShell names it, for messages: Cert:\CurrentUser\My\THUMBPRINT.
        let path = PathBuf::from(format!("Cert:\\{store}\\{hex}"));
        let leaf = openssl::x509::X509::from_der(key.cert_der()).map_err(|source| {
            CredentialError::BadCertificate {
                path: path.clone(),
                source,
            }
        })?;
        let public = leaf.public_key().map_err(CredentialError::Crypto)?;
        checks::rsa(&public, &path)?;
        checks::validity(&leaf, &path, now)?;
        let thumbprints = Thumbprints::of(&leaf).map_err(CredentialError::Crypto)?;
        info!(
            target: "graphd::credential",
            "certificate {hex} from the Windows store {store}; its key signs through CNG"
        );
        let cert_der = key.cert_der().to_vec();
        Ok(CertificateCredential {
            chain_der: vec![cert_der.clone()],
            cert_der: Some(cert_der),
            signer: Signer::Store(Box::new(super::winstore::StoreSigner::new(
                key, public, hex,
            ))),
            alg: spec.alg.unwrap_or(AssertionAlg::Ps256),
            send_x5c: spec.send_x5c,
            thumbprints,
        })
    }

    /// Off Windows there is no certificate store (config refuses `--cert-store` before this).
    #[cfg(not(windows))]
    fn from_store(
        _store: &StoreName,
        _sha1: &[u8],
        _spec: &CertSpec,
        _now: SystemTime,
    ) -> Result<Self, CredentialError> {
        Err(CredentialError::CertStoreUnavailable)
    }

    /// The SHA-1 thumbprint as the portal shows it: uppercase hex.
    pub fn thumbprint_hex(&self) -> String {
        self.thumbprints.hex()
    }

    /// `x5t`: base64url (no padding) of the SHA-1 of the certificate's DER.
    pub fn x5t(&self) -> String {
        self.thumbprints.x5t()
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate's DER, when known.
    pub fn x5t_s256(&self) -> Option<String> {
        self.thumbprints.x5t_s256()
    }

    /// `x5c`: the chain, leaf first, standard base64 of DER, one line each.
    pub fn x5c(&self) -> Vec<String> {
        self.chain_der.iter().map(|d| STANDARD.encode(d)).collect()
    }
}

/// The token signature scheme of an assertion algorithm.
pub fn scheme(alg: AssertionAlg) -> Scheme {
    match alg {
        AssertionAlg::Ps256 => Scheme::Pss,
        AssertionAlg::Rs256 => Scheme::Pkcs1,
    }
}

/// RSA of 2048 bits or more; an unencrypted key file readable only by its owner.
fn check_key(
    key: &ParsedKey,
    path: &Path,
    mode: Option<u32>,
    exposed: Option<&str>,
    spec: &CertSpec,
) -> Result<(), CredentialError> {
    checks::rsa(&key.key, path)?;
    if !key.encrypted && !spec.allow_insecure_key_file {
        checks::private_mode(path, mode, exposed)?;
    }
    Ok(())
}

/// The PKCS#1 DER form jsonwebtoken signs with.
fn file_signer(key: &ParsedKey) -> Result<Signer, CredentialError> {
    let der = key
        .key
        .rsa()
        .and_then(|rsa| rsa.private_key_to_der())
        .map_err(CredentialError::Crypto)?;
    Ok(Signer::File(PrivateKeyDer::new(der)))
}

#[cfg(test)]
pub(crate) mod tests;

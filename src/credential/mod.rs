//! How the app proves who it is: a client secret or a certificate, resolved into one
//! `Credential` that yields the token request's client-authentication form fields.
//!
//! This module reads the secret material (files, stdin) named by `config::CredentialSource`
//! and checks it locally. It never sends HTTP and never caches; `token` does both.

pub mod assertion;
pub mod certificate;
pub mod federated;
pub mod keyring;
pub mod proof;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use certificate::{CertSpec, CertificateCredential, PasswordSource, Passwords};

use crate::config::{CredentialSource, ENV_CERT_PATH, ENV_CLIENT_SECRET};
use crate::credential::keyring::KeyringError;
use crate::secret::{Assertion, CertPassword, ClientSecret};

/// The one credential a run uses.
#[derive(Debug)]
pub enum Credential {
    Secret(ClientSecret),
    Certificate(Box<CertificateCredential>),
    /// A CI provider's token file, read again for every token request.
    Federated(federated::FederatedToken),
}

/// The client-authentication part of a token request.
pub enum ClientAuth<'a> {
    /// `client_secret=...`
    Secret(&'a ClientSecret),
    /// `client_assertion_type=...jwt-bearer&client_assertion=...`
    Assertion(Assertion),
}

/// The `client_assertion_type` value for a JWT client assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl Credential {
    /// Reads and checks the credential; `stdin` is where `--secret-stdin` reads from.
    pub fn load(
        source: &CredentialSource,
        stdin: &mut dyn Read,
    ) -> Result<Credential, CredentialError> {
        match source {
            CredentialSource::SecretEnv(secret) => Ok(Credential::Secret(ClientSecret::new(
                secret.expose().to_string(),
            ))),
            CredentialSource::SecretStdin => {
                let mut buf = Zeroizing::new(Vec::new());
                stdin
                    .read_to_end(&mut buf)
                    .map_err(CredentialError::Stdin)?;
                secret_from_bytes(buf, "standard input").map(Credential::Secret)
            }
            CredentialSource::SecretFile(path) => {
                let buf = read_secret_file(path)?;
                secret_from_bytes(buf, &path.display().to_string()).map(Credential::Secret)
            }
            CredentialSource::FederatedFile(path) => {
                let token = federated::FederatedToken { path: path.clone() };
                // Checked now, so a missing, empty or expired file fails before any request.
                token.read(crate::token::unix(std::time::SystemTime::now()))?;
                Ok(Credential::Federated(token))
            }
            CredentialSource::Keyring(slot) => match slot.get() {
                Ok(Some(secret)) => {
                    tracing::info!(
                        target: "graphd::credential",
                        "no credential given by flag or env: using the client secret stored in the {} keyring for {}",
                        slot.backend.name(),
                        slot.account
                    );
                    Ok(Credential::Secret(secret))
                }
                Ok(None) => Err(CredentialError::NoCredential {
                    backend: slot.backend.name(),
                    cause: None,
                }),
                Err(e) => Err(CredentialError::NoCredential {
                    backend: slot.backend.name(),
                    cause: Some(e),
                }),
            },
            CredentialSource::Certificate {
                spec,
                password_env,
                password_stdin,
            } => {
                let source = match (password_env, password_stdin) {
                    (Some(p), _) => PasswordSource::Env(CertPassword::new(p.expose().to_string())),
                    (None, true) => PasswordSource::Stdin,
                    (None, false) => PasswordSource::Prompt,
                };
                let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
                let mut passwords = Passwords::new(source, stdin, terminal);
                CertificateCredential::load(spec, &mut passwords)
                    .map(|c| Credential::Certificate(Box::new(c)))
            }
            CredentialSource::SecretConfigFile(secret, _) => Ok(Credential::Secret(
                ClientSecret::new(secret.expose().to_string()),
            )),
        }
    }

    /// The client-authentication fields for a request to `token_url`; `now` is Unix seconds.
    pub fn client_auth(
        &self,
        client_id: &str,
        token_url: &str,
        now: u64,
    ) -> Result<ClientAuth<'_>, CredentialError> {
        match self {
            Credential::Secret(s) => Ok(ClientAuth::Secret(s)),
            Credential::Certificate(c) => assertion::sign(c, client_id, token_url, now)
                .map(ClientAuth::Assertion)
                .map_err(CredentialError::Sign),
            // Read again for every request: the CI provider may have rotated it.
            Credential::Federated(f) => f.read(now).map(|(a, _)| ClientAuth::Assertion(a)),
        }
    }

    /// The secret material the token cache derives its key from: reading a cached token
    /// needs what could mint one. For a certificate, the key and the certificate.
    /// `None` for a federated token: its tokens are never cached across processes.
    pub fn cache_material(&self) -> Option<Zeroizing<Vec<u8>>> {
        match self {
            Credential::Secret(s) => Some(Zeroizing::new(s.expose().as_bytes().to_vec())),
            Credential::Certificate(c) => {
                let mut m = Zeroizing::new(c.key.expose().to_vec());
                m.extend_from_slice(c.cert_der.as_deref().unwrap_or_default());
                m.extend_from_slice(c.thumbprint_hex().as_bytes());
                Some(m)
            }
            Credential::Federated(_) => None,
        }
    }

    /// A non-secret description for logs and hints.
    pub fn describe(&self) -> String {
        match self {
            Credential::Secret(_) => "client secret".into(),
            Credential::Certificate(c) => {
                format!("certificate with SHA-1 thumbprint {}", c.thumbprint_hex())
            }
            Credential::Federated(f) => format!("federated token from {}", f.path.display()),
        }
    }
}

/// Reads a new secret for `graphd secret set`: the first line of stdin when stdin is not a
/// terminal, else a no-echo prompt on the terminal, twice, which must match.
pub fn read_new_secret<R: Read + std::io::IsTerminal>(
    stdin: &mut R,
) -> Result<ClientSecret, CredentialError> {
    if !stdin.is_terminal() {
        let mut buf = Zeroizing::new(Vec::new());
        stdin
            .read_to_end(&mut buf)
            .map_err(CredentialError::Stdin)?;
        return secret_from_bytes(buf, "standard input");
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Client secret (value, not ID): ")
            .map_err(CredentialError::Stdin)?,
    );
    let second =
        Zeroizing::new(rpassword::prompt_password("Again: ").map_err(CredentialError::Stdin)?);
    if *first != *second {
        return Err(CredentialError::PromptMismatch);
    }
    secret_from_bytes(Zeroizing::new(first.as_bytes().to_vec()), "the prompt")
}

/// Reads a file that holds secret material into a zeroizing buffer.
pub(crate) fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| CredentialError::ReadFile {
            path: path.to_path_buf(),
            source,
        })
}

/// The first line of the input, without its line ending: what `echo "$SECRET" |` sends.
fn secret_from_bytes(buf: Zeroizing<Vec<u8>>, from: &str) -> Result<ClientSecret, CredentialError> {
    let text =
        std::str::from_utf8(&buf).map_err(|_| CredentialError::SecretNotUtf8(from.to_string()))?;
    let line = text.split(['\r', '\n']).next().unwrap_or("");
    if line.is_empty() {
        return Err(CredentialError::EmptySecret(from.to_string()));
    }
    Ok(ClientSecret::new(line.to_string()))
}

/// A credential that cannot be used; exit code 3. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no credential given, and {}", match cause { None => format!("no client secret stored in the {backend} keyring for this tenant and client"), Some(_) => format!("the {backend} keyring could not be read") })]
    NoCredential {
        backend: &'static str,
        #[source]
        cause: Option<KeyringError>,
    },
    #[error("cannot read {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the client secret from standard input")]
    Stdin(#[source] std::io::Error),
    #[error("the two secrets typed do not match")]
    PromptMismatch,
    #[error("the client secret from {0} is empty")]
    EmptySecret(String),
    #[error("the client secret from {0} is not UTF-8 text")]
    SecretNotUtf8(String),
    #[error("{} holds no certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{} is not a PEM, DER or PKCS#12 certificate (nor base64 of one)", path.display())]
    NotACertificate { path: PathBuf },
    #[error("{} is not a valid PEM certificate", path.display())]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("{} holds no private key", path.display())]
    NoKey { path: PathBuf },
    #[error("{} holds no PEM private key", path.display())]
    BadKeyFile { path: PathBuf },
    #[error("the password for {} is wrong", path.display())]
    WrongPassword { path: PathBuf },
    #[error("{what} is encrypted and no password was given")]
    NeedPassword { what: String },
    #[error("the certificate password is not UTF-8 text without NUL bytes")]
    PasswordNotUtf8,
    #[error("{} uses an encryption this OpenSSL cannot read", path.display())]
    UnsupportedEncryption {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("{} is not a valid PKCS#12 file", path.display())]
    BadPkcs12 {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("the unencrypted private key {} is readable or writable by others (mode {mode:03o})", path.display())]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    #[error("{} is not a valid PEM private key", path.display())]
    BadKey {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("the private key in {} is {kind}, not RSA", path.display())]
    NotRsa { path: PathBuf, kind: String },
    #[error("the RSA key in {} has {bits} bits, fewer than the 2048 Entra requires", path.display())]
    KeyTooSmall { path: PathBuf, bits: u32 },
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("the certificate in {} has expired (valid {not_before} to {not_after})", path.display())]
    CertificateExpired {
        path: PathBuf,
        not_before: String,
        not_after: String,
    },
    #[error("the certificate in {} is not valid yet (valid {not_before} to {not_after})", path.display())]
    CertificateNotYetValid {
        path: PathBuf,
        not_before: String,
        not_after: String,
    },
    #[error("the federated token file {} is empty", path.display())]
    EmptyFederatedToken { path: PathBuf },
    #[error("the federated token in {} is not usable: {reason}", path.display())]
    BadFederatedToken { path: PathBuf, reason: String },
    #[error("the federated token in {} expired at {at}", path.display())]
    ExpiredFederatedToken { path: PathBuf, at: String },
    #[error("the certificate in {} has thumbprint {actual}, not the {expected} the parameters file says", path.display())]
    ThumbprintMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot process the certificate or key")]
    Crypto(#[source] openssl::error::ErrorStack),
    #[error("cannot sign the client assertion")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

impl CredentialError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NoCredential { cause, .. } => format!(
                "give one of: {ENV_CLIENT_SECRET} (env), --secret-stdin, --secret-file PATH, --cert PATH --key PATH, \
                 {ENV_CERT_PATH} (env, a PEM with certificate and key), or store a secret with `graphd secret set`{}",
                cause.as_ref().map(|c| format!("; {}", c.hint())).unwrap_or_default()
            ),
            Self::ReadFile { path, .. } => format!("check that {} exists and is readable", path.display()),
            Self::PromptMismatch => "type the same secret twice, or pipe it on stdin".into(),
            Self::EmptySecret(_) | Self::SecretNotUtf8(_) | Self::Stdin(_) => {
                "pipe the secret's value, e.g. printf %s \"$SECRET\" | graphd users --secret-stdin".into()
            }
            Self::NoCertificate { .. } | Self::BadCertificate { .. } | Self::NotACertificate { .. } => {
                "pass the certificate (PEM, or a .pfx/.p12) with --cert".into()
            }
            Self::NoKey { path } => format!(
                "{} holds only a certificate: pass its private key with --key PATH",
                path.display()
            ),
            Self::BadKeyFile { .. } => "pass a PEM RSA private key (PKCS#1 or PKCS#8, possibly encrypted) with --key".into(),
            Self::WrongPassword { .. } => {
                "give the right password in AZURE_CLIENT_CERTIFICATE_PASSWORD or with --cert-password-stdin".into()
            }
            Self::NeedPassword { .. } => "set AZURE_CLIENT_CERTIFICATE_PASSWORD, pass --cert-password-stdin, \
                 or run in a terminal to be asked"
                .into(),
            Self::PasswordNotUtf8 => "give the password as text on one line".into(),
            Self::UnsupportedEncryption { path, .. } => format!(
                "re-export it with modern encryption: openssl pkcs12 -in {} -legacy -nodes | openssl pkcs12 -export -out new.pfx",
                path.display()
            ),
            Self::BadPkcs12 { .. } => "export the certificate again as .pfx/.p12, or as PEM".into(),
            Self::InsecureKeyFile { path, .. } => format!(
                "chmod 600 {} (or pass --allow-insecure-key-file if it must be shared)",
                path.display()
            ),
            Self::BadKey { .. } => "pass a PEM RSA private key (PKCS#1 or PKCS#8) with --key".into(),
            Self::NotRsa { .. } => {
                "Entra accepts only RSA keys (2048 bits or more) for app credentials: \
                 openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 -subj /CN=graphd"
                    .into()
            }
            Self::KeyTooSmall { .. } => "make a new key of 2048 bits or more and register its certificate".into(),
            Self::KeyMismatch { .. } => {
                "pass the key that was made with this certificate; compare `openssl x509 -noout -pubkey -in CERT` \
                 with `openssl pkey -pubout -in KEY`"
                    .into()
            }
            Self::CertificateExpired { .. } | Self::CertificateNotYetValid { .. } => {
                "make and register a new certificate, and check this machine's clock".into()
            }
            Self::EmptyFederatedToken { .. } | Self::BadFederatedToken { .. } => {
                "point AZURE_FEDERATED_TOKEN_FILE / --federated-token-file at the JWT your CI provider writes \
                 (e.g. GitHub Actions: request an OIDC token with audience api://AzureADTokenExchange)"
                    .into()
            }
            Self::ExpiredFederatedToken { .. } => {
                "CI tokens live minutes: request a fresh one in the same job step, just before running graphd".into()
            }
            Self::ThumbprintMismatch { .. } => {
                "fix \"thumbprint\" or \"public_certificate_file\" in the parameters file so they name the same certificate"
                    .into()
            }
            Self::Crypto(_) | Self::Sign(_) => return None,
        })
    }
}

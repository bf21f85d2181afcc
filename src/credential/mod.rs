//! How the app proves who it is. `CredentialSource` says which credential and where its
//! secret part is (plain data, built by `config`); `Credential::load` reads and checks it;
//! `Credential::client_auth` yields the token request's client-authentication fields.
//!
//! Files by job: `input` reads secret material (files, stdin, prompts), `decode` parses
//! certificates and keys, `checks` checks them, `thumbprint` names them, `certificate`
//! assembles a certificate credential, `signer` signs with its key, `assertion` and `proof`
//! make the JWTs, `federated` reads a CI provider's token, `keyring` keeps a client secret in
//! the OS keyring, `make` and `info` serve `graphd cert new|show`, `pkcs11` reaches keys that
//! never leave a hardware token, `winstore` signs with a key in a Windows certificate store
//! (Windows only), `managed_identity` gets a token from the platform's identity endpoint (no
//! stored credential). This module never sends HTTP to Entra or Graph and never caches; `token`
//! does both. The one exception is `managed_identity`, which talks to its identity endpoint (and
//! only to it) through its own client. A new credential kind is a new variant of
//! `CredentialSource` and `Credential`, and a module here.

pub mod assertion;
pub mod certificate;
pub mod checks;
pub mod decode;
mod error;
pub mod federated;
pub mod info;
pub mod input;
pub mod keyring;
pub mod make;
pub mod managed_identity;
pub mod pfx;
pub mod pkcs11;
pub mod proof;
pub mod signer;
pub mod thumbprint;
#[cfg(windows)]
pub mod winstore;

use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

use zeroize::Zeroizing;

pub use assertion::AssertionAlg;
pub use certificate::{CertSpec, CertificateCredential, KeyRef};
pub use error::CredentialError;
pub use input::{PasswordSource, Passwords};
pub use keyring::{KeyringBackend, KeyringSlot};
pub use managed_identity::{ManagedIdentity, ManagedIdentityError, ManagedIdentitySpec};

use crate::names::ENV_CLIENT_SECRET;
use crate::secret::{Assertion, ClientSecret};
use crate::time;

/// Which credential to use, and where its secret part is to be read from.
pub enum CredentialSource {
    /// `AZURE_CLIENT_SECRET`, already read (it was in the environment anyway).
    SecretEnv(ClientSecret),
    /// `--secret-stdin`.
    SecretStdin,
    /// `--secret-file PATH`.
    SecretFile(SecretFile),
    /// The `secret` of a `--config` parameters file (plaintext there; already read, with the
    /// file's permission bits).
    SecretParams(ClientSecret, SecretFile),
    /// `--cert` [+ `--key`], `--thumbprint` + `--key`, `AZURE_CLIENT_CERTIFICATE_PATH`, or the
    /// parameters file's or the profile's certificate.
    Certificate(CertSource),
    /// `--federated-token-file` / `AZURE_FEDERATED_TOKEN_FILE`: workload identity federation.
    FederatedFile(PathBuf),
    /// None given: the secret stored by `graphd secret set`, if any.
    Keyring(KeyringSlot),
    /// `--managed-identity`: the token comes from the platform's identity endpoint.
    ManagedIdentity(ManagedIdentitySpec),
    /// `--federated-managed-identity`: a managed identity's token for `audience` (the cloud's
    /// token-exchange audience) is the client assertion of the app.
    FederatedManagedIdentity {
        spec: ManagedIdentitySpec,
        audience: &'static str,
    },
}

/// A file holding a client secret in the clear, and whether it may be open to others.
#[derive(Debug, Clone)]
pub struct SecretFile {
    pub path: PathBuf,
    /// The permission bits, when already known (a parameters file read by `config`).
    pub mode: Option<u32>,
    /// Windows: who else its ACL lets read it, when already known (a parameters file).
    pub exposed: Option<String>,
    /// `--allow-insecure-key-file`.
    pub allow_insecure: bool,
}

impl SecretFile {
    /// Like an unencrypted key file, a file holding a secret must not be open to others: by
    /// its mode bits (Unix) or its ACL (Windows), given here when just read, else as known.
    fn check(&self, mode: Option<u32>, exposed: Option<&str>) -> Result<(), CredentialError> {
        if self.allow_insecure {
            return Ok(());
        }
        match (mode.or(self.mode), exposed.or(self.exposed.as_deref())) {
            (Some(mode), _) if crate::files::open_to_others(mode) => {
                Err(CredentialError::InsecureSecretFile {
                    path: self.path.clone(),
                    mode,
                })
            }
            (_, Some(who)) => Err(CredentialError::InsecureSecretFileAcl {
                path: self.path.clone(),
                who: who.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// A certificate credential and where its password (if it needs one) and its token's PIN (if
/// its key is on a token) come from.
pub struct CertSource {
    pub spec: CertSpec,
    pub password: PasswordSource,
    pub pin: pkcs11::PinSource,
}

impl CredentialSource {
    /// A non-secret description for logs and `config show`.
    pub fn describe(&self) -> String {
        match self {
            Self::SecretEnv(_) => format!("client secret [redacted] from {ENV_CLIENT_SECRET}"),
            Self::SecretStdin => "client secret from stdin".into(),
            Self::SecretFile(f) => format!("client secret from file {}", f.path.display()),
            Self::SecretParams(_, f) => format!(
                "client secret [redacted] from parameters file {} (plaintext in the file: consider `graphd secret set`)",
                f.path.display()
            ),
            Self::Certificate(CertSource {
                spec:
                    CertSpec {
                        store: Some(store),
                        thumbprint: Some(tp),
                        ..
                    },
                ..
            }) => format!(
                "certificate {} in the Windows store {store} (its key signs in the store)",
                thumbprint::hex_upper(tp)
            ),
            Self::Certificate(CertSource { spec, .. }) => {
                let key = spec.key.as_ref().map(KeyRef::describe);
                match (&spec.cert, &spec.thumbprint) {
                    (None, Some(tp)) => format!(
                        "private key {} with thumbprint {} (RS256 + x5t)",
                        key.unwrap_or_else(|| "-".into()),
                        thumbprint::hex_upper(tp)
                    ),
                    (None, None) => format!(
                        "{} and its certificate on the token",
                        key.unwrap_or_else(|| "-".into())
                    ),
                    (Some(cert), _) => format!(
                        "certificate {} (key {})",
                        cert.display(),
                        key.unwrap_or_else(|| "in the same file".into())
                    ),
                }
            }
            Self::FederatedFile(p) => format!("federated token file {}", p.display()),
            Self::Keyring(slot) => format!(
                "client secret stored with `graphd secret set` in the {} keyring",
                slot.backend.name()
            ),
            Self::ManagedIdentity(spec) => format!("managed identity ({})", spec.describe()),
            Self::FederatedManagedIdentity { spec, audience } => format!(
                "managed identity's token for {audience} as the app's client assertion ({})",
                spec.describe()
            ),
        }
    }
}

/// The one credential a run uses.
#[derive(Debug)]
pub enum Credential {
    Secret(ClientSecret),
    Certificate(Box<CertificateCredential>),
    /// A CI provider's token file, read again for every token request.
    Federated(federated::FederatedToken),
    /// The platform's identity endpoint gives the token itself (`token::obtain` asks it, not
    /// Entra, and caches nothing).
    ManagedIdentity(Box<ManagedIdentity>),
    /// A managed identity's token for `audience`, asked for on every token request, is the
    /// client assertion of the app.
    FederatedManagedIdentity {
        identity: Box<ManagedIdentity>,
        audience: &'static str,
    },
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
    /// Reads and checks the credential at `now`. `stdin` serves `--secret-stdin`, `-` paths and
    /// `--cert-password-stdin`; `terminal` says whether it is a terminal (prompts need one).
    pub fn load(
        source: &CredentialSource,
        stdin: &mut dyn Read,
        terminal: bool,
        now: SystemTime,
    ) -> Result<Credential, CredentialError> {
        match source {
            CredentialSource::SecretEnv(secret) => Ok(Credential::Secret(ClientSecret::new(
                secret.expose().to_string(),
            ))),
            CredentialSource::SecretParams(secret, file) => {
                file.check(None, None)?;
                Ok(Credential::Secret(ClientSecret::new(
                    secret.expose().to_string(),
                )))
            }
            CredentialSource::SecretStdin => {
                let line = input::read_line(input::LineSource::Stdin(stdin), input::SECRET)?;
                secret_of(line, "standard input").map(Credential::Secret)
            }
            CredentialSource::SecretFile(file) => {
                let read = input::read_input(&file.path, &mut std::io::empty())?;
                file.check(read.mode, read.exposed.as_deref())?;
                let line = input::first_line(&read.bytes).ok_or(CredentialError::NotUtf8 {
                    what: input::SECRET.one,
                    from: file.path.display().to_string(),
                })?;
                secret_of(line, &file.path.display().to_string()).map(Credential::Secret)
            }
            CredentialSource::FederatedFile(path) => {
                let token = federated::FederatedToken { path: path.clone() };
                // Checked now, so a missing, empty or expired file fails before any request.
                token.read(time::unix_secs(now))?;
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
            CredentialSource::Certificate(CertSource {
                spec,
                password,
                pin,
            }) => {
                let mut passwords =
                    Passwords::new(password.duplicate(), stdin, terminal).with_pin(pin.duplicate());
                CertificateCredential::load(spec, &mut passwords, now)
                    .map(|c| Credential::Certificate(Box::new(c)))
            }
            CredentialSource::ManagedIdentity(spec) => Ok(Credential::ManagedIdentity(Box::new(
                ManagedIdentity::load(spec, false)?,
            ))),
            CredentialSource::FederatedManagedIdentity { spec, audience } => {
                Ok(Credential::FederatedManagedIdentity {
                    identity: Box::new(ManagedIdentity::load(spec, true)?),
                    audience,
                })
            }
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
            Credential::Certificate(c) => {
                assertion::sign(c, client_id, token_url, now).map(ClientAuth::Assertion)
            }
            // Read again for every request: the CI provider may have rotated it.
            Credential::Federated(f) => f.read(now).map(|(a, _)| ClientAuth::Assertion(a)),
            // Asked for again on every request (the endpoint caches it, and renews it in time).
            Credential::FederatedManagedIdentity { identity, audience } => {
                let t = identity.token(audience)?;
                Ok(ClientAuth::Assertion(Assertion::new(
                    t.access_token.expose().to_string(),
                )))
            }
            Credential::ManagedIdentity(_) => Err(CredentialError::NoClientAuth),
        }
    }

    /// The managed identity whose endpoint gives the token itself (not the federated mode,
    /// whose token comes from Entra).
    pub fn managed_identity(&self) -> Option<&ManagedIdentity> {
        match self {
            Credential::ManagedIdentity(m) => Some(m),
            _ => None,
        }
    }

    /// The secret material the token cache derives its key from: reading a cached token
    /// needs what could mint one. For a certificate, the key and the certificate.
    /// `None` for a federated token, and for a managed identity as an app's federated
    /// credential: there is no secret of graphd's to derive a key from (the identity's token
    /// changes whenever the platform renews it), so their tokens are never cached across
    /// processes. (A plain managed identity never reaches the cache at all.)
    pub fn cache_material(
        &self,
        binding: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, CredentialError> {
        match self {
            Credential::Secret(s) => Ok(Some(Zeroizing::new(s.expose().as_bytes().to_vec()))),
            Credential::Certificate(c) => {
                let key = c.signer.cache_material(binding)?;
                let cert = c.cert_der.as_deref().unwrap_or_default();
                let thumbprint = c.thumbprint_hex();
                // Sized once, so that no copy of the key's bytes is left behind, unzeroed, by
                // a reallocation.
                let mut m = Zeroizing::new(Vec::with_capacity(
                    key.len() + cert.len() + thumbprint.len(),
                ));
                m.extend_from_slice(&key);
                m.extend_from_slice(cert);
                m.extend_from_slice(thumbprint.as_bytes());
                Ok(Some(m))
            }
            Credential::Federated(_)
            | Credential::ManagedIdentity(_)
            | Credential::FederatedManagedIdentity { .. } => Ok(None),
        }
    }

    /// The certificate credential, if this is one.
    pub fn certificate(&self) -> Option<&CertificateCredential> {
        match self {
            Credential::Certificate(c) => Some(c),
            _ => None,
        }
    }

    /// What distinguishes this credential's tokens in the cache (not secret).
    pub fn cache_label(&self) -> String {
        match self {
            Credential::Certificate(c) => format!("cert:{}", c.thumbprint_hex()),
            Credential::Secret(_) | Credential::Federated(_) => "secret".into(),
            Credential::ManagedIdentity(_) | Credential::FederatedManagedIdentity { .. } => {
                "managed-identity".into()
            }
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
            Credential::ManagedIdentity(m) => m.describe(),
            Credential::FederatedManagedIdentity { identity, audience } => format!(
                "a token for {audience} from the {} as the client assertion",
                identity.describe()
            ),
        }
    }
}

/// Reads a new secret for `graphd secret set`: the first line of stdin when stdin is not a
/// terminal, else a no-echo prompt on the terminal, twice, which must match.
pub fn read_new_secret(
    stdin: &mut dyn Read,
    terminal: bool,
) -> Result<ClientSecret, CredentialError> {
    let (line, from) = if terminal {
        (
            input::read_line(
                input::LineSource::Prompt {
                    label: "Client secret (value, not ID): ",
                    twice: true,
                },
                input::SECRET,
            )?,
            "the prompt",
        )
    } else {
        (
            input::read_line(input::LineSource::Stdin(stdin), input::SECRET)?,
            "standard input",
        )
    };
    secret_of(line, from)
}

fn secret_of(line: Zeroizing<String>, from: &str) -> Result<ClientSecret, CredentialError> {
    if line.is_empty() {
        return Err(CredentialError::EmptySecret(from.to_string()));
    }
    Ok(ClientSecret::new(line.to_string()))
}

//! The credential layer: which one credential the flags and environment, the parameters file
//! or the profile name (exactly one, else an error naming both), with its origin, before
//! anything is read; where a certificate's password and a token's PIN come from; and which
//! user-assigned managed identity is meant. `credential` reads what is named here.

use std::fmt;
use std::path::{Path, PathBuf};

use super::env::Env;
use super::params::ParamsCredential;
use super::profile;
use super::sourced::{Origin, Sourced, from_cli};
use super::{ConfigError, one_stdin};
use crate::cli::{ArgOrigin, GlobalArgs};
use crate::credential::managed_identity::{self, Detection, Selector};
use crate::credential::thumbprint::parse_thumbprint;
use crate::credential::{AssertionAlg, KeyRef};
use crate::names::{self, ENV_CLIENT_SECRET, Name};
use crate::secret::{CertPassword, ClientSecret, Pin};

/// A credential as a layer names it, before anything is read.
pub enum CredentialLayer {
    /// `AZURE_CLIENT_SECRET` (already read: it was in the environment anyway).
    SecretEnv(ClientSecret),
    SecretStdin,
    SecretFile(PathBuf),
    /// The parameters file's plaintext `secret`, the file, its permission bits and (Windows)
    /// who else its ACL lets read it.
    SecretParams(ClientSecret, PathBuf, Option<u32>, Option<String>),
    /// A certificate and key, a key and the certificate's thumbprint, or both; or a key on a
    /// PKCS#11 token, whose certificate may be on the token too.
    Certificate {
        cert: Option<PathBuf>,
        key: Option<KeyRef>,
        thumbprint: Option<Vec<u8>>,
    },
    FederatedFile(PathBuf),
    /// `--managed-identity` (or, `federated`, `--federated-managed-identity`) and the platform
    /// found in the environment.
    ManagedIdentity {
        federated: bool,
        detection: Detection,
    },
    /// Windows: a certificate in a certificate store (`LOCATION\STORE`, not yet parsed), by
    /// its SHA-1 thumbprint; its key signs in the store.
    CertStore {
        store: String,
        thumbprint: Vec<u8>,
    },
}

impl fmt::Debug for CredentialLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl CredentialLayer {
    /// A non-secret description.
    pub fn describe(&self) -> String {
        match self {
            Self::SecretEnv(_) => "client secret [redacted]".into(),
            Self::SecretStdin => "client secret from stdin".into(),
            Self::SecretFile(p) => format!("client secret from file {}", p.display()),
            Self::SecretParams(..) => {
                "client secret [redacted] (plaintext in the file: consider `graphd secret set`)"
                    .into()
            }
            Self::Certificate {
                cert: None,
                key,
                thumbprint: Some(tp),
            } => format!(
                "private key {} with thumbprint {} (RS256 + x5t)",
                key.as_ref().map_or("-".into(), KeyRef::describe),
                crate::credential::thumbprint::hex_upper(tp)
            ),
            Self::Certificate {
                cert: None, key, ..
            } => format!(
                "key {} and its certificate on the token",
                key.as_ref().map_or("-".into(), KeyRef::describe)
            ),
            Self::Certificate { cert, key, .. } => format!(
                "certificate {} (key {})",
                cert.as_deref().unwrap_or(Path::new("-")).display(),
                key.as_ref()
                    .map_or("in the same file".into(), KeyRef::describe)
            ),
            Self::FederatedFile(p) => format!("federated token file {}", p.display()),
            Self::ManagedIdentity {
                federated: false,
                detection,
            } => format!(
                "managed identity: the token comes from {} at {}",
                detection.platform.name(),
                detection.platform.endpoint()
            ),
            Self::ManagedIdentity {
                federated: true,
                detection,
            } => format!(
                "federated managed identity: a token from {} at {} is the app's client assertion",
                detection.platform.name(),
                detection.platform.endpoint()
            ),
            Self::CertStore { store, thumbprint } => format!(
                "certificate {} in the Windows store {store} (its key signs in the store)",
                crate::credential::thumbprint::hex_upper(thumbprint)
            ),
        }
    }
}

/// The managed identity's platform, found in the environment (where the Arc agent is looked
/// for on disk, as MSAL does).
fn detect(env: &dyn Env) -> Detection {
    managed_identity::detect(
        &|name| env.var(name),
        managed_identity::arc_agent_installed(),
    )
}

/// Where a certificate's password comes from, if one is needed.
pub struct PasswordLayer {
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
    pub env: Option<CertPassword>,
    /// `--cert-password-stdin`.
    pub stdin: bool,
}

/// Where a token key's PIN comes from, if one is needed (the URI's `pin-source` aside).
pub struct PinLayer {
    /// `GRAPHD_PKCS11_PIN`.
    pub env: Option<Pin>,
    /// `--pin-stdin`.
    pub stdin: bool,
}

/// The one credential given by flag or env; `None` when none was (the lower layers' turn).
pub(super) fn flag_env_credential(
    args: &GlobalArgs,
    env: &dyn Env,
    alg: Option<AssertionAlg>,
    send_x5c: bool,
) -> Result<Option<Sourced<CredentialLayer>>, ConfigError> {
    let flag = |name: Name| match args.origin(name.id) {
        ArgOrigin::Env => Origin::Env(name.env),
        _ => Origin::Flag(name.flag),
    };
    let mut found: Vec<(String, Sourced<CredentialLayer>)> = Vec::new();
    let mut push = |label: String, layer: CredentialLayer, origin: Origin| {
        found.push((label, Sourced::new(layer, origin)));
    };
    if args.secret_stdin {
        push(
            names::SECRET_STDIN.flag.into(),
            CredentialLayer::SecretStdin,
            flag(names::SECRET_STDIN),
        );
    }
    if let Some(path) = &args.secret_file {
        push(
            names::SECRET_FILE.flag.into(),
            CredentialLayer::SecretFile(path.clone()),
            flag(names::SECRET_FILE),
        );
    }
    let key = args
        .key
        .as_deref()
        .map(|k| key_ref(k, flag(names::KEY)))
        .transpose()?;
    let cert = |cert: Option<PathBuf>, thumbprint| CredentialLayer::Certificate {
        cert,
        key: key.clone(),
        thumbprint,
    };
    if let Some(path) = &args.cert {
        push(
            names::CERT.flag.into(),
            cert(Some(path.clone()), None),
            Origin::Flag(names::CERT.flag),
        );
    }
    if args.cert_store.is_some() && args.thumbprint.is_none() {
        return Err(ConfigError::CertStoreNeedsThumbprint);
    }
    if let (Some(hex), Some(store)) = (&args.thumbprint, &args.cert_store) {
        let thumbprint =
            parse_thumbprint(hex).ok_or_else(|| ConfigError::InvalidThumbprint(hex.clone()))?;
        push(
            names::CERT_STORE.flag.into(),
            CredentialLayer::CertStore {
                store: store.clone(),
                thumbprint,
            },
            flag(names::CERT_STORE),
        );
    } else if let Some(hex) = &args.thumbprint {
        let thumbprint =
            parse_thumbprint(hex).ok_or_else(|| ConfigError::InvalidThumbprint(hex.clone()))?;
        if args.key.is_none() {
            return Err(ConfigError::ThumbprintWithoutKey);
        }
        if alg == Some(AssertionAlg::Ps256) {
            return Err(ConfigError::ThumbprintNeedsRs256);
        }
        if send_x5c {
            return Err(ConfigError::X5cNeedsCertificate);
        }
        push(
            names::THUMBPRINT.flag.into(),
            cert(None, Some(thumbprint)),
            flag(names::THUMBPRINT),
        );
    }
    if let Some(secret) = env.non_empty(ENV_CLIENT_SECRET) {
        push(
            format!("{ENV_CLIENT_SECRET} (env)"),
            CredentialLayer::SecretEnv(ClientSecret::new(secret)),
            Origin::Env(ENV_CLIENT_SECRET),
        );
    }
    if let Some(path) = &args.federated_token_file {
        push(
            names::FEDERATED_TOKEN_FILE.flag.into(),
            CredentialLayer::FederatedFile(path.clone()),
            Origin::Flag(names::FEDERATED_TOKEN_FILE.flag),
        );
    }
    if let Some(path) = env.non_empty(names::FEDERATED_TOKEN_FILE.env) {
        push(
            format!("{} (env)", names::FEDERATED_TOKEN_FILE.env),
            CredentialLayer::FederatedFile(path.into()),
            Origin::Env(names::FEDERATED_TOKEN_FILE.env),
        );
    }
    if let Some(path) = env.non_empty(names::CERT.env) {
        push(
            format!("{} (env)", names::CERT.env),
            cert(Some(path.into()), None),
            Origin::Env(names::CERT.env),
        );
    }
    for (on, name, federated) in [
        (args.managed_identity, names::MANAGED_IDENTITY, false),
        (
            args.federated_managed_identity,
            names::FEDERATED_MANAGED_IDENTITY,
            true,
        ),
    ] {
        if on {
            let origin = flag(name);
            let label = match origin {
                Origin::Env(var) => format!("{var} (env)"),
                _ => name.flag.into(),
            };
            push(
                label,
                CredentialLayer::ManagedIdentity {
                    federated,
                    detection: detect(env),
                },
                origin,
            );
        }
    }
    let mut is_cert = found
        .iter()
        .any(|(_, s)| matches!(s.value, CredentialLayer::Certificate { .. }));
    match &key {
        // A token key is a credential by itself: its certificate can be on the token.
        Some(KeyRef::Token(_)) if !is_cert => {
            found.push((
                names::KEY.flag.into(),
                Sourced::new(cert(None, None), flag(names::KEY)),
            ));
            is_cert = true;
        }
        Some(_) if !is_cert => return Err(ConfigError::KeyWithoutCertificate),
        _ => {}
    }
    one_stdin(&[
        (args.pin_stdin, names::PIN_STDIN.flag),
        (args.secret_stdin, names::SECRET_STDIN.flag),
        (
            args.cert.as_deref() == Some(Path::new("-")),
            &format!("{} -", names::CERT.flag),
        ),
        (
            args.key.as_deref() == Some(Path::new("-")),
            &format!("{} -", names::KEY.flag),
        ),
        (
            args.cert_password_stdin && is_cert,
            names::CERT_PASSWORD_STDIN.flag,
        ),
    ])?;
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (None, _) => Ok(None),
        (Some((_, source)), None) => Ok(Some(source)),
        (Some((a, _)), Some((b, _))) => Err(ConfigError::TwoCredentials(a, b)),
    }
}

/// The user-assigned managed identity: named by one flag (or its variable), else by the
/// profile, else — with `--managed-identity` only, as azure-identity does — by
/// `AZURE_CLIENT_ID`. Only a managed-identity credential takes one: a selector given by flag or
/// env with another credential is a usage error, and so is `--client-id` with
/// `--managed-identity` (it names an app; the identity has its own flag).
pub(super) fn selector(
    args: &GlobalArgs,
    credential: Option<&CredentialLayer>,
    client_id: &Option<Sourced<String>>,
    from_profile: Option<Sourced<Selector>>,
) -> Result<Option<Sourced<Selector>>, ConfigError> {
    let mut given: Vec<(String, Sourced<Selector>)> = Vec::new();
    for (name, value, make) in [
        (
            names::MI_CLIENT_ID,
            &args.managed_identity_client_id,
            Selector::ClientId as fn(String) -> Selector,
        ),
        (
            names::MI_OBJECT_ID,
            &args.managed_identity_object_id,
            Selector::ObjectId,
        ),
        (
            names::MI_RESOURCE_ID,
            &args.managed_identity_resource_id,
            Selector::ResourceId,
        ),
    ] {
        if let Some(s) = from_cli(args, name, value.as_ref()).filter(|s| !s.value.is_empty()) {
            let label = match s.origin {
                Origin::Env(var) => format!("{var} (env)"),
                _ => name.flag.into(),
            };
            given.push((label, Sourced::new(make(s.value), s.origin)));
        }
    }
    if let [(a, _), (b, _), ..] = given.as_slice() {
        return Err(ConfigError::TwoSelectors(a.clone(), b.clone()));
    }
    let explicit = given.pop();
    let federated = match credential {
        Some(CredentialLayer::ManagedIdentity { federated, .. }) => *federated,
        _ => {
            return match explicit {
                Some((label, _)) => Err(ConfigError::SelectorWithoutManagedIdentity(label)),
                // A profile's selector goes with the profile's credential, overridden as a whole.
                None => Ok(None),
            };
        }
    };
    if !federated
        && let Some(Sourced {
            origin: Origin::Flag(_),
            ..
        }) = client_id
    {
        return Err(ConfigError::ClientIdWithManagedIdentity);
    }
    Ok(match (explicit, from_profile) {
        (Some((_, s)), _) => Some(s),
        (None, Some(s)) => Some(s),
        (None, None) if !federated => client_id
            .as_ref()
            .filter(|c| c.origin == Origin::Env(names::CLIENT_ID.env) && !c.value.is_empty())
            .map(|c| Sourced::new(Selector::ClientId(c.value.clone()), c.origin.clone())),
        (None, None) => None,
    })
}

/// A `--key` value (or a file's `key`): a path, or a `pkcs11:` URI checked now.
fn key_ref(given: &Path, origin: Origin) -> Result<KeyRef, ConfigError> {
    KeyRef::parse(given).map_err(|source| ConfigError::Pkcs11Uri {
        from: origin.to_string(),
        source,
    })
}

/// The profile's credential: a managed identity, a certificate (and key), a key on a token,
/// or a federated token.
pub(super) fn profile_credential(
    p: Option<&profile::Profile>,
    pr: &dyn Fn(&'static str) -> Origin,
    env: &dyn Env,
) -> Result<Option<Sourced<CredentialLayer>>, ConfigError> {
    let Some(p) = p else { return Ok(None) };
    if p.managed_identity || p.federated_managed_identity {
        let federated = p.federated_managed_identity;
        return Ok(Some(Sourced::new(
            CredentialLayer::ManagedIdentity {
                federated,
                detection: detect(env),
            },
            pr(if federated {
                "federated_managed_identity"
            } else {
                "managed_identity"
            }),
        )));
    }
    let key = p
        .key
        .as_deref()
        .map(|k| key_ref(k, pr("key")))
        .transpose()?;
    if let Some(cert) = &p.certificate {
        return Ok(Some(Sourced::new(
            CredentialLayer::Certificate {
                cert: Some(cert.clone()),
                key,
                thumbprint: None,
            },
            pr("certificate"),
        )));
    }
    if let Some(key @ KeyRef::Token(_)) = key {
        return Ok(Some(Sourced::new(
            CredentialLayer::Certificate {
                cert: None,
                key: Some(key),
                thumbprint: None,
            },
            pr("key"),
        )));
    }
    if let (Some(store), Some(thumbprint)) = (&p.cert_store, &p.thumbprint) {
        return Ok(Some(Sourced::new(
            CredentialLayer::CertStore {
                store: store.clone(),
                thumbprint: thumbprint.clone(),
            },
            pr("cert_store"),
        )));
    }
    Ok(p.federated_token_file.clone().map(|f| {
        Sourced::new(
            CredentialLayer::FederatedFile(f),
            pr("federated_token_file"),
        )
    }))
}

/// The parameters file's credential as a layer.
pub(super) fn params_credential(
    c: &ParamsCredential,
    path: &Path,
    mode: Option<u32>,
    exposed: Option<String>,
    origin: &dyn Fn(&'static str) -> Origin,
) -> Result<Sourced<CredentialLayer>, ConfigError> {
    let thumbprint = |hex: &str| {
        parse_thumbprint(hex).ok_or_else(|| ConfigError::InvalidThumbprint(hex.to_string()))
    };
    Ok(match c {
        ParamsCredential::Secret(s) => Sourced::new(
            CredentialLayer::SecretParams(
                ClientSecret::new(s.expose().to_string()),
                path.to_path_buf(),
                mode,
                exposed,
            ),
            origin("secret"),
        ),
        ParamsCredential::KeyWithThumbprint { key, thumbprint: t } => Sourced::new(
            CredentialLayer::Certificate {
                cert: None,
                key: Some(key_ref(key, origin("private_key_file"))?),
                thumbprint: Some(thumbprint(t)?),
            },
            origin("thumbprint"),
        ),
        ParamsCredential::KeyOnToken { key } => Sourced::new(
            CredentialLayer::Certificate {
                cert: None,
                key: Some(key_ref(key, origin("private_key_file"))?),
                thumbprint: None,
            },
            origin("private_key_file"),
        ),
        ParamsCredential::Certificate {
            cert,
            key,
            thumbprint: t,
        } => Sourced::new(
            CredentialLayer::Certificate {
                cert: Some(cert.clone()),
                key: key
                    .as_deref()
                    .map(|k| key_ref(k, origin("private_key_file")))
                    .transpose()?,
                thumbprint: t.as_deref().map(thumbprint).transpose()?,
            },
            origin("private_key_file"),
        ),
    })
}

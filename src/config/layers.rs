//! The layers: every setting resolved across flags, environment, the `--config` parameters
//! file, the profile and defaults (in that order), each value tagged with where it came from. The credential, the token
//! cache switch and `x5c` are layered here like everything else; `config show` prints these
//! values and origins as they are, and `Config::from_layers` validates them.
//!
//! The cloud and the hosts resolve together: walking the layers from the top, the first layer
//! that names an authority host (or a Graph endpoint) or a cloud decides it, an explicit host
//! beating the cloud within one layer. So `--cloud usgov` overrides a profile's hosts, and
//! `--graph-endpoint` beats `--cloud`. This module reads the parameters and profile files
//! (never the network) and never validates syntax (that is `Config`'s job).

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use super::env::Env;
use super::params::{self, ParamsCredential};
use super::profile;
use super::{ConfigError, one_stdin};
use crate::cli::{ArgOrigin, GlobalArgs};
use crate::cloud::Cloud;
use crate::credential::managed_identity::{self, Detection, Selector};
use crate::credential::thumbprint::parse_thumbprint;
use crate::credential::{AssertionAlg, KeyRef, KeyringBackend};
use crate::names::{
    self, ENV_CERT_PASSWORD, ENV_CLIENT_SECRET, ENV_PKCS11_PIN, ENV_TOKEN_CACHE, Name,
};
use crate::output::OutputFormat;
use crate::secret::{CertPassword, ClientSecret, Pin};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    Params {
        path: PathBuf,
        key: &'static str,
    },
    Profile {
        name: String,
        key: &'static str,
    },
    /// Derived from the cloud, which came from `.1`.
    Cloud(Cloud, Box<Origin>),
    /// `default_profile` in the profile file, or a profile named `default`.
    DefaultProfile,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Params { path, key } => write!(f, "parameters file {} ({key})", path.display()),
            Origin::Profile { name, key } => write!(f, "profile {name} ({key})"),
            Origin::Cloud(c, from) => write!(f, "cloud {} ({from})", c.name()),
            Origin::DefaultProfile => f.write_str("default_profile, or the profile named default"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Sourced { value, origin }
    }

    fn default(value: T) -> Self {
        Sourced::new(value, Origin::Default)
    }
}

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

/// Retries, timeouts and limits, each with its origin.
#[derive(Debug)]
pub struct NetworkLayers {
    pub max_retries: Sourced<u32>,
    pub timeout: Sourced<u64>,
    pub deadline: Sourced<u64>,
    pub max_retry_wait: Sourced<u64>,
    pub max_response_mib: Sourced<u64>,
}

/// Every setting, resolved across the layers, not yet validated.
pub struct Layers {
    /// The profile in use.
    pub profile: Option<Sourced<String>>,
    /// The profile file looked at (even when absent or unused).
    pub profile_file: Option<PathBuf>,
    /// The parameters file (`--config`).
    pub params_file: Option<Sourced<PathBuf>>,
    pub tenant: Option<Sourced<String>>,
    pub client_id: Option<Sourced<String>>,
    pub cloud: Sourced<Cloud>,
    pub authority_host: Sourced<String>,
    pub graph_endpoint: Sourced<String>,
    /// The parameters file's `endpoint` (what `users`/`get` fetch by default).
    pub endpoint: Option<Sourced<Url>>,
    pub ca_bundle: Option<Sourced<PathBuf>>,
    /// The one credential given, if any (none means the keyring).
    pub credential: Option<Sourced<CredentialLayer>>,
    /// A user-assigned managed identity (with a managed-identity credential only).
    pub managed_identity_selector: Option<Sourced<Selector>>,
    pub password: PasswordLayer,
    /// `--pkcs11-module` / `GRAPHD_PKCS11_MODULE`.
    pub pkcs11_module: Option<Sourced<PathBuf>>,
    pub pin: PinLayer,
    pub keyring: Sourced<KeyringBackend>,
    pub assertion_alg: Sourced<AssertionAlg>,
    pub send_x5c: Sourced<bool>,
    pub allow_insecure_key_file: Sourced<bool>,
    pub token_cache: Sourced<bool>,
    pub output: Sourced<OutputFormat>,
    pub network: NetworkLayers,
    pub verbose: u8,
}

/// A clap value with its origin, or `None` when absent or only clap's default.
fn from_cli<T: Clone>(args: &GlobalArgs, name: Name, value: Option<&T>) -> Option<Sourced<T>> {
    let value = value?.clone();
    match args.origin(name.id) {
        ArgOrigin::Default => None,
        ArgOrigin::Env => Some(Sourced::new(value, Origin::Env(name.env))),
        ArgOrigin::CommandLine => Some(Sourced::new(value, Origin::Flag(name.flag))),
    }
}

/// A clap value that always has one (a default included), with its origin.
fn with_default<T: Clone>(args: &GlobalArgs, name: Name, value: &T) -> Sourced<T> {
    from_cli(args, name, Some(value)).unwrap_or_else(|| Sourced::default(value.clone()))
}

/// A boolean flag: `true` from the flag or its clap env, else `None`.
fn switch(args: &GlobalArgs, name: Name, on: bool) -> Option<Sourced<bool>> {
    on.then(|| from_cli(args, name, Some(&true)))?
}

/// Splits a clap value into the flag layer and the env layer.
type Split<T> = (Option<Sourced<T>>, Option<Sourced<T>>);
fn split<T>(o: Option<Sourced<T>>) -> Split<T> {
    match o {
        Some(s) if matches!(s.origin, Origin::Env(_)) => (None, Some(s)),
        other => (other, None),
    }
}

impl Layers {
    /// Resolves every setting. Reads `--config` and the profile file, if any.
    pub fn resolve(args: &GlobalArgs, env: &dyn Env) -> Result<Layers, ConfigError> {
        let params = args.config.as_deref().map(params::load).transpose()?;
        let profile_file = profile::default_path(env);
        let profile = match (&profile_file, args.profile.as_deref()) {
            (Some(path), wanted) => profile::select(path, wanted)?,
            (None, Some(p)) => {
                return Err(ConfigError::NoConfigDir {
                    profile: p.to_string(),
                });
            }
            (None, None) => None,
        };
        let params_path = params.as_ref().map(|p| p.path.clone()).unwrap_or_default();
        let pp = |key: &'static str| Origin::Params {
            path: params_path.clone(),
            key,
        };
        let pr = |key: &'static str| Origin::Profile {
            name: profile.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
            key,
        };
        let from_params = |key, v: Option<String>| v.map(|v| Sourced::new(v, pp(key)));
        let from_profile = |key, v: Option<String>| v.map(|v| Sourced::new(v, pr(key)));

        let tenant = from_cli(args, names::TENANT, args.tenant.as_ref())
            .or_else(|| {
                from_params(
                    "authority",
                    params
                        .as_ref()
                        .and_then(|p| p.authority.as_ref().map(|(_, t)| t.clone())),
                )
            })
            .or_else(|| from_profile("tenant", profile.as_ref().and_then(|p| p.tenant.clone())));
        let client_id = from_cli(args, names::CLIENT_ID, args.client_id.as_ref())
            .or_else(|| {
                from_params(
                    "client_id",
                    params.as_ref().and_then(|p| p.client_id.clone()),
                )
            })
            .or_else(|| {
                from_profile(
                    "client_id",
                    profile.as_ref().and_then(|p| p.client_id.clone()),
                )
            });

        // The cloud and the hosts, layer by layer (see the module docs).
        let (flag_cloud, env_cloud) = split(from_cli(args, names::CLOUD, args.cloud.as_ref()));
        let (flag_authority, env_authority) = split(from_cli(
            args,
            names::AUTHORITY_HOST,
            args.authority_host.as_ref(),
        ));
        let (flag_graph, env_graph) = split(from_cli(
            args,
            names::GRAPH_ENDPOINT,
            args.graph_endpoint.as_ref(),
        ));
        let params_authority = from_params(
            "authority",
            params
                .as_ref()
                .and_then(|p| p.authority.as_ref().map(|(o, _)| o.clone())),
        );
        // The Graph origin of the file: its endpoint's, else its scope's resource.
        let params_graph = params.as_ref().and_then(|p| {
            p.endpoint
                .as_ref()
                .map(|e| Sourced::new(e.origin().ascii_serialization(), pp("endpoint")))
                .or_else(|| {
                    p.scope
                        .as_deref()
                        .and_then(|s| s.strip_suffix("/.default"))
                        .map(|r| Sourced::new(r.to_string(), pp("scope")))
                })
        });
        let profile_cloud = profile
            .as_ref()
            .and_then(|p| p.cloud)
            .map(|c| Sourced::new(c, pr("cloud")));
        let profile_authority = from_profile(
            "authority_host",
            profile.as_ref().and_then(|p| p.authority_host.clone()),
        );
        let profile_graph = from_profile(
            "graph_endpoint",
            profile.as_ref().and_then(|p| p.graph_endpoint.clone()),
        );
        let layers_cloud = [flag_cloud, env_cloud, None, profile_cloud];
        let cloud = layers_cloud
            .iter()
            .flatten()
            .next()
            .cloned()
            .unwrap_or(Sourced::default(Cloud::Public));
        let pick = |hosts: [Option<Sourced<String>>; 4], of: fn(Cloud) -> &'static str| {
            for (host, cloud) in hosts.into_iter().zip(layers_cloud.iter()) {
                if let Some(h) = host {
                    return h;
                }
                if let Some(c) = cloud {
                    return Sourced::new(
                        of(c.value).to_string(),
                        Origin::Cloud(c.value, Box::new(c.origin.clone())),
                    );
                }
            }
            Sourced::default(of(Cloud::Public).to_string())
        };
        let authority_host = pick(
            [
                flag_authority,
                env_authority,
                params_authority,
                profile_authority,
            ],
            Cloud::authority_host,
        );
        let graph_endpoint = pick(
            [flag_graph, env_graph, params_graph, profile_graph],
            Cloud::graph_endpoint,
        );

        let endpoint = params
            .as_ref()
            .and_then(|p| p.endpoint.clone())
            .map(|e| Sourced::new(e, pp("endpoint")));
        let ca_bundle = from_cli(args, names::CA_BUNDLE, args.ca_bundle.as_ref()).or_else(|| {
            profile
                .as_ref()
                .and_then(|p| p.ca_bundle.clone())
                .map(|c| Sourced::new(c, pr("ca_bundle")))
        });
        let keyring = from_cli(args, names::KEYRING, Some(&args.keyring))
            .or_else(|| {
                profile
                    .as_ref()
                    .and_then(|p| p.keyring)
                    .map(|k| Sourced::new(k, pr("keyring")))
            })
            .unwrap_or(Sourced::default(args.keyring));
        let assertion_alg = from_cli(args, names::ASSERTION_ALG, args.assertion_alg.as_ref())
            .or_else(|| {
                profile
                    .as_ref()
                    .and_then(|p| p.assertion_alg)
                    .map(|a| Sourced::new(a, pr("assertion_alg")))
            })
            .unwrap_or(Sourced::default(AssertionAlg::Ps256));
        // An algorithm named by flag, env or profile; else PS256 where a certificate allows it.
        let alg_given = !matches!(assertion_alg.origin, Origin::Default);

        let send_x5c = switch(args, names::SEND_X5C, args.send_x5c)
            .or_else(|| {
                env.flag(names::SEND_X5C.env)
                    .then(|| Sourced::new(true, Origin::Env(names::SEND_X5C.env)))
            })
            .unwrap_or(Sourced::default(false));
        let allow_insecure_key_file = switch(
            args,
            names::ALLOW_INSECURE_KEY_FILE,
            args.allow_insecure_key_file,
        )
        .unwrap_or(Sourced::default(false));

        // The credential: exactly one from flags and env, else the parameters file's, else
        // the profile's, else none (the keyring).
        let credential = match flag_env_credential(
            args,
            env,
            alg_given.then_some(assertion_alg.value),
            send_x5c.value,
        )? {
            Some(c) => Some(c),
            None => params
                .as_ref()
                .and_then(|p| p.credential.as_ref())
                .map(|c| {
                    params_credential(
                        c,
                        &params_path,
                        params.as_ref().and_then(|p| p.mode),
                        params.as_ref().and_then(|p| p.exposed.clone()),
                        &pp,
                    )
                })
                .transpose()?
                .map_or_else(
                    || profile_credential(profile.as_ref(), &pr, env),
                    |c| Ok(Some(c)),
                )?,
        };

        let managed_identity_selector = selector(
            args,
            credential.as_ref().map(|c| &c.value),
            &client_id,
            profile.as_ref().and_then(|p| {
                p.managed_identity_selector
                    .clone()
                    .map(|(s, key)| Sourced::new(s, pr(key)))
            }),
        )?;

        let token_cache = match switch(args, names::NO_TOKEN_CACHE, args.no_token_cache) {
            Some(s) => Sourced::new(false, s.origin),
            None => match env.var(ENV_TOKEN_CACHE).map(|v| v.to_ascii_lowercase()) {
                None => Sourced::default(true),
                Some(v) if ["off", "0", "false", "no"].contains(&v.as_str()) => {
                    Sourced::new(false, Origin::Env(ENV_TOKEN_CACHE))
                }
                Some(v) if ["on", "1", "true", "yes", ""].contains(&v.as_str()) => {
                    Sourced::new(true, Origin::Env(ENV_TOKEN_CACHE))
                }
                Some(v) => return Err(ConfigError::InvalidTokenCacheEnv(v)),
            },
        };

        Ok(Layers {
            profile: profile.as_ref().map(|p| {
                Sourced::new(
                    p.name.clone(),
                    from_cli(args, names::PROFILE, args.profile.as_ref())
                        .map_or(Origin::DefaultProfile, |s| s.origin),
                )
            }),
            profile_file,
            params_file: from_cli(args, names::CONFIG, args.config.as_ref()),
            tenant,
            client_id,
            cloud,
            authority_host,
            graph_endpoint,
            endpoint,
            ca_bundle,
            credential,
            managed_identity_selector,
            password: PasswordLayer {
                env: env.var(ENV_CERT_PASSWORD).map(CertPassword::new),
                stdin: args.cert_password_stdin,
            },
            pkcs11_module: from_cli(args, names::PKCS11_MODULE, args.pkcs11_module.as_ref()),
            pin: PinLayer {
                env: env.var(ENV_PKCS11_PIN).map(Pin::new),
                stdin: args.pin_stdin,
            },
            keyring,
            assertion_alg,
            send_x5c,
            allow_insecure_key_file,
            token_cache,
            output: with_default(args, names::OUTPUT, &args.output),
            network: NetworkLayers {
                max_retries: with_default(args, names::MAX_RETRIES, &args.max_retries),
                timeout: with_default(args, names::TIMEOUT, &args.timeout),
                deadline: with_default(args, names::DEADLINE, &args.deadline),
                max_retry_wait: with_default(args, names::MAX_RETRY_WAIT, &args.max_retry_wait),
                max_response_mib: with_default(
                    args,
                    names::MAX_RESPONSE_MIB,
                    &args.max_response_mib,
                ),
            },
            verbose: args.verbose,
        })
    }
}

/// The one credential given by flag or env; `None` when none was (the lower layers' turn).
fn flag_env_credential(
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
fn selector(
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
fn profile_credential(
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
fn params_credential(
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

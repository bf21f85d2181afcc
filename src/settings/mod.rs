//! Layered settings: flags > environment > `--config` parameters.json > profile > defaults,
//! each resolved value tagged with where it came from (`config show` prints both).
//!
//! This module reads the parameters file and the profile file (never over the network) and
//! resolves, layer by layer, every setting that is not a flag/env credential. It does not
//! validate tenant/client/URL syntax (that is `config`'s job) and never holds a secret except
//! the parameters file's plaintext `secret`, already inside `ClientSecret`.
//!
//! The cloud and the hosts resolve together: walking the layers from the top, the first layer
//! that names an authority host (or a Graph endpoint) or a cloud decides it, an explicit host
//! beating the cloud within one layer. So `--cloud usgov` overrides a profile's hosts, and
//! `--graph-endpoint` beats `--cloud`.

pub mod cloud;
pub mod params;
pub mod profile;

use std::fmt;
use std::path::PathBuf;

use crate::cli::{ArgOrigin, AssertionAlg, Cloud, GlobalArgs, KeyringBackend};
use crate::config::Env;

pub use params::{Params, ParamsCredential};
pub use profile::Profile;

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
    fn new(value: T, origin: Origin) -> Self {
        Sourced { value, origin }
    }
}

/// A credential named by the parameters file or the profile (flags and env are `config`'s).
#[derive(Debug)]
pub enum FileCredential {
    Params(ParamsCredential),
    /// The profile's `certificate` [+ `key`].
    ProfileCertificate {
        cert: PathBuf,
        key: Option<PathBuf>,
    },
    /// The profile's `federated_token_file`.
    ProfileFederated(PathBuf),
}

/// Every setting but the flag/env credential, resolved across the layers.
#[derive(Debug)]
pub struct Resolved {
    pub tenant: Option<Sourced<String>>,
    pub client_id: Option<Sourced<String>>,
    pub cloud: Sourced<Cloud>,
    pub authority_host: Sourced<String>,
    pub graph_endpoint: Sourced<String>,
    /// The parameters file's `endpoint` (what `users`/`get` fetch by default).
    pub endpoint: Option<Sourced<url::Url>>,
    pub ca_bundle: Option<Sourced<PathBuf>>,
    pub keyring: Sourced<KeyringBackend>,
    pub assertion_alg: Sourced<AssertionAlg>,
    pub credential: Option<Sourced<FileCredential>>,
    pub params_path: Option<PathBuf>,
    /// The profile in use and its file.
    pub profile: Option<(String, PathBuf)>,
    /// The profile file looked at (even when absent or unused).
    pub profile_file: Option<PathBuf>,
}

/// A parameters or profile file that cannot be used; exit code 2 (through `ConfigError`).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has a comment at line {line}; JSON has no comments", path.display())]
    CommentedJson { path: PathBuf, line: usize },
    #[error("{} is not valid JSON at line {line} column {column}: {what}", path.display())]
    BadJson {
        path: PathBuf,
        line: usize,
        column: usize,
        what: &'static str,
    },
    #[error("\"{key}\" in {} {why}", path.display())]
    BadParam {
        path: PathBuf,
        key: &'static str,
        why: &'static str,
    },
    #[error("{} is not valid TOML at line {line} column {column}", path.display())]
    BadToml {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{key} in {} {why}", path.display())]
    BadProfileKey {
        path: PathBuf,
        key: String,
        why: &'static str,
    },
    #[error("{key} in {} would hold a secret; profiles hold only references to credentials", path.display())]
    SecretInProfile { path: PathBuf, key: String },
    #[error("profile '{profile}' was asked for, but there is no {}", path.display())]
    NoConfigFile { path: PathBuf, profile: String },
    #[error("no profile '{profile}' in {}", path.display())]
    NoSuchProfile {
        path: PathBuf,
        profile: String,
        known: Vec<String>,
    },
    #[error("profile '{profile}' asked for, but neither XDG_CONFIG_HOME nor HOME is set")]
    NoConfigDir { profile: String },
}

impl SettingsError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::Read { path, .. } => format!("check that {} exists and is readable", path.display()),
            Self::CommentedJson { line, .. } => format!(
                "delete the comment at line {line} (and any other // or /* */ lines): the old quickstart's \
                 commented parameters.json is not JSON"
            ),
            Self::BadJson { .. } => "fix the file: it must be one JSON object like the quickstart's parameters.json".into(),
            Self::BadParam { .. } => "see the quickstart's parameters.json: authority, client_id, scope, endpoint, and \
                 secret or thumbprint + private_key_file"
                .into(),
            Self::BadToml { .. } | Self::BadProfileKey { .. } => {
                "profile keys: tenant, client_id, cloud, authority_host, graph_endpoint, ca_bundle, certificate, \
                 key, assertion_alg, keyring, federated_token_file (all strings)"
                    .into()
            }
            Self::SecretInProfile { .. } => "remove it; store a client secret with `graphd secret set` (the profile's \
                 keyring = \"...\" says which keyring), or reference a certificate with certificate = \"PATH\""
                .into(),
            Self::NoConfigFile { path, .. } => format!(
                "create {} with a [profiles.NAME] table, or drop --profile / GRAPHD_PROFILE",
                path.display()
            ),
            Self::NoSuchProfile { known, .. } if known.is_empty() => "the file defines no [profiles.NAME]".into(),
            Self::NoSuchProfile { known, .. } => format!("profiles defined: {}", known.join(", ")),
            Self::NoConfigDir { .. } => "set HOME or XDG_CONFIG_HOME".into(),
        }
    }
}

const DEFAULT_CLOUD: Cloud = Cloud::Public;

/// A flag's value from clap with its origin, or `None` when absent or only clap's default.
fn from_cli<T: Clone>(
    args: &GlobalArgs,
    id: &str,
    flag: &'static str,
    env: &'static str,
    value: Option<&T>,
) -> Option<Sourced<T>> {
    let value = value?.clone();
    match args.origin(id) {
        ArgOrigin::Default => None,
        ArgOrigin::Env => Some(Sourced::new(value, Origin::Env(env))),
        ArgOrigin::CommandLine => Some(Sourced::new(value, Origin::Flag(flag))),
    }
}

/// Splits a clap value into the flag layer and the env layer.
type Split<T> = (Option<Sourced<T>>, Option<Sourced<T>>);
fn split<T>(o: Option<Sourced<T>>) -> Split<T> {
    match o {
        Some(s) if matches!(s.origin, Origin::Env(_)) => (None, Some(s)),
        other => (other, None),
    }
}

/// Resolves every layered setting. Reads `--config` and the profile file, if any.
pub fn resolve(args: &GlobalArgs, env: &dyn Env) -> Result<Resolved, SettingsError> {
    let params = args.config.as_deref().map(params::load).transpose()?;
    let profile_file = profile::default_path(env);
    let profile = match (&profile_file, args.profile.as_deref()) {
        (Some(path), wanted) => profile::select(path, wanted)?,
        (None, Some(p)) => {
            return Err(SettingsError::NoConfigDir {
                profile: p.to_string(),
            });
        }
        (None, None) => None,
    };
    let params_file = params.as_ref().map(|p| p.path.clone()).unwrap_or_default();
    let pp = |key: &'static str| Origin::Params {
        path: params_file.clone(),
        key,
    };
    let pr = |key: &'static str| Origin::Profile {
        name: profile.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        key,
    };

    let tenant = from_cli(
        args,
        "tenant",
        "--tenant",
        "AZURE_TENANT_ID",
        args.tenant.as_ref(),
    )
    .or_else(|| {
        params
            .as_ref()
            .and_then(|p| p.authority.as_ref())
            .map(|(_, t)| Sourced::new(t.clone(), pp("authority")))
    })
    .or_else(|| {
        profile
            .as_ref()
            .and_then(|p| p.tenant.clone())
            .map(|t| Sourced::new(t, pr("tenant")))
    });
    let client_id = from_cli(
        args,
        "client_id",
        "--client-id",
        "AZURE_CLIENT_ID",
        args.client_id.as_ref(),
    )
    .or_else(|| {
        params
            .as_ref()
            .and_then(|p| p.client_id.clone())
            .map(|c| Sourced::new(c, pp("client_id")))
    })
    .or_else(|| {
        profile
            .as_ref()
            .and_then(|p| p.client_id.clone())
            .map(|c| Sourced::new(c, pr("client_id")))
    });

    // The cloud and the hosts, layer by layer (see the module docs).
    let cli_cloud = from_cli(
        args,
        "cloud",
        "--cloud",
        "GRAPHD_CLOUD",
        args.cloud.as_ref(),
    );
    let cli_authority = from_cli(
        args,
        "authority_host",
        "--authority-host",
        "AZURE_AUTHORITY_HOST",
        args.authority_host.as_ref(),
    );
    let cli_graph = from_cli(
        args,
        "graph_endpoint",
        "--graph-endpoint",
        "GRAPHD_GRAPH_ENDPOINT",
        args.graph_endpoint.as_ref(),
    );
    let (flag_cloud, env_cloud) = split(cli_cloud);
    let (flag_authority, env_authority) = split(cli_authority);
    let (flag_graph, env_graph) = split(cli_graph);
    let params_authority = params
        .as_ref()
        .and_then(|p| p.authority.as_ref())
        .map(|(o, _)| Sourced::new(o.clone(), pp("authority")));
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
    let profile_authority = profile
        .as_ref()
        .and_then(|p| p.authority_host.clone())
        .map(|h| Sourced::new(h, pr("authority_host")));
    let profile_graph = profile
        .as_ref()
        .and_then(|p| p.graph_endpoint.clone())
        .map(|h| Sourced::new(h, pr("graph_endpoint")));
    let layers_cloud = [flag_cloud, env_cloud, None, profile_cloud];
    let cloud = layers_cloud
        .iter()
        .flatten()
        .next()
        .cloned()
        .unwrap_or(Sourced::new(DEFAULT_CLOUD, Origin::Default));
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
        Sourced::new(of(DEFAULT_CLOUD).to_string(), Origin::Default)
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
    let ca_bundle = from_cli(
        args,
        "ca_bundle",
        "--ca-bundle",
        "GRAPHD_CA_BUNDLE",
        args.ca_bundle.as_ref(),
    )
    .or_else(|| {
        profile
            .as_ref()
            .and_then(|p| p.ca_bundle.clone())
            .map(|c| Sourced::new(c, pr("ca_bundle")))
    });
    let keyring = from_cli(
        args,
        "keyring",
        "--keyring",
        "GRAPHD_KEYRING",
        Some(&args.keyring),
    )
    .or_else(|| {
        profile
            .as_ref()
            .and_then(|p| p.keyring)
            .map(|k| Sourced::new(k, pr("keyring")))
    })
    .unwrap_or(Sourced::new(args.keyring, Origin::Default));
    let assertion_alg = from_cli(
        args,
        "assertion_alg",
        "--assertion-alg",
        "GRAPHD_ASSERTION_ALG",
        args.assertion_alg.as_ref(),
    )
    .or_else(|| {
        profile
            .as_ref()
            .and_then(|p| p.assertion_alg)
            .map(|a| Sourced::new(a, pr("assertion_alg")))
    })
    .unwrap_or(Sourced::new(AssertionAlg::Ps256, Origin::Default));

    let params_path = params.as_ref().map(|p| p.path.clone());
    let credential = params
        .and_then(|p| p.credential)
        .map(|c| {
            let key = match c {
                ParamsCredential::Secret(_) => "secret",
                ParamsCredential::KeyWithThumbprint { .. } => "thumbprint",
                ParamsCredential::Certificate { .. } => "private_key_file",
            };
            Sourced::new(FileCredential::Params(c), pp(key))
        })
        .or_else(|| {
            let p = profile.as_ref()?;
            if let Some(cert) = &p.certificate {
                return Some(Sourced::new(
                    FileCredential::ProfileCertificate {
                        cert: cert.clone(),
                        key: p.key.clone(),
                    },
                    pr("certificate"),
                ));
            }
            p.federated_token_file.clone().map(|f| {
                Sourced::new(
                    FileCredential::ProfileFederated(f),
                    pr("federated_token_file"),
                )
            })
        });

    Ok(Resolved {
        tenant,
        client_id,
        cloud,
        authority_host,
        graph_endpoint,
        endpoint,
        ca_bundle,
        keyring,
        assertion_alg,
        credential,
        params_path,
        profile: profile.map(|p| (p.name, p.path)),
        profile_file,
    })
}

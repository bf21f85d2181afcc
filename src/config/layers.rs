//! The layers: every setting resolved across flags, environment, the `--config` parameters
//! file, the profile and defaults (in that order), each value tagged with where it came from
//! (`sourced`). The credential (`credential`), the token cache switch and `x5c` are layered
//! here like everything else; `config show` prints these values and origins as they are, and
//! `Config::from_layers` validates them.
//!
//! The cloud and the hosts resolve together: walking the layers from the top, the first layer
//! that names an authority host (or a Graph endpoint) or a cloud decides it, an explicit host
//! beating the cloud within one layer. So `--cloud usgov` overrides a profile's hosts, and
//! `--graph-endpoint` beats `--cloud`. This module reads the parameters and profile files
//! (never the network) and never validates syntax (that is `Config`'s job).

use std::path::PathBuf;

use url::Url;

use super::ConfigError;
use super::credential::{
    CredentialLayer, PasswordLayer, PinLayer, flag_env_credential, params_credential,
    profile_credential, selector,
};
use super::env::Env;
use super::params;
use super::profile;
use super::sourced::{Origin, Sourced, from_cli, split, switch, with_default};
use crate::cli::GlobalArgs;
use crate::cloud::Cloud;
use crate::credential::managed_identity::Selector;
use crate::credential::{AssertionAlg, KeyringBackend};
use crate::names::{self, ENV_CERT_PASSWORD, ENV_PKCS11_PIN, ENV_TOKEN_CACHE};
use crate::output::OutputFormat;
use crate::secret::{CertPassword, Pin};

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

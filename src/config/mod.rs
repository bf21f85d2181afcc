//! One configuration pipeline: `cli`'s flags (with clap's env fallbacks) and the environment
//! (`env`), the quickstart's parameters file (`params`) and a profile (`profile`) are layered
//! with their origins (`layers`, the credential's own layering in `credential`, a value and its
//! origin in `sourced`), then validated here into one typed [`Config`]; `error` says what the
//! user must fix.
//!
//! `cli` types stop here and in `commands`. This module does no network I/O; it reads only the
//! parameters and profile files. Credential *sources* are resolved (which one, from where);
//! `credential` later reads them. `token` and `graph` get the narrow parts they need
//! ([`Config::token_request`], [`Config::graph_target`]), never the whole `Config`.

mod credential;
pub mod env;
mod error;
pub mod layers;
pub mod params;
pub mod profile;
mod sourced;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use graphd_win::certstore::StoreName;
use url::Url;

pub use credential::CredentialLayer;
pub use env::{Env, MapEnv, ProcessEnv};
pub use error::ConfigError;
pub use layers::Layers;
pub use sourced::{Origin, Sourced};

use crate::cli::GlobalArgs;
use crate::cloud::Cloud;
use crate::credential::managed_identity::Chosen;
use crate::credential::pkcs11::PinSource;
use crate::credential::{
    AssertionAlg, CertSource, CertSpec, CredentialSource, KeyringSlot, ManagedIdentitySpec,
    PasswordSource, SecretFile,
};
use crate::graph::Target;
use crate::names;
use crate::output::OutputFormat;
use crate::retry::RetryPolicy;
use crate::secret::{CertPassword, Pin};
use crate::token::TokenRequest;

/// Tenant names that do not work for the client-credentials grant (AADSTS90130 / 9001023).
const MULTI_TENANT_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];

/// Everything graphd needs to run, validated.
pub struct Config {
    /// Empty only with `--managed-identity` when none was given (the identity needs none).
    pub tenant: String,
    /// Empty with `--managed-identity` (the identity is not an app; `AZURE_CLIENT_ID` may name
    /// a user-assigned identity instead).
    pub client_id: String,
    /// Origin of the authority, no trailing slash, e.g. `https://login.microsoftonline.com`.
    pub authority_host: Url,
    /// Origin of Graph, no trailing slash, e.g. `https://graph.microsoft.com`.
    pub graph_endpoint: Url,
    /// The national cloud the hosts came from (or `public`).
    pub cloud: Cloud,
    /// The `--config` file's `endpoint`: what `users` / `get` fetch by default.
    pub endpoint: Option<Url>,
    pub ca_bundle: Option<PathBuf>,
    pub credential: CredentialSource,
    /// `--pkcs11-module` / `GRAPHD_PKCS11_MODULE`: the module of token keys whose URI names none.
    pub pkcs11_module: Option<PathBuf>,
    /// The keyring holding this app's stored secret.
    pub keyring: KeyringSlot,
    /// Whether tokens are cached across runs.
    pub token_cache: bool,
    pub output: OutputFormat,
    pub verbose: u8,
    /// Retries, per-request timeout and the overall deadline (counted from `from_layers`).
    pub retry: RetryPolicy,
    /// The largest response body accepted, in bytes.
    pub max_response_bytes: u64,
}

// Hand-written so that `debug!("{config:?}")` is always safe (STYLE habit 7).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("authority_host", &self.authority_host.as_str())
            .field("graph_endpoint", &self.graph_endpoint.as_str())
            .field("ca_bundle", &self.ca_bundle)
            .field("credential", &self.credential.describe())
            .field("keyring", &self.keyring.backend.name())
            .field("token_cache", &self.token_cache)
            .field("max_retries", &self.retry.max_retries)
            .field("timeout", &self.retry.timeout)
            .field("deadline", &self.retry.deadline_len)
            .field("max_retry_wait", &self.retry.max_wait)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// The origin of an https URL, without a trailing slash.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl Config {
    /// Layers flags, env, `--config` and the profile, and validates the result.
    pub fn from_args(args: &GlobalArgs, env: &dyn Env) -> Result<Config, ConfigError> {
        Config::from_layers(Layers::resolve(args, env)?)
    }

    /// Validates resolved layers.
    pub fn from_layers(l: Layers) -> Result<Config, ConfigError> {
        // A managed identity's token comes from the platform: it needs no tenant or client id.
        let plain_mi = matches!(
            l.credential,
            Some(Sourced {
                value: CredentialLayer::ManagedIdentity {
                    federated: false,
                    ..
                },
                ..
            })
        );
        let tenant = l.tenant.map(|s| s.value).filter(|t| !t.is_empty());
        let tenant = match tenant {
            Some(t) => validate_tenant(t)?,
            None if plain_mi => String::new(),
            None => return Err(ConfigError::MissingTenant),
        };
        let client_id = match l.client_id.map(|s| s.value).filter(|c| !c.is_empty()) {
            _ if plain_mi => String::new(),
            Some(c) => c,
            None => return Err(ConfigError::MissingClientId),
        };
        if !client_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ConfigError::InvalidClientId(client_id));
        }
        let n = &l.network;
        let retry = RetryPolicy::new(
            n.max_retries.value,
            Duration::from_secs(n.timeout.value),
            Duration::from_secs(n.max_retry_wait.value),
            Duration::from_secs(n.deadline.value),
            Instant::now(),
        );
        let ca_bundle = l.ca_bundle.map(|s| s.value);
        let chosen = match l.managed_identity_selector {
            Some(s) => {
                if let Err(why) = s.value.check() {
                    return Err(ConfigError::BadSelector {
                        what: s.value.to_string(),
                        from: s.origin.to_string(),
                        why,
                    });
                }
                Some(Chosen {
                    selector: s.value,
                    from: s.origin.to_string(),
                })
            }
            None => None,
        };
        let authority_host = parse_origin(names::AUTHORITY_HOST.flag, &l.authority_host.value)?;
        let graph_endpoint = parse_origin(names::GRAPH_ENDPOINT.flag, &l.graph_endpoint.value)?;
        let keyring = KeyringSlot::new(
            l.keyring.value,
            &origin(&authority_host),
            &tenant,
            &client_id,
        );
        let alg =
            (!matches!(l.assertion_alg.origin, Origin::Default)).then_some(l.assertion_alg.value);
        let pkcs11_module = l.pkcs11_module.map(|s| s.value);
        let credential = match l.credential.map(|c| c.value) {
            None => CredentialSource::Keyring(keyring.clone()),
            Some(CredentialLayer::SecretEnv(s)) => CredentialSource::SecretEnv(s),
            Some(CredentialLayer::SecretStdin) => CredentialSource::SecretStdin,
            Some(CredentialLayer::SecretFile(path)) => CredentialSource::SecretFile(SecretFile {
                path,
                mode: None,
                exposed: None,
                allow_insecure: l.allow_insecure_key_file.value,
            }),
            Some(CredentialLayer::SecretParams(s, path, mode, exposed)) => {
                CredentialSource::SecretParams(
                    s,
                    SecretFile {
                        path,
                        mode,
                        exposed,
                        allow_insecure: l.allow_insecure_key_file.value,
                    },
                )
            }
            Some(CredentialLayer::FederatedFile(p)) => CredentialSource::FederatedFile(p),
            Some(CredentialLayer::ManagedIdentity {
                federated,
                detection,
            }) => {
                let spec = ManagedIdentitySpec {
                    detection,
                    chosen,
                    ca_bundle: ca_bundle.clone(),
                    retry: retry.clone(),
                };
                if federated {
                    CredentialSource::FederatedManagedIdentity {
                        spec,
                        audience: l.cloud.value.token_exchange_audience(),
                    }
                } else {
                    CredentialSource::ManagedIdentity(spec)
                }
            }
            Some(CredentialLayer::CertStore { store, thumbprint }) => {
                if !cfg!(windows) {
                    return Err(ConfigError::CertStoreNotOnThisPlatform);
                }
                let parsed = StoreName::parse(&store)
                    .map_err(|why| ConfigError::InvalidCertStore { value: store, why })?;
                CredentialSource::Certificate(CertSource {
                    spec: CertSpec {
                        cert: None,
                        key: None,
                        pkcs11_module: None,
                        thumbprint: Some(thumbprint),
                        store: Some(parsed),
                        alg,
                        send_x5c: l.send_x5c.value,
                        allow_insecure_key_file: l.allow_insecure_key_file.value,
                    },
                    password: password_source(l.password.env, l.password.stdin),
                    pin: pin_source(l.pin.env, l.pin.stdin),
                })
            }
            Some(CredentialLayer::Certificate {
                cert,
                key,
                thumbprint,
            }) => CredentialSource::Certificate(CertSource {
                spec: CertSpec {
                    cert,
                    key,
                    pkcs11_module: pkcs11_module.clone(),
                    thumbprint,
                    store: None,
                    alg,
                    send_x5c: l.send_x5c.value,
                    allow_insecure_key_file: l.allow_insecure_key_file.value,
                },
                password: password_source(l.password.env, l.password.stdin),
                pin: pin_source(l.pin.env, l.pin.stdin),
            }),
        };
        Ok(Config {
            tenant,
            client_id,
            authority_host,
            graph_endpoint,
            cloud: l.cloud.value,
            endpoint: l.endpoint.map(|s| s.value),
            ca_bundle,
            credential,
            pkcs11_module,
            keyring,
            token_cache: l.token_cache.value,
            output: l.output.value,
            verbose: l.verbose,
            retry,
            max_response_bytes: n.max_response_mib.value * 1024 * 1024,
        })
    }

    /// `{graph-endpoint}/.default`: every application permission granted on Graph.
    pub fn scope(&self) -> String {
        format!("{}/.default", origin(&self.graph_endpoint))
    }

    /// What the token flow needs: authority, tenant, client, scope (Graph's, or `scope`),
    /// retry policy and the cache switch.
    pub fn token_request(&self, scope: Option<String>) -> TokenRequest {
        TokenRequest {
            authority: self.authority_host.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            scope: scope.unwrap_or_else(|| self.scope()),
            retry: self.retry.clone(),
            cache: self.token_cache,
        }
    }

    /// What the Graph client needs: the origin, the consent URL for hints, the retry policy.
    pub fn graph_target(&self) -> Target {
        Target {
            endpoint: self.graph_endpoint.clone(),
            consent_url: self.admin_consent_url(),
            retry: self.retry.clone(),
        }
    }

    /// The URL an admin opens to grant the app's application permissions.
    pub fn admin_consent_url(&self) -> String {
        let mut url = self.authority_host.clone();
        url.set_path(&format!("{}/adminconsent", self.tenant));
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id);
        url.to_string()
    }

    /// The v2.0 admin-consent URL, with `scope=GRAPH/.default`.
    pub fn admin_consent_url_v2(&self) -> String {
        let mut url = self.authority_host.clone();
        url.set_path(&format!("{}/v2.0/adminconsent", self.tenant));
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", &self.scope());
        url.to_string()
    }

    /// `{graph-endpoint}/v1.0/users`.
    pub fn users_url(&self) -> Url {
        let mut url = self.graph_endpoint.clone();
        url.set_path("v1.0/users");
        url
    }

    /// The tenant and client id, for what needs an app (a consent URL, the keyring slot): with
    /// `--managed-identity` they may be absent.
    pub fn require_app(&self) -> Result<(), ConfigError> {
        if self.tenant.is_empty() {
            return Err(ConfigError::MissingTenant);
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::MissingClientId);
        }
        Ok(())
    }

    /// Whether the credential is a managed identity, directly or as the app's federated one.
    pub fn is_managed_identity(&self) -> bool {
        matches!(
            self.credential,
            CredentialSource::ManagedIdentity(_)
                | CredentialSource::FederatedManagedIdentity { .. }
        )
    }

    /// The password source of the certificate credential, for a second certificate read in
    /// the same run (`cert rotate`'s new one): the same env value, else a prompt.
    pub fn cert_password(&self) -> PasswordSource {
        match &self.credential {
            CredentialSource::Certificate(CertSource {
                password: p @ PasswordSource::Env(_),
                ..
            }) => p.duplicate(),
            _ => PasswordSource::Prompt,
        }
    }

    /// The PIN source of the credential's token, for a second token key in the same run
    /// (`cert rotate`'s new one): the same source (stdin gives one token's PIN only).
    pub fn pin_source(&self) -> PinSource {
        match &self.credential {
            CredentialSource::Certificate(c) => c.pin.duplicate(),
            _ => PinSource::Prompt,
        }
    }

    /// The algorithm the certificate credential was asked to sign with, if named.
    pub fn assertion_alg(&self) -> Option<AssertionAlg> {
        match &self.credential {
            CredentialSource::Certificate(c) => c.spec.alg,
            _ => None,
        }
    }
}

/// The password source for a certificate: the env value, else stdin, else a prompt.
pub fn password_source(env: Option<CertPassword>, stdin: bool) -> PasswordSource {
    match (env, stdin) {
        (Some(p), _) => PasswordSource::Env(p),
        (None, true) => PasswordSource::Stdin,
        (None, false) => PasswordSource::Prompt,
    }
}

/// The PIN source for a token key: `--pin-stdin`, else the env value, else a prompt (the URI's
/// `pin-source` is weighed when the PIN is read: after stdin, before the env value).
pub fn pin_source(env: Option<Pin>, stdin: bool) -> PinSource {
    match (stdin, env) {
        (true, _) => PinSource::Stdin,
        (false, Some(p)) => PinSource::Env(p),
        (false, None) => PinSource::Prompt,
    }
}

/// The one rule for standard input: at most one input may read it.
pub fn one_stdin(users: &[(bool, &str)]) -> Result<(), ConfigError> {
    let mut using = users.iter().filter(|(used, _)| *used).map(|(_, n)| *n);
    match (using.next(), using.next()) {
        (Some(a), Some(b)) => Err(ConfigError::StdinTwice(a.into(), b.into())),
        _ => Ok(()),
    }
}

/// `RESOURCE/.default`, one resource (`graphd token --scope`).
pub fn check_scope(scope: &str) -> Result<(), ConfigError> {
    let ok = scope
        .strip_suffix("/.default")
        .and_then(|r| Url::parse(r).ok())
        .is_some_and(|u| u.scheme() == "https" || u.scheme() == "api")
        && !scope.contains(' ');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadScope(scope.to_string()))
    }
}

fn validate_tenant(tenant: String) -> Result<String, ConfigError> {
    if MULTI_TENANT_ALIASES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&tenant))
    {
        return Err(ConfigError::MultiTenantAlias(tenant));
    }
    // A GUID or a DNS name: letters, digits, '-' and '.', nothing that could change the URL path.
    let ok = tenant.len() <= 253
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !tenant.starts_with('.')
        && !tenant.contains("..");
    if ok {
        Ok(tenant)
    } else {
        Err(ConfigError::InvalidTenant(tenant))
    }
}

fn parse_origin(flag: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|source| ConfigError::InvalidUrl {
        flag,
        value: value.to_string(),
        source,
    })?;
    if url.scheme() != "https" {
        return Err(ConfigError::NotHttps {
            flag,
            value: value.to_string(),
        });
    }
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !bare || url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::NotAnOrigin {
            flag,
            value: value.to_string(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests;

//! Turns flags and environment into one validated, typed `Config`.
//!
//! `cli` types stop here. This module does no network I/O and reads no files itself (the
//! `settings` layers read `--config` and the profile): credential *sources* are resolved
//! (which one, from where), and `credential` later reads them. The
//! environment is read through the `Env` trait so tests never mutate process env. Values
//! that clap already took from the environment (`env = ...` on a flag) arrive as flags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use url::Url;

use crate::cli::{AssertionAlg, Cloud, GlobalArgs, OutputFormat};
use crate::credential::CertSpec;
use crate::credential::certificate::parse_thumbprint;
use crate::credential::keyring::KeyringSlot;
use crate::retry::RetryPolicy;
use crate::secret::{CertPassword, ClientSecret};
use crate::settings::{FileCredential, ParamsCredential, SettingsError};

/// Where environment variables come from: the process, or a map in tests.
pub trait Env {
    /// The variable's value, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Env var holding a client secret (azure-identity's name).
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// Env var holding the path of a PEM with certificate and key (azure-identity's name).
pub const ENV_CERT_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// Env var holding the password of an encrypted key or PKCS#12 file (azure-identity's name).
pub const ENV_CERT_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// Env var asking for the `x5c` header (azure-identity's name): `1` or `true`.
pub const ENV_SEND_CHAIN: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
/// Env var naming the CI provider's token file (azure-identity's name).
pub const ENV_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// Env var that turns the token cache off (`off`, `0`, `false`, `no`) or on.
pub const ENV_TOKEN_CACHE: &str = "GRAPHD_TOKEN_CACHE";

/// Tenant names that do not work for the client-credentials grant (AADSTS90130 / 9001023).
const MULTI_TENANT_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];

/// Everything graphd needs to run, validated.
pub struct Config {
    pub tenant: String,
    pub client_id: String,
    /// Origin of the authority, no trailing slash, e.g. `https://login.microsoftonline.com`.
    pub authority_host: Url,
    /// Origin of Graph, no trailing slash, e.g. `https://graph.microsoft.com`.
    pub graph_endpoint: Url,
    pub ca_bundle: Option<PathBuf>,
    pub credential: CredentialSource,
    /// The keyring holding this app's stored secret.
    pub keyring: KeyringSlot,
    /// Whether tokens are cached across runs.
    pub token_cache: bool,
    pub verbose: u8,
    /// The national cloud the hosts came from (or `public`).
    pub cloud: Cloud,
    /// The `--config` file's `endpoint`: what `users` / `get` fetch by default.
    pub endpoint: Option<Url>,
    /// A scope other than Graph's (`graphd token --scope`).
    pub scope_override: Option<String>,
    pub output: OutputFormat,
    /// Retries, per-request timeout and the overall deadline (counted from `from_args`).
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

impl Config {
    /// The token endpoint: one POST, no discovery round trip.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            origin(&self.authority_host),
            self.tenant
        )
    }

    /// `{graph-endpoint}/.default`: every application permission granted on Graph
    /// (or `graphd token --scope`).
    pub fn scope(&self) -> String {
        match &self.scope_override {
            Some(s) => s.clone(),
            None => format!("{}/.default", origin(&self.graph_endpoint)),
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

    /// `{graph-endpoint}/v1.0/users`.
    pub fn users_url(&self) -> Url {
        let mut url = self.graph_endpoint.clone();
        url.set_path("v1.0/users");
        url
    }
}

/// The origin of an https URL, without a trailing slash.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Which credential to use, and where its secret part is to be read from.
pub enum CredentialSource {
    /// `AZURE_CLIENT_SECRET`, already read (it was in the environment anyway).
    SecretEnv(ClientSecret),
    /// `--secret-stdin`.
    SecretStdin,
    /// `--secret-file PATH`.
    SecretFile(PathBuf),
    /// `--cert` [+ `--key`], `--thumbprint` + `--key`, or `AZURE_CLIENT_CERTIFICATE_PATH`.
    Certificate {
        spec: CertSpec,
        /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`, if set (used only if a password is needed).
        password_env: Option<CertPassword>,
        /// `--cert-password-stdin`.
        password_stdin: bool,
    },
    /// `--federated-token-file` / `AZURE_FEDERATED_TOKEN_FILE`: workload identity federation.
    FederatedFile(PathBuf),
    /// None given by flag or env: the secret stored by `graphd secret set`, if any.
    Keyring(KeyringSlot),
    /// The `secret` of a `--config` parameters file (plaintext there; already read).
    SecretConfigFile(ClientSecret, PathBuf),
}

impl CredentialSource {
    /// A non-secret description for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::SecretEnv(_) => format!("client secret from {ENV_CLIENT_SECRET}"),
            Self::SecretStdin => "client secret from stdin".into(),
            Self::SecretFile(p) => format!("client secret from file {}", p.display()),
            Self::Certificate { spec, .. } => format!(
                "certificate {} (key {})",
                spec.cert
                    .as_ref()
                    .map_or("by thumbprint".into(), |c| c.display().to_string()),
                spec.key
                    .as_ref()
                    .map_or("in the same file".into(), |k| k.display().to_string())
            ),
            Self::FederatedFile(p) => format!("federated token file {}", p.display()),
            Self::Keyring(slot) => {
                format!("client secret from the {} keyring", slot.backend.name())
            }
            Self::SecretConfigFile(_, p) => {
                format!(
                    "client secret [redacted] from parameters file {}",
                    p.display()
                )
            }
        }
    }
}

/// A configuration the user must fix; exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no tenant given")]
    MissingTenant,
    #[error("no client id given")]
    MissingClientId,
    #[error("tenant '{0}' cannot be used for app-only tokens")]
    MultiTenantAlias(String),
    #[error("tenant '{0}' is not a tenant id or domain")]
    InvalidTenant(String),
    #[error("client id '{0}' is not valid")]
    InvalidClientId(String),
    #[error("{flag} '{value}' is not a valid URL")]
    InvalidUrl {
        flag: &'static str,
        value: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{flag} '{value}' is not https")]
    NotHttps { flag: &'static str, value: String },
    #[error("{flag} '{value}' must be an origin (scheme://host[:port]) without path or query")]
    NotAnOrigin { flag: &'static str, value: String },
    #[error("{ENV_TOKEN_CACHE}={0:?} is neither on nor off")]
    InvalidTokenCacheEnv(String),
    #[error("--thumbprint '{0}' is not a SHA-1 thumbprint (40 hex digits, colons allowed)")]
    InvalidThumbprint(String),
    #[error("--thumbprint cannot sign PS256: x5t#S256 is a hash of the certificate itself")]
    ThumbprintNeedsRs256,
    #[error("--send-x5c needs the certificate chain, not just a thumbprint")]
    X5cNeedsCertificate,
    #[error("--key needs --cert or --thumbprint")]
    KeyWithoutCertificate,
    #[error("{0} and {1} cannot both read standard input")]
    StdinTwice(String, String),
    #[error("two credentials given: {0} and {1}")]
    TwoCredentials(String, String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl ConfigError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::MissingTenant => "pass --tenant or set AZURE_TENANT_ID".into(),
            Self::MissingClientId => "pass --client-id or set AZURE_CLIENT_ID".into(),
            Self::MultiTenantAlias(_) => {
                "the client-credentials grant needs the tenant's id (a GUID) or its domain, \
                 e.g. contoso.onmicrosoft.com"
                    .into()
            }
            Self::InvalidTenant(_) => {
                "use the directory (tenant) id GUID or a verified domain, as shown in the portal"
                    .into()
            }
            Self::InvalidClientId(_) => {
                "use the application (client) id GUID of the app registration".into()
            }
            Self::NotHttps { .. } => "graphd only talks https; use an https:// URL".into(),
            Self::InvalidUrl { .. } | Self::NotAnOrigin { .. } => {
                "e.g. https://login.microsoftonline.com or https://graph.microsoft.com".into()
            }
            Self::InvalidTokenCacheEnv(_) => format!("set {ENV_TOKEN_CACHE} to off or on"),
            Self::TwoCredentials(..) => "give exactly one credential".into(),
            Self::InvalidThumbprint(_) => {
                "copy the thumbprint from the app registration's Certificates & secrets".into()
            }
            Self::ThumbprintNeedsRs256 => {
                "drop --assertion-alg ps256, or pass the certificate with --cert".into()
            }
            Self::X5cNeedsCertificate => "pass the certificate chain with --cert".into(),
            Self::KeyWithoutCertificate => {
                "pass the certificate with --cert, or its thumbprint with --thumbprint".into()
            }
            Self::StdinTwice(..) => "read one of them from a file or /dev/fd/N instead".into(),
            Self::Settings(e) => e.hint(),
        })
    }
}

impl Config {
    /// Validates flags (already merged with clap's env fallbacks), the credential env, and
    /// the lower layers (`--config`, profile, defaults) that `settings` resolved.
    pub fn from_args(args: &GlobalArgs, env: &dyn Env) -> Result<Config, ConfigError> {
        let r = crate::settings::resolve(args, env)?;
        let tenant = r
            .tenant
            .map(|s| s.value)
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::MissingTenant)?;
        let tenant = validate_tenant(tenant)?;
        let client_id = r
            .client_id
            .map(|s| s.value)
            .filter(|c| !c.is_empty())
            .ok_or(ConfigError::MissingClientId)?;
        if !client_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ConfigError::InvalidClientId(client_id));
        }
        let authority_host = parse_origin("--authority-host", &r.authority_host.value)?;
        let graph_endpoint = parse_origin("--graph-endpoint", &r.graph_endpoint.value)?;
        let keyring = KeyringSlot::new(
            r.keyring.value,
            &origin(&authority_host),
            &tenant,
            &client_id,
        );
        // An algorithm named by flag, env or profile; else PS256 where a certificate allows it.
        let alg = (!matches!(r.assertion_alg.origin, crate::settings::Origin::Default))
            .then_some(r.assertion_alg.value);
        let file_cert = |cert: Option<PathBuf>, key: Option<PathBuf>, thumbprint: Option<&str>| {
            let thumbprint = match thumbprint {
                Some(hex) => Some(
                    parse_thumbprint(hex)
                        .ok_or_else(|| ConfigError::InvalidThumbprint(hex.to_string()))?,
                ),
                None => None,
            };
            Ok::<_, ConfigError>(cert_source(args, env, alg, cert, key, thumbprint))
        };
        let credential = match resolve_credential(args, env, alg)? {
            Some(c) => c,
            None => match r.credential.map(|c| c.value) {
                None => CredentialSource::Keyring(keyring.clone()),
                Some(FileCredential::Params(ParamsCredential::Secret(s))) => {
                    CredentialSource::SecretConfigFile(s, r.params_path.clone().unwrap_or_default())
                }
                Some(FileCredential::Params(ParamsCredential::KeyWithThumbprint {
                    key,
                    thumbprint,
                })) => file_cert(None, Some(key), Some(&thumbprint))?,
                Some(FileCredential::Params(ParamsCredential::Certificate {
                    cert,
                    key: Some(key),
                    thumbprint: Some(thumbprint),
                })) => file_cert(Some(cert), Some(key), Some(&thumbprint))?,
                Some(FileCredential::Params(ParamsCredential::Certificate {
                    cert, key, ..
                }))
                | Some(FileCredential::ProfileCertificate { cert, key }) => {
                    file_cert(Some(cert), key, None)?
                }
                Some(FileCredential::ProfileFederated(f)) => CredentialSource::FederatedFile(f),
            },
        };
        let token_cache = match env.var(ENV_TOKEN_CACHE).map(|v| v.to_ascii_lowercase()) {
            _ if args.no_token_cache => false,
            None => true,
            Some(v) if ["off", "0", "false", "no"].contains(&v.as_str()) => false,
            Some(v) if ["on", "1", "true", "yes", ""].contains(&v.as_str()) => true,
            Some(v) => return Err(ConfigError::InvalidTokenCacheEnv(v)),
        };
        Ok(Config {
            tenant,
            client_id,
            authority_host,
            graph_endpoint,
            ca_bundle: r.ca_bundle.map(|s| s.value),
            credential,
            keyring,
            token_cache,
            verbose: args.verbose,
            cloud: r.cloud.value,
            endpoint: r.endpoint.map(|s| s.value),
            scope_override: None,
            output: args.output,
            retry: RetryPolicy::new(
                args.max_retries,
                Duration::from_secs(args.timeout),
                Duration::from_secs(args.max_retry_wait),
                Duration::from_secs(args.deadline),
                Instant::now(),
            ),
            max_response_bytes: args.max_response_mib * 1024 * 1024,
        })
    }
}

/// A certificate credential with the options every form shares (x5c, key-file check,
/// where a password comes from).
fn cert_source(
    args: &GlobalArgs,
    env: &dyn Env,
    alg: Option<AssertionAlg>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    thumbprint: Option<Vec<u8>>,
) -> CredentialSource {
    CredentialSource::Certificate {
        spec: CertSpec {
            cert,
            key,
            thumbprint,
            alg,
            send_x5c: args.send_x5c || env_flag(env, ENV_SEND_CHAIN),
            allow_insecure_key_file: args.allow_insecure_key_file,
        },
        password_env: env.var(ENV_CERT_PASSWORD).map(CertPassword::new),
        password_stdin: args.cert_password_stdin,
    }
}

/// An env var meaning yes: `1` or `true` (any case), as azure-identity reads them.
fn env_flag(env: &dyn Env, name: &str) -> bool {
    env.var(name)
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
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

/// The one credential given by flag or env; `None` when none was (the lower layers' turn).
pub(crate) fn resolve_credential(
    args: &GlobalArgs,
    env: &dyn Env,
    alg: Option<AssertionAlg>,
) -> Result<Option<CredentialSource>, ConfigError> {
    let mut found: Vec<(String, CredentialSource)> = Vec::new();
    if args.secret_stdin {
        found.push(("--secret-stdin".into(), CredentialSource::SecretStdin));
    }
    if let Some(path) = &args.secret_file {
        found.push((
            "--secret-file".into(),
            CredentialSource::SecretFile(path.clone()),
        ));
    }
    let cert_spec = |cert: Option<PathBuf>, thumbprint: Option<Vec<u8>>| {
        cert_source(args, env, alg, cert, args.key.clone(), thumbprint)
    };
    if let Some(cert) = &args.cert {
        found.push(("--cert".into(), cert_spec(Some(cert.clone()), None)));
    }
    if let Some(hex) = &args.thumbprint {
        let thumbprint =
            parse_thumbprint(hex).ok_or_else(|| ConfigError::InvalidThumbprint(hex.clone()))?;
        if alg == Some(AssertionAlg::Ps256) {
            return Err(ConfigError::ThumbprintNeedsRs256);
        }
        if args.send_x5c {
            return Err(ConfigError::X5cNeedsCertificate);
        }
        found.push(("--thumbprint".into(), cert_spec(None, Some(thumbprint))));
    }
    if let Some(secret) = env.var(ENV_CLIENT_SECRET).filter(|s| !s.is_empty()) {
        found.push((
            format!("{ENV_CLIENT_SECRET} (env)"),
            CredentialSource::SecretEnv(ClientSecret::new(secret)),
        ));
    }
    if let Some(path) = &args.federated_token_file {
        found.push((
            "--federated-token-file".into(),
            CredentialSource::FederatedFile(path.clone()),
        ));
    }
    if let Some(path) = env.var(ENV_FEDERATED_TOKEN_FILE).filter(|s| !s.is_empty()) {
        found.push((
            format!("{ENV_FEDERATED_TOKEN_FILE} (env)"),
            CredentialSource::FederatedFile(path.into()),
        ));
    }
    if let Some(path) = env.var(ENV_CERT_PATH).filter(|s| !s.is_empty()) {
        found.push((
            format!("{ENV_CERT_PATH} (env)"),
            cert_spec(Some(path.into()), None),
        ));
    }
    let is_cert = found
        .iter()
        .any(|(_, s)| matches!(s, CredentialSource::Certificate { .. }));
    if args.key.is_some() && !is_cert {
        return Err(ConfigError::KeyWithoutCertificate);
    }
    // Only one input can read standard input.
    let stdin_users: Vec<&str> = [
        (args.secret_stdin, "--secret-stdin"),
        (args.cert.as_deref() == Some(Path::new("-")), "--cert -"),
        (args.key.as_deref() == Some(Path::new("-")), "--key -"),
        (args.cert_password_stdin && is_cert, "--cert-password-stdin"),
    ]
    .into_iter()
    .filter_map(|(used, name)| used.then_some(name))
    .collect();
    if let [a, b, ..] = stdin_users[..] {
        return Err(ConfigError::StdinTwice(a.into(), b.into()));
    }
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (None, _) => Ok(None),
        (Some((_, source)), None) => Ok(Some(source)),
        (Some((a, _)), Some((b, _))) => Err(ConfigError::TwoCredentials(a, b)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, KeyringBackend};

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(pairs.iter().copied().collect())
    }

    fn parse(extra: &[&str], env: &MapEnv) -> Result<Config, ConfigError> {
        let mut argv = vec![
            "graphd",
            "users",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--client-id",
            "c1",
        ];
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv).unwrap();
        Config::from_args(&cli.global, env)
    }

    #[test]
    fn derived_urls() {
        let c = parse(&["--secret-stdin"], &env(&[])).unwrap();
        assert_eq!(
            c.token_url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
        assert_eq!(
            c.admin_consent_url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=c1"
        );
        assert_eq!(
            c.users_url().as_str(),
            "https://graph.microsoft.com/v1.0/users"
        );
    }

    #[test]
    fn trailing_slash_and_port_are_kept_as_origin() {
        let c = parse(
            &[
                "--secret-stdin",
                "--graph-endpoint",
                "https://127.0.0.1:8443/",
                "--authority-host",
                "https://[::1]:9/",
            ],
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.scope(), "https://127.0.0.1:8443/.default");
        assert_eq!(
            c.token_url(),
            "https://[::1]:9/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn http_and_paths_are_refused() {
        let e = parse(
            &[
                "--secret-stdin",
                "--graph-endpoint",
                "http://graph.microsoft.com",
            ],
            &env(&[]),
        );
        assert!(matches!(
            e,
            Err(ConfigError::NotHttps {
                flag: "--graph-endpoint",
                ..
            })
        ));
        let e = parse(
            &["--secret-stdin", "--authority-host", "http://127.0.0.1:1"],
            &env(&[]),
        );
        assert!(matches!(
            e,
            Err(ConfigError::NotHttps {
                flag: "--authority-host",
                ..
            })
        ));
        let e = parse(
            &[
                "--secret-stdin",
                "--authority-host",
                "https://login.microsoftonline.com/tenant",
            ],
            &env(&[]),
        );
        assert!(matches!(e, Err(ConfigError::NotAnOrigin { .. })));
        let e = parse(
            &["--secret-stdin", "--graph-endpoint", "not a url"],
            &env(&[]),
        );
        assert!(matches!(e, Err(ConfigError::InvalidUrl { .. })));
    }

    #[test]
    fn multi_tenant_aliases_are_refused() {
        for t in ["common", "Organizations", "CONSUMERS"] {
            let cli = Cli::try_parse_from([
                "graphd",
                "users",
                "--tenant",
                t,
                "--client-id",
                "c",
                "--secret-stdin",
            ])
            .unwrap();
            assert!(matches!(
                Config::from_args(&cli.global, &env(&[])),
                Err(ConfigError::MultiTenantAlias(_))
            ));
        }
        let cli = Cli::try_parse_from([
            "graphd",
            "users",
            "--tenant",
            "a/b",
            "--client-id",
            "c",
            "--secret-stdin",
        ])
        .unwrap();
        assert!(matches!(
            Config::from_args(&cli.global, &env(&[])),
            Err(ConfigError::InvalidTenant(_))
        ));
    }

    #[test]
    fn exactly_one_credential_or_the_keyring() {
        let c = parse(&[], &env(&[])).unwrap();
        match &c.credential {
            CredentialSource::Keyring(slot) => {
                assert_eq!(
                    slot.account,
                    "https://login.microsoftonline.com/contoso.onmicrosoft.com/c1"
                );
                assert_eq!(slot.backend, KeyringBackend::platform_default());
            }
            _ => panic!("no credential given means the keyring"),
        }
        let c = parse(&["--keyring", "keyutils"], &env(&[])).unwrap();
        assert_eq!(c.keyring.backend, KeyringBackend::Keyutils);
        match parse(&["--secret-stdin"], &env(&[(ENV_CLIENT_SECRET, "x")])) {
            Err(ConfigError::TwoCredentials(a, b)) => {
                assert_eq!(a, "--secret-stdin");
                assert_eq!(b, "AZURE_CLIENT_SECRET (env)");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        match parse(&["--cert", "c.pem", "--secret-file", "s"], &env(&[])) {
            Err(ConfigError::TwoCredentials(a, b)) => {
                assert_eq!((a.as_str(), b.as_str()), ("--secret-file", "--cert"))
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(matches!(
            parse(
                &[],
                &env(&[(ENV_CLIENT_SECRET, "x"), (ENV_CERT_PATH, "both.pem")])
            ),
            Err(ConfigError::TwoCredentials(..))
        ));
    }

    #[test]
    fn env_credentials() {
        let c = parse(&[], &env(&[(ENV_CLIENT_SECRET, "v")])).unwrap();
        assert!(matches!(&c.credential, CredentialSource::SecretEnv(s) if s.expose() == "v"));
        let c = parse(
            &["--assertion-alg", "rs256"],
            &env(&[(ENV_CERT_PATH, "both.pem")]),
        )
        .unwrap();
        match &c.credential {
            CredentialSource::Certificate {
                spec,
                password_env,
                password_stdin,
            } => {
                assert_eq!(spec.cert.as_deref(), Some(Path::new("both.pem")));
                assert!(
                    spec.key.is_none()
                        && !spec.send_x5c
                        && password_env.is_none()
                        && !password_stdin
                );
                assert_eq!(spec.alg, Some(AssertionAlg::Rs256));
            }
            _ => panic!("a certificate"),
        }
        let c = parse(
            &[],
            &env(&[
                (ENV_CERT_PATH, "both.pfx"),
                (ENV_SEND_CHAIN, "true"),
                (ENV_CERT_PASSWORD, "pw"),
            ]),
        )
        .unwrap();
        match &c.credential {
            CredentialSource::Certificate {
                spec, password_env, ..
            } => {
                assert!(spec.send_x5c);
                assert_eq!(password_env.as_ref().unwrap().expose(), "pw");
            }
            _ => panic!("a certificate"),
        }
    }

    #[test]
    fn certificate_flag_rules() {
        let tp = "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13";
        let c = parse(&["--thumbprint", tp, "--key", "k.pem"], &env(&[])).unwrap();
        assert!(
            matches!(&c.credential, CredentialSource::Certificate { spec, .. } if spec.thumbprint.as_ref().unwrap().len() == 20)
        );
        assert!(matches!(
            parse(&["--thumbprint", "abc", "--key", "k.pem"], &env(&[])),
            Err(ConfigError::InvalidThumbprint(_))
        ));
        assert!(matches!(
            parse(
                &[
                    "--thumbprint",
                    tp,
                    "--key",
                    "k.pem",
                    "--assertion-alg",
                    "ps256"
                ],
                &env(&[])
            ),
            Err(ConfigError::ThumbprintNeedsRs256)
        ));
        assert!(matches!(
            parse(
                &["--thumbprint", tp, "--key", "k.pem", "--send-x5c"],
                &env(&[])
            ),
            Err(ConfigError::X5cNeedsCertificate)
        ));
        assert!(matches!(
            parse(&["--key", "k.pem"], &env(&[(ENV_CLIENT_SECRET, "s")])),
            Err(ConfigError::KeyWithoutCertificate)
        ));
        match parse(&["--cert", "-", "--key", "-"], &env(&[])) {
            Err(ConfigError::StdinTwice(a, b)) => {
                assert_eq!((a.as_str(), b.as_str()), ("--cert -", "--key -"))
            }
            _ => panic!("stdin twice"),
        }
        assert!(matches!(
            parse(&["--cert", "-", "--cert-password-stdin"], &env(&[])),
            Err(ConfigError::StdinTwice(..))
        ));
        assert!(parse(&["--cert", "c.pfx", "--cert-password-stdin"], &env(&[])).is_ok());
    }

    #[test]
    fn token_cache_switches() {
        assert!(parse(&["--secret-stdin"], &env(&[])).unwrap().token_cache);
        assert!(
            !parse(&["--secret-stdin", "--no-token-cache"], &env(&[]))
                .unwrap()
                .token_cache
        );
        assert!(
            !parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "off")]))
                .unwrap()
                .token_cache
        );
        assert!(
            !parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "FALSE")]))
                .unwrap()
                .token_cache
        );
        assert!(
            parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "on")]))
                .unwrap()
                .token_cache
        );
        assert!(matches!(
            parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "maybe")])),
            Err(ConfigError::InvalidTokenCacheEnv(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = parse(&[], &env(&[(ENV_CLIENT_SECRET, "canary-secret-value")])).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("canary-secret-value"), "{shown}");
        assert!(shown.contains("AZURE_CLIENT_SECRET"), "{shown}");
    }
}

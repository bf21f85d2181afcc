//! One configuration pipeline: `cli`'s flags (with clap's env fallbacks) and the environment
//! (`env`), the quickstart's parameters file (`params`) and a profile (`profile`) are layered
//! with their origins (`layers`), then validated here into one typed [`Config`].
//!
//! `cli` types stop here and in `commands`. This module does no network I/O; it reads only the
//! parameters and profile files. Credential *sources* are resolved (which one, from where);
//! `credential` later reads them. `token` and `graph` get the narrow parts they need
//! ([`Config::token_request`], [`Config::graph_target`]), never the whole `Config`.

pub mod env;
pub mod layers;
pub mod params;
pub mod profile;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use url::Url;

pub use env::{Env, MapEnv, ProcessEnv};
pub use layers::{CredentialLayer, Layers, Origin, Sourced};

use crate::cli::GlobalArgs;
use crate::cloud::Cloud;
use crate::credential::pkcs11::{PinSource, UriError};
use crate::credential::{
    AssertionAlg, CertSource, CertSpec, CredentialSource, KeyringSlot, PasswordSource,
};
use crate::diagnostic::Diagnostic;
use crate::graph::Target;
use crate::names::{self, ENV_TOKEN_CACHE};
use crate::output::OutputFormat;
use crate::retry::RetryPolicy;
use crate::secret::{CertPassword, Pin};
use crate::token::TokenRequest;

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
        let tenant = l
            .tenant
            .map(|s| s.value)
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::MissingTenant)?;
        let tenant = validate_tenant(tenant)?;
        let client_id = l
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
            Some(CredentialLayer::SecretFile(p)) => CredentialSource::SecretFile(p),
            Some(CredentialLayer::SecretParams(s, p)) => CredentialSource::SecretParams(s, p),
            Some(CredentialLayer::FederatedFile(p)) => CredentialSource::FederatedFile(p),
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
                    alg,
                    send_x5c: l.send_x5c.value,
                    allow_insecure_key_file: l.allow_insecure_key_file.value,
                },
                password: password_source(l.password.env, l.password.stdin),
                pin: pin_source(l.pin.env, l.pin.stdin),
            }),
        };
        let n = &l.network;
        Ok(Config {
            tenant,
            client_id,
            authority_host,
            graph_endpoint,
            cloud: l.cloud.value,
            endpoint: l.endpoint.map(|s| s.value),
            ca_bundle: l.ca_bundle.map(|s| s.value),
            credential,
            pkcs11_module,
            keyring,
            token_cache: l.token_cache.value,
            output: l.output.value,
            verbose: l.verbose,
            retry: RetryPolicy::new(
                n.max_retries.value,
                Duration::from_secs(n.timeout.value),
                Duration::from_secs(n.max_retry_wait.value),
                Duration::from_secs(n.deadline.value),
                Instant::now(),
            ),
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
    #[error("--new-cert is needed with a key file")]
    NewCertNeeded,
    #[error("cert new needs --out-key (where to write the new key)")]
    OutKeyNeeded,
    #[error("--store-cert needs a key on a token (--key 'pkcs11:...')")]
    StoreCertNeedsToken,
    #[error("a key made on a token is never written to a file (--out-key, --pfx)")]
    TokenKeyNotWritten,
    #[error("the PKCS#11 URI from {from} cannot be used")]
    Pkcs11Uri {
        from: String,
        #[source]
        source: UriError,
    },
    #[error("{0} and {1} cannot both read standard input")]
    StdinTwice(String, String),
    #[error("two credentials given: {0} and {1}")]
    TwoCredentials(String, String),
    #[error(
        "this needs a certificate credential (--cert/--key): a proof of possession is signed with it"
    )]
    NeedsCertificate,
    #[error("no PATH given and no endpoint in --config")]
    NoPath,
    #[error("the scope '{0}' is not RESOURCE/.default")]
    BadScope(String),
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is larger than 1 MiB; it cannot be a parameters file", path.display())]
    TooLarge { path: PathBuf },
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

impl Diagnostic for ConfigError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::MissingTenant => format!("pass {} or set {}", names::TENANT.flag, names::TENANT.env),
            Self::MissingClientId => {
                format!("pass {} or set {}", names::CLIENT_ID.flag, names::CLIENT_ID.env)
            }
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
                "pass the certificate with --cert, or its thumbprint with --thumbprint (a key on a token, \
                 --key 'pkcs11:...', needs neither when its certificate is on the token)"
                    .into()
            }
            Self::Pkcs11Uri { source, .. } => source.hint(),
            Self::OutKeyNeeded => "pass --out-key PATH, or --key 'pkcs11:token=...;object=LABEL' to make the key \
                 inside a token"
                .into(),
            Self::StoreCertNeedsToken => "drop --store-cert, or make the key on a token with --key 'pkcs11:...'".into(),
            Self::TokenKeyNotWritten => "drop --out-key and --pfx: the key stays in the token; only the \
                 certificate is written (--out-cert)"
                .into(),
            Self::NewCertNeeded => "pass --new-cert PATH, or a token key --new-key 'pkcs11:...' whose certificate \
                 is on the token"
                .into(),
            Self::StdinTwice(..) => "read one of them from a file or /dev/fd/N instead".into(),
            Self::NeedsCertificate => {
                "pass the app's current certificate with --cert/--key (or its token key, --key 'pkcs11:...')".into()
            }
            Self::NoPath => "e.g. graphd get /organization".into(),
            Self::BadScope(_) => {
                "app-only tokens are for RESOURCE/.default, e.g. https://graph.microsoft.com/.default"
                    .into()
            }
            Self::Read { path, .. } => format!("check that {} exists and is readable", path.display()),
            Self::TooLarge { .. } => "pass the quickstart's parameters.json (a few lines of JSON)".into(),
            Self::CommentedJson { line, .. } => format!(
                "delete the comment at line {line} (and any other // or /* */ lines): the old quickstart's \
                 commented parameters.json is not JSON"
            ),
            Self::BadJson { .. } => {
                "fix the file: it must be one JSON object like the quickstart's parameters.json".into()
            }
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
                "create {} with a [profiles.NAME] table, or drop {} / {}",
                path.display(),
                names::PROFILE.flag,
                names::PROFILE.env
            ),
            Self::NoSuchProfile { known, .. } if known.is_empty() => {
                "the file defines no [profiles.NAME]".into()
            }
            Self::NoSuchProfile { known, .. } => format!("profiles defined: {}", known.join(", ")),
            Self::NoConfigDir { .. } => "set HOME or XDG_CONFIG_HOME".into(),
        })
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
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::cli::Cli;
    use crate::credential::KeyringBackend;
    use crate::names::{ENV_CERT_PASSWORD, ENV_CLIENT_SECRET};

    const ENV_CERT_PATH: &str = names::CERT.env;
    const ENV_SEND_CHAIN: &str = names::SEND_X5C.env;

    fn env(pairs: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv::of(pairs)
    }

    impl Config {
        fn token_url(&self) -> String {
            self.token_request(None).token_url()
        }
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
            CredentialSource::Certificate(CertSource { spec, password, .. }) => {
                assert_eq!(spec.cert.as_deref(), Some(Path::new("both.pem")));
                assert!(
                    spec.key.is_none()
                        && !spec.send_x5c
                        && matches!(password, PasswordSource::Prompt)
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
            CredentialSource::Certificate(CertSource { spec, password, .. }) => {
                assert!(spec.send_x5c);
                assert!(matches!(password, PasswordSource::Env(p) if p.expose() == "pw"));
            }
            _ => panic!("a certificate"),
        }
    }

    #[test]
    fn certificate_flag_rules() {
        let tp = "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13";
        let c = parse(&["--thumbprint", tp, "--key", "k.pem"], &env(&[])).unwrap();
        assert!(
            matches!(&c.credential, CredentialSource::Certificate(CertSource { spec, .. }) if spec.thumbprint.as_ref().unwrap().len() == 20)
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
    fn a_token_key_is_a_credential_by_itself() {
        let uri = "pkcs11:token=graphd;object=app";
        let c = parse(&["--key", uri], &env(&[])).unwrap();
        match &c.credential {
            CredentialSource::Certificate(CertSource { spec, .. }) => {
                assert!(spec.cert.is_none() && spec.thumbprint.is_none());
                let key = spec.key.as_ref().and_then(|k| k.token()).unwrap();
                assert_eq!(key.object.as_deref(), Some("app"));
            }
            _ => panic!("a token key"),
        }
        // With a certificate from the environment: one credential, not two.
        let c = parse(&["--key", uri], &env(&[(ENV_CERT_PATH, "c.pem")])).unwrap();
        assert!(
            matches!(&c.credential, CredentialSource::Certificate(CertSource { spec, .. }) if spec.cert.is_some())
        );
        // A file key alone still needs its certificate.
        assert!(matches!(
            parse(&["--key", "k.pem"], &env(&[])),
            Err(ConfigError::KeyWithoutCertificate)
        ));
        // pin-value is refused, and its value never quoted.
        match parse(&["--key", "pkcs11:object=a?pin-value=987654"], &env(&[])) {
            Err(e @ ConfigError::Pkcs11Uri { .. }) => {
                assert!(!format!("{e} {e:?} {:?}", e.hint()).contains("987654"));
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        // The PIN: --pin-stdin beats the environment; it shares stdin with nothing else.
        let c = parse(
            &["--key", uri, "--pin-stdin"],
            &env(&[(names::ENV_PKCS11_PIN, "1")]),
        )
        .unwrap();
        assert!(matches!(c.pin_source(), PinSource::Stdin));
        let c = parse(&["--key", uri], &env(&[(names::ENV_PKCS11_PIN, "1")])).unwrap();
        assert!(matches!(c.pin_source(), PinSource::Env(p) if p.expose() == "1"));
        assert!(matches!(
            parse(&["--key", uri, "--pin-stdin", "--cert", "-"], &env(&[])),
            Err(ConfigError::StdinTwice(..))
        ));
        assert!(!format!("{c:?}").contains("pin"), "{c:?}");
    }

    #[test]
    fn token_uris_in_files_are_not_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("parameters.json");
        std::fs::write(
            &p,
            r#"{"authority":"https://login.microsoftonline.com/t.onmicrosoft.com","client_id":"c","private_key_file":"pkcs11:token=a;object=b"}"#,
        )
        .unwrap();
        let params = params::load(&p).unwrap();
        match params.credential {
            Some(params::ParamsCredential::KeyOnToken { key }) => {
                assert_eq!(key, Path::new("pkcs11:token=a;object=b"))
            }
            other => panic!("{other:?}"),
        }
        let toml = "[profiles.hw]\nkey = \"pkcs11:token=a;object=b\"\n";
        let prof = profile::parse(toml, &dir.path().join("config.toml"), Some("hw"))
            .unwrap()
            .unwrap();
        assert_eq!(
            prof.key.as_deref(),
            Some(Path::new("pkcs11:token=a;object=b"))
        );
        let toml = "[profiles.hw]\nkey = \"rel/key.pem\"\n";
        assert!(profile::parse(toml, &dir.path().join("config.toml"), Some("hw")).is_err());
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

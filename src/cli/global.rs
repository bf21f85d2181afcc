//! The global options, accepted before or after the subcommand: the app, the clouds and hosts,
//! the credential sources, the network limits, output and logging; and where clap took each
//! value from (`ArgOrigin`), which the configuration layers need.

use std::path::PathBuf;

use clap::Args;

use super::help::*;
use crate::cloud::Cloud;
use crate::credential::{AssertionAlg, KeyringBackend};
use crate::names;
use crate::output::OutputFormat;
use crate::term::ColorChoice;

/// Options accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory (tenant) ID or verified domain; not common/organizations/consumers
    #[arg(long, env = names::TENANT.env, global = true, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Application (client) ID of the app registration
    #[arg(long, env = names::CLIENT_ID.env, global = true, value_name = "GUID")]
    pub client_id: Option<String>,

    /// Entra authority host (https only) [default: the cloud's, https://login.microsoftonline.com]
    #[arg(long, env = names::AUTHORITY_HOST.env, global = true, value_name = "URL")]
    pub authority_host: Option<String>,

    /// Microsoft Graph endpoint (https only); the token scope is this + "/.default"
    /// [default: the cloud's, https://graph.microsoft.com]
    #[arg(long, env = names::GRAPH_ENDPOINT.env, global = true, value_name = "URL")]
    pub graph_endpoint: Option<String>,

    /// National cloud: sets the authority host, Graph endpoint and scope together
    /// (--authority-host / --graph-endpoint still win) [default: public]
    #[arg(long, env = names::CLOUD.env, global = true, value_enum)]
    pub cloud: Option<Cloud>,

    /// The quickstart's parameters.json: authority, client_id, scope, endpoint, and secret or
    /// certificate (below flags and env, above the profile)
    #[arg(long, env = names::CONFIG.env, global = true, value_name = "JSON")]
    pub config: Option<PathBuf>,

    /// Named profile of $XDG_CONFIG_HOME/graphd/config.toml (the lowest layer above defaults)
    #[arg(long, env = names::PROFILE.env, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Output format of data on stdout
    #[arg(
        short,
        long,
        env = names::OUTPUT.env,
        global = true,
        value_enum,
        default_value_t = OutputFormat::Json
    )]
    pub output: OutputFormat,

    /// Colour on stderr and in tables: auto (terminals, unless NO_COLOR is set), always, never
    #[arg(long, env = names::COLOR.env, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Extra trusted root certificates (PEM), added to the system's
    #[arg(long, env = names::CA_BUNDLE.env, global = true, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,

    /// Read the client secret from standard input [or env: AZURE_CLIENT_SECRET]
    #[arg(
        long,
        env = names::SECRET_STDIN.env,
        global = true,
        help_heading = "Credentials"
    )]
    pub secret_stdin: bool,

    /// Read the client secret from a file (first line) [or env: AZURE_CLIENT_SECRET]
    #[arg(
        long,
        env = names::SECRET_FILE.env,
        global = true,
        value_name = "PATH",
        help_heading = "Credentials"
    )]
    pub secret_file: Option<PathBuf>,

    /// Certificate registered on the app: PEM (cert, chain, or cert + key), or PKCS#12
    /// (.pfx/.p12, also base64); `-` = stdin [env: AZURE_CLIENT_CERTIFICATE_PATH]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub cert: Option<PathBuf>,

    /// Private key of --cert or --thumbprint (PEM: PKCS#1, PKCS#8 or encrypted; `-` = stdin),
    /// or a key on a hardware token as a PKCS#11 URI, e.g. 'pkcs11:token=graphd;object=app-key'
    /// (its certificate may then be on the token too)
    #[arg(
        long,
        env = names::KEY.env,
        hide_env_values = true,
        global = true,
        value_name = "PATH|URI",
        help_heading = "Credentials"
    )]
    pub key: Option<PathBuf>,

    // With --key (config checks it is there) or, on Windows, --cert-store.
    #[arg(
        long,
        env = names::THUMBPRINT.env,
        global = true,
        value_name = "HEX",
        conflicts_with = "cert",
        help = THUMBPRINT_HELP,
        help_heading = "Credentials"
    )]
    pub thumbprint: Option<String>,

    /// Windows: the certificate store holding the certificate --thumbprint names and its private
    /// key, which signs through CNG and never leaves the store (non-exportable keys, TPM and
    /// smart-card keys work): CurrentUser\My or LocalMachine\My
    #[arg(
        long,
        env = names::CERT_STORE.env,
        global = true,
        value_name = "LOCATION\\STORE",
        conflicts_with_all = ["cert", "key"],
        hide = !cfg!(windows),
        help_heading = "Credentials"
    )]
    pub cert_store: Option<String>,

    /// A JWT from the CI provider (workload identity federation), re-read for every token request
    /// [env: AZURE_FEDERATED_TOKEN_FILE]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub federated_token_file: Option<PathBuf>,

    /// Read the key's or PKCS#12 file's password from stdin (first line), only if one is needed
    /// [or env: AZURE_CLIENT_CERTIFICATE_PASSWORD; else a no-echo prompt on a terminal]
    #[arg(
        long,
        env = names::CERT_PASSWORD_STDIN.env,
        global = true,
        help_heading = "Credentials"
    )]
    pub cert_password_stdin: bool,

    /// Add the certificate chain as an x5c header (Subject Name + Issuer authentication)
    /// [env: AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1|true]
    #[arg(long, global = true, help_heading = "Credentials")]
    pub send_x5c: bool,

    /// Accept an unencrypted key file, or a file holding a client secret (--secret-file, a
    /// parameters file's "secret"), that group or others may read (refused by default, as ssh does)
    #[arg(
        long,
        env = names::ALLOW_INSECURE_KEY_FILE.env,
        global = true,
        help_heading = "Credentials"
    )]
    pub allow_insecure_key_file: bool,

    /// Client-assertion signature: ps256 (with x5t#S256, the default) or rs256 (with x5t)
    #[arg(
        long,
        env = names::ASSERTION_ALG.env,
        global = true,
        value_enum,
        help_heading = "Credentials"
    )]
    pub assertion_alg: Option<AssertionAlg>,

    /// PKCS#11 module (shared library) of a `--key pkcs11:...` key whose URI has no module-path
    /// [default: p11-kit's proxy, when installed]
    #[arg(
        long,
        env = names::PKCS11_MODULE.env,
        global = true,
        value_name = "PATH",
        help_heading = "Credentials"
    )]
    pub pkcs11_module: Option<PathBuf>,

    /// Read the token's PIN from stdin (first line), only if the token needs one
    /// [or env: GRAPHD_PKCS11_PIN; or the URI's pin-source=file:PATH; else a no-echo prompt on a terminal]
    #[arg(
        long,
        env = names::PIN_STDIN.env,
        global = true,
        help_heading = "Credentials"
    )]
    pub pin_stdin: bool,

    /// Keyring that holds the client secret stored by `graphd secret set`
    #[arg(long, env = names::KEYRING.env, global = true, value_enum, default_value_t = KeyringBackend::platform_default(), help_heading = "Credentials")]
    pub keyring: KeyringBackend,

    /// Get the token from this Azure resource's managed identity (VM, scale set, AKS, App
    /// Service, Functions, Arc, Cloud Shell, Service Fabric): no stored credential, no tenant or
    /// client id; the platform's endpoint is found from its environment (`config show` says which)
    #[arg(
        long,
        env = names::MANAGED_IDENTITY.env,
        global = true,
        // `=1` as well as `=true` (azure-identity's style for switches).
        value_parser = clap::builder::BoolishValueParser::new(),
        help_heading = "Credentials"
    )]
    pub managed_identity: bool,

    /// Act as the app of --tenant/--client-id with a managed identity's token as its federated
    /// credential (no secret anywhere; the app must trust the identity); AZURE_CLIENT_ID is the app
    #[arg(
        long,
        env = names::FEDERATED_MANAGED_IDENTITY.env,
        global = true,
        // `=1` as well as `=true` (azure-identity's style for switches).
        value_parser = clap::builder::BoolishValueParser::new(),
        help_heading = "Credentials"
    )]
    pub federated_managed_identity: bool,

    /// A user-assigned managed identity by client id (IMDS, App Service) [with --managed-identity
    /// and no selector, AZURE_CLIENT_ID names one too]
    #[arg(
        long,
        env = names::MI_CLIENT_ID.env,
        global = true,
        value_name = "GUID",
        help_heading = "Credentials"
    )]
    pub managed_identity_client_id: Option<String>,

    /// A user-assigned managed identity by object (principal) id (IMDS, App Service)
    #[arg(
        long,
        env = names::MI_OBJECT_ID.env,
        global = true,
        value_name = "GUID",
        help_heading = "Credentials"
    )]
    pub managed_identity_object_id: Option<String>,

    /// A user-assigned managed identity by Azure resource id, /subscriptions/.../NAME (IMDS, App Service)
    #[arg(
        long,
        env = names::MI_RESOURCE_ID.env,
        global = true,
        value_name = "ID",
        help_heading = "Credentials"
    )]
    pub managed_identity_resource_id: Option<String>,

    /// Do not read or write the encrypted token cache [or env: GRAPHD_TOKEN_CACHE=off]
    #[arg(long, env = names::NO_TOKEN_CACHE.env, global = true)]
    pub no_token_cache: bool,

    /// Retries of a failed request (429, 500, 502, 503, 504, connection reset or refused, timeout)
    #[arg(long, env = names::MAX_RETRIES.env, global = true, value_name = "N",
          default_value_t = crate::retry::DEFAULT_MAX_RETRIES,
          value_parser = clap::value_parser!(u32).range(0..=20), help_heading = "Network")]
    pub max_retries: u32,

    /// Seconds one attempt may take, from connecting to the last byte of the body
    #[arg(long, env = names::TIMEOUT.env, global = true, value_name = "SECS",
          default_value_t = crate::retry::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Network")]
    pub timeout: u64,

    /// Seconds the whole command may take, every attempt and wait included
    #[arg(long, env = names::DEADLINE.env, global = true, value_name = "SECS",
          default_value_t = crate::retry::DEFAULT_DEADLINE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=604_800), help_heading = "Network")]
    pub deadline: u64,

    /// Longest wait between two attempts; a longer Retry-After is cut to this
    #[arg(long, env = names::MAX_RETRY_WAIT.env, global = true, value_name = "SECS",
          default_value_t = crate::retry::DEFAULT_MAX_RETRY_WAIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=3600), help_heading = "Network")]
    pub max_retry_wait: u64,

    /// Largest response body accepted, in MiB (a Graph page of 999 users is about 1 MiB)
    #[arg(long, env = names::MAX_RESPONSE_MIB.env, global = true, value_name = "MIB",
          default_value_t = crate::http::MAX_BODY_BYTES / (1024 * 1024),
          value_parser = clap::value_parser!(u64).range(1..=4096), help_heading = "Network")]
    pub max_response_mib: u64,

    /// More logging on stderr: -v requests, -vv details, -vvv everything (never secrets)
    #[arg(short, long, env = names::VERBOSE.env, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Where clap took each value above from (filled by `Cli::parse_with_origins`, for the
    /// precedence rules and `config show`); a value missing here counts as a flag.
    #[arg(skip)]
    pub origins: std::collections::BTreeMap<String, ArgOrigin>,
}

/// Where clap took a value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgOrigin {
    CommandLine,
    Env,
    /// clap's `default_value`: lower layers (parameters file, profile) may override it.
    Default,
}

impl GlobalArgs {
    /// Where the value of the argument `id` came from.
    pub fn origin(&self, id: &str) -> ArgOrigin {
        self.origins
            .get(id)
            .copied()
            .unwrap_or(ArgOrigin::CommandLine)
    }
}

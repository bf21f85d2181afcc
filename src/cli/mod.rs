//! Flag spelling, help text and conflicts, as clap derive structs — nothing else.
//!
//! These types go no further than `config` (which layers and validates them into a `Config`)
//! and `commands` (each command's own arguments); domain enums are not defined here but in
//! their domains, which derive `clap::ValueEnum`.
//! Secrets never arrive here: there is no flag that takes a secret value, because argv is
//! visible to every local user (`ps`, `/proc/PID/cmdline`). Secret *sources* (stdin, a file)
//! are flags; the secret's value is read by `credential`.

pub mod help;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use self::help::*;
use crate::cloud::Cloud;
use crate::credential::{AssertionAlg, KeyringBackend};
use crate::graph::query::ApiVersion;
use crate::names;
use crate::output::OutputFormat;
use crate::term::ColorChoice;

/// graphd: get an app-only token from Microsoft Entra ID and call Microsoft Graph.
#[derive(Debug, Parser)]
#[command(
    name = "graphd",
    version,
    about,
    long_about = "graphd gets an app-only access token from Microsoft Entra ID (OAuth 2.0 client \
credentials), or from an Azure managed identity, and calls Microsoft Graph with it. Secrets are never taken from argv, never \
logged and never written in plain text.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every user of the directory, following all pages
    #[command(after_help = USERS_EXAMPLES)]
    Users(UsersArgs),
    /// Show one user by object id or user principal name
    #[command(after_help = USER_EXAMPLES)]
    User(UserArgs),
    /// GET any Microsoft Graph path or URL (like `az rest`), optionally following every page
    #[command(after_help = GET_EXAMPLES)]
    Get(GetArgs),
    /// Print an access token as JSON for other tools (the output is a secret)
    #[command(
        long_about = "Print an access token as JSON (accessToken, expiresOn, expires_on_unix, tokenType, scope, tenant), \
like `az account get-access-token`, for piping into other tools.\n\n\
THE OUTPUT IS A SECRET: anyone who reads it can call Graph as this app until it expires. \
Pipe it, never paste it into chats, tickets or shell history, and never redirect it into a \
file others can read. graphd never logs it.",
        after_help = TOKEN_EXAMPLES
    )]
    Token(TokenArgs),
    /// Print the admin-consent URL for this tenant and client id (hand it to an admin)
    #[command(after_help = CONSENT_EXAMPLES)]
    ConsentUrl(ConsentUrlArgs),
    /// Show the resolved configuration and where each value came from (secrets redacted)
    #[command(subcommand, after_help = CONFIG_EXAMPLES)]
    Config(ConfigCommand),
    /// Keep the client secret in the OS keyring instead of a file or an env var
    #[command(subcommand, after_help = SECRET_EXAMPLES)]
    Secret(SecretCommand),
    /// Manage the encrypted token cache
    #[command(subcommand, after_help = CACHE_EXAMPLES)]
    Cache(CacheCommand),
    /// Make and inspect certificates for app registrations
    #[command(subcommand)]
    Cert(CertCommand),
    /// Print a shell completion script for bash, zsh, fish or powershell
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print graphd's man page (roff) on stdout
    #[command(after_help = MAN_EXAMPLES)]
    Man,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's object id or userPrincipalName (guest #EXT# and apostrophes are fine)
    #[arg(value_name = "ID|UPN")]
    pub id: String,

    /// Properties to return ($select), comma-separated
    #[arg(long, env = "GRAPHD_SELECT", value_name = "A,B", value_delimiter = ',')]
    pub select: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Path (`/users/ID`, `groups?$top=5`) or absolute URL on the Graph origin
    #[arg(value_name = "PATH-OR-URL")]
    pub path: Option<String>,

    /// Follow every @odata.nextLink and stream the items of `value` (as `users` does)
    #[arg(long, env = "GRAPHD_ALL")]
    pub all: bool,

    #[command(flatten)]
    pub delta: DeltaArgs,

    /// Extra request header, repeatable (e.g. ConsistencyLevel:eventual); not Authorization
    /// [env: GRAPHD_HEADERS, several separated by newlines]
    #[arg(
        long = "header",
        short = 'H',
        env = "GRAPHD_HEADERS",
        value_delimiter = '\n',
        value_name = "K:V"
    )]
    pub headers: Vec<String>,

    /// Graph API version for relative paths
    #[arg(long, env = "GRAPHD_API_VERSION", value_enum, default_value_t = ApiVersion::V1)]
    pub api_version: ApiVersion,

    /// Stop after this many items (with --all)
    #[arg(
        long,
        env = "GRAPHD_MAX_ITEMS",
        value_name = "N",
        conflicts_with = "delta"
    )]
    pub max_items: Option<u64>,

    /// Columns of -o table/csv/tsv, comma-separated (not sent to Graph)
    #[arg(
        long,
        env = "GRAPHD_COLUMNS",
        value_name = "A,B",
        value_delimiter = ','
    )]
    pub columns: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Resource scope, RESOURCE/.default [default: the Graph endpoint + /.default]
    #[arg(long, env = "GRAPHD_SCOPE", value_name = "SCOPE")]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConsentUrlArgs {
    /// The v2.0 form, with scope=GRAPH/.default
    #[arg(long, env = "GRAPHD_CONSENT_V2")]
    pub v2: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every resolved setting and where it came from; secrets are shown as [redacted]
    Show,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells graphd writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store the client secret: from stdin when it is not a terminal, else a no-echo prompt (twice)
    Set,
    /// Say whether a secret is stored for this tenant and client, and where (never the value); exit 1 if none
    Status,
    /// Remove the stored secret (nothing stored is not an error)
    Delete,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove every cached token
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Make a self-signed RSA certificate and key for an app registration (never overwrites)
    #[command(after_help = CERT_NEW_EXAMPLES)]
    New(CertNewArgs),
    /// Show a certificate's subject, validity, key and thumbprints (PEM, DER or PKCS#12)
    #[command(after_help = CERT_SHOW_EXAMPLES)]
    Show(CertShowArgs),
    /// List the app's registered certificates (keyCredentials), marking the one in use
    #[command(after_help = CERT_KEYS_EXAMPLES)]
    List(CertListArgs),
    /// Register another certificate on the app (addKey, proven by the current certificate)
    #[command(after_help = CERT_KEYS_EXAMPLES)]
    Add(CertAddArgs),
    /// Remove a registered certificate by keyId (removeKey, proven by the current certificate)
    #[command(after_help = CERT_KEYS_EXAMPLES)]
    Remove(CertRemoveArgs),
    /// Swap in a new certificate: add it, prove it works, then remove the current one
    #[command(after_help = CERT_KEYS_EXAMPLES)]
    Rotate(CertRotateArgs),
}

#[derive(Debug, Args)]
pub struct AppObjectArgs {
    /// The application object id (not the client id) [default: looked up in Graph]
    #[arg(long, env = "GRAPHD_APP_OBJECT_ID", value_name = "GUID")]
    pub app_object_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CertListArgs {
    #[command(flatten)]
    pub app: AppObjectArgs,
    /// Print as JSON, for machines
    #[arg(long, env = "GRAPHD_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CertAddArgs {
    /// The certificate to register (PEM, DER or PKCS#12, or a certificate on a token as a
    /// PKCS#11 URI; only its public part is sent)
    pub new_cert: PathBuf,
    #[command(flatten)]
    pub app: AppObjectArgs,
}

#[derive(Debug, Args)]
pub struct CertRemoveArgs {
    /// The keyId of the certificate to remove (see `graphd cert list`)
    pub key_id: String,
    #[command(flatten)]
    pub app: AppObjectArgs,
}

#[derive(Debug, Args)]
pub struct CertRotateArgs {
    /// The new certificate (PEM, DER or PKCS#12); optional when --new-key is a token key whose
    /// certificate is on the token
    #[arg(long, env = "GRAPHD_NEW_CERT", value_name = "PATH")]
    pub new_cert: Option<PathBuf>,
    /// The new certificate's private key (PEM), or a key on a token as a PKCS#11 URI
    #[arg(
        long,
        env = "GRAPHD_NEW_KEY",
        hide_env_values = true,
        value_name = "PATH|URI"
    )]
    pub new_key: PathBuf,
    /// Keep the current certificate registered after the new one works
    #[arg(long, env = "GRAPHD_KEEP_OLD")]
    pub keep_old: bool,
    /// How long to keep trying the new certificate while its registration propagates
    #[arg(
        long,
        env = "GRAPHD_PROPAGATION_TIMEOUT",
        value_name = "SECS",
        default_value_t = 120
    )]
    pub propagation_timeout: u64,
    #[command(flatten)]
    pub app: AppObjectArgs,
}

#[derive(Debug, Args)]
pub struct CertNewArgs {
    /// Where to write the certificate (PEM); must not exist
    #[arg(env = "GRAPHD_OUT_CERT", long, value_name = "PATH")]
    pub out_cert: PathBuf,
    /// Where to write the private key (PKCS#8 PEM, mode 0600); must not exist. Not with a token
    /// key (--key 'pkcs11:...'), which is made inside the token and never leaves it
    #[arg(env = "GRAPHD_OUT_KEY", long, value_name = "PATH")]
    #[cfg_attr(
        windows,
        arg(
            help = "Where to write the private key (PKCS#8 PEM, an ACL of only you and SYSTEM); must not exist. Not with a token key (--key 'pkcs11:...'), which is made inside the token and never leaves it"
        )
    )]
    pub out_key: Option<PathBuf>,
    /// With --key 'pkcs11:...': also store the certificate on the token, with the key's id and label
    #[arg(env = "GRAPHD_STORE_CERT", long, conflicts_with_all = ["out_key", "pfx"])]
    pub store_cert: bool,
    /// Subject distinguished name, e.g. CN=my-daemon or CN=app,O=Contoso
    #[arg(env = "GRAPHD_CERT_SUBJECT", long, default_value = "CN=graphd")]
    pub subject: String,
    /// Validity in days
    #[arg(env = "GRAPHD_CERT_DAYS", long, value_name = "N", conflicts_with = "hours", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: Option<u32>,
    /// Validity in hours (short-lived CI certificates)
    #[arg(env = "GRAPHD_CERT_HOURS", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=87600))]
    pub hours: Option<u32>,
    /// RSA key size in bits
    #[arg(env = "GRAPHD_CERT_KEY_SIZE", long, default_value_t = 2048, value_parser = parse_key_size)]
    pub key_size: u32,
    /// Also write a PKCS#12 file (mode 0600); its password comes from
    /// AZURE_CLIENT_CERTIFICATE_PASSWORD, else stdin when not a terminal, else a prompt
    #[arg(env = "GRAPHD_CERT_PFX", long, value_name = "PATH")]
    #[cfg_attr(
        windows,
        arg(
            help = "Also write a PKCS#12 file (private, like the key); its password comes from \
AZURE_CLIENT_CERTIFICATE_PASSWORD, else stdin when not a terminal, else a prompt"
        )
    )]
    pub pfx: Option<PathBuf>,
}

fn parse_key_size(s: &str) -> Result<u32, String> {
    match s {
        "2048" | "3072" | "4096" => Ok(s.parse().expect("matched digits")),
        _ => Err("must be 2048, 3072 or 4096".into()),
    }
}

#[derive(Debug, Args)]
pub struct CertShowArgs {
    /// The certificate: PEM, DER or PKCS#12 (.pfx/.p12, also base64); `-` = stdin; or a key on
    /// a token as a PKCS#11 URI (its certificate on the token, and whether the key can leave it)
    pub path: PathBuf,
    /// Print the keyCredentials entry for the app manifest (JSON)
    #[arg(env = "GRAPHD_CERT_MANIFEST", long)]
    pub manifest: bool,
    /// Print as JSON, for machines
    #[arg(long, env = "GRAPHD_JSON", conflicts_with = "manifest")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Page size asked of Graph ($top), 1..=999; not sent with --delta (Graph pages delta rounds itself)
    #[arg(long, env = "GRAPHD_TOP", default_value_t = 999, value_parser = clap::value_parser!(u16).range(1..=999))]
    pub top: u16,

    /// Properties to return ($select), comma-separated, e.g. id,displayName
    #[arg(long, env = "GRAPHD_SELECT", value_name = "A,B", value_delimiter = ',')]
    pub select: Vec<String>,

    /// Stop after this many users
    #[arg(
        long,
        env = "GRAPHD_MAX_ITEMS",
        value_name = "N",
        conflicts_with = "delta"
    )]
    pub max_items: Option<u64>,

    /// OData filter ($filter), e.g. "startswith(displayName,'A')" or "endswith(mail,'@contoso.com')";
    /// with --delta only "id eq 'ID'" (joined with or) or "id in ('ID1','ID2')"
    #[arg(long, env = "GRAPHD_FILTER", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Search ($search) as property:text clauses, e.g. 'displayName:ada' or
    /// '"displayName:ada" OR "mail:ada"' (an advanced query)
    #[arg(
        long,
        env = "GRAPHD_SEARCH",
        value_name = "EXPR",
        conflicts_with = "delta"
    )]
    pub search: Option<String>,

    /// Ask Graph for the total ($count=true, an advanced query); printed on stderr as `count: N`
    #[arg(long, env = "GRAPHD_COUNT", conflicts_with = "delta")]
    pub count: bool,

    /// Sort ($orderby), e.g. displayName or "userPrincipalName desc"
    #[arg(
        long,
        env = "GRAPHD_ORDERBY",
        value_name = "PROP [asc|desc]",
        conflicts_with = "delta"
    )]
    pub orderby: Option<String>,

    #[command(flatten)]
    pub delta: DeltaArgs,
}

/// Delta query: `users` and `get` list only what changed since the previous run.
#[derive(Debug, Args)]
pub struct DeltaArgs {
    /// Incremental sync: list from the delta function, keep the round's deltaLink in this file,
    /// and on later runs list only what was added, changed or removed since (docs/syncing.md)
    #[arg(
        long,
        env = "GRAPHD_DELTA",
        value_name = "STATE",
        help_heading = "Incremental sync"
    )]
    pub delta: Option<PathBuf>,

    /// Start a full round whatever STATE holds (even a state made for another command), and
    /// rewrite it
    #[arg(
        long,
        env = "GRAPHD_DELTA_RESET",
        requires = "delta",
        help_heading = "Incremental sync"
    )]
    pub delta_reset: bool,

    /// List nothing: save in STATE a deltaLink for now ($deltatoken=latest), so the next run
    /// lists only later changes
    #[arg(
        long,
        env = "GRAPHD_DELTA_FROM_NOW",
        requires = "delta",
        help_heading = "Incremental sync"
    )]
    pub delta_from_now: bool,

    /// After a run that delivered its round, write JSON saying what it was: {"round":
    /// "full"|"changes"|"from_now", "items": N, "removed": N, ...}; removed at the start of
    /// every run
    #[arg(
        long,
        env = "GRAPHD_DELTA_REPORT",
        value_name = "FILE",
        requires = "delta",
        help_heading = "Incremental sync"
    )]
    pub delta_report: Option<PathBuf>,
}

impl Cli {
    /// Parses argv and records which global values came from the environment, which clap
    /// knows only while it holds the matches (`config show` and the layers need it).
    pub fn parse_with_origins() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        cli.global.origins = origins(&matches);
        cli
    }
}

/// Where clap took each argument's value from, at any depth.
fn origins(matches: &clap::ArgMatches) -> std::collections::BTreeMap<String, ArgOrigin> {
    use clap::parser::ValueSource;
    // Global values propagate between levels; the deepest level has the final word.
    let mut source = std::collections::BTreeMap::new();
    let mut current = Some(matches);
    while let Some(m) = current {
        for id in m.ids() {
            if let Some(s) = m.value_source(id.as_str()) {
                source.insert(id.as_str().to_string(), s);
            }
        }
        current = m.subcommand().map(|(_, sub)| sub);
    }
    source
        .into_iter()
        .map(|(id, s)| {
            let o = match s {
                ValueSource::EnvVariable => ArgOrigin::Env,
                ValueSource::DefaultValue => ArgOrigin::Default,
                _ => ArgOrigin::CommandLine,
            };
            (id, o)
        })
        .collect()
}

#[cfg(test)]
mod tests;

//! Flag spelling, help text and conflicts, as clap derive structs — nothing else.
//!
//! These types go no further than `config`, which turns them into a validated `Config`.
//! Secrets never arrive here: there is no flag that takes a secret value, because argv is
//! visible to every local user (`ps`, `/proc/PID/cmdline`). Secret *sources* (stdin, a file)
//! are flags; the secret's value is read by `credential`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  anything else (e.g. cannot write the output)
  2  usage or configuration error
  3  credential or authentication error (a local check, or Entra refused)
  4  Graph refused the request (401, 403, 404, 400)
  5  network, TLS or server failure (after retries)

Proxies: HTTPS_PROXY and NO_PROXY are honoured; add a TLS-inspecting proxy's CA with --ca-bundle.";

/// graphd: get an app-only token from Microsoft Entra ID and call Microsoft Graph.
#[derive(Debug, Parser)]
#[command(
    name = "graphd",
    version,
    about,
    long_about = "graphd gets an app-only access token from Microsoft Entra ID (OAuth 2.0 client \
credentials) and calls Microsoft Graph with it. Secrets are never taken from argv, never \
logged and never written in plain text.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory (tenant) ID or verified domain; not common/organizations/consumers
    #[arg(long, env = "AZURE_TENANT_ID", global = true, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Application (client) ID of the app registration
    #[arg(long, env = "AZURE_CLIENT_ID", global = true, value_name = "GUID")]
    pub client_id: Option<String>,

    /// Entra authority host (https only)
    #[arg(
        long,
        env = "AZURE_AUTHORITY_HOST",
        global = true,
        value_name = "URL",
        default_value = "https://login.microsoftonline.com"
    )]
    pub authority_host: String,

    /// Microsoft Graph endpoint (https only); the token scope is this + "/.default"
    #[arg(
        long,
        env = "GRAPHD_GRAPH_ENDPOINT",
        global = true,
        value_name = "URL",
        default_value = "https://graph.microsoft.com"
    )]
    pub graph_endpoint: String,

    /// Extra trusted root certificates (PEM), added to the system's
    #[arg(long, env = "GRAPHD_CA_BUNDLE", global = true, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,

    /// Read the client secret from standard input [or env: AZURE_CLIENT_SECRET]
    #[arg(long, global = true, help_heading = "Credentials")]
    pub secret_stdin: bool,

    /// Read the client secret from a file (first line) [or env: AZURE_CLIENT_SECRET]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub secret_file: Option<PathBuf>,

    /// PEM certificate registered on the app; alone, a PEM holding certificate and key
    /// [env: AZURE_CLIENT_CERTIFICATE_PATH]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub cert: Option<PathBuf>,

    /// PEM private key of --cert (PKCS#1 or PKCS#8, RSA >= 2048 bits)
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        requires = "cert",
        help_heading = "Credentials"
    )]
    pub key: Option<PathBuf>,

    /// Client-assertion signature: ps256 (with x5t#S256) or rs256 (with x5t)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = AssertionAlg::Ps256,
        help_heading = "Credentials"
    )]
    pub assertion_alg: AssertionAlg,

    /// Keyring that holds the client secret stored by `graphd secret set`
    #[arg(long, env = "GRAPHD_KEYRING", global = true, value_enum, default_value_t = KeyringBackend::platform_default(), help_heading = "Credentials")]
    pub keyring: KeyringBackend,

    /// Do not read or write the encrypted token cache [or env: GRAPHD_TOKEN_CACHE=off]
    #[arg(long, global = true)]
    pub no_token_cache: bool,

    /// Retries of a failed request (429, 500, 502, 503, 504, connection reset or refused, timeout)
    #[arg(long, env = "GRAPHD_MAX_RETRIES", global = true, value_name = "N",
          default_value_t = crate::retry::DEFAULT_MAX_RETRIES,
          value_parser = clap::value_parser!(u32).range(0..=20), help_heading = "Network")]
    pub max_retries: u32,

    /// Seconds one attempt may take, from connecting to the last byte of the body
    #[arg(long, env = "GRAPHD_TIMEOUT", global = true, value_name = "SECS",
          default_value_t = crate::retry::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Network")]
    pub timeout: u64,

    /// Seconds the whole command may take, every attempt and wait included
    #[arg(long, env = "GRAPHD_DEADLINE", global = true, value_name = "SECS",
          default_value_t = crate::retry::DEFAULT_DEADLINE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=604_800), help_heading = "Network")]
    pub deadline: u64,

    /// Longest wait between two attempts; a longer Retry-After is cut to this
    #[arg(long, env = "GRAPHD_MAX_RETRY_WAIT", global = true, value_name = "SECS",
          default_value_t = crate::retry::DEFAULT_MAX_RETRY_WAIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=3600), help_heading = "Network")]
    pub max_retry_wait: u64,

    /// Largest response body accepted, in MiB (a Graph page of 999 users is about 1 MiB)
    #[arg(long, env = "GRAPHD_MAX_RESPONSE_MIB", global = true, value_name = "MIB",
          default_value_t = crate::http::MAX_BODY_BYTES / (1024 * 1024),
          value_parser = clap::value_parser!(u64).range(1..=4096), help_heading = "Network")]
    pub max_response_mib: u64,

    /// More logging on stderr: -v requests, -vv details, -vvv everything (never secrets)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The client-assertion signature algorithm and its thumbprint header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssertionAlg {
    /// RSASSA-PSS SHA-256 with an `x5t#S256` header (Microsoft's current form)
    Ps256,
    /// PKCS#1 v1.5 SHA-256 with an `x5t` header (the legacy form)
    Rs256,
}

/// Where `graphd secret set` keeps the client secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyringBackend {
    /// Secret Service over D-Bus: gnome-keyring, KWallet, KeePassXC (Linux default)
    SecretService,
    /// The Linux kernel keyring: memory only, gone at reboot
    Keyutils,
    /// The macOS Keychain (macOS default; untested here)
    Keychain,
    /// The Windows Credential Manager (Windows default; untested here)
    Windows,
}

impl KeyringBackend {
    /// The platform's own keyring.
    pub fn platform_default() -> Self {
        if cfg!(target_os = "macos") {
            Self::Keychain
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::SecretService
        }
    }

    /// The name used in flags and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::SecretService => "secret-service",
            Self::Keyutils => "keyutils",
            Self::Keychain => "keychain",
            Self::Windows => "windows",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every user of the directory, following all pages
    #[command(after_help = USERS_EXAMPLES)]
    Users(UsersArgs),
    /// Keep the client secret in the OS keyring instead of a file or an env var
    #[command(subcommand, after_help = SECRET_EXAMPLES)]
    Secret(SecretCommand),
    /// Manage the encrypted token cache
    #[command(subcommand)]
    Cache(CacheCommand),
}

const SECRET_EXAMPLES: &str = "\
The entry is keyed by authority host + tenant + client id (service \"graphd\").
When no credential is given by flag or env, graphd uses this secret.

Examples:
  printf %s \"$SECRET\" | graphd secret set --tenant T --client-id C
  graphd secret set --tenant T --client-id C          # prompts twice, no echo
  graphd secret status --tenant T --client-id C
  graphd secret delete --tenant T --client-id C --keyring keyutils";

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

const USERS_EXAMPLES: &str = "\
Examples:
  AZURE_CLIENT_SECRET=... graphd users --tenant T --client-id C
  graphd users --cert cert.pem --key key.pem -o jsonl
  graphd users --select id,displayName --top 999 --max-items 5000";

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Page size asked of Graph ($top), 1..=999
    #[arg(long, default_value_t = 999, value_parser = clap::value_parser!(u16).range(1..=999))]
    pub top: u16,

    /// Properties to return ($select), comma-separated, e.g. id,displayName
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub select: Vec<String>,

    /// Stop after this many users
    #[arg(long, value_name = "N")]
    pub max_items: Option<u64>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
}

/// How users are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One JSON array, written as pages arrive
    Json,
    /// One JSON object per line
    Jsonl,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["graphd", "--tenant", "t", "users"]).unwrap();
        let b = Cli::try_parse_from(["graphd", "users", "--tenant", "t"]).unwrap();
        assert_eq!(a.global.tenant.as_deref(), Some("t"));
        assert_eq!(b.global.tenant.as_deref(), Some("t"));
    }

    #[test]
    fn top_out_of_range_is_a_usage_error() {
        for bad in ["0", "1000", "-1"] {
            let err = Cli::try_parse_from(["graphd", "users", "--top", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn there_is_no_flag_that_takes_a_secret_value() {
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            assert!(
                !(id.contains("secret") && arg.get_action().takes_values() && id != "secret_file"),
                "flag {id} would take a secret in argv"
            );
        }
    }
}

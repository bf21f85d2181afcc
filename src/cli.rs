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
  5  network, TLS or server failure";

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

    /// Certificate registered on the app: PEM (cert, chain, or cert + key), or PKCS#12
    /// (.pfx/.p12, also base64); `-` = stdin [env: AZURE_CLIENT_CERTIFICATE_PATH]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub cert: Option<PathBuf>,

    /// Private key of --cert or --thumbprint (PEM: PKCS#1, PKCS#8 or encrypted; `-` = stdin)
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub key: Option<PathBuf>,

    /// SHA-1 thumbprint (hex, as the portal shows it) of the registered certificate, with --key
    /// and without --cert: the quickstart's form; sends RS256 + x5t
    #[arg(
        long,
        global = true,
        value_name = "HEX",
        conflicts_with = "cert",
        requires = "key",
        help_heading = "Credentials"
    )]
    pub thumbprint: Option<String>,

    /// A JWT from the CI provider (workload identity federation), re-read for every token request
    /// [env: AZURE_FEDERATED_TOKEN_FILE]
    #[arg(long, global = true, value_name = "PATH", help_heading = "Credentials")]
    pub federated_token_file: Option<PathBuf>,

    /// Read the key's or PKCS#12 file's password from stdin (first line), only if one is needed
    /// [or env: AZURE_CLIENT_CERTIFICATE_PASSWORD; else a no-echo prompt on a terminal]
    #[arg(long, global = true, help_heading = "Credentials")]
    pub cert_password_stdin: bool,

    /// Add the certificate chain as an x5c header (Subject Name + Issuer authentication)
    /// [env: AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1|true]
    #[arg(long, global = true, help_heading = "Credentials")]
    pub send_x5c: bool,

    /// Accept an unencrypted key file that group or others may read (refused by default, as ssh does)
    #[arg(long, global = true, help_heading = "Credentials")]
    pub allow_insecure_key_file: bool,

    /// Client-assertion signature: ps256 (with x5t#S256, the default) or rs256 (with x5t)
    #[arg(long, global = true, value_enum, help_heading = "Credentials")]
    pub assertion_alg: Option<AssertionAlg>,

    /// Keyring that holds the client secret stored by `graphd secret set`
    #[arg(long, env = "GRAPHD_KEYRING", global = true, value_enum, default_value_t = KeyringBackend::platform_default(), help_heading = "Credentials")]
    pub keyring: KeyringBackend,

    /// Do not read or write the encrypted token cache [or env: GRAPHD_TOKEN_CACHE=off]
    #[arg(long, global = true)]
    pub no_token_cache: bool,

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
    /// Make and inspect certificates for app registrations
    #[command(subcommand)]
    Cert(CertCommand),
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

const CERT_KEYS_EXAMPLES: &str = "\
An app may roll its own keys without any admin permission, but only while it holds a valid,
registered certificate: these commands authenticate with --cert/--key (the current one) and
sign a proof of possession with it. The application *object* id (not the client id) is read
from Graph when it allows, else give --app-object-id (portal: App registrations > the app >
Overview > Object ID).

Examples:
  graphd cert list --cert cur.pem --key cur.key
  graphd cert new --out-cert new.pem --out-key new.key --hours 24
  graphd cert rotate --cert cur.pem --key cur.key --new-cert new.pem --new-key new.key
  graphd cert remove 6f0c...-keyid --cert new.pem --key new.key --app-object-id OID";

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
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CertAddArgs {
    /// The certificate to register (PEM, DER or PKCS#12; only its public part is sent)
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
    /// The new certificate (PEM)
    #[arg(long, value_name = "PATH")]
    pub new_cert: PathBuf,
    /// The new certificate's private key (PEM)
    #[arg(long, value_name = "PATH")]
    pub new_key: PathBuf,
    /// Keep the current certificate registered after the new one works
    #[arg(long)]
    pub keep_old: bool,
    /// How long to keep trying the new certificate while its registration propagates
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub propagation_timeout: u64,
    #[command(flatten)]
    pub app: AppObjectArgs,
}

const CERT_NEW_EXAMPLES: &str = "\
The key is written with mode 0600; nothing is overwritten. Upload the certificate (never the
key) under the app registration's Certificates & secrets, or register it with the manifest
entry from `graphd cert show --manifest`.

Examples:
  graphd cert new --out-cert cert.pem --out-key key.pem --subject CN=my-daemon
  graphd cert new --out-cert ci.pem --out-key ci.key --hours 24
  AZURE_CLIENT_CERTIFICATE_PASSWORD=... graphd cert new --out-cert c.pem --out-key k.pem --pfx c.pfx";

const CERT_SHOW_EXAMPLES: &str = "\
Examples:
  graphd cert show cert.pem
  graphd cert show app.pfx --json          # password from AZURE_CLIENT_CERTIFICATE_PASSWORD or a prompt
  graphd cert show cert.pem --manifest     # the keyCredentials entry for the app manifest";

#[derive(Debug, Args)]
pub struct CertNewArgs {
    /// Where to write the certificate (PEM); must not exist
    #[arg(long, value_name = "PATH")]
    pub out_cert: PathBuf,
    /// Where to write the private key (PKCS#8 PEM, mode 0600); must not exist
    #[arg(long, value_name = "PATH")]
    pub out_key: PathBuf,
    /// Subject distinguished name, e.g. CN=my-daemon or CN=app,O=Contoso
    #[arg(long, default_value = "CN=graphd")]
    pub subject: String,
    /// Validity in days
    #[arg(long, value_name = "N", conflicts_with = "hours", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: Option<u32>,
    /// Validity in hours (short-lived CI certificates)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=87600))]
    pub hours: Option<u32>,
    /// RSA key size in bits
    #[arg(long, default_value_t = 2048, value_parser = parse_key_size)]
    pub key_size: u32,
    /// Also write a PKCS#12 file (mode 0600); its password comes from
    /// AZURE_CLIENT_CERTIFICATE_PASSWORD, else stdin when not a terminal, else a prompt
    #[arg(long, value_name = "PATH")]
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
    /// The certificate: PEM, DER or PKCS#12 (.pfx/.p12, also base64); `-` = stdin
    pub path: PathBuf,
    /// Print the keyCredentials entry for the app manifest (JSON)
    #[arg(long)]
    pub manifest: bool,
    /// Print as JSON, for machines
    #[arg(long, conflicts_with = "manifest")]
    pub json: bool,
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

//! Flag spelling, help text and conflicts, as clap derive structs — nothing else.
//!
//! These types go no further than `config` (which layers and validates them into a `Config`)
//! and `commands` (each command's own arguments); domain enums are not defined here but in
//! their domains, which derive `clap::ValueEnum`.
//! Secrets never arrive here: there is no flag that takes a secret value, because argv is
//! visible to every local user (`ps`, `/proc/PID/cmdline`). Secret *sources* (stdin, a file)
//! are flags; the secret's value is read by `credential`.
//!
//! Files by job: `global` holds the options every command takes, `cert` the `cert`
//! subcommands' arguments, `help` the long help texts, examples and exit codes; the commands'
//! own arguments are here.

mod cert;
mod global;
pub mod help;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use self::help::*;
use crate::graph::query::ApiVersion;

pub use cert::{
    AppObjectArgs, CertAddArgs, CertCommand, CertListArgs, CertNewArgs, CertRemoveArgs,
    CertRotateArgs, CertShowArgs,
};
pub use global::{ArgOrigin, GlobalArgs};

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

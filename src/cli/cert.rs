//! `graphd cert ...`: making, inspecting and rotating an app's certificates, one struct of
//! arguments per subcommand.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::help::*;

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

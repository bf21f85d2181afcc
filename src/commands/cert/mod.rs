//! `graphd cert new|show|list|add|remove|rotate`, one file each behind this dispatcher.
//!
//! `new` and `show` need no tenant or network; `list`, `add`, `remove` and `rotate` roll the
//! app's own certificates through Graph's application API (PROTOCOL.md §7), authenticated and
//! proven by the current certificate. Any of the keys may be on a PKCS#11 token
//! (`--key 'pkcs11:...'`): `new` makes it there, the proofs are signed there.
//!
//! With a managed identity: `list` works (as the app with `--federated-managed-identity`; with
//! `--managed-identity` for the app named by `--app-object-id`, if the identity may read it).
//! `add`, `remove` and `rotate` are refused before anything is sent: Graph's addKey/removeKey
//! want a proof signed by a certificate the app already holds, and a managed identity holds none.

mod add;
mod list;
mod new;
mod remove;
mod rotate;
mod show;

use std::io::{self, IsTerminal};
use std::path::Path;

use openssl::x509::X509;

use crate::cli::{CertCommand, GlobalArgs};
use crate::config::{self, Config, ConfigError, Env};
use crate::credential::certificate::CertificateCredential;
use crate::credential::pkcs11::{self, Pkcs11Uri};
use crate::credential::{CredentialError, PasswordSource, Passwords, decode, input};
use crate::error::Error;
use crate::graph::{Graph, Target};
use crate::http::Http;
use crate::names::ENV_PKCS11_PIN;
use crate::secret::Pin;
use crate::token::provider::Tokens;

/// Runs one `graphd cert` subcommand.
pub fn run(cmd: &CertCommand, global: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    match cmd {
        CertCommand::New(args) => new::run(args, global, env),
        CertCommand::Show(args) => show::run(args, global, env),
        CertCommand::List(args) => list::run(&Config::from_args(global, env)?, args),
        CertCommand::Add(args) => add::run(&proving(Config::from_args(global, env)?)?, args),
        CertCommand::Remove(args) => remove::run(&proving(Config::from_args(global, env)?)?, args),
        CertCommand::Rotate(args) => rotate::run(&proving(Config::from_args(global, env)?)?, args),
    }
}

/// A configuration that can sign a proof of possession: not a managed identity's (refused
/// before any request, rather than after a token was fetched for nothing).
fn proving(config: Config) -> Result<Config, Error> {
    if config.is_managed_identity() {
        return Err(ConfigError::NoProofWithManagedIdentity.into());
    }
    Ok(config)
}

/// What the key-management commands share: a client, a token for the current credential, the
/// Graph target and the application object id.
struct Session<'a> {
    http: &'a Http,
    tokens: Tokens<'a>,
    target: Target,
    object_id: String,
}

impl<'a> Session<'a> {
    fn open(
        http: &'a Http,
        config: &Config,
        app_object_id: Option<&str>,
    ) -> Result<Session<'a>, Error> {
        // A plain managed identity is no app: it has no application object to look up.
        if app_object_id.is_none() && config.client_id.is_empty() {
            return Err(ConfigError::ManagedIdentityHasNoApp.into());
        }
        let tokens = super::session::tokens(http, config)?;
        let target = config.graph_target();
        let object_id = match app_object_id {
            Some(oid) => oid.to_string(),
            None => Graph::new(http, &tokens, &target).application_object_id(&config.client_id)?,
        };
        Ok(Session {
            http,
            tokens,
            target,
            object_id,
        })
    }

    fn graph(&self) -> Graph<'_> {
        Graph::new(self.http, &self.tokens, &self.target)
    }

    /// The current certificate credential, or a usage error: proofs are signed with it.
    fn certificate(&self) -> Result<&CertificateCredential, Error> {
        Ok(self
            .tokens
            .credential()
            .certificate()
            .ok_or(ConfigError::NeedsCertificate)?)
    }

    /// The current certificate's thumbprint, if the run uses a certificate.
    fn current_thumbprint(&self) -> Option<String> {
        self.tokens
            .credential()
            .certificate()
            .map(CertificateCredential::thumbprint_hex)
    }
}

/// Runs `f` on a token with what reaching its key takes from the flags and the environment:
/// the module (`--pkcs11-module`) and the PIN (`--pin-stdin`, `GRAPHD_PKCS11_PIN`, else the
/// URI's `pin-source` or a prompt), for commands that read no configuration (`new`, `show`).
fn with_token_access<T>(
    global: &GlobalArgs,
    env: &dyn Env,
    f: impl FnOnce(pkcs11::Access, &mut Passwords) -> Result<T, Error>,
) -> Result<T, Error> {
    let pin = config::pin_source(env.var(ENV_PKCS11_PIN).map(Pin::new), global.pin_stdin);
    let terminal = io::stdin().is_terminal();
    let mut stdin = io::stdin().lock();
    let mut passwords = Passwords::new(PasswordSource::Prompt, &mut stdin, terminal).with_pin(pin);
    let access = pkcs11::Access {
        module: global.pkcs11_module.as_deref(),
        allow_insecure_pin_file: global.allow_insecure_key_file,
    };
    f(access, &mut passwords)
}

/// The certificates of a file: PEM, DER or PKCS#12, its password (if it needs one) from
/// `password`. Standard input serves the file when `path` is `-`, else the password. A
/// `pkcs11:` URI names a certificate object on a token (read without logging in), whose module
/// is the URI's or `module`.
fn read_certificates(
    path: &Path,
    password: PasswordSource,
    module: Option<&Path>,
) -> Result<Vec<X509>, Error> {
    if let Some(uri) = path.to_str().filter(|s| Pkcs11Uri::is_uri(s)) {
        let uri = Pkcs11Uri::parse(uri).map_err(|source| ConfigError::Pkcs11Uri {
            from: path.display().to_string(),
            source,
        })?;
        let access = pkcs11::Access {
            module,
            allow_insecure_pin_file: false,
        };
        return Ok(vec![
            pkcs11::certificate(&uri, access).map_err(CredentialError::from)?,
        ]);
    }
    Ok(read_certificate_file(path, password)?)
}

fn read_certificate_file(
    path: &Path,
    password: PasswordSource,
) -> Result<Vec<X509>, CredentialError> {
    let terminal = io::stdin().is_terminal();
    let mut stdin = io::stdin().lock();
    let mut no_stdin = io::empty();
    let (file_stdin, password_stdin): (&mut dyn io::Read, &mut dyn io::Read) =
        if path == Path::new("-") {
            (&mut stdin, &mut no_stdin)
        } else {
            (&mut no_stdin, &mut stdin)
        };
    let input = input::read_input(path, file_stdin)?;
    let mut passwords = Passwords::new(password, password_stdin, terminal);
    decode::certificates(&input, &mut passwords)
}

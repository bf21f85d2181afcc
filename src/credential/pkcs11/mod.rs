//! Keys that never leave a hardware token (an HSM, a smart card or YubiKey, a TPM, SoftHSM),
//! used through PKCS#11 (`cryptoki`, a safe API over the C interface).
//!
//! Files by job: `uri` parses RFC 7512 URIs, `module` loads the module once per process and
//! finalizes it, `session` selects the token and logs in once with a PIN tried once, `pin`
//! says where the PIN comes from, `key` finds, checks and signs with the private key (and makes
//! new ones for `cert new`), `error` says what went wrong and what to do. Nothing here sends
//! HTTP or caches; `certificate` turns a token key into a `CertificateCredential` whose
//! `Signer::Pkcs11` signs on the token.

pub mod error;
mod key;
mod module;
mod pin;
mod session;
pub mod uri;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openssl::x509::X509;
use tracing::info;

pub use error::{ObjectName, Pkcs11Error, TokenName};
pub use key::{KeyFacts, Scheme, TokenKey};
pub use pin::{PinSource, PinState};
pub use session::TokenSession;
pub use uri::{Pkcs11Uri, UriError};

use super::CredentialError;
use super::input::Passwords;

/// How to reach a token key: the module given apart from the URI, and how lax to be with a
/// PIN file's permissions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Access<'a> {
    /// `--pkcs11-module` / `GRAPHD_PKCS11_MODULE`.
    pub module: Option<&'a Path>,
    /// `--allow-insecure-key-file` also allows a PIN file others may read.
    pub allow_insecure_pin_file: bool,
}

/// How many more times a module that shows no initialized token at all is loaded afresh, and
/// the pause before each, before graphd says there is no token (at most 0.45 s in all).
const EMPTY_MODULE_RELOADS: u32 = 3;
const EMPTY_MODULE_PAUSE: Duration = Duration::from_millis(150);

/// The token `uri` selects, with its session, not logged in.
///
/// A module graphd loaded itself that shows no initialized token at all is finalized and loaded
/// again a few times first: SoftHSM's file store reads a token as absent to a process that
/// starts while another process logs in to it (the login rewrites the token's file), and it
/// reads its tokens only when initialized. A reader still coming up (pcscd) is helped too.
pub fn open_token(uri: &Pkcs11Uri, access: Access<'_>) -> Result<Arc<TokenSession>, Pkcs11Error> {
    let path = module::resolve(uri, access.module)?;
    let mut reloads = 0;
    loop {
        let module = module::Module::load(&path)?;
        match TokenSession::open(&module, uri) {
            Err(Pkcs11Error::NoToken { seen, .. })
                if seen.is_empty() && reloads < EMPTY_MODULE_RELOADS && module.reloadable() =>
            {
                reloads += 1;
                info!(
                    target: "graphd::credential",
                    "{} shows no initialized token; loading it again ({reloads} of {EMPTY_MODULE_RELOADS})",
                    path.display()
                );
                drop(module);
                std::thread::sleep(EMPTY_MODULE_PAUSE);
            }
            r => return r,
        }
    }
}

/// The token `uri` selects, logged in (once per token per process).
fn logged_in(
    uri: &Pkcs11Uri,
    access: Access<'_>,
    passwords: &mut Passwords<'_>,
) -> Result<Arc<TokenSession>, CredentialError> {
    let session = open_token(uri, access)?;
    session.login(
        passwords,
        uri.pin_source.as_deref(),
        access.allow_insecure_pin_file,
    )?;
    Ok(session)
}

/// The private key `uri` names, on its logged-in token, checked.
pub fn open_key(
    uri: &Pkcs11Uri,
    access: Access<'_>,
    passwords: &mut Passwords<'_>,
) -> Result<TokenKey, CredentialError> {
    TokenKey::find(logged_in(uri, access, passwords)?, uri)
}

/// A new key pair of `bits` bits made inside the token `uri` selects (`cert new`).
pub fn generate_key(
    uri: &Pkcs11Uri,
    access: Access<'_>,
    passwords: &mut Passwords<'_>,
    bits: u32,
) -> Result<TokenKey, CredentialError> {
    TokenKey::generate(logged_in(uri, access, passwords)?, uri, bits)
}

/// The certificate `uri` names on its token, read without logging in (`cert add pkcs11:...`).
pub fn certificate(uri: &Pkcs11Uri, access: Access<'_>) -> Result<X509, Pkcs11Error> {
    let session = open_token(uri, access)?;
    key::certificate_named(&session, uri)
}

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

use openssl::x509::X509;

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

/// The token `uri` selects, with its session, not logged in.
pub fn open_token(uri: &Pkcs11Uri, access: Access<'_>) -> Result<Arc<TokenSession>, Pkcs11Error> {
    let path = module::resolve(uri, access.module)?;
    let module = module::Module::load(&path)?;
    TokenSession::open(&module, uri)
}

/// The private key `uri` names, on its logged-in token, checked.
pub fn open_key(
    uri: &Pkcs11Uri,
    access: Access<'_>,
    passwords: &mut Passwords<'_>,
) -> Result<TokenKey, CredentialError> {
    let session = open_token(uri, access)?;
    session.login(
        passwords,
        uri.pin_source.as_deref(),
        access.allow_insecure_pin_file,
    )?;
    TokenKey::find(session, uri)
}

/// A new key pair of `bits` bits made inside the token `uri` selects (`cert new`).
pub fn generate_key(
    uri: &Pkcs11Uri,
    access: Access<'_>,
    passwords: &mut Passwords<'_>,
    bits: u32,
) -> Result<TokenKey, CredentialError> {
    let session = open_token(uri, access)?;
    session.login(
        passwords,
        uri.pin_source.as_deref(),
        access.allow_insecure_pin_file,
    )?;
    TokenKey::generate(session, uri, bits)
}

/// The certificate `uri` names on its token, read without logging in (`cert add pkcs11:...`).
pub fn certificate(uri: &Pkcs11Uri, access: Access<'_>) -> Result<X509, Pkcs11Error> {
    let session = open_token(uri, access)?;
    key::certificate_named(&session, uri)
}

//! `graphd cert show PATH|URI`: a certificate's subject, validity, key and thumbprints the way
//! the portal and Entra see them, or its app-manifest entry. PEM, DER or PKCS#12; `-` is stdin.
//! A `pkcs11:` URI shows a key on a token: its certificate there (or the key's public part),
//! and whether the private key can leave the token (this logs in: private-key attributes are
//! private objects).

use std::path::Path;
use std::time::SystemTime;

use crate::cli::{CertShowArgs, GlobalArgs};
use crate::config::{self, ConfigError, Env};
use crate::credential::CredentialError;
use crate::credential::info::{CertInfo, TokenKeyInfo};
use crate::credential::make::MakeError;
use crate::credential::pkcs11::{self, Pkcs11Uri};
use crate::error::Error;
use crate::names::{self, ENV_CERT_PASSWORD};
use crate::output;
use crate::secret::CertPassword;

pub fn run(args: &CertShowArgs, global: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    if let Some(uri) = args.path.to_str().filter(|s| Pkcs11Uri::is_uri(s)) {
        return on_token(args, uri, global, env);
    }
    let from_stdin = args.path == Path::new("-");
    // The certificate or the password may read stdin, not both (env or a prompt instead).
    config::one_stdin(&[
        (from_stdin, "cert show -"),
        (global.cert_password_stdin, names::CERT_PASSWORD_STDIN.flag),
    ])?;
    let password = config::password_source(
        env.var(ENV_CERT_PASSWORD).map(CertPassword::new),
        global.cert_password_stdin,
    );
    let chain = super::read_certificates(&args.path, password, None)?;
    let info = CertInfo::of(&chain[0], chain.len(), SystemTime::now()).map_err(MakeError::from)?;
    if args.manifest {
        output::json(&info.manifest())?;
    } else if args.json {
        output::json(&info)?;
    } else {
        output::message(&info.human())?;
    }
    Ok(())
}

fn on_token(
    args: &CertShowArgs,
    uri: &str,
    global: &GlobalArgs,
    env: &dyn Env,
) -> Result<(), Error> {
    let uri = Pkcs11Uri::parse_key(uri).map_err(|source| ConfigError::Pkcs11Uri {
        from: "cert show".into(),
        source,
    })?;
    let key = super::with_token_access(global, env, |access, passwords| {
        Ok(pkcs11::open_key(&uri, access, passwords)?)
    })?;
    let cert = key.certificate().map_err(CredentialError::from)?;
    let now = SystemTime::now();
    let info = TokenKeyInfo::of(&key, cert.as_deref(), now).map_err(MakeError::from)?;
    if args.manifest {
        let cert = info.certificate.as_ref().ok_or_else(|| {
            CredentialError::from(pkcs11::Pkcs11Error::NoCertificate {
                token: key.token().clone(),
                object: key.object.clone(),
            })
        })?;
        output::message(&serde_json::to_string_pretty(&cert.manifest()).expect("JSON of strings"))?;
    } else if args.json {
        output::message(
            &serde_json::to_string_pretty(&info).expect("JSON of strings and numbers"),
        )?;
    } else {
        output::message(&info.human())?;
    }
    Ok(())
}

//! `graphd cert new`: a self-signed RSA certificate and key for an app registration. Every
//! output path is checked before anything is written; the key is written first (`0600`,
//! create-new), then the certificate, then an optional PKCS#12 (`0600`).
//!
//! With `--key 'pkcs11:...'` the key pair is made inside the token (never extractable, sign
//! only) and the token signs the certificate; `--store-cert` also stores the certificate on the
//! token with the key's id and label. Nothing is made when an object with that label or id
//! exists.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::cli::{CertNewArgs, GlobalArgs};
use crate::config::{ConfigError, Env};
use crate::credential::info::CertInfo;
use crate::credential::input::{self, LineSource};
use crate::credential::pkcs11::{self, Pkcs11Uri, uri::encode_id};
use crate::credential::{CredentialError, KeyRef, make};
use crate::error::Error;
use crate::files::Access;
use crate::names::{self, ENV_CERT_PASSWORD};
use crate::output;
use crate::secret::CertPassword;

pub fn run(args: &CertNewArgs, global: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    // Only a token key matters here: a key file named by --key / GRAPHD_KEY for other commands
    // is not what `cert new` makes (it writes --out-key).
    let token = global
        .key
        .as_deref()
        .map(KeyRef::parse)
        .transpose()
        .map_err(|source| ConfigError::Pkcs11Uri {
            from: names::KEY.flag.into(),
            source,
        })?
        .and_then(|k| k.token().cloned());
    let lifetime = match (args.days, args.hours) {
        (_, Some(h)) => Duration::from_secs(u64::from(h) * 3600),
        (Some(d), None) => Duration::from_secs(u64::from(d) * 86_400),
        (None, None) => Duration::from_secs(365 * 86_400),
    };
    match token {
        Some(uri) => on_token(args, &uri, global, env, lifetime),
        None => in_files(args, env, lifetime),
    }
}

fn in_files(args: &CertNewArgs, env: &dyn Env, lifetime: Duration) -> Result<(), Error> {
    let out_key = args.out_key.as_deref().ok_or(ConfigError::OutKeyNeeded)?;
    if args.store_cert {
        return Err(ConfigError::StoreCertNeedsToken.into());
    }
    let outputs: Vec<&Path> = [
        Some(out_key),
        Some(args.out_cert.as_path()),
        args.pfx.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    make::refuse_existing(&outputs)?;
    let name = make::parse_subject(&args.subject)?;
    let password = match &args.pfx {
        Some(_) => Some(pfx_password(env)?),
        None => None,
    };
    let now = SystemTime::now();
    let key = make::rsa_key(args.key_size)?;
    let cert = make::self_signed(&key, &name, lifetime, now)?;

    make::write_new(out_key, &make::key_pem(&key)?, Access::Private)?;
    make::write_new(
        &args.out_cert,
        &cert.to_pem().map_err(make::MakeError::from)?,
        Access::Public,
    )?;
    if let (Some(path), Some(password)) = (&args.pfx, &password) {
        let friendly = args.subject.trim_start_matches("CN=");
        let der = make::pkcs12(&key, &cert, friendly, password)?;
        make::write_new(path, &der, Access::Private)?;
    }
    let info = CertInfo::of(&cert, 1, now).map_err(make::MakeError::from)?;
    let mut written = format!(
        "Wrote:               {} (key, {}), {}",
        out_key.display(),
        crate::files::PRIVATE_DESCRIPTION,
        args.out_cert.display()
    );
    if let Some(p) = &args.pfx {
        written.push_str(&format!(
            ", {} ({})",
            p.display(),
            crate::files::PRIVATE_DESCRIPTION
        ));
    }
    output::message(&format!(
        "{}\n{written}\nNext:                upload {} (never the key) to the app registration",
        info.human(),
        args.out_cert.display()
    ))?;
    Ok(())
}

/// The key pair made inside the token, the certificate signed by it.
fn on_token(
    args: &CertNewArgs,
    uri: &Pkcs11Uri,
    global: &GlobalArgs,
    env: &dyn Env,
    lifetime: Duration,
) -> Result<(), Error> {
    if args.out_key.is_some() || args.pfx.is_some() {
        return Err(ConfigError::TokenKeyNotWritten.into());
    }
    if !uri.names_object() {
        return Err(CredentialError::from(pkcs11::Pkcs11Error::NoObjectNamed {
            uri: uri.to_string(),
        })
        .into());
    }
    make::refuse_existing(&[args.out_cert.as_path()])?;
    let name = make::parse_subject(&args.subject)?;
    let key = super::with_token_access(global, env, |access, passwords| {
        Ok(pkcs11::generate_key(uri, access, passwords, args.key_size)?)
    })?;
    let now = SystemTime::now();
    let cert = make::token_self_signed(&key, &name, &args.subject, lifetime, now)?;
    make::write_new(
        &args.out_cert,
        &cert.to_pem().map_err(make::MakeError::from)?,
        Access::Public,
    )?;
    if args.store_cert {
        key.store_certificate(&cert)
            .map_err(make::MakeError::from)?;
    }
    let info = CertInfo::of(&cert, 1, now).map_err(make::MakeError::from)?;
    // The URI to use from now on: the token and the new key's label and id.
    let mut named = uri.clone();
    named.object = Some(key.object.label.clone()).filter(|l| !l.is_empty());
    named.id = Some(key.object.id.clone());
    let stored = if args.store_cert {
        "\nStored:              the certificate on the token, with the key's id and label"
    } else {
        ""
    };
    let cert_flag = if args.store_cert {
        String::new()
    } else {
        format!(" --cert {}", args.out_cert.display())
    };
    output::message(&format!(
        "{}\nPrivate key:         made inside token {} as '{}' (id {}): sensitive, never extractable, {}\n\
         Wrote:               {}{stored}\n\
         Next:                upload {} to the app registration, then use --key '{named}'{cert_flag}",
        info.human(),
        key.token(),
        key.object.label,
        encode_id(&key.object.id),
        if key.facts.decrypt == Some(true) {
            "signs and (the token insisted) decrypts"
        } else {
            "sign only"
        },
        args.out_cert.display(),
        args.out_cert.display(),
    ))?;
    Ok(())
}

/// The PKCS#12 password: env, else stdin when it is not a terminal, else typed twice.
fn pfx_password(env: &dyn Env) -> Result<CertPassword, CredentialError> {
    let password = match env.var(ENV_CERT_PASSWORD) {
        Some(p) => CertPassword::new(p),
        None => {
            let terminal = io::stdin().is_terminal();
            let mut stdin = io::stdin().lock();
            let source = if terminal {
                LineSource::Prompt {
                    label: "PKCS#12 password: ",
                    twice: true,
                }
            } else {
                LineSource::Stdin(&mut stdin)
            };
            CertPassword::new(input::read_line(source, input::PASSWORD)?.to_string())
        }
    };
    if password.expose().is_empty() {
        return Err(CredentialError::EmptyPassword);
    }
    Ok(password)
}

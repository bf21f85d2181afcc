//! `graphd cert new`: a self-signed RSA certificate and key for an app registration. Every
//! output path is checked before anything is written; the key is written first (`0600`,
//! create-new), then the certificate, then an optional PKCS#12 (`0600`).

use std::io::{self, IsTerminal};
use std::time::{Duration, SystemTime};

use crate::cli::CertNewArgs;
use crate::config::Env;
use crate::credential::info::CertInfo;
use crate::credential::input::{self, LineSource};
use crate::credential::{CredentialError, make};
use crate::error::Error;
use crate::files::Access;
use crate::names::ENV_CERT_PASSWORD;
use crate::output;
use crate::secret::CertPassword;

pub fn run(args: &CertNewArgs, env: &dyn Env) -> Result<(), Error> {
    let outputs: Vec<&std::path::Path> = [
        Some(args.out_key.as_path()),
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
    let lifetime = match (args.days, args.hours) {
        (_, Some(h)) => Duration::from_secs(u64::from(h) * 3600),
        (Some(d), None) => Duration::from_secs(u64::from(d) * 86_400),
        (None, None) => Duration::from_secs(365 * 86_400),
    };
    let now = SystemTime::now();
    let key = make::rsa_key(args.key_size)?;
    let cert = make::self_signed(&key, &name, lifetime, now)?;

    make::write_new(&args.out_key, &make::key_pem(&key)?, Access::Private)?;
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
        args.out_key.display(),
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

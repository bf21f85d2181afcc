//! `graphd cert show PATH`: a certificate's subject, validity, key and thumbprints the way the
//! portal and Entra see them, or its app-manifest entry. PEM, DER or PKCS#12; `-` is stdin.

use std::path::Path;
use std::time::SystemTime;

use crate::cli::{CertShowArgs, GlobalArgs};
use crate::config::{self, Env};
use crate::credential::info::CertInfo;
use crate::credential::make::MakeError;
use crate::error::Error;
use crate::names::{self, ENV_CERT_PASSWORD};
use crate::output;
use crate::secret::CertPassword;

pub fn run(args: &CertShowArgs, global: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
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
    let chain = super::read_certificates(&args.path, password)?;
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

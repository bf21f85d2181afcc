//! `graphd cert add NEW_CERT`: registers another certificate on the app (`addKey`), proven by
//! the current one. Only the new certificate's public part is read and sent.

use std::time::SystemTime;

use super::Session;
use crate::cli::CertAddArgs;
use crate::config::Config;
use crate::credential::{CredentialError, proof};
use crate::error::Error;
use crate::output;
use crate::time;

pub fn run(config: &Config, args: &CertAddArgs) -> Result<(), Error> {
    let http = super::super::session::http(config)?;
    let s = Session::open(&http, config, args.app.app_object_id.as_deref())?;
    let current = s.certificate()?;
    let chain = super::read_certificates(
        &args.new_cert,
        config.cert_password(),
        config.pkcs11_module.as_deref(),
    )?;
    let der = chain[0].to_der().map_err(CredentialError::Crypto)?;
    let proof = proof::sign(current, &s.object_id, time::unix_secs(SystemTime::now()))?;
    let added = s.graph().add_key(&s.object_id, &der, &proof)?;
    output::message(&format!(
        "added keyId {} (thumbprint {})",
        added.key_id,
        added.custom_key_identifier.as_deref().unwrap_or("-")
    ))?;
    Ok(())
}

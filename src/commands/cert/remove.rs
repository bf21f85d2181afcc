//! `graphd cert remove KEY_ID`: removes a registered certificate (`removeKey`), proven by the
//! current one; warns when that is the certificate in use (it stops working at once).

use std::time::SystemTime;

use tracing::warn;

use super::Session;
use crate::cli::CertRemoveArgs;
use crate::config::Config;
use crate::credential::proof;
use crate::error::Error;
use crate::output;
use crate::time;

pub fn run(config: &Config, args: &CertRemoveArgs) -> Result<(), Error> {
    let http = super::super::session::http(config)?;
    let s = Session::open(&http, config, args.app.app_object_id.as_deref())?;
    let current = s.certificate()?;
    if let Ok(keys) = s.graph().key_credentials(&s.object_id)
        && keys
            .iter()
            .any(|k| k.key_id.eq_ignore_ascii_case(&args.key_id) && k.is(&current.thumbprint_hex()))
    {
        warn!(target: "graphd", "removing the certificate graphd is using now: it stops working at once");
    }
    let proof = proof::sign(current, &s.object_id, time::unix_secs(SystemTime::now()))?;
    s.graph().remove_key(&s.object_id, &args.key_id, &proof)?;
    output::message(&format!("removed keyId {}", args.key_id))?;
    Ok(())
}

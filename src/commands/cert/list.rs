//! `graphd cert list`: the app's registered certificates (`keyCredentials`), marking the one
//! this run authenticates with.

use serde_json::json;

use super::Session;
use crate::cli::CertListArgs;
use crate::config::Config;
use crate::error::Error;
use crate::output;

pub fn run(config: &Config, args: &CertListArgs) -> Result<(), Error> {
    let http = super::super::session::http(config)?;
    let s = Session::open(&http, config, args.app.app_object_id.as_deref())?;
    let keys = s.graph().key_credentials(&s.object_id)?;
    let current = s.current_thumbprint();
    let in_use =
        |k: &crate::graph::applications::KeyCredential| current.as_deref().is_some_and(|t| k.is(t));
    if args.json {
        let out: Vec<_> = keys
            .iter()
            .map(|k| {
                let mut v = serde_json::to_value(k).expect("strings");
                v["inUse"] = json!(in_use(k));
                v
            })
            .collect();
        output::json(&out)?;
        return Ok(());
    }
    let mut text = format!(
        "{:<38} {:<42} {:<22} {:<22}",
        "KEY ID", "THUMBPRINT (SHA-1)", "START", "END"
    );
    for k in &keys {
        let mark = if in_use(k) { "  <- in use" } else { "" };
        text.push_str(&format!(
            "\n{:<38} {:<42} {:<22} {:<22}{mark}",
            k.key_id,
            k.custom_key_identifier.as_deref().unwrap_or("-"),
            k.start_date_time.as_deref().unwrap_or("-"),
            k.end_date_time.as_deref().unwrap_or("-"),
        ));
    }
    output::message(&text)?;
    Ok(())
}

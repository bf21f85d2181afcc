//! `graphd token [--scope S]`: the access token as JSON, like `az account get-access-token`.
//!
//! The output IS a secret (said in `--help`). It is written once, to stdout, straight from
//! the `AccessToken` into stdout's buffer; it is never logged.

use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::session;
use crate::cli::TokenArgs;
use crate::config::Config;
use crate::error::Error;
use crate::output;
use crate::request;

/// What is printed; borrowed, so no copy of the token is made.
#[derive(Serialize)]
struct Printed<'a> {
    #[serde(rename = "accessToken")]
    access_token: &'a str,
    /// RFC 3339, UTC.
    #[serde(rename = "expiresOn")]
    expires_on: String,
    /// Unix seconds (az's `expires_on`).
    expires_on_unix: u64,
    #[serde(rename = "tokenType")]
    token_type: &'static str,
    scope: &'a str,
    tenant: &'a str,
}

pub fn run(config: &mut Config, args: &TokenArgs) -> Result<(), Error> {
    if let Some(scope) = &args.scope {
        request::check_scope(scope)?;
        config.scope_override = Some(scope.clone());
    }
    let token = &session::token(config)?;
    let scope = config.scope();
    let printed = Printed {
        access_token: token.access_token.expose(),
        expires_on: humantime::format_rfc3339_seconds(token.expires_on).to_string(),
        expires_on_unix: token
            .expires_on
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        token_type: "Bearer",
        scope: &scope,
        tenant: &config.tenant,
    };
    output::json_with(|w| serde_json::to_writer_pretty(w, &printed))?;
    Ok(())
}

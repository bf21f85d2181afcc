//! `graphd token [--scope S]`: the access token as JSON, like `az account get-access-token`.
//!
//! The output IS a secret (said in `--help`). It is written once, to stdout, straight from
//! the `AccessToken` into stdout's buffer; it is never logged. With a managed identity,
//! `expiresOn` is the identity endpoint's `expires_on`.

use serde::Serialize;

use super::session;
use crate::cli::TokenArgs;
use crate::config::{self, Config};
use crate::error::Error;
use crate::output;
use crate::time;

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
    /// Absent with `--managed-identity` when no tenant was given (the identity needs none).
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
}

pub fn run(config: &Config, args: &TokenArgs) -> Result<(), Error> {
    if let Some(scope) = &args.scope {
        config::check_scope(scope)?;
    }
    let scope = args.scope.clone().unwrap_or_else(|| config.scope());
    let token = &session::token(config, Some(scope.clone()))?;
    let printed = Printed {
        access_token: token.access_token.expose(),
        expires_on: time::rfc3339_of(token.expires_on),
        expires_on_unix: time::unix_secs(token.expires_on),
        token_type: "Bearer",
        scope: &scope,
        tenant: Some(config.tenant.as_str()).filter(|t| !t.is_empty()),
    };
    output::json(&printed)?;
    Ok(())
}

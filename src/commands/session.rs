//! What every Graph-calling command does first: build the HTTP client (with the configured
//! response cap), load the credential, and get a token (from the encrypted cache or Entra)
//! before any Graph request, so a credential Entra refuses fails first. `Tokens` keeps the
//! credential for the run, to renew the token once if Graph answers 401.

use std::io::{self, IsTerminal};
use std::time::SystemTime;

use crate::config::Config;
use crate::credential::Credential;
use crate::error::Error;
use crate::http::Http;
use crate::token::provider::{TokenSource, Tokens};
use crate::token::{self, Token};

/// The HTTP client every command uses.
pub fn http(config: &Config) -> Result<Http, Error> {
    Ok(Http::new(config.ca_bundle.as_deref())?.with_max_body(config.max_response_bytes))
}

/// The run's credential, read and checked now.
pub fn credential(config: &Config) -> Result<Credential, Error> {
    let terminal = io::stdin().is_terminal();
    Ok(Credential::load(
        &config.credential,
        &mut io::stdin().lock(),
        terminal,
        SystemTime::now(),
    )?)
}

/// The run's token provider, with a first token already in hand.
pub fn tokens<'a>(http: &'a Http, config: &Config) -> Result<Tokens<'a>, Error> {
    let tokens = Tokens::new(http, config.token_request(None), credential(config)?);
    tokens.bearer()?;
    Ok(tokens)
}

/// One token for `scope` (Graph's by default), for `graphd token`: the credential is dropped
/// as soon as it is in hand.
pub fn token(config: &Config, scope: Option<String>) -> Result<Token, Error> {
    let http = http(config)?;
    let credential = credential(config)?;
    Ok(token::obtain(
        &http,
        &config.token_request(scope),
        &credential,
    )?)
}

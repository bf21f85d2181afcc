//! What every Graph-calling command does first: load the credential, build the HTTP client,
//! and obtain a token (from the encrypted cache or Entra). The credential is dropped as soon
//! as the token is in hand.

use std::io;

use crate::config::Config;
use crate::credential::Credential;
use crate::error::Error;
use crate::graph::Graph;
use crate::http::Http;
use crate::token::{self, Token};

/// An HTTP client and a token for `config.scope()`.
pub struct Session {
    pub http: Http,
    pub token: Token,
}

impl Session {
    pub fn open(config: &Config) -> Result<Session, Error> {
        let credential = Credential::load(&config.credential, &mut io::stdin().lock())?;
        let http = Http::new(config.ca_bundle.as_deref())?;
        let token = token::obtain(&http, config, &credential)?;
        drop(credential);
        Ok(Session { http, token })
    }

    /// Graph with this session's token.
    pub fn graph(&self, config: &Config) -> Graph<'_> {
        Graph::new(
            &self.http,
            &self.token.access_token,
            config.admin_consent_url(),
        )
    }
}

/// Writes a short note for the user on stderr (e.g. `count: 42`); never data, never secrets.
pub fn note(text: &str) {
    use std::io::Write;
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "{text}");
}

//! The token provider `graph` is given: it hands out the current access token, replaces it
//! shortly before it expires (a long listing can outlive a token), and — when Graph refuses a token
//! with 401 — gets a fresh one from Entra, bypassing the cache, a bounded number of times.
//!
//! It owns the credential for the run so it can ask again; it never sends a Graph request
//! and never decides whether a 401 is worth a renewal (that is `graph`'s call).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use tracing::info;

use super::{Token, TokenError, TokenRequest};
use crate::credential::Credential;
use crate::http::Http;
use crate::secret::AccessToken;

/// Fresh tokens one run may ask for after Graph refused one: enough for a listing that spans
/// several token lifetimes, few enough that a server refusing every token cannot make graphd
/// hammer Entra (AADSTS50196 "loop detected").
pub const MAX_RENEWALS: u32 = 3;

/// Where `graph` gets its bearer token.
pub trait TokenSource {
    /// The token to send now.
    fn bearer(&self) -> Result<Rc<AccessToken>, TokenError>;

    /// Graph refused `rejected` (401): a different, fresh token, or `None` when no fresher
    /// one may be had (the renewal budget is spent), in which case the 401 stands.
    fn renew(&self, rejected: &Rc<AccessToken>) -> Result<Option<Rc<AccessToken>>, TokenError>;
}

/// Within one run a token is replaced this long before it expires (or a tenth of its life,
/// when that is shorter). The cache's 5-minute margin and `refresh_in` are for reuse across
/// runs; inside a run they would make every page fetch a new token.
pub const IN_RUN_MARGIN: Duration = Duration::from_secs(60);

struct Current {
    token: Rc<AccessToken>,
    /// When to replace it.
    replace_at: SystemTime,
}

impl Current {
    fn new(t: Token, now: SystemTime) -> Self {
        let life = t.expires_on.duration_since(now).unwrap_or(Duration::ZERO);
        Current {
            token: Rc::new(t.access_token),
            replace_at: t.expires_on - IN_RUN_MARGIN.min(life / 10),
        }
    }
}

/// Tokens for one run: from the cache or Entra first, fresh from Entra on renewal.
pub struct Tokens<'a> {
    http: &'a Http,
    request: TokenRequest,
    credential: Credential,
    current: RefCell<Option<Current>>,
    renewals: Cell<u32>,
}

impl<'a> Tokens<'a> {
    /// A provider that has not asked for a token yet.
    pub fn new(http: &'a Http, request: TokenRequest, credential: Credential) -> Self {
        Tokens {
            http,
            request,
            credential,
            current: RefCell::new(None),
            renewals: Cell::new(0),
        }
    }

    /// The credential the tokens come from (e.g. to sign a proof of possession with it).
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// What tokens are asked for (e.g. to try another credential against the same endpoint).
    pub fn request(&self) -> &TokenRequest {
        &self.request
    }
}

impl TokenSource for Tokens<'_> {
    fn bearer(&self) -> Result<Rc<AccessToken>, TokenError> {
        let mut current = self.current.borrow_mut();
        let now = SystemTime::now();
        let stale = current.as_ref().is_none_or(|c| now >= c.replace_at);
        if stale {
            if current.is_some() {
                info!(target: "graphd::token", "the access token is about to expire; getting a new one");
            }
            let token = super::obtain(self.http, &self.request, &self.credential)?;
            *current = Some(Current::new(token, now));
        }
        Ok(current
            .as_ref()
            .map(|c| c.token.clone())
            .expect("set above"))
    }

    fn renew(&self, rejected: &Rc<AccessToken>) -> Result<Option<Rc<AccessToken>>, TokenError> {
        let mut current = self.current.borrow_mut();
        if let Some(c) = current.as_ref()
            && !Rc::ptr_eq(&c.token, rejected)
        {
            // Someone renewed since `rejected` was handed out.
            return Ok(Some(c.token.clone()));
        }
        if self.renewals.get() >= MAX_RENEWALS {
            return Ok(None);
        }
        self.renewals.set(self.renewals.get() + 1);
        if self.credential.managed_identity().is_some() {
            info!(target: "graphd::token", "Graph refused the access token (401); asking the identity endpoint again");
        } else {
            info!(target: "graphd::token", "Graph refused the access token (401); getting a fresh one from Entra, not the cache");
        }
        let fresh = Current::new(
            super::obtain_fresh(self.http, &self.request, &self.credential)?,
            SystemTime::now(),
        );
        let token = fresh.token.clone();
        *current = Some(fresh);
        Ok(Some(token))
    }
}

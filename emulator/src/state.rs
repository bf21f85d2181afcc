//! The state both listeners share: the tenant, its two apps (secrets, registered certificates,
//! roles), the token-signing key, the directory, issued skiptokens and delta tokens, seen `jti`s,
//! the response latency and the log. Built once at start; the directory, certificate lists,
//! tokens, `jti`s, latency and the log change.

use crate::assertion::{RegisteredCert, TrustedSubject};
use crate::directory::{Directory, Prop};
use crate::fault::Faults;
use crate::graph::advanced::{Order, Search};
use crate::graph::delta::DeltaTokens;
use crate::graph::odata::Filter;
use crate::jwt::TokenKey;
use crate::log::LogSink;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, RwLock};

/// One of the app's client secrets.
pub(crate) struct AppSecret {
    pub value: String,
    /// Its end date has passed (AADSTS7000222).
    pub expired: bool,
}

/// An app registration with its service principal in the tenant.
pub(crate) struct App {
    pub client_id: String,
    /// The application object's id (what `addKey`'s proof names as `iss`), not the client id.
    pub application_id: String,
    /// The service principal's object id (`oid` / `sub` of its tokens).
    pub object_id: String,
    pub display_name: String,
    pub secrets: Vec<AppSecret>,
    /// Admin-consented application permissions; empty means a token without `roles`.
    pub roles: Vec<String>,
    pub certs: RwLock<Vec<RegisteredCert>>,
    /// Subject + issuer pairs trusted through `x5c` instead of a registered thumbprint.
    pub trusted_subjects: RwLock<Vec<TrustedSubject>>,
}

/// What a skiptoken stands for: where the next page starts and the query it continues.
#[derive(Clone, Debug)]
pub(crate) struct PageState {
    /// Directory index the scan resumes at.
    pub offset: usize,
    pub top: usize,
    pub select: Option<Vec<Prop>>,
    pub filter: Option<Filter>,
    pub count: bool,
    /// The canonical encoding of the original query options (without `$skiptoken`).
    pub link_query: String,
    pub search: Option<Search>,
    /// With an order, `offset` is a position among the sorted matches.
    pub order: Option<Order>,
    /// `v1.0` or `beta`: the nextLink keeps the version asked for.
    pub version: &'static str,
}

/// An issued skiptoken: its page state and the exact path+query of the nextLink carrying it.
pub(crate) struct IssuedPage {
    pub state: PageState,
    pub target: String,
}

pub(crate) struct Shared {
    pub tenant_id: String,
    pub tenant_domain: String,
    pub authority_url: String,
    pub graph_url: String,
    pub main_app: App,
    pub noperm_app: App,
    pub token_key: TokenKey,
    pub directory: Directory,
    pub pages: Mutex<HashMap<String, IssuedPage>>,
    pub seen_jtis: Mutex<HashSet<String>>,
    pub log: LogSink,
    pub token_lifetime_secs: u64,
    pub refresh_in_secs: Option<u64>,
    /// Seconds a key added by `addKey` takes to reach the token endpoint (0: at once).
    pub key_propagation_secs: std::sync::atomic::AtomicI64,
    /// The main app's federated identity credential and its issuer's key.
    pub federation: crate::federation::Federation,
    /// The foreign listener's origin (another port: another origin), for hostile links.
    pub foreign_url: String,
    /// Armed faults (the fault suite).
    pub faults: Faults,
    /// Every access token issued and client assertion received, so redaction tests can look
    /// for the real values in graphd's output and files.
    pub secrets_seen: Mutex<Vec<String>>,
    /// Delta query's nextLink and deltaLink tokens.
    pub delta: DeltaTokens,
    /// Objects per delta page.
    pub delta_page_size: usize,
    /// How long every listener holds each response, in microseconds (0: not at all).
    pub latency_micros: AtomicU64,
    /// The managed identities, their endpoints' secrets and state.
    pub mi: crate::managed_identity::ManagedIdentities,
}

impl Shared {
    pub(crate) fn remember_secret(&self, value: &str) {
        self.secrets_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(value.to_owned());
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        [&self.main_app, &self.noperm_app]
            .into_iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The `iss` of issued access tokens (Entra v1 app tokens, which Graph receives).
    pub(crate) fn token_issuer(&self) -> String {
        format!("https://sts.windows.net/{}/", self.tenant_id)
    }

    /// Whether a tenant path segment names this tenant (GUID, or domain case-insensitively).
    pub(crate) fn is_our_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.tenant_domain)
    }
}

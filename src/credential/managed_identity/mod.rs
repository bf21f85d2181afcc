//! Managed identity (PROTOCOL.md §8): no stored credential at all. The platform graphd runs on
//! (a VM or scale set, AKS, App Service or Functions, Azure Arc, Cloud Shell, Service Fabric)
//! hands out tokens from a local endpoint; this module finds that endpoint (`detect`, from the
//! environment, as MSAL and azure-identity do), asks it for a token (one file per source:
//! `imds`, `app_service`, `arc`, `cloud_shell`, `service_fabric`) and reads the answer
//! (`response`, lifetimes bounded like any token's).
//!
//! It talks to the identity endpoint only, through its own [`Http`] client
//! (`Http::identity_endpoint`: no proxy, plain http to loopback or link-local addresses only,
//! Service Fabric's certificate pinned by thumbprint), with `retry`'s loop and the endpoint's
//! own rules (IMDS's 404/410 for up to 70 s; an endpoint that never answers is not retried).
//! It never caches: the endpoints cache tokens themselves, and there is no secret of graphd's to
//! key a cache entry with. The identity header, Arc's challenge secret and the tokens live in
//! `secret` types and are never logged.

mod app_service;
mod arc;
mod cloud_shell;
mod detect;
mod error;
mod imds;
mod response;
mod service_fabric;

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use reqwest::blocking::RequestBuilder;
use tracing::{debug, info};
use url::Url;

pub use detect::{
    ARC_DEFAULT_ENDPOINT, Detection, IMDS_AUTHORITY, IMDS_TOKEN_PATH, Platform,
    arc_agent_installed, detect,
};
pub use error::ManagedIdentityError;
pub use response::MiToken;

use self::error::{printable, shown_endpoint};
use super::thumbprint::parse_thumbprint;
use crate::http::{self, Http, IDENTITY_ANSWER_TIMEOUT, IdentityTls, Reply, SendError};
use crate::names::{
    self, ENV_IDENTITY_ENDPOINT, ENV_IDENTITY_HEADER, ENV_MSI_ENDPOINT,
    ENV_POD_IDENTITY_AUTHORITY_HOST,
};
use crate::retry::{self, RetryError, RetryPolicy, Rules};
use crate::secret::IdentityHeader;

/// How a user-assigned identity is named.
#[derive(Clone, PartialEq, Eq)]
pub enum Selector {
    /// Its client (application) id.
    ClientId(String),
    /// Its object (principal) id.
    ObjectId(String),
    /// Its Azure resource id, `/subscriptions/.../userAssignedIdentities/NAME`.
    ResourceId(String),
}

impl Selector {
    pub fn value(&self) -> &str {
        match self {
            Selector::ClientId(v) | Selector::ObjectId(v) | Selector::ResourceId(v) => v,
        }
    }

    /// "client id", "object id", "resource id".
    pub fn kind(&self) -> &'static str {
        match self {
            Selector::ClientId(_) => "client id",
            Selector::ObjectId(_) => "object id",
            Selector::ResourceId(_) => "resource id",
        }
    }

    /// The flag that names an identity this way.
    pub fn flag(&self) -> &'static str {
        match self {
            Selector::ClientId(_) => names::MI_CLIENT_ID.flag,
            Selector::ObjectId(_) => names::MI_OBJECT_ID.flag,
            Selector::ResourceId(_) => names::MI_RESOURCE_ID.flag,
        }
    }

    /// Why the value cannot be an id of this kind, if it cannot: the ids are GUIDs, a resource
    /// id is an ARM path. Checked before anything is sent.
    pub fn check(&self) -> Result<(), &'static str> {
        let guid = |v: &str| {
            v.len() == 36
                && v.char_indices().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        };
        match self {
            Selector::ClientId(v) | Selector::ObjectId(v) if !guid(v) => {
                Err("it is not a GUID (8-4-4-4-12 hex digits)")
            }
            Selector::ResourceId(v)
                if !v.starts_with('/')
                    || v.len() > 1024
                    || !v.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Err(
                    "it is not an Azure resource id (/subscriptions/.../userAssignedIdentities/NAME)",
                )
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.value())
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A user-assigned identity and where it was named (a flag, a variable, a profile key).
#[derive(Debug, Clone)]
pub struct Chosen {
    pub selector: Selector,
    pub from: String,
}

/// A managed identity as configuration names it (plain data: nothing read or checked yet).
pub struct ManagedIdentitySpec {
    pub detection: Detection,
    /// A user-assigned identity, or `None` for the system-assigned one.
    pub chosen: Option<Chosen>,
    /// `--ca-bundle`, for an identity endpoint that is https (not Service Fabric's).
    pub ca_bundle: Option<PathBuf>,
    pub retry: RetryPolicy,
}

impl ManagedIdentitySpec {
    /// A non-secret description: the platform, its endpoint, the identity.
    pub fn describe(&self) -> String {
        describe(&self.detection.platform, self.chosen.as_ref())
    }
}

impl fmt::Debug for ManagedIdentitySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn describe(platform: &Platform, chosen: Option<&Chosen>) -> String {
    let who = match (platform, chosen) {
        (Platform::CloudShell { .. }, _) => "the signed-in user's delegated token".to_string(),
        (_, None) => "system-assigned identity".to_string(),
        (_, Some(c)) => format!("user-assigned identity, {} (from {})", c.selector, c.from),
    };
    format!("{} at {}, {who}", platform.name(), platform.endpoint())
}

/// A checked endpoint.
enum Endpoint {
    Imds(Url),
    AppService(Url, IdentityHeader),
    ServiceFabric(Url, IdentityHeader),
    Arc(Url),
    CloudShell(Url),
}

/// A managed identity, ready to ask its endpoint for tokens.
pub struct ManagedIdentity {
    platform: &'static str,
    endpoint: Endpoint,
    /// The endpoint URL and why it was chosen, for logs and hints.
    url: String,
    why: String,
    description: String,
    chosen: Option<Chosen>,
    http: Http,
    retry: RetryPolicy,
}

// By hand: the identity header is never shown.
impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// `value` of `var` as an identity endpoint: an http(s) URL with a host and no credentials,
/// plain http only to a local address.
fn endpoint_url(var: &'static str, value: &str) -> Result<Url, ManagedIdentityError> {
    let bad = |why| ManagedIdentityError::BadEndpoint {
        var,
        value: shown_endpoint(value, 200),
        why,
    };
    let url = Url::parse(value).map_err(|_| bad("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("neither http nor https"));
    }
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it carries a user name or password"));
    }
    if url.scheme() == "http" && !http::is_local(&url) {
        return Err(ManagedIdentityError::NotLocal {
            var,
            url: shown_endpoint(value, 200),
        });
    }
    Ok(url)
}

impl ManagedIdentity {
    /// Checks the endpoint and the selector against the platform, and builds the client.
    /// `federated`: the token will be an app's client assertion (Cloud Shell cannot give one).
    /// Nothing is sent.
    pub fn load(
        spec: &ManagedIdentitySpec,
        federated: bool,
    ) -> Result<ManagedIdentity, ManagedIdentityError> {
        let platform = &spec.detection.platform;
        if let (false, Some(c)) = (platform.takes_selector(), &spec.chosen) {
            return Err(ManagedIdentityError::SelectorNotSupported {
                platform: platform.name(),
                selector: c.selector.to_string(),
                from: c.from.clone(),
            });
        }
        // The header is sent as is: a value that cannot be a header is refused now, by name
        // only (it is a secret), rather than silently left out of the request.
        let secret = |h: &IdentityHeader| {
            if reqwest::header::HeaderValue::from_str(h.expose()).is_err() {
                return Err(ManagedIdentityError::BadEndpoint {
                    var: ENV_IDENTITY_HEADER,
                    value: "[redacted]".into(),
                    why: "its value cannot be sent in an HTTP header",
                });
            }
            Ok(IdentityHeader::new(h.expose().to_string()))
        };
        let (endpoint, tls) = match platform {
            Platform::AzureMl => return Err(ManagedIdentityError::AzureMl),
            Platform::CloudShell { .. } if federated => {
                return Err(ManagedIdentityError::CloudShellNotFederated);
            }
            Platform::Imds { authority } => {
                let var = if authority == IMDS_AUTHORITY {
                    "IMDS's address"
                } else {
                    ENV_POD_IDENTITY_AUTHORITY_HOST
                };
                let full = format!("{}{IMDS_TOKEN_PATH}", authority.trim_end_matches('/'));
                (
                    Endpoint::Imds(endpoint_url(var, &full)?),
                    IdentityTls::Roots,
                )
            }
            Platform::AppService { endpoint, header } => (
                Endpoint::AppService(
                    endpoint_url(ENV_IDENTITY_ENDPOINT, endpoint)?,
                    secret(header)?,
                ),
                IdentityTls::Roots,
            ),
            Platform::ServiceFabric {
                endpoint,
                header,
                thumbprint,
            } => {
                let url = endpoint_url(ENV_IDENTITY_ENDPOINT, endpoint)?;
                if url.scheme() != "https" {
                    return Err(ManagedIdentityError::BadEndpoint {
                        var: ENV_IDENTITY_ENDPOINT,
                        value: printable(endpoint, 200),
                        why: "Service Fabric's endpoint is https (IDENTITY_SERVER_THUMBPRINT is set)",
                    });
                }
                let sha1: [u8; 20] = parse_thumbprint(thumbprint)
                    .and_then(|t| t.try_into().ok())
                    .ok_or_else(|| {
                        ManagedIdentityError::BadThumbprint(printable(thumbprint, 100))
                    })?;
                (
                    Endpoint::ServiceFabric(url, secret(header)?),
                    IdentityTls::PinnedSha1(sha1),
                )
            }
            Platform::Arc { endpoint } => (
                Endpoint::Arc(endpoint_url(ENV_IDENTITY_ENDPOINT, endpoint)?),
                IdentityTls::Roots,
            ),
            Platform::CloudShell { endpoint } => (
                Endpoint::CloudShell(endpoint_url(ENV_MSI_ENDPOINT, endpoint)?),
                IdentityTls::Roots,
            ),
        };
        let http = Http::identity_endpoint(spec.ca_bundle.as_deref(), tls)
            .map_err(ManagedIdentityError::Setup)?;
        Ok(ManagedIdentity {
            platform: platform.name(),
            endpoint,
            url: platform.endpoint(),
            why: spec.detection.why.clone(),
            description: spec.describe(),
            chosen: spec.chosen.clone(),
            http,
            retry: spec.retry.clone(),
        })
    }

    /// A non-secret description for logs and hints.
    pub fn describe(&self) -> String {
        format!("managed identity ({})", self.description)
    }

    /// Whether tokens are a signed-in user's (Cloud Shell) rather than an identity's.
    pub fn is_delegated(&self) -> bool {
        matches!(self.endpoint, Endpoint::CloudShell(_))
    }

    /// Whether no user-assigned identity was named (the system-assigned one is asked for).
    pub fn is_system_assigned(&self) -> bool {
        self.chosen.is_none()
    }

    /// The identity endpoint's URL.
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// A token for `resource` (a resource such as `https://graph.microsoft.com`, not a scope).
    pub fn token(&self, resource: &str) -> Result<MiToken, ManagedIdentityError> {
        let who = match (&self.endpoint, &self.chosen) {
            (Endpoint::CloudShell(_), _) => "the signed-in user".to_string(),
            (_, None) => "system-assigned identity".to_string(),
            (_, Some(c)) => format!("user-assigned identity, {}", c.selector),
        };
        info!(
            target: "graphd::credential",
            "asking {} at {} for a token for {resource} ({who})",
            self.platform,
            self.url,
        );
        if self.is_delegated() {
            info!(
                target: "graphd::credential",
                "Cloud Shell's token is the signed-in user's, with delegated permissions (scp, not roles): \
                 Graph acts as that user, with what the user may do"
            );
        }
        let selector = self.chosen.as_ref().map(|c| &c.selector);
        let requested_at = SystemTime::now();
        let http = &self.http;
        let reply = match &self.endpoint {
            Endpoint::Imds(url) => self.send(&|| imds::request(http, url, resource, selector))?,
            Endpoint::AppService(url, header) => {
                self.send(&|| app_service::request(http, url, header, resource, selector))?
            }
            Endpoint::ServiceFabric(url, header) => {
                self.send(&|| service_fabric::request(http, url, header, resource))?
            }
            Endpoint::CloudShell(url) => {
                self.send(&|| cloud_shell::request(http, url, resource))?
            }
            Endpoint::Arc(url) => self.arc(url, resource)?,
        };
        if reply.status != 200 {
            return Err(self.refusal(&reply));
        }
        response::parse_token(&reply.body, requested_at).map_err(|reason| {
            ManagedIdentityError::BadResponse {
                platform: self.platform,
                reason,
            }
        })
    }

    /// Azure Arc's two requests: the challenge, then the answer from the file it names.
    fn arc(&self, url: &Url, resource: &str) -> Result<Reply, ManagedIdentityError> {
        let first = self.send(&|| arc::request(&self.http, url, resource, None))?;
        if first.status != 401 {
            return Ok(first);
        }
        let realm = arc::challenge(&first)?;
        let dir = arc::token_dir().ok_or_else(|| ManagedIdentityError::ArcFile {
            path: printable(&realm, 300),
            why: "Azure Arc's token directory is known on Linux and Windows only".into(),
        })?;
        let secret = arc::read_challenge(&realm, &dir)?;
        debug!(target: "graphd::credential", "answering Azure Arc's challenge with the content of {}", printable(&realm, 300));
        self.send(&|| arc::request(&self.http, url, resource, Some(&secret)))
    }

    /// One request with the endpoint's retry rules.
    fn send(&self, make: &dyn Fn() -> RequestBuilder) -> Result<Reply, ManagedIdentityError> {
        let imds = matches!(self.endpoint, Endpoint::Imds(_));
        let upgrading = imds || matches!(self.endpoint, Endpoint::Arc(_));
        let also = |r: &Reply| match r.status {
            404 | 410 if upgrading => {
                Some(format!("HTTP {}: the endpoint is being updated", r.status))
            }
            408 => Some("HTTP 408 Request Timeout".into()),
            s @ 500..=599 => Some(format!("HTTP {s}")),
            _ => None,
        };
        // Only 410 ("upgrading, back within 70 s") outlasts --max-retries: a 404 is retried
        // with backoff like a 5xx, so another cloud's metadata service (which answers 404 at
        // 169.254.169.254) fails in seconds, not in 70.
        let persist = |r: &Reply| r.status == 410;
        let rules = Rules {
            also_retry: &also,
            persist: imds.then_some((&persist as &dyn Fn(&Reply) -> bool, imds::UPGRADE_WINDOW)),
            retry_silence: false,
        };
        // An endpoint on this machine answers at once or not at all.
        let policy = RetryPolicy {
            timeout: self.retry.timeout.min(IDENTITY_ANSWER_TIMEOUT),
            ..self.retry.clone()
        };
        retry::send_with(&self.http, &policy, "managed identity", make, &rules)
            .map_err(|e| self.transport(e))
    }

    /// A request that got no usable answer.
    fn transport(&self, e: RetryError) -> ManagedIdentityError {
        let (platform, endpoint) = (self.platform, self.url.clone());
        // What kind of failure: a TLS refusal, silence (never answered), or anything else.
        enum Kind {
            Tls,
            Silent,
            NotLocal(String),
            Other,
        }
        let kind = match &e.source {
            SendError::Transport { source: r, .. }
                if e.source.retry_reason().is_none() && !r.is_builder() =>
            {
                Kind::Tls
            }
            SendError::Transport { source: r, .. }
                if e.attempts <= 1 && (r.is_connect() || r.is_timeout()) =>
            {
                Kind::Silent
            }
            SendError::PlainHttpNotLocal { url } => Kind::NotLocal(url.clone()),
            _ => Kind::Other,
        };
        let source = Box::new(e);
        match kind {
            Kind::Tls => ManagedIdentityError::Tls {
                platform,
                endpoint,
                source,
            },
            Kind::Silent => ManagedIdentityError::NoAnswer {
                platform,
                endpoint,
                why: self.why.clone(),
                source,
            },
            Kind::NotLocal(url) => ManagedIdentityError::NotLocal {
                var: "the identity endpoint",
                url,
            },
            Kind::Other => ManagedIdentityError::Send {
                platform,
                endpoint,
                source,
            },
        }
    }

    /// A final answer other than 200.
    fn refusal(&self, reply: &Reply) -> ManagedIdentityError {
        let (code, summary) = response::parse_refusal(&reply.body);
        let status = reply.status;
        let not_found = match &self.endpoint {
            Endpoint::Imds(_) | Endpoint::Arc(_) => {
                imds::is_identity_not_found(status, summary.as_deref())
            }
            Endpoint::AppService(..) => {
                app_service::is_identity_not_found(status, summary.as_deref())
            }
            Endpoint::ServiceFabric(..) => {
                service_fabric::is_identity_not_found(status, code.as_deref())
            }
            Endpoint::CloudShell(_) => {
                cloud_shell::is_identity_not_found(status, summary.as_deref())
            }
        };
        if not_found {
            let sent = self.chosen.as_ref().map(|c| {
                let param = match &self.endpoint {
                    Endpoint::AppService(..) => app_service::param(&c.selector),
                    _ => imds::param(&c.selector),
                };
                format!("{param}={}", c.selector.value())
            });
            return ManagedIdentityError::IdentityNotFound {
                platform: self.platform,
                sent,
                from: self.chosen.as_ref().map(|c| c.from.clone()),
                summary,
            };
        }
        let upgrading = matches!(self.endpoint, Endpoint::Imds(_) | Endpoint::Arc(_));
        let transient =
            matches!(status, 408 | 429 | 500..=599) || (upgrading && matches!(status, 404 | 410));
        if transient {
            ManagedIdentityError::Unavailable {
                platform: self.platform,
                status,
                attempts: reply.attempts,
                code,
                summary,
            }
        } else {
            ManagedIdentityError::Refused {
                platform: self.platform,
                status,
                code,
                summary,
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! The one HTTP client: TLS roots (system + `--ca-bundle`), proxies from the environment,
//! finite timeouts, a user agent, https only, and no redirects.
//!
//! A second kind of client talks to a managed identity's local endpoint
//! ([`Http::identity_endpoint`]): no proxy (IMDS refuses proxied requests, and a token must not
//! cross one), short timeouts, and plain http allowed **only** to a loopback or link-local
//! address ([`is_local`]), checked in `send` before anything is sent; `localhost` is pinned to
//! 127.0.0.1 so no resolver can move it. Service Fabric's endpoint is https with a self-signed
//! certificate trusted by its thumbprint alone (`pinned`).
//!
//! Verification: the platform's verifier (rustls-platform-verifier: the OS trust store and its
//! policy), with `--ca-bundle`'s certificates added to it. On Windows with `--ca-bundle`, the
//! roots of the Windows store and the bundle's go to rustls' own webpki verifier instead: the
//! platform verifier builds a custom chain engine for extra roots, which Wine's crypt32
//! refuses, so the Windows test suite could not run. It gives up what CryptoAPI adds beyond
//! the roots (revocation checks, fetching a missing intermediate by AIA, the Disallowed store,
//! roots Windows Update has not downloaded yet, enterprise policy); docs/windows.md lists
//! them. Without `--ca-bundle`, Windows keeps the platform verifier.
//!
//! Every request goes through `Http::send`, which adds a fresh `client-request-id`, logs the
//! method, URL, status, timing and id (never a header value or a body), and reads the body
//! with a size cap into a zeroizing buffer (a token response body *is* the token). Retries and
//! per-request timeouts are `retry`'s; this module only says which failures are transient.

mod pinned;

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, ClientBuilder, RequestBuilder, Response};
use reqwest::header::HeaderMap;
use tracing::{debug, info};
use url::{Host, Url};
use zeroize::Zeroizing;

/// Connection set-up must not hang: TCP + TLS within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One request, body included, must finish within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A managed identity's endpoint is on this machine (or the link-local IMDS): a connection that
/// cannot be made within this means there is none ("is this running on Azure?").
pub const IDENTITY_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// ... and an endpoint that took the connection must answer within this (IMDS answers in
/// milliseconds, even when it fetches a new token from Entra).
pub const IDENTITY_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// A managed-identity token response is a few KiB; nothing larger is read from those endpoints.
pub const IDENTITY_MAX_BODY_BYTES: u64 = 1024 * 1024;

/// The largest response body graphd reads by default (`--max-response-mib`; a Graph page of
/// 999 users is ~1 MiB).
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Building the HTTP client failed; exit code 2 (it is always the configuration).
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("cannot read the CA bundle {}", path.display())]
    ReadCaBundle {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the CA bundle {} holds no valid PEM certificate", path.display())]
    BadCaBundle { path: PathBuf },
    #[error("cannot set up the HTTP client")]
    Build(#[source] reqwest::Error),
    #[error("cannot set up TLS for the identity endpoint")]
    Tls(#[source] rustls::Error),
}

impl crate::diagnostic::Diagnostic for HttpSetupError {
    fn hint(&self) -> Option<String> {
        Some("--ca-bundle must be a PEM file of CA certificates".into())
    }
}

/// A request that did not produce a response body.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("reading the response from {url} failed")]
    Body {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("response from {url} is larger than {} MiB (--max-response-mib)", cap / (1024 * 1024))]
    TooLarge { url: String, cap: u64 },
    #[error("the --deadline of {} s passed before the request could start", deadline.as_secs())]
    Deadline { deadline: Duration },
    #[error(
        "refused to send plain http to {url}: only a loopback or link-local address may be spoken to without TLS"
    )]
    PlainHttpNotLocal { url: String },
}

impl SendError {
    /// Why another attempt may succeed, or `None` when it cannot: connection refused, reset or
    /// closed, a timeout, a body cut short are transient; a TLS verification failure, a
    /// request that could not be built, a response over the cap or the deadline are not.
    pub fn retry_reason(&self) -> Option<String> {
        match self {
            SendError::Transport { source, .. } => {
                if source.is_builder() || source.is_redirect() || is_tls_refusal(source) {
                    None
                } else if source.is_timeout() {
                    Some("timed out".into())
                } else if source.is_connect() {
                    Some(format!("cannot connect ({})", root_cause(source)))
                } else {
                    Some(format!("connection failed ({})", root_cause(source)))
                }
            }
            SendError::Body { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
                None
            }
            SendError::Body { source, .. } if is_timeout(source) => {
                Some("timed out reading the body".into())
            }
            SendError::Body { source, .. } => Some(format!(
                "the response body was cut short ({})",
                root_cause(source)
            )),
            SendError::TooLarge { .. }
            | SendError::Deadline { .. }
            | SendError::PlainHttpNotLocal { .. } => None,
        }
    }
}

/// A certificate or handshake refusal shows as an `io::Error` of kind `InvalidData` carrying
/// rustls' error somewhere in the chain: retrying cannot fix it.
fn is_tls_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::InvalidData
        {
            return true;
        }
        let text = err.to_string();
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether a timeout is anywhere in the chain (reqwest wraps its own in an `io::Error`).
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let reqwest_timeout = |e: &(dyn std::error::Error + 'static)| {
            e.downcast_ref::<reqwest::Error>()
                .is_some_and(reqwest::Error::is_timeout)
        };
        // `io::Error::source` skips the error it wraps: look at it with `get_ref`.
        let timed_out = reqwest_timeout(err)
            || err.downcast_ref::<std::io::Error>().is_some_and(|io| {
                io.kind() == std::io::ErrorKind::TimedOut
                    || io.get_ref().is_some_and(|inner| reqwest_timeout(inner))
            });
        if timed_out {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The innermost error's message, for a one-line retry log (never a body or header).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A response: status, headers, body, and the `client-request-id` graphd sent.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Zeroizing<Vec<u8>>,
    pub client_request_id: String,
    /// How many attempts it took (`retry` sets it; 1 from `Http::send`).
    pub attempts: u32,
}

impl Reply {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Whether `url`'s host is this machine or the link-local network: an IP in 127.0.0.0/8,
/// 169.254.0.0/16, `::1` or fe80::/10 (IPv4-mapped forms included), or `localhost` (which
/// [`Http::identity_endpoint`] pins to 127.0.0.1). The only hosts plain http may go to.
pub fn is_local(url: &Url) -> bool {
    let local_ip = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback() || v4.is_link_local(),
            None => v6.is_loopback() || (v6.segments()[0] & 0xffc0) == 0xfe80,
        },
    };
    match url.host() {
        Some(Host::Ipv4(ip)) => local_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => local_ip(IpAddr::V6(ip)),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// How an identity-endpoint client verifies https.
#[derive(Debug, Clone, Copy)]
pub enum IdentityTls {
    /// The system's roots and `--ca-bundle` (an https identity endpoint is unusual but allowed).
    Roots,
    /// Exactly the certificate with this SHA-1 (Service Fabric's `IDENTITY_SERVER_THUMBPRINT`).
    PinnedSha1([u8; 20]),
}

/// The configured client.
pub struct Http {
    client: Client,
    max_body: u64,
    /// An identity-endpoint client: plain http is let through `send` only to a local address.
    identity: bool,
}

/// `--ca-bundle`'s certificates, added to `builder`'s roots.
fn with_ca_bundle(
    builder: ClientBuilder,
    ca_bundle: Option<&Path>,
) -> Result<ClientBuilder, HttpSetupError> {
    let Some(path) = ca_bundle else {
        return Ok(builder);
    };
    let pem = std::fs::read(path).map_err(|source| HttpSetupError::ReadCaBundle {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| HttpSetupError::BadCaBundle {
            path: path.to_path_buf(),
        })?;
    Ok(with_extra_roots(builder, certs))
}

impl Http {
    /// Builds the client; `ca_bundle` adds trust roots to the system's.
    pub fn new(ca_bundle: Option<&Path>) -> Result<Http, HttpSetupError> {
        let builder = Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("graphd/", env!("CARGO_PKG_VERSION")));
        let builder = with_ca_bundle(builder, ca_bundle)?;
        Ok(Http {
            client: builder.build().map_err(HttpSetupError::Build)?,
            max_body: MAX_BODY_BYTES,
            identity: false,
        })
    }

    /// A client for a managed identity's endpoint and nothing else: no proxy, no redirects,
    /// short timeouts, a small body cap, `localhost` pinned to 127.0.0.1, and plain http only
    /// to local addresses (refused in `send` otherwise). `tls` says how https is verified.
    pub fn identity_endpoint(
        ca_bundle: Option<&Path>,
        tls: IdentityTls,
    ) -> Result<Http, HttpSetupError> {
        let builder = Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(IDENTITY_CONNECT_TIMEOUT)
            .timeout(IDENTITY_ANSWER_TIMEOUT)
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
            .user_agent(concat!("graphd/", env!("CARGO_PKG_VERSION")));
        let builder = match tls {
            IdentityTls::Roots => with_ca_bundle(builder, ca_bundle)?,
            IdentityTls::PinnedSha1(sha1) => builder.tls_backend_preconfigured(
                pinned::client_config(sha1).map_err(HttpSetupError::Tls)?,
            ),
        };
        Ok(Http {
            client: builder.build().map_err(HttpSetupError::Build)?,
            max_body: IDENTITY_MAX_BODY_BYTES,
            identity: true,
        })
    }

    /// Caps every response body at `bytes` (`--max-response-mib`).
    pub fn with_max_body(mut self, bytes: u64) -> Http {
        self.max_body = bytes;
        self
    }

    /// The underlying client, to start a request.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends a request with a fresh `client-request-id` and reads the body (capped).
    /// `label` says what it is in logs (e.g. "token", "graph").
    pub fn send(&self, label: &str, request: RequestBuilder) -> Result<Reply, SendError> {
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let request = request
            .header("client-request-id", &client_request_id)
            .build()
            .map_err(|source| SendError::Transport {
                url: "(request)".into(),
                source,
            })?;
        let method = request.method().clone();
        let url = request.url().to_string();
        // The main client is https-only (reqwest refuses http); an identity client may speak
        // plain http, but only to this machine or the link-local network.
        if self.identity && request.url().scheme() != "https" && !is_local(request.url()) {
            return Err(SendError::PlainHttpNotLocal { url });
        }
        debug!(target: "graphd::http", %method, %url, %client_request_id, "{label} request");
        let started = Instant::now();
        let response = self
            .client
            .execute(request)
            .map_err(|source| SendError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_capped(response, &url, self.max_body)?;
        let ms = started.elapsed().as_millis();
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        info!(
            target: "graphd::http",
            "{label} {method} {url} -> {status} in {ms} ms ({} bytes) client-request-id={client_request_id} request-id={request_id}",
            body.len()
        );
        Ok(Reply {
            status,
            headers,
            body,
            client_request_id,
            attempts: 1,
        })
    }
}

/// Adds the `--ca-bundle` certificates to the platform verifier's roots.
#[cfg(not(windows))]
fn with_extra_roots(
    builder: reqwest::blocking::ClientBuilder,
    certs: Vec<reqwest::Certificate>,
) -> reqwest::blocking::ClientBuilder {
    builder.tls_certs_merge(certs)
}

/// Windows: the Windows store's roots and the `--ca-bundle` certificates, verified by rustls'
/// webpki verifier (see the module docs for why, and what that gives up).
#[cfg(windows)]
fn with_extra_roots(
    builder: reqwest::blocking::ClientBuilder,
    certs: Vec<reqwest::Certificate>,
) -> reqwest::blocking::ClientBuilder {
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(target: "graphd::http", "reading the Windows root store: {e}");
    }
    // reqwest refuses the whole set if rustls cannot parse one root: drop those first.
    let mut roots: Vec<reqwest::Certificate> = native
        .certs
        .into_iter()
        .filter(|der| rustls::RootCertStore::empty().add(der.clone()).is_ok())
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
        .collect();
    debug!(
        target: "graphd::http",
        "--ca-bundle on Windows: {} roots of the Windows store and {} of the bundle, verified by webpki (no revocation check)",
        roots.len(),
        certs.len()
    );
    roots.extend(certs);
    builder.tls_certs_only(roots)
}

fn read_capped(response: Response, url: &str, cap: u64) -> Result<Zeroizing<Vec<u8>>, SendError> {
    let too_large = || SendError::TooLarge {
        url: url.to_string(),
        cap,
    };
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    // Grown by hand, never by `Vec`'s own reallocation, so that no copy of a token response
    // is freed without being zeroized first (dropping a `Zeroizing` buffer wipes it).
    let initial = response.content_length().unwrap_or(16 * 1024).min(cap) as usize;
    let mut response = response;
    let mut body = Zeroizing::new(Vec::with_capacity(initial));
    let mut chunk = Zeroizing::new(vec![0u8; 16 * 1024]);
    loop {
        let n = match response.read(&mut chunk[..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(SendError::Body {
                    url: url.to_string(),
                    source,
                });
            }
        };
        if (body.len() + n) as u64 > cap {
            return Err(too_large());
        }
        if body.capacity() < body.len() + n {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (body.len() + n).max(body.capacity() * 2),
            ));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_means_loopback_or_link_local() {
        let local = |u: &str| is_local(&Url::parse(u).unwrap());
        for u in [
            "http://127.0.0.1:8080/x",
            "http://127.255.0.1/",
            "http://169.254.169.254/metadata",
            "http://[::1]:9/",
            "http://[fe80::1]/",
            "http://[febf::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.1.1]/",
            "http://localhost:40342/metadata/identity/oauth2/token",
            "http://LOCALHOST/",
        ] {
            assert!(local(u), "{u}");
        }
        for u in [
            "http://10.0.0.4:2377/",
            "http://169.255.0.1/",
            "http://192.168.1.1/",
            "http://[fec0::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[2001:db8::1]/",
            "http://localhost.example.com/",
            "http://metadata.azure.internal/",
            "http://0.0.0.0/",
        ] {
            assert!(!local(u), "{u}");
        }
    }

    #[test]
    fn identity_client_refuses_plain_http_elsewhere_before_sending() {
        let http = Http::identity_endpoint(None, IdentityTls::Roots).unwrap();
        // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing is tried.
        let started = Instant::now();
        let e = http
            .send("identity", http.client().get("http://192.0.2.1/token"))
            .err()
            .expect("refused");
        assert!(matches!(e, SendError::PlainHttpNotLocal { .. }), "{e}");
        assert!(e.retry_reason().is_none());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused before connecting"
        );
    }
}

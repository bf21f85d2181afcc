//! The one HTTP client: TLS roots (system + `--ca-bundle`), proxies from the environment,
//! finite timeouts, a user agent, https only, and no redirects.
//!
//! Every request goes through `Http::send`, which adds a fresh `client-request-id`, logs the
//! method, URL, status, timing and id (never a header value or a body), and reads the body
//! with a size cap into a zeroizing buffer (a token response body *is* the token).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::HeaderMap;
use tracing::{debug, info};
use zeroize::Zeroizing;

/// Connection set-up must not hang: TCP + TLS within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One request, body included, must finish within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest response body graphd reads (a Graph page of 999 users is ~1 MiB).
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
    #[error("response from {url} is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge { url: String },
}

/// A response: status, headers, body, and the `client-request-id` graphd sent.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Zeroizing<Vec<u8>>,
    pub client_request_id: String,
}

impl Reply {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The configured client.
pub struct Http {
    client: Client,
}

impl Http {
    /// Builds the client; `ca_bundle` adds trust roots to the system's.
    pub fn new(ca_bundle: Option<&Path>) -> Result<Http, HttpSetupError> {
        let mut builder = Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("graphd/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_bundle {
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
            builder = builder.tls_certs_merge(certs);
        }
        Ok(Http {
            client: builder.build().map_err(HttpSetupError::Build)?,
        })
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
        let body = read_capped(response, &url)?;
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
        })
    }
}

fn read_capped(response: Response, url: &str) -> Result<Zeroizing<Vec<u8>>, SendError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES)
    {
        return Err(SendError::TooLarge {
            url: url.to_string(),
        });
    }
    let mut body = Zeroizing::new(Vec::new());
    response
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|source| SendError::Body {
            url: url.to_string(),
            source,
        })?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(SendError::TooLarge {
            url: url.to_string(),
        });
    }
    Ok(body)
}

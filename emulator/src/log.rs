//! The request log: one record per request handled, kept in memory for tests (`Emulator::log`)
//! and optionally appended as JSON lines to a file (`--log`). Records carry no secrets: no client
//! secrets, assertions or access tokens, only what tests need to assert on.

pub use crate::managed_identity::ManagedIdentityRecord;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write as _;
use std::sync::Mutex;

/// One `POST /{tenant}/oauth2/v2.0/token` call.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    /// The tenant path segment as sent.
    pub tenant: String,
    pub client_id: Option<String>,
    /// `"client_secret"`, `"client_assertion"`, `"federated"` (a CI provider's token),
    /// `"federated_managed_identity"` (a managed identity's token-exchange token), `"none"` or
    /// `"both"`.
    pub auth: String,
    /// The assertion header's `alg`.
    pub alg: Option<String>,
    /// `"x5t"`, `"x5t#S256"`, or `"x5t,x5t#S256"` when both were sent.
    pub thumbprint_header: Option<String>,
    pub jti: Option<String>,
    /// The `jti` had been seen before (logged, never refused).
    pub replayed_jti: bool,
    pub status: u16,
    /// The AADSTS number on failure.
    pub error_code: Option<u32>,
    pub has_x5c: bool,
    /// The `client-request-id` header, if sent.
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// `return-client-request-id: true` was sent.
    #[serde(default)]
    pub return_client_request_id: bool,
    /// The armed fault that answered this request instead of (or on top of) the endpoint.
    #[serde(default)]
    pub fault: Option<String>,
}

/// One request to the Graph listener.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GraphRecord {
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    pub raw_query: Option<String>,
    pub status: u16,
    /// A valid bearer token with a role the target needs was presented (`User.Read.All` for
    /// users, `Group.Read.All` for groups).
    pub authorized: bool,
    /// The Graph error `code` on failure.
    pub error_code: Option<String>,
    /// Objects in the response body (users, groups, and delta's `@removed` entries).
    pub items: usize,
    /// Present when the request carried `$skiptoken` (or, on a delta function, `$deltatoken`
    /// other than `latest`): whether its target equals, byte for byte, the path and query of a
    /// nextLink (or deltaLink) the emulator issued.
    pub next_link_verbatim: Option<bool>,
    pub consistency_level: Option<String>,
    pub client_request_id: Option<String>,
    /// The armed fault that answered this request instead of (or on top of) the endpoint.
    #[serde(default)]
    pub fault: Option<String>,
}

/// One request that reached the foreign listener (a different origin that no client should
/// ever send a Graph request, let alone a token, to).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ForeignRecord {
    pub method: String,
    pub path: String,
    pub raw_query: Option<String>,
    /// An `Authorization` header was present (its value is never kept).
    pub authorization: bool,
    /// A body was sent (its bytes are never kept).
    pub body_bytes: usize,
}

/// Any other request (discovery, OpenID configuration, JWKS, unknown authority paths).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OtherRecord {
    /// `"authority"` (only the authority listener produces these).
    pub listener: String,
    pub method: String,
    pub path: String,
    pub raw_query: Option<String>,
    pub status: u16,
}

/// Everything seen so far, in arrival order per kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Log {
    /// Only `POST .../oauth2/v2.0/token` calls.
    pub token_requests: Vec<TokenRecord>,
    pub graph_requests: Vec<GraphRecord>,
    pub other_requests: Vec<OtherRecord>,
    /// Requests to the foreign listener.
    #[serde(default)]
    pub foreign_requests: Vec<ForeignRecord>,
    /// Requests to the managed-identity endpoints (IMDS, App Service, Arc, Cloud Shell,
    /// Service Fabric).
    #[serde(default)]
    pub managed_identity_requests: Vec<ManagedIdentityRecord>,
}

impl Log {
    /// Number of token requests, successful or not.
    pub fn token_count(&self) -> usize {
        self.token_requests.len()
    }

    /// Number of token requests answered 200.
    pub fn tokens_issued(&self) -> usize {
        self.token_requests
            .iter()
            .filter(|r| r.status == 200)
            .count()
    }

    /// Successful `GET /v1.0/users` list pages (not single-user gets).
    pub fn pages(&self) -> Vec<&GraphRecord> {
        self.graph_requests
            .iter()
            .filter(|r| r.status == 200 && is_users_list(&r.path))
            .collect()
    }

    /// Successful delta pages (`GET .../users/delta`, `.../groups/delta`), in arrival order.
    pub fn delta_pages(&self) -> Vec<&GraphRecord> {
        self.graph_requests
            .iter()
            .filter(|r| r.status == 200 && r.method == "GET" && is_delta(&r.path))
            .collect()
    }

    /// Users returned by successful list pages, summed.
    pub fn users_listed(&self) -> usize {
        self.pages().iter().map(|r| r.items).sum()
    }

    pub fn last_token(&self) -> Option<&TokenRecord> {
        self.token_requests.last()
    }

    pub fn last_graph(&self) -> Option<&GraphRecord> {
        self.graph_requests.last()
    }
}

fn is_delta(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|f| f.trim_end_matches("()").ends_with("delta"))
}

fn is_users_list(path: &str) -> bool {
    matches!(
        path,
        "/v1.0/users" | "/v1.0/users/" | "/beta/users" | "/beta/users/"
    )
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line<'a> {
    Token {
        time: String,
        #[serde(flatten)]
        record: &'a TokenRecord,
    },
    Graph {
        time: String,
        #[serde(flatten)]
        record: &'a GraphRecord,
    },
    Other {
        time: String,
        #[serde(flatten)]
        record: &'a OtherRecord,
    },
    Foreign {
        time: String,
        #[serde(flatten)]
        record: &'a ForeignRecord,
    },
    ManagedIdentity {
        time: String,
        #[serde(flatten)]
        record: &'a ManagedIdentityRecord,
    },
}

/// The shared, locked log plus its optional JSON-lines file.
pub(crate) struct LogSink {
    inner: Mutex<(Log, Option<File>)>,
}

impl LogSink {
    pub(crate) fn new(file: Option<File>) -> LogSink {
        LogSink {
            inner: Mutex::new((Log::default(), file)),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Log, &mut Option<File>) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (log, file) = &mut *g;
        f(log, file)
    }

    fn write(file: &mut Option<File>, line: &Line<'_>) {
        if let Some(f) = file {
            let mut buf = serde_json::to_vec(line).unwrap_or_default();
            buf.push(b'\n');
            // A failing log file must not take the emulator down.
            let _ = f.write_all(&buf);
        }
    }

    fn time() -> String {
        let (s, n) = crate::util::now_parts();
        crate::util::format_time(s, n, 3, true)
    }

    pub(crate) fn token(&self, record: TokenRecord) {
        self.with(|log, file| {
            Self::write(
                file,
                &Line::Token {
                    time: Self::time(),
                    record: &record,
                },
            );
            log.token_requests.push(record);
        });
    }

    pub(crate) fn graph(&self, record: GraphRecord) {
        self.with(|log, file| {
            Self::write(
                file,
                &Line::Graph {
                    time: Self::time(),
                    record: &record,
                },
            );
            log.graph_requests.push(record);
        });
    }

    pub(crate) fn other(&self, record: OtherRecord) {
        self.with(|log, file| {
            Self::write(
                file,
                &Line::Other {
                    time: Self::time(),
                    record: &record,
                },
            );
            log.other_requests.push(record);
        });
    }

    pub(crate) fn foreign(&self, record: ForeignRecord) {
        self.with(|log, file| {
            Self::write(
                file,
                &Line::Foreign {
                    time: Self::time(),
                    record: &record,
                },
            );
            log.foreign_requests.push(record);
        });
    }

    pub(crate) fn managed_identity(&self, record: ManagedIdentityRecord) {
        self.with(|log, file| {
            Self::write(
                file,
                &Line::ManagedIdentity {
                    time: Self::time(),
                    record: &record,
                },
            );
            log.managed_identity_requests.push(record);
        });
    }

    pub(crate) fn snapshot(&self) -> Log {
        self.with(|log, _| log.clone())
    }

    pub(crate) fn clear(&self) {
        self.with(|log, _| *log = Log::default());
    }
}

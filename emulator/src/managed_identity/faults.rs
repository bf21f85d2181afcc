//! Faults of the managed-identity endpoints, for graphd's retry tests: what IMDS and its
//! siblings do when they are upgrading (410, 404), throttling (429 with or without
//! `Retry-After`), failing (500), missing the identity, or not answering at all. A small
//! per-source queue of its own: the crate's `fault` module counts Graph and token-endpoint
//! requests, these count managed-identity requests by source.

use super::{MiSource, error_response, identity_not_found, lock};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::sync::Mutex;

/// What a managed-identity fault makes the endpoint do instead of answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MiFaultKind {
    /// `410 Gone`: IMDS is being upgraded (the docs: available again within 70 s).
    Gone,
    /// `410 Gone` with `Retry-After: secs` (0 says "now", which must not make a client spin).
    GoneRetryAfter { secs: u64 },
    /// `404 Not Found`: IMDS is being updated (retry with backoff).
    NotFound,
    /// `429 Too Many Requests`, with `Retry-After: n` when `Some(n)`.
    Throttle { retry_after_secs: Option<u64> },
    /// `500` in the source's error shape.
    ServerError,
    /// The source's "no such identity" answer, whatever was asked: IMDS, Arc and Cloud Shell
    /// `400 invalid_request "Identity not found"`, App Service `400 "Unable to load the proper
    /// Managed Identity."`, Service Fabric `404 ManagedIdentityNotFound`.
    IdentityNotFound,
    /// The connection is accepted and the request read, but no answer ever comes (until the
    /// emulator shuts down).
    NoAnswer,
    /// The normal answer, after `secs` seconds of silence.
    Stall { secs: u64 },
}

impl MiFaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            MiFaultKind::Gone => "gone_410",
            MiFaultKind::GoneRetryAfter { .. } => "gone_410_retry_after",
            MiFaultKind::NotFound => "not_found_404",
            MiFaultKind::Throttle { .. } => "throttle_429",
            MiFaultKind::ServerError => "server_error_500",
            MiFaultKind::IdentityNotFound => "identity_not_found",
            MiFaultKind::NoAnswer => "no_answer",
            MiFaultKind::Stall { .. } => "stall",
        }
    }
}

/// A fault on the managed-identity endpoints. Requests are counted per armed fault from the
/// moment it was armed, only those of `source` (every managed-identity source when `None`);
/// it fires on request `n` when `n > after`, at most `times` times. "Three 410s, then a token"
/// is `MiFault::new(MiFaultKind::Gone).times(3)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MiFault {
    pub kind: MiFaultKind,
    pub source: Option<MiSource>,
    pub after: usize,
    pub times: usize,
}

impl MiFault {
    /// Fires once, on the next managed-identity request of any source.
    pub fn new(kind: MiFaultKind) -> MiFault {
        MiFault {
            kind,
            source: None,
            after: 0,
            times: 1,
        }
    }

    /// Fires on every matching request.
    pub fn always(kind: MiFaultKind) -> MiFault {
        MiFault::new(kind).times(usize::MAX)
    }

    /// Only requests to `source` count and are answered by the fault.
    pub fn on(mut self, source: MiSource) -> MiFault {
        self.source = Some(source);
        self
    }

    /// Lets `n` matching requests through first.
    pub fn after(mut self, n: usize) -> MiFault {
        self.after = n;
        self
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: usize) -> MiFault {
        self.times = n;
        self
    }
}

struct ArmedFault {
    fault: MiFault,
    seen: usize,
    fired: usize,
}

/// The armed managed-identity faults.
#[derive(Default)]
pub(crate) struct Faults {
    armed: Mutex<Vec<ArmedFault>>,
}

impl Faults {
    pub(crate) fn add(&self, fault: MiFault) {
        lock(&self.armed).push(ArmedFault {
            fault,
            seen: 0,
            fired: 0,
        });
    }

    pub(crate) fn clear(&self) {
        lock(&self.armed).clear();
    }

    /// Counts one request of `source` and returns the fault that fires on it, if any.
    pub(super) fn next(&self, source: MiSource) -> Option<MiFaultKind> {
        let mut armed = lock(&self.armed);
        let mut hit = None;
        for a in armed
            .iter_mut()
            .filter(|a| a.fault.source.is_none_or(|s| s == source))
        {
            a.seen += 1;
            if hit.is_none() && a.seen > a.fault.after && a.fired < a.fault.times {
                a.fired += 1;
                hit = Some(a.fault.kind.clone());
            }
        }
        hit
    }
}

/// The answer a fault gives in place of the endpoint's, for those that replace it.
pub(super) fn response(source: MiSource, kind: &MiFaultKind) -> Option<(Response, &'static str)> {
    let (status, code, message) = match kind {
        MiFaultKind::Gone | MiFaultKind::GoneRetryAfter { .. } => (
            StatusCode::GONE,
            "service_unavailable",
            "IMDS is being upgraded. Retry after a while (up to 70 seconds).",
        ),
        MiFaultKind::NotFound => (
            StatusCode::NOT_FOUND,
            "not_found",
            "The managed identity endpoint is being updated.",
        ),
        MiFaultKind::Throttle { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests. Retry with exponential backoff.",
        ),
        MiFaultKind::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            "Failed to retrieve token from the Active directory.",
        ),
        MiFaultKind::IdentityNotFound => {
            let r = identity_not_found(source);
            return Some((error_response(source, r.status, r.code, &r.message), r.code));
        }
        MiFaultKind::NoAnswer | MiFaultKind::Stall { .. } => return None,
    };
    let mut r = error_response(source, status, code, message);
    if let MiFaultKind::Throttle {
        retry_after_secs: Some(secs),
    }
    | MiFaultKind::GoneRetryAfter { secs } = kind
    {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    Some((r, code))
}

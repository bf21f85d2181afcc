//! Retries and time: which failures get another attempt, how long to wait before it
//! (`Retry-After` when the server says, else exponential backoff with full jitter), the
//! per-request timeout, and the overall deadline no wait or request may cross.
//!
//! This module owns the loop around `Http::send` and the policy's defaults. It looks only at
//! a reply's status and headers; what a body means (Entra's `temporarily_unavailable`) is the
//! caller's to say through `also_retry`. It never retries a 4xx other than 429, a TLS
//! verification failure, or a response over the size cap, and it never sleeps past the
//! deadline: it stops early and says so.

use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::RequestBuilder;
use tracing::{info, warn};

use crate::diagnostic::Diagnostic;
use crate::http::{Http, Reply, SendError};

/// The shortest wait between attempts while persisting past `--max-retries` (IMDS upgrading).
const PERSIST_MIN_WAIT: Duration = Duration::from_secs(1);

/// Retries after the first attempt (`--max-retries`): 5 attempts in all.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
/// One attempt, connect to last body byte (`--timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole command, every request and wait included (`--deadline`): generous enough to
/// list a directory of a million users at `$top=999`, finite so nothing hangs forever.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60 * 60);
/// The longest single wait between attempts (`--max-retry-wait`): a larger `Retry-After` is
/// cut to this.
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(120);
/// Backoff without `Retry-After`: attempt n waits a uniform random time in
/// `[0, min(cap, BASE · 2^(n-1)))` ("full jitter"), so many clients do not retry in step.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// The ceiling of the backoff window (before `--max-retry-wait`).
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// How hard to try, and until when.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub timeout: Duration,
    pub max_wait: Duration,
    /// The overall deadline, and the `--deadline` it came from (for messages).
    pub deadline: Instant,
    pub deadline_len: Duration,
}

impl RetryPolicy {
    /// A policy whose deadline is `deadline` from `start`.
    pub fn new(
        max_retries: u32,
        timeout: Duration,
        max_wait: Duration,
        deadline: Duration,
        start: Instant,
    ) -> Self {
        RetryPolicy {
            max_retries,
            timeout,
            max_wait,
            deadline: start + deadline,
            deadline_len: deadline,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new(
            DEFAULT_MAX_RETRIES,
            DEFAULT_TIMEOUT,
            DEFAULT_MAX_RETRY_WAIT,
            DEFAULT_DEADLINE,
            Instant::now(),
        )
    }
}

/// A request that did not get a usable response, after `attempts` attempts.
#[derive(Debug, thiserror::Error)]
#[error("{} after {attempts} attempt{}", if *.deadline_hit { "stopped at the --deadline" } else { "gave up" }, if *.attempts == 1 { "" } else { "s" })]
pub struct RetryError {
    pub attempts: u32,
    /// The overall deadline stopped the retries (rather than `--max-retries`).
    pub deadline_hit: bool,
    /// The `request-id` of the last response that had one (earlier attempts may have had one).
    pub last_request_id: Option<String>,
    #[source]
    pub source: SendError,
}

impl Diagnostic for RetryError {
    /// What to do about a request that never got a usable answer (Entra's or Graph's alike).
    fn hint(&self) -> Option<String> {
        Some(match &self.source {
            _ if self.deadline_hit => {
                "the whole command ran out of time: raise --deadline (seconds), or list less (--max-items)"
                    .into()
            }
            SendError::TooLarge { .. } => {
                "raise --max-response-mib, or ask for smaller pages with --top".into()
            }
            _ => "check the network, HTTPS_PROXY / NO_PROXY, and --ca-bundle if a proxy inspects TLS; \
                  --timeout sets the time one attempt may take"
                .into(),
        })
    }

    /// The ids Microsoft support asks for.
    fn notes(&self) -> Vec<String> {
        self.last_request_id
            .iter()
            .map(|r| format!("last request-id: {r}"))
            .collect()
    }
}

/// Why a status is worth another attempt: throttling and the server errors that mean "later".
pub fn retryable_status(status: u16) -> Option<&'static str> {
    match status {
        429 => Some("HTTP 429 Too Many Requests"),
        500 => Some("HTTP 500 Internal Server Error"),
        502 => Some("HTTP 502 Bad Gateway"),
        503 => Some("HTTP 503 Service Unavailable"),
        504 => Some("HTTP 504 Gateway Timeout"),
        _ => None,
    }
}

/// `Retry-After` as seconds or an HTTP date, as a wait from `now`; `None` when unparsable.
/// A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate rather than fail: they are "a long time".
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The full-jitter wait before retry number `retry` (1-based): `unit · min(cap, base·2^(retry-1))`
/// with `unit` uniform in `[0, 1)`.
pub fn backoff(retry: u32, max_wait: Duration, unit: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    let window = exp.min(BACKOFF_CAP).min(max_wait);
    window.mul_f64(unit.clamp(0.0, 1.0))
}

/// Replies worth waiting for past `--max-retries`, and for how long after the first attempt.
pub type Persist<'a> = (&'a dyn Fn(&Reply) -> bool, Duration);

/// What, beyond the statuses every caller retries, makes a reply or a failure worth another
/// attempt. [`send`] is [`send_with`] with only `also_retry`.
pub struct Rules<'a> {
    /// A reason to retry a reply whose status alone would not be retried.
    pub also_retry: &'a dyn Fn(&Reply) -> Option<String>,
    /// Replies that keep being retried past `--max-retries` until this long after the first
    /// attempt (never past the deadline): IMDS answers 410 for up to 70 s while it upgrades.
    pub persist: Option<Persist<'a>>,
    /// Whether a failure with no response at all (refused, timed out) is retried before the
    /// server has answered once. Off for a managed identity's endpoint: one that never answered
    /// is not there, and saying so at once beats retrying for a minute.
    pub retry_silence: bool,
}

/// Sends the request `make` builds, again while the failure is retryable and the policy
/// allows. A final HTTP error status comes back as `Ok(reply)` (with `reply.attempts`) for the
/// caller to map; a final transport failure as `RetryError`. `also_retry` names a reason to
/// retry a reply whose status alone would not be retried.
pub fn send(
    http: &Http,
    policy: &RetryPolicy,
    label: &str,
    make: &dyn Fn() -> RequestBuilder,
    also_retry: &dyn Fn(&Reply) -> Option<String>,
) -> Result<Reply, RetryError> {
    send_with(
        http,
        policy,
        label,
        make,
        &Rules {
            also_retry,
            persist: None,
            retry_silence: true,
        },
    )
}

/// [`send`] with the extra [`Rules`].
pub fn send_with(
    http: &Http,
    policy: &RetryPolicy,
    label: &str,
    make: &dyn Fn() -> RequestBuilder,
    rules: &Rules<'_>,
) -> Result<Reply, RetryError> {
    let started = Instant::now();
    let mut attempt: u32 = 0;
    let mut answered = false;
    let mut last_request_id: Option<String> = None;
    loop {
        attempt += 1;
        let remaining = policy.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(RetryError {
                attempts: attempt - 1,
                deadline_hit: true,
                last_request_id,
                source: SendError::Deadline {
                    deadline: policy.deadline_len,
                },
            });
        }
        let result = http.send(label, make().timeout(policy.timeout.min(remaining)));
        let mut persisting = false;
        let (reason, retry_after) = match &result {
            Ok(reply) => {
                answered = true;
                if let Some(id) = request_id(reply) {
                    last_request_id = Some(id);
                }
                let reason = retryable_status(reply.status)
                    .map(str::to_string)
                    .or_else(|| (rules.also_retry)(reply));
                persisting = rules
                    .persist
                    .is_some_and(|(p, window)| p(reply) && started.elapsed() < window);
                match reason {
                    None => return finish(result, attempt, false, last_request_id),
                    Some(r) => (
                        r,
                        reply
                            .header("retry-after")
                            .and_then(|v| parse_retry_after(v, SystemTime::now())),
                    ),
                }
            }
            Err(e) => match e.retry_reason() {
                Some(r) if answered || rules.retry_silence => (r, None),
                _ => return finish(result, attempt, false, last_request_id),
            },
        };
        if attempt > policy.max_retries && !persisting {
            info!(target: "graphd::retry", "{label}: {reason}; giving up after {attempt} attempts (--max-retries {})", policy.max_retries);
            return finish(result, attempt, false, last_request_id);
        }
        let (wait, why) = match retry_after {
            Some(ra) if ra > policy.max_wait => {
                (policy.max_wait, "Retry-After, capped by --max-retry-wait")
            }
            Some(ra) => (ra, "Retry-After"),
            None => (
                backoff(attempt, policy.max_wait, fastrand::f64()),
                "backoff with jitter",
            ),
        };
        // Persisting (IMDS upgrading) waits at least PERSIST_MIN_WAIT between attempts (a
        // `Retry-After: 0` must not make it a busy loop) and stops at the end of its window,
        // not a backoff after it.
        let wait = match rules.persist {
            Some((_, window)) if persisting && attempt > policy.max_retries => wait
                .max(PERSIST_MIN_WAIT)
                .min(window.saturating_sub(started.elapsed())),
            _ => wait,
        };
        if Instant::now() + wait >= policy.deadline {
            warn!(target: "graphd::retry", "{label}: {reason}; not waiting {:.1} s: the --deadline of {} s would pass", wait.as_secs_f64(), policy.deadline_len.as_secs());
            return finish(result, attempt, true, last_request_id);
        }
        if attempt > policy.max_retries {
            info!(
                target: "graphd::retry",
                "{label}: {reason}; retry {attempt} (past --max-retries while the server asks for time) in {:.1} s ({why})",
                wait.as_secs_f64()
            );
        } else {
            info!(
                target: "graphd::retry",
                "{label}: {reason}; retry {attempt} of {} in {:.1} s ({why})",
                policy.max_retries,
                wait.as_secs_f64()
            );
        }
        std::thread::sleep(wait);
    }
}

fn finish(
    result: Result<Reply, SendError>,
    attempts: u32,
    deadline_hit: bool,
    last_request_id: Option<String>,
) -> Result<Reply, RetryError> {
    match result {
        Ok(mut reply) => {
            reply.attempts = attempts;
            Ok(reply)
        }
        Err(source) => Err(RetryError {
            attempts,
            deadline_hit,
            last_request_id,
            source,
        }),
    }
}

/// Graph's `request-id`, else Entra's `x-ms-request-id`.
fn request_id(reply: &Reply) -> Option<String> {
    reply
        .header("request-id")
        .or_else(|| reply.header("x-ms-request-id"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a past date means now"
        );
        for bad in ["", "-1", "1.5", "soon", "12 s"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable_status(s).is_some(), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 501, 505] {
            assert!(retryable_status(s).is_none(), "{s}");
        }
    }

    #[test]
    fn backoff_grows_then_caps() {
        let max = DEFAULT_MAX_RETRY_WAIT;
        assert_eq!(backoff(1, max, 0.0), Duration::ZERO);
        assert_eq!(backoff(1, max, 0.999_999), BACKOFF_BASE.mul_f64(0.999_999));
        assert_eq!(backoff(3, max, 0.5), BACKOFF_BASE * 2);
        assert_eq!(backoff(30, max, 0.5), BACKOFF_CAP / 2);
        assert_eq!(
            backoff(30, Duration::from_secs(4), 0.5),
            Duration::from_secs(2)
        );
    }

    /// A loopback server answering every request with `410 Gone` and `Retry-After: 0`;
    /// returns its URL and how many requests it has answered.
    fn always_gone() -> (url::Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url::Url::parse(&format!("http://{}/t", listener.local_addr().unwrap())).unwrap();
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let answered = count.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                answered.fetch_add(1, Ordering::SeqCst);
                let _ = conn.write_all(
                    b"HTTP/1.1 410 Gone\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (url, count)
    }

    /// A persisting failure (IMDS upgrading) is retried past --max-retries until its window
    /// ends, and then given up even though --deadline is still far: the window, not the
    /// deadline, bounds it.
    #[test]
    fn persisting_stops_at_the_end_of_its_window_before_the_deadline() {
        let (url, count) = always_gone();
        let http = Http::identity_endpoint(None, crate::http::IdentityTls::Roots).unwrap();
        let window = Duration::from_millis(2500);
        let persist = |r: &Reply| r.status == 410;
        let rules = Rules {
            also_retry: &|r: &Reply| (r.status == 410).then(|| "HTTP 410".to_string()),
            persist: Some((&persist, window)),
            retry_silence: false,
        };
        let policy = RetryPolicy::new(
            0,
            Duration::from_secs(5),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Instant::now(),
        );
        let started = Instant::now();
        let reply = send_with(
            &http,
            &policy,
            "test",
            &|| http.client().get(url.clone()),
            &rules,
        )
        .expect("the last 410 comes back as a reply");
        let took = started.elapsed();
        assert_eq!(reply.status, 410);
        let asked = count.load(std::sync::atomic::Ordering::SeqCst);
        // Retry-After: 0 still waits PERSIST_MIN_WAIT (1 s) between attempts: 3 or 4 in 2.5 s.
        assert!((2..=4).contains(&asked), "{asked} requests in {took:?}");
        assert!(
            took >= window && took < Duration::from_secs(10),
            "stopped at the window's end, not the 60 s deadline: {took:?}"
        );
    }

    proptest! {
        #[test]
        fn backoff_is_within_its_window(retry in 0u32..100, unit in 0.0f64..1.0, max_ms in 0u64..200_000) {
            let max = Duration::from_millis(max_ms);
            let d = backoff(retry, max, unit);
            prop_assert!(d <= BACKOFF_CAP && d <= max);
        }

        #[test]
        fn retry_after_never_panics(s in "\\PC{0,40}") {
            let _ = parse_retry_after(&s, SystemTime::now());
        }

        #[test]
        fn retry_after_seconds_round_trip(n in 0u64..10_000_000) {
            prop_assert_eq!(parse_retry_after(&n.to_string(), SystemTime::now()), Some(Duration::from_secs(n)));
        }
    }
}

//! The fault suite: each fault the emulator can inject, with graphd's exit code, its output
//! (complete and duplicate-free where recovery is possible), the number of requests it made,
//! and a wall-time bound. Every run is at `-vvv` and goes through `assert_no_leak`, which
//! looks for every secret the emulator saw (client secret, issued tokens, received
//! assertions, the private key) in stdout, stderr and every file under graphd's HOME.

use std::process::Output;
use std::time::{Duration, Instant};

use graphd_emulator::{Fault, FaultKind};

use super::util::*;

/// One graphd run.
struct Run {
    out: Output,
    elapsed: Duration,
}

impl Run {
    fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }

    fn stderr(&self) -> String {
        stderr_of(&self.out)
    }

    fn ids(&self) -> Vec<String> {
        ids_of(&json_lines(&self.out.stdout))
    }
}

/// `graphd users -o jsonl -vvv ARGS` with the client secret, then the leak check.
fn users(s: &Setup, args: &[&str]) -> Run {
    let started = Instant::now();
    let out = s
        .graphd_secret()
        .args(["users", "-o", "jsonl", "-vvv"])
        .args(args)
        .output()
        .unwrap();
    let run = Run {
        out,
        elapsed: started.elapsed(),
    };
    assert_no_leak(s, &run.out);
    run
}

/// The directory's ids, in order, and no duplicates.
fn assert_complete(s: &Setup, run: &Run) {
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let ids = run.ids();
    assert_eq!(ids, s.ids(), "every user exactly once, in order");
}

fn graph_statuses(s: &Setup) -> Vec<u16> {
    s.emu
        .log()
        .graph_requests
        .iter()
        .map(|r| r.status)
        .collect()
}

fn assert_elapsed(run: &Run, max: Duration) {
    assert!(
        run.elapsed < max,
        "took {:?}, bound {max:?}: {}",
        run.elapsed,
        run.stderr()
    );
}

#[test]
fn throttled_every_third_request_honours_retry_after_and_completes() {
    let s = start(60);
    s.emu.set_fault(Fault::every_kth(
        3,
        FaultKind::Throttle {
            retry_after_secs: 1,
        },
    ));
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    // 6 pages; requests 3 and 6 were throttled.
    assert_eq!(
        graph_statuses(&s),
        vec![200, 200, 429, 200, 200, 429, 200, 200]
    );
    assert_eq!(s.token_requests(), 1);
    let e = run.stderr();
    assert!(
        e.contains("HTTP 429 Too Many Requests; retry 1 of 4 in 1.0 s (Retry-After)"),
        "{e}"
    );
    assert!(run.elapsed >= Duration::from_secs(2), "waited as asked");
    assert_elapsed(&run, Duration::from_secs(20));
}

#[test]
fn a_page_that_fails_once_is_retried_alone_with_a_fresh_client_request_id() {
    let s = start(50);
    s.emu
        .set_fault(Fault::once(FaultKind::Unavailable).after(2));
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    let log = s.emu.log();
    let g = &log.graph_requests;
    assert_eq!(
        g.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 200, 503, 200, 200, 200]
    );
    // The retry asked for the failed page (same skiptoken), not the first one.
    assert_eq!(g[3].raw_query, g[2].raw_query);
    assert!(g[3].raw_query.as_deref().unwrap().contains("skiptoken"));
    assert_eq!(g[3].next_link_verbatim, Some(true));
    // A fresh client-request-id on every request, retries included.
    let mut ids: Vec<_> = g
        .iter()
        .map(|r| r.client_request_id.clone().unwrap())
        .collect();
    ids.push(log.token_requests[0].client_request_id.clone().unwrap());
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "client-request-ids are fresh");
    assert!(log.token_requests[0].return_client_request_id);
    assert!(
        run.stderr()
            .contains("HTTP 503 Service Unavailable; retry 1 of 4")
    );
    assert_elapsed(&run, Duration::from_secs(15));
}

#[test]
fn token_endpoint_temporarily_unavailable_is_retried() {
    let s = start(5);
    s.emu.set_fault(Fault::once(FaultKind::TokenUnavailable));
    let run = users(&s, &[]);
    assert_complete(&s, &run);
    let log = s.emu.log();
    assert_eq!(
        log.token_requests
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![503, 200]
    );
    assert_elapsed(&run, Duration::from_secs(15));
}

#[test]
fn token_endpoint_down_for_good_fails_with_attempts_and_ids() {
    let s = start(5);
    s.emu.set_fault(Fault::always(FaultKind::TokenUnavailable));
    let run = users(&s, &["--max-retries", "2"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert!(run.out.stdout.is_empty());
    assert_eq!(s.token_requests(), 3);
    assert!(s.emu.log().graph_requests.is_empty());
    let e = run.stderr();
    assert!(
        e.contains("error: Entra refused the token request: temporarily_unavailable (AADSTS90033)"),
        "{e}"
    );
    assert!(
        e.contains("note: trace id: ") && e.contains("note: correlation id: "),
        "{e}"
    );
    assert!(e.contains("note: gave up after 3 attempts"), "{e}");
    assert!(e.contains("hint: Entra is temporarily unavailable"), "{e}");
    assert_elapsed(&run, Duration::from_secs(15));
}

#[test]
fn a_reset_mid_body_is_retried_from_that_page() {
    let s = start(40);
    s.emu
        .set_fault(Fault::once(FaultKind::ResetMidBody).after(1));
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    let g = s.emu.log().graph_requests;
    assert_eq!(g.len(), 5, "4 pages and one retry");
    assert_eq!(g[2].raw_query, g[1].raw_query, "the broken page again");
    assert!(run.stderr().contains("retry 1 of 4"), "{}", run.stderr());
    assert_elapsed(&run, Duration::from_secs(15));
}

#[test]
fn a_truncated_body_is_retried_from_that_page() {
    let s = start(40);
    s.emu
        .set_fault(Fault::once(FaultKind::TruncatedBody).after(2));
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    let g = s.emu.log().graph_requests;
    assert_eq!(g.len(), 5);
    assert_eq!(g[3].raw_query, g[2].raw_query);
    assert_elapsed(&run, Duration::from_secs(15));
}

#[test]
fn a_non_json_200_is_a_clear_error_and_not_retried() {
    let s = start(20);
    s.emu.set_fault(Fault::always(FaultKind::NonJson200));
    let run = users(&s, &[]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert!(run.out.stdout.is_empty(), "nothing written");
    assert_eq!(s.emu.log().graph_requests.len(), 1);
    let e = run.stderr();
    assert!(
        e.contains(
            "error: Graph's response is not a valid page (not JSON but HTML; content-type text/html"
        ),
        "{e}"
    );
    assert!(e.contains("note: client-request-id: "), "{e}");
    assert!(e.contains("hint: a proxy or captive portal"), "{e}");
}

#[test]
fn an_html_502_from_a_proxy_is_retried_then_reported() {
    let s = start(20);
    s.emu.set_fault(Fault::once(FaultKind::Html502));
    let run = users(&s, &[]);
    assert_complete(&s, &run);
    assert_eq!(graph_statuses(&s), vec![502, 200]);

    let s = start(20);
    s.emu.set_fault(Fault::always(FaultKind::Html502));
    let run = users(&s, &["--max-retries", "2"]);
    assert_eq!(run.code(), 5);
    assert_eq!(graph_statuses(&s), vec![502, 502, 502]);
    let e = run.stderr();
    assert!(
        e.contains(
            "error: Graph failed: HTTP 502 (no Graph error code; a text/html body) after 3 attempts"
        ),
        "{e}"
    );
    assert!(
        e.contains("hint: Graph or a proxy in between failed"),
        "{e}"
    );
    assert_elapsed(&run, Duration::from_secs(15));
}

#[test]
fn a_stall_beyond_the_timeout_is_cut_and_retried() {
    let s = start(30);
    s.emu
        .set_fault(Fault::once(FaultKind::Stall { secs: 60 }).after(1));
    let run = users(&s, &["--top", "10", "--timeout", "2"]);
    assert_complete(&s, &run);
    let g = s.emu.log().graph_requests;
    assert_eq!(g.len(), 4);
    assert_eq!(g[2].raw_query, g[1].raw_query);
    assert!(
        run.stderr()
            .contains("timed out reading the body; retry 1 of 4"),
        "{}",
        run.stderr()
    );
    assert_elapsed(&run, Duration::from_secs(20));
}

#[test]
fn a_server_that_always_stalls_fails_within_timeout_times_attempts() {
    let s = start(10);
    s.emu
        .set_fault(Fault::always(FaultKind::Stall { secs: 60 }));
    let run = users(&s, &["--timeout", "1", "--max-retries", "1"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert_eq!(s.emu.log().graph_requests.len(), 2);
    let e = run.stderr();
    assert!(e.contains("error: cannot reach Graph"), "{e}");
    assert!(e.contains("caused by: gave up after 2 attempts"), "{e}");
    assert!(e.contains("--timeout"), "{e}");
    assert_elapsed(&run, Duration::from_secs(12));
}

#[test]
fn the_deadline_bounds_the_whole_command() {
    let s = start(10);
    s.emu
        .set_fault(Fault::always(FaultKind::Stall { secs: 60 }));
    let run = users(&s, &["--timeout", "30", "--deadline", "3"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    let e = run.stderr();
    assert!(e.contains("--deadline"), "{e}");
    assert!(run.elapsed >= Duration::from_secs(2), "{:?}", run.elapsed);
    assert_elapsed(&run, Duration::from_secs(10));
}

#[test]
fn a_next_link_to_another_origin_is_refused_and_nothing_reaches_it() {
    let s = start(30);
    s.emu.set_fault(Fault::once(FaultKind::ForeignNextLink));
    let run = users(&s, &["--top", "10"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert_eq!(run.ids(), s.ids()[..10], "the first page, once");
    let e = run.stderr();
    assert!(
        e.contains("error: Graph's next link goes to https://127.0.0.1:"),
        "{e}"
    );
    assert!(e.contains("not following it with the token"), "{e}");
    let log = s.emu.log();
    assert!(
        log.foreign_requests.is_empty(),
        "{:?}",
        log.foreign_requests
    );
    assert_eq!(log.graph_requests.len(), 1);
}

#[test]
fn redirects_are_never_followed_by_graph_or_token_requests() {
    let s = start(10);
    s.emu.set_fault(Fault::once(FaultKind::RedirectToForeign));
    let run = users(&s, &[]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    let e = run.stderr();
    assert!(
        e.contains("error: Graph answered HTTP 307, a redirect to https://127.0.0.1:"),
        "{e}"
    );
    assert!(e.contains("graphd follows no redirects"), "{e}");

    s.emu
        .set_fault(Fault::once(FaultKind::TokenRedirectToForeign));
    let run = s
        .graphd_secret()
        .args(["users", "-vvv", "--no-token-cache"])
        .output()
        .unwrap();
    assert_no_leak(&s, &run);
    assert_eq!(run.status.code(), Some(5));
    let e = stderr_of(&run);
    assert!(
        e.contains("error: the token endpoint answered HTTP 307 without an Entra error body"),
        "{e}"
    );
    assert!(e.contains("follows no redirects"), "{e}");
    assert!(
        s.emu.log().foreign_requests.is_empty(),
        "no bearer token and no client secret went to the foreign origin"
    );
}

#[test]
fn a_repeated_next_link_stops_the_listing() {
    let s = start(30);
    s.emu
        .set_fault(Fault::once(FaultKind::RepeatedNextLink).after(1));
    let run = users(&s, &["--top", "10"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert_eq!(run.ids(), s.ids()[..20], "two pages, no duplicate");
    assert!(run.stderr().contains("the same next link twice"));
    assert_eq!(s.emu.log().graph_requests.len(), 2);
}

#[test]
fn an_empty_page_with_a_next_link_is_followed() {
    let s = start(30);
    s.emu.set_fault(Fault::once(FaultKind::EmptyPage).after(1));
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    let g = s.emu.log().graph_requests;
    assert_eq!(g.len(), 4, "3 pages and one empty one");
    assert_eq!(g[1].items, 0);
}

#[test]
fn endless_empty_pages_are_bounded() {
    let s = start(30);
    s.emu.set_fault(Fault::always(FaultKind::EmptyPage));
    let run = users(&s, &["--top", "10"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert!(
        run.stderr().contains("100 empty pages in a row"),
        "{}",
        run.stderr()
    );
    assert_eq!(s.emu.log().graph_requests.len(), 100);
    assert_elapsed(&run, Duration::from_secs(60));
}

#[test]
fn a_very_large_page_is_read_under_the_cap_and_refused_over_it() {
    let s = start(20);
    let big = FaultKind::LargePage {
        padding_bytes: 3 * 1024 * 1024,
    };
    s.emu.set_fault(Fault::once(big.clone()));
    let run = users(&s, &[]);
    assert_complete(&s, &run);

    s.emu.set_fault(Fault::once(big));
    let run = users(&s, &["--max-response-mib", "1"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    let e = run.stderr();
    assert!(
        e.contains("is larger than 1 MiB (--max-response-mib)"),
        "{e}"
    );
    assert!(e.contains("hint: raise --max-response-mib"), "{e}");
    assert_eq!(
        s.emu.log().graph_requests.len(),
        2,
        "one per run: a response over the cap is not retried"
    );
}

#[test]
fn an_expired_token_mid_listing_gets_one_fresh_token_and_the_listing_continues() {
    let s = start(50);
    s.emu
        .set_fault(Fault::once(FaultKind::ExpireToken).after(2));
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    let log = s.emu.log();
    assert_eq!(log.tokens_issued(), 2, "the first token, and one fresh one");
    let g = &log.graph_requests;
    assert_eq!(
        g.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 200, 401, 200, 200, 200]
    );
    assert_eq!(g[3].raw_query, g[2].raw_query, "the refused page again");
    assert!(
        run.stderr()
            .contains("getting a fresh one from Entra, not the cache")
    );

    // The cache now holds the fresh token, not the refused one: the next run needs no token
    // request and gets no 401.
    s.emu.clear_log();
    let run = users(&s, &["--top", "10"]);
    assert_complete(&s, &run);
    let log = s.emu.log();
    assert_eq!(log.token_count(), 0);
    assert!(log.graph_requests.iter().all(|r| r.status == 200));
}

#[test]
fn a_token_refused_even_fresh_is_a_401_refusal() {
    let s = start(10);
    s.emu.set_fault(Fault::always(FaultKind::ExpireToken));
    let run = users(&s, &[]);
    assert_eq!(run.code(), 4, "{}", run.stderr());
    assert_eq!(s.emu.log().tokens_issued(), 2, "one renewal per request");
    assert_eq!(graph_statuses(&s), vec![401, 401]);
    let e = run.stderr();
    assert!(e.contains("InvalidAuthenticationToken"), "{e}");
    assert!(e.contains("note: request-id: "), "{e}");
}

#[test]
fn faults_with_a_certificate_credential_leak_nothing_either() {
    let s = start(30);
    s.emu
        .set_fault(Fault::once(FaultKind::ExpireToken).after(1));
    s.emu.add_fault(Fault::once(FaultKind::TokenUnavailable));
    let started = Instant::now();
    let out = s
        .graphd_cert()
        .args(["users", "-o", "jsonl", "-vvv", "--top", "10"])
        .output()
        .unwrap();
    assert_no_leak(&s, &out);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(ids_of(&json_lines(&out.stdout)), s.ids());
    assert_eq!(
        s.emu.log().token_count(),
        3,
        "503, the token, the fresh one"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_long_retry_after_is_capped_by_max_retry_wait() {
    let s = start(10);
    s.emu.set_fault(Fault::once(FaultKind::Throttle {
        retry_after_secs: 3600,
    }));
    let run = users(&s, &["--max-retry-wait", "1"]);
    assert_complete(&s, &run);
    assert_eq!(graph_statuses(&s), vec![429, 200]);
    assert!(
        run.stderr()
            .contains("retry 1 of 4 in 1.0 s (Retry-After, capped by --max-retry-wait)"),
        "{}",
        run.stderr()
    );
    assert_elapsed(&run, Duration::from_secs(10));
}

#[test]
fn a_wait_past_the_deadline_is_not_started() {
    let s = start(10);
    s.emu.set_fault(Fault::always(FaultKind::Throttle {
        retry_after_secs: 30,
    }));
    let run = users(&s, &["--deadline", "5"]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert_eq!(graph_statuses(&s), vec![429]);
    let e = run.stderr();
    assert!(
        e.contains("not waiting 30.0 s: the --deadline of 5 s would pass"),
        "{e}"
    );
    assert!(
        e.contains("error: Graph failed: HTTP 429 TooManyRequests"),
        "{e}"
    );
    assert!(e.contains("note: request-id: "), "{e}");
    assert!(e.contains("hint: Graph is throttling this app"), "{e}");
    assert_elapsed(&run, Duration::from_secs(4));
}

#[test]
fn other_4xx_are_never_retried() {
    let s = start(5);
    let info = s.emu.info();
    let out = s
        .graphd()
        .env("AZURE_CLIENT_ID", &info.noperm_client_id)
        .env("AZURE_CLIENT_SECRET", &info.noperm_client_secret)
        .args(["users", "-vvv"])
        .output()
        .unwrap();
    assert_no_leak(&s, &out);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(graph_statuses(&s), vec![403]);
    assert!(!stderr_of(&out).contains("; retry "), "{}", stderr_of(&out));

    let out = s
        .graphd()
        .env(
            "AZURE_CLIENT_SECRET",
            "Wr0ng~Secret.Value_ThatMustNotAppear",
        )
        .args(["users", "-vvv"])
        .output()
        .unwrap();
    assert_no_leak(&s, &out);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        s.emu.log().token_count(),
        2,
        "one refused token request, not retried"
    );
}

#[test]
fn cache_clear_at_vvv_leaks_nothing() {
    let s = start(5);
    let run = users(&s, &[]);
    assert_complete(&s, &run);
    let out = s
        .graphd()
        .args(["cache", "clear", "-vvv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_no_leak(&s, &out);
}

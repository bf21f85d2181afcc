//! Incremental sync (`--delta STATE`, PROTOCOL.md §9): a full round then a change round in
//! every output format; STATE left as it was by a run that dies mid-round (a fault with no
//! retries left, a closed pipe, the state lost mid-round) so that the next run repeats the
//! round; a full round when Graph says the state is gone, said on stderr and in the report;
//! binding mismatches and hostile STATE files refused (exit 2) before any request;
//! `get /groups/delta`; `--delta-from-now`; retries and token renewal mid-round; and STATE
//! private (0600) with no secret in it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use graphd_emulator::{Emulator, Fault, FaultKind, Options};
use serde_json::{Value, json};

use super::util::*;

/// An emulator with `users` users and delta pages of `page` objects.
fn start_with(users: usize, page: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(Options {
        users,
        delta_page_size: page,
        dir: dir.path().join("emu"),
        ..Options::default()
    })
    .expect("emulator starts");
    Setup { emu, dir }
}

/// Where a test keeps a STATE file: under graphd's HOME, so that `assert_no_leak` reads it.
fn state_path(s: &Setup, name: &str) -> PathBuf {
    let dir = s.dir.path().join("home/sync");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn report_path(state: &Path) -> PathBuf {
    PathBuf::from(format!("{}.report.json", state.display()))
}

/// `graphd users --delta STATE --delta-report STATE.report.json ARGS` with the client secret.
fn users_delta(s: &Setup, state: &Path, args: &[&str]) -> Output {
    s.graphd_secret()
        .arg("users")
        .arg("--delta")
        .arg(state)
        .arg("--delta-report")
        .arg(report_path(state))
        .args(args)
        .output()
        .unwrap()
}

fn report(state: &Path) -> Value {
    let bytes = std::fs::read(report_path(state))
        .unwrap_or_else(|e| panic!("no report for {}: {e}", state.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn read_state(state: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr_of(out)
    );
}

fn graph_requests(s: &Setup) -> usize {
    s.emu.log().graph_requests.len()
}

/// (id, removal reason) of every item of a run's stdout in `format`.
fn entries(format: &str, stdout: &[u8]) -> Vec<(String, Option<String>)> {
    let from_json = |items: Vec<Value>| {
        items
            .iter()
            .map(|v| {
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["@removed"]["reason"].as_str().map(str::to_string),
                )
            })
            .collect()
    };
    let reason = |r: &str| (!r.is_empty()).then(|| r.to_string());
    match format {
        "json" => from_json(json_array(stdout)),
        "jsonl" => from_json(json_lines(stdout)),
        "csv" => {
            let mut r = csv::Reader::from_reader(stdout);
            let headers = r.headers().unwrap().clone();
            let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
            let (id, removed) = (col("id"), col("@removed"));
            assert_eq!(removed, headers.len() - 1, "@removed is the last column");
            r.records()
                .map(|rec| {
                    let rec = rec.unwrap();
                    (rec[id].to_string(), reason(&rec[removed]))
                })
                .collect()
        }
        "tsv" => std::str::from_utf8(stdout)
            .unwrap()
            .lines()
            .map(|l| {
                // The default properties (id last), then @removed.
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 12, "{l}");
                (f[10].to_string(), reason(f[11]))
            })
            .collect(),
        "table" => {
            let text = std::str::from_utf8(stdout).unwrap();
            let mut lines = text.lines();
            let header = lines.next().unwrap();
            assert!(
                header.starts_with("displayName") && header.ends_with("@removed"),
                "{header}"
            );
            lines
                .skip(1)
                .map(|l| {
                    let words: Vec<&str> = l.split_whitespace().collect();
                    let last = *words.last().unwrap();
                    let removed = ["changed", "deleted"].contains(&last);
                    let id = if removed {
                        words[words.len() - 2]
                    } else {
                        last
                    };
                    (id.to_string(), removed.then(|| last.to_string()))
                })
                .collect()
        }
        other => panic!("{other}"),
    }
}

fn sorted(v: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    let mut v = v;
    v.sort();
    v
}

#[test]
fn full_round_then_change_round_in_every_format() {
    let s = start_with(40, 15);
    // Soft-deleted before the first round: absent from it, restored later.
    let back = s.ids()[3].clone();
    s.emu.soft_delete_user(&back).unwrap();
    let formats = ["json", "jsonl", "csv", "tsv", "table"];

    for f in formats {
        let state = state_path(&s, &format!("{f}.state"));
        let before = s.emu.log().delta_pages().len();
        let out = users_delta(&s, &state, &["-o", f]);
        ok(&out);
        let got = entries(f, &out.stdout);
        let want: Vec<(String, Option<String>)> =
            s.ids().into_iter().map(|id| (id, None)).collect();
        assert_eq!(
            got, want,
            "{f}: every present user once, in order, none removed"
        );
        assert_eq!(
            s.emu.log().delta_pages().len() - before,
            3,
            "{f}: 39 users in pages of 15"
        );
        let r = report(&state);
        assert_eq!(r["format"], "graphd-delta-report/1");
        assert_eq!(r["round"], "full", "{f}");
        assert_eq!(r["cause"], "no_state", "{f}");
        assert_eq!(r["items"], 39);
        assert_eq!(r["removed"], 0);
        assert_eq!(r["pages"], 3);
        let saved = read_state(&state);
        assert_eq!(saved["format"], "graphd-delta-state/1");
        assert!(
            saved["delta_link"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/v1.0/users/delta?", s.emu.info().graph_url)),
            "{saved}"
        );
    }

    // Changes between the rounds: two added, one changed, one soft- and one hard-deleted,
    // one restored.
    let ids = s.ids();
    let added_a = s
        .emu
        .add_user(json!({"displayName": "Delta Added A"}))
        .unwrap();
    let added_b = s
        .emu
        .add_user(json!({"displayName": "Delta Added B", "jobTitle": "Engineer"}))
        .unwrap();
    let changed = ids[5].clone();
    s.emu
        .update_user(&changed, json!({"jobTitle": "Chief Delta Officer"}))
        .unwrap();
    let soft = ids[7].clone();
    s.emu.soft_delete_user(&soft).unwrap();
    let hard = ids[9].clone();
    s.emu.hard_delete_user(&hard).unwrap();
    s.emu.restore_user(&back).unwrap();
    let want = sorted(vec![
        (added_a.clone(), None),
        (added_b.clone(), None),
        (changed.clone(), None),
        (soft.clone(), Some("changed".into())),
        (hard.clone(), Some("deleted".into())),
        (back.clone(), None),
    ]);

    for f in formats {
        let state = state_path(&s, &format!("{f}.state"));
        let old_link = read_state(&state)["delta_link"].clone();
        let before = graph_requests(&s);
        let out = users_delta(&s, &state, &["-o", f]);
        ok(&out);
        assert_eq!(sorted(entries(f, &out.stdout)), want, "{f}");
        assert_eq!(graph_requests(&s) - before, 1, "{f}: 6 changes, one page");
        let r = report(&state);
        assert_eq!(r["round"], "changes", "{f}");
        assert_eq!(r["cause"], "delta_link", "{f}");
        assert_eq!(r["items"], 6);
        assert_eq!(r["removed"], 2);
        assert_ne!(
            read_state(&state)["delta_link"],
            old_link,
            "{f}: state moved on"
        );
        if f == "json" {
            let items = json_array(&out.stdout);
            let by_id = |id: &str| items.iter().find(|v| v["id"] == id).unwrap().clone();
            assert_eq!(by_id(&changed)["jobTitle"], "Chief Delta Officer");
            assert_eq!(by_id(&added_b)["displayName"], "Delta Added B");
            assert_eq!(
                by_id(&hard),
                json!({"id": hard, "@removed": {"reason": "deleted"}})
            );
        }
    }

    // Nothing changed since: an empty change round, still reported and saved.
    let state = state_path(&s, "json.state");
    let out = users_delta(&s, &state, &[]);
    ok(&out);
    assert_eq!(json_array(&out.stdout), Vec::<Value>::new());
    assert_eq!(report(&state)["round"], "changes");
    assert_eq!(report(&state)["items"], 0);
}

#[test]
fn a_fault_with_no_retries_left_leaves_state_and_the_next_run_repeats_the_round() {
    let s = start_with(50, 10);
    let state = state_path(&s, "users.state");
    ok(&users_delta(&s, &state, &["-o", "jsonl"]));
    let touched: BTreeSet<String> = s.emu.touch_users(35).into_iter().collect();
    let saved = std::fs::read(&state).unwrap();

    // The change round has 4 pages; the third fails and may not be retried.
    s.emu
        .set_fault(Fault::once(FaultKind::Unavailable).after(2));
    let out = users_delta(&s, &state, &["-o", "jsonl", "--max-retries", "0"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 20, "two pages were written");
    assert_eq!(std::fs::read(&state).unwrap(), saved, "STATE unchanged");
    assert!(
        !report_path(&state).exists(),
        "no report: the previous one was removed at the start"
    );

    let out = users_delta(&s, &state, &["-o", "jsonl"]);
    ok(&out);
    let again: BTreeSet<String> = ids_of(&json_lines(&out.stdout)).into_iter().collect();
    assert_eq!(again, touched, "the whole change round again");
    assert_eq!(report(&state)["round"], "changes");
    assert_eq!(report(&state)["items"], 35);
    assert_ne!(std::fs::read(&state).unwrap(), saved);
}

#[test]
fn a_closed_pipe_mid_round_leaves_no_state_and_the_next_run_repeats_it() {
    // ~1 MB of output: far more than a pipe buffers, so graphd is still writing when the
    // reader goes away.
    let s = start_with(3000, 200);
    let state = state_path(&s, "users.state");
    let mut child = s
        .std_graphd()
        .env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
        .args(["users", "-o", "jsonl", "--delta"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: `| head -1`.
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("\"id\""), "{first}");
    assert_eq!(out.status.code(), Some(0), "a closed pipe is a quiet end");
    assert!(!state.exists(), "no STATE: the round was not delivered");
    assert!(
        s.emu.log().delta_pages().len() < 15,
        "graphd stopped mid-round"
    );

    let out = users_delta(&s, &state, &["-o", "jsonl"]);
    ok(&out);
    assert_eq!(json_lines(&out.stdout).len(), 3000);
    assert_eq!(report(&state)["round"], "full");
    assert_eq!(report(&state)["cause"], "no_state");
}

#[test]
fn state_gone_starts_a_full_round_said_on_stderr_and_in_the_report() {
    let s = start_with(30, 200);
    for (status, code) in [
        (410, "resyncRequired"),
        (400, "syncStateNotFound"),
        (400, "syncStateInvalid"),
    ] {
        let state = state_path(&s, &format!("{code}.state"));
        ok(&users_delta(&s, &state, &[]));
        let gone = s.ids()[0].clone();
        s.emu.hard_delete_user(&gone).unwrap();
        s.emu.expire_delta_links_with(status, code);

        let out = users_delta(&s, &state, &[]);
        ok(&out);
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains("full round") && stderr.contains(code),
            "{stderr}"
        );
        assert_eq!(
            ids_of(&json_array(&out.stdout)),
            s.ids(),
            "a full set: the deleted user is simply absent"
        );
        let r = report(&state);
        assert_eq!(r["round"], "full");
        assert_eq!(r["cause"], "resync");
        assert_eq!(r["resync"], json!({"status": status, "code": code}));

        // The new state works: nothing changed since.
        let out = users_delta(&s, &state, &[]);
        ok(&out);
        assert!(json_array(&out.stdout).is_empty());
        assert_eq!(report(&state)["round"], "changes");
    }
}

#[test]
fn state_lost_mid_round_stops_with_state_unchanged_then_a_full_round() {
    let s = start_with(60, 10);
    let state = state_path(&s, "users.state");
    ok(&users_delta(&s, &state, &["-o", "jsonl"]));
    s.emu.touch_users(40);
    let saved = std::fs::read(&state).unwrap();
    // Slow responses, so that the links can be expired between the first and second page.
    s.emu.set_latency(Duration::from_millis(400));
    let pages = s.emu.log().delta_pages().len();
    let child = s
        .std_graphd()
        .env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
        .args(["users", "-o", "jsonl", "--delta"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.emu.log().delta_pages().len() == pages {
        assert!(Instant::now() < deadline, "no delta page served");
        std::thread::sleep(Duration::from_millis(5));
    }
    s.emu.expire_delta_links();
    let out = child.wait_with_output().unwrap();
    s.emu.set_latency(Duration::ZERO);
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("unchanged"), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 10, "the first page");
    assert_eq!(std::fs::read(&state).unwrap(), saved);

    let out = users_delta(&s, &state, &["-o", "jsonl"]);
    ok(&out);
    assert_eq!(report(&state)["round"], "full");
    assert_eq!(report(&state)["cause"], "resync");
    assert_eq!(ids_of(&json_lines(&out.stdout)), s.ids());
}

#[test]
fn a_state_for_anything_else_is_a_usage_error_naming_the_difference() {
    let s = start_with(20, 200);
    let state = state_path(&s, "users.state");
    ok(&users_delta(&s, &state, &["--select", "id,displayName"]));
    let saved = std::fs::read(&state).unwrap();
    let (graph, tokens) = (graph_requests(&s), s.token_requests());

    for (args, field) in [
        (
            vec!["--select", "id,mail"],
            "--select id,displayName, not id,mail",
        ),
        (vec![], "--select id,displayName, not (none)"),
        (
            vec![
                "--select",
                "displayName,id",
                "--tenant",
                "00000000-0000-0000-0000-000000000001",
            ],
            "tenant",
        ),
        (
            vec!["--select", "id,displayName", "--filter", "id eq 'x'"],
            "--filter (none), not id eq 'x'",
        ),
        (
            vec![
                "--select",
                "id,displayName",
                "--client-id",
                "00000000-0000-0000-0000-0000000000c1",
            ],
            "client id",
        ),
        (
            vec![
                "--select",
                "id,displayName",
                "--authority-host",
                "https://login.other.example",
            ],
            "authority host",
        ),
    ] {
        let out = users_delta(&s, &state, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        let stderr = stderr_of(&out);
        assert!(stderr.contains(field), "{args:?}: {stderr}");
        assert!(stderr.contains("--delta-reset"), "{stderr}");
    }
    // `get` on the users' state: another resource path.
    let out = s
        .graphd_secret()
        .args(["get", "/users/delta?$select=id,displayName", "--delta"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the same binding: {}",
        stderr_of(&out)
    );
    for (path, difference) in [
        (
            "/beta/users/delta?$select=id,displayName",
            "API version v1.0, not beta",
        ),
        (
            "/groups/delta?$select=id,displayName",
            "resource users/delta, not groups/delta",
        ),
    ] {
        let out = s
            .graphd_secret()
            .args(["get", path, "--delta"])
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert!(
            stderr_of(&out).contains(difference),
            "{path}: {}",
            stderr_of(&out)
        );
    }
    let saved = std::fs::read(&state).unwrap_or(saved);
    assert_eq!(
        graph_requests(&s),
        graph + 1,
        "only the matching run asked Graph"
    );
    assert_eq!(s.token_requests(), tokens, "the token was cached");

    // --delta-reset is the way out: a full round for the new binding.
    let out = users_delta(&s, &state, &["--select", "id,mail", "--delta-reset"]);
    ok(&out);
    assert_eq!(report(&state)["round"], "full");
    assert_eq!(report(&state)["cause"], "reset");
    assert_eq!(json_array(&out.stdout).len(), 20);
    assert_ne!(std::fs::read(&state).unwrap(), saved);
    assert_eq!(
        read_state(&state)["binding"]["select"],
        json!(["id", "mail"])
    );
}

#[test]
fn hostile_and_corrupt_state_files_are_refused_before_any_request() {
    let s = start_with(10, 200);
    let state = state_path(&s, "users.state");
    ok(&users_delta(&s, &state, &[]));
    s.emu.clear_log();
    let info = s.emu.info();
    let mut hostile = read_state(&state);
    let link = hostile["delta_link"].as_str().unwrap().to_string();
    for bad in [
        link.replacen(&info.graph_url, &info.foreign_url, 1),
        link.replacen("https://", "http://", 1),
        link.replacen("https://", "https://user@", 1),
        // On the Graph origin, but another delta function than the state is bound to.
        link.replacen("/users/delta", "/groups/delta", 1),
    ] {
        hostile["delta_link"] = json!(bad);
        write_private(&state, hostile.to_string().as_bytes());
        let out = users_delta(&s, &state, &["-vvv"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("deltaLink"), "{}", stderr_of(&out));
    }
    for junk in [
        &b""[..],
        b"{",
        b"\xff\xfe\x00garbage",
        b"[1,2,3]",
        b"{\"format\":\"graphd-delta-state/1\",\"binding\":{},\"delta_link\":7}",
        b"{\"format\":\"graphd-delta-state/2\"}",
        b"null",
    ] {
        write_private(&state, junk);
        let out = users_delta(&s, &state, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("not a graphd delta state file"),
            "{}",
            stderr_of(&out)
        );
    }
    let big = vec![b' '; 2 * 1024 * 1024];
    write_private(&state, &big);
    assert_eq!(users_delta(&s, &state, &[]).status.code(), Some(2));
    // A FIFO in STATE's place neither blocks the run nor is read.
    let fifo = state_path(&s, "fifo.state");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = users_delta(&s, &fifo, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("not a regular file"),
        "{}",
        stderr_of(&out)
    );
    let log = s.emu.log();
    assert!(log.graph_requests.is_empty(), "{:?}", log.graph_requests);
    assert!(log.token_requests.is_empty(), "refused before a token");
    assert!(log.foreign_requests.is_empty());

    let out = users_delta(&s, &state, &["--delta-reset"]);
    ok(&out);
    assert_eq!(json_array(&out.stdout).len(), 10);
}

#[test]
fn a_report_that_cannot_be_written_stops_the_run_before_anything_is_listed() {
    let s = start(5);
    let state = state_path(&s, "users.state");
    let out = s
        .graphd_secret()
        .arg("users")
        .arg("--delta")
        .arg(&state)
        .arg("--delta-report")
        .arg(s.path("missing-dir").join("report.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(
        e.contains("the directory of the delta report") && e.contains("hint: create it first"),
        "{e}"
    );
    assert!(out.stdout.is_empty());
    assert!(!state.exists(), "no state without a delivered round");
    assert!(s.emu.log().graph_requests.is_empty());
}

#[test]
fn groups_through_get_delta() {
    let s = start(5);
    let state = state_path(&s, "groups.state");
    let get = |args: &[&str]| {
        s.graphd_secret()
            .args([
                "get",
                "/groups/delta?$select=displayName,description",
                "--all",
            ])
            .arg("--delta")
            .arg(&state)
            .arg("--delta-report")
            .arg(report_path(&state))
            .args(args)
            .output()
            .unwrap()
    };
    let out = get(&["-o", "jsonl"]);
    ok(&out);
    let groups = json_lines(&out.stdout);
    assert_eq!(ids_of(&groups), ids_of(&s.emu.groups()));
    assert_eq!(groups.len(), 20);
    assert!(groups[0].get("mailNickname").is_none(), "$select was sent");
    assert_eq!(report(&state)["round"], "full");
    assert_eq!(read_state(&state)["binding"]["resource"], "groups/delta");

    let ids = ids_of(&s.emu.groups());
    let added = s
        .emu
        .add_group(json!({"displayName": "Delta Group"}))
        .unwrap();
    s.emu
        .update_group(&ids[1], json!({"description": "changed"}))
        .unwrap();
    s.emu.soft_delete_group(&ids[2]).unwrap();
    let out = get(&["-o", "csv", "--columns", "id,displayName"]);
    ok(&out);
    let mut csv = csv::Reader::from_reader(&out.stdout[..]);
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        ["id", "displayName", "@removed"]
    );
    let mut rows: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    rows.sort();
    let name_1 = s.emu.groups()[1]["displayName"]
        .as_str()
        .unwrap()
        .to_string();
    let mut want = vec![
        vec![added.clone(), "Delta Group".into(), String::new()],
        vec![ids[1].clone(), name_1, String::new()],
        vec![ids[2].clone(), String::new(), "changed".into()],
    ];
    want.sort();
    assert_eq!(rows, want);
    assert_eq!(report(&state)["round"], "changes");
    assert_eq!(report(&state)["removed"], 1);

    // Not a delta function, or a round's link as the path: refused before any request.
    let before = graph_requests(&s);
    for path in ["/groups", "/groups/delta?$deltatoken=abc"] {
        let out = s
            .graphd_secret()
            .args(["get", path, "--delta"])
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr_of(&out));
    }
    assert_eq!(graph_requests(&s), before);
}

#[test]
fn from_now_lists_nobody_then_only_later_changes() {
    let s = start_with(25, 200);
    let state = state_path(&s, "users.state");
    let out = users_delta(&s, &state, &["--delta-from-now"]);
    ok(&out);
    assert_eq!(json_array(&out.stdout), Vec::<Value>::new());
    let r = report(&state);
    assert_eq!(r["round"], "from_now");
    assert_eq!(r["items"], 0);
    let last = s.emu.log().last_graph().unwrap().clone();
    assert!(
        last.raw_query
            .as_deref()
            .unwrap_or("")
            .contains("deltatoken=latest"),
        "{last:?}"
    );

    let added = s.emu.add_user(json!({"displayName": "After Now"})).unwrap();
    let out = users_delta(&s, &state, &["-o", "jsonl"]);
    ok(&out);
    assert_eq!(ids_of(&json_lines(&out.stdout)), vec![added]);
    assert_eq!(report(&state)["round"], "changes");
}

#[test]
fn retries_throttling_and_token_renewal_mid_round_deliver_each_change_once() {
    let s = start_with(60, 10);
    let state = state_path(&s, "users.state");
    ok(&users_delta(&s, &state, &["-o", "jsonl"]));
    let touched: BTreeSet<String> = s.emu.touch_users(45).into_iter().collect();
    s.emu.set_fault(Fault::every_kth(
        2,
        FaultKind::Throttle {
            retry_after_secs: 0,
        },
    ));
    s.emu
        .add_fault(Fault::once(FaultKind::ExpireToken).after(3));
    s.emu
        .add_fault(Fault::once(FaultKind::ResetMidBody).after(6));
    let tokens = s.token_requests();
    let out = users_delta(&s, &state, &["-o", "jsonl", "-vvv"]);
    ok(&out);
    assert_no_leak(&s, &out);
    let ids = ids_of(&json_lines(&out.stdout));
    assert_eq!(ids.len(), 45, "each change exactly once");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), touched);
    assert!(s.token_requests() > tokens, "the token was renewed");
    let log = s.emu.log();
    assert!(
        log.graph_requests.iter().any(|r| r.status == 429),
        "throttled"
    );
    assert!(
        log.graph_requests
            .iter()
            .filter_map(|r| r.next_link_verbatim)
            .all(|v| v),
        "every link followed verbatim"
    );
    assert_eq!(report(&state)["items"], 45);
}

/// Retry-After is obeyed within a change round, and --deadline bounds one as it bounds
/// `users`: the run stops in time, exit 5, and STATE keeps the previous deltaLink.
#[test]
fn retry_after_and_the_deadline_hold_in_a_change_round() {
    let s = start_with(30, 10);
    let state = state_path(&s, "users.state");
    ok(&users_delta(&s, &state, &["-o", "jsonl"]));
    s.emu.touch_users(25);
    s.emu.set_fault(
        Fault::once(FaultKind::Throttle {
            retry_after_secs: 1,
        })
        .after(1),
    );
    let started = Instant::now();
    let out = users_delta(&s, &state, &["-o", "jsonl"]);
    ok(&out);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was waited out"
    );
    assert!(
        s.emu.log().graph_requests.iter().any(|r| r.status == 429),
        "throttled"
    );
    assert_eq!(json_lines(&out.stdout).len(), 25);
    let saved = std::fs::read(&state).unwrap();

    s.emu.touch_users(25);
    s.emu
        .set_fault(Fault::always(FaultKind::Stall { secs: 60 }).after(1));
    let started = Instant::now();
    let out = users_delta(
        &s,
        &state,
        &["-o", "jsonl", "--timeout", "30", "--deadline", "3"],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("--deadline"),
        "{}",
        stderr_of(&out)
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        saved,
        "STATE still holds the previous deltaLink"
    );
    s.emu.clear_faults();
    let out = users_delta(&s, &state, &["-o", "jsonl"]);
    ok(&out);
    assert_eq!(json_lines(&out.stdout).len(), 25, "the round is repeated");
}

#[test]
fn state_is_private_and_holds_no_secret() {
    let s = start_with(15, 200);
    let state = state_path(&s, "users.state");
    let out = users_delta(&s, &state, &["-vvv"]);
    ok(&out);
    // Every secret the emulator saw or issued, in stdout, stderr and every file under HOME
    // (the STATE file and the report among them).
    assert_no_leak(&s, &out);
    for f in [&state, &report_path(&state)] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("eyJ") && !text.contains("secret"), "{text}");
    let saved = read_state(&state);
    let b = &saved["binding"];
    let info = s.emu.info();
    assert_eq!(b["tenant"], info.tenant_id.as_str());
    assert_eq!(b["client_id"], info.client_id.as_str());
    assert_eq!(b["graph"], info.graph_url.as_str());
    assert_eq!(b["authority"], info.authority_host_url.as_str());
    assert_eq!(b["api_version"], "v1.0");
    assert_eq!(b["resource"], "users/delta");
    let dir = state.parent().unwrap();
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}

#[test]
fn delta_flags_are_checked_before_anything_is_sent() {
    let s = start_with(5, 200);
    let state = state_path(&s, "users.state");
    for args in [
        vec!["--search", "displayName:a"],
        vec!["--orderby", "displayName"],
        vec!["--count"],
        vec!["--max-items", "3"],
        vec!["--filter", "startswith(displayName,'A')"],
    ] {
        let out = users_delta(&s, &state, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    let out = s
        .graphd_secret()
        .args(["users", "--delta-reset"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--delta-reset needs --delta");
    let out = s
        .graphd_secret()
        .args(["users", "--delta"])
        .arg(&state)
        .arg("--delta-report")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    // A state whose directory is missing: said now, not after the round.
    for extra in [&[][..], &["--delta-reset"][..]] {
        let out = s
            .graphd_secret()
            .args(["users", "--delta"])
            .arg(s.path("no-such-dir/users.state"))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains("mkdir"), "{}", stderr_of(&out));
    }
    assert!(graph_requests(&s) == 0);

    // The env vars stand for the flags.
    let out = s
        .graphd_secret()
        .env("GRAPHD_DELTA", &state)
        .env("GRAPHD_DELTA_REPORT", report_path(&state))
        .args(["users", "--filter", "id eq 'nobody'"])
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(json_array(&out.stdout), Vec::<Value>::new());
    assert_eq!(report(&state)["round"], "full");
    assert_eq!(read_state(&state)["binding"]["filter"], "id eq 'nobody'");
}

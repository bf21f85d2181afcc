//! The encrypted token cache across real processes: reuse, the refresh margin, one request
//! for many concurrent cold runs, binding to the credential, corrupt files, and nothing in
//! plain text on disk.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use graphd_emulator::{Emulator, Options};

use super::util::*;

fn cache_dir(s: &Setup) -> PathBuf {
    s.dir.path().join("home/.cache/graphd/tokens")
}

#[test]
fn second_run_reuses_the_token_and_nothing_is_plaintext() {
    let s = start(20);
    run_ok(s.graphd_secret().args(["users", "--max-items", "1"]));
    let out = run_ok(s.graphd_secret().args(["users", "--max-items", "1", "-vv"]));
    assert!(
        stderr_of(&out).contains("using the cached token"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.token_requests(), 1, "two runs, one token request");
    assert_eq!(s.emu.log().graph_requests.len(), 2);

    let dir = cache_dir(&s);
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let files = files_under(&dir);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "tok")),
        "{files:?}"
    );
    for f in &files {
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains(&s.emu.info().client_id) && !name.contains(&s.emu.info().tenant_id),
            "{name}"
        );
    }
    assert_no_plaintext(&s.dir.path().join("home"), &[&s.emu.info().client_secret]);
}

#[test]
fn sixteen_concurrent_cold_runs_make_one_token_request() {
    let s = start(20);
    let children: Vec<_> = (0..16)
        .map(|_| {
            s.std_graphd()
                .env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
                .args(["users", "--max-items", "1"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    assert_eq!(
        s.token_requests(),
        1,
        "one token request between 16 processes"
    );
    assert_eq!(s.emu.log().graph_requests.len(), 16);
}

#[test]
fn a_wrong_secret_never_gets_the_cached_token() {
    let s = start(5);
    run_ok(s.graphd_secret().arg("users"));
    let out = s
        .graphd()
        .env("AZURE_CLIENT_SECRET", "wrong-secret")
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("AADSTS7000215"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.token_requests(), 2, "the wrong secret asked Entra");
}

#[test]
fn another_credential_never_gets_the_cached_token() {
    let s = start(5);
    run_ok(s.graphd_secret().arg("users"));
    run_ok(s.graphd_cert().arg("users"));
    run_ok(s.graphd_cert().arg("users"));
    let auths: Vec<String> = s
        .emu
        .log()
        .token_requests
        .iter()
        .map(|r| r.auth.clone())
        .collect();
    assert_eq!(
        auths,
        ["client_secret", "client_assertion"],
        "each credential its own token, each reused"
    );
}

#[test]
fn tokens_inside_the_refresh_margin_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    // 200 s of life is under the 5-minute margin: every run must ask again.
    let emu = Emulator::start(Options {
        users: 5,
        token_lifetime_secs: 200,
        dir: dir.path().join("emu"),
        ..Options::default()
    })
    .unwrap();
    let s = Setup { emu, dir };
    run_ok(s.graphd_secret().arg("users"));
    run_ok(s.graphd_secret().arg("users"));
    assert_eq!(s.token_requests(), 2);
}

#[test]
fn refresh_in_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(Options {
        users: 5,
        refresh_in_secs: Some(0),
        dir: dir.path().join("emu"),
        ..Options::default()
    })
    .unwrap();
    let s = Setup { emu, dir };
    run_ok(s.graphd_secret().arg("users"));
    run_ok(s.graphd_secret().arg("users"));
    assert_eq!(s.token_requests(), 2, "refresh_in 0 means refresh now");
}

#[test]
fn garbage_cache_files_are_replaced() {
    let s = start(5);
    run_ok(s.graphd_secret().arg("users"));
    let entries: Vec<_> = files_under(&cache_dir(&s))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "tok"))
        .collect();
    assert_eq!(entries.len(), 1);
    std::fs::write(&entries[0], b"\x00garbage, not a cache entry").unwrap();
    run_ok(s.graphd_secret().arg("users"));
    assert_eq!(s.token_requests(), 2, "the garbage was a miss");
    assert_ne!(
        std::fs::read(&entries[0]).unwrap(),
        b"\x00garbage, not a cache entry",
        "and was replaced"
    );
    run_ok(s.graphd_secret().arg("users"));
    assert_eq!(s.token_requests(), 2, "the replacement is used");
}

#[test]
fn cache_off_by_flag_or_env_and_cache_clear() {
    let s = start(5);
    run_ok(s.graphd_secret().args(["users", "--no-token-cache"]));
    run_ok(
        s.graphd_secret()
            .env("GRAPHD_TOKEN_CACHE", "off")
            .arg("users"),
    );
    assert_eq!(s.token_requests(), 2);
    assert!(
        files_under(&cache_dir(&s)).is_empty(),
        "nothing written with the cache off"
    );

    run_ok(s.graphd_secret().arg("users"));
    let out = run_ok(s.graphd().args(["cache", "clear"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 1 cached token"),
        "{:?}",
        out
    );
    assert!(files_under(&cache_dir(&s)).is_empty());
    run_ok(s.graphd_secret().arg("users"));
    assert_eq!(s.token_requests(), 4, "after clear, a new token");

    let out = s
        .graphd_secret()
        .env("GRAPHD_TOKEN_CACHE", "sometimes")
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

//! SECURITY.md's promises against a hostile server and a hostile local user: memory while
//! paging, token lifetimes, PKCS#12 key protection, output that attacks its reader, copies of
//! secrets, the token cache's directory, secret files' permissions, and no panic on any input.
//! Each test failed on graphd before the fix it guards.

use std::process::Command;

use graphd_emulator::{Fault, FaultKind};

use super::util::*;

/// Runs `cmd` under tests/support/peak_rss.py: (exit code, peak RSS in KiB, stderr).
fn peak_rss(cmd: &std::process::Command) -> (i32, u64, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/peak_rss.py");
    let mut py = Command::new("python3");
    py.arg(script).arg(cmd.get_program()).args(cmd.get_args());
    py.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            py.env(k, v);
        }
    }
    let out = py.output().unwrap();
    let peak = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (out.status.code().unwrap_or(-1), peak, stderr_of(&out))
}

/// Gap 1: A server sending one item per page with long next links cannot grow graphd: peak RSS
/// for 1,200 such pages is that of 120 (it grew by the links' size before: ~8 MiB here). The
/// links are 7 KiB, under the 16 KiB of request headers the emulator's HTTP/2 server accepts.
#[test]
fn paging_memory_stays_flat_with_long_next_links() {
    let s = start(1200);
    s.emu.set_fault(Fault::always(FaultKind::LongNextLink {
        padding_bytes: 7 * 1024,
    }));
    let run = |max: &str| {
        let mut cmd = s.std_graphd();
        cmd.env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
            .args(["users", "--top", "1", "-o", "jsonl", "--max-items", max]);
        peak_rss(&cmd)
    };
    let (code, small, e) = run("120");
    assert_eq!(code, 0, "{e}");
    let (code, large, e) = run("1200");
    assert_eq!(code, 0, "{e}");
    assert!(
        large < small + 4 * 1024,
        "peak RSS grew from {small} KiB (120 pages) to {large} KiB (1,200 pages of 7 KiB links)"
    );
    // A link over the cap is refused, not followed or kept.
    s.emu.set_fault(Fault::always(FaultKind::LongNextLink {
        padding_bytes: 40 * 1024,
    }));
    let out = s
        .graphd_secret()
        .args(["users", "--top", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr_of(&out).contains("longer than the 32768 graphd follows"),
        "{}",
        stderr_of(&out)
    );
}

/// Gap 2: An absurd token lifetime is a clear network-class error (exit 5), is never cached, and
/// so cannot make every later run fail; no date is printed that could panic.
#[test]
fn token_lifetimes_from_the_server_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let emu = graphd_emulator::Emulator::start(graphd_emulator::Options {
        users: 2,
        token_lifetime_secs: 300_000_000_000,
        dir: dir.path().join("emu"),
        ..Default::default()
    })
    .unwrap();
    let s = Setup { emu, dir };
    for _ in 0..2 {
        let out = s.graphd_secret().arg("token").output().unwrap();
        let e = stderr_of(&out);
        assert_eq!(out.status.code(), Some(5), "{e}");
        assert!(
            e.contains("expires_in of 300000000000 s is beyond the 36 h any Entra token lives"),
            "{e}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(s.token_requests(), 2, "nothing was cached");
    assert!(
        files_under(&s.dir.path().join("home"))
            .iter()
            .all(|f| f.extension().is_none_or(|e| e != "tok")),
        "no cache entry written"
    );
}

/// The cache directory of a test's HOME.
fn cache_dir(s: &Setup) -> std::path::PathBuf {
    s.dir.path().join("home/.cache/graphd/tokens")
}

/// The one file of the cache with extension `ext`.
fn cache_file(s: &Setup, ext: &str) -> std::path::PathBuf {
    let found: Vec<_> = files_under(&cache_dir(s))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// A run that must succeed within `secs` seconds (the hostile file must not stall it); one
/// that does not finish is killed and fails the test instead of hanging it.
fn users_within(s: &Setup, secs: u64) -> std::process::Output {
    let started = std::time::Instant::now();
    let mut cmd = s.std_graphd();
    cmd.env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
        .args([
            "users",
            "--max-items",
            "1",
            "-o",
            "jsonl",
            "--deadline",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("graphd did not finish within {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok(child.wait_with_output().unwrap())
}

/// Gap 6a: A FIFO in place of the cache entry does not block graphd: it is refused and the run
/// goes on with a fresh token.
#[test]
fn a_fifo_in_the_cache_does_not_block() {
    let s = start(2);
    users_within(&s, 30);
    let entry = cache_file(&s, "tok");
    std::fs::remove_file(&entry).unwrap();
    let mk = Command::new("mkfifo").arg(&entry).status().unwrap();
    assert!(mk.success());
    let out = users_within(&s, 20);
    assert!(
        stderr_of(&out).contains("not a regular file"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.token_requests(), 2);
}

/// Gap 6b: A lock held by another process (a stuck or hostile graphd) is waited for a bounded
/// time, then the run goes on without the cache, saying so.
#[test]
fn a_held_lock_is_waited_for_a_bounded_time() {
    let s = start(2);
    users_within(&s, 30);
    std::fs::remove_file(cache_file(&s, "tok")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(cache_file(&s, "lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = users_within(&s, 20);
    let e = stderr_of(&out);
    assert!(e.contains("held the token cache's lock"), "{e}");
    assert!(e.contains("going on without the cache"), "{e}");
    drop(lock);
}

/// Gap 6c: A symlinked cache directory is neither used nor made private (its target keeps its
/// mode); gap 6d: a symlinked lock is not followed, nor created at its target.
#[cfg(unix)]
#[test]
fn symlinks_in_the_cache_are_not_followed() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let s = start(2);
    let dir = cache_dir(&s);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let elsewhere = s.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink(&elsewhere, &dir).unwrap();
    let out = users_within(&s, 30);
    assert!(
        stderr_of(&out).contains("token cache unavailable"),
        "{}",
        stderr_of(&out)
    );
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the symlink's target was not chmod-ed");
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written there"
    );

    std::fs::remove_file(&dir).unwrap();
    users_within(&s, 30);
    std::fs::remove_file(cache_file(&s, "tok")).unwrap();
    let lock = cache_file(&s, "lock");
    std::fs::remove_file(&lock).unwrap();
    let victim = s.path("victim");
    symlink(&victim, &lock).unwrap();
    let out = users_within(&s, 30);
    assert!(
        stderr_of(&out).contains("going on without the cache"),
        "{}",
        stderr_of(&out)
    );
    assert!(!victim.exists(), "the lock's symlink target was created");
}

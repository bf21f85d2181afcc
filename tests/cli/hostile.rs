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
    let started = std::time::Instant::now();
    let out = users_within(&s, 20);
    let e = stderr_of(&out);
    assert!(e.contains("held the token cache's lock for 5."), "{e}");
    assert!(e.contains("going on without the cache"), "{e}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
    // Within --deadline: a shorter deadline cuts the wait short and the run fails in time.
    let started = std::time::Instant::now();
    let out = s
        .graphd_secret()
        .args(["users", "--deadline", "2"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(5), "{e}");
    let waited: f64 = e
        .split("held the token cache's lock for ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("how long it waited: {e}"));
    assert!(
        waited < 2.5,
        "waited {waited} s, within the 2 s deadline: {e}"
    );
    assert!(e.contains("--deadline"), "{e}");
    assert!(
        took < std::time::Duration::from_millis(4500),
        "not the full 5 s lock wait: {took:?}"
    );
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

    // An entry that is a symlink, even to a valid entry, is not read: a new token is fetched.
    std::fs::remove_file(&lock).unwrap();
    users_within(&s, 30);
    let entry = cache_file(&s, "tok");
    let moved = s.path("entry-elsewhere");
    std::fs::rename(&entry, &moved).unwrap();
    let before = std::fs::read(&moved).unwrap();
    symlink(&moved, &entry).unwrap();
    let tokens = s.token_requests();
    users_within(&s, 30);
    assert_eq!(
        s.token_requests(),
        tokens + 1,
        "the symlinked entry was not used"
    );
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        before,
        "its target is untouched"
    );
}

/// `openssl ARGS`, which must succeed.
fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        stderr_of(&out)
    );
}

#[cfg(unix)]
fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Gap 3: a PKCS#12 whose key is not in an encrypted bag, or is under the empty password,
/// is an unprotected key: refused when others may read it, like a PEM key; a PFX whose key is
/// encrypted under a real password is accepted at 0644, as before.
#[cfg(unix)]
#[test]
fn pkcs12_keys_count_as_protected_only_when_they_are() {
    let s = start(2);
    let info = s.emu.info();
    let (cert, key) = (
        info.cert_pem.display().to_string(),
        info.key_pem.display().to_string(),
    );
    let pfx = |name: &str, extra: &[&str], pass: &str| {
        let out = s.path(name);
        let passout = format!("pass:{pass}");
        let mut args = vec![
            "pkcs12", "-export", "-in", &cert, "-inkey", &key, "-passout", &passout,
        ];
        args.extend_from_slice(extra);
        let o = out.display().to_string();
        args.extend(["-out", &o]);
        openssl(&args);
        chmod(&out, 0o644);
        out
    };
    let run = |path: &std::path::Path, password: &str| {
        s.graphd()
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", password)
            .arg("--cert")
            .arg(path)
            .args(["users", "--max-items", "1"])
            .output()
            .unwrap()
    };
    let plain = pfx(
        "plain-bags.pfx",
        &["-keypbe", "NONE", "-certpbe", "NONE"],
        "pw",
    );
    let empty = pfx("empty-password.pfx", &[], "");
    for (path, password) in [(&plain, "pw"), (&empty, "")] {
        let out = run(path, password);
        let e = stderr_of(&out);
        assert_eq!(out.status.code(), Some(3), "{e}");
        assert!(
            e.contains("is readable or writable by others (mode 644)"),
            "{e}"
        );
        assert!(e.contains("hint: chmod 600"), "{e}");
    }
    assert_eq!(s.token_requests(), 0, "nothing was sent");
    let protected = pfx("protected.pfx", &[], "pw");
    ok(run(&protected, "pw"));
    chmod(&plain, 0o600);
    ok(run(&plain, "pw"));
}

/// Gap 4: strings from a server or a file reach the terminal escaped: users' properties in
/// every format, Graph's error message, a certificate's subject, a non-JSON body; CSV header
/// cells get the formula guard; JSON stays valid and equal.
#[test]
fn output_cannot_drive_the_terminal() {
    let s = start(2);
    let evil = "\x1b]0;owned\x07\x1b[2J\u{9b}31m\u{202e}\x1b]8;;https://evil.example\x1b\\click";
    let id = s
        .emu
        .add_user(serde_json::json!({"displayName": evil, "jobTitle": "=cmd|' /C calc'!A0"}))
        .unwrap();
    let raw = |out: &[u8]| {
        let text = String::from_utf8_lossy(out);
        text.chars()
            .filter(|&c| {
                (c.is_control() && c != '\n' && c != '\r' && c != '\t')
                    || ('\u{202a}'..='\u{202e}').contains(&c)
            })
            .count()
    };
    for format in ["json", "jsonl", "table", "csv", "tsv"] {
        let out = ok(s
            .graphd_secret()
            .args(["users", "-o", format, "--select", "id,displayName,jobTitle"])
            .env("COLUMNS", "400")
            .output()
            .unwrap());
        assert_eq!(
            raw(&out.stdout),
            0,
            "{format}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        match format {
            "json" | "jsonl" => {
                let users = if format == "json" {
                    json_array(&out.stdout)
                } else {
                    json_lines(&out.stdout)
                };
                let u = users.iter().find(|u| u["id"] == id).unwrap();
                assert_eq!(u["displayName"], evil, "JSON decodes to the same string");
            }
            "csv" => assert!(text.contains("'=cmd|"), "{text}"),
            _ => assert!(text.contains("\\u{1b}]0;owned"), "{format}: {text}"),
        }
    }
    // CSV header cells get the formula guard too.
    let out = ok(s
        .graphd_secret()
        .args([
            "get",
            "/users",
            "--all",
            "-o",
            "csv",
            "--columns",
            "=1+1,displayName",
        ])
        .output()
        .unwrap());
    let header = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(header, "'=1+1,displayName");
    // Graph's error message (it quotes the id asked for).
    let out = s.graphd_secret().args(["user", evil]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(raw(&out.stderr), 0, "{:?}", stderr_of(&out));
    // A certificate's subject, as `cert show` prints it.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("evil.pem");
    let made = s
        .graphd()
        .args(["cert", "new", "--subject", "CN=\x1b[2Jevil,O=\u{9b}x"])
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(dir.path().join("evil.key"))
        .output()
        .unwrap();
    let made = ok(made);
    assert_eq!(
        raw(&made.stdout),
        0,
        "{:?}",
        String::from_utf8_lossy(&made.stdout)
    );
    let out = ok(s
        .graphd()
        .args(["cert", "show"])
        .arg(&cert)
        .output()
        .unwrap());
    assert_eq!(
        raw(&out.stdout),
        0,
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("CN=\\u{1b}[2Jevil"));
}

/// Gap 5: the key of `--thumbprint` mode is read once, through the capped reader: a key on a
/// pipe (`/dev/fd/3`) works (the pre-read used to consume it).
#[cfg(unix)]
#[test]
fn thumbprint_mode_reads_a_piped_key_once() {
    let s = start(2);
    let info = s.emu.info();
    let tp = thumbprint(&info.cert_pem);
    let key = std::fs::read(&info.key_pem).unwrap();
    let mut cmd = s.std_graphd();
    cmd.args([
        "users",
        "--max-items",
        "1",
        "--thumbprint",
        &tp,
        "--key",
        "/dev/fd/3",
    ]);
    let out = with_fd3(cmd, &key);
    ok(out);
}

/// Runs `cmd` with `data` readable on file descriptor 3 (through a shell's here-document).
#[cfg(unix)]
fn with_fd3(cmd: std::process::Command, data: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut sh = Command::new("bash");
    sh.arg("-c")
        .arg(r#"exec "$@" 3<&0 0</dev/null"#)
        .arg("bash")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    let mut child = sh.spawn().unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap()
}

/// Gap 7: a file holding a client secret is checked like a key file: `--secret-file` and a
/// parameters file with a `secret`, open to others, are refused (exit 3, the chmod hint)
/// unless --allow-insecure-key-file.
#[cfg(unix)]
#[test]
fn files_holding_a_secret_must_be_private() {
    let s = start(2);
    let info = s.emu.info();
    let secret = s.path("secret.txt");
    write_private(&secret, info.client_secret.as_bytes());
    chmod(&secret, 0o666);
    let params = s.path("parameters.json");
    write_private(
        &params,
        serde_json::json!({
            "authority": format!("{}/{}", info.authority_host_url, info.tenant_id),
            "client_id": info.client_id,
            "scope": [format!("{}/.default", info.graph_url)],
            "endpoint": format!("{}/v1.0/users", info.graph_url),
            "secret": info.client_secret,
        })
        .to_string()
        .as_bytes(),
    );
    chmod(&params, 0o644);
    let runs = |extra: &[&str]| {
        [
            s.graphd()
                .arg("--secret-file")
                .arg(&secret)
                .args(["users", "--max-items", "1"])
                .args(extra)
                .output()
                .unwrap(),
            bare(&s)
                .arg("--config")
                .arg(&params)
                .args(["users", "--max-items", "1"])
                .args(extra)
                .output()
                .unwrap(),
        ]
    };
    for out in runs(&[]) {
        let e = stderr_of(&out);
        assert_eq!(out.status.code(), Some(3), "{e}");
        assert!(
            e.contains("holds a client secret and is readable or writable by others"),
            "{e}"
        );
        assert!(e.contains("hint: chmod 600"), "{e}");
        assert!(!e.contains(&info.client_secret), "{e}");
    }
    assert_eq!(s.token_requests(), 0);
    for out in runs(&["--allow-insecure-key-file"]) {
        ok(out);
    }
}

/// Gap 8: a certificate dated before 1970 (or after 2050, GeneralizedTime) is shown, not a
/// panic; so is a chain of one.
#[test]
fn cert_show_takes_any_date() {
    let dir = tempfile::tempdir().unwrap();
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    for (name, from, to, want) in [
        ("old.pem", -631_152_000i64, 0i64, "1950-01-01T00:00:00Z"),
        ("far.pem", 0, 253_402_300_799, "9999-12-31T23:59:59Z"),
    ] {
        let mut b = openssl::x509::X509::builder().unwrap();
        let mut n = openssl::x509::X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", "dates").unwrap();
        let n = n.build();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::from_unix(from).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::from_unix(to).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, b.build().to_pem().unwrap()).unwrap();
        for extra in [&[][..], &["--json"]] {
            let out = Command::new(env!("CARGO_BIN_EXE_graphd"))
                .env_clear()
                .env("HOME", dir.path())
                .args(["cert", "show"])
                .arg(&path)
                .args(extra)
                .output()
                .unwrap();
            let out = ok(out);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(want), "{name}: {text}");
        }
    }
}

/// Gap 4, every field of an error a hostile server sends reaches stderr escaped: Entra's
/// `error`, `error_description`, `trace_id`, `correlation_id`; Graph's `error.code`,
/// `error.message`, `request-id` and `date` (headers may carry UTF-8 C1 controls).
#[test]
fn hostile_error_fields_reach_stderr_escaped() {
    use graphd_emulator::RawAnswer;
    let s = start(1);
    let raw_count = |text: &str| {
        text.chars()
            .filter(|&c| {
                (c.is_control() && c != '\n' && c != '\r' && c != '\t')
                    || ('\u{202a}'..='\u{202e}').contains(&c)
            })
            .count()
    };
    let json = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    let evil = |tag: &str| format!("{tag}\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}");
    s.emu
        .set_fault(Fault::always(FaultKind::TokenRaw(RawAnswer {
            status: 401,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: json(serde_json::json!({
                "error": evil("invalid_client"),
                "error_description": evil("AADSTS7000215: Invalid client secret provided."),
                "error_codes": [7000215],
                "trace_id": evil("trace"),
                "correlation_id": evil("corr"),
            })),
        })));
    let out = s
        .graphd_secret()
        .args(["users", "--no-token-cache", "--max-retries", "0"])
        .output()
        .unwrap();
    let e = stderr_of(&out);
    assert_ne!(out.status.code(), Some(0), "{e}");
    assert!(
        e.contains("trace") && e.contains("corr"),
        "the ids are shown: {e}"
    );
    assert!(e.contains("\\u{1b}]0;owned"), "escaped, not dropped: {e}");
    assert_eq!(raw_count(&e), 0, "{e:?}");

    s.emu
        .set_fault(Fault::always(FaultKind::GraphRaw(RawAnswer {
            status: 403,
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                (
                    "request-id".into(),
                    "rid\u{9b}31m\u{202e}".as_bytes().to_vec(),
                ),
                ("date".into(), "Mon\u{9b}2J".as_bytes().to_vec()),
            ],
            body: json(serde_json::json!({
                "error": {
                    "code": evil("Authorization_RequestDenied"),
                    "message": evil("Insufficient privileges"),
                    "innerError": {"request-id": evil("inner"), "date": evil("2026")},
                }
            })),
        })));
    let out = s
        .graphd_secret()
        .args(["users", "--no-token-cache", "--max-retries", "0"])
        .output()
        .unwrap();
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(e.contains("Authorization_RequestDenied"), "{e}");
    assert_eq!(raw_count(&e), 0, "{e:?}");
}

/// Gap 4, `cert list`'s key fields come from Graph (another owner of the app may have named
/// a key): shown escaped, in the table and in `--json`.
#[test]
fn cert_list_shows_hostile_key_fields_escaped() {
    use graphd_emulator::RawAnswer;
    let s = start(1);
    let evil = "k\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";
    let app = serde_json::json!({
        "id": "11111111-2222-3333-4444-555555555555",
        "appId": s.emu.info().client_id,
        "keyCredentials": [{
            "keyId": evil,
            "customKeyIdentifier": evil,
            "displayName": evil,
            "startDateTime": evil,
            "endDateTime": evil,
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        }],
    });
    s.emu
        .set_fault(Fault::always(FaultKind::GraphRaw(RawAnswer {
            status: 200,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: serde_json::to_vec(&app).unwrap(),
        })));
    for extra in [&[][..], &["--json"]] {
        let out = ok(s
            .graphd_cert()
            .args([
                "cert",
                "list",
                "--app-object-id",
                "11111111-2222-3333-4444-555555555555",
            ])
            .args(extra)
            .output()
            .unwrap());
        let text = String::from_utf8_lossy(&out.stdout);
        let raw = text
            .chars()
            .filter(|&c| {
                (c.is_control() && c != '\n' && c != '\r' && c != '\t')
                    || ('\u{202a}'..='\u{202e}').contains(&c)
            })
            .count();
        assert!(
            text.contains("owned"),
            "{extra:?}: the key is listed: {text}"
        );
        assert_eq!(raw, 0, "{extra:?}: {text:?}");
    }
}

/// Gap 4, `get`'s body that is not JSON: passed through byte for byte to a pipe or a file
/// (a report's CSV, a photo), shown with its control characters escaped on a terminal.
#[test]
fn a_non_json_body_is_untouched_in_a_pipe_and_escaped_on_a_terminal() {
    let s = start(1);
    let body = b"name,title\r\n\x1b]0;owned\x07\x1b[2Jx,\xc2\x9b31m\xe2\x80\xaey\r\n".to_vec();
    s.emu
        .set_fault(Fault::always(FaultKind::TextBody(body.clone())));
    let out = ok(s
        .graphd_secret()
        .args(["get", "/reports/getOffice365ActiveUserDetail(period='D7')"])
        .output()
        .unwrap());
    assert_eq!(out.stdout, body, "the same bytes through a pipe");
    let mut cmd = s.std_graphd();
    cmd.env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
        .env("NO_COLOR", "1");
    let out = super::keyring::on_terminal(
        cmd,
        &["get", "/reports/getOffice365ActiveUserDetail(period='D7')"],
        &[],
        &[],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("name,title"), "{shown}");
    assert!(shown.contains("\\u{1b}]0;owned"), "escaped: {shown}");
    let raw = shown
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\r' && c != '\t')
                || ('\u{202a}'..='\u{202e}').contains(&c)
        })
        .count();
    assert_eq!(raw, 0, "nothing reaches the terminal raw: {shown:?}");
}

/// A `-o json` listing that fails part-way leaves `[` unterminated on purpose: stdout is then
/// not valid JSON, so a consumer that ignores the exit code still cannot take a partial
/// listing for a complete one. JSON lines written before the failure are whole.
#[test]
fn a_listing_that_fails_part_way_is_not_valid_json() {
    let s = start(30);
    s.emu.set_fault(Fault::once(FaultKind::NonJson200).after(2));
    let out = s
        .graphd_secret()
        .args(["users", "--top", "10", "--max-retries", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with('['), "{text}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    s.emu.set_fault(Fault::once(FaultKind::NonJson200).after(2));
    let out = s
        .graphd_secret()
        .args(["users", "--top", "10", "-o", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 20, "two whole pages");
}

//! The keyring against real parts: gnome-keyring (Secret Service) in a private D-Bus session
//! started through `scripts/with-secret-service.sh`, and the kernel keyring under a named
//! `keyctl` session. No mocks.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::util::*;

/// A private D-Bus session with an unlocked gnome-keyring, alive while this value lives.
struct SecretService {
    child: Child,
    stdin: Option<ChildStdin>,
    address: String,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

impl SecretService {
    fn start() -> SecretService {
        let dir = tempfile::tempdir().unwrap();
        let addr = dir.path().join("addr");
        let home = dir.path().join("home");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/with-secret-service.sh"
        );
        let mut child = Command::new("bash")
            .arg(script)
            .args(["bash", "-c", r#"printf '%s\n%s' "$DBUS_SESSION_BUS_ADDRESS" "$KEYRING_HOME" > "$0.tmp" && mv "$0.tmp" "$0"; read -r _"#])
            .arg(&addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("bash runs scripts/with-secret-service.sh");
        let started = Instant::now();
        while !addr.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no Secret Service session within 30 s"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "scripts/with-secret-service.sh exited with {status}: are dbus and gnome-keyring installed?"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = std::fs::read_to_string(&addr).unwrap();
        let (address, keyring_home) = text.split_once('\n').unwrap();
        let _ = home;
        SecretService {
            stdin: child.stdin.take(),
            child,
            address: address.to_string(),
            home: PathBuf::from(keyring_home),
            _dir: dir,
        }
    }

    fn graphd(&self, s: &Setup) -> assert_cmd::Command {
        let mut cmd = s.graphd();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        cmd
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}

fn lines(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn secret_service_set_use_status_delete() {
    let ss = SecretService::start();
    let s = start(10);
    let info = s.emu.info().clone();

    let out = ss
        .graphd(&s)
        .args(["secret", "set"])
        .write_stdin(format!("{}\n", info.client_secret))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        lines(&out).contains("stored the client secret in the secret-service keyring"),
        "{}",
        lines(&out)
    );

    // No credential by flag or env: the keyring's secret is used, and -v says so.
    let out = ss.graphd(&s).args(["users", "-v"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 10);
    assert!(
        stderr_of(&out).contains("using the client secret stored in the secret-service keyring"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.emu.log().token_requests[0].auth, "client_secret");

    let out = ss.graphd(&s).args(["secret", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(lines(&out).contains("a client secret is stored in the secret-service keyring"));
    assert!(
        !lines(&out).contains(&info.client_secret)
            && !stderr_of(&out).contains(&info.client_secret)
    );

    // Nothing in plain text: graphd's HOME (cache included) and the keyring daemon's HOME.
    assert_no_plaintext(&s.dir.path().join("home"), &[&info.client_secret]);
    assert_no_plaintext(&ss.home, &[&info.client_secret]);

    let out = ss.graphd(&s).args(["secret", "delete"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(lines(&out).contains("deleted the client secret"));
    let out = ss.graphd(&s).args(["secret", "delete"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "deleting nothing is not an error"
    );
    assert!(lines(&out).contains("nothing to delete"));

    let out = ss.graphd(&s).args(["secret", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(lines(&out).contains("no client secret is stored"));

    let out = ss
        .graphd(&s)
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr_of(&out);
    assert!(
        e.starts_with(
            "error: no credential given, and no client secret stored in the secret-service keyring"
        ),
        "{e}"
    );
    assert!(
        e.contains("hint: ") && e.contains("graphd secret set"),
        "{e}"
    );
}

#[test]
fn entries_are_keyed_by_client_and_authority() {
    let ss = SecretService::start();
    let s = start(3);
    let info = s.emu.info().clone();
    let set = |client: &str, secret: &str| {
        let out = ss
            .graphd(&s)
            .env("AZURE_CLIENT_ID", client)
            .args(["secret", "set"])
            .write_stdin(secret.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    };
    set(&info.client_id, &info.client_secret);
    set(&info.noperm_client_id, &info.noperm_client_secret);
    // Each app gets its own secret: the main app lists, the other is refused by Graph (403), not by Entra.
    let out = ss.graphd(&s).arg("users").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = ss
        .graphd(&s)
        .env("AZURE_CLIENT_ID", &info.noperm_client_id)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    // Another authority host is another entry.
    let out = ss
        .graphd(&s)
        .args([
            "secret",
            "status",
            "--authority-host",
            "https://login.microsoftonline.us",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_locked_keyring_fails_fast_with_a_hint() {
    let ss = SecretService::start();
    let s = start(1);
    let out = ss
        .graphd(&s)
        .args(["secret", "set"])
        .write_stdin("x")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let lock = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", &ss.address)
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ])
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    let started = Instant::now();
    let out = ss.graphd(&s).args(["secret", "status"]).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "no hang");
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(e.contains("locked"), "{e}");
    assert!(e.contains("hint: unlock the keyring"), "{e}");
}

#[test]
fn no_session_bus_fails_fast_with_a_hint() {
    let s = shared();
    let started = Instant::now();
    // The hermetic command has no DBUS_SESSION_BUS_ADDRESS and no XDG_RUNTIME_DIR.
    let out = s.graphd().args(["secret", "status"]).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "no hang");
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(
        e.starts_with("error: the secret-service keyring is not reachable"),
        "{e}"
    );
    assert!(
        e.contains("--keyring keyutils") && e.contains("AZURE_CLIENT_SECRET"),
        "{e}"
    );

    // And `users` with no credential names the cause and every way to give one, with the same
    // exit code as `secret status` for the same keyring failure.
    let out = s.graphd().arg("users").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(
        e.starts_with(
            "error: no credential given, and the secret-service keyring could not be read"
        ),
        "{e}"
    );
    assert!(
        e.contains("caused by: the secret-service keyring is not reachable"),
        "{e}"
    );
}

#[test]
fn keyutils_backend_under_a_named_session() {
    let s = start(4);
    let info = s.emu.info().clone();
    let session = format!("graphd-test-{}", std::process::id());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = assert_cmd::Command::from_std({
            let g = s.std_graphd();
            let mut c = Command::new("keyctl");
            c.args(["session", &session])
                .arg(g.get_program())
                .args(args);
            c.env_clear();
            for (k, v) in g.get_envs() {
                if let Some(v) = v {
                    c.env(k, v);
                }
            }
            c.env("GRAPHD_KEYRING", "keyutils");
            c
        });
        if let Some(input) = stdin {
            cmd.write_stdin(input.to_string());
        }
        cmd.output().unwrap()
    };
    let out = run(&["secret", "set"], Some(&info.client_secret));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("memory-only"),
        "the keyutils warning: {}",
        stderr_of(&out)
    );
    let out = run(&["users", "-o", "jsonl"], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 4);
    let out = run(&["secret", "status"], None);
    assert!(
        lines(&out).contains("stored in the keyutils keyring"),
        "{}",
        lines(&out)
    );
    let out = run(&["secret", "delete"], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run(&["secret", "status"], None);
    assert_eq!(out.status.code(), Some(1));
}

/// Runs `graphd ARGS` on a pseudo-terminal (tests/support/pty_drive.py), typing each answer
/// only once its prompt is shown, so it arrives after graphd has turned echo off.
pub fn on_terminal(
    graphd: std::process::Command,
    args: &[&str],
    prompts: &[&str],
    answers: &[&str],
) -> std::process::Output {
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_drive.py");
    let mut cmd = Command::new("python3");
    cmd.arg(driver)
        .args(prompts)
        .arg("--")
        .arg(graphd.get_program())
        .args(args)
        .env_clear();
    for (k, v) in graphd.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("PTY_ANSWERS", answers.join("\n"));
    cmd.output().unwrap()
}

#[test]
fn secret_set_prompts_twice_without_echo() {
    let ss = SecretService::start();
    let s = start(2);
    let info = s.emu.info().clone();
    let mut g = s.std_graphd();
    g.env("DBUS_SESSION_BUS_ADDRESS", &ss.address);
    let prompts = ["Client secret (value, not ID):", "Again:"];
    let out = on_terminal(
        g,
        &["secret", "set"],
        &prompts,
        &[&info.client_secret, &info.client_secret],
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains("Client secret (value, not ID): ") && shown.contains("Again: "),
        "{shown}"
    );
    assert!(shown.contains("stored the client secret"), "{shown}");
    assert!(!shown.contains(&info.client_secret), "no echo: {shown}");
    ok_users(&ss, &s);

    let mut g = s.std_graphd();
    g.env("DBUS_SESSION_BUS_ADDRESS", &ss.address);
    let out = on_terminal(g, &["secret", "set"], &prompts, &["one", "two"]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains("the two secrets typed do not match"),
        "{shown}"
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a mismatch is a usage error: {shown}"
    );
    ok_users(&ss, &s);
}

fn ok_users(ss: &SecretService, s: &Setup) {
    let out = ss
        .graphd(s)
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the stored secret works: {}",
        stderr_of(&out)
    );
}

#[test]
fn keyring_commands_leak_nothing_at_vvv() {
    let ss = SecretService::start();
    let s = start(1);
    let secret = s.emu.info().client_secret.clone();
    let outs = [
        ss.graphd(&s)
            .args(["secret", "set", "-vvv"])
            .write_stdin(secret.clone())
            .output()
            .unwrap(),
        ss.graphd(&s)
            .args(["secret", "status", "-vvv"])
            .output()
            .unwrap(),
        ss.graphd(&s).args(["users", "-vvv"]).output().unwrap(),
        ss.graphd(&s)
            .args(["secret", "delete", "-vvv"])
            .output()
            .unwrap(),
    ];
    for out in &outs {
        assert!(out.status.success(), "{}", stderr_of(out));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(out));
        assert!(
            !text.contains(&secret) && !text.contains("eyJ"),
            "leaked:\n{text}"
        );
    }
    assert_no_plaintext(&s.dir.path().join("home"), &[&secret]);
}

#[test]
fn keyutils_without_a_usable_session_keyring_fails_fast_with_a_hint() {
    let s = start(1);
    let g = s.std_graphd();
    // A session keyring that has been revoked: keyutils refuses every access to it.
    let mut c = Command::new("keyctl");
    c.args([
        "session",
        "-",
        "sh",
        "-c",
        r#"keyctl revoke @s >/dev/null; exec "$0" secret status --keyring keyutils"#,
    ])
    .arg(g.get_program())
    .env_clear();
    for (k, v) in g.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let started = Instant::now();
    let out = c.output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "no hang");
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    // (keyctl itself first prints "Joined session keyring: N".)
    assert!(
        e.lines()
            .any(|l| l.starts_with("error: the keyutils keyring")),
        "{e}"
    );
    assert!(
        e.contains("hint: the kernel keyring needs a session keyring"),
        "{e}"
    );
}

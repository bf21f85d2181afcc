//! A hermetic command builder (cleared env, temp HOME) pointed at an in-process emulator.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use graphd_emulator::{Emulator, Options};
use serde_json::Value;

/// A running emulator with `users` synthetic users and its own temp directory.
pub struct Setup {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
}

pub fn start(users: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(Options {
        users,
        dir: dir.path().join("emu"),
        ..Options::default()
    })
    .expect("emulator starts");
    Setup { emu, dir }
}

/// One shared emulator with 250 users, for tests that only read (and count their own requests
/// by client-request-id or by comparing before/after is not needed).
pub fn shared() -> &'static Setup {
    static SHARED: OnceLock<Setup> = OnceLock::new();
    SHARED.get_or_init(|| start(250))
}

impl Setup {
    /// `graphd` with a cleared environment, a temp HOME, and the emulator's endpoints.
    /// No credential is set: each test adds the one it tests.
    pub fn graphd(&self) -> Command {
        Command::from_std(self.std_graphd())
    }

    /// The same as a `std::process::Command`, for tests that manage pipes themselves.
    pub fn std_graphd(&self) -> std::process::Command {
        let info = self.emu.info();
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_graphd"));
        cmd.env_clear()
            .env("HOME", &home)
            .env("AZURE_TENANT_ID", &info.tenant_id)
            .env("AZURE_CLIENT_ID", &info.client_id)
            .env("AZURE_AUTHORITY_HOST", &info.authority_host_url)
            .env("GRAPHD_GRAPH_ENDPOINT", &info.graph_url)
            .env("GRAPHD_CA_BUNDLE", &info.ca_pem);
        cmd
    }

    /// `graphd` authenticated with the app's client secret from the environment.
    pub fn graphd_secret(&self) -> Command {
        let mut cmd = self.graphd();
        cmd.env("AZURE_CLIENT_SECRET", &self.emu.info().client_secret);
        cmd
    }

    /// `graphd` authenticated with the app's registered certificate.
    pub fn graphd_cert(&self) -> Command {
        let info = self.emu.info();
        let mut cmd = self.graphd();
        cmd.arg("--cert")
            .arg(&info.cert_pem)
            .arg("--key")
            .arg(&info.key_pem);
        cmd
    }

    pub fn token_requests(&self) -> usize {
        self.emu.log().token_requests.len()
    }

    /// The ids of the directory, in listing order.
    pub fn ids(&self) -> Vec<String> {
        self.emu
            .users()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Parses stdout as a JSON array.
pub fn json_array(stdout: &[u8]) -> Vec<Value> {
    serde_json::from_slice(stdout).unwrap_or_else(|e| panic!("stdout is not a JSON array: {e}"))
}

/// Parses stdout as JSON lines.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    std::str::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {e}: {l}")))
        .collect()
}

pub fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

/// Writes `bytes` to `path` with mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// A run's stderr; and, since every test that looks at stderr checks an outcome, the
/// assertion that the run did not panic (exit 101): no input may crash graphd.
pub fn stderr_of(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    no_panic(out, &text);
    text
}

/// Asserts the command succeeded, and returns its output.
pub fn ok(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}", stderr_of(&out));
    out
}

/// Runs `cmd`, asserts it succeeded, and returns its output.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    ok(cmd.output().unwrap())
}

/// The SHA-1 thumbprint of a PEM certificate file, uppercase hex (as the portal shows it).
pub fn thumbprint(cert_pem: &Path) -> String {
    let x = openssl::x509::X509::from_pem(&std::fs::read(cert_pem).unwrap()).unwrap();
    x.digest(openssl::hash::MessageDigest::sha1())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// No JWT in the command's stdout or stderr.
pub fn no_jwt(out: &std::process::Output) {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(out));
    assert!(!text.contains("eyJ"), "a JWT in the output:\n{text}");
}

/// Every regular file below `dir`, recursively (not sockets, such as the keyring daemon's
/// control socket, nor symlinks).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// No file under `dir` holds any of `needles`, or a JWT (`eyJ`).
pub fn assert_no_plaintext(dir: &Path, needles: &[&str]) {
    for f in files_under(dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for n in needles.iter().copied().chain(["eyJ"]) {
            assert!(
                !text.contains(n),
                "{} holds {n:?} in plain text",
                f.display()
            );
        }
    }
}

/// No secret in stdout, stderr, or any file graphd wrote (its HOME: the token cache): not the
/// emulator's secrets, tokens and assertions, not the app's key, no bearer header or JWT.
pub fn assert_no_leak(s: &Setup, out: &std::process::Output) {
    stderr_of(out);
    let info = s.emu.info();
    let key = std::fs::read_to_string(&info.key_pem).unwrap();
    let mut secrets: Vec<String> = s.emu.secrets_seen();
    secrets.push(info.client_secret.clone());
    secrets.push(info.noperm_client_secret.clone());
    secrets.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .map(str::to_string),
    );
    let mut texts = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    for f in files_under(&s.dir.path().join("home")) {
        if let Ok(bytes) = std::fs::read(&f) {
            texts.push((f.display().to_string(), bytes));
        }
    }
    for (name, bytes) in &texts {
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_text_clean(
            name,
            &String::from_utf8_lossy(bytes),
            &secrets,
            &stderr_of(out),
        );
    }
}

/// Markers of secrets that may never appear in output: any JWT (`eyJ`), a bearer header, a key,
/// a token request's form fields.
const SECRET_MARKERS: [&str; 7] = [
    "eyJ",
    "Bearer ",
    "PRIVATE KEY",
    "client_secret=",
    "client_assertion=",
    "authorization:",
    "Authorization:",
];

/// `text` (named `name` in the failure) holds none of `secrets` and no secret marker.
pub fn assert_text_clean(name: &str, text: &str, secrets: &[&str], context: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret leaked into {name}:\n{context}"
        );
    }
    for marker in SECRET_MARKERS {
        assert!(!text.contains(marker), "{marker:?} in {name}:\n{context}");
    }
}

/// Neither stdout nor stderr of a run holds any of `secrets` or a secret marker.
pub fn assert_clean(out: &std::process::Output, secrets: &[&str]) {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(out));
    assert_text_clean("the output", &text, secrets, &text);
}

/// No exit by panic (101): no input may crash graphd.
fn no_panic(out: &std::process::Output, stderr: &str) {
    assert!(
        out.status.code() != Some(101) && !stderr.contains("panicked at"),
        "graphd panicked:\n{stderr}"
    );
}

/// `graphd` with the emulator's CA but no tenant, client or endpoints from the environment:
/// everything comes from the parameters file.
pub fn bare(s: &Setup) -> assert_cmd::Command {
    let mut cmd = s.graphd();
    for v in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_AUTHORITY_HOST",
        "GRAPHD_GRAPH_ENDPOINT",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

/// Compares with `tests/cli/snapshots/NAME`; `GRAPHD_UPDATE_SNAPSHOTS=1` rewrites it.
pub fn snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/snapshots")
        .join(name);
    if std::env::var_os("GRAPHD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (GRAPHD_UPDATE_SNAPSHOTS=1 creates it)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "snapshot {name} differs");
}

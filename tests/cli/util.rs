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

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

//! The Windows build: the real `graphd.exe`, cross-built by scripts/build-windows.sh, run under
//! Wine against the emulator running natively on 127.0.0.1 (its CA given as a `Z:\` path).
//!
//! Every test is `#[ignore]`d: it needs `graphd.exe`, the `win-test-store.exe` fixture and a
//! prepared Wine prefix, which scripts/test-windows.sh provides before running
//! `cargo test --test tests cli::windows -- --ignored` with `GRAPHD_WINDOWS_EXE`,
//! `GRAPHD_WINDOWS_FIXTURE` and `WINEPREFIX` set. One prefix serves the whole run, so each test
//! keeps to its own emulator (its own authority origin: its own keyring entries and cache keys).
//!
//! Covered: secrets from env, stdin and a file; PEM and PKCS#12 certificates (PS256, RS256);
//! `user`, `get --all`, `token`, `-o csv`, `cert new`/`show`, `config show`; the exit codes of
//! the main failures; nothing secret at `-vvv`; the Credential Manager; the token cache under
//! `%LOCALAPPDATA%` and its lock; key and secret files refused by their ACL; `Z:\` paths in
//! flags, profiles and parameters files; the certificate store as far as Wine goes (see
//! `certificate_store_as_far_as_wine_goes`); a no-echo prompt on Wine's console.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;

use super::util::*;

const WHY: &str = "needs graphd.exe under Wine: run scripts/test-windows.sh";

fn env_path(var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} is not set: {WHY}"))
}

/// `graphd.exe`.
fn exe() -> PathBuf {
    env_path("GRAPHD_WINDOWS_EXE")
}

/// The Wine prefix (with the ProcessPrng shim in system32).
fn prefix() -> PathBuf {
    env_path("WINEPREFIX")
}

/// A Unix path as the Windows program sees it: Wine maps `/` to drive `Z:`.
fn win(p: &Path) -> String {
    format!("Z:{}", p.display().to_string().replace('/', "\\"))
}

/// The prefix's profile directory of the (only) user: `drive_c/users/NAME`.
fn profile_dir() -> PathBuf {
    let users = prefix().join("drive_c/users");
    std::fs::read_dir(&users)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n != "Public") && p.join("AppData").is_dir())
        .unwrap_or_else(|| panic!("no user profile in {}", users.display()))
}

/// `%LOCALAPPDATA%\graphd`, where the token cache lives.
fn graphd_local() -> PathBuf {
    profile_dir().join("AppData/Local/graphd")
}

/// `wine PROGRAM` with a cleared environment but for Wine's own variables.
fn std_wine(program: &Path) -> std::process::Command {
    let mut cmd =
        std::process::Command::new(std::env::var("GRAPHD_WINE").unwrap_or_else(|_| "wine".into()));
    cmd.arg(program)
        .env_clear()
        .env("WINEPREFIX", prefix())
        .env("WINEDEBUG", "-all")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// The same, as an `assert_cmd` command that cannot hang the suite.
fn wine(program: &Path) -> Command {
    let mut cmd = Command::from_std(std_wine(program));
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// `graphd.exe` pointed at the emulator, no credential (each test adds the one it tests).
fn std_graphd(s: &Setup) -> std::process::Command {
    let info = s.emu.info();
    let home = s.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = std_wine(&exe());
    cmd.env("HOME", &home)
        .env("AZURE_TENANT_ID", &info.tenant_id)
        .env("AZURE_CLIENT_ID", &info.client_id)
        .env("AZURE_AUTHORITY_HOST", &info.authority_host_url)
        .env("GRAPHD_GRAPH_ENDPOINT", &info.graph_url)
        .env("GRAPHD_CA_BUNDLE", win(&info.ca_pem));
    cmd
}

fn graphd(s: &Setup) -> Command {
    let mut cmd = Command::from_std(std_graphd(s));
    cmd.timeout(Duration::from_secs(120));
    cmd
}

fn graphd_secret(s: &Setup) -> Command {
    let mut cmd = graphd(s);
    cmd.env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret);
    cmd
}

/// The run's exit code is `code` and its stderr says `needle`; returns stderr.
fn fails(out: std::process::Output, code: i32, needle: &str) -> String {
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    err
}

fn last_token_request(s: &Setup) -> graphd_emulator::TokenRecord {
    s.emu.log().token_requests.last().cloned().unwrap()
}

fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PKCS#12 of the emulator's registered certificate and key, mode 0600.
fn app_pfx(s: &Setup, password: &str) -> PathBuf {
    let info = s.emu.info();
    let out = s.path("app.pfx");
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        info.cert_pem.to_str().unwrap(),
        "-inkey",
        info.key_pem.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
        "-passout",
        &format!("pass:{password}"),
    ]);
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    write_private(&out, &bytes);
    out
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn secret_from_env_stdin_and_a_file() {
    let s = start(5);
    let secret = s.emu.info().client_secret.clone();
    let out = run_ok(graphd_secret(&s).args(["users", "-o", "jsonl"]));
    assert_eq!(ids_of(&json_lines(&out.stdout)), s.ids());

    // PowerShell pipes end lines with CRLF.
    let out = run_ok(
        graphd(&s)
            .args(["users", "--secret-stdin", "-o", "jsonl"])
            .write_stdin(format!("{secret}\r\n")),
    );
    assert_eq!(json_lines(&out.stdout).len(), 5);

    let file = s.path("secret.txt");
    write_private(&file, format!("{secret}\r\n").as_bytes());
    let out = run_ok(graphd(&s).args(["users", "-o", "jsonl", "--secret-file", &win(&file)]));
    assert_eq!(json_lines(&out.stdout).len(), 5);

    // Wine derives a file's ACL from its mode bits: 0644 puts Everyone on it.
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = graphd(&s)
        .args(["users", "--secret-file", &win(&file)])
        .output()
        .unwrap();
    let err = fails(out, 3, "is open to Everyone");
    assert!(err.contains("icacls"), "the hint is Windows' chmod: {err}");
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn pem_and_pfx_certificates_ps256_and_rs256() {
    let s = start(3);
    let info = s.emu.info().clone();
    run_ok(graphd(&s).args([
        "users",
        "--no-token-cache",
        "--cert",
        &win(&info.cert_pem),
        "--key",
        &win(&info.key_pem),
    ]));
    let r = last_token_request(&s);
    assert_eq!(
        (r.status, r.alg.as_deref(), r.thumbprint_header.as_deref()),
        (200, Some("PS256"), Some("x5t#S256"))
    );
    run_ok(graphd(&s).args([
        "users",
        "--no-token-cache",
        "--assertion-alg",
        "rs256",
        "--cert",
        &win(&info.cert_pem),
        "--key",
        &win(&info.key_pem),
    ]));
    let r = last_token_request(&s);
    assert_eq!(
        (r.status, r.alg.as_deref(), r.thumbprint_header.as_deref()),
        (200, Some("RS256"), Some("x5t"))
    );

    // A PKCS#12 named by azure-identity's variable, its password from the environment.
    let pfx = app_pfx(&s, "pfx-canary-password");
    for (alg, header) in [("ps256", "x5t#S256"), ("rs256", "x5t")] {
        run_ok(
            graphd(&s)
                .args(["users", "--no-token-cache", "--assertion-alg", alg])
                .env("AZURE_CLIENT_CERTIFICATE_PATH", win(&pfx))
                .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pfx-canary-password"),
        );
        let r = last_token_request(&s);
        assert_eq!(
            (r.status, r.alg.as_deref(), r.thumbprint_header.as_deref()),
            (200, Some(alg.to_uppercase().as_str()), Some(header))
        );
    }

    // An unencrypted key others may read is refused, as ssh would; the flag accepts it.
    let open_key = s.path("open-key.pem");
    std::fs::copy(&info.key_pem, &open_key).unwrap();
    std::fs::set_permissions(
        &open_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let cert_args = ["--cert", &win(&info.cert_pem), "--key", &win(&open_key)];
    let out = graphd(&s).arg("users").args(cert_args).output().unwrap();
    fails(out, 3, "the unencrypted private key Z:\\");
    run_ok(
        graphd(&s)
            .args(["users", "--allow-insecure-key-file"])
            .args(cert_args),
    );
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn user_get_all_token_and_csv() {
    let s = start(12);
    let ids = s.ids();
    let out = run_ok(graphd_secret(&s).args(["user", &ids[3]]));
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["id"], ids[3].as_str());

    let out = run_ok(graphd_secret(&s).args([
        "get",
        "/users?$top=5",
        "--all",
        "--max-items",
        "11",
        "-o",
        "jsonl",
    ]));
    assert_eq!(ids_of(&json_lines(&out.stdout)), ids[..11]);

    let out = run_ok(graphd_secret(&s).args(["users", "-o", "csv", "--select", "id,displayName"]));
    let text = String::from_utf8(out.stdout).expect("CSV is UTF-8 on a pipe");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(csv.headers().unwrap(), vec!["id", "displayName"]);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(),
        ids,
        "one record per user, quoted fields and all"
    );
    let names: Vec<String> = s
        .emu
        .users()
        .iter()
        .map(|u| u["displayName"].as_str().unwrap().to_string())
        .collect();
    assert!(
        text.contains(&names[0]),
        "{} round-trips through CSV: {text}",
        names[0]
    );

    let out = run_ok(graphd_secret(&s).arg("token"));
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(token["accessToken"].as_str().unwrap().starts_with("eyJ"));
    assert!(token["expiresOn"].is_string() && token["expires_on_unix"].is_number());
    let err = stderr_of(&out);
    assert!(!err.contains("eyJ"), "the token only on stdout: {err}");
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn cert_new_and_cert_show() {
    let s = start(1);
    let dir = s.path("made");
    std::fs::create_dir(&dir).unwrap();
    let (c, k, p) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("c.pfx"));
    let out = run_ok(
        graphd(&s)
            .args(["cert", "new", "--subject", "CN=win-daemon", "--days", "30"])
            .args([
                "--out-cert",
                &win(&c),
                "--out-key",
                &win(&k),
                "--pfx",
                &win(&p),
            ])
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "new-pfx-password"),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("ACL: only you and SYSTEM"), "{said}");
    // graphd gave the key and the PKCS#12 an ACL of their own; Wine keeps it as mode bits,
    // without any for others.
    for f in [&k, &p] {
        assert_eq!(mode(f) & 0o007, 0, "{} is private", f.display());
    }

    let out = run_ok(graphd(&s).args(["cert", "show", "--json", &win(&c)]));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["thumbprint"], thumbprint(&c).as_str());
    let out = run_ok(
        graphd(&s)
            .args(["cert", "show", "--json", &win(&p)])
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "new-pfx-password"),
    );
    let from_pfx: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_pfx["thumbprint"], shown["thumbprint"]);
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn profiles_and_parameters_files_with_windows_paths() {
    let s = start(4);
    let info = s.emu.info().clone();
    // %APPDATA%\graphd\config.toml, TOML literal strings holding Z:\ paths.
    let config = profile_dir().join("AppData/Roaming/graphd/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "[profiles.winpaths]\ncertificate = '{}'\nkey = '{}'\n",
            win(&info.cert_pem),
            win(&info.key_pem)
        ),
    )
    .unwrap();
    let out = run_ok(graphd(&s).args(["config", "show", "--profile", "winpaths"]));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&win(&info.cert_pem)) && shown.contains("profile winpaths"),
        "{shown}"
    );
    let out = run_ok(graphd(&s).args(["users", "-o", "jsonl", "--profile", "winpaths"]));
    assert_eq!(json_lines(&out.stdout).len(), 4);

    // The quickstart's parameters.json by a Z:\ path, with nothing else from the environment.
    let params = s.path("parameters.json");
    let body = serde_json::json!({
        "authority": format!("{}/{}", info.authority_host_url, info.tenant_id),
        "client_id": info.client_id,
        "scope": [format!("{}/.default", info.graph_url)],
        "endpoint": format!("{}/v1.0/users", info.graph_url),
        "secret": info.client_secret,
    });
    write_private(&params, body.to_string().as_bytes());
    let mut cmd = graphd(&s);
    for v in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_AUTHORITY_HOST",
        "GRAPHD_GRAPH_ENDPOINT",
    ] {
        cmd.env_remove(v);
    }
    let out = run_ok(cmd.args(["users", "-o", "jsonl", "--config", &win(&params)]));
    assert_eq!(json_lines(&out.stdout).len(), 4);
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn exit_codes_of_the_main_failures() {
    let s = start(2);
    let out = graphd_secret(&s)
        .env_remove("AZURE_TENANT_ID")
        .arg("users")
        .output()
        .unwrap();
    fails(out, 2, "no tenant");
    let out = graphd(&s)
        .env("AZURE_CLIENT_SECRET", "not-the-secret")
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap();
    fails(out, 3, "7000215");
    let out = graphd_secret(&s)
        .args(["user", "nobody@contoso.onmicrosoft.com"])
        .output()
        .unwrap();
    fails(out, 4, "Request_ResourceNotFound");
    // Nothing listens on port 1: a network failure, after no retry.
    let out = graphd_secret(&s)
        .args(["users", "--no-token-cache", "--max-retries", "0"])
        .args(["--authority-host", "https://127.0.0.1:1"])
        .output()
        .unwrap();
    fails(out, 5, "127.0.0.1:1");
    // Without --ca-bundle the platform verifier (Windows' CryptoAPI chain engine, Wine's here)
    // checks the emulator's certificate and refuses its unknown CA: a TLS failure, not retried.
    let before = s.token_requests();
    let out = graphd_secret(&s)
        .env_remove("GRAPHD_CA_BUNDLE")
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap();
    let err = fails(out, 5, "invalid peer certificate");
    assert_eq!(s.token_requests(), before, "no request got through: {err}");
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn nothing_secret_at_vvv() {
    let s = start(3);
    let info = s.emu.info().clone();
    let out = run_ok(graphd_secret(&s).args(["users", "-vvv", "--no-token-cache"]));
    assert_no_leak(&s, &out);
    let out = run_ok(graphd(&s).args([
        "users",
        "-vvv",
        "--cert",
        &win(&info.cert_pem),
        "--key",
        &win(&info.key_pem),
    ]));
    assert_no_leak(&s, &out);
    // The token cache Wine keeps under %LOCALAPPDATA%: sealed, nothing readable in it.
    let mut secrets = s.emu.secrets_seen();
    secrets.push(info.client_secret.clone());
    let needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_plaintext(&graphd_local(), &needles);
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn credential_manager_holds_the_secret() {
    let s = start(3);
    let secret = s.emu.info().client_secret.clone();
    let out = run_ok(
        graphd(&s)
            .args(["secret", "set"])
            .write_stdin(format!("{secret}\r\n")),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("windows keyring"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    run_ok(graphd(&s).args(["secret", "status"]));
    // Read back from the Credential Manager itself, not through graphd: one generic entry
    // holding the secret, persisted for this computer only.
    let fixture = env_path("GRAPHD_WINDOWS_FIXTURE");
    let stored = |s: &Setup| {
        let out = wine(&fixture)
            .args(["creds", ".graphd"])
            .env("WIN_TEST_SECRET", &s.emu.info().client_secret)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let entries = stored(&s);
    let lines: Vec<&str> = entries.lines().collect();
    assert_eq!(lines.len(), 1, "{entries}");
    assert!(
        lines[0].ends_with(".graphd persist=local_machine secret=yes"),
        "{entries}"
    );
    let out = run_ok(graphd(&s).args(["users", "-o", "jsonl", "-v", "--no-token-cache"]));
    assert_eq!(json_lines(&out.stdout).len(), 3);
    assert!(stderr_of(&out).contains("stored in the windows keyring"));
    assert_eq!(last_token_request(&s).auth, "client_secret");
    run_ok(graphd(&s).args(["secret", "delete"]));
    assert_eq!(
        stored(&s),
        "none",
        "the entry is gone from the Credential Manager"
    );
    let out = graphd(&s).args(["secret", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let out = graphd(&s).arg("users").output().unwrap();
    fails(out, 2, "no client secret stored in the windows keyring");
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn the_prompt_does_not_echo_on_wines_console() {
    let s = start(1);
    // Its own client id: this entry is not the one the Credential Manager test uses.
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/pty_drive.py"
    ))
    .args(["Client secret (value, not ID):", "Again:", "--"])
    .arg(std::env::var("GRAPHD_WINE").unwrap_or_else(|_| "wine".into()))
    .arg(exe())
    .args(["secret", "set", "--client-id", "prompt-client"])
    .env_clear()
    .env("WINEPREFIX", prefix())
    .env("WINEDEBUG", "-all")
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("AZURE_TENANT_ID", &s.emu.info().tenant_id)
    .env("AZURE_AUTHORITY_HOST", &s.emu.info().authority_host_url)
    .env("PTY_ANSWERS", "canary-typed-secret\ncanary-typed-secret")
    .env("PTY_ENTER", "\r");
    let out = cmd.output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Again:"), "asked twice: {shown}");
    assert!(
        !shown.contains("canary-typed-secret"),
        "the console echoed the secret: {shown}"
    );
    run_ok(graphd(&s).args(["secret", "delete", "--client-id", "prompt-client"]));
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn token_cache_under_localappdata_one_request_for_concurrent_runs() {
    let s = start(2);
    // Three runs started together on a cold cache: the entry's lock (LockFileEx) lets one of
    // them ask Entra; the others wait and read its token.
    let runs: Vec<std::process::Child> = (0..3)
        .map(|_| {
            let mut c = std_graphd(&s);
            c.env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
                .args(["users", "-o", "jsonl"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(json_lines(&out.stdout).len(), 2);
    }
    assert_eq!(s.token_requests(), 1, "one token request for three runs");
    run_ok(graphd_secret(&s).arg("users"));
    assert_eq!(s.token_requests(), 1, "the next run reads the cache");

    let dir = graphd_local().join("tokens");
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tok"))
        .collect();
    assert!(!entries.is_empty(), "entries in {}", dir.display());
    // graphd made the directory private by its ACL; Wine keeps that as mode bits.
    assert_eq!(mode(&dir) & 0o007, 0, "{} is private", dir.display());
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn certificate_store_as_far_as_wine_goes() {
    let s = start(2);
    let info = s.emu.info().clone();
    let tp = thumbprint(&info.cert_pem);
    let fixture = env_path("GRAPHD_WINDOWS_FIXTURE");
    let pfx = app_pfx(&s, "store-password");
    let out = wine(&fixture)
        .args(["import", "CurrentUser\\My", &win(&pfx)])
        .env("WIN_TEST_PFX_PASSWORD", "store-password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    let store_args = [
        "--cert-store",
        "CurrentUser\\My",
        "--thumbprint",
        tp.as_str(),
    ];
    let out = run_ok(graphd(&s).args(["config", "show"]).args(store_args));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!(
            "certificate {tp} in the Windows store CurrentUser\\My"
        )),
        "{shown}"
    );
    // The store opens and the certificate is found by its thumbprint; Wine then hands back
    // its key as a CryptoAPI handle whatever CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG says, which
    // graphd refuses to pass to CNG (real Windows opens a software key through CNG).
    let out = graphd(&s).arg("users").args(store_args).output().unwrap();
    fails(out, 3, "legacy CryptoAPI provider");
    let out = graphd(&s)
        .args(["users", "--cert-store", "CurrentUser\\My", "--thumbprint"])
        .arg("00".repeat(20))
        .output()
        .unwrap();
    let err = fails(out, 3, "no certificate with thumbprint 0000");
    assert!(
        err.contains("Get-ChildItem Cert:\\CurrentUser\\My"),
        "{err}"
    );
    let out = graphd(&s)
        .args(["users", "--cert-store", "Nowhere\\My", "--thumbprint", &tp])
        .output()
        .unwrap();
    fails(out, 2, "is not a certificate store");

    // The CNG signing path itself, with an ephemeral key imported from the app's key: PS256
    // (PSS, SHA-256, salt 32) and RS256 (PKCS#1 v1.5), checked with the certificate.
    let key =
        openssl::rsa::Rsa::private_key_from_pem(&std::fs::read(&info.key_pem).unwrap()).unwrap();
    let blob = s.path("key.blob");
    write_private(&blob, &rsa_private_blob(&key));
    let cert = openssl::x509::X509::from_pem(&std::fs::read(&info.cert_pem).unwrap()).unwrap();
    let public = cert.public_key().unwrap();
    let message = b"header.claims";
    let digest = openssl::sha::sha256(message);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    for padding in ["pss", "pkcs1"] {
        let out = wine(&fixture)
            .args(["sign", &win(&blob), padding, &hex])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let sig_hex = String::from_utf8(out.stdout).unwrap();
        let sig: Vec<u8> = (0..sig_hex.trim().len() / 2)
            .map(|i| u8::from_str_radix(&sig_hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
        if padding == "pss" {
            v.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS).unwrap();
            v.set_rsa_mgf1_md(openssl::hash::MessageDigest::sha256())
                .unwrap();
            v.set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::custom(32))
                .unwrap();
        }
        v.update(message).unwrap();
        assert!(v.verify(&sig).unwrap(), "{padding} signature verifies");
    }

    let out = wine(&fixture)
        .args(["delete", "CurrentUser\\My", &tp])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    // The machine's store opens the same way: found there (then Wine's CryptoAPI handle, as
    // above), and a thumbprint not there is named with the store's PowerShell path.
    let out = wine(&fixture)
        .args(["import", "LocalMachine\\My", &win(&pfx)])
        .env("WIN_TEST_PFX_PASSWORD", "store-password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = graphd(&s)
        .args([
            "users",
            "--cert-store",
            "LocalMachine\\My",
            "--thumbprint",
            &tp,
        ])
        .output()
        .unwrap();
    fails(out, 3, "legacy CryptoAPI provider");
    let out = graphd(&s)
        .args(["users", "--cert-store", "LocalMachine\\My", "--thumbprint"])
        .arg("00".repeat(20))
        .output()
        .unwrap();
    let err = fails(out, 3, "no certificate with thumbprint 0000");
    assert!(err.contains("Cert:\\LocalMachine\\My"), "{err}");
    let out = wine(&fixture)
        .args(["delete", "LocalMachine\\My", &tp])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// A `BCRYPT_RSAPRIVATE_BLOB`: the header, then exponent, modulus and primes, big-endian.
fn rsa_private_blob(key: &openssl::rsa::Rsa<openssl::pkey::Private>) -> Vec<u8> {
    let (e, n) = (key.e().to_vec(), key.n().to_vec());
    let (p, q) = (key.p().unwrap().to_vec(), key.q().unwrap().to_vec());
    let mut blob = Vec::new();
    for v in [
        0x3241_5352u32, // "RSA2": BCRYPT_RSAPRIVATE_MAGIC
        (n.len() * 8) as u32,
        e.len() as u32,
        n.len() as u32,
        p.len() as u32,
        q.len() as u32,
    ] {
        blob.write_all(&v.to_le_bytes()).unwrap();
    }
    for part in [e, n, p, q] {
        blob.extend_from_slice(&part);
    }
    blob
}

#[test]
#[ignore = "needs graphd.exe under Wine: run scripts/test-windows.sh"]
fn help_is_written_for_windows() {
    let s = start(1);
    let out = run_ok(graphd(&s).args(["users", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--cert-store <LOCATION\\STORE>"), "{help}");
    assert!(help.contains("--cert-store CurrentUser\\My"), "{help}");
    let out = run_ok(graphd(&s).args(["config", "--help"]));
    let config = String::from_utf8_lossy(&out.stdout);
    assert!(
        config.contains("%APPDATA%\\graphd\\config.toml"),
        "{config}"
    );
    // No /dev/fd promise on Windows: where Linux's hint offers `/dev/fd/N`, Windows' offers a file.
    let out = graphd(&s)
        .args(["cert", "show", "-", "--cert-password-stdin"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = fails(out, 2, "standard input");
    assert!(
        err.contains("hint: read one of them from a file instead") && !err.contains("/dev/fd"),
        "{err}"
    );
}

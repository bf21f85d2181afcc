//! Keys that never leave a token (issue 13), against a real SoftHSM2 token per test under a
//! private `SOFTHSM2_CONF`: PS256 and RS256 signed on the token (the emulator verifies every
//! assertion with OpenSSL), a key imported as non-extractable, `cert new` inside the token,
//! `--store-cert`, `cert show|add|rotate` with token keys, the token cache (one signature and
//! no token request when warm), every failure (exit 3, one line and a hint, nothing sent), PIN
//! sources and the PIN never in any output.
//!
//! Faults a software token cannot produce (a locked PIN, a token pulled mid-run, a token
//! without PSS) and call counts (C_Login, C_Sign) come from `tests/support/p11fault.c`, a
//! PKCS#11 module wrapping SoftHSM that the tests build with the C compiler.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::keyring::on_terminal;
use super::util::*;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "Pin~4821";
const SO_PIN: &str = "So~5678";

/// A SoftHSM2 token of its own in a temp dir: token `graphd`, user PIN `PIN`.
struct Hsm {
    dir: tempfile::TempDir,
}

impl Hsm {
    fn new() -> Hsm {
        Self::with_label("graphd")
    }

    fn with_label(label: &str) -> Hsm {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let hsm = Hsm { dir };
        // A throwaway test token: PINs in argv are fine here, never in graphd.
        hsm.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ],
        );
        hsm
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .unwrap_or_else(|e| panic!("{program} is installed (scripts/test.sh): {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `pkcs11-tool` logged in to the token.
    fn tool(&self, args: &[&str]) -> String {
        let mut all = vec!["--module", SOFTHSM, "--login", "--pin", PIN];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&self.run("pkcs11-tool", &all).stdout).into_owned()
    }

    /// Imports a PEM key (and certificate) as `label` / `id` (hex), as people move an existing
    /// key into a token: sensitive and not extractable unless `extractable`.
    fn import(&self, key: &Path, cert: Option<&Path>, label: &str, id: &str, extractable: bool) {
        let mut args = vec![
            "--write-object",
            key.to_str().unwrap(),
            "--type",
            "privkey",
            "--id",
            id,
            "--label",
            label,
            "--usage-sign",
        ];
        if extractable {
            args.push("--extractable");
        }
        self.tool(&args);
        if let Some(cert) = cert {
            self.tool(&[
                "--write-object",
                cert.to_str().unwrap(),
                "--type",
                "cert",
                "--id",
                id,
                "--label",
                label,
            ]);
        }
    }

    /// A key pair made inside the token by pkcs11-tool.
    fn keygen(&self, key_type: &str, label: &str, id: &str) {
        self.tool(&[
            "--keypairgen",
            "--key-type",
            key_type,
            "--id",
            id,
            "--label",
            label,
            "--usage-sign",
        ]);
    }

    /// Points `cmd` at this token through SoftHSM directly.
    fn env<'a>(&self, cmd: &'a mut assert_cmd::Command) -> &'a mut assert_cmd::Command {
        cmd.env("SOFTHSM2_CONF", self.conf())
            .env("GRAPHD_PKCS11_MODULE", SOFTHSM)
    }

    /// Points `cmd` at this token through the fault module; its calls go to `log`.
    fn faulty<'a>(
        &self,
        cmd: &'a mut assert_cmd::Command,
        faults: &str,
        log: &Path,
    ) -> &'a mut assert_cmd::Command {
        cmd.env("SOFTHSM2_CONF", self.conf())
            .env("GRAPHD_PKCS11_MODULE", fault_module())
            .env("P11FAULT_MODULE", SOFTHSM)
            .env("P11FAULT", faults)
            .env("P11FAULT_LOG", log)
    }
}

/// The fault module, built once per test run.
fn fault_module() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/p11fault.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("p11fault-{}.so", std::process::id()));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-I/usr/include/p11-kit-1", "-o"])
            .arg(&out)
            .arg(src)
            .arg("-ldl")
            .status()
            .expect("a C compiler (gcc) and libp11-kit-dev are installed (scripts/test.sh)");
        assert!(status.success(), "building {src}");
        out
    })
}

/// The module was finalized as often as it was initialized: graphd leaves no token session
/// open, whether the run succeeded or failed.
fn assert_finalized(log: &Path) {
    assert_eq!(
        calls(log, "C_Finalize"),
        calls(log, "C_Initialize"),
        "every C_Initialize has its C_Finalize"
    );
    assert!(calls(log, "C_Initialize") > 0, "the module was loaded");
}

/// Lines of the fault module's call log that are `call`.
fn calls(log: &Path, call: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == call)
        .count()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    out
}

/// Exit `code`, `needle` on the first line, a hint, no PIN anywhere, nothing sent to Entra.
fn refused(s: &Setup, out: &Output, code: i32, needle: &str) -> String {
    let e = stderr_of(out);
    assert_eq!(out.status.code(), Some(code), "{e}");
    let first = e.lines().find(|l| l.starts_with("error: ")).unwrap_or("");
    assert!(first.contains(needle), "{needle:?} in {e}");
    assert!(e.contains("hint: "), "{e}");
    assert!(!e.contains(PIN) && !String::from_utf8_lossy(&out.stdout).contains(PIN));
    assert_eq!(s.token_requests(), 0, "nothing was sent to Entra");
    e
}

/// The emulator's registered certificate and key moved into the token as `app` (id 01).
fn with_app_key(s: &Setup, hsm: &Hsm) {
    let info = s.emu.info();
    hsm.import(&info.key_pem, Some(&info.cert_pem), "app", "01", false);
}

fn users(s: &Setup, hsm: &Hsm, key: &str) -> assert_cmd::Command {
    let mut cmd = s.graphd();
    hsm.env(&mut cmd)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "--key", key]);
    cmd
}

const APP: &str = "pkcs11:token=graphd;object=app";

#[test]
fn ps256_and_rs256_signed_on_the_token_by_an_imported_non_extractable_key() {
    let s = start(3);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    // PS256 by default, the certificate from the token (no --cert).
    let out = ok(users(&s, &hsm, APP)
        .args(["--no-token-cache", "-v"])
        .output()
        .unwrap());
    assert_eq!(json_array(&out.stdout).len(), 3);
    let e = stderr_of(&out);
    assert!(
        e.contains("signing on token 'graphd'") && e.contains("private key 'app' (id %01)"),
        "-v says which token and object signed: {e}"
    );
    assert!(!e.contains("can leave the token"), "{e}");
    // RS256 on request, with the certificate from a file this time; and by id.
    let cert = s.emu.info().cert_pem.clone();
    ok(users(&s, &hsm, "pkcs11:token=graphd;id=%01")
        .args(["--no-token-cache", "--assertion-alg", "rs256", "--cert"])
        .arg(&cert)
        .output()
        .unwrap());
    let log = s.emu.log().token_requests;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r.status == 200));
    assert_eq!(
        (log[0].alg.as_deref(), log[0].thumbprint_header.as_deref()),
        (Some("PS256"), Some("x5t#S256"))
    );
    assert_eq!(
        (log[1].alg.as_deref(), log[1].thumbprint_header.as_deref()),
        (Some("RS256"), Some("x5t"))
    );
    // What cert show says about it: on the token, not extractable.
    let mut show = s.graphd();
    hsm.env(&mut show).env("GRAPHD_PKCS11_PIN", PIN);
    let out = ok(show.args(["cert", "show", APP, "--json"]).output().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["extractable"], false);
    assert_eq!(v["sensitive"], true);
    assert_eq!(v["token"], "graphd");
    assert_eq!(v["id"], "%01");
    assert_eq!(v["keySize"], 2048);
    assert!(v["certificate"]["thumbprint"].is_string());
}

#[test]
fn a_key_that_can_leave_the_token_works_but_is_warned_about() {
    let s = start(1);
    let hsm = Hsm::new();
    let info = s.emu.info();
    hsm.import(&info.key_pem, Some(&info.cert_pem), "app", "01", true);
    let out = ok(users(&s, &hsm, APP)
        .arg("--no-token-cache")
        .output()
        .unwrap());
    let e = stderr_of(&out);
    assert!(
        e.contains("can leave the token") && e.contains("extractable: yes"),
        "{e}"
    );
}

#[test]
fn warm_run_signs_once_on_the_token_and_sends_no_token_request() {
    let s = start(2);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let log = s.path("calls.log");
    let run = || {
        let mut cmd = s.graphd();
        hsm.faulty(&mut cmd, "", &log)
            .env("GRAPHD_PKCS11_PIN", PIN)
            .args(["users", "--key", APP]);
        ok(cmd.output().unwrap())
    };
    run();
    assert_eq!(s.token_requests(), 1);
    // Cold: the cache key's signature, then the assertion's.
    assert_eq!(
        (calls(&log, "C_Login"), calls(&log, "C_Sign")),
        (1, 2),
        "one login, two signatures when cold"
    );
    assert_finalized(&log);
    std::fs::remove_file(&log).unwrap();
    let out = run();
    assert_eq!(json_array(&out.stdout).len(), 2);
    assert_eq!(s.token_requests(), 1, "warm: no token request");
    assert_eq!(
        (calls(&log, "C_Login"), calls(&log, "C_Sign")),
        (1, 1),
        "warm: one login, one signature (the cache key)"
    );
    assert_finalized(&log);
    // The same certificate with its key as a file derives another cache key: the cached token
    // is reachable only through the token's signature.
    ok(s.graphd_cert().arg("users").output().unwrap());
    assert_eq!(s.token_requests(), 2);
}

#[test]
fn cert_new_makes_the_key_inside_the_token_and_the_token_signs_the_certificate() {
    let s = start(2);
    let hsm = Hsm::new();
    let new_cert = |label: &str, extra: &[&str]| {
        let mut cmd = s.graphd();
        hsm.env(&mut cmd).env("GRAPHD_PKCS11_PIN", PIN).args([
            "cert",
            "new",
            "--key",
            &format!("pkcs11:token=graphd;object={label}"),
            "--subject",
            "CN=on-token,O=Contoso",
            "--hours",
            "2",
            "--out-cert",
        ]);
        cmd.arg(s.path(&format!("{label}.pem"))).args(extra);
        cmd.output().unwrap()
    };
    let out = ok(new_cert("made", &[]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("made inside token 'graphd'") && text.contains("never extractable"),
        "{text}"
    );
    let pem = s.path("made.pem");
    // OpenSSL verifies the self-signature the token made.
    let verify = Command::new("openssl")
        .args(["verify", "-check_ss_sig", "-partial_chain", "-CAfile"])
        .arg(&pem)
        .arg(&pem)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("sha256WithRSAEncryption")
            && text.contains("Public-Key: (2048 bit)")
            && text.contains("TLS Web Client Authentication")
            && text.contains("CA:FALSE")
            && text.contains("Subject: CN = on-token, O = Contoso"),
        "{text}"
    );
    // The token holds a key that never left it, sign only.
    let objects = hsm.tool(&["--list-objects", "--type", "privkey"]);
    assert!(
        objects.contains("made")
            && objects.contains("never extractable")
            && objects.contains("Usage:      sign\n"),
        "{objects}"
    );
    // Registered on the app, it works with --cert (no certificate stored on the token).
    s.emu
        .register_cert_pem(&std::fs::read(&pem).unwrap())
        .unwrap();
    let out = users(&s, &hsm, "pkcs11:token=graphd;object=made")
        .arg("--no-token-cache")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "no certificate on the token");
    assert!(stderr_of(&out).contains("holds no certificate"));
    ok(users(&s, &hsm, "pkcs11:token=graphd;object=made")
        .args(["--no-token-cache", "--cert"])
        .arg(&pem)
        .output()
        .unwrap());

    // --store-cert: then no --cert is needed.
    ok(new_cert("stored", &["--store-cert"]));
    s.emu
        .register_cert_pem(&std::fs::read(s.path("stored.pem")).unwrap())
        .unwrap();
    ok(users(&s, &hsm, "pkcs11:token=graphd;object=stored")
        .arg("--no-token-cache")
        .output()
        .unwrap());
    assert_eq!(s.token_requests(), 2);

    // An object with that label (or id) exists: refused before anything is made.
    std::fs::remove_file(s.path("stored.pem")).unwrap();
    let before = hsm.tool(&["--list-objects"]);
    let out = new_cert("stored", &["--store-cert"]);
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("already holds an object labelled 'stored'") && e.contains("hint: "),
        "{e}"
    );
    assert!(!s.path("stored.pem").exists());
    assert_eq!(hsm.tool(&["--list-objects"]), before, "nothing was made");
    // A key file is never written for a token key.
    let out = new_cert("other", &["--out-key", "k.pem"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn nightly_rotation_with_both_keys_on_the_token() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let graphd = || {
        let mut cmd = s.graphd();
        hsm.env(&mut cmd).env("GRAPHD_PKCS11_PIN", PIN);
        cmd
    };
    // Tonight's key, made and stored on the token; its certificate never needs a file.
    ok(graphd()
        .args([
            "cert",
            "new",
            "--key",
            "pkcs11:token=graphd;object=next",
            "--hours",
            "24",
            "--store-cert",
            "--out-cert",
        ])
        .arg(s.path("next.pem"))
        .output()
        .unwrap());
    // The new certificate's thumbprint, from the file `cert new` wrote.
    let out = ok(s
        .graphd()
        .env("SOFTHSM2_CONF", hsm.conf())
        .env("GRAPHD_PKCS11_MODULE", SOFTHSM)
        .args(["cert", "show", "--manifest"])
        .arg(s.path("next.pem"))
        .output()
        .unwrap());
    let next_tp =
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["customKeyIdentifier"]
            .as_str()
            .unwrap()
            .to_string();
    let out = ok(graphd()
        .args([
            "cert",
            "rotate",
            "-vvv",
            "--key",
            APP,
            "--new-key",
            "pkcs11:token=graphd;object=next",
        ])
        .output()
        .unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("rotated: added keyId")
            && text.contains("--key 'pkcs11:token=graphd;object=next'"),
        "{text}"
    );
    let e = stderr_of(&out);
    assert_eq!(
        e.matches("logged in to token").count(),
        1,
        "one login for both keys: {e}"
    );
    assert!(!e.contains(PIN) && !e.contains("eyJ"), "{e}");
    // The proofs were verified by the emulator; now only the new key works.
    let out = ok(graphd()
        .args([
            "cert",
            "list",
            "--json",
            "--key",
            "pkcs11:token=graphd;object=next",
        ])
        .output()
        .unwrap());
    let keys: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["customKeyIdentifier"], next_tp.as_str());
    let out = users(&s, &hsm, APP)
        .arg("--no-token-cache")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the old key was removed");

    // `cert add` of a certificate on the token, by URI (read without logging in), proven by
    // the token key.
    ok(graphd()
        .args([
            "cert",
            "new",
            "--key",
            "pkcs11:token=graphd;object=spare",
            "--store-cert",
            "--out-cert",
        ])
        .arg(s.path("spare.pem"))
        .output()
        .unwrap());
    let out = ok(s
        .graphd()
        .env("SOFTHSM2_CONF", hsm.conf())
        .env("GRAPHD_PKCS11_MODULE", SOFTHSM)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args([
            "cert",
            "add",
            "pkcs11:token=graphd;object=spare;type=cert",
            "--key",
            "pkcs11:token=graphd;object=next",
        ])
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("added keyId"));
}

#[test]
fn module_failures_are_one_line_with_a_hint_and_send_nothing() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let out = users(&s, &hsm, APP)
        .env("GRAPHD_PKCS11_MODULE", "/nonexistent/libpkcs11.so")
        .output()
        .unwrap();
    let e = refused(
        &s,
        &out,
        3,
        "the PKCS#11 module /nonexistent/libpkcs11.so does not exist",
    );
    assert!(e.contains("--pkcs11-module PATH"), "{e}");
    let not_module = s.path("not-a-module.so");
    std::fs::write(&not_module, b"not an ELF file").unwrap();
    let out = users(&s, &hsm, APP)
        .env("GRAPHD_PKCS11_MODULE", &not_module)
        .output()
        .unwrap();
    refused(&s, &out, 3, "is not a PKCS#11 module");
    // A real shared library that is not a PKCS#11 module.
    let out = users(&s, &hsm, APP)
        .env("GRAPHD_PKCS11_MODULE", "/lib/x86_64-linux-gnu/libz.so.1")
        .output()
        .unwrap();
    // zlib is part of every Debian system (Priority: required): no silent skip.
    let e = refused(&s, &out, 3, "is not a PKCS#11 module");
    assert!(e.contains("C_GetFunctionList"), "{e}");
    // module-path in the URI wins over --pkcs11-module.
    let out = users(
        &s,
        &hsm,
        &format!("{APP}?module-path={}", not_module.display()),
    )
    .output()
    .unwrap();
    refused(&s, &out, 3, "is not a PKCS#11 module");
}

#[test]
fn no_token_or_no_key_lists_what_is_there() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    hsm.keygen("rsa:2048", "other", "0a0b");
    let serial = {
        let t = hsm.run("pkcs11-tool", &["--module", SOFTHSM, "--list-token-slots"]);
        let t = String::from_utf8_lossy(&t.stdout).into_owned();
        t.lines()
            .find_map(|l| l.trim().strip_prefix("serial num         : "))
            .unwrap()
            .to_string()
    };
    let out = users(&s, &hsm, "pkcs11:token=prod;object=app")
        .output()
        .unwrap();
    let e = refused(&s, &out, 3, "no token matches pkcs11:token=prod");
    assert!(
        e.contains(&format!("tokens seen: 'graphd' (serial {serial})")),
        "{e}"
    );
    let out = users(&s, &hsm, "pkcs11:token=graphd;object=gone")
        .output()
        .unwrap();
    let e = refused(&s, &out, 3, "no private key on token 'graphd'");
    assert!(
        e.contains("'app' (id %01)") && e.contains("'other' (id %0A%0B)"),
        "{e}"
    );
    // Two keys match a URI naming no object.
    let out = users(&s, &hsm, "pkcs11:token=graphd").output().unwrap();
    refused(&s, &out, 3, "2 private keys on token 'graphd'");
    // The token deleted between runs (a card pulled out): no token matches, none seen.
    std::fs::remove_dir_all(hsm.dir.path().join("tokens")).unwrap();
    std::fs::create_dir(hsm.dir.path().join("tokens")).unwrap();
    let out = users(&s, &hsm, APP).output().unwrap();
    let e = refused(&s, &out, 3, "no token matches pkcs11:token=graphd");
    assert!(e.contains("sees no initialized token"), "{e}");
}

#[test]
fn a_wrong_pin_is_tried_once_and_said_so() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let log = s.path("calls.log");
    let mut cmd = s.graphd();
    hsm.faulty(&mut cmd, "", &log)
        .env("GRAPHD_PKCS11_PIN", "0000-wrong")
        .args(["users", "-vvv", "--key", APP]);
    let out = cmd.output().unwrap();
    let e = refused(&s, &out, 3, "the PIN for token 'graphd'");
    assert!(
        e.contains("is wrong") && e.contains("will not retry"),
        "{e}"
    );
    assert!(!e.contains("0000-wrong"), "{e}");
    assert_eq!(calls(&log, "C_Login"), 1, "the PIN was tried exactly once");
    assert_eq!(calls(&log, "C_Sign"), 0);
    assert_finalized(&log);
}

#[test]
fn a_locked_pin_is_never_tried() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let log = s.path("calls.log");
    let mut cmd = s.graphd();
    hsm.faulty(&mut cmd, "pin-locked", &log)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "--key", APP]);
    let out = cmd.output().unwrap();
    let e = refused(&s, &out, 3, "the PIN of token 'graphd'");
    assert!(e.contains("is locked") && e.contains("unblock"), "{e}");
    assert_eq!(
        calls(&log, "C_Login"),
        0,
        "a locked token is not even tried"
    );
    // A token that says so only at C_Login.
    let mut cmd = s.graphd();
    hsm.faulty(&mut cmd, "login-locked", &log)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "--key", APP]);
    refused(&s, &cmd.output().unwrap(), 3, "is locked");
    assert_eq!(calls(&log, "C_Login"), 1);
}

#[test]
fn a_token_removed_during_the_run_stops_it_before_anything_is_sent() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let log = s.path("calls.log");
    let mut cmd = s.graphd();
    hsm.faulty(&mut cmd, "removed", &log)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "--key", APP]);
    let out = cmd.output().unwrap();
    let e = refused(&s, &out, 3, "token 'graphd'");
    assert!(e.contains("was removed"), "{e}");
    assert!(
        e.contains("CKR_DEVICE_REMOVED") && e.contains("reinsert"),
        "{e}"
    );
    assert_finalized(&log);
}

#[test]
fn a_token_without_pss_names_the_mechanism_and_rs256_works() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let log = s.path("calls.log");
    let run = |extra: &[&str]| {
        let mut cmd = s.graphd();
        hsm.faulty(&mut cmd, "no-pss", &log)
            .env("GRAPHD_PKCS11_PIN", PIN)
            .args(["users", "--no-token-cache", "--key", APP])
            .args(extra);
        cmd.output().unwrap()
    };
    let out = run(&[]);
    let e = refused(&s, &out, 3, "cannot sign PS256");
    assert!(
        e.contains("CKM_SHA256_RSA_PKCS_PSS") && e.contains("--assertion-alg rs256"),
        "{e}"
    );
    ok(run(&["--assertion-alg", "rs256"]));
    assert_eq!(s.emu.log().token_requests[0].alg.as_deref(), Some("RS256"));
}

/// A token that only signs a digest made by the caller (CKM_RSA_PKCS_PSS, CKM_RSA_PKCS with
/// the DigestInfo prefix), as many smart cards: Entra (the emulator) accepts both algorithms,
/// and the cache key's PKCS#1 signature is the same bytes, so the cache still finds its entry.
#[test]
fn a_token_that_signs_only_digests_made_here() {
    let s = start(2);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    // A cold run through the mechanisms that hash on the token fills the cache.
    ok(users(&s, &hsm, APP).output().unwrap());
    assert_eq!(s.token_requests(), 1);
    let log = s.path("calls.log");
    let run = |extra: &[&str]| {
        let mut cmd = s.graphd();
        hsm.faulty(&mut cmd, "raw-only", &log)
            .env("GRAPHD_PKCS11_PIN", PIN)
            .args(["users", "--key", APP])
            .args(extra);
        ok(cmd.output().unwrap())
    };
    // Warm: the cache key is derived from the raw mechanism's signature, the same bytes.
    run(&[]);
    assert_eq!(s.token_requests(), 1, "the cached token was found");
    assert_eq!(
        calls(&log, "mechanism 0x1"),
        1,
        "CKM_RSA_PKCS for the cache key"
    );
    assert_eq!(calls(&log, "mechanism 0x40"), 0);
    std::fs::remove_file(&log).unwrap();
    for (alg, mechanism, header) in [
        ("ps256", "mechanism 0xd", "x5t#S256"),
        ("rs256", "mechanism 0x1", "x5t"),
    ] {
        run(&["--no-token-cache", "--assertion-alg", alg]);
        let r = s.emu.log().token_requests.last().cloned().unwrap();
        assert_eq!(
            (r.status, r.alg.as_deref(), r.thumbprint_header.as_deref()),
            (200, Some(alg.to_uppercase().as_str()), Some(header)),
            "{alg}"
        );
        assert!(calls(&log, mechanism) >= 1, "{alg} through {mechanism}");
        assert_eq!(
            calls(&log, "mechanism 0x43") + calls(&log, "mechanism 0x40"),
            0,
            "nothing hashed on the token"
        );
    }
}

/// The other ways to name a token key: by serial or slot-id, the URI in `GRAPHD_KEY`, the
/// module by `--pkcs11-module`; and every reading command with it (`user`, `get --all`, CSV).
#[test]
fn every_way_to_name_a_token_key_and_every_command() {
    let s = start(3);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let listing =
        String::from_utf8_lossy(&hsm.run("pkcs11-tool", &["--module", SOFTHSM, "-L"]).stdout)
            .into_owned();
    let slot_hex = listing
        .lines()
        .find_map(|l| l.split("SoftHSM slot ID 0x").nth(1))
        .unwrap_or_else(|| panic!("a slot in {listing}"));
    let slot = u64::from_str_radix(slot_hex.trim(), 16).unwrap();
    let serial = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("serial num"))
        .and_then(|rest| rest.split(':').nth(1))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("a serial in {listing}"));
    let base = || {
        let mut cmd = s.graphd();
        cmd.env("SOFTHSM2_CONF", hsm.conf())
            .env("GRAPHD_PKCS11_PIN", PIN);
        cmd
    };
    for uri in [
        format!("pkcs11:serial={serial};object=app"),
        format!("pkcs11:slot-id={slot};object=app"),
    ] {
        let out = ok(base()
            .args([
                "users",
                "--no-token-cache",
                "--pkcs11-module",
                SOFTHSM,
                "--key",
                &uri,
            ])
            .output()
            .unwrap());
        assert_eq!(json_array(&out.stdout).len(), 3, "{uri}");
    }
    // A serial that is no token's: refused, listing what is there, nothing sent.
    let tokens = s.token_requests();
    let out = base()
        .args(["users", "--pkcs11-module", SOFTHSM, "--key"])
        .arg("pkcs11:serial=0000000000000000;object=app")
        .output()
        .unwrap();
    assert_eq!(s.token_requests(), tokens);
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(e.starts_with("error: no token"), "{e}");
    assert!(e.contains(&serial), "the tokens seen are listed: {e}");
    // GRAPHD_KEY holding the URI; user, get --all and -o csv with it.
    let with_env = |args: &[&str]| {
        ok(base()
            .env("GRAPHD_PKCS11_MODULE", SOFTHSM)
            .env("GRAPHD_KEY", APP)
            .args(args)
            .output()
            .unwrap())
    };
    let id = s.ids()[1].clone();
    let out = with_env(&["user", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], id.as_str());
    let out = with_env(&["get", "/users?$top=1", "--all", "-o", "jsonl"]);
    assert_eq!(json_lines(&out.stdout).len(), 3);
    let out = with_env(&["users", "-o", "csv", "--select", "id,displayName"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("id,displayName"), "{csv}");
    assert_eq!(
        s.token_requests(),
        tokens + 1,
        "one token, cached for the others"
    );
}

/// `cert show` of a token key without a certificate shows the key's public part; `cert new`
/// refuses an id already taken, not only a label.
#[test]
fn a_key_without_certificate_and_an_id_already_taken() {
    let s = start(1);
    let hsm = Hsm::new();
    hsm.keygen("rsa:2048", "bare", "07");
    let mut cmd = s.graphd();
    hsm.env(&mut cmd).env("GRAPHD_PKCS11_PIN", PIN);
    let out = ok(cmd
        .args(["cert", "show", "pkcs11:token=graphd;object=bare"])
        .output()
        .unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Certificate:         none on the token for this key")
            && text.contains("Key:                 RSA 2048 bits")
            && text.contains("object 'bare' (id %07)"),
        "{text}"
    );
    let mut cmd = s.graphd();
    hsm.env(&mut cmd).env("GRAPHD_PKCS11_PIN", PIN);
    let out = cmd
        .args([
            "cert",
            "new",
            "--key",
            "pkcs11:token=graphd;object=fresh;id=%07",
            "--out-cert",
        ])
        .arg(s.path("fresh.pem"))
        .output()
        .unwrap();
    let e = refused(&s, &out, 2, "already holds an object with id %07");
    assert!(e.contains("never overwrites"), "{e}");
    assert!(!s.path("fresh.pem").exists());
}

#[test]
fn keys_and_certificates_are_checked_before_anything_is_sent() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    hsm.keygen("rsa:1024", "small", "02");
    hsm.keygen("EC:prime256v1", "ec", "03");
    let out = users(&s, &hsm, "pkcs11:token=graphd;object=small")
        .output()
        .unwrap();
    refused(&s, &out, 3, "has 1024 bits, fewer than the 2048");
    let out = users(&s, &hsm, "pkcs11:token=graphd;object=ec")
        .output()
        .unwrap();
    refused(&s, &out, 3, "is an EC key, not RSA");
    // A certificate of another key.
    let other = s.path("other.pem");
    let other_key = s.path("other.key");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x", "-keyout",
        ])
        .arg(&other_key)
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(status.status.success());
    let out = users(&s, &hsm, APP)
        .arg("--cert")
        .arg(&other)
        .output()
        .unwrap();
    refused(&s, &out, 3, "does not match the certificate");
    // A key with neither --cert nor a certificate on the token.
    hsm.keygen("rsa:2048", "bare", "04");
    let out = users(&s, &hsm, "pkcs11:token=graphd;object=bare")
        .output()
        .unwrap();
    let e = refused(&s, &out, 3, "holds no certificate with the id or label");
    assert!(e.contains("--store-cert"), "{e}");
    // pin-value is refused (exit 2) without echoing it.
    let out = users(&s, &hsm, &format!("{APP}?pin-value=31337"))
        .output()
        .unwrap();
    let e = refused(
        &s,
        &out,
        2,
        "the PKCS#11 URI from flag --key cannot be used",
    );
    assert!(
        !e.contains("31337") && e.contains("pin-source=file:PATH"),
        "{e}"
    );
}

#[test]
fn pin_sources_stdin_file_prompt_and_none() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let graphd = || {
        let mut cmd = s.graphd();
        hsm.env(&mut cmd).args(["users", "--no-token-cache"]);
        cmd
    };
    ok(graphd()
        .args(["--pin-stdin", "--key", APP])
        .write_stdin(format!("{PIN}\n"))
        .output()
        .unwrap());
    // pin-source=file: in the URI; a file others can read is refused like a key file.
    let pin_file = s.path("pin");
    write_private(&pin_file, format!("{PIN}\n").as_bytes());
    let with_file = format!("{APP}?pin-source=file:{}", pin_file.display());
    ok(graphd().args(["--key", &with_file]).output().unwrap());
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = s.token_requests();
    let out = graphd().args(["--key", &with_file]).output().unwrap();
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(
        e.contains("is readable or writable by others") && e.contains("chmod 600"),
        "{e}"
    );
    assert_eq!(s.token_requests(), before);
    // No PIN and no terminal: said so, nothing tried.
    let out = graphd().args(["--key", APP]).output().unwrap();
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(
        e.contains("needs a PIN and none was given") && e.contains("GRAPHD_PKCS11_PIN"),
        "{e}"
    );
    assert_eq!(s.token_requests(), before);
    // --pin-stdin and another stdin reader: refused as usage.
    let out = graphd()
        .args(["--pin-stdin", "--key", APP, "--cert", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A no-echo prompt on a terminal: the PIN typed is not shown.
    let mut g = s.std_graphd();
    g.env("SOFTHSM2_CONF", hsm.conf())
        .env("GRAPHD_PKCS11_MODULE", SOFTHSM);
    let out = on_terminal(
        g,
        &["users", "--no-token-cache", "-o", "jsonl", "--key", APP],
        &["PIN for token 'graphd'"],
        &[PIN],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(!shown.contains(PIN), "the PIN was echoed: {shown}");
    assert_eq!(s.token_requests(), before + 1);
}

#[test]
fn the_pin_never_appears_at_any_verbosity() {
    let s = start(2);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    for args in [
        vec!["users", "-vvv"],
        vec!["token", "-vvv"],
        vec!["config", "show", "-vvv"],
        vec!["cert", "list", "-vvv"],
    ] {
        let mut cmd = s.graphd();
        hsm.env(&mut cmd)
            .env("GRAPHD_PKCS11_PIN", PIN)
            .args(["--key", APP])
            .args(&args);
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
        assert!(out.status.success(), "{args:?}: {all}");
        assert!(!all.contains(PIN), "{args:?} shows the PIN: {all}");
    }
    // config show names the token key and where the PIN comes from, redacted.
    let mut cmd = s.graphd();
    hsm.env(&mut cmd)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["--key", APP, "config", "show", "-o", "json"]);
    let out = ok(cmd.output().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["credential"]["value"]
            .as_str()
            .unwrap()
            .contains("pkcs11:token=graphd;object=app"),
        "{v}"
    );
    assert_eq!(v["credential"]["from"], "flag --key");
    assert!(
        v["PKCS#11 PIN"]["value"]
            .as_str()
            .unwrap()
            .contains("[redacted]"),
        "{v}"
    );
    assert_eq!(v["PKCS#11 module"]["value"], SOFTHSM);
}

#[test]
fn several_processes_share_the_token_at_once() {
    let s = start(2);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    // Six processes, each with its own session and login, at once. SoftHSM's file store is not
    // safe for that by itself (each login rewrites the token's file and another process
    // reading it meanwhile fails: docs/keys-in-hardware.md); the shim makes each PKCS#11 call
    // atomic across processes, as a real token is, so what is tested is graphd's side: no
    // exclusive hold on the token, one login per process, nothing shared but the token.
    let log = s.path("calls.log");
    let serial = s.path("token.serial");
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = s.std_graphd();
            cmd.env("SOFTHSM2_CONF", hsm.conf())
                .env("GRAPHD_PKCS11_MODULE", fault_module())
                .env("P11FAULT_MODULE", SOFTHSM)
                .env("P11FAULT_LOG", &log)
                .env("P11FAULT_SERIAL", &serial)
                .env("GRAPHD_PKCS11_PIN", PIN)
                .args(["users", "--no-token-cache", "--key", APP])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for c in children {
        ok(c.wait_with_output().unwrap());
    }
    assert_eq!(s.token_requests(), 6);
    assert_eq!(calls(&log, "C_Login"), 6, "one login per process");
    assert_eq!(calls(&log, "C_Initialize"), 6);
}

#[test]
fn a_module_showing_no_token_for_a_moment_is_loaded_again() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    // The first initialization lists no slot (as SoftHSM does while another process writes the
    // token's file); the second one finds the token and the run goes on.
    let log = s.path("calls.log");
    let mut cmd = s.graphd();
    hsm.faulty(&mut cmd, "no-slots-once", &log)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "-v", "--no-token-cache", "--key", APP]);
    let out = ok(cmd.output().unwrap());
    assert!(
        stderr_of(&out).contains("shows no initialized token; loading it again (1 of 3)"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(calls(&log, "C_Initialize"), 2);
    assert_eq!(calls(&log, "C_Login"), 1);
    assert_eq!(s.token_requests(), 1);
}

#[test]
fn a_module_that_never_shows_a_token_is_loaded_three_more_times_then_refused() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let log = s.path("calls.log");
    let mut cmd = s.graphd();
    hsm.faulty(&mut cmd, "no-slots", &log)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "--key", APP]);
    let e = refused(
        &s,
        &cmd.output().unwrap(),
        3,
        "no token matches pkcs11:token=graphd",
    );
    assert!(e.contains("sees no initialized token"), "{e}");
    assert_eq!(calls(&log, "C_Initialize"), 4);
    assert_eq!(calls(&log, "C_Login"), 0);
}

#[test]
fn the_parameters_file_a_profile_and_p11_kit_proxy() {
    let s = start(1);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let info = s.emu.info();
    // The quickstart's parameters.json with a URI as private_key_file (and its thumbprint).
    let thumb = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(&info.cert_pem)
        .output()
        .unwrap();
    let thumb = String::from_utf8_lossy(&thumb.stdout)
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "");
    let params = s.path("parameters.json");
    std::fs::write(
        &params,
        serde_json::json!({
            "authority": format!("{}/{}", info.authority_host_url, info.tenant_id),
            "client_id": info.client_id,
            "scope": [format!("{}/.default", info.graph_url)],
            "thumbprint": thumb,
            "private_key_file": APP,
        })
        .to_string(),
    )
    .unwrap();
    let mut cmd = s.graphd();
    hsm.env(&mut cmd)
        .env("GRAPHD_PKCS11_PIN", PIN)
        .args(["users", "--no-token-cache", "--config"])
        .arg(&params);
    ok(cmd.output().unwrap());
    assert_eq!(s.emu.log().token_requests[0].alg.as_deref(), Some("RS256"));
    // A profile whose key is a URI (no certificate: it is on the token).
    let home = s.dir.path().join("home");
    std::fs::create_dir_all(home.join(".config/graphd")).unwrap();
    std::fs::write(
        home.join(".config/graphd/config.toml"),
        format!("[profiles.hw]\nkey = \"{APP}\"\n"),
    )
    .unwrap();
    let mut cmd = s.graphd();
    hsm.env(&mut cmd).env("GRAPHD_PKCS11_PIN", PIN).args([
        "users",
        "--no-token-cache",
        "--profile",
        "hw",
    ]);
    ok(cmd.output().unwrap());
    // No module named: p11-kit's proxy, which offers SoftHSM's tokens (Debian registers it).
    // scripts/test.sh installs both (p11-kit-modules, softhsm2): no silent skip.
    for part in [
        "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
        "/usr/share/p11-kit/modules/softhsm2.module",
    ] {
        assert!(
            Path::new(part).exists(),
            "{part} is missing: install p11-kit-modules and softhsm2 (scripts/test.sh does)"
        );
    }
    let mut cmd = s.graphd();
    cmd.env("SOFTHSM2_CONF", hsm.conf())
        .env("GRAPHD_PKCS11_PIN", PIN)
        // Keep other registered modules (a TPM without a TPM) quiet.
        .env("TSS2_LOG", "all+NONE")
        .args(["users", "--no-token-cache", "-v", "--key", APP]);
    let out = ok(cmd.output().unwrap());
    assert!(
        stderr_of(&out).contains("p11-kit-proxy.so"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.token_requests(), 3);
}

const TPM2_PKCS11: &str = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
const TPM_PIN: &str = "Tpm~Pin~2468";

/// A software TPM (swtpm, its state in a temp dir, on a Unix socket) with a tpm2-pkcs11 token
/// `tpm` whose store is in the same temp dir: the second module the suite runs against.
struct Tpm {
    dir: tempfile::TempDir,
    swtpm: std::process::Child,
}

impl Drop for Tpm {
    fn drop(&mut self) {
        let _ = self.swtpm.kill();
        let _ = self.swtpm.wait();
    }
}

impl Tpm {
    fn start() -> Tpm {
        let dir = tempfile::tempdir().unwrap();
        for d in ["state", "store"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let sock = dir.path().join("sock");
        let swtpm = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
            .arg("--tpmstate")
            .arg(format!("dir={}", dir.path().join("state").display()))
            .arg("--server")
            .arg(format!("type=unixio,path={}", sock.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}.ctrl", sock.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("swtpm is installed (scripts/test.sh)");
        let tpm = Tpm { dir, swtpm };
        for _ in 0..200 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        tpm.tool(&["--init-token", "--label", "tpm", "--so-pin", SO_PIN]);
        tpm.tool(&[
            "--token-label",
            "tpm",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            SO_PIN,
            "--init-pin",
            "--pin",
            TPM_PIN,
        ]);
        tpm
    }

    fn envs(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "TPM2_PKCS11_TCTI",
                format!("swtpm:path={}", self.dir.path().join("sock").display()),
            ),
            (
                "TPM2_PKCS11_STORE",
                self.dir.path().join("store").display().to_string(),
            ),
            // tpm2-tss logs to stderr by default; the tests read graphd's stderr.
            ("TSS2_LOG", "all+NONE".into()),
        ]
    }

    fn tool(&self, args: &[&str]) -> String {
        let out = Command::new("pkcs11-tool")
            .args(["--module", TPM2_PKCS11])
            .args(args)
            .envs(self.envs())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn a_tpm_through_tpm2_pkcs11_as_a_second_module() {
    if !Path::new(TPM2_PKCS11).exists() {
        panic!("libtpm2-pkcs11-1 is installed by scripts/test.sh");
    }
    let s = start(2);
    let hsm = Hsm::new();
    with_app_key(&s, &hsm);
    let tpm = Tpm::start();
    let graphd = || {
        let mut cmd = s.graphd();
        cmd.envs(tpm.envs())
            .env("SOFTHSM2_CONF", hsm.conf())
            .env("GRAPHD_PKCS11_MODULE", TPM2_PKCS11)
            .env("GRAPHD_PKCS11_PIN", TPM_PIN);
        cmd
    };
    // The key pair made inside the TPM, the certificate signed by it and stored beside it.
    let pem = s.path("tpm.pem");
    let out = ok(graphd()
        .args([
            "cert",
            "new",
            "--key",
            "pkcs11:token=tpm;object=tpm-key",
            "--hours",
            "24",
            "--store-cert",
            "--out-cert",
        ])
        .arg(&pem)
        .output()
        .unwrap());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("never extractable"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let verify = Command::new("openssl")
        .args(["verify", "-check_ss_sig", "-partial_chain", "-CAfile"])
        .arg(&pem)
        .arg(&pem)
        .output()
        .unwrap();
    assert!(verify.status.success());
    let objects = tpm.tool(&[
        "--token-label",
        "tpm",
        "--login",
        "--pin",
        TPM_PIN,
        "--list-objects",
        "--type",
        "privkey",
    ]);
    assert!(objects.contains("never extractable"), "{objects}");

    // A nightly rotation from the key on the HSM to the key in the TPM, two modules in one
    // process: the current key's module and PIN come from its URI, the new one's from env.
    // tpm2-pkcs11 offers no PSS mechanism, so RS256.
    let pin_file = s.path("hsm-pin");
    write_private(&pin_file, PIN.as_bytes());
    let current = format!(
        "{APP}?module-path={SOFTHSM}&pin-source=file:{}",
        pin_file.display()
    );
    let out = ok(graphd()
        .args([
            "cert",
            "rotate",
            "-v",
            "--assertion-alg",
            "rs256",
            "--key",
            &current,
            "--new-key",
            "pkcs11:token=tpm;object=tpm-key",
        ])
        .output()
        .unwrap());
    let e = stderr_of(&out);
    assert!(
        e.contains("logged in to token 'graphd'") && e.contains("logged in to token 'tpm'"),
        "{e}"
    );
    assert!(!e.contains(PIN) && !e.contains(TPM_PIN), "{e}");

    // PS256 needs a mechanism tpm2-pkcs11 lacks: said before anything is sent.
    let before = s.token_requests();
    let out = graphd()
        .args(["users", "--key", "pkcs11:token=tpm;object=tpm-key"])
        .output()
        .unwrap();
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(
        e.contains("cannot sign PS256") && e.contains("--assertion-alg rs256"),
        "{e}"
    );
    assert_eq!(s.token_requests(), before);
    // RS256 from the TPM, then warm: no token request.
    for _ in 0..2 {
        ok(graphd()
            .args([
                "users",
                "--assertion-alg",
                "rs256",
                "--key",
                "pkcs11:token=tpm;object=tpm-key",
            ])
            .output()
            .unwrap());
    }
    assert_eq!(s.token_requests(), before + 1);
    assert_eq!(
        s.emu.log().token_requests.last().unwrap().alg.as_deref(),
        Some("RS256")
    );
}

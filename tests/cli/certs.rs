//! Certificates as people have them (PEM in every arrangement, PKCS#12 modern and legacy,
//! encrypted keys, stdin, /dev/fd, base64, thumbprint-only, x5c chains), the checks made
//! before anything is sent (each proven by zero token requests), and `graphd cert new|show`.
//! Files are made with the `openssl` command, as people make them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use graphd_emulator::{ClientCertSpec, ClientKey, generate_client_cert};

use super::util::*;

const PASSWORD: &str = "Pfx~Pa55.word";

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `cert` + `key` as a PKCS#12 file protected by `PASSWORD` (`legacy`: RC2-40/3DES, as
/// older Windows exports are).
fn export_pfx(cert: &Path, key: &Path, out: &Path, legacy: bool) {
    let pass = format!("pass:{PASSWORD}");
    let mut args = vec!["pkcs12", "-export"];
    if legacy {
        args.push("-legacy");
    }
    args.extend([
        "-in",
        p(cert),
        "-inkey",
        p(key),
        "-out",
        p(out),
        "-passout",
        &pass,
    ]);
    openssl(&args);
}

/// `key` as an encrypted PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`) under `PASSWORD`.
fn encrypt_pkcs8(key: &Path, out: &Path) {
    let pass = format!("pass:{PASSWORD}");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        p(key),
        "-out",
        p(out),
        "-passout",
        &pass,
    ]);
}

/// The emulator's registered certificate and key, as paths.
fn app_cert(s: &Setup) -> (PathBuf, PathBuf) {
    let info = s.emu.info();
    (info.cert_pem.clone(), info.key_pem.clone())
}

fn refused(s: &Setup, out: std::process::Output, code: i32, needle: &str) -> String {
    let e = stderr_of(&out);
    assert_eq!(out.status.code(), Some(code), "{e}");
    assert!(
        e.lines().next().unwrap_or("").contains(needle),
        "{needle:?} in {e}"
    );
    assert!(e.contains("hint: "), "{e}");
    assert!(!e.contains("PRIVATE KEY") && !e.contains(PASSWORD), "{e}");
    assert_eq!(s.token_requests(), 0, "nothing was sent");
    e
}

#[test]
fn pkcs12_modern_legacy_base64_and_from_stdin() {
    let s = start(3);
    let (cert, key) = app_cert(&s);
    let modern = s.path("modern.pfx");
    let legacy = s.path("legacy.pfx");
    export_pfx(&cert, &key, &modern, false);
    export_pfx(&cert, &key, &legacy, true);
    for pfx in [&modern, &legacy] {
        let out = s
            .graphd()
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
            .arg("users")
            .arg("--cert")
            .arg(pfx)
            .arg("--no-token-cache")
            .output()
            .unwrap();
        assert_eq!(json_array(&ok(out).stdout).len(), 3, "{}", pfx.display());
    }
    // The password from stdin, and AZURE_CLIENT_CERTIFICATE_PATH meaning the same as --cert.
    let out = s
        .graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PATH", &legacy)
        .args(["users", "--cert-password-stdin", "--no-token-cache"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    ok(out);
    // base64 PKCS#12 content on stdin, as a CI secret store holds it: no file on disk.
    let b64 = base64_of(&std::fs::read(&modern).unwrap());
    let out = s
        .graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
        .args(["users", "--cert", "-", "--no-token-cache"])
        .write_stdin(b64)
        .output()
        .unwrap();
    ok(out);
    assert_eq!(s.token_requests(), 4);
    assert!(
        s.emu
            .log()
            .token_requests
            .iter()
            .all(|r| r.status == 200 && r.alg.as_deref() == Some("PS256"))
    );
}

fn base64_of(bytes: &[u8]) -> String {
    let out = Command::new("openssl")
        .args(["base64", "-A"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn wrong_or_missing_pkcs12_password_is_said_so_before_sending() {
    let s = start(1);
    let (cert, key) = app_cert(&s);
    let legacy = s.path("legacy.pfx");
    export_pfx(&cert, &key, &legacy, true);
    let out = s
        .graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong")
        .arg("users")
        .arg("--cert")
        .arg(&legacy)
        .output()
        .unwrap();
    let e = refused(&s, out, 3, "the password for");
    assert!(
        e.contains("is wrong") && !e.contains("mac verify") && !e.contains("unsupported"),
        "{e}"
    );
    let out = s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&legacy)
        .output()
        .unwrap();
    refused(&s, out, 3, "is encrypted and no password was given");
}

#[test]
fn encrypted_keys_pkcs8_and_traditional() {
    let s = start(2);
    let (cert, key) = app_cert(&s);
    let pkcs8 = s.path("enc8.pem");
    let trad = s.path("trad.pem");
    encrypt_pkcs8(&key, &pkcs8);
    openssl(&[
        "rsa",
        "-in",
        p(&key),
        "-aes256",
        "-traditional",
        "-out",
        p(&trad),
        "-passout",
        &format!("pass:{PASSWORD}"),
    ]);
    assert!(
        std::fs::read_to_string(&pkcs8)
            .unwrap()
            .contains("BEGIN ENCRYPTED PRIVATE KEY")
    );
    assert!(
        std::fs::read_to_string(&trad)
            .unwrap()
            .contains("Proc-Type: 4,ENCRYPTED")
    );
    for k in [&pkcs8, &trad] {
        // Encrypted key files may be readable by others: the key is protected by the password.
        std::fs::set_permissions(k, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = s
            .graphd()
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
            .arg("users")
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(k)
            .arg("--no-token-cache")
            .output()
            .unwrap();
        ok(out);
    }
    let before = s.token_requests();
    let out = s
        .graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "nope")
        .arg("users")
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&trad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("the password for") && stderr_of(&out).contains("is wrong"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.token_requests(), before);
}

#[test]
fn combined_pem_in_both_orders_stdin_and_dev_fd() {
    let s = start(2);
    let (cert, key) = app_cert(&s);
    let (c, k) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    for (name, bytes) in [
        ("cert-first.pem", [c.clone(), k.clone()].concat()),
        ("key-first.pem", [k.clone(), c.clone()].concat()),
    ] {
        let path = s.path(name);
        write_private(&path, &bytes);
        ok(s.graphd()
            .arg("users")
            .arg("--cert")
            .arg(&path)
            .arg("--no-token-cache")
            .output()
            .unwrap());
    }
    // The certificate on stdin, the key from a file; and the key on stdin.
    ok(s.graphd()
        .args(["users", "--no-token-cache", "--cert", "-", "--key"])
        .arg(&key)
        .write_stdin(c.clone())
        .output()
        .unwrap());
    ok(s.graphd()
        .args(["users", "--no-token-cache", "--key", "-", "--cert"])
        .arg(&cert)
        .write_stdin(k.clone())
        .output()
        .unwrap());
    // /dev/fd/N, as a shell's process substitution or a CI runner passes secrets.
    let mut cmd = s.std_graphd();
    let graphd = cmd.get_program().to_owned();
    cmd.env("G", graphd).env("CERT", &cert).env("KEY", &key);
    let out = Command::new("bash")
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .args([
            "-c",
            r#""$G" users --no-token-cache --cert /dev/fd/3 --key /dev/fd/4 3<"$CERT" 4<"$KEY""#,
        ])
        .output()
        .unwrap();
    ok(out);
    assert_eq!(s.token_requests(), 5);
}

#[test]
fn thumbprint_and_key_is_the_quickstart_form() {
    let s = start(2);
    let (cert, key) = app_cert(&s);
    let out = Command::new("openssl")
        .args(["x509", "-in", p(&cert), "-noout", "-fingerprint", "-sha1"])
        .output()
        .unwrap();
    let fp = String::from_utf8(out.stdout).unwrap();
    let colons = fp.trim().split_once('=').unwrap().1.to_ascii_lowercase(); // aa:bb:..., as some tools show it
    let out = s
        .graphd()
        .args(["users", "-v", "--thumbprint", &colons, "--key"])
        .arg(&key)
        .output()
        .unwrap();
    let out = ok(out);
    assert!(
        stderr_of(&out).contains("sending RS256 with x5t"),
        "{}",
        stderr_of(&out)
    );
    let r = &s.emu.log().token_requests[0];
    assert_eq!(
        (r.alg.as_deref(), r.thumbprint_header.as_deref()),
        (Some("RS256"), Some("x5t"))
    );
    let out = s
        .graphd()
        .args(["users", "--thumbprint", "12:34", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A CA and a leaf it issued, for Subject Name + Issuer authentication.
fn ca_and_leaf(s: &Setup) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca, leaf_key, csr, leaf) = (
        s.path("ca.key"),
        s.path("ca.pem"),
        s.path("leaf.key"),
        s.path("leaf.csr"),
        s.path("leaf.pem"),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        p(&ca_key),
        "-out",
        p(&ca),
        "-days",
        "30",
        "-subj",
        "/CN=Contoso Test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        p(&leaf_key),
        "-out",
        p(&csr),
        "-subj",
        "/CN=ci.contoso.example",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        p(&csr),
        "-CA",
        p(&ca),
        "-CAkey",
        p(&ca_key),
        "-CAcreateserial",
        "-out",
        p(&leaf),
        "-days",
        "2",
    ]);
    let chain = s.path("chain.pem");
    write_private(
        &chain,
        &[std::fs::read(&leaf).unwrap(), std::fs::read(&ca).unwrap()].concat(),
    );
    std::fs::set_permissions(&leaf_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (chain, leaf_key, ca)
}

#[test]
fn chain_with_x5c_for_subject_name_and_issuer() {
    let s = start(2);
    let (chain, leaf_key, ca) = ca_and_leaf(&s);
    s.emu
        .trust_subject_issuer("CN=ci.contoso.example", &std::fs::read(&ca).unwrap())
        .unwrap();
    // Without x5c, Entra cannot know the certificate: not registered by thumbprint.
    let out = s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&chain)
        .arg("--key")
        .arg(&leaf_key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("AADSTS700027"),
        "{}",
        stderr_of(&out)
    );
    ok(s.graphd()
        .arg("users")
        .arg("--send-x5c")
        .arg("--cert")
        .arg(&chain)
        .arg("--key")
        .arg(&leaf_key)
        .output()
        .unwrap());
    ok(s.graphd()
        .env("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true")
        .args([
            "users",
            "--no-token-cache",
            "--assertion-alg",
            "rs256",
            "--cert",
        ])
        .arg(&chain)
        .arg("--key")
        .arg(&leaf_key)
        .output()
        .unwrap());
    let log = s.emu.log();
    let ok_x5c: Vec<bool> = log
        .token_requests
        .iter()
        .map(|r| r.has_x5c && r.status == 200)
        .collect();
    assert_eq!(ok_x5c, [false, true, true]);
}

#[test]
fn key_file_permissions_like_ssh() {
    let s = start(1);
    let (cert, key) = app_cert(&s);
    let loose = s.path("loose.pem");
    std::fs::copy(&key, &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&loose)
        .output()
        .unwrap();
    let e = refused(&s, out, 3, "readable or writable by others (mode 644)");
    assert!(e.contains(&format!("chmod 600 {}", loose.display())), "{e}");
    ok(s.graphd()
        .arg("users")
        .arg("--allow-insecure-key-file")
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&loose)
        .output()
        .unwrap());
}

fn generated(s: &Setup, name: &str, not_before: i64, not_after: i64) -> (PathBuf, PathBuf) {
    let g = generate_client_cert(&ClientCertSpec {
        key: ClientKey::Rsa(2048),
        not_before,
        not_after,
        common_name: name.into(),
    })
    .unwrap();
    let (c, k) = (
        s.path(&format!("{name}.pem")),
        s.path(&format!("{name}.key")),
    );
    write_private(&c, &g.cert_pem);
    write_private(&k, &g.key_pem);
    s.emu.register_cert_pem(&g.cert_pem).unwrap();
    (c, k)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn validity_window_and_expiry_warning_scaled_to_lifetime() {
    let s = start(1);
    let day = 86_400;
    let (c, k) = generated(&s, "expired", now() - 30 * day, now() - day);
    let e = refused(
        &s,
        s.graphd()
            .arg("users")
            .arg("--cert")
            .arg(&c)
            .arg("--key")
            .arg(&k)
            .output()
            .unwrap(),
        3,
        "has expired (valid ",
    );
    assert!(e.contains("GMT to "), "names the dates: {e}");
    let (c, k) = generated(&s, "future", now() + day, now() + 30 * day);
    refused(
        &s,
        s.graphd()
            .arg("users")
            .arg("--cert")
            .arg(&c)
            .arg("--key")
            .arg(&k)
            .output()
            .unwrap(),
        3,
        "is not valid yet",
    );

    // A year-long certificate with 10 days left warns; a 24-hour CI certificate 1 hour old does not.
    let (c, k) = generated(&s, "yearly", now() - 355 * day, now() + 10 * day);
    let out = ok(s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&c)
        .arg("--key")
        .arg(&k)
        .output()
        .unwrap());
    assert!(
        stderr_of(&out).contains("expires in 10 days"),
        "{}",
        stderr_of(&out)
    );
    let (c, k) = generated(&s, "ci", now() - 3600, now() + 23 * 3600);
    let out = ok(s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&c)
        .arg("--key")
        .arg(&k)
        .output()
        .unwrap());
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
}

#[test]
fn cert_show_matches_openssl_and_the_emulator() {
    let s = shared();
    let g = generate_client_cert(&ClientCertSpec::default()).unwrap();
    let path = s.path("show.pem");
    write_private(&path, &g.cert_pem);
    let out = ok(s
        .graphd()
        .args(["cert", "show", "--json"])
        .arg(&path)
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["thumbprint"], g.sha1_thumbprint_hex);
    assert_eq!(v["x5t"], g.x5t);
    assert_eq!(v["x5t#S256"], g.x5t_s256);
    for (alg, field) in [("-sha1", "thumbprint"), ("-sha256", "sha256Thumbprint")] {
        let o = Command::new("openssl")
            .args(["x509", "-in", p(&path), "-noout", "-fingerprint", alg])
            .output()
            .unwrap();
        let fp: String = String::from_utf8(o.stdout)
            .unwrap()
            .trim()
            .split_once('=')
            .unwrap()
            .1
            .replace(':', "");
        assert_eq!(v[field], fp, "{alg}");
    }
    assert_eq!(
        (v["keyType"].as_str(), v["keySize"].as_u64()),
        (Some("RSA"), Some(2048))
    );
    let out = ok(s
        .graphd()
        .args(["cert", "show", "--manifest"])
        .arg(&path)
        .output()
        .unwrap());
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["customKeyIdentifier"], g.sha1_thumbprint_hex);
    assert_eq!(
        (m["type"].as_str(), m["usage"].as_str()),
        (Some("AsymmetricX509Cert"), Some("Verify"))
    );
    let human = String::from_utf8(
        ok(s.graphd()
            .args(["cert", "show"])
            .arg(&path)
            .output()
            .unwrap())
        .stdout,
    )
    .unwrap();
    assert!(
        human.contains(&format!("Thumbprint (SHA-1):  {}", g.sha1_thumbprint_hex)),
        "{human}"
    );
}

#[test]
fn cert_new_works_end_to_end_with_the_right_modes() {
    let s = start(2);
    let (c, k, pfx) = (s.path("new.pem"), s.path("new.key"), s.path("new.pfx"));
    let out = s
        .graphd()
        .args([
            "cert",
            "new",
            "--subject",
            "CN=graphd-test",
            "--hours",
            "24",
            "--key-size",
            "3072",
            "--out-cert",
        ])
        .arg(&c)
        .arg("--out-key")
        .arg(&k)
        .arg("--pfx")
        .arg(&pfx)
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    let out = ok(out);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.contains("Key:                 RSA 3072 bits")
            && text.contains("Subject:             CN=graphd-test"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD) && !stderr_of(&out).contains(PASSWORD));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&k), mode(&pfx)), (0o600, 0o600));
    assert_eq!(
        mode(&c) & 0o077 & 0o022,
        0,
        "the certificate is not writable by others"
    );

    // Registered as an admin would, it works with both the PEM pair and the PFX.
    s.emu
        .register_cert_pem(&std::fs::read(&c).unwrap())
        .unwrap();
    ok(s.graphd()
        .arg("users")
        .arg("--cert")
        .arg(&c)
        .arg("--key")
        .arg(&k)
        .output()
        .unwrap());
    ok(s.graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
        .args(["users", "--no-token-cache", "--cert"])
        .arg(&pfx)
        .output()
        .unwrap());

    // Never overwrites: the existing key is untouched.
    let before = std::fs::read(&k).unwrap();
    let out = s
        .graphd()
        .args(["cert", "new", "--out-cert"])
        .arg(s.path("other.pem"))
        .arg("--out-key")
        .arg(&k)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("already exists"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(std::fs::read(&k).unwrap(), before);
    assert!(
        !s.path("other.pem").exists(),
        "nothing written when one output exists"
    );
}

#[test]
fn passwords_are_prompted_only_on_a_terminal_and_cert_show_reads_stdin() {
    let s = start(1);
    let (cert, key) = app_cert(&s);
    let pfx = s.path("prompt.pfx");
    export_pfx(&cert, &key, &pfx, false);
    let prompt = format!("Password for {}:", pfx.display());
    let out = super::keyring::on_terminal(
        s.std_graphd(),
        &["users", "--cert", p(&pfx)],
        &[&prompt],
        &[PASSWORD],
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains(&format!("Password for {}: ", pfx.display())),
        "{shown}"
    );
    assert!(!shown.contains(PASSWORD), "no echo: {shown}");
    assert_eq!(s.token_requests(), 1, "{shown}");

    // cert show reads the certificate from stdin: PEM, or base64 PKCS#12 with the password from env.
    let out = ok(s
        .graphd()
        .args(["cert", "show", "--json", "-"])
        .write_stdin(std::fs::read(&cert).unwrap())
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = ok(s
        .graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
        .args(["cert", "show", "--json", "-"])
        .write_stdin(base64_of(&std::fs::read(&pfx).unwrap()))
        .output()
        .unwrap());
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["thumbprint"], w["thumbprint"]);
}

#[test]
fn pfx_and_key_passwords_never_appear_at_vvv() {
    let s = start(1);
    let (cert, key) = app_cert(&s);
    let pfx = s.path("vvv.pfx");
    export_pfx(&cert, &key, &pfx, false);
    let enc = s.path("vvv-enc.pem");
    encrypt_pkcs8(&key, &enc);
    let runs = [
        s.graphd()
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
            .args(["users", "-vvv", "--no-token-cache", "--cert"])
            .arg(&pfx)
            .output()
            .unwrap(),
        s.graphd()
            .args([
                "users",
                "-vvv",
                "--no-token-cache",
                "--cert-password-stdin",
                "--cert",
            ])
            .arg(&cert)
            .arg("--key")
            .arg(&enc)
            .write_stdin(PASSWORD)
            .output()
            .unwrap(),
        s.graphd()
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "Wrong~Pa55")
            .args(["users", "-vvv", "--cert"])
            .arg(&pfx)
            .output()
            .unwrap(),
        s.graphd()
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
            .args(["cert", "show", "-vvv", "--json"])
            .arg(&pfx)
            .output()
            .unwrap(),
    ];
    for out in &runs {
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(out));
        for needle in [PASSWORD, "Wrong~Pa55", "eyJ", "PRIVATE KEY"] {
            assert!(!text.contains(needle), "{needle:?} leaked:\n{text}");
        }
    }
    assert!(runs[0].status.success() && runs[1].status.success() && runs[3].status.success());
    assert_eq!(runs[2].status.code(), Some(3));
}

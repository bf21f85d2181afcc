//! Every refusal: its exit code, a one-line error with a hint, and — for local checks —
//! proof that nothing was sent (the emulator saw zero token requests).

use graphd_emulator::{ClientCertSpec, ClientKey, GeneratedCert, generate_client_cert};

use super::util::*;

fn first_line(stderr: &str) -> &str {
    stderr.lines().next().unwrap_or("")
}

fn hint(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint in: {stderr}"))
}

#[test]
fn wrong_secret_is_7000215_with_the_secret_id_hint() {
    let s = shared();
    let out = s
        .graphd()
        .env("AZURE_CLIENT_SECRET", "not-the-secret")
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(
        first_line(&e)
            .starts_with("error: Entra refused the token request: invalid_client (AADSTS7000215)"),
        "{e}"
    );
    assert!(hint(&e).contains("Secret ID"), "{e}");
    assert!(
        e.contains("trace id: ") && e.contains("correlation id: "),
        "{e}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn expired_secret_is_7000222() {
    let s = shared();
    let out = s
        .graphd()
        .env("AZURE_CLIENT_SECRET", &s.emu.info().expired_client_secret)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(e.contains("AADSTS7000222"), "{e}");
    assert!(hint(&e).contains("expired"), "{e}");
}

#[test]
fn unregistered_certificate_is_700027_and_prints_its_thumbprint() {
    let s = shared();
    let g = generated(ClientKey::Rsa(2048));
    let (c, k) = (s.path("unreg-cert.pem"), s.path("unreg-key.pem"));
    write_private(&c, &g.cert_pem);
    write_private(&k, &g.key_pem);
    let out = s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&c)
        .arg("--key")
        .arg(&k)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(e.contains("AADSTS700027"), "{e}");
    assert!(
        hint(&e).contains(&g.sha1_thumbprint_hex),
        "the hint names the thumbprint to upload: {e}"
    );
}

#[test]
fn unknown_client_id_is_700016() {
    let s = shared();
    let out = s
        .graphd_secret()
        .env("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(e.contains("AADSTS700016"), "{e}");
    assert!(
        hint(&e).contains("11111111-2222-3333-4444-555555555555"),
        "{e}"
    );
}

#[test]
fn unknown_tenant_is_90002() {
    let s = shared();
    let out = s
        .graphd_secret()
        .env("AZURE_TENANT_ID", "nosuchtenant.onmicrosoft.com")
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(e.contains("AADSTS90002"), "{e}");
    assert!(hint(&e).contains("nosuchtenant.onmicrosoft.com"), "{e}");
}

#[test]
fn graph_403_without_permission_prints_the_consent_url() {
    let s = shared();
    let info = s.emu.info();
    let out = s
        .graphd()
        .env("AZURE_CLIENT_ID", &info.noperm_client_id)
        .env("AZURE_CLIENT_SECRET", &info.noperm_client_secret)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let e = stderr_of(&out);
    assert!(
        first_line(&e).contains("403 Authorization_RequestDenied"),
        "{e}"
    );
    assert!(hint(&e).contains("User.Read.All"), "{e}");
    let consent = format!(
        "{}/{}/adminconsent?client_id={}",
        info.authority_host_url, info.tenant_id, info.noperm_client_id
    );
    assert!(hint(&e).contains(&consent), "{e}");
    assert!(e.contains("request-id: "), "{e}");
    assert!(out.stdout.is_empty(), "no half-written array on stdout");
}

#[test]
fn unknown_select_property_is_a_graph_400() {
    let s = shared();
    let out = s
        .graphd_secret()
        .args(["users", "--select", "id,nosuchproperty"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr_of(&out).contains("HTTP 400"), "{}", stderr_of(&out));
}

/// A certificate nobody registered, valid now, with a key of the given kind.
fn generated(key: ClientKey) -> GeneratedCert {
    generate_client_cert(&ClientCertSpec {
        key,
        common_name: "not-registered".into(),
        ..Default::default()
    })
    .unwrap()
}

/// A key that Entra would refuse is refused locally, before any request.
fn refused_locally(cert_pem: &[u8], key_pem: &[u8], expect: &str) {
    let s = start(1);
    let (c, k) = (s.path("c.pem"), s.path("k.pem"));
    write_private(&c, cert_pem);
    write_private(&k, key_pem);
    let out = s
        .graphd()
        .arg("users")
        .arg("--cert")
        .arg(&c)
        .arg("--key")
        .arg(&k)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(first_line(&e).contains(expect), "{e}");
    assert!(first_line(&e).contains("k.pem"), "names the file: {e}");
    assert!(!e.contains("BEGIN"), "no key material: {e}");
    hint(&e);
    assert_eq!(s.token_requests(), 0, "nothing was sent");
    assert!(s.emu.log().graph_requests.is_empty());
}

#[test]
fn small_rsa_key_is_refused_before_sending() {
    let g = generated(ClientKey::Rsa(1024));
    refused_locally(&g.cert_pem, &g.key_pem, "1024 bits");
}

#[test]
fn ec_key_is_refused_before_sending() {
    let g = generated(ClientKey::EcP256);
    refused_locally(&g.cert_pem, &g.key_pem, "EC key, not RSA");
}

#[test]
fn mismatched_key_is_refused_before_sending() {
    let (g, other) = (
        generated(ClientKey::Rsa(2048)),
        generated(ClientKey::Rsa(2048)),
    );
    refused_locally(&g.cert_pem, &other.key_pem, "does not match");
}

#[test]
fn http_endpoints_are_refused() {
    let s = start(1);
    for (var, flag) in [
        ("GRAPHD_GRAPH_ENDPOINT", "--graph-endpoint"),
        ("AZURE_AUTHORITY_HOST", "--authority-host"),
    ] {
        let out = s
            .graphd_secret()
            .env(var, "http://127.0.0.1:9")
            .arg("users")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let e = stderr_of(&out);
        assert!(
            first_line(&e).contains(flag) && first_line(&e).contains("not https"),
            "{e}"
        );
        hint(&e);
    }
    assert_eq!(s.token_requests(), 0);
}

#[test]
fn credentials_none_or_two() {
    let s = shared();
    let out = s.graphd().arg("users").output().unwrap();
    // No credential, and the keyring (no session bus here) cannot be read: a keyring failure,
    // exit 3 whichever command meets it (it was 2 here before the exit codes were unified).
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(
        first_line(&e).starts_with("error: no credential given"),
        "{e}"
    );
    for way in [
        "AZURE_CLIENT_SECRET",
        "--secret-stdin",
        "--secret-file",
        "--cert",
        "AZURE_CLIENT_CERTIFICATE_PATH",
    ] {
        assert!(hint(&e).contains(way), "{way} in {e}");
    }
    let out = s
        .graphd_secret()
        .args(["users", "--secret-stdin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr_of(&out);
    assert_eq!(
        first_line(&e),
        "error: two credentials given: --secret-stdin and AZURE_CLIENT_SECRET (env)"
    );
}

#[test]
fn usage_errors_exit_2() {
    let s = shared();
    for args in [
        vec!["users", "--top", "0"],
        vec!["users", "--top", "1000"],
        vec!["users", "--tenant", "common"],
        vec!["users", "--tenant", "organizations"],
        vec!["users", "-o", "yaml"],
        vec!["nosuchcommand"],
    ] {
        let out = s.graphd_secret().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    let out = s
        .graphd_secret()
        .args(["users", "--tenant", "consumers"])
        .output()
        .unwrap();
    assert!(
        hint(&stderr_of(&out)).contains("tenant"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn unreachable_authority_is_a_network_error() {
    let s = shared();
    // A port on loopback where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = s
        .graphd_secret()
        .env("AZURE_AUTHORITY_HOST", format!("https://127.0.0.1:{port}"))
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("caused by: "),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn untrusted_tls_is_a_network_error() {
    let s = shared();
    let out = s
        .graphd_secret()
        .env_remove("GRAPHD_CA_BUNDLE")
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("caused by: "),
        "{}",
        stderr_of(&out)
    );
}

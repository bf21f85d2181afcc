//! No client secret, private key, assertion or access token ever appears in graphd's output,
//! at any verbosity, on success or failure. JWTs (assertions and tokens) all start with
//! `eyJ` (base64url of `{"`), so their absence is checked by that prefix too.

use super::util::*;

#[test]
fn vvv_logs_requests_but_no_secret_or_token() {
    let s = shared();
    let secret = s.emu.info().client_secret.clone();
    let out = s
        .graphd_secret()
        // No cache: another test on the shared emulator may have cached a token, and this
        // test needs to see the token request in the log.
        .args(["users", "-vvv", "--top", "100", "--no-token-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    // The log says what happened: method, URL, status, timing, client-request-id.
    assert!(
        e.contains("POST ") && e.contains("/oauth2/v2.0/token -> 200"),
        "{e}"
    );
    assert!(
        e.contains("GET ") && e.contains("/v1.0/users?%24top=100 -> 200"),
        "{e}"
    );
    assert!(
        e.contains(" ms ") && e.contains("client-request-id="),
        "{e}"
    );
    assert_clean(&out, &[&secret]);
}

#[test]
fn vvv_with_secret_from_stdin_and_certificate_leaks_nothing() {
    let s = shared();
    let info = s.emu.info();
    let out = s
        .graphd()
        .args(["users", "-vvv", "--secret-stdin", "--max-items", "5"])
        .write_stdin(info.client_secret.clone())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_clean(&out, &[&info.client_secret]);

    let out = s
        .graphd_cert()
        .args(["users", "-vvv", "--max-items", "5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let key = std::fs::read_to_string(&info.key_pem).unwrap();
    let key_body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_clean(&out, &key_body);
}

#[test]
fn vvv_failures_leak_nothing() {
    let s = shared();
    let info = s.emu.info();
    let wrong = "Wr0ng~Secret.Value_ThatMustNotAppear";
    let out = s
        .graphd()
        .env("AZURE_CLIENT_SECRET", wrong)
        .args(["users", "-vvv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_clean(&out, &[wrong]);

    let out = s
        .graphd()
        .env("AZURE_CLIENT_ID", &info.noperm_client_id)
        .env("AZURE_CLIENT_SECRET", &info.noperm_client_secret)
        .args(["users", "-vvv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_clean(&out, &[&info.noperm_client_secret]);
}

#[test]
fn the_secret_is_not_in_argv_even_with_a_file() {
    // The only ways to pass a secret are env, stdin and a file: a would-be flag is rejected.
    let s = shared();
    let out = s
        .graphd()
        .args(["users", "--client-secret", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = s
        .graphd()
        .args(["users", "--secret", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

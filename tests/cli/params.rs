//! The quickstart's parameters.json (`--config`), both variants, against the emulator: the
//! secret variant (works, warns once), the certificate variant (thumbprint + private_key_file,
//! signed RS256 + x5t as MSAL Python does), key + public certificate, the commented-JSON error.

use std::path::PathBuf;

use serde_json::json;

use super::util::*;

fn write_params(s: &Setup, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = s.path(name);
    write_private(&p, serde_json::to_string_pretty(v).unwrap().as_bytes());
    p
}

pub fn base_params(s: &Setup) -> serde_json::Value {
    let info = s.emu.info();
    json!({
        "authority": format!("{}/{}", info.authority_host_url, info.tenant_id),
        "client_id": info.client_id,
        "scope": [format!("{}/.default", info.graph_url)],
        "endpoint": format!("{}/v1.0/users", info.graph_url),
        "note": "tolerated, like oidc_authority",
        "oidc_authority": "https://contoso.ciamlogin.com/contoso.onmicrosoft.com",
    })
}

#[test]
fn secret_variant_lists_users_and_warns_once() {
    let s = start(30);
    let mut v = base_params(&s);
    v["secret"] = json!(s.emu.info().client_secret);
    let p = write_params(&s, "parameters.json", &v);
    let out = bare(&s)
        .arg("--config")
        .arg(&p)
        .args(["users", "-o", "jsonl", "-vvv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(ids_of(&json_lines(&out.stdout)), s.ids());
    let e = stderr_of(&out);
    assert_eq!(
        e.matches("holds a plaintext client secret").count(),
        1,
        "warns exactly once: {e}"
    );
    assert!(e.contains("graphd secret set"), "{e}");
    assert!(
        !e.contains(&s.emu.info().client_secret),
        "the secret leaked: {e}"
    );
    let log = s.emu.log();
    assert_eq!(log.token_requests[0].auth, "client_secret");
    assert_eq!(log.token_requests[0].tenant, s.emu.info().tenant_id);
}

#[test]
fn certificate_variant_thumbprint_and_private_key_file() {
    let s = start(20);
    let info = s.emu.info();
    // The quickstart's layout: the key next to parameters.json, referenced relatively.
    std::fs::copy(&info.key_pem, s.path("server.pem")).unwrap();
    let mut v = base_params(&s);
    v["thumbprint"] = json!(thumbprint(&info.cert_pem));
    v["private_key_file"] = json!("server.pem");
    let p = write_params(&s, "parameters.json", &v);
    let out = bare(&s)
        .arg("--config")
        .arg(&p)
        .args(["users", "-o", "jsonl", "--no-token-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 20);
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    let t = &s.emu.log().token_requests[0];
    assert_eq!(
        (
            t.auth.as_str(),
            t.alg.as_deref(),
            t.thumbprint_header.as_deref(),
            t.status
        ),
        ("client_assertion", Some("RS256"), Some("x5t"), 200),
        "without the certificate only the legacy form can be signed"
    );

    // With the public certificate too: PS256 + x5t#S256 by default, thumbprint checked.
    v["public_certificate_file"] = json!(info.cert_pem);
    let p = write_params(&s, "with-cert.json", &v);
    let out = bare(&s)
        .arg("--config")
        .arg(&p)
        .args(["users", "--max-items", "1", "--no-token-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let t = s.emu.log().token_requests.last().cloned().unwrap();
    assert_eq!(t.alg.as_deref(), Some("PS256"));

    // A thumbprint that does not name that certificate is refused locally.
    v["thumbprint"] = json!("00".repeat(20));
    let p = write_params(&s, "wrong.json", &v);
    let before = s.token_requests();
    let out = bare(&s)
        .arg("--config")
        .arg(&p)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("thumbprint"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(s.token_requests(), before, "nothing sent");
}

#[test]
fn commented_json_points_at_the_line() {
    let s = shared();
    let p = s.path("commented.json");
    std::fs::write(
        &p,
        "{\n    \"authority\": \"https://login.microsoftonline.com/Enter_the_Tenant_Name_Here\",\n    \"client_id\": \"your_client_id\",\n        // Specifying a scope of \".default\" ...\n    \"scope\": [ \"https://graph.microsoft.com/.default\" ]\n}\n",
    )
    .unwrap();
    let out = bare(s)
        .arg("--config")
        .arg(&p)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr_of(&out);
    assert!(
        e.starts_with(&format!("error: {} has a comment at line 4", p.display())),
        "{e}"
    );
    assert!(e.contains("hint: delete the comment at line 4"), "{e}");
    assert!(out.stdout.is_empty());
}

#[test]
fn invalid_values_name_the_key_never_the_value() {
    let s = shared();
    let mut v = base_params(s);
    v["secret"] = json!(12345678987654321u64);
    let p = write_params(s, "badtype.json", &v);
    let out = bare(s)
        .arg("--config")
        .arg(&p)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr_of(&out);
    assert!(e.contains("line") && e.contains("column"), "{e}");
    assert!(!e.contains("12345678987654321"), "{e}");

    let mut v = base_params(s);
    v["scope"] = json!(["https://graph.microsoft.com/User.Read"]);
    let p = write_params(s, "badscope.json", &v);
    let out = bare(s)
        .arg("--config")
        .arg(&p)
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("\"scope\""), "{}", stderr_of(&out));
}

//! CI pipelines: workload identity federation (a CI provider's token file) and an app rolling
//! its own certificates (`graphd cert list|add|remove|rotate`, Graph's addKey/removeKey with a
//! proof of possession), against the emulator's federated credential and application object.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphd_emulator::FederatedTokenSpec;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use super::util::*;

fn token_file(s: &Setup, name: &str, spec: &FederatedTokenSpec) -> PathBuf {
    let path = s.path(name);
    write_private(&path, s.emu.mint_federated_token(spec).as_bytes());
    path
}

#[test]
fn federated_token_file_happy_path_env_and_never_cached() {
    let s = start(3);
    let file = token_file(&s, "ci.jwt", &FederatedTokenSpec::default());
    let out = ok(s
        .graphd()
        .args(["users", "-vvv", "--federated-token-file"])
        .arg(&file)
        .output()
        .unwrap());
    assert_eq!(json_array(&out.stdout).len(), 3);
    no_jwt(&out);
    assert!(
        stderr_of(&out).contains("not cached"),
        "{}",
        stderr_of(&out)
    );
    ok(s.graphd()
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .arg("users")
        .output()
        .unwrap());
    let log = s.emu.log();
    assert_eq!(log.token_requests.len(), 2, "never cached across processes");
    assert!(
        log.token_requests
            .iter()
            .all(|r| r.auth == "federated" && r.status == 200)
    );
    assert!(
        !s.dir.path().join("home/.cache/graphd/tokens").exists()
            || std::fs::read_dir(s.dir.path().join("home/.cache/graphd/tokens"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn the_file_is_read_again_on_every_run() {
    let s = start(1);
    let file = token_file(&s, "ci.jwt", &FederatedTokenSpec::default());
    ok(s.graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&file)
        .output()
        .unwrap());
    // The provider rotates the file: an expired one now is refused, a fresh one works.
    write_private(
        &file,
        s.emu
            .mint_federated_token(&FederatedTokenSpec {
                lifetime_secs: Some(-60),
                ..Default::default()
            })
            .as_bytes(),
    );
    let out = s
        .graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    write_private(
        &file,
        s.emu
            .mint_federated_token(&FederatedTokenSpec::default())
            .as_bytes(),
    );
    ok(s.graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&file)
        .output()
        .unwrap());
    assert_eq!(s.token_requests(), 2);
}

#[test]
fn federated_refusals_before_and_by_entra() {
    let s = start(1);
    // Expired, empty, missing: refused before any request.
    let expired = token_file(
        &s,
        "old.jwt",
        &FederatedTokenSpec {
            lifetime_secs: Some(-120),
            ..Default::default()
        },
    );
    let out = s
        .graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&expired)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr_of(&out);
    assert!(
        e.starts_with(&format!(
            "error: the federated token in {} expired at 20",
            expired.display()
        )),
        "{e}"
    );
    let empty = s.path("empty.jwt");
    write_private(&empty, b"\n");
    let out = s
        .graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("is empty"));
    let out = s
        .graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(s.path("missing.jwt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(s.token_requests(), 0, "nothing sent for a local problem");

    // Entra's refusals, with the token's claims in the hint to compare with the app's record.
    for (spec, code, shown) in [
        (
            FederatedTokenSpec {
                subject: Some("repo:evil/fork:ref:refs/heads/main".into()),
                ..Default::default()
            },
            "AADSTS700213",
            "repo:evil/fork",
        ),
        (
            FederatedTokenSpec {
                audience: Some("api://something-else".into()),
                ..Default::default()
            },
            "AADSTS700212",
            "api://something-else",
        ),
        (
            FederatedTokenSpec {
                issuer: Some("https://other-issuer.example".into()),
                ..Default::default()
            },
            "AADSTS700211",
            "https://other-issuer.example",
        ),
    ] {
        let file = token_file(&s, "bad.jwt", &spec);
        let out = s
            .graphd()
            .args(["users", "-vvv", "--federated-token-file"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
        let e = stderr_of(&out);
        assert!(
            e.contains(code) && e.contains("hint: ") && e.contains(shown),
            "{code}: {e}"
        );
        no_jwt(&out);
    }
    let forged = token_file(
        &s,
        "forged.jwt",
        &FederatedTokenSpec {
            foreign_key: true,
            ..Default::default()
        },
    );
    let out = s
        .graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&forged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("AADSTS700027"),
        "{}",
        stderr_of(&out)
    );
}

fn new_cert(s: &Setup, name: &str) -> (PathBuf, PathBuf) {
    let (c, k) = (
        s.path(&format!("{name}.pem")),
        s.path(&format!("{name}.key")),
    );
    ok(s.graphd()
        .args([
            "cert",
            "new",
            "--hours",
            "24",
            "--subject",
            &format!("CN={name}"),
            "--out-cert",
        ])
        .arg(&c)
        .arg("--out-key")
        .arg(&k)
        .output()
        .unwrap());
    (c, k)
}

fn with_cert(s: &Setup, cert: &Path, key: &Path) -> assert_cmd::Command {
    let mut cmd = s.graphd();
    cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    cmd
}

fn keys(s: &Setup, cert: &Path, key: &Path) -> Vec<serde_json::Value> {
    let out = ok(with_cert(s, cert, key)
        .args(["cert", "list", "--json", "--no-token-cache"])
        .output()
        .unwrap());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn list_add_remove_and_a_removed_key_stops_working() {
    let s = start(1);
    let info = s.emu.info().clone();
    let (cur_c, cur_k) = (info.cert_pem.clone(), info.key_pem.clone());
    let listed = keys(&s, &cur_c, &cur_k);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["customKeyIdentifier"], thumbprint(&cur_c));
    assert_eq!(listed[0]["inUse"], true);

    let (new_c, new_k) = new_cert(&s, "added");
    let out = ok(with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "add", "-vvv"])
        .arg(&new_c)
        .output()
        .unwrap());
    no_jwt(&out);
    let listed = keys(&s, &cur_c, &cur_k);
    assert_eq!(listed.len(), 2);
    ok(with_cert(&s, &new_c, &new_k)
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap());

    let new_id = listed
        .iter()
        .find(|k| k["customKeyIdentifier"] == thumbprint(&new_c))
        .unwrap()["keyId"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "remove", "-vvv", &new_id])
        .output()
        .unwrap());
    no_jwt(&out);
    assert_eq!(keys(&s, &cur_c, &cur_k).len(), 1);
    let out = with_cert(&s, &new_c, &new_k)
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("AADSTS700027"),
        "the removed key no longer works: {}",
        stderr_of(&out)
    );

    // An explicit object id works the same; the app's client id in its place is not found.
    ok(with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "list", "--app-object-id", &info.app_object_id])
        .output()
        .unwrap());
    let out = with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "list", "--app-object-id", &info.client_id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn rotate_end_to_end_keep_old_and_interrupted() {
    let s = start(1);
    let info = s.emu.info().clone();
    let (cur_c, cur_k) = (info.cert_pem.clone(), info.key_pem.clone());

    // --keep-old: both work afterwards.
    let (a_c, a_k) = new_cert(&s, "a");
    let out = ok(with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "rotate", "--keep-old", "--new-cert"])
        .arg(&a_c)
        .arg("--new-key")
        .arg(&a_k)
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept the current certificate"));
    assert_eq!(keys(&s, &cur_c, &cur_k).len(), 2);

    // A full rotation from the original to b: b works, the original does not.
    let (b_c, b_k) = new_cert(&s, "b");
    let out = ok(with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "rotate", "-vvv", "--new-cert"])
        .arg(&b_c)
        .arg("--new-key")
        .arg(&b_k)
        .output()
        .unwrap());
    no_jwt(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("rotated: added keyId"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tps: Vec<String> = keys(&s, &b_c, &b_k)
        .iter()
        .map(|k| k["customKeyIdentifier"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tps.len(), 2);
    assert!(
        tps.contains(&thumbprint(&a_c))
            && tps.contains(&thumbprint(&b_c))
            && !tps.contains(&thumbprint(&cur_c))
    );
    let out = with_cert(&s, &cur_c, &cur_k)
        .args(["users", "--no-token-cache"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the old certificate was removed"
    );

    // Interrupted after add: `cert add` alone, then `rotate` completes it without adding twice.
    let (c_c, c_k) = new_cert(&s, "c");
    ok(with_cert(&s, &b_c, &b_k)
        .args(["cert", "add"])
        .arg(&c_c)
        .output()
        .unwrap());
    let out = ok(with_cert(&s, &b_c, &b_k)
        .args(["cert", "rotate", "-v", "--new-cert"])
        .arg(&c_c)
        .arg("--new-key")
        .arg(&c_k)
        .output()
        .unwrap());
    assert!(
        stderr_of(&out).contains("continuing an interrupted rotation"),
        "{}",
        stderr_of(&out)
    );
    let tps: Vec<String> = keys(&s, &c_c, &c_k)
        .iter()
        .map(|k| k["customKeyIdentifier"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tps.len(), 2, "{tps:?}");
    assert!(tps.contains(&thumbprint(&c_c)) && !tps.contains(&thumbprint(&b_c)));
}

#[test]
fn rotation_refusals_say_what_to_do() {
    let s = start(1);
    let info = s.emu.info().clone();
    // A secret cannot sign a proof.
    let out = s.graphd_secret().args(["cert", "list"]).output().unwrap();
    ok(out);
    let (n_c, n_k) = new_cert(&s, "n");
    let out = s
        .graphd_secret()
        .args(["cert", "rotate", "--new-cert"])
        .arg(&n_c)
        .arg("--new-key")
        .arg(&n_k)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("needs a certificate credential"),
        "{}",
        stderr_of(&out)
    );
    // An app Graph will not show its object: say where to find the object id.
    let out = s
        .graphd()
        .env("AZURE_CLIENT_ID", &info.noperm_client_id)
        .env("AZURE_CLIENT_SECRET", &info.noperm_client_secret)
        .args(["cert", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let e = stderr_of(&out);
    assert!(
        e.contains("cannot find the application object id")
            && e.contains("--app-object-id")
            && e.contains("Object ID"),
        "{e}"
    );
    // A new certificate Entra rejects: the state is reported, and nothing is removed.
    let (bad_c, bad_k) = new_cert(&s, "bad");
    std::fs::write(&bad_k, std::fs::read(&info.key_pem).unwrap()).unwrap();
    let out = s
        .graphd()
        .arg("--cert")
        .arg(&info.cert_pem)
        .arg("--key")
        .arg(&info.key_pem)
        .args(["cert", "rotate", "--new-cert"])
        .arg(&bad_c)
        .arg("--new-key")
        .arg(&bad_k)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("does not match"),
        "{}",
        stderr_of(&out)
    );
}

/// Calls addKey directly with a crafted proof, to check each rule the emulator enforces.
fn add_key_with_proof(
    s: &Setup,
    header: serde_json::Value,
    claims: serde_json::Value,
    key_pem: &[u8],
    pad: bool,
) -> (u16, String) {
    let info = s.emu.info();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_pem).unwrap()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let token: serde_json::Value = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info.authority_host_url, info.tenant_id
        ))
        .form(&[
            ("client_id", info.client_id.as_str()),
            ("client_secret", info.client_secret.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", &format!("{}/.default", info.graph_url)),
        ])
        .send()
        .unwrap()
        .bytes()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let enc = |v: &serde_json::Value| {
        let e = URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        if pad {
            format!("{e}{}", "=".repeat((4 - e.len() % 4) % 4))
        } else {
            e
        }
    };
    let mut claims = claims;
    if pad {
        // Make sure the claims need padding, so the padded proof really carries '='.
        let mut filler = String::new();
        while URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims).unwrap())
            .len()
            .is_multiple_of(4)
        {
            filler.push('x');
            claims["filler"] = serde_json::Value::String(filler.clone());
        }
    }
    let input = format!("{}.{}", enc(&header), enc(&claims));
    assert_eq!(input.contains('='), pad);
    let key = PKey::private_key_from_pem(key_pem).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let proof = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
    );
    let (new, _) = new_cert(s, &format!("p{}", uuid_like()));
    let der = openssl::x509::X509::from_pem(&std::fs::read(&new).unwrap())
        .unwrap()
        .to_der()
        .unwrap();
    let resp = http
        .post(format!("{}/v1.0/applications/{}/addKey", info.graph_url, info.app_object_id))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&serde_json::json!({
            "keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64::engine::general_purpose::STANDARD.encode(der)},
            "passwordCredential": null,
            "proof": proof,
        })).unwrap())
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn the_emulator_checks_each_proof_rule() {
    let s = start(1);
    let info = s.emu.info().clone();
    let key = std::fs::read(&info.key_pem).unwrap();
    let x5t = URL_SAFE_NO_PAD.encode(
        &*openssl::x509::X509::from_pem(&std::fs::read(&info.cert_pem).unwrap())
            .unwrap()
            .digest(MessageDigest::sha1())
            .unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": x5t});
    let claims = |iss: &str, nbf: i64, exp: i64| serde_json::json!({"aud": "00000002-0000-0000-c000-000000000000", "iss": iss, "nbf": nbf, "exp": exp});
    let good = claims(&info.app_object_id, now, now + 300);
    assert_eq!(
        add_key_with_proof(&s, header.clone(), good.clone(), &key, false).0,
        200,
        "a correct proof is accepted"
    );
    let other_key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap())
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    for (what, h, c, k, pad) in [
        (
            "iss is the client id",
            header.clone(),
            claims(&info.client_id, now, now + 300),
            key.clone(),
            false,
        ),
        (
            "expired",
            header.clone(),
            claims(&info.app_object_id, now - 1200, now - 600),
            key.clone(),
            false,
        ),
        (
            "lives over 10 minutes",
            header.clone(),
            claims(&info.app_object_id, now, now + 3600),
            key.clone(),
            false,
        ),
        (
            "signed by an unregistered key",
            header.clone(),
            good.clone(),
            other_key.clone(),
            false,
        ),
        ("padded", header.clone(), good.clone(), key.clone(), true),
    ] {
        let (status, body) = add_key_with_proof(&s, h, c, &k, pad);
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            body.contains("Authentication_MissingOrMalformed"),
            "{what}: {body}"
        );
    }
}

#[test]
fn the_emulator_binary_mints_federated_tokens_over_https() {
    // What the demo and benchmark scripts use: POST to the control endpoint in the state file.
    let s = start(1);
    let info = s.emu.info().clone();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_pem).unwrap()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let token = http
        .post(&info.federated_token_url)
        .body("{}")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(token.split('.').count(), 3);
    let file = s.path("minted.jwt");
    write_private(&file, token.as_bytes());
    ok(s.graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&file)
        .output()
        .unwrap());
    let expired = http
        .post(&info.federated_token_url)
        .body(r#"{"lifetime_secs": -60}"#)
        .send()
        .unwrap()
        .text()
        .unwrap();
    write_private(&file, expired.as_bytes());
    let out = s
        .graphd()
        .arg("users")
        .arg("--federated-token-file")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn rotate_waits_for_the_new_key_to_propagate_within_a_bound() {
    let s = start(1);
    let info = s.emu.info().clone();
    let (cur_c, cur_k) = (info.cert_pem.clone(), info.key_pem.clone());
    s.emu.set_key_propagation(3);
    // Propagation takes 3 s: rotate retries the new certificate and then completes.
    let (a_c, a_k) = new_cert(&s, "slow");
    let started = std::time::Instant::now();
    let out = ok(with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "rotate", "-v", "--keep-old", "--new-cert"])
        .arg(&a_c)
        .arg("--new-key")
        .arg(&a_k)
        .output()
        .unwrap());
    assert!(
        stderr_of(&out).contains("not accepted yet (AADSTS700027); retrying"),
        "{}",
        stderr_of(&out)
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let refused_then_ok: Vec<u16> = s
        .emu
        .log()
        .token_requests
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(
        refused_then_ok.contains(&401) && refused_then_ok.last() == Some(&200),
        "{refused_then_ok:?}"
    );

    // A propagation longer than --propagation-timeout: a bounded failure that says the state.
    s.emu.set_key_propagation(600);
    let (b_c, b_k) = new_cert(&s, "slower");
    let started = std::time::Instant::now();
    let out = with_cert(&s, &cur_c, &cur_k)
        .args(["cert", "rotate", "--propagation-timeout", "3", "--new-cert"])
        .arg(&b_c)
        .arg("--new-key")
        .arg(&b_k)
        .output()
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "bounded"
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(
        e.contains("rotation stopped: the new certificate does not work"),
        "{e}"
    );
    assert!(
        e.contains("note: state: the app now has BOTH") && e.contains("hint: next: "),
        "{e}"
    );
    assert_eq!(
        keys(&s, &cur_c, &cur_k).len(),
        3,
        "the original, the first new one (kept) and the unproven one: nothing removed"
    );
}

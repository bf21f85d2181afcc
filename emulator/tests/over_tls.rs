//! Black-box tests of the emulator over real TLS (trusting only its generated CA): the token
//! endpoint's accept/refuse rules, Graph auth, paging with verbatim nextLinks, query options,
//! single-user lookups, and the binary's state file and clean SIGTERM exit.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphd_emulator::{Emulator, Info, Options};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::x509::X509;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn client(info: &Info) -> Client {
    let ca = std::fs::read(&info.ca_pem).unwrap();
    Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn token_url(info: &Info, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/token", info.authority_host_url)
}

fn post(c: &Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = c.post(url).form(form).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

fn secret_token(c: &Client, info: &Info, id: &str, secret: &str) -> String {
    let scope = format!("{}/.default", info.graph_url);
    let (status, body) = post(
        c,
        &token_url(info, &info.tenant_id),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", &scope),
        ],
    );
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An assertion signed by hand with OpenSSL: PS256 + x5t#S256 or RS256 + x5t.
fn assertion(info: &Info, tenant: &str, pss: bool, jti: &str) -> String {
    let cert = X509::from_pem(&std::fs::read(&info.cert_pem).unwrap()).unwrap();
    let key = PKey::private_key_from_pem(&std::fs::read(&info.key_pem).unwrap()).unwrap();
    let header = if pss {
        json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(cert.digest(MessageDigest::sha256()).unwrap())})
    } else {
        json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(cert.digest(MessageDigest::sha1()).unwrap())})
    };
    let claims = json!({
        "aud": token_url(info, tenant), "iss": info.client_id, "sub": info.client_id,
        "jti": jti, "nbf": now(), "iat": now(), "exp": now() + 600,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
    if pss {
        s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        s.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
        s.set_rsa_pss_saltlen(RsaPssSaltlen::custom(32)).unwrap();
    }
    s.update(input.as_bytes()).unwrap();
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(s.sign_to_vec().unwrap())
    )
}

#[test]
fn token_endpoint_rules() {
    let emu = Emulator::start(Options::default()).unwrap();
    let info = emu.info().clone();
    let c = client(&info);
    let scope = format!("{}/.default", info.graph_url);
    let url = token_url(&info, &info.tenant_id);
    let base = |secret: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", info.client_id.as_str()),
            ("scope", scope.as_str()),
            ("client_secret", secret),
        ]
    };
    assert!(info.client_secret.len() == 40 && info.client_secret.contains('~'));

    // Success by secret on the domain (case-insensitive), with client-request-id echo.
    let crid = "5f0b7a8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
    let r = c
        .post(token_url(&info, "Contoso.onmicrosoft.com"))
        .header("client-request-id", crid)
        .header("return-client-request-id", "true")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &info.client_id),
            ("client_secret", &info.client_secret),
            ("scope", &scope),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN h2");
    assert_eq!(r.headers()["client-request-id"], crid);
    let body: Value = r.json().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body.get("refresh_in").is_none());

    let expect = |form: Vec<(&str, &str)>, tenant: &str, status: u16, error: &str, code: u32| {
        let (s, b) = post(&c, &token_url(&info, tenant), &form);
        assert_eq!((s, b["error"].as_str().unwrap()), (status, error), "{b}");
        assert_eq!(b["error_codes"], json!([code]), "{b}");
        let d = b["error_description"].as_str().unwrap();
        assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
        assert!(
            d.contains(" Trace ID: ")
                && d.contains(" Correlation ID: ")
                && d.contains(" Timestamp: ")
        );
        assert_eq!(
            b["error_uri"],
            format!("{}/error?code={code}", info.authority_host_url)
        );
        b
    };
    let t = info.tenant_id.as_str();
    let b = expect(base("wrong"), t, 401, "invalid_client", 7000215);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains(&info.client_id)
    );
    let expired = info.expired_client_secret.clone();
    let expired: &'static str = Box::leak(expired.into_boxed_str());
    expect(base(expired), t, 401, "invalid_client", 7000222);
    expect(base("x"), "common", 400, "invalid_request", 90130);
    expect(
        base("x"),
        "fabrikam.onmicrosoft.com",
        400,
        "invalid_request",
        90002,
    );
    let mut f = base("x");
    f[0].1 = "password";
    expect(f, t, 400, "unsupported_grant_type", 70003);
    let mut f = base("x");
    f[2].1 = "https://graph.microsoft.com/.default";
    expect(f, t, 400, "invalid_scope", 70011);
    let mut f = base("x");
    f[2].1 = "User.Read";
    expect(f, t, 400, "invalid_scope", 70011);
    let mut f = base("x");
    f[1].1 = "00000000-0000-0000-0000-000000000000";
    expect(f, t, 400, "unauthorized_client", 700016);
    let mut f = base("x");
    f.pop();
    expect(f, t, 400, "invalid_request", 7000218);
    // Not form-encoded.
    let r = c
        .post(&url)
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );

    // Certificate credential, both header forms; a replayed jti is accepted but logged.
    emu.clear_log();
    for (pss, jti) in [(true, "a"), (false, "b"), (true, "a")] {
        let a = assertion(&info, t, pss, jti);
        let (s, b) = post(
            &c,
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &info.client_id),
                ("scope", &scope),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &a),
            ],
        );
        assert_eq!(s, 200, "{b}");
    }
    // aud carries the tenant as in the path: an assertion for the GUID path fails on the domain.
    let a = assertion(&info, t, true, "c");
    let (s, b) = post(
        &c,
        &token_url(&info, &info.tenant_domain),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &info.client_id),
            ("scope", &scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
        ],
    );
    assert_eq!((s, &b["error_codes"]), (401, &json!([50027])));
    let (s, b) = post(
        &c,
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &info.client_id),
            ("scope", &scope),
            ("client_secret", &info.client_secret),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
        ],
    );
    assert_eq!((s, b["error"].as_str().unwrap()), (400, "invalid_request"));

    let log = emu.log();
    assert_eq!(log.token_count(), 5);
    let recs = &log.token_requests;
    assert_eq!(recs[0].thumbprint_header.as_deref(), Some("x5t#S256"));
    assert_eq!(recs[0].alg.as_deref(), Some("PS256"));
    assert_eq!(recs[1].thumbprint_header.as_deref(), Some("x5t"));
    assert!(!recs[1].replayed_jti && recs[2].replayed_jti);
    assert_eq!(recs[3].error_code, Some(50027));
    assert_eq!(recs[4].auth, "both");
    assert!(log.other_requests.is_empty());

    // Discovery documents (logged as other requests, never as token requests).
    let d: Value = c
        .get(format!(
            "{}/{t}/v2.0/.well-known/openid-configuration",
            info.authority_host_url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(d["token_endpoint"], url);
    let keys: Value = c
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    let inst: Value = c
        .get(format!(
            "{}/common/discovery/instance?api-version=1.1&authorization_endpoint={}/{t}/oauth2/v2.0/authorize",
            info.authority_host_url, info.authority_host_url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(inst["api-version"], "1.1");
    assert_eq!(emu.log().other_requests.len(), 3);
    assert_eq!(emu.log().token_count(), 5);
}

#[test]
fn graph_users_paging_and_errors() {
    let emu = Emulator::start(Options {
        users: 250,
        refresh_in_secs: Some(1800),
        ..Options::default()
    })
    .unwrap();
    let info = emu.info().clone();
    let c = client(&info);
    let token = secret_token(&c, &info, &info.client_id, &info.client_secret);
    let get = |url: &str, extra: &[(&str, &str)]| {
        let mut rb = c.get(url).bearer_auth(&token);
        for (k, v) in extra {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().unwrap();
        let status = r.status().as_u16();
        assert!(r.headers().contains_key("request-id"));
        (status, r.json::<Value>().unwrap())
    };
    let users = format!("{}/v1.0/users", info.graph_url);

    // Follow nextLinks verbatim: 250 users in pages of 100, 100, 50, equal to the directory.
    let mut all = Vec::new();
    let mut next = Some(users.clone());
    let mut pages = 0;
    while let Some(url) = next {
        let (s, b) = get(&url, &[]);
        assert_eq!(s, 200, "{b}");
        all.extend(b["value"].as_array().unwrap().iter().cloned());
        next = b["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(all, emu.users());
    let log = emu.log();
    assert_eq!(log.pages().len(), 3);
    assert_eq!(log.users_listed(), 250);
    assert_eq!(log.graph_requests[0].next_link_verbatim, None);
    assert_eq!(log.graph_requests[1].next_link_verbatim, Some(true));

    // $select, $top, $filter, $count: nextLink keeps the query in one canonical encoding.
    let (s, b) = get(
        &format!("{users}?$select=id,displayName&$top=7&$count=true"),
        &[("ConsistencyLevel", "eventual")],
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["@odata.count"], 250);
    assert_eq!(b["value"].as_array().unwrap().len(), 7);
    assert_eq!(b["value"][0].as_object().unwrap().len(), 2);
    let link = b["@odata.nextLink"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!(
            "{users}?$select=id%2CdisplayName&$top=7&$count=true&$skiptoken="
        )),
        "{link}"
    );
    let (s, b2) = get(&link, &[]);
    assert_eq!(
        (s, b2["error"]["code"].as_str()),
        (400, Some("Request_BadRequest")),
        "ConsistencyLevel must be re-sent"
    );
    let (s, b2) = get(&link, &[("ConsistencyLevel", "eventual")]);
    assert_eq!(s, 200);
    assert!(b2.get("@odata.count").is_none());
    assert_eq!(b2["value"][0]["id"], emu.users()[7]["id"]);
    // A rewritten nextLink still works but is recorded as not verbatim.
    let token_part = link.split("$skiptoken=").nth(1).unwrap();
    let (s, _) = get(
        &format!("{users}?$skiptoken={token_part}"),
        &[("ConsistencyLevel", "eventual")],
    );
    assert_eq!(s, 200);
    assert_eq!(
        emu.log().last_graph().unwrap().next_link_verbatim,
        Some(false)
    );

    // A filter across pages: "User 0100" .. "User 0199", five per page, all verbatim.
    emu.clear_log();
    let mut next = Some(format!(
        "{users}?$filter=startswith(displayName,'user 01')&$top=5"
    ));
    let mut names = Vec::new();
    while let Some(url) = next {
        let (s, b) = get(&url, &[]);
        assert_eq!(s, 200, "{b}");
        for u in b["value"].as_array().unwrap() {
            names.push(u["displayName"].as_str().unwrap().to_owned());
        }
        next = b["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(names.len(), 100);
    assert_eq!(
        (names[0].as_str(), names[99].as_str()),
        ("User 0100", "User 0199")
    );
    let log = emu.log();
    assert_eq!(log.pages().len(), 20);
    assert!(
        log.graph_requests[1..]
            .iter()
            .all(|r| r.next_link_verbatim == Some(true))
    );
    let (s, b) = get(
        &format!("{users}?$filter=userPrincipalName eq 'o''brien@contoso.onmicrosoft.com'"),
        &[],
    );
    assert_eq!(s, 200);
    assert_eq!(b["value"][0]["displayName"], "Siobhán O'Brien");
    assert!(b.get("@odata.nextLink").is_none());

    let bad = |q: &str, extra: &[(&str, &str)], status: u16, code: &str| {
        let (s, b) = get(&format!("{users}{q}"), extra);
        assert_eq!(
            (s, b["error"]["code"].as_str().unwrap()),
            (status, code),
            "{q}: {b}"
        );
        assert!(b["error"]["innerError"]["request-id"].is_string());
        b
    };
    let b = bad("?$top=1000", &[], 400, "Request_BadRequest");
    assert_eq!(
        b["error"]["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
    bad("?$top=0", &[], 400, "Request_BadRequest");
    bad("?$select=id,nope", &[], 400, "Request_BadRequest");
    bad("?$count=true", &[], 400, "Request_BadRequest");
    bad("?$skip=5", &[], 400, "Request_BadRequest");
    bad("?$skiptoken=bogus", &[], 400, "Request_BadRequest");
    bad(
        "?$filter=endswith(mail,'x')",
        &[],
        400,
        "Request_UnsupportedQuery",
    );

    // Single users: id, UPN with %23 (guest) and an apostrophe, 404.
    let (s, b) = get(
        &format!("{users}/ALEX_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"),
        &[],
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["displayName"], "Alex Wilber (Fabrikam)");
    let (s, b) = get(
        &format!("{users}/o%27brien@contoso.onmicrosoft.com?$select=mail"),
        &[],
    );
    assert_eq!(s, 200);
    assert_eq!(b.as_object().unwrap().len(), 2, "context + mail: {b}");
    let id = emu.users()[42]["id"].as_str().unwrap().to_owned();
    let (s, b) = get(&format!("{users}/{id}"), &[]);
    assert_eq!((s, b["id"].as_str()), (200, Some(id.as_str())));
    let b = bad(
        "/nobody@contoso.onmicrosoft.com",
        &[],
        404,
        "Request_ResourceNotFound",
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Resource 'nobody@contoso.onmicrosoft.com' does not exist")
    );

    // Auth failures.
    let r = c.get(&users).send().unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().unwrap();
    assert_eq!(b["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(b["error"]["message"], "Access token is empty.");
    let r = c
        .get(&users)
        .bearer_auth("x.y.z")
        .header("client-request-id", "abc")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["client-request-id"], "abc");
    let noperm = secret_token(
        &c,
        &info,
        &info.noperm_client_id,
        &info.noperm_client_secret,
    );
    let r = c.get(&users).bearer_auth(&noperm).send().unwrap();
    assert_eq!(r.status(), 403);
    let b: Value = r.json().unwrap();
    assert_eq!(b["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        b["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    assert!(!emu.log().last_graph().unwrap().authorized);
}

#[test]
fn expired_access_token_and_refresh_in() {
    let emu = Emulator::start(Options {
        users: 20,
        token_lifetime_secs: 1,
        refresh_in_secs: Some(1),
        ..Options::default()
    })
    .unwrap();
    let info = emu.info().clone();
    let c = client(&info);
    let token = secret_token(&c, &info, &info.client_id, &info.client_secret);
    std::thread::sleep(Duration::from_millis(2100));
    let r = c
        .get(format!("{}/v1.0/users", info.graph_url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().unwrap();
    assert_eq!(
        b["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );
    let dir = info.ca_pem.parent().unwrap().to_owned();
    emu.shutdown();
    assert!(!dir.exists(), "the default temp dir is removed at shutdown");
}

#[test]
fn binary_writes_state_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("graphd-emulator-bin-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let log = dir.join("requests.jsonl");
    let _ = std::fs::remove_file(&state);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_graphd-emulator"))
        .args(["--users", "30", "--state"])
        .arg(&state)
        .arg("--log")
        .arg(&log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no state file");
        std::thread::sleep(Duration::from_millis(20));
    }
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let info: Info = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(info.pid, child.id());
    let c = client(&info);
    let token = secret_token(&c, &info, &info.client_id, &info.client_secret);
    assert!(!token.is_empty());
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.contains("\"kind\":\"token\""));
    assert!(
        !lines.contains(&info.client_secret),
        "no secrets in the log"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(dir.join("ca.pem").exists() && state.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

//! Black-box tests of the managed-identity endpoints (PROTOCOL.md §8): each source with the right
//! and wrong headers, each selector, Arc's challenge round trip and a hostile realm, Service
//! Fabric's self-signed certificate trusted by thumbprint only, the token-exchange token as the
//! main app's federated credential, the faults, the log (presence, never values), and Graph
//! accepting the tokens (user-assigned #2 gets 403).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphd_emulator::{Emulator, Info, MiFault, MiFaultKind, MiIdentity, MiSource, Options};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

/// A fresh directory under the system temp dir, removed again on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "graphd-emulator-mi-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start() -> Emulator {
    Emulator::start(Options {
        users: 5,
        ..Options::default()
    })
    .unwrap()
}

/// A plain-http client (no proxy from the environment).
fn http() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A client trusting only the emulator's test CA (for Graph and the authority).
fn tls(info: &Info) -> Client {
    let ca = std::fs::read(&info.ca_pem).unwrap();
    Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn url(base: &str, params: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(base, params)
        .unwrap()
        .to_string()
}

fn imds_url(info: &Info, params: &[(&str, &str)]) -> String {
    url(
        &format!("{}/metadata/identity/oauth2/token", info.imds_url),
        params,
    )
}

fn send(rb: RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = rb.send().unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `GET /v1.0/users` with `token`: the status.
fn list_users(info: &Info, token: &str) -> u16 {
    tls(info)
        .get(format!("{}/v1.0/users?$top=2", info.graph_url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn imds_token(info: &Info, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut params = vec![
        ("api-version", "2018-02-01"),
        ("resource", info.graph_url.as_str()),
    ];
    params.extend_from_slice(extra);
    let (status, _, body) = send(
        http()
            .get(imds_url(info, &params))
            .header("Metadata", "true"),
    );
    (status, body)
}

#[test]
fn imds_needs_metadata_true_and_no_forwarding() {
    let emu = start();
    let info = emu.info().clone();
    let ok = imds_url(
        &info,
        &[("api-version", "2018-02-01"), ("resource", &info.graph_url)],
    );
    let (status, _, body) = send(http().get(&ok));
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_request_102");
    let (status, _, _) = send(http().get(&ok).header("Metadata", "True"));
    assert_eq!(status, 400, "the value must be lowercase true");
    let (status, _, body) = send(
        http()
            .get(&ok)
            .header("Metadata", "true")
            .header("X-Forwarded-For", "10.0.0.1"),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, headers, body) = send(http().get(&ok).header("Metadata", "true"));
    assert_eq!(status, 200, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    for field in [
        "access_token",
        "client_id",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
        "resource",
        "token_type",
    ] {
        assert!(body[field].is_string(), "{field} is a string: {body}");
    }
    assert_eq!(body["resource"], info.graph_url.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], info.mi_system_client_id.as_str());
    let on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let before: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(on - before, 3599);
    let token = body["access_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["aud"], info.graph_url.as_str());
    assert_eq!(c["oid"], info.mi_system_object_id.as_str());
    assert_eq!(c["appid"], info.mi_system_client_id.as_str());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["tid"], info.tenant_id.as_str());
    assert_eq!(c["roles"], serde_json::json!(["User.Read.All"]));
    assert!(
        c.get("xms_mirid").is_none(),
        "system-assigned: no resource id"
    );
    assert_eq!(list_users(&info, token), 200);
    assert!(emu.secrets_seen().iter().any(|s| s == token));

    // The log: presence flags and the query, never a header value.
    let log = emu.log().managed_identity_requests;
    assert_eq!(log.len(), 4);
    assert!(!log[0].metadata && log[1].metadata && log[2].x_forwarded_for);
    let last = &log[3];
    assert_eq!(last.source, "imds");
    assert_eq!(last.status, 200);
    assert_eq!(last.identity.as_deref(), Some("system"));
    assert_eq!(last.token_kind.as_deref(), Some("graph"));
    assert_eq!(last.api_version.as_deref(), Some("2018-02-01"));
    assert_eq!(last.resource.as_deref(), Some(info.graph_url.as_str()));
}

#[test]
fn imds_parameters_are_checked() {
    let emu = start();
    let info = emu.info().clone();
    let get = |params: &[(&str, &str)]| {
        let (status, _, body) = send(
            http()
                .get(imds_url(&info, params))
                .header("Metadata", "true"),
        );
        (status, body)
    };
    let g = info.graph_url.as_str();
    assert_eq!(get(&[("resource", g)]).0, 400, "api-version is required");
    assert_eq!(
        get(&[("api-version", "2017-01-01"), ("resource", g)]).0,
        400
    );
    assert_eq!(get(&[("api-version", "2018-02-01")]).0, 400);
    let scope = format!("{g}/.default");
    let (status, body) = get(&[("api-version", "2018-02-01"), ("resource", &scope)]);
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_resource");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS500011")
    );
    let slash = format!("{g}/");
    let (status, body) = get(&[("api-version", "2018-02-01"), ("resource", &slash)]);
    assert_eq!(status, 200, "one trailing slash is the same resource");
    assert_eq!(body["resource"], slash.as_str());
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        g,
        "the token is Graph's either way"
    );
    let (status, _, _) = send(
        http()
            .post(imds_url(
                &info,
                &[("api-version", "2018-02-01"), ("resource", g)],
            ))
            .header("Metadata", "true"),
    );
    assert_eq!(status, 405);
    let (status, _, _) = send(
        http()
            .get(format!(
                "{}/metadata/instance?api-version=2021-02-01",
                info.imds_url
            ))
            .header("Metadata", "true"),
    );
    assert_eq!(status, 404);
}

#[test]
fn imds_selects_user_assigned_identities() {
    let emu = start();
    let info = emu.info().clone();
    for (param, value) in [
        ("client_id", &info.mi_user1_client_id),
        ("object_id", &info.mi_user1_object_id),
        ("msi_res_id", &info.mi_user1_resource_id),
    ] {
        let (status, body) = imds_token(&info, &[(param, value.as_str())]);
        assert_eq!(status, 200, "{param}: {body}");
        assert_eq!(body["client_id"], info.mi_user1_client_id.as_str());
        let token = body["access_token"].as_str().unwrap();
        let c = claims(token);
        assert_eq!(c["oid"], info.mi_user1_object_id.as_str());
        assert_eq!(c["xms_mirid"], info.mi_user1_resource_id.as_str());
        assert_eq!(
            list_users(&info, token),
            200,
            "user-assigned #1 reads users"
        );
    }
    // Ids are compared case-insensitively, as Azure does.
    let upper = info.mi_user1_client_id.to_uppercase();
    assert_eq!(imds_token(&info, &[("client_id", &upper)]).0, 200);

    let (status, body) = imds_token(&info, &[("client_id", &info.mi_user2_client_id)]);
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap();
    assert!(claims(token).get("roles").is_none());
    assert_eq!(
        list_users(&info, token),
        403,
        "user-assigned #2 has no role"
    );

    let (status, body) = imds_token(
        &info,
        &[("client_id", "00000000-0000-0000-0000-000000000001")],
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "Identity not found");
    let (status, _) = imds_token(
        &info,
        &[
            ("client_id", &info.mi_user1_client_id),
            ("object_id", &info.mi_user1_object_id),
        ],
    );
    assert_eq!(status, 400, "at most one selector");
    let (status, _) = imds_token(&info, &[("mi_res_id", &info.mi_user1_resource_id)]);
    assert_eq!(status, 200, "mi_res_id is not an IMDS selector: ignored");
    let log = emu.log().managed_identity_requests;
    assert_eq!(
        log[0].selector.as_deref(),
        Some(format!("client_id={}", info.mi_user1_client_id).as_str())
    );
}

fn app_service(info: &Info, header: Option<&str>, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut params = vec![
        ("api-version", "2019-08-01"),
        ("resource", info.graph_url.as_str()),
    ];
    params.extend_from_slice(extra);
    let mut rb = http().get(url(&info.app_service_identity_endpoint, &params));
    if let Some(h) = header {
        rb = rb.header("X-IDENTITY-HEADER", h);
    }
    let (status, _, body) = send(rb);
    (status, body)
}

#[test]
fn app_service_checks_its_header_and_selects() {
    let emu = start();
    let info = emu.info().clone();
    let secret = info.app_service_identity_header.as_str();
    let (status, body) = app_service(&info, None, &[]);
    assert_eq!(status, 401);
    assert_eq!(body["statusCode"], 401);
    assert!(body["message"].is_string());
    assert_eq!(app_service(&info, Some("not-the-header"), &[]).0, 401);
    // The old protocol's `secret` header is not the 2019-08-01 one.
    let (status, _, _) = send(
        http()
            .get(url(
                &info.app_service_identity_endpoint,
                &[("api-version", "2019-08-01"), ("resource", &info.graph_url)],
            ))
            .header("secret", secret),
    );
    assert_eq!(status, 401);

    let (status, body) = app_service(&info, Some(secret), &[]);
    assert_eq!(status, 200, "{body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "client_id",
            "expires_on",
            "resource",
            "token_type"
        ]
    );
    assert!(body["expires_on"].is_string(), "epoch seconds as a string");
    assert_eq!(body["client_id"], info.mi_system_client_id.as_str());
    assert_eq!(
        list_users(&info, body["access_token"].as_str().unwrap()),
        200
    );

    for (param, value) in [
        ("client_id", &info.mi_user1_client_id),
        ("principal_id", &info.mi_user1_object_id),
        ("object_id", &info.mi_user1_object_id),
        ("mi_res_id", &info.mi_user1_resource_id),
    ] {
        let (status, body) = app_service(&info, Some(secret), &[(param, value.as_str())]);
        assert_eq!(status, 200, "{param}: {body}");
        assert_eq!(
            body["client_id"],
            info.mi_user1_client_id.as_str(),
            "{param}"
        );
    }
    let (status, body) = app_service(
        &info,
        Some(secret),
        &[("principal_id", &info.mi_user2_object_id)],
    );
    assert_eq!(status, 200);
    assert_eq!(
        list_users(&info, body["access_token"].as_str().unwrap()),
        403
    );

    let (status, body) = app_service(&info, Some(secret), &[("client_id", "nope")]);
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Unable to load the proper Managed Identity."
    );
    let (status, _) = app_service(
        &info,
        Some(secret),
        &[
            ("client_id", &info.mi_user1_client_id),
            ("mi_res_id", &info.mi_user1_resource_id),
        ],
    );
    assert_eq!(status, 400, "at most one selector");
    let (status, _, _) = send(
        http()
            .get(url(
                &info.app_service_identity_endpoint,
                &[("api-version", "2017-09-01"), ("resource", &info.graph_url)],
            ))
            .header("X-IDENTITY-HEADER", secret),
    );
    assert_eq!(status, 400, "2017-09-01 is the old protocol");
    let (status, body) = app_service(
        &info,
        Some(secret),
        &[("resource", "https://vault.azure.net")],
    );
    assert_eq!(status, 400, "a repeated resource is refused: {body}");

    // The header's value never reaches the log; it is among the secrets to look for.
    let log = emu.log().managed_identity_requests;
    assert!(log.iter().all(|r| r.source == "app_service"));
    assert!(!log[0].identity_header && log[1].identity_header && log[2].secret_header);
    assert!(!serde_json::to_string(&log).unwrap().contains(secret));
    assert!(emu.secrets_seen().iter().any(|s| s == secret));
}

#[test]
fn app_service_unknown_resource_is_a_vague_500() {
    let emu = start();
    let info = emu.info().clone();
    let mut rb = http().get(url(
        &info.app_service_identity_endpoint,
        &[
            ("api-version", "2019-08-01"),
            ("resource", "https://vault.azure.net"),
        ],
    ));
    rb = rb.header("X-IDENTITY-HEADER", &info.app_service_identity_header);
    let (status, _, body) = send(rb);
    assert_eq!(status, 500);
    assert!(body["message"].as_str().unwrap().contains("AADSTS500011"));
}

fn arc_get(
    info: &Info,
    auth: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut params = vec![
        ("api-version", "2019-11-01"),
        ("resource", info.graph_url.as_str()),
    ];
    params.extend_from_slice(extra);
    let mut rb = http()
        .get(url(&info.arc_identity_endpoint, &params))
        .header("Metadata", "true");
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    send(rb)
}

fn realm(headers: &reqwest::header::HeaderMap) -> String {
    let v = headers["www-authenticate"].to_str().unwrap();
    v.strip_prefix("Basic realm=").unwrap().to_owned()
}

#[test]
fn arc_challenge_round_trip_in_the_configured_directory() {
    let tokens = TempDir::new();
    let emu = Emulator::start(Options {
        users: 5,
        arc_token_dir: Some(tokens.path().to_owned()),
        ..Options::default()
    })
    .unwrap();
    let info = emu.info().clone();
    let dir = std::fs::canonicalize(tokens.path()).unwrap();
    assert_eq!(info.arc_token_dir, dir);
    assert!(
        info.arc_identity_endpoint
            .starts_with(&info.arc_imds_endpoint)
    );
    assert!(
        info.arc_identity_endpoint
            .ends_with("/metadata/identity/oauth2/token")
    );

    let (status, headers, body) = arc_get(&info, None, &[]);
    assert_eq!(status, 401, "{body}");
    let file = std::path::PathBuf::from(realm(&headers));
    assert_eq!(file.parent(), Some(dir.as_path()));
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("key"));
    let meta = std::fs::metadata(&file).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(meta.len() > 0 && meta.len() <= 4096);
    let secret = std::fs::read_to_string(&file).unwrap();

    let (status, _, body) = arc_get(&info, Some(&format!("Basic {secret}")), &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].is_string() && body["expires_on"].is_string());
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["oid"], info.mi_system_object_id.as_str());
    assert_eq!(list_users(&info, token), 200);

    let (status, _, _) = arc_get(&info, Some(&format!("Basic {secret}")), &[]);
    assert_eq!(status, 401, "a secret is good for one token");
    let (status, _, _) = arc_get(&info, Some("Basic wrong"), &[]);
    assert_eq!(status, 401);
    // Only the system-assigned identity.
    let (status, _, body) = arc_get(&info, None, &[("client_id", &info.mi_user1_client_id)]);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Metadata: true is required as on IMDS; 2020-06-01 (the PowerShell sample's) is accepted.
    let (status, _, _) = send(http().get(url(
        &info.arc_identity_endpoint,
        &[("api-version", "2019-11-01"), ("resource", &info.graph_url)],
    )));
    assert_eq!(status, 400);
    let (status, _, _) = arc_get(&info, None, &[]);
    assert_eq!(status, 401);

    assert_eq!(emu.arc_challenge_files().len(), 2);
    assert_eq!(
        emu.arc_authorizations(),
        vec![
            format!("Basic {secret}"),
            format!("Basic {secret}"),
            "Basic wrong".to_string()
        ]
    );
    assert!(emu.secrets_seen().contains(&secret));
    let log = emu.log().managed_identity_requests;
    assert!(!serde_json::to_string(&log).unwrap().contains(&secret));
    assert_eq!(log[0].error.as_deref(), Some("challenge"));
    assert!(log[1].authorization);

    let files = emu.arc_challenge_files();
    drop(emu);
    assert!(
        files.iter().all(|f| !f.exists()),
        "challenge files are removed at shutdown"
    );
}

#[test]
fn arc_default_directory_and_a_hostile_realm() {
    let emu = start();
    let info = emu.info().clone();
    assert!(info.arc_token_dir.ends_with("arc-tokens"));
    assert!(info.arc_token_dir.is_absolute());
    let (status, headers, _) = arc_get(&info, None, &[]);
    assert_eq!(status, 401);
    assert!(std::path::Path::new(&realm(&headers)).starts_with(&info.arc_token_dir));

    emu.set_arc_challenge_realm(Some("/etc/shadow"));
    let (status, headers, _) = arc_get(&info, None, &[]);
    assert_eq!(status, 401);
    assert_eq!(realm(&headers), "/etc/shadow");
    assert_eq!(
        emu.arc_challenge_files().len(),
        1,
        "nothing written for the hostile realm"
    );
    assert!(
        emu.arc_authorizations().is_empty(),
        "a careful client sends nothing"
    );
    // A careless one would: the value is recorded for the test to see.
    let (status, _, _) = arc_get(&info, Some("Basic root:x:0:0"), &[]);
    assert_eq!(status, 401);
    assert_eq!(
        emu.arc_authorizations(),
        vec!["Basic root:x:0:0".to_string()]
    );
    emu.set_arc_challenge_realm(None);
    let (_, headers, _) = arc_get(&info, None, &[]);
    assert_ne!(realm(&headers), "/etc/shadow");
}

#[test]
fn arc_token_dir_must_exist() {
    let missing = std::env::temp_dir().join(format!("graphd-no-such-dir-{}", std::process::id()));
    let err = Emulator::start(Options {
        users: 1,
        arc_token_dir: Some(missing),
        ..Options::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("Arc token directory"), "{err}");
}

#[test]
fn cloud_shell_hands_out_the_users_delegated_token() {
    let emu = start();
    let info = emu.info().clone();
    let post = |form: &[(&str, &str)], metadata: bool| {
        let mut rb = http().post(&info.cloud_shell_msi_endpoint).form(form);
        if metadata {
            rb = rb.header("Metadata", "true");
        }
        let (status, _, body) = send(rb);
        (status, body)
    };
    let g = info.graph_url.as_str();
    let (status, body) = post(&[("resource", g)], true);
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].is_string());
    let token = body["access_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["idtyp"], "user");
    assert_eq!(c["upn"], info.cloud_shell_user_upn.as_str());
    assert_eq!(c["oid"], info.cloud_shell_user_object_id.as_str());
    assert!(
        c["scp"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "User.Read.All")
    );
    assert!(c.get("roles").is_none());
    assert_eq!(
        list_users(&info, token),
        200,
        "Graph accepts delegated User.Read.All"
    );

    assert_eq!(post(&[("resource", g)], false).0, 400, "Metadata: true");
    assert_eq!(post(&[], true).0, 400, "resource is required");
    assert_eq!(
        post(
            &[("resource", g), ("client_id", &info.mi_user1_client_id)],
            true
        )
        .0,
        400,
        "one identity only"
    );
    let (status, body) = post(&[("resource", "api://AzureADTokenExchange")], true);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_resource"))
    );
    let (status, _, _) = send(
        http()
            .get(url(&info.cloud_shell_msi_endpoint, &[("resource", g)]))
            .header("Metadata", "true"),
    );
    assert_eq!(status, 405, "POST only");
    let log = emu.log().managed_identity_requests;
    assert_eq!(
        log[0].resource.as_deref(),
        Some(g),
        "the form's resource is logged"
    );
    assert_eq!(log[0].identity.as_deref(), Some("cloud_shell_user"));
    assert_eq!(
        log[3].selector.as_deref(),
        Some(format!("client_id={}", info.mi_user1_client_id).as_str()),
        "a selector in the form body is logged"
    );
}

/// A GET over TLS that trusts exactly the certificate whose SHA-1 thumbprint is `thumbprint`
/// (compared case-insensitively, as MSAL .NET does), with a hand-written HTTP/1.1 request.
fn get_by_thumbprint(endpoint: &str, thumbprint: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    let u = url::Url::parse(endpoint).unwrap();
    let want = thumbprint.to_ascii_uppercase();
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify_callback(SslVerifyMode::PEER, move |_, ctx| {
        // Only the leaf matters: the self-signed certificate is its own chain.
        ctx.current_cert()
            .and_then(|c| c.digest(openssl::hash::MessageDigest::sha1()).ok())
            .is_some_and(|d| d.iter().map(|b| format!("{b:02X}")).collect::<String>() == want)
    });
    let connector = b.build();
    let tcp = std::net::TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = connector
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", tcp)
        .unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tls.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8(raw).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // One chunk: size line, data, then the terminator.
        body.split_once("\r\n")
            .unwrap()
            .1
            .rsplit_once("\r\n0\r\n")
            .unwrap()
            .0
            .trim_end()
            .to_owned()
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn service_fabric_is_reached_by_thumbprint_only() {
    let emu = start();
    let info = emu.info().clone();
    assert!(
        info.service_fabric_endpoint
            .starts_with("https://127.0.0.1:")
    );
    let thumb = info.service_fabric_server_thumbprint.as_str();
    assert_eq!(thumb.len(), 40);
    assert!(
        thumb
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    // The thumbprint is the SHA-1 of the PEM's certificate.
    let pem = std::fs::read(&info.service_fabric_cert_pem).unwrap();
    let cert = openssl::x509::X509::from_pem(&pem).unwrap();
    let digest = cert.digest(openssl::hash::MessageDigest::sha1()).unwrap();
    assert_eq!(
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>(),
        thumb
    );

    // Not issued by the test CA: a client trusting only that CA cannot connect.
    let err = tls(&info)
        .get(&info.service_fabric_endpoint)
        .send()
        .unwrap_err();
    assert!(
        err.is_connect() || err.to_string().contains("certificate"),
        "{err}"
    );

    let endpoint = url(
        &info.service_fabric_endpoint,
        &[
            ("api-version", "2019-07-01-preview"),
            ("resource", &info.graph_url),
        ],
    );
    let secret = info.service_fabric_identity_header.as_str();
    let (status, body) = get_by_thumbprint(&endpoint, &thumb.to_lowercase(), &[("secret", secret)]);
    assert_eq!(status, 200, "{body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["access_token", "expires_on", "resource", "token_type"]
    );
    assert!(body["expires_on"].is_i64(), "the docs' sample: a number");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["oid"], info.mi_system_object_id.as_str());
    assert_eq!(list_users(&info, token), 200);

    let (status, body) = get_by_thumbprint(&endpoint, thumb, &[]);
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "SecretHeaderNotFound");
    let (status, body) = get_by_thumbprint(&endpoint, thumb, &[("secret", "wrong")]);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ManagedIdentityNotFound");
    let v2018 = url(
        &info.service_fabric_endpoint,
        &[("api-version", "2018-02-01"), ("resource", &info.graph_url)],
    );
    let (status, body) = get_by_thumbprint(&v2018, thumb, &[("secret", secret)]);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidApiVersion"))
    );
    let with_selector = format!("{endpoint}&client_id={}", info.mi_user1_client_id);
    assert_eq!(
        get_by_thumbprint(&with_selector, thumb, &[("secret", secret)]).0,
        400
    );

    // The "deployment" chooses the identity; the string form of expires_on is switchable.
    emu.set_service_fabric_identity(MiIdentity::User2);
    emu.set_service_fabric_string_expires_on(true);
    let (status, body) = get_by_thumbprint(&endpoint, thumb, &[("secret", secret)]);
    assert_eq!(status, 200);
    assert!(body["expires_on"].is_string());
    assert_eq!(
        list_users(&info, body["access_token"].as_str().unwrap()),
        403
    );

    let log = emu.log().managed_identity_requests;
    assert!(log.iter().all(|r| r.source == "service_fabric"));
    assert!(log[0].secret_header && !log[1].secret_header);
    assert!(!serde_json::to_string(&log).unwrap().contains(secret));
}

/// A client-credentials request for the main app with `assertion` as its `client_assertion`.
fn exchange(info: &Info, assertion: &str) -> (u16, Value) {
    let scope = format!("{}/.default", info.graph_url);
    let (status, _, body) = send(
        tls(info)
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                info.authority_host_url, info.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", info.client_id.as_str()),
                ("scope", scope.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ]),
    );
    (status, body)
}

fn exchange_token(info: &Info, selector: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("api-version", "2018-02-01"),
        ("resource", "api://AzureADTokenExchange"),
    ];
    params.extend_from_slice(selector);
    let (status, _, body) = send(
        http()
            .get(imds_url(info, &params))
            .header("Metadata", "true"),
    );
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn a_managed_identity_is_the_apps_federated_credential() {
    let emu = start();
    let info = emu.info().clone();
    assert_eq!(
        info.mi_federated_issuer,
        format!("{}/{}/v2.0", info.authority_host_url, info.tenant_id)
    );
    assert_eq!(info.token_exchange_audience, "api://AzureADTokenExchange");

    let system = exchange_token(&info, &[]);
    let c = claims(&system);
    assert_eq!(c["iss"], info.mi_federated_issuer.as_str());
    assert_eq!(c["sub"], info.mi_system_object_id.as_str());
    assert_eq!(c["aud"], "api://AzureADTokenExchange");
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    assert_eq!(list_users(&info, &system), 401, "not a Graph token");

    let (status, body) = exchange(&info, &system);
    assert_eq!(status, 200, "{body}");
    let app_token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(app_token)["appid"], info.client_id.as_str());
    assert_eq!(list_users(&info, app_token), 200);
    let rec = emu.log().token_requests.last().unwrap().clone();
    assert_eq!(rec.auth, "federated_managed_identity");

    // User-assigned #1 is not trusted until the app says so.
    let user1 = exchange_token(&info, &[("object_id", &info.mi_user1_object_id)]);
    let (status, body) = exchange(&info, &user1);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_codes"], serde_json::json!([70021]));
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.contains(&format!("Assertion Issuer: '{}'", info.mi_federated_issuer)));
    assert!(desc.contains(&format!("Assertion Subject: '{}'", info.mi_user1_object_id)));
    assert!(desc.contains("Assertion Audience: 'api://AzureADTokenExchange'"));
    emu.trust_managed_identity(&info.mi_user1_object_id);
    assert_eq!(exchange(&info, &user1).0, 200);
    emu.distrust_managed_identity(&info.mi_system_object_id);
    assert_eq!(exchange(&info, &system).0, 400);

    // A tampered signature; a Graph access token (another audience and issuer).
    let mut parts: Vec<String> = user1.split('.').map(str::to_owned).collect();
    let sig = &mut parts[2];
    let flip = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flip);
    let (status, body) = exchange(&info, &parts.join("."));
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700027))
    );
    let (_, graph) = imds_token(&info, &[("client_id", &info.mi_user1_client_id)]);
    let (status, body) = exchange(&info, graph["access_token"].as_str().unwrap());
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error_codes"][0], 700211,
        "its issuer is not a federated one"
    );
}

#[test]
fn faults_on_the_identity_endpoints() {
    let emu = start();
    let info = emu.info().clone();
    // 410 twice (IMDS upgrading), then a token.
    emu.add_mi_fault(MiFault::new(MiFaultKind::Gone).times(2));
    assert_eq!(imds_token(&info, &[]).0, 410);
    assert_eq!(imds_token(&info, &[]).0, 410);
    assert_eq!(imds_token(&info, &[]).0, 200);

    emu.add_mi_fault(MiFault::new(MiFaultKind::Throttle {
        retry_after_secs: Some(7),
    }));
    let (status, headers, _) = send(
        http()
            .get(imds_url(
                &info,
                &[("api-version", "2018-02-01"), ("resource", &info.graph_url)],
            ))
            .header("Metadata", "true"),
    );
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    emu.add_mi_fault(MiFault::new(MiFaultKind::Throttle {
        retry_after_secs: None,
    }));
    let (status, headers, _) = send(
        http()
            .get(imds_url(
                &info,
                &[("api-version", "2018-02-01"), ("resource", &info.graph_url)],
            ))
            .header("Metadata", "true"),
    );
    assert_eq!(status, 429);
    assert!(!headers.contains_key("retry-after"));
    emu.add_mi_fault(MiFault::new(MiFaultKind::ServerError));
    assert_eq!(imds_token(&info, &[]).0, 500);
    emu.add_mi_fault(MiFault::new(MiFaultKind::NotFound));
    assert_eq!(imds_token(&info, &[]).0, 404);
    emu.add_mi_fault(MiFault::new(MiFaultKind::IdentityNotFound));
    let (status, body) = imds_token(&info, &[]);
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Identity not found"))
    );

    // A fault for one source leaves the others alone, and answers in that source's shape.
    emu.add_mi_fault(MiFault::always(MiFaultKind::IdentityNotFound).on(MiSource::AppService));
    assert_eq!(imds_token(&info, &[]).0, 200);
    let (status, body) = app_service(&info, Some(&info.app_service_identity_header), &[]);
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Unable to load the proper Managed Identity."
    );
    emu.clear_mi_faults();
    assert_eq!(
        app_service(&info, Some(&info.app_service_identity_header), &[]).0,
        200
    );

    // No answer at all: the client times out; the next request is answered.
    emu.add_mi_fault(MiFault::new(MiFaultKind::NoAnswer).on(MiSource::Imds));
    let quick = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = quick
        .get(imds_url(
            &info,
            &[("api-version", "2018-02-01"), ("resource", &info.graph_url)],
        ))
        .header("Metadata", "true")
        .send()
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(imds_token(&info, &[]).0, 200);

    // A stall: the normal answer, late.
    emu.add_mi_fault(MiFault::new(MiFaultKind::Stall { secs: 1 }).after(1));
    assert_eq!(imds_token(&info, &[]).0, 200, "after(1) lets one through");
    let t = Instant::now();
    assert_eq!(imds_token(&info, &[]).0, 200);
    assert!(t.elapsed() >= Duration::from_secs(1));

    let faults: Vec<Option<String>> = emu
        .log()
        .managed_identity_requests
        .iter()
        .map(|r| r.fault.clone())
        .collect();
    assert_eq!(faults[0].as_deref(), Some("gone_410"));
    assert!(faults.iter().any(|f| f.as_deref() == Some("no_answer")));
    assert_eq!(faults.last().unwrap().as_deref(), Some("stall"));
}

#[test]
fn the_state_file_carries_the_managed_identity_fields() {
    let emu = start();
    let info = emu.info().clone();
    let dir = TempDir::new();
    let path = dir.path().join("state.json");
    info.write_state_file(&path).unwrap();
    let back: Info = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back.imds_url, info.imds_url);
    assert_eq!(back.mi_user2_resource_id, info.mi_user2_resource_id);
    assert_eq!(
        back.service_fabric_server_thumbprint,
        info.service_fabric_server_thumbprint
    );
    // An older state file without them still reads.
    let mut v: Value = serde_json::to_value(&info).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.retain(|k, _| {
        !(k.starts_with("mi_")
            || k.starts_with("imds")
            || k.starts_with("app_service")
            || k.starts_with("arc_")
            || k.starts_with("cloud_shell")
            || k.starts_with("service_fabric")
            || k == "token_exchange_audience")
    });
    let old: Info = serde_json::from_value(v).unwrap();
    assert!(old.imds_url.is_empty());
    assert!(info.mi_user1_resource_id.starts_with("/subscriptions/"));
    assert!(
        info.mi_user1_resource_id
            .contains("/providers/Microsoft.ManagedIdentity/userAssignedIdentities/")
    );
}

#[test]
fn the_binary_serves_managed_identity_with_its_arc_token_dir() {
    let dir = TempDir::new();
    let tokens = TempDir::new();
    let state = dir.path().join("state.json");
    let log = dir.path().join("requests.jsonl");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_graphd-emulator"))
        .args(["--users", "3", "--state"])
        .arg(&state)
        .arg("--log")
        .arg(&log)
        .arg("--arc-token-dir")
        .arg(tokens.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no state file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let info: Info = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(
        info.arc_token_dir,
        std::fs::canonicalize(tokens.path()).unwrap()
    );
    assert_eq!(imds_token(&info, &[]).0, 200);
    assert_eq!(
        app_service(&info, Some(&info.app_service_identity_header), &[]).0,
        200
    );
    let (status, headers, _) = arc_get(&info, None, &[]);
    assert_eq!(status, 401);
    let file = std::path::PathBuf::from(realm(&headers));
    assert!(file.starts_with(&info.arc_token_dir) && file.exists());

    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.matches("\"kind\":\"managed_identity\"").count(), 3);
    assert!(!lines.contains(&info.app_service_identity_header));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    assert!(!file.exists(), "the challenge file is removed at shutdown");
}

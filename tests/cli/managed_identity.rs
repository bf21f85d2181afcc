//! Managed identity (PROTOCOL.md §8), against the emulator's identity endpoints: each source
//! (IMDS, App Service, Service Fabric, Azure Arc, Cloud Shell) and each selector; a managed
//! identity as the app's federated credential, end to end and refused when the app does not
//! trust it; the Arc challenge file's rules (as root, in the agent's real token directory); plain
//! http refused for a non-local endpoint; retries and their time bounds; usage errors that send
//! nothing; and no secret (identity header, Arc secret, token) in any output at `-vvv`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use graphd_emulator::{
    Emulator, ManagedIdentityRecord, MiFault, MiFaultKind, MiIdentity, MiSource, Options,
};

use super::util::*;

/// Where the platform's endpoint is, as the platform would say it in the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Imds,
    AppService,
    ServiceFabric,
    Arc,
    CloudShell,
}

/// `graphd` with no app (no tenant, no client id) and `src`'s variables.
fn on(s: &Setup, src: Src) -> Command {
    let mut cmd = s.graphd();
    cmd.env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID");
    platform_env(&mut cmd, s.emu.info(), src);
    cmd
}

fn platform_env(cmd: &mut Command, info: &graphd_emulator::Info, src: Src) {
    match src {
        Src::Imds => cmd.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &info.imds_url),
        Src::AppService => cmd
            .env("IDENTITY_ENDPOINT", &info.app_service_identity_endpoint)
            .env("IDENTITY_HEADER", &info.app_service_identity_header),
        Src::ServiceFabric => cmd
            .env("IDENTITY_ENDPOINT", &info.service_fabric_endpoint)
            .env("IDENTITY_HEADER", &info.service_fabric_identity_header)
            .env(
                "IDENTITY_SERVER_THUMBPRINT",
                &info.service_fabric_server_thumbprint,
            ),
        Src::Arc => cmd
            .env("IDENTITY_ENDPOINT", &info.arc_identity_endpoint)
            .env("IMDS_ENDPOINT", &info.arc_imds_endpoint),
        // Cloud Shell's real value names localhost: graphd pins it to 127.0.0.1.
        Src::CloudShell => cmd.env(
            "MSI_ENDPOINT",
            info.cloud_shell_msi_endpoint
                .replace("127.0.0.1", "localhost"),
        ),
    };
}

/// `graphd --managed-identity ARGS` on `src`.
fn mi(s: &Setup, src: Src, args: &[&str]) -> Output {
    on(s, src)
        .arg("--managed-identity")
        .args(args)
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn mi_log(s: &Setup) -> Vec<ManagedIdentityRecord> {
    s.emu.log().managed_identity_requests
}

/// No secret the emulator issued or received (tokens, identity headers, Arc secrets) in the
/// output or under graphd's HOME, no JWT or bearer header, and neither identity header even
/// when it was not sent, nor a Basic authorization.
fn assert_mi_clean(s: &Setup, out: &Output) {
    assert_no_leak(s, out);
    let info = s.emu.info();
    assert_clean(
        out,
        &[
            &info.app_service_identity_header,
            &info.service_fabric_identity_header,
            "Basic ",
        ],
    );
}

/// An emulator whose Arc endpoint writes its challenges into `arc_dir`.
fn start_with(users: usize, arc_dir: Option<&Path>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(Options {
        users,
        dir: dir.path().join("emu"),
        arc_token_dir: arc_dir.map(Path::to_path_buf),
        ..Options::default()
    })
    .expect("emulator starts");
    Setup { emu, dir }
}

#[test]
fn imds_system_assigned_needs_no_app_and_is_never_cached() {
    let s = start_with(3, None);
    let out = ok(mi(&s, Src::Imds, &["users", "-vvv"]));
    assert_eq!(json_array(&out.stdout).len(), 3);
    assert_mi_clean(&s, &out);
    let log = mi_log(&s);
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!(
        (r.source.as_str(), r.method.as_str(), r.path.as_str()),
        ("imds", "GET", "/metadata/identity/oauth2/token")
    );
    assert!(r.metadata && !r.x_forwarded_for && !r.authorization);
    assert_eq!(r.api_version.as_deref(), Some("2018-02-01"));
    // A resource (the Graph origin), not a scope.
    assert_eq!(r.resource.as_deref(), Some(s.emu.info().graph_url.as_str()));
    assert_eq!(r.selector, None);
    assert_eq!(
        (r.identity.as_deref(), r.token_kind.as_deref(), r.status),
        (Some("system"), Some("graph"), 200)
    );
    assert_eq!(s.token_requests(), 0, "Entra is never asked");
    // No persistent cache: the next run asks the endpoint again, and nothing is written.
    ok(mi(&s, Src::Imds, &["users"]));
    assert_eq!(mi_log(&s).len(), 2);
    let cache = s.dir.path().join("home/.cache/graphd");
    let cached = std::fs::read_dir(cache.join("tokens"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(cached, 0, "no token cache entry");
}

#[test]
fn imds_selectors_name_user_assigned_identities() {
    let s = start_with(2, None);
    let info = s.emu.info().clone();
    for (flag, value, sent) in [
        (
            "--managed-identity-client-id",
            &info.mi_user1_client_id,
            "client_id",
        ),
        (
            "--managed-identity-object-id",
            &info.mi_user1_object_id,
            "object_id",
        ),
        (
            "--managed-identity-resource-id",
            &info.mi_user1_resource_id,
            "msi_res_id",
        ),
    ] {
        s.emu.clear_log();
        ok(mi(&s, Src::Imds, &["users", flag, value]));
        let r = &mi_log(&s)[0];
        assert_eq!(
            r.selector.as_deref(),
            Some(format!("{sent}={value}").as_str())
        );
        // The env form of each selector: GRAPHD_MANAGED_IDENTITY_CLIENT_ID, ..._OBJECT_ID, ...
        s.emu.clear_log();
        let var = format!(
            "GRAPHD_{}",
            flag.trim_start_matches("--")
                .replace('-', "_")
                .to_uppercase()
        );
        ok(on(&s, Src::Imds)
            .env(&var, value)
            .args(["users", "--managed-identity"])
            .output()
            .unwrap());
        assert_eq!(
            mi_log(&s)[0].selector.as_deref(),
            Some(format!("{sent}={value}").as_str()),
            "{var}"
        );
        assert_eq!(r.identity.as_deref(), Some("user1"), "{flag}");
    }
    // With --managed-identity and no selector, AZURE_CLIENT_ID names the identity ...
    s.emu.clear_log();
    ok(on(&s, Src::Imds)
        .env("AZURE_CLIENT_ID", &info.mi_user1_client_id)
        .args(["users", "--managed-identity"])
        .output()
        .unwrap());
    assert_eq!(mi_log(&s)[0].identity.as_deref(), Some("user1"));
    // ... unless a selector is given; and the env form of a selector works too.
    s.emu.clear_log();
    ok(on(&s, Src::Imds)
        .env("AZURE_CLIENT_ID", &info.mi_user2_client_id)
        .env("GRAPHD_MANAGED_IDENTITY", "1")
        .env(
            "GRAPHD_MANAGED_IDENTITY_OBJECT_ID",
            &info.mi_user1_object_id,
        )
        .arg("users")
        .output()
        .unwrap());
    assert_eq!(mi_log(&s)[0].identity.as_deref(), Some("user1"));
    // User-assigned #2 has no Graph role: Graph refuses it (exit 4).
    let out = mi(
        &s,
        Src::Imds,
        &[
            "users",
            "--managed-identity-client-id",
            &info.mi_user2_client_id,
        ],
    );
    assert_eq!(code(&out), 4, "{}", stderr_of(&out));
}

#[test]
fn identity_not_found_is_final_with_the_selector_in_the_hint() {
    let s = start_with(1, None);
    let unknown = "00000000-1111-2222-3333-444444444444";
    let started = Instant::now();
    let out = mi(
        &s,
        Src::Imds,
        &["users", "--managed-identity-client-id", unknown],
    );
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(
        e.contains("error: the IMDS endpoint has no such managed identity"),
        "{e}"
    );
    assert!(
        e.contains(&format!("client_id={unknown}")) && e.contains("--managed-identity-client-id"),
        "{e}"
    );
    assert_eq!(mi_log(&s).len(), 1, "not retried");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Without a selector, the hint is about the system-assigned identity.
    s.emu.clear_log();
    s.emu
        .add_mi_fault(MiFault::new(MiFaultKind::IdentityNotFound).on(MiSource::Imds));
    let out = mi(&s, Src::Imds, &["users"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr_of(&out).contains("System assigned"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(mi_log(&s).len(), 1);
}

#[test]
fn app_service_with_its_header_and_its_selector_names() {
    let s = start_with(2, None);
    let info = s.emu.info().clone();
    let out = ok(mi(&s, Src::AppService, &["users", "-vvv"]));
    assert_eq!(json_array(&out.stdout).len(), 2);
    assert_mi_clean(&s, &out);
    let r = &mi_log(&s)[0];
    assert_eq!(r.source, "app_service");
    assert!(r.identity_header && !r.secret_header);
    assert_eq!(r.api_version.as_deref(), Some("2019-08-01"));
    for (flag, value, sent) in [
        (
            "--managed-identity-object-id",
            &info.mi_user1_object_id,
            "principal_id",
        ),
        (
            "--managed-identity-resource-id",
            &info.mi_user1_resource_id,
            "mi_res_id",
        ),
        (
            "--managed-identity-client-id",
            &info.mi_user1_client_id,
            "client_id",
        ),
    ] {
        s.emu.clear_log();
        ok(mi(&s, Src::AppService, &["users", flag, value]));
        let r = &mi_log(&s)[0];
        assert_eq!(
            r.selector.as_deref(),
            Some(format!("{sent}={value}").as_str())
        );
        assert_eq!(r.identity.as_deref(), Some("user1"));
    }
    // A stale header: refused (401), with a hint, and it is never printed.
    let out = on(&s, Src::AppService)
        .env("IDENTITY_HEADER", "stale-identity-header-value")
        .args(["users", "--managed-identity"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    let e = stderr_of(&out);
    assert!(
        e.contains("HTTP 401") && e.contains("IDENTITY_HEADER"),
        "{e}"
    );
    assert!(!e.contains("stale-identity-header-value"));
}

#[test]
fn service_fabric_trusts_exactly_its_thumbprint() {
    let s = start_with(2, None);
    let out = ok(mi(&s, Src::ServiceFabric, &["users", "-vvv"]));
    assert_eq!(json_array(&out.stdout).len(), 2);
    assert_mi_clean(&s, &out);
    let r = &mi_log(&s)[0];
    assert_eq!(r.source, "service_fabric");
    assert!(r.secret_header && !r.identity_header);
    assert_eq!(r.api_version.as_deref(), Some("2019-07-01-preview"));
    // expires_on as a string, as the Azure SDK team saw it.
    s.emu.set_service_fabric_string_expires_on(true);
    ok(mi(&s, Src::ServiceFabric, &["users"]));
    // The thumbprint, lowercase and with colons, still names it.
    let tp = s.emu.info().service_fabric_server_thumbprint.to_lowercase();
    let colons: Vec<String> = tp
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    ok(on(&s, Src::ServiceFabric)
        .env("IDENTITY_SERVER_THUMBPRINT", colons.join(":"))
        .args(["users", "--managed-identity"])
        .output()
        .unwrap());
    // Another thumbprint: the TLS handshake fails, nothing is sent, no retry.
    s.emu.clear_log();
    let out = on(&s, Src::ServiceFabric)
        .env("IDENTITY_SERVER_THUMBPRINT", "AB".repeat(20))
        .args(["users", "--managed-identity"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(
        e.contains("TLS with the Service Fabric endpoint")
            && e.contains("IDENTITY_SERVER_THUMBPRINT"),
        "{e}"
    );
    assert!(mi_log(&s).is_empty(), "no request got through");
    // The identity is chosen at deployment: a selector is a usage error, nothing sent.
    let out = mi(
        &s,
        Src::ServiceFabric,
        &[
            "users",
            "--managed-identity-client-id",
            &s.emu.info().mi_user1_client_id,
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr_of(&out).contains("Service Fabric offers one identity only"),
        "{}",
        stderr_of(&out)
    );
    assert!(mi_log(&s).is_empty());
    // The deployment chose the identity without a Graph role.
    s.emu.set_service_fabric_identity(MiIdentity::User2);
    assert_eq!(code(&mi(&s, Src::ServiceFabric, &["users"])), 4);
}

#[test]
fn cloud_shell_is_delegated_and_says_so() {
    let s = start_with(2, None);
    let out = ok(mi(&s, Src::CloudShell, &["users", "-vvv"]));
    assert_eq!(json_array(&out.stdout).len(), 2);
    assert_mi_clean(&s, &out);
    let e = stderr_of(&out);
    assert!(
        e.contains("signed-in user's") && e.contains("delegated"),
        "{e}"
    );
    let r = &mi_log(&s)[0];
    assert_eq!(
        (r.source.as_str(), r.method.as_str()),
        ("cloud_shell", "POST")
    );
    assert!(r.metadata);
    assert_eq!(r.identity.as_deref(), Some("cloud_shell_user"));
    // One identity: selectors and the federated form are usage errors, nothing sent.
    s.emu.clear_log();
    let out = mi(
        &s,
        Src::CloudShell,
        &[
            "users",
            "--managed-identity-object-id",
            &s.emu.info().mi_user1_object_id,
        ],
    );
    assert_eq!(code(&out), 2);
    let out = s
        .graphd()
        .env("MSI_ENDPOINT", &s.emu.info().cloud_shell_msi_endpoint)
        .args(["users", "--federated-managed-identity"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr_of(&out).contains("signed-in user's"),
        "{}",
        stderr_of(&out)
    );
    assert!(mi_log(&s).is_empty());
}

#[test]
fn federated_managed_identity_end_to_end() {
    let s = start_with(3, None);
    let info = s.emu.info().clone();
    let run = || {
        let mut cmd = s.graphd();
        platform_env(&mut cmd, &info, Src::Imds);
        cmd.args(["users", "-vvv", "--federated-managed-identity"])
            .output()
            .unwrap()
    };
    let out = ok(run());
    assert_eq!(json_array(&out.stdout).len(), 3);
    assert_mi_clean(&s, &out);
    let log = s.emu.log();
    let r = &log.managed_identity_requests[0];
    assert_eq!(r.resource.as_deref(), Some("api://AzureADTokenExchange"));
    assert_eq!(
        (r.identity.as_deref(), r.token_kind.as_deref()),
        (Some("system"), Some("token_exchange"))
    );
    let t = &log.token_requests[0];
    assert_eq!(
        (t.auth.as_str(), t.status, t.client_id.as_deref()),
        (
            "federated_managed_identity",
            200,
            Some(info.client_id.as_str())
        )
    );
    // Not cached across runs: both the identity and Entra are asked again.
    ok(run());
    let log = s.emu.log();
    assert_eq!(
        (
            log.managed_identity_requests.len(),
            log.token_requests.len()
        ),
        (2, 2)
    );
    // The app's `token` works the same way.
    let mut cmd = s.graphd();
    platform_env(&mut cmd, &info, Src::AppService);
    let out = ok(cmd
        .args(["token", "--federated-managed-identity"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tenant"], info.tenant_id.as_str());
    // `user` and `get --all` as the app, switched on by the environment alone.
    let id = s.ids()[1].clone();
    let federated = |args: &[&str]| {
        let mut cmd = s.graphd();
        platform_env(&mut cmd, &info, Src::Imds);
        s.emu.clear_log();
        let out = ok(cmd
            .env("GRAPHD_FEDERATED_MANAGED_IDENTITY", "1")
            .args(args)
            .output()
            .unwrap());
        let log = s.emu.log();
        assert_eq!(
            log.token_requests
                .iter()
                .map(|t| (t.auth.as_str(), t.status))
                .collect::<Vec<_>>(),
            [("federated_managed_identity", 200)],
            "{args:?}"
        );
        out
    };
    let out = federated(&["user", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], id.as_str());
    let out = federated(&["get", "/users?$top=1", "--all", "-o", "jsonl"]);
    assert_eq!(json_lines(&out.stdout).len(), 3);
}

#[test]
fn federated_managed_identity_refused_when_the_app_does_not_trust_it() {
    let s = start_with(1, None);
    let info = s.emu.info().clone();
    let run = |extra: &[&str]| {
        let mut cmd = s.graphd();
        platform_env(&mut cmd, &info, Src::Imds);
        cmd.args(["users", "--federated-managed-identity"])
            .args(extra)
            .output()
            .unwrap()
    };
    // User-assigned #1 is not trusted by the app: refused, and the hint says what to add.
    let out = run(&["--managed-identity-client-id", &info.mi_user1_client_id]);
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let e = stderr_of(&out);
    let hint = e
        .lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or_default();
    assert!(
        hint.contains(&format!("issuer {}", info.mi_federated_issuer))
            && hint.contains(&format!("subject {}", info.mi_user1_object_id))
            && hint.contains("audience api://AzureADTokenExchange")
            && hint.contains(&info.client_id),
        "{e}"
    );
    assert!(e.contains("AADSTS70021"), "{e}");
    assert_mi_clean(&s, &out);
    // Trusted, it works.
    s.emu.trust_managed_identity(&info.mi_user1_object_id);
    ok(run(&[
        "--managed-identity-client-id",
        &info.mi_user1_client_id,
    ]));
    // The system-assigned identity, distrusted, is refused too.
    s.emu.distrust_managed_identity(&info.mi_system_object_id);
    let out = run(&[]);
    assert_eq!(code(&out), 3);
    assert!(stderr_of(&out).contains(&format!("subject {}", info.mi_system_object_id)));
}

#[test]
fn token_get_and_user_with_a_managed_identity() {
    let s = start_with(2, None);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = ok(mi(&s, Src::Imds, &["token"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // expiresOn is the endpoint's expires_on (the emulator's tokens live 3599 s).
    let exp = v["expires_on_unix"].as_u64().unwrap();
    assert!((before + 3590..=before + 3660).contains(&exp), "{v}");
    assert!(v["expiresOn"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["tokenType"], "Bearer");
    assert!(v.get("tenant").is_none(), "no tenant was given: {v}");
    assert!(v["accessToken"].as_str().unwrap().starts_with("eyJ"));

    let id = s.ids()[1].clone();
    let out = ok(mi(&s, Src::AppService, &["user", &id]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], id.as_str());
    let out = ok(mi(
        &s,
        Src::Imds,
        &["get", "/users?$top=1", "--all", "-o", "jsonl"],
    ));
    assert_eq!(json_lines(&out.stdout).len(), 2);
}

#[test]
fn cert_commands_with_a_managed_identity() {
    let s = start_with(1, None);
    let info = s.emu.info().clone();
    // As the app (federated): listing its certificates works.
    let mut cmd = s.graphd();
    platform_env(&mut cmd, &info, Src::Imds);
    let out = ok(cmd
        .args(["cert", "list", "--json", "--federated-managed-identity"])
        .output()
        .unwrap());
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["inUse"], false, "the identity holds no certificate");
    // add/remove/rotate need a proof signed by a registered certificate: refused, nothing sent.
    s.emu.clear_log();
    for args in [
        vec!["cert", "add", "x.pem"],
        vec!["cert", "remove", "00000000-0000-0000-0000-000000000000"],
        vec![
            "cert",
            "rotate",
            "--new-cert",
            "c.pem",
            "--new-key",
            "k.pem",
        ],
    ] {
        let mut cmd = s.graphd();
        platform_env(&mut cmd, &info, Src::Imds);
        let out = cmd
            .args(&args)
            .arg("--federated-managed-identity")
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(
            stderr_of(&out).contains("holds no certificate"),
            "{}",
            stderr_of(&out)
        );
        let out = mi(&s, Src::Imds, &args);
        assert_eq!(code(&out), 2, "{args:?}");
    }
    // A plain managed identity is no app: cert list needs the app named.
    let out = mi(&s, Src::Imds, &["cert", "list"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr_of(&out).contains("--app-object-id"),
        "{}",
        stderr_of(&out)
    );
    let log = s.emu.log();
    assert!(log.managed_identity_requests.is_empty() && log.token_requests.is_empty());
    // Named, Graph decides (the system identity may not read applications).
    let out = mi(
        &s,
        Src::Imds,
        &["cert", "list", "--app-object-id", &info.app_object_id],
    );
    assert_eq!(code(&out), 4, "{}", stderr_of(&out));
}

#[test]
fn plain_http_to_a_non_local_endpoint_is_refused_before_sending() {
    let s = start_with(1, None);
    for (var, value) in [
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://192.0.2.10"),
        ("IDENTITY_ENDPOINT", "http://identity.example.com/MSI/token"),
    ] {
        let started = Instant::now();
        let out = s
            .graphd()
            .env_remove("AZURE_CLIENT_ID")
            .env(var, value)
            .env("IDENTITY_HEADER", "hdr-that-must-stay-home")
            .args(["users", "--managed-identity"])
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{}", stderr_of(&out));
        let e = stderr_of(&out);
        assert!(
            e.contains("plain http") && e.contains(var) && e.contains("loopback or link-local"),
            "{e}"
        );
        assert!(!e.contains("hdr-that-must-stay-home"));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "nothing was tried"
        );
    }
    assert!(mi_log(&s).is_empty());
}

#[test]
fn usage_errors_send_nothing() {
    let s = start_with(1, None);
    let info = s.emu.info().clone();
    /// Arguments, extra environment, what the error says.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                "--managed-identity",
                "--managed-identity-client-id",
                &info.mi_user1_client_id,
                "--managed-identity-object-id",
                &info.mi_user1_object_id,
            ],
            vec![],
            "two managed identities named",
        ),
        (
            vec!["--managed-identity"],
            vec![("AZURE_CLIENT_SECRET", "x")],
            "two credentials given",
        ),
        (
            vec![
                "--managed-identity-client-id",
                &info.mi_user1_client_id,
                "--secret-stdin",
            ],
            vec![("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")],
            "names a managed identity, but the credential is not one",
        ),
        (
            vec![
                "--managed-identity",
                "--client-id",
                &info.mi_user1_client_id,
            ],
            vec![],
            "--client-id names an app",
        ),
        (
            vec![
                "--managed-identity",
                "--managed-identity-client-id",
                "not-a-guid",
            ],
            vec![],
            "is not valid",
        ),
        (
            vec!["--federated-managed-identity"],
            vec![],
            "no tenant given",
        ),
        (
            vec!["--managed-identity"],
            vec![
                ("MSI_ENDPOINT", "http://127.0.0.1:1/x"),
                ("MSI_SECRET", "s"),
            ],
            "Azure Machine Learning",
        ),
    ];
    for (args, env, says) in cases {
        let mut cmd = on(&s, Src::Imds);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.arg("users").args(&args).output().unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
    assert!(mi_log(&s).is_empty());
    assert_eq!(s.token_requests(), 0);
}

#[test]
fn retries_of_an_unreliable_imds_are_bounded() {
    let s = start_with(1, None);
    let timed = |args: &[&str]| {
        let started = Instant::now();
        let mut all = vec!["users", "-vvv"];
        all.extend_from_slice(args);
        let out = mi(&s, Src::Imds, &all);
        assert_mi_clean(&s, &out);
        (out, started.elapsed())
    };
    // Upgrading (410 three times), then a token.
    s.emu.add_mi_fault(MiFault::new(MiFaultKind::Gone).times(3));
    let (out, t) = timed(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(mi_log(&s).len(), 4);
    assert!(t < Duration::from_secs(20), "{t:?}");
    // 404, 500, and 429 with Retry-After (honoured).
    s.emu.clear_log();
    s.emu.add_mi_fault(MiFault::new(MiFaultKind::NotFound));
    s.emu
        .add_mi_fault(MiFault::new(MiFaultKind::ServerError).after(1));
    s.emu.add_mi_fault(
        MiFault::new(MiFaultKind::Throttle {
            retry_after_secs: Some(1),
        })
        .after(2),
    );
    let (out, t) = timed(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(mi_log(&s).len(), 4);
    assert!(t >= Duration::from_secs(1), "Retry-After honoured: {t:?}");
    // Always failing: --max-retries bounds it, exit 5.
    s.emu.clear_log();
    s.emu.clear_mi_faults();
    s.emu
        .add_mi_fault(MiFault::always(MiFaultKind::ServerError));
    let (out, t) = timed(&["--max-retries", "1"]);
    assert_eq!(code(&out), 5, "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("HTTP 500 after 2 attempts"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(mi_log(&s).len(), 2);
    assert!(t < Duration::from_secs(10), "{t:?}");
    // A 404 for ever (another cloud's metadata service) is bounded the same way, not by
    // the 70 s upgrade window that only 410 gets.
    s.emu.clear_log();
    s.emu.clear_mi_faults();
    s.emu.add_mi_fault(MiFault::always(MiFaultKind::NotFound));
    let (out, t) = timed(&["--max-retries", "1"]);
    assert_eq!(code(&out), 5, "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("after 2 attempts"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(mi_log(&s).len(), 2);
    assert!(t < Duration::from_secs(10), "{t:?}");
    // Upgrading for ever: 410 is waited out past --max-retries, but never past --deadline.
    s.emu.clear_log();
    s.emu.clear_mi_faults();
    s.emu.add_mi_fault(MiFault::always(MiFaultKind::Gone));
    let (out, t) = timed(&[
        "--max-retries",
        "1",
        "--deadline",
        "4",
        "--max-retry-wait",
        "1",
    ]);
    assert_eq!(code(&out), 5, "{}", stderr_of(&out));
    assert!(mi_log(&s).len() > 2, "persisted past --max-retries");
    assert!(t < Duration::from_secs(7), "{t:?}");
    // The same with `Retry-After: 0`: at least a second between attempts, never a busy loop.
    s.emu.clear_log();
    s.emu.clear_mi_faults();
    s.emu
        .add_mi_fault(MiFault::always(MiFaultKind::GoneRetryAfter { secs: 0 }));
    let (out, t) = timed(&["--max-retries", "1", "--deadline", "4"]);
    assert_eq!(code(&out), 5, "{}", stderr_of(&out));
    let asked = mi_log(&s).len();
    assert!((3..=7).contains(&asked), "{asked} requests in {t:?}");
    assert!(t < Duration::from_secs(7), "{t:?}");
    s.emu.clear_mi_faults();
}

#[test]
fn an_endpoint_that_never_answers_is_not_azure() {
    let s = start_with(1, None);
    s.emu.add_mi_fault(MiFault::always(MiFaultKind::NoAnswer));
    let started = Instant::now();
    let out = mi(&s, Src::Imds, &["users"]);
    let t = started.elapsed();
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(
        e.starts_with("error: no managed identity endpoint answered: is this running on Azure?"),
        "{e}"
    );
    assert!(
        e.contains("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        "the hint says why IMDS: {e}"
    );
    assert_eq!(mi_log(&s).len(), 1, "silence is not retried");
    assert!(t < Duration::from_secs(9), "{t:?}");
    // A stall shorter than the answer timeout is only slow.
    s.emu.clear_mi_faults();
    s.emu
        .add_mi_fault(MiFault::new(MiFaultKind::Stall { secs: 1 }));
    ok(mi(&s, Src::Imds, &["users"]));
    // A closed port: at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let out = on(&s, Src::Imds)
        .env(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{closed}"),
        )
        .args(["users", "--managed-identity"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is this running on Azure?"));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn config_show_says_which_source_and_why() {
    let s = start_with(1, None);
    let info = s.emu.info().clone();
    let out = ok(on(&s, Src::AppService)
        .env("AZURE_CLIENT_ID", &info.mi_user1_client_id)
        .args(["config", "show", "-o", "json", "--managed-identity"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["managed identity source"]["value"],
        format!("App Service at {}", info.app_service_identity_endpoint).as_str()
    );
    let why = v["managed identity source"]["from"].as_str().unwrap();
    assert!(
        why.contains("IDENTITY_ENDPOINT and IDENTITY_HEADER are set"),
        "{why}"
    );
    assert_eq!(
        v["managed identity"]["value"],
        format!("user-assigned, client id {}", info.mi_user1_client_id).as_str()
    );
    assert_eq!(v["managed identity"]["from"], "env AZURE_CLIENT_ID");
    assert!(
        v["token cache"]["value"]
            .as_str()
            .unwrap()
            .starts_with("off")
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&info.app_service_identity_header));
    // IMDS, when nothing else is set.
    let out = ok(s
        .graphd()
        .args([
            "config",
            "show",
            "-o",
            "json",
            "--federated-managed-identity",
        ])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["managed identity source"]["value"],
        "IMDS at http://169.254.169.254/metadata/identity/oauth2/token"
    );
    assert_eq!(
        v["token exchange audience"]["value"],
        "api://AzureADTokenExchange"
    );
}

#[test]
fn a_profile_names_the_managed_identity() {
    let s = start_with(1, None);
    let info = s.emu.info().clone();
    let dir = s.dir.path().join("home/.config/graphd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[profiles.vm]\nmanaged_identity = true\nmanaged_identity_object_id = \"{}\"\n",
            info.mi_user1_object_id
        ),
    )
    .unwrap();
    ok(on(&s, Src::Imds)
        .args(["users", "--profile", "vm"])
        .output()
        .unwrap());
    let r = &mi_log(&s)[0];
    assert_eq!(r.identity.as_deref(), Some("user1"));
    assert_eq!(
        r.selector.as_deref(),
        Some(format!("object_id={}", info.mi_user1_object_id).as_str())
    );
}

// Azure Arc: the agent's real token directory, which graphd has no switch to change. The tests
// create it (CI runs as root), share it while any of them runs, and remove what they made.

const ARC_DIR: &str = "/var/opt/azcmagent/tokens";

/// How many Arc tests hold the directory, and which directories this process created.
static ARC_USERS: Mutex<(usize, Vec<PathBuf>)> = Mutex::new((0, Vec::new()));

struct ArcDir;

impl ArcDir {
    /// The directory, created if missing; `None` when this user may not create it (a developer
    /// not running as root: the test says it skipped; with `CI` set it fails instead).
    #[allow(clippy::print_stderr)]
    fn hold() -> Option<ArcDir> {
        let mut g = ARC_USERS.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 == 0 {
            let missing: Vec<PathBuf> = Path::new(ARC_DIR)
                .ancestors()
                .filter(|p| !p.exists())
                .map(Path::to_path_buf)
                .collect();
            match std::fs::create_dir_all(ARC_DIR) {
                Ok(()) => g.1 = missing,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    // Never in CI, where a skip would hide the Arc file rules' only tests.
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "cannot create {ARC_DIR} in CI: run the tests as root"
                    );
                    eprintln!("skipped: cannot create {ARC_DIR} (not root)");
                    return None;
                }
                Err(e) => panic!("cannot create {ARC_DIR}: {e}"),
            }
        }
        g.0 += 1;
        Some(ArcDir)
    }
}

impl Drop for ArcDir {
    fn drop(&mut self) {
        let mut g = ARC_USERS.lock().unwrap_or_else(|p| p.into_inner());
        g.0 -= 1;
        if g.0 == 0 {
            // Deepest first; a directory someone else filled meanwhile stays.
            for d in std::mem::take(&mut g.1) {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

/// An emulator whose Arc endpoint uses the real token directory (dropped before the guard).
struct ArcSetup {
    s: Setup,
    _dir: ArcDir,
}

fn arc_setup(users: usize) -> Option<ArcSetup> {
    let dir = ArcDir::hold()?;
    Some(ArcSetup {
        s: start_with(users, Some(Path::new(ARC_DIR))),
        _dir: dir,
    })
}

/// A file this test made, removed when the test ends (pass or fail).
struct Made(PathBuf);

impl Drop for Made {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn unique(name: &str) -> String {
    format!(
        "graphd-test-{}-{}-{name}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[test]
fn arc_answers_its_challenge_from_the_agent_directory() {
    let Some(a) = arc_setup(2) else { return };
    let s = &a.s;
    let out = ok(mi(s, Src::Arc, &["users", "-vvv"]));
    assert_eq!(json_array(&out.stdout).len(), 2);
    assert_mi_clean(s, &out);
    let log = mi_log(s);
    assert_eq!(log.len(), 2, "the challenge, then the answer");
    assert!(!log[0].authorization && log[1].authorization);
    assert_eq!(log[0].status, 401);
    assert_eq!(
        (log[1].status, log[1].api_version.as_deref()),
        (200, Some("2020-06-01"))
    );
    assert_eq!(s.emu.arc_authorizations().len(), 1);
    let file = &s.emu.arc_challenge_files()[0];
    assert_eq!(file.parent(), Some(Path::new(ARC_DIR)));
    // Only the system-assigned identity: a selector is a usage error, nothing sent.
    s.emu.clear_log();
    let out = mi(
        s,
        Src::Arc,
        &[
            "users",
            "--managed-identity-client-id",
            &s.emu.info().mi_user1_client_id,
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr_of(&out).contains("Azure Arc offers one identity only"));
    assert!(mi_log(s).is_empty());
}

#[test]
fn arc_refuses_every_hostile_challenge_and_sends_nothing() {
    let Some(a) = arc_setup(1) else { return };
    let s = &a.s;
    let outside_dir = tempfile::tempdir().unwrap();
    let outside = outside_dir.path().join("stolen.key");
    std::fs::write(&outside, "a-file-graphd-must-never-send").unwrap();
    let tokens = Path::new(ARC_DIR);

    let link = Made(tokens.join(unique("link.key")));
    std::os::unix::fs::symlink(&outside, &link.0).unwrap();
    let linked_dir = Made(tokens.join(unique("dir")));
    std::os::unix::fs::symlink(outside_dir.path(), &linked_dir.0).unwrap();
    let big = Made(tokens.join(unique("big.key")));
    std::fs::write(&big.0, "x".repeat(4097)).unwrap();
    let txt = Made(tokens.join(unique("secret.txt")));
    std::fs::write(&txt.0, "x").unwrap();

    let cases: Vec<(String, &str)> = vec![
        (
            outside.display().to_string(),
            "not directly in the agent's token directory",
        ),
        (link.0.display().to_string(), "it is a symbolic link"),
        (
            linked_dir.0.join("stolen.key").display().to_string(),
            "not directly in the agent's token directory",
        ),
        (
            format!("{ARC_DIR}/../../../..{}", outside.display()),
            "a . or .. component",
        ),
        (big.0.display().to_string(), "4097 bytes"),
        (txt.0.display().to_string(), "does not end in .key"),
        ("/etc/shadow".into(), "not directly"),
    ];
    for (realm, why) in cases {
        s.emu.clear_log();
        s.emu.set_arc_challenge_realm(Some(&realm));
        let out = mi(s, Src::Arc, &["users", "-vvv"]);
        assert_eq!(code(&out), 3, "{realm}: {}", stderr_of(&out));
        let e = stderr_of(&out);
        assert!(
            e.contains("error: refused to read Azure Arc's challenge file")
                && e.contains(why)
                && e.contains("nothing was sent"),
            "{realm}: {e}"
        );
        assert!(!e.contains("a-file-graphd-must-never-send"));
        assert_eq!(
            mi_log(s).len(),
            1,
            "{realm}: only the challenge was asked for"
        );
    }
    assert!(
        s.emu.arc_authorizations().is_empty(),
        "no Authorization was ever sent"
    );
    s.emu.set_arc_challenge_realm(None);
}

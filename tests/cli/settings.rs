//! Profiles, precedence (flags > env > --config > profile > defaults), national clouds, and
//! `config show`, which says where each value came from and never prints a secret.

use serde_json::{Value, json};

use super::params::base_params;
use super::util::*;

/// A fresh XDG_CONFIG_HOME holding `config.toml`.
fn profile_dir(toml: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("graphd")).unwrap();
    std::fs::write(d.path().join("graphd/config.toml"), toml).unwrap();
    d
}

fn show(cmd: &mut assert_cmd::Command) -> Value {
    let out = cmd.args(["config", "show", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn vf<'a>(v: &'a Value, key: &str) -> (&'a str, &'a str) {
    (
        v[key]["value"].as_str().unwrap(),
        v[key]["from"].as_str().unwrap(),
    )
}

const PROFILE: &str = r#"
[profiles.p]
tenant = "profile-tenant.example"
client_id = "profile-client"
graph_endpoint = "https://graph.profile.example"
keyring = "keyutils"
"#;

#[test]
fn precedence_flags_env_config_profile_defaults() {
    let s = shared();
    let xdg = profile_dir(PROFILE);
    let params = s.path("precedence.json");
    write_private(
        &params,
        serde_json::to_string(&json!({
            "authority": "https://login.microsoftonline.com/params-tenant.example",
            "client_id": "params-client"
        }))
        .unwrap()
        .as_bytes(),
    );
    let cmd = || {
        let mut c = bare(s);
        c.env("XDG_CONFIG_HOME", xdg.path())
            .arg("--profile")
            .arg("p");
        c
    };
    let p = params.display().to_string();

    // All layers: the flag wins.
    let v = show(cmd().env("AZURE_TENANT_ID", "env-tenant.example").args([
        "--config",
        &p,
        "--tenant",
        "flag-tenant.example",
    ]));
    assert_eq!(vf(&v, "tenant"), ("flag-tenant.example", "flag --tenant"));
    // No flag: env.
    let v = show(
        cmd()
            .env("AZURE_TENANT_ID", "env-tenant.example")
            .args(["--config", &p]),
    );
    assert_eq!(
        vf(&v, "tenant"),
        ("env-tenant.example", "env AZURE_TENANT_ID")
    );
    // No env: the parameters file (above the profile).
    let v = show(cmd().args(["--config", &p]));
    assert_eq!(
        vf(&v, "tenant"),
        (
            "params-tenant.example",
            format!("parameters file {p} (authority)").as_str()
        )
    );
    assert_eq!(vf(&v, "client id").0, "params-client");
    assert_eq!(
        vf(&v, "authority host"),
        (
            "https://login.microsoftonline.com",
            format!("parameters file {p} (authority)").as_str()
        )
    );
    // No file: the profile.
    let v = show(&mut cmd());
    assert_eq!(
        vf(&v, "tenant"),
        ("profile-tenant.example", "profile p (tenant)")
    );
    assert_eq!(
        vf(&v, "graph endpoint"),
        (
            "https://graph.profile.example",
            "profile p (graph_endpoint)"
        )
    );
    assert_eq!(vf(&v, "scope").0, "https://graph.profile.example/.default");
    assert_eq!(vf(&v, "keyring"), ("keyutils", "profile p (keyring)"));
    assert_eq!(vf(&v, "profile"), ("p", "flag --profile"));
    // GRAPHD_PROFILE selects it too; a flag beats the profile's keyring.
    let v = show(
        bare(s)
            .env("XDG_CONFIG_HOME", xdg.path())
            .env("GRAPHD_PROFILE", "p")
            .args(["--keyring", "secret-service"]),
    );
    assert_eq!(vf(&v, "profile"), ("p", "env GRAPHD_PROFILE"));
    assert_eq!(vf(&v, "keyring"), ("secret-service", "flag --keyring"));
    // Nothing: defaults.
    let v = show(&mut bare(s));
    assert_eq!(vf(&v, "tenant").0, "(not set)");
    assert_eq!(vf(&v, "cloud"), ("public", "default"));
    assert_eq!(
        vf(&v, "graph endpoint"),
        ("https://graph.microsoft.com", "default")
    );
}

#[test]
fn a_profile_alone_runs_users_with_a_certificate_reference() {
    let s = shared();
    let info = s.emu.info();
    let xdg = profile_dir(&format!(
        "default_profile = \"emu\"\n\n[profiles.emu]\ntenant = \"{}\"\nclient_id = \"{}\"\nauthority_host = \"{}\"\ngraph_endpoint = \"{}\"\nca_bundle = \"{}\"\ncertificate = \"{}\"\nkey = \"{}\"\n",
        info.tenant_domain,
        info.client_id,
        info.authority_host_url,
        info.graph_url,
        info.ca_pem.display(),
        info.cert_pem.display(),
        info.key_pem.display()
    ));
    let mut cmd = bare(s);
    cmd.env_remove("GRAPHD_CA_BUNDLE")
        .env("XDG_CONFIG_HOME", xdg.path())
        .args(["users", "--max-items", "3", "-o", "jsonl"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 3);
}

#[test]
fn a_profile_can_name_a_federated_token_file() {
    let s = start(2);
    let info = s.emu.info();
    let token = s.path("ci.jwt");
    write_private(
        &token,
        s.emu.mint_federated_token(&Default::default()).as_bytes(),
    );
    let xdg = profile_dir(&format!(
        "[profiles.ci]\ntenant = \"{}\"\nclient_id = \"{}\"\nauthority_host = \"{}\"\ngraph_endpoint = \"{}\"\nfederated_token_file = \"{}\"\n",
        info.tenant_domain,
        info.client_id,
        info.authority_host_url,
        info.graph_url,
        token.display()
    ));
    let out = bare(&s)
        .env("XDG_CONFIG_HOME", xdg.path())
        .args(["users", "--profile", "ci", "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 2);
    assert_eq!(s.emu.log().token_requests[0].auth, "federated");
}

#[test]
fn profiles_refuse_secrets_and_unknown_profiles() {
    let s = shared();
    let xdg = profile_dir(
        "[profiles.p]\ntenant = \"t.example\"\nclient_secret = \"canary-in-profile\"\n",
    );
    let out = bare(s)
        .env("XDG_CONFIG_HOME", xdg.path())
        .args(["--profile", "p", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr_of(&out);
    assert!(
        e.contains("profiles.p.client_secret") && e.contains("graphd secret set"),
        "{e}"
    );
    assert!(!e.contains("canary"), "{e}");

    let xdg = profile_dir(PROFILE);
    let out = bare(s)
        .env("XDG_CONFIG_HOME", xdg.path())
        .args(["--profile", "nope", "users"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr_of(&out);
    assert!(
        e.contains("no profile 'nope'") && e.contains("hint: profiles defined: p"),
        "{e}"
    );
}

#[test]
fn config_show_never_prints_a_secret() {
    let s = shared();
    let secret = s.emu.info().client_secret.clone();
    let mut v = base_params(s);
    v["secret"] = json!(secret);
    let p = s.path("show-secret.json");
    write_private(&p, v.to_string().as_bytes());
    for format in ["table", "json", "csv", "tsv", "jsonl"] {
        for cmd in [
            s.graphd_secret()
                .args(["config", "show", "-o", format])
                .output()
                .unwrap(),
            bare(s)
                .arg("--config")
                .arg(&p)
                .args(["config", "show", "-vvv", "-o", format])
                .output()
                .unwrap(),
        ] {
            assert!(cmd.status.success(), "{}", stderr_of(&cmd));
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&cmd.stdout),
                stderr_of(&cmd)
            );
            assert!(!all.contains(&secret), "{format}: {all}");
            assert!(all.contains("[redacted]"), "{format}: {all}");
        }
    }
}

#[test]
fn each_cloud_derives_hosts_and_scope() {
    let s = shared();
    for (cloud, authority, graph) in [
        (
            "public",
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ),
        (
            "usgov",
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
        (
            "usgov-dod",
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        ),
        (
            "china",
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
    ] {
        let v = show(bare(s).args(["--cloud", cloud, "--tenant", "contoso.example"]));
        assert_eq!(vf(&v, "cloud"), (cloud, "flag --cloud"));
        assert_eq!(
            vf(&v, "authority host"),
            (authority, format!("cloud {cloud} (flag --cloud)").as_str())
        );
        assert_eq!(vf(&v, "graph endpoint").0, graph);
        assert_eq!(vf(&v, "scope").0, format!("{graph}/.default"));
        let out = bare(s)
            .env("GRAPHD_CLOUD", cloud)
            .args([
                "consent-url",
                "--tenant",
                "contoso.example",
                "--client-id",
                "c1",
                "--v2",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            format!(
                "{authority}/contoso.example/v2.0/adminconsent?client_id=c1&scope={}",
                url::form_urlencoded::byte_serialize(format!("{graph}/.default").as_bytes())
                    .collect::<String>()
            )
        );
    }
    // Explicit hosts still win over the cloud; the scope follows the Graph endpoint.
    let v = show(bare(s).args([
        "--cloud",
        "china",
        "--graph-endpoint",
        "https://graph.example",
    ]));
    assert_eq!(
        vf(&v, "graph endpoint"),
        ("https://graph.example", "flag --graph-endpoint")
    );
    assert_eq!(vf(&v, "authority host").0, "https://login.chinacloudapi.cn");
    assert_eq!(vf(&v, "scope").0, "https://graph.example/.default");
    // And a flag's cloud beats a profile's hosts (a higher layer).
    let xdg = profile_dir(PROFILE);
    let v = show(bare(s).env("XDG_CONFIG_HOME", xdg.path()).args([
        "--profile",
        "p",
        "--cloud",
        "usgov",
    ]));
    assert_eq!(vf(&v, "graph endpoint").0, "https://graph.microsoft.us");
}

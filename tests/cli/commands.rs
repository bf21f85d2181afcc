//! `user`, `get` (one object, `--all`, `--header`, beta, foreign URLs), `token`, `consent-url`,
//! and `users --filter/--search/--count/--orderby` with `ConsistencyLevel: eventual` on every
//! page when the query needs it — and local refusals that send nothing.

use serde_json::Value;

use super::util::*;

#[test]
fn user_by_id_and_by_upn_with_ext_and_apostrophe() {
    let s = shared();
    let out = s
        .graphd_secret()
        .args(["user", "alex_fabrikam.com#EXT#@contoso.onmicrosoft.com"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u["displayName"], "Alex Wilber (Fabrikam)");
    let out = s
        .graphd_secret()
        .args([
            "user",
            "o'brien@contoso.onmicrosoft.com",
            "--select",
            "id,mail",
            "-o",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u["mail"], "o'brien@contoso.onmicrosoft.com");
    assert!(u.get("displayName").is_none());
    let log = s.emu.log();
    let paths: Vec<&str> = log
        .graph_requests
        .iter()
        .map(|r| r.path.as_str())
        .filter(|p| p.contains("fabrikam") || p.contains("brien"))
        .collect();
    assert!(
        paths.contains(&"/v1.0/users/alex_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/v1.0/users/o%27brien@contoso.onmicrosoft.com"),
        "{paths:?}"
    );

    let out = s
        .graphd_secret()
        .args([
            "user",
            "00000000-0000-4000-8000-000000000003",
            "-o",
            "table",
        ])
        .env("COLUMNS", "60")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let t = String::from_utf8(out.stdout).unwrap();
    assert!(t.contains("displayName        Smith, John"), "{t}");

    let out = s
        .graphd_secret()
        .args(["user", "nobody@contoso.onmicrosoft.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr_of(&out).contains("404 Request_ResourceNotFound"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn get_one_page_all_pages_beta_and_headers() {
    let s = start(250);
    let out = s
        .graphd_secret()
        .args(["get", "/users?$top=100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 100);
    assert!(
        page["@odata.nextLink"].is_string(),
        "the body as Graph sent it"
    );

    let out = s
        .graphd_secret()
        .args(["get", "users?$top=100&$select=id", "--all", "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        ids_of(&json_lines(&out.stdout)),
        s.ids(),
        "every page, once, in order"
    );

    let info = s.emu.info();
    s.emu.clear_log();
    let out = s
        .graphd_secret()
        .args([
            "get",
            &format!("{}/beta/users?$top=50&$count=true", info.graph_url),
            "--all",
            "--header",
            "ConsistencyLevel: eventual",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 250);
    let log = s.emu.log();
    let pages = log.pages();
    assert_eq!(pages.len(), 5);
    assert!(
        pages
            .iter()
            .all(|r| r.path == "/beta/users" && r.consistency_level.as_deref() == Some("eventual"))
    );
    assert!(
        log.graph_requests[1..]
            .iter()
            .all(|r| r.next_link_verbatim == Some(true))
    );

    let out = s
        .graphd_secret()
        .args([
            "get",
            "/users/00000000-0000-4000-8000-000000000001",
            "--api-version",
            "beta",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u["displayName"], "山田 太郎");
    assert!(
        u["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/beta/$metadata#users")
    );
}

#[test]
fn get_refuses_foreign_urls_and_missing_advanced_parameters_before_sending() {
    let s = start(1);
    for (args, needle) in [
        (
            vec!["get", "https://evil.example/v1.0/users"],
            "not on the Graph origin",
        ),
        (
            vec!["get", "http://graph.microsoft.com/v1.0/users"],
            "not an https URL",
        ),
        (vec!["get", "/users/a#EXT#@x"], "fragment"),
        (
            vec!["get", "/users?$search=\"displayName:a\""],
            "ConsistencyLevel",
        ),
        (
            vec![
                "get",
                "/users?$filter=endswith(mail,'x')",
                "-H",
                "ConsistencyLevel:eventual",
            ],
            "$count=true",
        ),
        (
            vec!["get", "/users", "--header", "Authorization: Bearer x"],
            "set by graphd",
        ),
        (vec!["users", "--search", "ada"], "property:text"),
        (
            vec!["users", "--orderby", "displayName sideways"],
            "PROPERTY [asc|desc]",
        ),
        (
            vec!["token", "--scope", "https://graph.microsoft.com/User.Read"],
            "RESOURCE/.default",
        ),
    ] {
        let out = s.graphd_secret().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        let e = stderr_of(&out);
        assert!(
            e.contains(needle) && e.contains("\nhint: "),
            "{args:?}: {e}"
        );
    }
    assert_eq!(s.token_requests(), 0, "nothing was sent");
    assert!(s.emu.log().graph_requests.is_empty());
}

#[test]
fn users_advanced_queries_send_consistency_level_on_every_page() {
    let s = start(300);
    // $search: ConsistencyLevel, no $count needed.
    s.emu.clear_log();
    let out = s
        .graphd_secret()
        .args([
            "users",
            "--search",
            "displayName:user",
            "--top",
            "50",
            "-o",
            "jsonl",
            "--select",
            "displayName",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let names: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|u| u["displayName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 300 - 14, "every regular user, no hard case");
    let log = s.emu.log();
    assert!(log.pages().len() >= 6);
    assert!(
        log.pages()
            .iter()
            .all(|r| r.consistency_level.as_deref() == Some("eventual"))
    );

    // endswith + orderby desc + count: count on stderr, sorted output.
    s.emu.clear_log();
    let out = s
        .graphd_secret()
        .args([
            "users",
            "--filter",
            "endswith(userPrincipalName,'9@contoso.onmicrosoft.com')",
            "--orderby",
            "displayName desc",
            "--count",
            "--top",
            "7",
            "-o",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let users = json_lines(&out.stdout);
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 29, "user0019 .. user0299");
    assert_eq!((names[0], names[28]), ("User 0299", "User 0019"));
    assert_eq!(stderr_of(&out), "count: 29\n");
    let log = s.emu.log();
    assert_eq!(log.pages().len(), 5);
    assert!(
        log.pages()
            .iter()
            .all(|r| r.consistency_level.as_deref() == Some("eventual")
                && r.raw_query.as_deref().unwrap().contains("count=true"))
    );

    // A plain filter stays plain: no header.
    s.emu.clear_log();
    let out = s
        .graphd_secret()
        .args([
            "users",
            "--filter",
            "startswith(displayName,'User 01')",
            "--orderby",
            "displayName",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 100);
    assert!(
        s.emu
            .log()
            .pages()
            .iter()
            .all(|r| r.consistency_level.as_deref() == Some("eventual")),
        "filter + orderby is advanced"
    );
    s.emu.clear_log();
    let out = s
        .graphd_secret()
        .args(["users", "--filter", "startswith(displayName,'User 01')"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        s.emu
            .log()
            .pages()
            .iter()
            .all(|r| r.consistency_level.is_none())
    );
}

#[test]
fn token_prints_json_and_consent_url_the_quickstart_form() {
    let s = shared();
    let info = s.emu.info();
    let out = s
        .graphd_secret()
        .args(["token", "--no-token-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = t["accessToken"].as_str().unwrap();
    assert!(token.starts_with("eyJ"));
    assert_eq!(t["tokenType"], "Bearer");
    assert_eq!(t["scope"], format!("{}/.default", info.graph_url));
    assert!(t["expiresOn"].as_str().unwrap().ends_with('Z'));
    assert!(t["expires_on_unix"].as_u64().unwrap() > 1_700_000_000);
    assert!(out.stderr.is_empty());
    // The token works against Graph, and never shows in the logs.
    let out = s
        .graphd_secret()
        .args([
            "token",
            "--scope",
            &format!("{}/.default", info.graph_url),
            "-vvv",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = stderr_of(&out);
    assert!(
        !e.contains(t["accessToken"].as_str().unwrap()) && !e.contains("eyJ"),
        "{e}"
    );

    // --help says the output is a secret.
    let out = s.graphd().args(["token", "--help"]).output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("THE OUTPUT IS A SECRET")
    );

    let out = s.graphd().arg("consent-url").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "{}/{}/adminconsent?client_id={}\n",
            info.authority_host_url, info.tenant_id, info.client_id
        )
    );
}

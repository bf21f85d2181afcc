//! Listing users with each credential, all pages exactly once and in order.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::util::*;

#[test]
fn secret_from_env_lists_every_user_once_in_order() {
    let s = start(250);
    let out = s.graphd_secret().arg("users").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let users = json_array(&out.stdout);
    assert_eq!(ids_of(&users), s.ids());
    assert_eq!(
        users,
        s.emu.users(),
        "every default property as Graph sent it"
    );
    let log = s.emu.log();
    assert_eq!(
        log.token_requests.len(),
        1,
        "one token request, no discovery"
    );
    assert_eq!(log.token_requests[0].auth, "client_secret");
    assert!(
        out.stderr.is_empty(),
        "quiet by default: {}",
        stderr_of(&out)
    );
}

#[test]
fn secret_from_stdin_and_file() {
    let s = shared();
    let secret = &s.emu.info().client_secret;
    let out = s
        .graphd()
        .args(["users", "--secret-stdin", "--max-items", "3"])
        .write_stdin(format!("{secret}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 3);

    let file = s.path("secret.txt");
    write_private(&file, format!("{secret}\r\n").as_bytes());
    let out = s
        .graphd()
        .args(["users", "--max-items", "2", "--secret-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 2);
}

#[test]
fn certificate_ps256_by_default_and_rs256_on_request() {
    let s = start(30);
    let out = s
        .graphd_cert()
        .args(["users", "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(ids_of(&json_lines(&out.stdout)), s.ids());

    let out = s
        .graphd_cert()
        .args([
            "users",
            "--assertion-alg",
            "rs256",
            "-o",
            "jsonl",
            "--no-token-cache",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out.stdout).len(), 30);

    let log = s.emu.log();
    let t: Vec<_> = log
        .token_requests
        .iter()
        .map(|r| (r.auth.as_str(), r.alg.clone(), r.thumbprint_header.clone()))
        .collect();
    assert_eq!(
        t,
        vec![
            (
                "client_assertion",
                Some("PS256".to_string()),
                Some("x5t#S256".to_string())
            ),
            (
                "client_assertion",
                Some("RS256".to_string()),
                Some("x5t".to_string())
            ),
        ]
    );
    assert!(
        log.token_requests
            .iter()
            .all(|r| r.status == 200 && !r.has_x5c)
    );
}

#[test]
fn combined_pem_from_azure_client_certificate_path() {
    let s = shared();
    let info = s.emu.info();
    let mut both = std::fs::read(&info.key_pem).unwrap();
    both.extend(std::fs::read(&info.cert_pem).unwrap());
    let path = s.path("both.pem");
    write_private(&path, &both);
    let out = s
        .graphd()
        .env("AZURE_CLIENT_CERTIFICATE_PATH", &path)
        .args(["users", "--max-items", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 1);
}

#[test]
fn thousands_of_users_over_pages_arrive_exactly_once_in_order() {
    let s = start(2500);
    let out = s.graphd_cert().arg("users").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ids = ids_of(&json_array(&out.stdout));
    assert_eq!(ids.len(), 2500);
    assert_eq!(ids, s.ids());
    let log = s.emu.log();
    let pages: Vec<_> = log
        .graph_requests
        .iter()
        .filter(|r| r.path == "/v1.0/users")
        .collect();
    assert_eq!(pages.len(), 3, "pages of 999 by default");
    assert_eq!(
        pages.iter().map(|p| p.items).collect::<Vec<_>>(),
        vec![999, 999, 502]
    );
    assert!(
        pages[0].raw_query.as_deref().unwrap().contains("top=999"),
        "{:?}",
        pages[0].raw_query
    );
    assert!(
        pages[1..]
            .iter()
            .all(|p| p.next_link_verbatim == Some(true)),
        "nextLinks followed verbatim"
    );
}

#[test]
fn small_pages_select_and_max_items() {
    let s = start(60);
    let out = s
        .graphd_secret()
        .args([
            "users",
            "--top",
            "7",
            "--select",
            "id,displayName",
            "--max-items",
            "20",
            "-o",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let users = json_lines(&out.stdout);
    assert_eq!(ids_of(&users), s.ids()[..20].to_vec());
    for u in &users {
        let mut keys: Vec<_> = u.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["displayName", "id"]);
    }
    let pages = s.emu.log().graph_requests.len();
    assert_eq!(pages, 3, "20 users in pages of 7 take 3 pages, not all 9");
}

#[test]
fn max_items_below_top_asks_for_a_smaller_page() {
    let s = start(300);
    let out = s
        .graphd_secret()
        .args(["users", "--max-items", "100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_array(&out.stdout).len(), 100);
    let log = s.emu.log();
    assert_eq!(log.graph_requests.len(), 1);
    assert!(
        log.graph_requests[0]
            .raw_query
            .as_deref()
            .unwrap()
            .contains("top=100")
    );
}

#[test]
fn hard_case_users_survive_json_and_jsonl() {
    let s = shared();
    let out = s
        .graphd_secret()
        .args(["users", "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let users = json_lines(&out.stdout);
    assert_eq!(users, s.emu.users());
    let names: Vec<String> = users
        .iter()
        .filter_map(|u| u["displayName"].as_str().map(str::to_string))
        .collect();
    assert!(
        names.iter().any(|n| n.contains('\n')),
        "an embedded newline stays inside one JSON line"
    );
    assert!(names.iter().any(|n| n.contains('🦀')));
    assert!(users.iter().any(|u| {
        u["userPrincipalName"]
            .as_str()
            .is_some_and(|p| p.contains("#EXT#"))
    }));
}

#[test]
fn closed_pipe_exits_zero_quietly() {
    let s = start(2500);
    let mut child = s
        .std_graphd()
        .env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
        .args(["users", "-o", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: graphd's next writes hit a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with('{'), "{first}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stderr.is_empty(), "quiet: {}", stderr_of(&out));
}

#[test]
fn global_flags_work_after_the_subcommand() {
    let s = shared();
    let info = s.emu.info();
    let out = s
        .graphd_secret()
        .env_remove("AZURE_TENANT_ID")
        .args(["users", "--max-items", "1", "--tenant", &info.tenant_domain])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

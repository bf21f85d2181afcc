//! The control endpoint (`POST {authority}/_emulator/directory`) that scripts use to change a
//! running emulator, the simulated latency (option, library call, control operation), and the
//! binary's `--latency-ms`, `--delta-page-size` and state file `directory_url`.

use graphd_emulator::{Emulator, Info, Options};
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn client(info: &Info) -> Client {
    let ca = std::fs::read(&info.ca_pem).unwrap();
    Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn token(c: &Client, info: &Info) -> String {
    let r: Value = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info.authority_host_url, info.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", info.client_id.as_str()),
            ("client_secret", info.client_secret.as_str()),
            ("scope", &format!("{}/.default", info.graph_url)),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    r["access_token"].as_str().unwrap().to_owned()
}

fn control(c: &Client, info: &Info, body: Value) -> (u16, Value) {
    let r = c.post(&info.directory_url).json(&body).send().unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn control_operations_change_what_graph_serves() {
    let emu = Emulator::start(Options {
        users: 40,
        ..Options::default()
    })
    .unwrap();
    let info = emu.info().clone();
    assert_eq!(
        info.directory_url,
        format!("{}/_emulator/directory", info.authority_host_url)
    );
    let c = client(&info);
    let t = token(&c, &info);
    let get = |path: &str| -> (u16, Value) {
        let url = if path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", info.graph_url)
        };
        let r = c.get(url).bearer_auth(&t).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    };
    let (_, b) = get("/v1.0/users/delta");
    let delta = b["@odata.deltaLink"].as_str().unwrap().to_owned();

    let (st, b) = control(
        &c,
        &info,
        json!({"op": "add", "value": {"displayName": "Grace Hopper", "userPrincipalName": "grace@contoso.onmicrosoft.com"}}),
    );
    assert_eq!(st, 200, "{b}");
    let grace = b["id"].as_str().unwrap().to_owned();
    let (st, b) = get("/v1.0/users/grace@contoso.onmicrosoft.com");
    assert_eq!((st, b["id"].as_str()), (200, Some(grace.as_str())));

    // A batch, applied in order.
    let u = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
    let (st, b) = control(
        &c,
        &info,
        json!([
            {"op": "update", "id": u(1), "patch": {"jobTitle": "Admiral"}},
            {"op": "soft_delete", "id": u(2)},
            {"op": "hard_delete", "id": u(3)},
            {"op": "soft_delete", "id": u(4)},
            {"op": "restore", "id": u(4)},
            {"op": "touch", "n": 2},
            {"op": "add", "collection": "groups", "value": {"displayName": "Navy"}},
        ]),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b.as_array().unwrap().len(), 7);
    assert_eq!(b[5]["ids"].as_array().unwrap().len(), 2);
    assert!(b[6]["id"].is_string());
    assert_eq!(emu.users().len(), 40 + 1 - 2);
    assert_eq!(emu.groups().len(), 21);
    let (_, b) = get(&delta);
    let changed = b["value"].as_array().unwrap();
    // grace, 1, 2, 3, 4, and the two touched users (slots 0 and 21).
    assert_eq!(changed.len(), 7, "{b}");

    // Failures: 404 for an id in the wrong state, 400 for a bad operation, with the index.
    let (st, b) = control(&c, &info, json!({"op": "restore", "id": u(3)}));
    assert_eq!((st, b["error"].as_str()), (404, Some("not_found")));
    let (st, b) = control(
        &c,
        &info,
        json!({"op": "update", "id": u(5), "patch": {"id": "x"}}),
    );
    assert_eq!((st, b["error"].as_str()), (400, Some("invalid")));
    let (st, b) = control(&c, &info, json!({"op": "explode"}));
    assert_eq!(st, 400, "{b}");
    let (st, b) = control(&c, &info, json!({"op": "touch", "n": 1, "extra": true}));
    assert_eq!(st, 400, "{b}");
    let (st, b) = control(
        &c,
        &info,
        json!([{"op": "touch", "n": 1}, {"op": "soft_delete", "id": "nobody"}]),
    );
    assert_eq!((st, &b["index"]), (404, &json!(1)));
    let (st, _) = control(&c, &info, json!({"op": "expire_delta", "status": 200}));
    assert_eq!(st, 400);

    // Expiry by the control endpoint, default and chosen.
    let (st, _) = control(&c, &info, json!({"op": "expire_delta"}));
    assert_eq!(st, 200);
    let (st, b) = get(&delta);
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (410, Some("resyncRequired"))
    );
    let (_, b) = get("/v1.0/users/delta?$deltatoken=latest");
    let latest = b["@odata.deltaLink"].as_str().unwrap().to_owned();
    control(
        &c,
        &info,
        json!({"op": "expire_delta", "status": 400, "code": "syncStateInvalid"}),
    );
    let (st, b) = get(&latest);
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("syncStateInvalid"))
    );

    // Control calls are the authority's "other" requests, never Graph requests.
    let log = emu.log();
    assert!(
        log.other_requests
            .iter()
            .any(|r| r.path == "/_emulator/directory" && r.status == 200)
    );
    assert!(
        log.graph_requests
            .iter()
            .all(|r| !r.path.contains("_emulator"))
    );
}

#[test]
fn latency_holds_every_response() {
    let emu = Emulator::start(Options {
        users: 5,
        latency: Duration::from_millis(120),
        ..Options::default()
    })
    .unwrap();
    let info = emu.info().clone();
    let c = client(&info);
    let started = Instant::now();
    let t = token(&c, &info);
    assert!(started.elapsed() >= Duration::from_millis(120));
    let timed = |url: &str| {
        let started = Instant::now();
        let r = c.get(url).bearer_auth(&t).send().unwrap();
        assert_eq!(r.status(), 200);
        started.elapsed()
    };
    let users = format!("{}/v1.0/users", info.graph_url);
    assert!(timed(&users) >= Duration::from_millis(120));
    emu.set_latency(Duration::ZERO);
    assert!(timed(&users) < Duration::from_millis(120));
    let (st, _) = control(&c, &info, json!({"op": "set_latency", "ms": 150}));
    assert_eq!(st, 200);
    assert!(timed(&users) >= Duration::from_millis(150));
}

#[test]
fn binary_takes_latency_and_page_size_and_serves_control() {
    let dir = std::env::temp_dir().join(format!(
        "graphd-emulator-control-test-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_graphd-emulator"))
        .args([
            "--users",
            "30",
            "--groups",
            "3",
            "--latency-ms",
            "60",
            "--delta-page-size",
            "8",
            "--state",
        ])
        .arg(&state)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no state file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let info: Info = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let c = client(&info);
    let started = Instant::now();
    let t = token(&c, &info);
    assert!(started.elapsed() >= Duration::from_millis(60));
    let (st, b) = control(&c, &info, json!({"op": "touch", "n": 3}));
    assert_eq!((st, b["ids"].as_array().map(Vec::len)), (200, Some(3)));
    let page: Value = c
        .get(format!("{}/v1.0/users/delta", info.graph_url))
        .bearer_auth(&t)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 8);
    let groups: Value = c
        .get(format!("{}/v1.0/groups/delta", info.graph_url))
        .bearer_auth(&t)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(groups["value"].as_array().unwrap().len(), 3);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}

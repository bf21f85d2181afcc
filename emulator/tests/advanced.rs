//! The emulator's advanced queries over real TLS (PROTOCOL.md §4): `$search` needs
//! `ConsistencyLevel: eventual`, `$filter` + `$orderby` and `endsWith` also need `$count=true`,
//! and both are checked on every page, so dropping the header after page one is refused.
//! Also `beta`, whose nextLinks keep the version.

use graphd_emulator::{Emulator, Info, Options};
use reqwest::blocking::Client;
use serde_json::Value;
use std::time::Duration;

fn client(info: &Info) -> Client {
    let ca = std::fs::read(&info.ca_pem).unwrap();
    Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn advanced_queries_need_their_parameters_on_every_page() {
    let emu = Emulator::start(Options {
        users: 120,
        ..Options::default()
    })
    .unwrap();
    let info = emu.info().clone();
    let c = client(&info);
    let scope = format!("{}/.default", info.graph_url);
    let t: Value = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info.authority_host_url, info.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", info.client_id.as_str()),
            ("client_secret", info.client_secret.as_str()),
            ("scope", scope.as_str()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = t["access_token"].as_str().unwrap().to_owned();
    let get = |url: &str, eventual: bool| {
        let mut rb = c.get(url).bearer_auth(&token);
        if eventual {
            rb = rb.header("ConsistencyLevel", "eventual");
        }
        let r = rb.send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let users = format!("{}/v1.0/users", info.graph_url);
    let code = |b: &Value| b["error"]["code"].as_str().unwrap_or("").to_owned();

    let search = format!("{users}?$search=\"displayName:user\"&$top=50");
    let (s, b) = get(&search, false);
    assert_eq!((s, code(&b)), (400, "Request_BadRequest".into()), "{b}");
    let (s, b) = get(&search, true);
    assert_eq!(s, 200, "{b}");
    let next = b["@odata.nextLink"].as_str().unwrap().to_owned();
    let (s, b) = get(&next, false);
    assert_eq!(s, 400, "page two without the header: {b}");
    let (s, b) = get(&next, true);
    assert_eq!(s, 200, "{b}");

    let sorted =
        format!("{users}?$filter=startswith(displayName,'User')&$orderby=displayName desc");
    let (s, b) = get(&sorted, true);
    assert_eq!(
        (s, code(&b)),
        (400, "Request_UnsupportedQuery".into()),
        "needs $count: {b}"
    );
    let (s, b) = get(&format!("{sorted}&$count=true"), true);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["@odata.count"], 120 - 14);
    assert_eq!(b["value"][0]["displayName"], "User 0119");

    let ends = format!("{users}?$filter=endswith(mail,'@fabrikam.com')");
    let (s, b) = get(&ends, false);
    assert_eq!(
        (s, code(&b)),
        (400, "Request_UnsupportedQuery".into()),
        "{b}"
    );
    let (s, b) = get(&format!("{ends}&$count=true"), true);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert_eq!(b["value"][0]["displayName"], "Alex Wilber (Fabrikam)");

    // $orderby on displayName alone is a plain query; on mail it is advanced.
    let (s, _) = get(&format!("{users}?$orderby=displayName"), false);
    assert_eq!(s, 200);
    let (s, _) = get(&format!("{users}?$orderby=mail"), false);
    assert_eq!(s, 400);

    // beta: same directory, nextLinks stay on beta.
    let (s, b) = get(&format!("{}/beta/users?$top=100", info.graph_url), false);
    assert_eq!(s, 200, "{b}");
    assert!(
        b["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("/beta/users?")
    );
    assert!(
        b["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/beta/$metadata#users")
    );
}

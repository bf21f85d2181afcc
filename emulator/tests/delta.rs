//! Delta query over real TLS (PROTOCOL.md §9): a full round's pages and final deltaLink, change
//! rounds after every kind of mutation, `Prefer: return=minimal`, `$select` carried by the
//! links, the `$filter` rules, `$deltatoken=latest`, expiry (410 and chosen codes), groups and
//! their permission, faults on delta pages, and a 100,000-user tenant's 1,000-change round.

use graphd_emulator::{Emulator, Fault, FaultKind, Info, Options};
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn client(info: &Info) -> Client {
    let ca = std::fs::read(&info.ca_pem).unwrap();
    Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn token(c: &Client, info: &Info, id: &str, secret: &str) -> String {
    let r: Value = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info.authority_host_url, info.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", &format!("{}/.default", info.graph_url)),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    r["access_token"].as_str().unwrap().to_owned()
}

/// A running emulator with a client and the main app's token.
struct Setup {
    emu: Emulator,
    info: Info,
    c: Client,
    token: String,
}

impl Setup {
    fn new(opts: Options) -> Setup {
        let emu = Emulator::start(opts).unwrap();
        let info = emu.info().clone();
        let c = client(&info);
        let token = token(&c, &info, &info.client_id, &info.client_secret);
        Setup {
            emu,
            info,
            c,
            token,
        }
    }

    fn users(n: usize) -> Setup {
        Setup::new(Options {
            users: n,
            ..Options::default()
        })
    }

    /// GET `url` (absolute, or a path on the Graph listener) with extra headers.
    fn get_with(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("{}{url}", self.info.graph_url)
        };
        let mut rb = self.c.get(url).bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().unwrap();
        let status = r.status().as_u16();
        let h = r.headers().clone();
        (status, h, r.json().unwrap())
    }

    fn get(&self, url: &str) -> (u16, Value) {
        let (s, _, b) = self.get_with(url, &[]);
        (s, b)
    }

    /// Follows a round from `url` to its deltaLink: the pages' bodies and the deltaLink.
    fn round(&self, url: &str, headers: &[(&str, &str)]) -> (Vec<Value>, String) {
        let mut pages = Vec::new();
        let mut next = url.to_owned();
        loop {
            let (s, _, b) = self.get_with(&next, headers);
            assert_eq!(s, 200, "{next}: {b}");
            pages.push(b.clone());
            match (
                b["@odata.nextLink"].as_str(),
                b["@odata.deltaLink"].as_str(),
            ) {
                (Some(n), None) => next = n.to_owned(),
                (None, Some(d)) => return (pages, d.to_owned()),
                _ => panic!("a page has exactly one of nextLink and deltaLink: {b}"),
            }
        }
    }
}

fn items(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().iter().cloned())
        .collect()
}

fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn by_id<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the round"))
}

#[test]
fn full_round_pages_then_an_empty_change_round() {
    let s = Setup::users(450);
    let g = &s.info.graph_url;
    // $top is ignored: pages of 200.
    let (pages, delta) = s.round("/v1.0/users/delta?$top=5", &[]);
    assert_eq!(
        pages
            .iter()
            .map(|p| p["value"].as_array().unwrap().len())
            .collect::<Vec<_>>(),
        vec![200, 200, 50]
    );
    assert_eq!(
        pages[0]["@odata.context"],
        format!("{g}/v1.0/$metadata#users")
    );
    let next = pages[0]["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{g}/v1.0/users/delta?$skiptoken=")),
        "{next}"
    );
    assert!(
        delta.starts_with(&format!("{g}/v1.0/users/delta?$deltatoken=")),
        "{delta}"
    );
    // Opaque tokens: no sequence number in the clear.
    let token = delta.split("$deltatoken=").nth(1).unwrap();
    assert!(
        token.len() >= 32 && token.parse::<u64>().is_err(),
        "{token}"
    );
    // Every user once, as /users lists them (the default properties, id included).
    assert_eq!(items(&pages), s.emu.users());
    let log = s.emu.log();
    let recs = &log.graph_requests;
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].next_link_verbatim, None);
    assert!(
        recs[1..]
            .iter()
            .all(|r| r.next_link_verbatim == Some(true) && r.authorized)
    );
    assert_eq!(recs.iter().map(|r| r.items).sum::<usize>(), 450);
    // Nothing changed: an empty round, and a new deltaLink.
    let (pages, delta2) = s.round(&delta, &[]);
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["value"], json!([]));
    assert_ne!(delta, delta2);
    // The long name of the function works too; a rewritten link works but is not verbatim.
    let (st, b) = s.get("/v1.0/users/microsoft.graph.delta()");
    assert_eq!((st, b["value"].as_array().unwrap().len()), (200, 200));
    let (st, _) = s.get(&format!("/v1.0/users/delta?$deltatoken={token}&x=1"));
    assert_eq!(st, 200);
    assert_eq!(
        s.emu.log().last_graph().unwrap().next_link_verbatim,
        Some(false)
    );
}

#[test]
fn change_round_reports_each_mutation_once_in_its_latest_state() {
    let s = Setup::users(450);
    let (_, delta) = s.round("/v1.0/users/delta", &[]);
    let added = s
        .emu
        .add_user(json!({"displayName": "Ada Lovelace", "userPrincipalName": "ada@contoso.onmicrosoft.com", "jobTitle": "Analyst"}))
        .unwrap();
    // User 27 has a mobile phone (every third user does); clearing it is a change too.
    s.emu
        .update_user(&user_id(27), json!({"jobTitle": "CTO"}))
        .unwrap();
    s.emu
        .update_user(&user_id(27), json!({"mobilePhone": null}))
        .unwrap();
    s.emu.soft_delete_user(&user_id(21)).unwrap();
    s.emu.hard_delete_user(&user_id(22)).unwrap();
    s.emu.soft_delete_user(&user_id(23)).unwrap();
    s.emu.restore_user(&user_id(23)).unwrap();
    s.emu
        .update_user(&user_id(24), json!({"jobTitle": "Gone soon"}))
        .unwrap();
    s.emu.soft_delete_user(&user_id(24)).unwrap();
    s.emu.soft_delete_user(&user_id(25)).unwrap();
    s.emu.hard_delete_user(&user_id(25)).unwrap();
    // Not a default property: not tracked without $select.
    s.emu
        .update_user(&user_id(26), json!({"department": "Legal"}))
        .unwrap();

    // /users reflects the changes at once.
    let listed = s.emu.users();
    assert_eq!(listed.len(), 450 + 1 - 4);
    assert_eq!(listed.last().unwrap()["id"], added.as_str());
    assert!(listed.iter().all(|u| u["id"] != user_id(21).as_str()));
    let (st, b) = s.get(&format!("/v1.0/users/{}", user_id(21)));
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    let (st, b) = s.get("/v1.0/users/ada@contoso.onmicrosoft.com");
    assert_eq!((st, b["id"].as_str()), (200, Some(added.as_str())));

    let (pages, next_delta) = s.round(&delta, &[]);
    assert_eq!(pages.len(), 1);
    let got = items(&pages);
    let ids: Vec<&str> = got.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![
            added.as_str(),
            &user_id(27),
            &user_id(21),
            &user_id(22),
            &user_id(23),
            &user_id(24),
            &user_id(25)
        ]
    );
    let whole = |v: &Value| v.as_object().unwrap().len() == 11;
    assert!(whole(&got[0]) && got[0]["jobTitle"] == "Analyst");
    assert!(whole(&got[1]) && got[1]["jobTitle"] == "CTO" && got[1]["mobilePhone"].is_null());
    assert_eq!(
        got[2],
        json!({"id": user_id(21), "@removed": {"reason": "changed"}})
    );
    assert_eq!(
        got[3],
        json!({"id": user_id(22), "@removed": {"reason": "deleted"}})
    );
    assert!(whole(&got[4]) && got[4]["displayName"] == "User 0023");
    assert_eq!(got[5]["@removed"]["reason"], "changed");
    assert_eq!(got[6]["@removed"]["reason"], "deleted");

    // The same deltaLink again, minimal: updated users carry only what changed, and id.
    let (st, h, b) = s.get_with(&delta, &[("Prefer", "return=minimal")]);
    assert_eq!(st, 200);
    assert_eq!(h["preference-applied"], "return=minimal");
    let got = b["value"].as_array().unwrap();
    assert_eq!(
        got[1],
        json!({"jobTitle": "CTO", "mobilePhone": null, "id": user_id(27)})
    );
    assert!(
        whole(&got[0]) && whole(&got[4]),
        "added and restored users come whole"
    );
    assert_eq!(got[2]["@removed"]["reason"], "changed");

    // The next round starts after these changes.
    s.emu
        .update_user(&user_id(30), json!({"surname": "Thirty"}))
        .unwrap();
    let (pages, _) = s.round(&next_delta, &[("Prefer", "return=minimal")]);
    assert_eq!(
        items(&pages),
        vec![json!({"surname": "Thirty", "id": user_id(30)})]
    );
}

#[test]
fn change_rounds_page_like_full_ones() {
    let s = Setup::new(Options {
        users: 100,
        delta_page_size: 7,
        ..Options::default()
    });
    let (pages, delta) = s.round("/v1.0/users/delta", &[]);
    assert_eq!(pages.len(), 15);
    let touched = s.emu.touch_users(20);
    assert_eq!(touched.len(), 20);
    let (pages, _) = s.round(&delta, &[]);
    assert_eq!(pages.len(), 3);
    let got = items(&pages);
    assert_eq!(
        got.iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        touched
    );
    assert!(got.iter().all(|v| v["jobTitle"] == "Job title revision 1"));
}

#[test]
fn select_rides_the_links_and_filters_are_id_only() {
    let s = Setup::users(450);
    let g = &s.info.graph_url;
    let (pages, delta) = s.round("/v1.0/users/delta?$select=displayName,JobTitle", &[]);
    assert_eq!(
        pages[0]["@odata.context"],
        format!("{g}/v1.0/$metadata#users(displayName,jobTitle)")
    );
    let next = pages[0]["@odata.nextLink"].as_str().unwrap();
    assert!(!next.contains("select"), "{next}");
    for v in items(&pages) {
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{v}");
        assert!(
            v.get("displayName").is_some() && v.get("jobTitle").is_some() && v.get("id").is_some()
        );
    }
    // Options belong on the first request only.
    let (st, b) = s.get(&format!("{next}&$select=mail"));
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("Request_BadRequest"))
    );
    // Only changes to selected properties are tracked.
    s.emu
        .update_user(&user_id(3), json!({"surname": "Three"}))
        .unwrap();
    s.emu
        .update_user(&user_id(4), json!({"displayName": "Four"}))
        .unwrap();
    let (pages, _) = s.round(&delta, &[]);
    assert_eq!(
        items(&pages),
        vec![json!({"displayName": "Four", "jobTitle": "Sales Representative", "id": user_id(4)})]
    );

    // $filter: id eq ... or id eq ..., id in (...).
    let (a, b_, c) = (user_id(40), user_id(41), user_id(42));
    let (pages, fdelta) = s.round(
        &format!("/v1.0/users/delta?$filter=id eq '{a}' or ID EQ '{b_}'"),
        &[],
    );
    let ids: Vec<Value> = items(&pages).iter().map(|v| v["id"].clone()).collect();
    assert_eq!(ids, vec![json!(a), json!(b_)]);
    let (pages, _) = s.round(
        &format!("/v1.0/users/delta?$filter=id in ('{c}', '{a}', 'nobody')"),
        &[],
    );
    assert_eq!(items(&pages).len(), 2);
    // A filtered round's changes are the filtered objects' only.
    s.emu
        .update_user(&a, json!({"jobTitle": "Filtered"}))
        .unwrap();
    s.emu
        .update_user(&c, json!({"jobTitle": "Not filtered"}))
        .unwrap();
    let (pages, _) = s.round(&fdelta, &[]);
    assert_eq!(items(&pages).len(), 1);
    assert_eq!(items(&pages)[0]["jobTitle"], "Filtered");

    let refused = |q: &str, code: &str| {
        let (st, b) = s.get(&format!("/v1.0/users/delta?{q}"));
        assert_eq!(
            (st, b["error"]["code"].as_str()),
            (400, Some(code)),
            "{q}: {b}"
        );
    };
    refused("$filter=displayName eq 'x'", "Request_UnsupportedQuery");
    refused("$filter=startswith(id,'0')", "Request_UnsupportedQuery");
    refused(
        &format!("$filter=id eq '{a}' and id eq '{c}'"),
        "Request_UnsupportedQuery",
    );
    refused("$filter=id in ()", "Request_UnsupportedQuery");
    let many: Vec<String> = (0..51).map(|i| format!("'{}'", user_id(i))).collect();
    refused(
        &format!("$filter=id in ({})", many.join(",")),
        "Request_UnsupportedQuery",
    );
    refused("$orderby=displayName", "Request_UnsupportedQuery");
    refused("$search=\"displayName:a\"", "Request_UnsupportedQuery");
    refused("$count=true", "Request_UnsupportedQuery");
    refused("$select=nope", "Request_BadRequest");
    refused("$skiptoken=x&$deltatoken=y", "Request_BadRequest");
}

#[test]
fn latest_and_expired_links() {
    let s = Setup::users(300);
    let (st, b) = s.get("/v1.0/users/delta?$deltatoken=latest&$select=displayName");
    assert_eq!(st, 200);
    assert_eq!(b["value"], json!([]));
    assert!(b.get("@odata.nextLink").is_none());
    let latest = b["@odata.deltaLink"].as_str().unwrap().to_owned();
    s.emu
        .update_user(&user_id(7), json!({"displayName": "Seven"}))
        .unwrap();
    let (pages, _) = s.round(&latest, &[]);
    assert_eq!(
        items(&pages),
        vec![json!({"displayName": "Seven", "id": user_id(7)})]
    );

    // Expiry: every link issued so far answers 410 resyncRequired; new rounds work.
    let (st, first) = s.get("/v1.0/users/delta");
    assert_eq!(st, 200);
    let next = first["@odata.nextLink"].as_str().unwrap().to_owned();
    s.emu.expire_delta_links();
    for link in [&latest, &next] {
        let (st, h, b) = s.get_with(link, &[("client-request-id", "crid-1")]);
        assert_eq!(st, 410, "{b}");
        assert_eq!(b["error"]["code"], "resyncRequired");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Resync required.")
        );
        assert_eq!(b["error"]["innerError"]["client-request-id"], "crid-1");
        assert!(b["error"]["innerError"]["request-id"].is_string());
        assert!(h.contains_key("request-id"));
    }
    assert_eq!(
        s.emu.log().last_graph().unwrap().error_code.as_deref(),
        Some("resyncRequired")
    );
    let (_, fresh) = s.round("/v1.0/users/delta", &[]);
    let (st, _) = s.get(&fresh);
    assert_eq!(st, 200);
    s.emu.expire_delta_links_with(400, "syncStateNotFound");
    let (st, b) = s.get(&fresh);
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("syncStateNotFound"))
    );
    // A token never issued.
    let (st, b) = s.get("/v1.0/users/delta?$deltatoken=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("syncStateInvalid"))
    );
    // A users token is no groups token.
    let (_, d) = s.round("/v1.0/users/delta?$filter=id eq 'x'", &[]);
    let (st, _) = s.get(&d.replace("/users/delta", "/groups/delta"));
    assert_eq!(st, 400);
}

#[test]
fn groups_delta_with_its_own_permission() {
    let s = Setup::users(20);
    let g = &s.info.graph_url;
    let (pages, delta) = s.round("/v1.0/groups/delta", &[]);
    let got = items(&pages);
    assert_eq!(got.len(), 20);
    assert_eq!(got, s.emu.groups());
    assert_eq!(
        pages[0]["@odata.context"],
        format!("{g}/v1.0/$metadata#groups")
    );
    assert_eq!(
        got[1],
        json!({"id": "00000000-0000-4000-9000-000000000001", "displayName": "Sales, EMEA",
               "description": "Sales in Europe, the Middle East and Africa", "mailNickname": "sales-emea"})
    );
    let added = s
        .emu
        .add_group(json!({"displayName": "Payroll", "mailNickname": "payroll"}))
        .unwrap();
    let g1 = got[1]["id"].as_str().unwrap();
    let g2 = got[2]["id"].as_str().unwrap();
    s.emu
        .update_group(g1, json!({"description": "EMEA sales"}))
        .unwrap();
    s.emu.soft_delete_group(g2).unwrap();
    let (pages, _) = s.round(&delta, &[("Prefer", "return=minimal")]);
    let got = items(&pages);
    assert_eq!(got.len(), 3);
    assert_eq!(by_id(&got, &added)["displayName"], "Payroll");
    assert_eq!(
        by_id(&got, g1),
        &json!({"id": g1, "description": "EMEA sales"})
    );
    assert_eq!(by_id(&got, g2)["@removed"]["reason"], "changed");
    let (st, b) = s.get("/v1.0/groups/delta?$select=nope");
    assert_eq!(st, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("microsoft.graph.group")
    );

    // An app without consent: 403 on both collections.
    let noperm = token(
        &s.c,
        &s.info,
        &s.info.noperm_client_id,
        &s.info.noperm_client_secret,
    );
    for path in ["/v1.0/groups/delta", "/v1.0/users/delta"] {
        let r =
            s.c.get(format!("{g}{path}"))
                .bearer_auth(&noperm)
                .send()
                .unwrap();
        assert_eq!(r.status(), 403);
        let b: Value = r.json().unwrap();
        assert_eq!(b["error"]["code"], "Authorization_RequestDenied");
    }
    let r = s.c.get(format!("{g}/v1.0/groups/delta")).send().unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn faults_hit_delta_pages_and_a_retry_gets_the_page() {
    let s = Setup::users(450);
    let (st, first) = s.get("/v1.0/users/delta");
    assert_eq!(st, 200);
    let next = first["@odata.nextLink"].as_str().unwrap().to_owned();
    let (_, expected) = s.get(&next);

    s.emu.set_fault(Fault::once(FaultKind::Throttle {
        retry_after_secs: 2,
    }));
    let (st, h, b) = s.get_with(&next, &[]);
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (429, Some("TooManyRequests"))
    );
    assert_eq!(h["retry-after"], "2");
    let (st, again) = s.get(&next);
    assert_eq!(st, 200);
    assert_eq!(again["value"], expected["value"]);

    s.emu.set_fault(Fault::once(FaultKind::ResetMidBody));
    assert!(
        s.c.get(&next)
            .bearer_auth(&s.token)
            .send()
            .and_then(|r| r.bytes())
            .is_err()
    );
    let (st, again) = s.get(&next);
    assert_eq!((st, &again["value"]), (200, &expected["value"]));

    // An empty page leads back to the same objects.
    s.emu.set_fault(Fault::once(FaultKind::EmptyPage));
    let (st, empty) = s.get(&next);
    assert_eq!((st, &empty["value"]), (200, &json!([])));
    let (_, after) = s.get(empty["@odata.nextLink"].as_str().unwrap());
    assert_eq!(after["value"], expected["value"]);
    let faults: Vec<Option<String>> = s
        .emu
        .log()
        .graph_requests
        .iter()
        .map(|r| r.fault.clone())
        .collect();
    assert!(
        faults.contains(&Some("throttle".into())) && faults.contains(&Some("empty_page".into()))
    );
}

/// The benchmark's scenario: a 100,000-user tenant, 1,000 users changed since the last round.
#[test]
fn a_thousand_changes_in_a_hundred_thousand_users_take_five_requests() {
    let s = Setup::users(100_000);
    let started = Instant::now();
    let (st, b) = s.get("/v1.0/users/delta?$deltatoken=latest");
    assert_eq!(st, 200);
    let delta = b["@odata.deltaLink"].as_str().unwrap().to_owned();
    let touched = s.emu.touch_users(1000);
    s.emu.clear_log();
    let (pages, _) = s.round(&delta, &[]);
    assert_eq!(pages.len(), 5);
    assert_eq!(items(&pages).len(), 1000);
    assert_eq!(s.emu.log().graph_requests.len(), 5);
    assert_eq!(s.emu.log().delta_pages().len(), 5);
    assert_eq!(touched.len(), 1000);
    // Generous: a debug build on a loaded shared machine; this is about 0.1 s on an idle one.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Touching changes no count.
    let (st, _, b) = s.get_with(
        "/v1.0/users?$count=true&$top=1",
        &[("ConsistencyLevel", "eventual")],
    );
    assert_eq!((st, &b["@odata.count"]), (200, &json!(100_000)));
}

//! The network around graphd: HTTPS_PROXY / NO_PROXY through a real CONNECT proxy, which
//! transport failures are retried (refused connections) and which are not (an untrusted
//! certificate), the documented defaults, and the process hardening (no core dumps).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::util::*;

/// A minimal HTTP CONNECT proxy on loopback that records each request head it receives.
struct Proxy {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || tunnel(conn, &seen));
            }
        });
        Proxy { url, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn tunnel(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    seen.lock().unwrap().push(head.clone());
    let Some(target) = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("CONNECT "))
        .and_then(|l| l.split(' ').next())
    else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(std::net::Shutdown::Write);
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("https://")
}

#[test]
fn https_proxy_is_used_and_sees_only_connect() {
    let s = start(25);
    let proxy = Proxy::start();
    let out = s
        .graphd_secret()
        .env("HTTPS_PROXY", &proxy.url)
        .args(["users", "-o", "jsonl", "-vvv", "--top", "10"])
        .output()
        .unwrap();
    assert_no_leak(&s, &out);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(ids_of(&json_lines(&out.stdout)), s.ids());
    let heads = proxy.heads();
    let info = s.emu.info();
    for host in [
        host_port(&info.authority_host_url),
        host_port(&info.graph_url),
    ] {
        assert!(
            heads
                .iter()
                .any(|h| h.starts_with(&format!("CONNECT {host} "))),
            "{host} not tunnelled: {heads:?}"
        );
    }
    // The token and the secret travel inside TLS: the proxy sees no credential.
    for h in &heads {
        let lower = h.to_ascii_lowercase();
        assert!(!lower.contains("authorization"), "{h}");
        assert!(!h.contains(&info.client_secret), "{h}");
    }
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let s = start(5);
    let proxy = Proxy::start();
    let out = s
        .graphd_secret()
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "127.0.0.1")
        .arg("users")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(proxy.heads().is_empty(), "{:?}", proxy.heads());
}

#[test]
fn a_refused_connection_is_retried_then_reported_with_the_attempts() {
    let s = shared();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let out = s
        .graphd_secret()
        .env("AZURE_AUTHORITY_HOST", format!("https://127.0.0.1:{port}"))
        .args(["users", "-v", "--max-retries", "2", "--no-token-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(e.contains("error: cannot reach the token endpoint"), "{e}");
    assert!(e.contains("caused by: gave up after 3 attempts"), "{e}");
    assert_eq!(e.matches("cannot connect (").count(), 3, "{e}");
    assert_eq!(
        e.matches("; retry ").count(),
        2,
        "each retry is logged at -v: {e}"
    );
    assert!(
        e.contains("hint: check the network, HTTPS_PROXY / NO_PROXY"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_untrusted_certificate_is_not_retried() {
    let s = shared();
    let started = Instant::now();
    let out = s
        .graphd_secret()
        .env_remove("GRAPHD_CA_BUNDLE")
        .args(["users", "-v", "--no-token-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    let e = stderr_of(&out);
    assert!(e.contains("caused by: gave up after 1 attempt\n"), "{e}");
    assert!(!e.contains("retry 1 of"), "{e}");
    assert!(e.contains("--ca-bundle"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn help_documents_the_network_defaults() {
    let out = shared()
        .graphd()
        .args(["users", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--max-retries <N>",
        "[default: 4]",
        "--timeout <SECS>",
        "[default: 60]",
        "--deadline <SECS>",
        "[default: 3600]",
        "--max-retry-wait <SECS>",
        "[default: 120]",
        "--max-response-mib <MIB>",
        "[default: 64]",
    ] {
        assert!(help.contains(needle), "{needle:?} missing:\n{help}");
    }
    let out = shared().graphd().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("HTTPS_PROXY and NO_PROXY are honoured"),
        "{help}"
    );
    let out = shared()
        .graphd()
        .args(["users", "--timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn core_dumps_are_off_while_secrets_are_held() {
    let s = shared();
    let mut child = s
        .std_graphd()
        .args(["users", "--secret-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // graphd waits for the secret on stdin; by then its limits are set.
    let limits = format!("/proc/{}/limits", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut line = String::new();
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&limits).unwrap_or_default();
        line = text
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or("")
            .to_string();
        if line.split_whitespace().skip(4).take(2).eq(["0", "0"]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        line.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{line}"
    );
}

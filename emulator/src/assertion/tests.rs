//! Unit tests of `assertion`.
use super::*;
use crate::tls::{ClientCertSpec, ClientKey, generate_client_cert};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::pkey::Private;
use serde_json::json;

pub(crate) struct Key {
    pub key: PKey<Private>,
    pub cert: X509,
    pub generated: crate::tls::GeneratedCert,
}

pub(crate) fn key(spec: ClientCertSpec) -> Key {
    let generated = generate_client_cert(&spec).unwrap();
    Key {
        key: PKey::private_key_from_pem(&generated.key_pem).unwrap(),
        cert: X509::from_pem(&generated.cert_pem).unwrap(),
        generated,
    }
}

/// Builds and signs an assertion by hand with OpenSSL (header and claims as given).
pub(crate) fn make(alg: &str, key: &PKey<Private>, header: &Value, claims: &Value) -> String {
    let a = if alg == "PS256" {
        Alg::Ps256
    } else {
        Alg::Rs256
    };
    jwt::sign(a, key, header, claims).unwrap()
}

const AUD: &str = "https://127.0.0.1:1/t/oauth2/v2.0/token";
const CID: &str = "11111111-2222-3333-4444-555555555555";
static NOW_CELL: std::sync::LazyLock<i64> = std::sync::LazyLock::new(crate::util::now_unix);

fn now() -> i64 {
    *NOW_CELL
}

fn claims() -> Value {
    json!({"aud": AUD, "iss": CID, "sub": CID, "jti": "j1", "nbf": now(), "iat": now(), "exp": now() + 600})
}

fn run(k: &Key, certs: &[RegisteredCert], token: &str) -> (Facts, Result<(), Rejection>) {
    let _ = k;
    check(
        token,
        &Expect {
            audience: AUD,
            client_id: CID,
            certs,
            trusted: &[],
            now: now(),
        },
    )
}

fn code(r: (Facts, Result<(), Rejection>)) -> Option<u32> {
    r.1.err().map(|e| e.code)
}

#[test]
fn assertion_rules() {
    let k = key(ClientCertSpec::default());
    let reg = vec![RegisteredCert::from_x509(&k.cert).unwrap()];
    let ps = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": k.generated.x5t_s256});
    let rs = json!({"alg": "RS256", "typ": "JWT", "x5t": k.generated.x5t});

    // Both accepted forms.
    let (f, r) = run(&k, &reg, &make("PS256", &k.key, &ps, &claims()));
    assert_eq!(r, Ok(()));
    assert_eq!(f.alg.as_deref(), Some("PS256"));
    assert_eq!(f.thumbprint_header.as_deref(), Some("x5t#S256"));
    assert_eq!(f.jti.as_deref(), Some("j1"));
    assert_eq!(
        run(&k, &reg, &make("RS256", &k.key, &rs, &claims())).1,
        Ok(())
    );

    // MSAL Python leniencies: padded x5t, x5c with line breaks.
    let padded = format!("{}=", k.generated.x5t);
    let der = k.cert.to_der().unwrap();
    let b64 = STANDARD.encode(&der);
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let h = json!({"alg": "RS256", "typ": "JWT", "x5t": padded, "x5c": [wrapped]});
    let (f, r) = run(&k, &reg, &make("RS256", &k.key, &h, &claims()));
    assert_eq!(r, Ok(()));
    assert!(f.has_x5c);

    // Mixed pairs, no thumbprint, both thumbprints.
    let mix1 = json!({"alg": "RS256", "x5t#S256": k.generated.x5t_s256});
    let mix2 = json!({"alg": "PS256", "x5t": k.generated.x5t});
    let none = json!({"alg": "PS256"});
    let both = json!({"alg": "PS256", "x5t": k.generated.x5t, "x5t#S256": k.generated.x5t_s256});
    for h in [mix1, mix2, none, both] {
        let alg = h["alg"].as_str().unwrap().to_owned();
        assert_eq!(
            code(run(&k, &reg, &make(&alg, &k.key, &h, &claims()))),
            Some(700027),
            "{h}"
        );
    }
    // Other algorithms are malformed.
    let hs = json!({"alg": "HS256", "x5t": k.generated.x5t});
    assert_eq!(
        code(run(&k, &reg, &make("RS256", &k.key, &hs, &claims()))),
        Some(50027)
    );
    // PS256 header but an RS256 signature: bad signature.
    assert_eq!(
        code(run(&k, &reg, &make("RS256", &k.key, &ps, &claims()))),
        Some(700027)
    );

    // Unknown thumbprint: 700027 naming the thumbprint.
    let other = key(ClientCertSpec::default());
    let oh = json!({"alg": "PS256", "x5t#S256": other.generated.x5t_s256});
    let r = run(&k, &reg, &make("PS256", &other.key, &oh, &claims()))
        .1
        .unwrap_err();
    assert_eq!(r.code, 700027);
    assert!(r.message.contains("not registered"));
    // Right thumbprint, wrong key: signature mismatch.
    let r = run(&k, &reg, &make("PS256", &other.key, &ps, &claims()))
        .1
        .unwrap_err();
    assert_eq!(r.code, 700027);
    assert!(r.message.contains("did not match"));

    // Claims.
    let mut c = claims();
    c["aud"] = json!("https://login.microsoftonline.com/t/oauth2/v2.0/token");
    assert_eq!(
        code(run(&k, &reg, &make("PS256", &k.key, &ps, &c))),
        Some(50027)
    );
    let mut c = claims();
    c["sub"] = json!("someone-else");
    assert_eq!(
        code(run(&k, &reg, &make("PS256", &k.key, &ps, &c))),
        Some(50048)
    );
    let mut c = claims();
    c["iss"] = json!("x");
    c["sub"] = json!("x");
    assert_eq!(
        code(run(&k, &reg, &make("PS256", &k.key, &ps, &c))),
        Some(50027)
    );
    let mut c = claims();
    c.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        code(run(&k, &reg, &make("PS256", &k.key, &ps, &c))),
        Some(50027)
    );
    let mut c = claims();
    c["exp"] = json!((now() + 600).to_string());
    assert_eq!(
        code(run(&k, &reg, &make("PS256", &k.key, &ps, &c))),
        Some(50027)
    );
    // Time window: skew 300 s, lifetime <= 600 s.
    let window = |nbf: i64, exp: i64| {
        let mut c = claims();
        c["nbf"] = json!(nbf);
        c["exp"] = json!(exp);
        code(run(&k, &reg, &make("PS256", &k.key, &ps, &c)))
    };
    assert_eq!(window(now() + 300, now() + 600), None);
    assert_eq!(window(now() + 301, now() + 600), Some(700024));
    assert_eq!(window(now() - 600, now() - 299), None);
    assert_eq!(window(now() - 600, now() - 300), Some(700024));
    assert_eq!(window(now(), now() + 601), Some(700024));
    // MSAL Python sends no `nbf`: the window starts at `iat` (float seconds, as PyJWT
    // writes them); without `nbf` and `iat` there is no start.
    let without_nbf = |iat: Option<Value>, exp: Value| {
        let mut c = claims();
        let o = c.as_object_mut().unwrap();
        o.remove("nbf");
        o.remove("iat");
        if let Some(iat) = iat {
            o.insert("iat".into(), iat);
        }
        o.insert("exp".into(), exp);
        code(run(&k, &reg, &make("RS256", &k.key, &rs, &c)))
    };
    let f = now() as f64 + 0.25;
    assert_eq!(without_nbf(Some(json!(f)), json!(f + 600.0)), None);
    assert_eq!(without_nbf(Some(json!(f)), json!(f + 601.0)), Some(700024));
    assert_eq!(
        without_nbf(Some(json!(now() + 301)), json!(now() + 600)),
        Some(700024)
    );
    assert_eq!(without_nbf(None, json!(now() + 600)), Some(50027));
    // Not a JWT at all.
    assert_eq!(code(run(&k, &reg, "not-a-jwt")), Some(50027));
    let padded_seg = format!("{}=", make("PS256", &k.key, &ps, &claims()));
    assert_eq!(code(run(&k, &reg, &padded_seg)), Some(50027));
    let _ = URL_SAFE_NO_PAD;
}

#[test]
fn registered_key_window_and_size() {
    let expired = key(ClientCertSpec {
        not_before: now() - 86_400 * 10,
        not_after: now() - 86_400,
        ..Default::default()
    });
    let reg = vec![RegisteredCert::from_x509(&expired.cert).unwrap()];
    let h = json!({"alg": "PS256", "x5t#S256": expired.generated.x5t_s256});
    let r = run(&expired, &reg, &make("PS256", &expired.key, &h, &claims()))
        .1
        .unwrap_err();
    assert_eq!(r.code, 700027);
    assert!(r.message.contains("expired"));

    let small = key(ClientCertSpec {
        key: ClientKey::Rsa(1024),
        not_before: now() - 10,
        not_after: now() + 86_400,
        ..Default::default()
    });
    let reg = vec![RegisteredCert::from_x509(&small.cert).unwrap()];
    let h = json!({"alg": "RS256", "x5t": small.generated.x5t});
    let r = run(&small, &reg, &make("RS256", &small.key, &h, &claims()))
        .1
        .unwrap_err();
    assert_eq!(r.code, 700027);
    assert!(
        r.message
            .contains("RSA key size 1024 is less than the minimum required 2048 bits")
    );
}

//! The client-assertion rules of PROTOCOL.md §2, as a pure function of the assertion, the app's
//! registered certificates and the clock: header forms (PS256 + `x5t#S256`, RS256 + `x5t`, never
//! mixed), thumbprint lookup, key validity and size, the signature, then `aud`, `iss`/`sub`,
//! `jti` and the time window. Leniencies match what real MSAL sends (padded `x5t`, `x5c` with line
//! breaks, repeated `jti` — replay is tracked by the caller). No HTTP here.

use crate::jwt::{self, Alg};
use crate::tls::{asn1_to_unix, hex_upper, thumbprints};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use openssl::pkey::{Id, PKey, Public};
use openssl::x509::X509;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Clock skew Entra tolerates on `nbf` / `exp` (undocumented; about 5 minutes in practice).
pub(crate) const SKEW_SECS: i64 = 300;
/// Longest assertion lifetime accepted (`exp - nbf`): the docs say 5–10 minutes.
pub(crate) const MAX_LIFETIME_SECS: i64 = 600;

/// base64url that accepts MSAL Python's `=`-padded `x5t` (and unpadded, as graphd sends).
const URL_SAFE_PAD_OPTIONAL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A certificate registered on an app (a `keyCredentials` entry).
#[derive(Clone)]
pub(crate) struct RegisteredCert {
    /// The `keyCredentials` entry's id (a GUID, fresh at registration).
    pub key_id: String,
    /// `CN=...` of the subject, as the portal shows it.
    pub display_name: String,
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub public_key: PKey<Public>,
    /// Unix time from which the token endpoint sees it (registration propagating, as in Entra).
    pub usable_from: i64,
}

impl RegisteredCert {
    pub(crate) fn from_x509(cert: &X509) -> Result<RegisteredCert, openssl::error::ErrorStack> {
        let (sha1, sha256) = thumbprints(cert)?;
        Ok(RegisteredCert {
            key_id: crate::util::guid(),
            display_name: name_line(cert.subject_name()),
            sha1,
            sha256,
            not_before: asn1_to_unix(cert.not_before())?,
            not_after: asn1_to_unix(cert.not_after())?,
            public_key: cert.public_key()?,
            usable_from: 0,
        })
    }
}

/// A subject + issuer the app trusts instead of a thumbprint (Entra's "Subject Name + Issuer"
/// authentication): a certificate sent in `x5c` whose subject is `subject` and which is signed
/// by `issuer` is accepted without being registered.
#[derive(Clone)]
pub(crate) struct TrustedSubject {
    /// The subject as OpenSSL's one-line form of its entries, e.g. `CN=ci.contoso.com`.
    pub subject: String,
    pub issuer: X509,
}

/// The one-line `K=V,K=V` form of a name, for comparing subjects.
pub(crate) fn name_line(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            format!(
                "{}={}",
                e.object().nid().short_name().unwrap_or("?"),
                e.data().to_string().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What the token endpoint expects of an assertion for this request.
pub(crate) struct Expect<'a> {
    /// `{authority}/{tenant as in the path}/oauth2/v2.0/token`
    pub audience: &'a str,
    pub client_id: &'a str,
    pub certs: &'a [RegisteredCert],
    /// Subjects + issuers trusted through `x5c` (empty: thumbprints only).
    pub trusted: &'a [TrustedSubject],
    pub now: i64,
}

/// What was learned from the assertion, for the request log, whether or not it passed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Facts {
    pub alg: Option<String>,
    pub thumbprint_header: Option<String>,
    pub jti: Option<String>,
    pub has_x5c: bool,
}

/// A refusal: the AADSTS code and the description's message part (always `invalid_client`, 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub code: u32,
    pub message: String,
}

fn reject(code: u32, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

fn malformed(detail: &str) -> Rejection {
    reject(
        50027,
        format!("JWT token is invalid or malformed. {detail}"),
    )
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    typ: Option<String>,
    x5t: Option<String>,
    #[serde(rename = "x5t#S256")]
    x5t_s256: Option<String>,
    x5c: Option<Vec<String>>,
}

/// Checks a client assertion. Order follows Entra: header, key lookup by thumbprint, key
/// validity and size, signature, then the claims.
pub(crate) fn check(assertion: &str, expect: &Expect<'_>) -> (Facts, Result<(), Rejection>) {
    let mut facts = Facts::default();
    let result = check_inner(assertion, expect, &mut facts);
    (facts, result)
}

fn check_inner(assertion: &str, expect: &Expect<'_>, facts: &mut Facts) -> Result<(), Rejection> {
    let raw = jwt::split(assertion).map_err(malformed)?;
    let header: Header = serde_json::from_slice(&raw.header)
        .map_err(|_| malformed("The JWT header is not a valid JSON object."))?;
    // Claims are parsed up front only to log the jti; their rules are checked after the signature.
    let claims: Option<Map<String, Value>> = serde_json::from_slice(&raw.claims).ok();
    facts.alg = header.alg.clone();
    facts.has_x5c = header.x5c.is_some();
    facts.thumbprint_header = match (&header.x5t, &header.x5t_s256) {
        (Some(_), Some(_)) => Some("x5t,x5t#S256".into()),
        (Some(_), None) => Some("x5t".into()),
        (None, Some(_)) => Some("x5t#S256".into()),
        (None, None) => None,
    };
    facts.jti = claims
        .as_ref()
        .and_then(|c| c.get("jti"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    let alg = match header.alg.as_deref() {
        Some("RS256") => Alg::Rs256,
        Some("PS256") => Alg::Ps256,
        Some(other) => {
            return Err(malformed(&format!(
                "The JWT header's alg '{other}' is not supported; use PS256 or RS256."
            )));
        }
        None => return Err(malformed("The JWT header has no alg.")),
    };
    if let Some(typ) = &header.typ
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(malformed(&format!(
            "The JWT header's typ '{typ}' is not JWT."
        )));
    }
    // Exactly one thumbprint, of the kind that goes with the algorithm (PROTOCOL.md §2: the mixed
    // pairs are unconfirmed, so the emulator refuses them).
    let (thumb_b64, want_len, sha256) = match (alg, &header.x5t, &header.x5t_s256) {
        (Alg::Ps256, None, Some(t)) => (t, 32, true),
        (Alg::Rs256, Some(t), None) => (t, 20, false),
        (_, None, None) => {
            return Err(reject(
                700027,
                "Client assertion failed signature validation. [Reason - The JWT header has neither x5t nor x5t#S256, so no registered key can be found.]",
            ));
        }
        (alg, _, _) => {
            let (name, want) = match alg {
                Alg::Ps256 => ("PS256", "x5t#S256"),
                Alg::Rs256 => ("RS256", "x5t"),
            };
            return Err(reject(
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - The thumbprint header is not usable with alg {name}: send exactly one thumbprint, {want}.]"
                ),
            ));
        }
    };
    let thumb = URL_SAFE_PAD_OPTIONAL
        .decode(thumb_b64)
        .ok()
        .filter(|t| t.len() == want_len)
        .ok_or_else(|| {
            reject(
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - The thumbprint '{thumb_b64}' is not a base64url {} digest.]",
                    if sha256 { "SHA-256" } else { "SHA-1" }
                ),
            )
        })?;
    let thumb_hex = hex_upper(&thumb);

    let mut x5c_leaf: Option<X509> = None;
    if let Some(chain) = &header.x5c {
        let Some(leaf) = chain.first() else {
            return Err(malformed("The JWT header's x5c is empty."));
        };
        for entry in chain {
            // MSAL Python's x5c entries carry line breaks; Entra accepts them.
            let cleaned: String = entry.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|_| malformed("An x5c entry is not standard base64."))?;
            let cert = X509::from_der(&der)
                .map_err(|_| malformed("An x5c entry is not a DER certificate."))?;
            if std::ptr::eq(entry, leaf) {
                let (s1, s256) = thumbprints(&cert)
                    .map_err(|_| malformed("An x5c entry is not a DER certificate."))?;
                if (if sha256 { s256 } else { s1 }) != thumb {
                    return Err(reject(
                        700027,
                        format!(
                            "Client assertion failed signature validation. [Reason - The first x5c certificate does not match the thumbprint header., Thumbprint of key used by client: '{thumb_hex}']"
                        ),
                    ));
                }
                x5c_leaf = Some(cert);
            }
        }
    }

    let found = expect
        .certs
        .iter()
        .filter(|c| expect.now >= c.usable_from)
        .find(|c| (if sha256 { &c.sha256 } else { &c.sha1 }) == &thumb)
        .cloned()
        .or_else(|| {
            x5c_leaf
                .as_ref()
                .and_then(|leaf| trusted_by_subject(leaf, expect.trusted))
        });
    let Some(cert) = found else {
        return Err(reject(
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumb_hex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                expect.client_id
            ),
        ));
    };
    if expect.now < cert.not_before || expect.now > cert.not_after {
        return Err(reject(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '{thumb_hex}', Found key 'Start={}, End={}']",
                crate::util::format_time(cert.not_before, 0, 0, true),
                crate::util::format_time(cert.not_after, 0, 0, true)
            ),
        ));
    }
    if cert.public_key.id() != Id::RSA {
        return Err(reject(
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - The key type is not supported; only RSA keys are., Thumbprint of key used by client: '{thumb_hex}']"
            ),
        ));
    }
    let bits = cert.public_key.bits();
    if bits < 2048 {
        return Err(reject(
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - RSA key size {bits} is less than the minimum required 2048 bits., Thumbprint of key used by client: '{thumb_hex}']"
            ),
        ));
    }
    if !jwt::verify(
        alg,
        &cert.public_key,
        raw.signing_input.as_bytes(),
        &raw.signature,
    ) {
        return Err(reject(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{thumb_hex}']"
            ),
        ));
    }

    let claims = claims.ok_or_else(|| malformed("The JWT payload is not a valid JSON object."))?;
    check_claims(&claims, expect)
}

/// The leaf as a usable key when a trusted subject + issuer vouches for it: the subject
/// matches and the leaf's signature verifies with the trusted issuer's key.
fn trusted_by_subject(leaf: &X509, trusted: &[TrustedSubject]) -> Option<RegisteredCert> {
    let subject = name_line(leaf.subject_name());
    trusted.iter().find_map(|t| {
        let issuer_key = t.issuer.public_key().ok()?;
        let issued_by = name_line(leaf.issuer_name()) == name_line(t.issuer.subject_name());
        (t.subject == subject && issued_by && leaf.verify(&issuer_key).unwrap_or(false))
            .then(|| RegisteredCert::from_x509(leaf).ok())
            .flatten()
    })
}

fn string_claim<'c>(claims: &'c Map<String, Value>, name: &str) -> Result<&'c str, Rejection> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(malformed(&format!(
            "The '{name}' claim must be a non-empty string."
        ))),
        None => Err(malformed(&format!("The '{name}' claim is missing."))),
    }
}

fn number_claim(claims: &Map<String, Value>, name: &str) -> Result<i64, Rejection> {
    match claims.get(name) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| malformed(&format!("The '{name}' claim is out of range."))),
        Some(_) => Err(malformed(&format!(
            "The '{name}' claim must be a JSON number (NumericDate), not a string."
        ))),
        None => Err(malformed(&format!("The '{name}' claim is missing."))),
    }
}

fn check_claims(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<(), Rejection> {
    match claims.get("aud") {
        Some(Value::String(aud)) if aud == expect.audience => {}
        Some(Value::String(aud)) => {
            return Err(malformed(&format!(
                "The audience '{aud}' is invalid; it must be '{}'.",
                expect.audience
            )));
        }
        _ => return Err(malformed("The 'aud' claim must be a string.")),
    }
    let iss = string_claim(claims, "iss")?;
    let sub = string_claim(claims, "sub")?;
    if iss != sub {
        return Err(reject(
            50048,
            format!(
                "Subject mismatches Issuer claim in the client assertion for application '{}'.",
                expect.client_id
            ),
        ));
    }
    // iss == sub but not the request's client_id: the app *was* found (by the form's client_id),
    // so 700016 ("application not found") would mislead; 50027 says the JWT is wrong for it.
    if !iss.eq_ignore_ascii_case(expect.client_id) {
        return Err(malformed(&format!(
            "The issuer and subject '{iss}' must equal the client_id '{}'.",
            expect.client_id
        )));
    }
    string_claim(claims, "jti")?;
    // `nbf` may be absent: MSAL Python's assertions carry `iat` and `exp` but no `nbf` (its
    // `create_normal_assertion` adds `nbf` only when asked), and Entra accepts them. The window
    // then starts at `iat`; an assertion with neither has no start and is refused.
    let iat = match claims.contains_key("iat") {
        true => Some(number_claim(claims, "iat")?),
        false => None,
    };
    let nbf = match (claims.contains_key("nbf"), iat) {
        (true, _) => number_claim(claims, "nbf")?,
        (false, Some(iat)) => iat,
        (false, None) => number_claim(claims, "nbf")?,
    };
    let exp = number_claim(claims, "exp")?;
    let now = expect.now;
    if now + SKEW_SECS < nbf
        || exp <= now - SKEW_SECS
        || exp <= nbf
        || exp - nbf > MAX_LIFETIME_SECS
    {
        let t = |s| crate::util::format_time(s, 0, 0, true);
        return Err(reject(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                t(now),
                t(nbf),
                t(exp)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;

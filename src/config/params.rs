//! The quickstart's `parameters.json` (PROTOCOL.md §6), read as is.
//!
//! Keys: `authority` (`https://HOST/TENANT`), `client_id`, `scope` (one `RESOURCE/.default`, as
//! an array or a string), `endpoint` (the URL `users`/`get` fetch by default), and a credential:
//! `secret`, or `thumbprint` + `private_key_file` (the quickstart's certificate variant), or
//! `private_key_file` + `public_certificate_file`. Other keys (`note`, `oidc_authority`, …)
//! are tolerated. Relative file paths resolve against the file's directory.
//!
//! This module reads one file into a zeroizing buffer and must never echo its content: errors
//! name the file, a line and a column, or a key — never a value (the file may hold a secret).

use std::path::{Path, PathBuf};
use std::sync::Once;

use serde::Deserialize;
use serde::de::IgnoredAny;
use url::Url;

use super::ConfigError;
use crate::credential::input;
use crate::credential::pkcs11::Pkcs11Uri;
use crate::secret::ClientSecret;

/// What a parameters file says, checked.
#[derive(Debug, Default)]
pub struct Params {
    pub path: PathBuf,
    /// `(authority origin, tenant)` from `authority`.
    pub authority: Option<(String, String)>,
    pub client_id: Option<String>,
    /// The single scope, e.g. `https://graph.microsoft.com/.default`.
    pub scope: Option<String>,
    /// The full `endpoint` URL.
    pub endpoint: Option<Url>,
    pub credential: Option<ParamsCredential>,
    /// The file's permission bits (a file holding a `secret` must not be open to others).
    pub mode: Option<u32>,
    /// Windows: who else the file's ACL lets read it (`files::acl_exposure`), if anyone.
    pub exposed: Option<String>,
}

/// The credential a parameters file names.
pub enum ParamsCredential {
    /// `secret`: a plaintext client secret (works, warns once).
    Secret(ClientSecret),
    /// `thumbprint` + `private_key_file` without a certificate: MSAL's legacy RS256 + `x5t` form.
    KeyWithThumbprint { key: PathBuf, thumbprint: String },
    /// `private_key_file` as a `pkcs11:` URI alone: a token key, its certificate on the token.
    KeyOnToken { key: PathBuf },
    /// `private_key_file` [+ `public_certificate_file`] [+ `thumbprint`, checked against it].
    Certificate {
        cert: PathBuf,
        key: Option<PathBuf>,
        thumbprint: Option<String>,
    },
}

impl std::fmt::Debug for ParamsCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::KeyOnToken { key } => f.debug_struct("KeyOnToken").field("key", key).finish(),
            Self::KeyWithThumbprint { key, thumbprint } => f
                .debug_struct("KeyWithThumbprint")
                .field("key", key)
                .field("thumbprint", thumbprint)
                .finish(),
            Self::Certificate {
                cert,
                key,
                thumbprint,
            } => f
                .debug_struct("Certificate")
                .field("cert", cert)
                .field("key", key)
                .field("thumbprint", thumbprint)
                .finish(),
        }
    }
}

/// The wire shape; unknown keys are ignored, `secret` goes straight into the secret type.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    authority: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<ScopeField>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    secret: Option<ClientSecret>,
    #[serde(default)]
    thumbprint: Option<String>,
    #[serde(default)]
    private_key_file: Option<PathBuf>,
    #[serde(default)]
    public_certificate_file: Option<PathBuf>,
    #[serde(flatten)]
    _other: std::collections::BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeField {
    One(String),
    Many(Vec<String>),
}

/// Reads and checks a parameters file.
pub fn load(path: &Path) -> Result<Params, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let (mut file, meta) = crate::files::open_with_meta(path).map_err(read)?;
    let bytes = input::read_capped(&mut file, input::MAX_FILE_BYTES, None)
        .map_err(read)?
        .map_err(|_| ConfigError::TooLarge {
            path: path.to_path_buf(),
        })?;
    let mut params = parse(bytes.expose(), path)?;
    params.mode = crate::files::mode(&meta);
    params.exposed = crate::files::acl_exposure(&file, &meta);
    Ok(params)
}

/// Parses the bytes of a parameters file found at `path`.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Params, ConfigError> {
    let wire: Wire = match serde_json::from_slice(bytes) {
        Ok(w) => w,
        Err(e) => {
            if let Some(line) = comment_line(bytes) {
                return Err(ConfigError::CommentedJson {
                    path: path.to_path_buf(),
                    line,
                });
            }
            // serde_json's message can quote a value: keep only where, and what kind.
            return Err(ConfigError::BadJson {
                path: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                what: match e.classify() {
                    serde_json::error::Category::Data => "a value of the wrong type or shape",
                    serde_json::error::Category::Eof => "it ends too early",
                    _ => "invalid JSON syntax",
                },
            });
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    // A `pkcs11:` URI is not a path: it stays as written.
    let rel = |p: PathBuf| {
        let uri = p.to_str().is_some_and(Pkcs11Uri::is_uri);
        if p.is_relative() && !uri {
            dir.join(p)
        } else {
            p
        }
    };
    let bad = |key: &'static str, why: &'static str| ConfigError::BadParam {
        path: path.to_path_buf(),
        key,
        why,
    };

    let authority = match wire.authority.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(split_authority(a).ok_or_else(|| {
            bad(
                "authority",
                "must be https://HOST/TENANT, e.g. https://login.microsoftonline.com/contoso.onmicrosoft.com",
            )
        })?),
    };
    let scope = match wire.scope {
        None => None,
        Some(ScopeField::One(s)) => Some(s),
        Some(ScopeField::Many(v)) if v.len() == 1 => v.into_iter().next(),
        Some(ScopeField::Many(v)) if v.is_empty() => None,
        Some(ScopeField::Many(_)) => {
            return Err(bad(
                "scope",
                "must hold exactly one RESOURCE/.default (app-only tokens are for one resource)",
            ));
        }
    };
    if let Some(s) = &scope
        && !s.ends_with("/.default")
    {
        return Err(bad(
            "scope",
            "must be RESOURCE/.default, e.g. https://graph.microsoft.com/.default",
        ));
    }
    let endpoint = match wire.endpoint.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(
            Url::parse(e)
                .ok()
                .filter(|u| u.scheme() == "https" && u.host().is_some())
                .ok_or_else(|| {
                    bad(
                        "endpoint",
                        "must be an https URL, e.g. https://graph.microsoft.com/v1.0/users",
                    )
                })?,
        ),
    };
    if let (Some(s), Some(e)) = (&scope, &endpoint) {
        let want = format!("{}/.default", e.origin().ascii_serialization());
        if *s != want {
            return Err(bad(
                "scope",
                "must be the endpoint's Graph origin + /.default (a token for another resource would be refused)",
            ));
        }
    }

    let thumbprint = match wire.thumbprint.as_deref() {
        None => None,
        Some(t) => Some(normalize_thumbprint(t).ok_or_else(|| {
            bad(
                "thumbprint",
                "must be the certificate's SHA-1 thumbprint: 40 hex digits",
            )
        })?),
    };
    let cert_credential = match (
        wire.private_key_file.map(rel),
        wire.public_certificate_file.map(rel),
        thumbprint,
    ) {
        (None, None, None) => None,
        (Some(key), Some(cert), thumbprint) => Some(ParamsCredential::Certificate {
            cert,
            key: Some(key),
            thumbprint,
        }),
        (Some(key), None, Some(thumbprint)) => {
            Some(ParamsCredential::KeyWithThumbprint { key, thumbprint })
        }
        // A token key alone: its certificate is on the token.
        (Some(key), None, None) if key.to_str().is_some_and(Pkcs11Uri::is_uri) => {
            Some(ParamsCredential::KeyOnToken { key })
        }
        // A key file alone must also hold the certificate (a combined PEM).
        (Some(key), None, None) => Some(ParamsCredential::Certificate {
            cert: key,
            key: None,
            thumbprint: None,
        }),
        (None, _, _) => {
            return Err(bad(
                "private_key_file",
                "is missing: thumbprint and public_certificate_file need the private key file",
            ));
        }
    };
    let credential = match (wire.secret, cert_credential) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "secret",
                "and a certificate (private_key_file) are both given; keep exactly one credential",
            ));
        }
        (Some(secret), None) if secret.expose().is_empty() => {
            return Err(bad("secret", "is empty"));
        }
        (Some(secret), None) => {
            warn_plaintext_secret(path);
            Some(ParamsCredential::Secret(secret))
        }
        (None, c) => c,
    };
    Ok(Params {
        path: path.to_path_buf(),
        authority,
        client_id: wire.client_id.filter(|c| !c.trim().is_empty()),
        scope,
        endpoint,
        credential,
        mode: None,
        exposed: None,
    })
}

/// `https://HOST[:PORT]/TENANT[/]` → (origin, tenant).
fn split_authority(a: &str) -> Option<(String, String)> {
    let url = Url::parse(a).ok()?;
    if url.scheme() != "https" || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    let mut segs = url.path_segments()?.filter(|s| !s.is_empty());
    let tenant = segs.next()?.to_string();
    if segs.next().is_some() {
        return None;
    }
    Some((url.origin().ascii_serialization(), tenant))
}

/// 40 hex digits, uppercased; the portal's colons or spaces are tolerated.
fn normalize_thumbprint(t: &str) -> Option<String> {
    let hex: String = t
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_uppercase();
    (hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// The first line that is a `//` or `/*` comment, outside strings (the old quickstart's form).
fn comment_line(bytes: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(bytes);
    let mut in_string = false;
    let mut escaped = false;
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                escaped = false;
            }
            _ if in_string && escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && matches!(chars.peek(), Some('/' | '*')) => return Some(line),
            '#' if !in_string => return Some(line),
            _ => {}
        }
    }
    None
}

/// Once per process, however often the file is read.
fn warn_plaintext_secret(path: &Path) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            target: "graphd",
            "{} holds a plaintext client secret; store it in the OS keyring with `graphd secret set` \
             and remove \"secret\" from the file",
            path.display()
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(json: &str) -> Result<Params, ConfigError> {
        parse(json.as_bytes(), Path::new("/etc/graphd/parameters.json"))
    }

    #[test]
    fn secret_variant() {
        let v = p(r#"{
            "authority": "https://login.microsoftonline.com/contoso.onmicrosoft.com",
            "client_id": "c1",
            "scope": ["https://graph.microsoft.com/.default"],
            "secret": "canary-params-secret",
            "endpoint": "https://graph.microsoft.com/v1.0/users",
            "note": "tolerated", "oidc_authority": "https://x.example/"
        }"#)
        .unwrap();
        assert_eq!(
            v.authority,
            Some((
                "https://login.microsoftonline.com".into(),
                "contoso.onmicrosoft.com".into()
            ))
        );
        assert_eq!(
            v.scope.as_deref(),
            Some("https://graph.microsoft.com/.default")
        );
        assert!(
            matches!(&v.credential, Some(ParamsCredential::Secret(s)) if s.expose() == "canary-params-secret")
        );
        assert!(!format!("{v:?}").contains("canary"));
    }

    #[test]
    fn certificate_variants_resolve_paths_against_the_file() {
        let v = p(
            r#"{"thumbprint": "ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01",
                      "private_key_file": "server.pem"}"#,
        )
        .unwrap();
        match v.credential {
            Some(ParamsCredential::KeyWithThumbprint { key, thumbprint }) => {
                assert_eq!(key, Path::new("/etc/graphd/server.pem"));
                assert_eq!(thumbprint, "ABCDEF0123456789ABCDEF0123456789ABCDEF01");
            }
            other => panic!("{other:?}"),
        }
        let v = p(r#"{"private_key_file": "/k.pem", "public_certificate_file": "c.pem"}"#).unwrap();
        assert!(
            matches!(v.credential, Some(ParamsCredential::Certificate { ref cert, key: Some(_), thumbprint: None }) if cert == Path::new("/etc/graphd/c.pem"))
        );
    }

    #[test]
    fn commented_json_points_at_the_line() {
        let e = p("{\n  \"authority\": \"https://login.microsoftonline.com/t\",\n  // a comment with a \"quote\"\n  \"client_id\": \"c\"\n}").unwrap_err();
        assert!(
            matches!(e, ConfigError::CommentedJson { line: 3, .. }),
            "{e:?}"
        );
        // A URL's // inside a string is not a comment.
        let e = p("{\"authority\": \"https://login.microsoftonline.com/t\" x}").unwrap_err();
        assert!(matches!(e, ConfigError::BadJson { line: 1, .. }), "{e:?}");
    }

    #[test]
    fn errors_never_quote_values() {
        let e = p(r#"{"secret": 12345678901234}"#).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("12345678901234"), "{shown}");
        let e = p(r#"{"secret": "s", "thumbprint": "0000000000000000000000000000000000000000", "private_key_file": "k"}"#).unwrap_err();
        assert!(matches!(e, ConfigError::BadParam { key: "secret", .. }));
    }

    #[test]
    fn bad_values() {
        for (json, key) in [
            (
                r#"{"authority": "http://login.microsoftonline.com/t"}"#,
                "authority",
            ),
            (
                r#"{"authority": "https://login.microsoftonline.com/"}"#,
                "authority",
            ),
            (
                r#"{"scope": ["https://graph.microsoft.com/User.Read"]}"#,
                "scope",
            ),
            (r#"{"scope": ["a/.default", "b/.default"]}"#, "scope"),
            (
                r#"{"endpoint": "http://graph.microsoft.com/v1.0/users"}"#,
                "endpoint",
            ),
            (
                r#"{"thumbprint": "xyz", "private_key_file": "k"}"#,
                "thumbprint",
            ),
            (
                r#"{"scope": "https://graph.microsoft.com/.default", "endpoint": "https://graph.microsoft.us/v1.0/users"}"#,
                "scope",
            ),
        ] {
            match p(json) {
                Err(ConfigError::BadParam { key: k, .. }) => assert_eq!(k, key, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}

//! Named profiles in `$XDG_CONFIG_HOME/graphd/config.toml` (default `~/.config/graphd/config.toml`;
//! on Windows `%APPDATA%\graphd\config.toml`).
//!
//! A profile holds where things are, never a secret: tenant, client id, cloud or hosts, CA
//! bundle, and a credential *reference* (a certificate path, the keyring, a federated token
//! file). Keys that would hold a secret value are refused by name. The file is parsed to a
//! generic TOML table and read key by key, so no error ever quotes a value.
//!
//! ```toml
//! default_profile = "prod"
//!
//! [profiles.prod]
//! tenant = "contoso.onmicrosoft.com"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! cloud = "public"                    # or authority_host / graph_endpoint
//! certificate = "/etc/graphd/cert.pem" # + key = "/etc/graphd/key.pem"
//!
//! [profiles.vm]
//! managed_identity = true              # a boolean, or "true"
//! managed_identity_client_id = "..."   # or _object_id / _resource_id; none: system-assigned
//! [profiles.win]                      # Windows: TOML literal strings keep backslashes as is
//! certificate = 'C:\ProgramData\graphd\app.pfx'
//! # or the certificate store: cert_store = 'LocalMachine\My' + thumbprint = "..."
//! ```

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::env::Env;
use crate::cloud::Cloud;
use crate::credential::managed_identity::Selector;
use crate::credential::pkcs11::Pkcs11Uri;
use crate::credential::{AssertionAlg, KeyringBackend};

/// One profile, checked.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub cloud: Option<Cloud>,
    pub authority_host: Option<String>,
    pub graph_endpoint: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub assertion_alg: Option<AssertionAlg>,
    pub keyring: Option<KeyringBackend>,
    pub federated_token_file: Option<PathBuf>,
    /// Windows: a certificate store (`LOCATION\STORE`) holding the certificate `thumbprint`
    /// names and its key.
    pub cert_store: Option<String>,
    /// The SHA-1 thumbprint of the certificate in `cert_store`.
    pub thumbprint: Option<Vec<u8>>,
    /// `managed_identity = true`.
    pub managed_identity: bool,
    /// `federated_managed_identity = true`.
    pub federated_managed_identity: bool,
    /// A user-assigned identity and the key that named it.
    pub managed_identity_selector: Option<(Selector, &'static str)>,
}

/// Keys whose value is a boolean (`true`, or the string `"true"`).
const BOOL_KEYS: [&str; 2] = ["managed_identity", "federated_managed_identity"];
/// Keys naming a user-assigned managed identity.
const SELECTOR_KEYS: [&str; 3] = [
    "managed_identity_client_id",
    "managed_identity_object_id",
    "managed_identity_resource_id",
];

const KEYS: [&str; 19] = [
    "tenant",
    "client_id",
    "cloud",
    "authority_host",
    "graph_endpoint",
    "ca_bundle",
    "certificate",
    "key",
    "assertion_alg",
    "keyring",
    "federated_token_file",
    "cert_store",
    "thumbprint",
    "description",
    "managed_identity",
    "federated_managed_identity",
    "managed_identity_client_id",
    "managed_identity_object_id",
    "managed_identity_resource_id",
];

/// Key names that would hold a secret value: refused, with the way to do it instead.
const SECRET_KEYS: [&str; 9] = [
    "secret",
    "client_secret",
    "password",
    "certificate_password",
    "pfx_password",
    "private_key",
    "access_token",
    "token",
    "assertion",
];

/// `$XDG_CONFIG_HOME/graphd/config.toml`, else `$HOME/.config/graphd/config.toml`.
pub fn default_path(env: &dyn Env) -> Option<PathBuf> {
    let absolute = |var: &str| env.var(var).map(PathBuf::from).filter(|p| p.is_absolute());
    let base = absolute("XDG_CONFIG_HOME")
        // Windows: the roaming application data, where Windows programs keep settings.
        .or_else(|| {
            if cfg!(windows) {
                absolute("APPDATA")
            } else {
                None
            }
        })
        .or_else(|| {
            env.var("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        })?;
    Some(base.join("graphd").join("config.toml"))
}

/// The profile to use: `wanted` (from --profile / GRAPHD_PROFILE) must exist; without it,
/// the file's `default_profile`, else a profile named `default`, else none.
pub fn select(path: &Path, wanted: Option<&str>) -> Result<Option<Profile>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match wanted {
                Some(name) => Err(ConfigError::NoConfigFile {
                    path: path.to_path_buf(),
                    profile: name.to_string(),
                }),
                None => Ok(None),
            };
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(&text, path, wanted)
}

/// Parses a config file's text and picks the profile.
pub fn parse(
    text: &str,
    path: &Path,
    wanted: Option<&str>,
) -> Result<Option<Profile>, ConfigError> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        ConfigError::BadToml {
            path: path.to_path_buf(),
            line,
            column,
        }
    })?;
    let wrong = |key: String, why: &'static str| ConfigError::BadProfileKey {
        path: path.to_path_buf(),
        key,
        why,
    };
    for k in doc.keys() {
        if k != "default_profile" && k != "profiles" {
            return Err(wrong(
                k.clone(),
                "is not a known top-level key (default_profile, [profiles.NAME])",
            ));
        }
    }
    let default_profile = match doc.get("default_profile") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| wrong("default_profile".into(), "must be a string"))?
                .to_string(),
        ),
    };
    let empty = toml::Table::new();
    let profiles = match doc.get("profiles") {
        None => &empty,
        Some(v) => v
            .as_table()
            .ok_or_else(|| wrong("profiles".into(), "must be a table of [profiles.NAME]"))?,
    };
    let (name, explicit) = match (wanted, &default_profile) {
        (Some(w), _) => (w.to_string(), true),
        (None, Some(d)) => (d.clone(), true),
        (None, None) if profiles.contains_key("default") => ("default".to_string(), false),
        (None, None) => return Ok(None),
    };
    let Some(table) = profiles.get(&name) else {
        if explicit {
            return Err(ConfigError::NoSuchProfile {
                path: path.to_path_buf(),
                profile: name,
                known: profiles.keys().cloned().collect(),
            });
        }
        return Ok(None);
    };
    let table = table
        .as_table()
        .ok_or_else(|| wrong(format!("profiles.{name}"), "must be a table"))?;
    let mut p = Profile {
        name: name.clone(),
        path: path.to_path_buf(),
        ..Profile::default()
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    for (key, value) in table {
        let full = format!("profiles.{name}.{key}");
        if SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
            return Err(ConfigError::SecretInProfile {
                path: path.to_path_buf(),
                key: full,
            });
        }
        if !KEYS.contains(&key.as_str()) {
            return Err(wrong(full, "is not a profile key"));
        }
        if let Some(&k) = BOOL_KEYS.iter().find(|k| **k == key.as_str()) {
            let on = match value {
                toml::Value::Boolean(b) => *b,
                toml::Value::String(v) if v == "true" => true,
                toml::Value::String(v) if v == "false" => false,
                _ => return Err(wrong(full, "must be true or false")),
            };
            match k {
                "managed_identity" => p.managed_identity = on,
                _ => p.federated_managed_identity = on,
            }
            continue;
        }
        let s = value
            .as_str()
            .ok_or_else(|| wrong(full.clone(), "must be a string"))?
            .to_string();
        let file = || {
            let p = PathBuf::from(&s);
            if p.is_relative() { dir.join(p) } else { p }
        };
        match key.as_str() {
            "tenant" => p.tenant = Some(s),
            "client_id" => p.client_id = Some(s),
            "cloud" => {
                p.cloud = Some(Cloud::from_name(&s).ok_or_else(|| {
                    wrong(full.clone(), "must be public, usgov, usgov-dod or china")
                })?)
            }
            "authority_host" => p.authority_host = Some(s),
            "graph_endpoint" => p.graph_endpoint = Some(s),
            "ca_bundle" => p.ca_bundle = Some(file()),
            "certificate" => p.certificate = Some(file()),
            // A `pkcs11:` URI is not a path: it stays as written.
            "key" if Pkcs11Uri::is_uri(&s) => p.key = Some(PathBuf::from(&s)),
            "key" => p.key = Some(file()),
            "assertion_alg" => {
                p.assertion_alg = Some(
                    AssertionAlg::from_name(&s)
                        .ok_or_else(|| wrong(full, "must be ps256 or rs256"))?,
                )
            }
            "keyring" => {
                p.keyring = Some(KeyringBackend::from_name(&s).ok_or_else(|| {
                    wrong(
                        full,
                        "must be secret-service, keyutils, keychain or windows",
                    )
                })?)
            }
            "federated_token_file" => p.federated_token_file = Some(file()),
            k if SELECTOR_KEYS.contains(&k) => {
                let (selector, k) = match k {
                    "managed_identity_client_id" => (Selector::ClientId(s), SELECTOR_KEYS[0]),
                    "managed_identity_object_id" => (Selector::ObjectId(s), SELECTOR_KEYS[1]),
                    _ => (Selector::ResourceId(s), SELECTOR_KEYS[2]),
                };
                if p.managed_identity_selector.is_some() {
                    return Err(wrong(
                        format!("profiles.{name}"),
                        "names more than one user-assigned managed identity; keep one",
                    ));
                }
                p.managed_identity_selector = Some((selector, k));
            }
            "cert_store" => p.cert_store = Some(s),
            "thumbprint" => {
                p.thumbprint = Some(
                    crate::credential::thumbprint::parse_thumbprint(&s)
                        .ok_or_else(|| wrong(full, "must be a SHA-1 thumbprint (40 hex digits)"))?,
                )
            }
            _ => {} // description
        }
    }
    let token_key = p
        .key
        .as_deref()
        .and_then(Path::to_str)
        .is_some_and(Pkcs11Uri::is_uri);
    if p.key.is_some() && p.certificate.is_none() && !token_key {
        return Err(wrong(
            format!("profiles.{name}.key"),
            "needs `certificate` too (unless it is a pkcs11: URI)",
        ));
    }
    let credentials: Vec<&str> = [
        ("certificate", p.certificate.is_some() || token_key),
        ("federated_token_file", p.federated_token_file.is_some()),
        ("managed_identity", p.managed_identity),
        ("federated_managed_identity", p.federated_managed_identity),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    if let [a, b, ..] = credentials.as_slice() {
        return Err(ConfigError::BadProfileKey {
            path: path.to_path_buf(),
            key: format!("profiles.{name}"),
            why: if (*a, *b) == ("certificate", "federated_token_file") {
                "names two credentials (certificate and federated_token_file); keep one"
            } else {
                "names two credentials (of certificate, federated_token_file, managed_identity, federated_managed_identity); keep one"
            },
        });
    }
    if let Some((_, key)) = &p.managed_identity_selector
        && !p.managed_identity
        && !p.federated_managed_identity
    {
        return Err(wrong(
            format!("profiles.{name}.{key}"),
            "names a managed identity, but the profile sets neither managed_identity nor federated_managed_identity",
        ));
    }
    if p.managed_identity && p.client_id.is_some() {
        return Err(wrong(
            format!("profiles.{name}.client_id"),
            "names an app, but managed_identity = true needs none: name a user-assigned identity with \
             managed_identity_client_id, or set federated_managed_identity = true to act as the app",
        ));
    }
    if p.cert_store.is_some() != p.thumbprint.is_some() {
        return Err(wrong(
            format!("profiles.{name}"),
            "needs cert_store and thumbprint together (the certificate store and which certificate in it)",
        ));
    }
    if p.cert_store.is_some() && (p.certificate.is_some() || p.federated_token_file.is_some()) {
        return Err(wrong(
            format!("profiles.{name}"),
            "names two credentials (cert_store and certificate or federated_token_file); keep one",
        ));
    }
    Ok(Some(p))
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
default_profile = "prod"

[profiles.prod]
tenant = "contoso.onmicrosoft.com"
client_id = "c-prod"
cloud = "usgov"
certificate = "certs/cert.pem"
key = "/abs/key.pem"

[profiles.dev]
tenant = "dev.onmicrosoft.com"
client_id = "c-dev"
keyring = "keyutils"
"#;

    fn path() -> &'static Path {
        Path::new("/home/u/.config/graphd/config.toml")
    }

    #[test]
    fn picks_the_wanted_or_default_profile() {
        let p = parse(FILE, path(), None).unwrap().unwrap();
        assert_eq!(p.name, "prod");
        assert_eq!(p.cloud, Some(Cloud::Usgov));
        assert_eq!(
            p.certificate.as_deref(),
            Some(Path::new("/home/u/.config/graphd/certs/cert.pem"))
        );
        let p = parse(FILE, path(), Some("dev")).unwrap().unwrap();
        assert_eq!(p.keyring, Some(KeyringBackend::Keyutils));
        match parse(FILE, path(), Some("nope")) {
            Err(ConfigError::NoSuchProfile { known, .. }) => assert_eq!(known, ["dev", "prod"]),
            other => panic!("{other:?}"),
        }
        assert!(
            parse("[profiles.x]\ntenant = \"t\"\n", path(), None)
                .unwrap()
                .is_none()
        );
        let p = parse("[profiles.default]\ntenant = \"t\"\n", path(), None)
            .unwrap()
            .unwrap();
        assert_eq!(p.tenant.as_deref(), Some("t"));
    }

    #[test]
    fn windows_paths_and_the_certificate_store() {
        // TOML literal strings keep backslashes; an absolute Windows path stays as it is on
        // Windows (where it is absolute), and so does the store.
        let p = parse(
            "[profiles.w]\ncert_store = 'LocalMachine\\My'\nthumbprint = \"00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13\"\n",
            path(),
            Some("w"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.cert_store.as_deref(), Some("LocalMachine\\My"));
        assert_eq!(p.thumbprint.as_ref().map(Vec::len), Some(20));
        let p = parse(
            "[profiles.w]\ncertificate = 'C:\\ProgramData\\graphd\\app.pfx'\n",
            path(),
            Some("w"),
        )
        .unwrap()
        .unwrap();
        if cfg!(windows) {
            assert_eq!(
                p.certificate.as_deref(),
                Some(Path::new("C:\\ProgramData\\graphd\\app.pfx"))
            );
        }
        for bad in [
            "[profiles.w]\ncert_store = 'CurrentUser\\My'\n",
            "[profiles.w]\nthumbprint = \"0011\"\n",
            "[profiles.w]\ncert_store = 'CurrentUser\\My'\nthumbprint = \"000102030405060708090a0b0c0d0e0f10111213\"\ncertificate = \"c.pem\"\n",
        ] {
            assert!(
                matches!(
                    parse(bad, path(), Some("w")),
                    Err(ConfigError::BadProfileKey { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_are_refused_by_name_without_quoting_them() {
        let e = parse(
            "[profiles.default]\nclient_secret = \"canary-profile-secret\"\n",
            path(),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::SecretInProfile { key, .. } if key == "profiles.default.client_secret")
        );
        let shown = format!("{e} {e:?} {:?}", crate::diagnostic::Diagnostic::hint(&e));
        assert!(!shown.contains("canary"), "{shown}");
    }

    #[test]
    fn syntax_errors_give_a_line_and_no_content() {
        let e = parse(
            "[profiles.a]\ntenant = \"t\"\nsecret_thing = canary-unquoted\n",
            path(),
            None,
        )
        .unwrap_err();
        match &e {
            ConfigError::BadToml { line, .. } => assert_eq!(*line, 3),
            other => panic!("{other:?}"),
        }
        assert!(!format!("{e} {e:?}").contains("canary"));
        assert!(matches!(
            parse("[profiles.a]\ntenant = 5\n", path(), Some("a")),
            Err(ConfigError::BadProfileKey { .. })
        ));
        assert!(matches!(
            parse("[profiles.a]\ncloud = \"mars\"\n", path(), Some("a")),
            Err(ConfigError::BadProfileKey { .. })
        ));
    }

    #[test]
    fn managed_identity_profiles() {
        let p = parse(
            "[profiles.vm]\nmanaged_identity = true\nmanaged_identity_object_id = \"o\"\n",
            path(),
            Some("vm"),
        )
        .unwrap()
        .unwrap();
        assert!(p.managed_identity && !p.federated_managed_identity);
        assert_eq!(
            p.managed_identity_selector,
            Some((Selector::ObjectId("o".into()), "managed_identity_object_id"))
        );
        let p = parse(
            "[profiles.a]\nfederated_managed_identity = \"true\"\ntenant = \"t\"\nclient_id = \"c\"\n",
            path(),
            Some("a"),
        )
        .unwrap()
        .unwrap();
        assert!(p.federated_managed_identity);
        for bad in [
            "managed_identity = 1",
            "managed_identity = \"yes\"",
            "managed_identity = true\ncertificate = \"c.pem\"",
            "managed_identity = true\nfederated_managed_identity = true",
            "managed_identity_client_id = \"c\"",
            "managed_identity = true\nmanaged_identity_client_id = \"c\"\nmanaged_identity_object_id = \"o\"",
            "managed_identity = true\nclient_id = \"app\"",
        ] {
            let text = format!("[profiles.a]\n{bad}\n");
            assert!(
                matches!(
                    parse(&text, path(), Some("a")),
                    Err(ConfigError::BadProfileKey { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn path_follows_xdg() {
        struct E(&'static [(&'static str, &'static str)]);
        impl Env for E {
            fn var(&self, n: &str) -> Option<String> {
                self.0
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        }
        assert_eq!(
            default_path(&E(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])).unwrap(),
            Path::new("/x/graphd/config.toml")
        );
        assert_eq!(
            default_path(&E(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")])).unwrap(),
            Path::new("/h/.config/graphd/config.toml")
        );
        assert_eq!(default_path(&E(&[])), None);
    }
}

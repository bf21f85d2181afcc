//! RFC 7512 PKCS#11 URIs: `pkcs11:token=graphd;object=app-key;id=%01%02?module-path=/x.so`.
//!
//! Path attributes (`;`-separated) select the module's library, a slot, a token and an object;
//! query attributes (`&`-separated) name the module and where the PIN is. Values are
//! percent-decoded; `id` is raw bytes, every other value UTF-8 text. An attribute may appear
//! once. Unknown attributes are refused (a URI that names something graphd cannot honour
//! must not silently match more than it says), except vendor ones (`x-...`), which the RFC lets
//! a consumer ignore. `pin-value` is refused: a PIN in a URI sits in argv, the environment or a
//! file in plain text. Errors name the attribute, never a value.

use std::fmt;
use std::path::PathBuf;

/// The scheme that makes a `--key` value a token key rather than a file.
pub const SCHEME: &str = "pkcs11:";

/// What kind of object the URI names (`type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Private,
    Public,
    Cert,
    SecretKey,
    Data,
}

impl ObjectType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "private" => Self::Private,
            "public" => Self::Public,
            "cert" => Self::Cert,
            "secret-key" => Self::SecretKey,
            "data" => Self::Data,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Public => "public",
            Self::Cert => "cert",
            Self::SecretKey => "secret-key",
            Self::Data => "data",
        }
    }
}

/// A parsed PKCS#11 URI. It never holds a PIN (`pin-value` is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    // Library (module) attributes.
    pub library_manufacturer: Option<String>,
    pub library_description: Option<String>,
    /// `M` or `M.N`.
    pub library_version: Option<(u8, Option<u8>)>,
    // Slot attributes.
    pub slot_description: Option<String>,
    pub slot_manufacturer: Option<String>,
    pub slot_id: Option<u64>,
    // Token attributes.
    pub token: Option<String>,
    pub manufacturer: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
    // Object attributes.
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    pub object_type: Option<ObjectType>,
    // Query attributes.
    pub module_path: Option<PathBuf>,
    pub module_name: Option<String>,
    /// `pin-source=file:PATH` (or a bare path).
    pub pin_source: Option<PathBuf>,
}

/// Why a URI cannot be used. Names attributes, never values (a value may be a PIN).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("it does not start with pkcs11:")]
    NotPkcs11,
    /// The attribute's name when it looks like one ('token'), else its position: text that is
    /// no name may be a mistyped `pin-value` (`pin-value%3D1234`) and is never echoed.
    #[error("attribute {0} has no '='")]
    NoEquals(String),
    #[error("'{0}' is not a PKCS#11 URI attribute graphd knows")]
    Unknown(String),
    #[error("the attribute '{0}' is given twice")]
    Twice(String),
    #[error("the value of '{0}' has a '%' not followed by two hex digits")]
    BadPercent(String),
    #[error("the value of '{0}' is not UTF-8 text")]
    NotUtf8(String),
    #[error("the value of '{attribute}' is not {what}")]
    BadValue {
        attribute: String,
        what: &'static str,
    },
    #[error("it carries a PIN (pin-value)")]
    PinValue,
    #[error("pin-source must be file:PATH or a path")]
    PinSourceNotFile,
    #[error("type={0} cannot name a private key")]
    NotAKey(&'static str),
}

impl UriError {
    /// What the user can do.
    pub fn hint(&self) -> String {
        match self {
            UriError::PinValue => format!(
                "a PIN on the command line or in a file others may read is visible to every local user; \
                 remove pin-value and give the PIN with {} (env), --pin-stdin, pin-source=file:PATH in the \
                 URI (a file only you can read), or type it at the prompt",
                crate::names::ENV_PKCS11_PIN
            ),
            UriError::Unknown(_) => "attributes: token, manufacturer, serial, model, slot-id, slot-description, \
                 slot-manufacturer, library-manufacturer, library-description, library-version, object, id, \
                 type; query: module-path, module-name, pin-source (RFC 7512)"
                .into(),
            _ => "e.g. --key 'pkcs11:token=graphd;object=app-key' or 'pkcs11:token=graphd;id=%01' \
                  (RFC 7512; `p11tool --list-all-privkeys` or `pkcs11-tool -O` list the objects)"
                .into(),
        }
    }
}

/// Strict percent-decoding: every `%` must start `%XX`.
fn decode(attribute: &str, value: &str) -> Result<Vec<u8>, UriError> {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(|_| b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
                .ok_or_else(|| UriError::BadPercent(attribute.to_string()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn text(attribute: &str, value: &str) -> Result<String, UriError> {
    String::from_utf8(decode(attribute, value)?)
        .map_err(|_| UriError::NotUtf8(attribute.to_string()))
}

/// Percent-encodes what is not unreserved in a URI value (RFC 3986 §2.3).
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// `%01%02`: every byte encoded, the form tools print for ids.
pub fn encode_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("%{b:02X}")).collect()
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), UriError> {
    if slot.is_some() {
        return Err(UriError::Twice(name.to_string()));
    }
    *slot = Some(value);
    Ok(())
}

impl Pkcs11Uri {
    /// Whether `s` is meant as a PKCS#11 URI (and not a file path).
    pub fn is_uri(s: &str) -> bool {
        s.get(..SCHEME.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(SCHEME))
    }

    /// Parses a URI.
    pub fn parse(s: &str) -> Result<Pkcs11Uri, UriError> {
        if !Self::is_uri(s) {
            return Err(UriError::NotPkcs11);
        }
        let rest = &s[SCHEME.len()..];
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut u = Pkcs11Uri::default();
        for (i, attr) in path.split(';').filter(|a| !a.is_empty()).enumerate() {
            let (name, value) = attr.split_once('=').ok_or_else(|| no_equals(attr, i))?;
            match name {
                "token" => set(&mut u.token, name, text(name, value)?)?,
                "manufacturer" => set(&mut u.manufacturer, name, text(name, value)?)?,
                "serial" => set(&mut u.serial, name, text(name, value)?)?,
                "model" => set(&mut u.model, name, text(name, value)?)?,
                "object" => set(&mut u.object, name, text(name, value)?)?,
                "id" => set(&mut u.id, name, decode(name, value)?)?,
                "type" => {
                    let t = ObjectType::parse(&text(name, value)?).ok_or(UriError::BadValue {
                        attribute: name.into(),
                        what: "private, public, cert, secret-key or data",
                    })?;
                    set(&mut u.object_type, name, t)?
                }
                "slot-id" => {
                    let id = text(name, value)?
                        .parse::<u64>()
                        .map_err(|_| UriError::BadValue {
                            attribute: name.into(),
                            what: "a decimal number",
                        })?;
                    set(&mut u.slot_id, name, id)?
                }
                "slot-description" => set(&mut u.slot_description, name, text(name, value)?)?,
                "slot-manufacturer" => set(&mut u.slot_manufacturer, name, text(name, value)?)?,
                "library-manufacturer" => {
                    set(&mut u.library_manufacturer, name, text(name, value)?)?
                }
                "library-description" => set(&mut u.library_description, name, text(name, value)?)?,
                "library-version" => {
                    let v = text(name, value)?;
                    let bad = || UriError::BadValue {
                        attribute: "library-version".into(),
                        what: "a version like 2 or 2.6",
                    };
                    let (major, minor) = match v.split_once('.') {
                        Some((a, b)) => (a, Some(b)),
                        None => (v.as_str(), None),
                    };
                    let major = major.parse::<u8>().map_err(|_| bad())?;
                    let minor = minor
                        .map(|m| m.parse::<u8>().map_err(|_| bad()))
                        .transpose()?;
                    set(&mut u.library_version, name, (major, minor))?
                }
                n if n.starts_with("x-") => {}
                n => return Err(UriError::Unknown(n.chars().take(32).collect())),
            }
        }
        for (i, attr) in query
            .unwrap_or_default()
            .split('&')
            .filter(|a| !a.is_empty())
            .enumerate()
        {
            let (name, value) = attr.split_once('=').ok_or_else(|| no_equals(attr, i))?;
            match name {
                // Refused before its value is even decoded: it must not travel further.
                "pin-value" => return Err(UriError::PinValue),
                "pin-source" => {
                    let v = text(name, value)?;
                    let path = match v.strip_prefix("file:") {
                        // file:///p (RFC 8089) and file:/p both name /p.
                        Some(p) => p.strip_prefix("//").unwrap_or(p).to_string(),
                        None if v.contains(':') || v.starts_with('|') => {
                            return Err(UriError::PinSourceNotFile);
                        }
                        None => v,
                    };
                    if path.is_empty() {
                        return Err(UriError::PinSourceNotFile);
                    }
                    set(&mut u.pin_source, name, PathBuf::from(path))?
                }
                "module-path" => set(&mut u.module_path, name, PathBuf::from(text(name, value)?))?,
                "module-name" => set(&mut u.module_name, name, text(name, value)?)?,
                n if n.starts_with("x-") => {}
                n => return Err(UriError::Unknown(n.chars().take(32).collect())),
            }
        }
        Ok(u)
    }

    /// A URI naming a private key: `type`, when given, is one that shares the key's id and label.
    pub fn parse_key(s: &str) -> Result<Pkcs11Uri, UriError> {
        let u = Self::parse(s)?;
        match u.object_type {
            Some(t @ (ObjectType::SecretKey | ObjectType::Data)) => {
                Err(UriError::NotAKey(t.name()))
            }
            _ => Ok(u),
        }
    }

    /// The URI with only what selects the token (for messages about the token).
    pub fn token_part(&self) -> Pkcs11Uri {
        Pkcs11Uri {
            token: self.token.clone(),
            manufacturer: self.manufacturer.clone(),
            serial: self.serial.clone(),
            model: self.model.clone(),
            slot_id: self.slot_id,
            ..Pkcs11Uri::default()
        }
    }

    /// Whether the URI names an object (label or id).
    pub fn names_object(&self) -> bool {
        self.object.is_some() || self.id.is_some()
    }
}

/// The canonical form, values encoded. Never holds a PIN (there is none to hold).
impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path: Vec<String> = Vec::new();
        let mut text = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                path.push(format!("{name}={}", encode(v.as_bytes())));
            }
        };
        text("library-manufacturer", &self.library_manufacturer);
        text("library-description", &self.library_description);
        text("slot-description", &self.slot_description);
        text("slot-manufacturer", &self.slot_manufacturer);
        text("manufacturer", &self.manufacturer);
        text("model", &self.model);
        text("serial", &self.serial);
        text("token", &self.token);
        text("object", &self.object);
        if let Some((major, minor)) = self.library_version {
            path.push(match minor {
                Some(m) => format!("library-version={major}.{m}"),
                None => format!("library-version={major}"),
            });
        }
        if let Some(id) = self.slot_id {
            path.push(format!("slot-id={id}"));
        }
        if let Some(id) = &self.id {
            path.push(format!("id={}", encode_id(id)));
        }
        if let Some(t) = self.object_type {
            path.push(format!("type={}", t.name()));
        }
        write!(f, "{SCHEME}{}", path.join(";"))?;
        let mut query: Vec<String> = Vec::new();
        if let Some(p) = &self.module_path {
            query.push(format!("module-path={}", encode_path(&p.to_string_lossy())));
        }
        if let Some(n) = &self.module_name {
            query.push(format!("module-name={}", encode(n.as_bytes())));
        }
        if let Some(p) = &self.pin_source {
            query.push(format!(
                "pin-source=file:{}",
                encode_path(&p.to_string_lossy())
            ));
        }
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

/// A path in a query value: `/` stays readable.
fn encode_path(p: &str) -> String {
    p.split('/')
        .map(|s| encode(s.as_bytes()))
        .collect::<Vec<_>>()
        .join("/")
}

/// [`UriError::NoEquals`] for the `index`th attribute (from 0) `attr`.
fn no_equals(attr: &str, index: usize) -> UriError {
    if !attr.is_empty()
        && attr.len() <= 32
        && attr.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        UriError::NoEquals(format!("'{attr}'"))
    } else {
        UriError::NoEquals(format!("number {}", index + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7512_examples_parse() {
        // RFC 7512 §3.3 (a selection).
        let u = Pkcs11Uri::parse("pkcs11:").unwrap();
        assert_eq!(u, Pkcs11Uri::default());
        let u = Pkcs11Uri::parse("pkcs11:object=my-pubkey;type=public").unwrap();
        assert_eq!(u.object.as_deref(), Some("my-pubkey"));
        assert_eq!(u.object_type, Some(ObjectType::Public));
        let u = Pkcs11Uri::parse(
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(u.manufacturer.as_deref(), Some("Snake Oil, Inc."));
        assert_eq!(
            u.id.as_deref(),
            Some(&[0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91][..])
        );
        assert_eq!(u.serial.as_deref(), Some(""));
        let u = Pkcs11Uri::parse(
            "pkcs11:slot-description=Sun%20Metaslot;slot-id=2?module-path=/usr/lib/libsofthsm2.so&x-vendor=1",
        )
        .unwrap();
        assert_eq!(u.slot_id, Some(2));
        assert_eq!(u.slot_description.as_deref(), Some("Sun Metaslot"));
        assert_eq!(
            u.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/libsofthsm2.so"))
        );
        let u = Pkcs11Uri::parse("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token;library-version=1.23").unwrap();
        assert_eq!(u.library_version, Some((1, Some(23))));
        let u = Pkcs11Uri::parse("pkcs11:token=a?pin-source=file:/etc/token").unwrap();
        assert_eq!(
            u.pin_source.as_deref(),
            Some(std::path::Path::new("/etc/token"))
        );
        let u = Pkcs11Uri::parse("pkcs11:token=a?pin-source=file:///etc/token").unwrap();
        assert_eq!(
            u.pin_source.as_deref(),
            Some(std::path::Path::new("/etc/token"))
        );
        let u = Pkcs11Uri::parse("PKCS11:token=a?module-name=softhsm2").unwrap();
        assert_eq!(u.module_name.as_deref(), Some("softhsm2"));
    }

    #[test]
    fn refusals_name_the_attribute_never_the_value() {
        let pin = "pkcs11:token=a?pin-value=123456";
        let e = Pkcs11Uri::parse(pin).unwrap_err();
        assert_eq!(e, UriError::PinValue);
        assert!(!e.to_string().contains("123456") && !e.hint().contains("123456"));
        assert!(e.hint().contains("GRAPHD_PKCS11_PIN") && e.hint().contains("--pin-stdin"));
        for (uri, want) in [
            ("file.pem", UriError::NotPkcs11),
            ("pkcs11:token", UriError::NoEquals("'token'".into())),
            (
                "pkcs11:token=a;pin-value%3D123456",
                UriError::NoEquals("number 2".into()),
            ),
            ("pkcs11:tokn=a", UriError::Unknown("tokn".into())),
            ("pkcs11:token=a;token=b", UriError::Twice("token".into())),
            ("pkcs11:id=%0", UriError::BadPercent("id".into())),
            ("pkcs11:id=%zz", UriError::BadPercent("id".into())),
            ("pkcs11:object=%ff", UriError::NotUtf8("object".into())),
            ("pkcs11:token=a?pin-source=|cat", UriError::PinSourceNotFile),
            (
                "pkcs11:token=a?pin-source=https://x",
                UriError::PinSourceNotFile,
            ),
            ("pkcs11:token=a?what=1", UriError::Unknown("what".into())),
        ] {
            assert_eq!(Pkcs11Uri::parse(uri).unwrap_err(), want, "{uri}");
        }
        assert!(matches!(
            Pkcs11Uri::parse("pkcs11:slot-id=x").unwrap_err(),
            UriError::BadValue { .. }
        ));
        assert!(matches!(
            Pkcs11Uri::parse("pkcs11:type=key").unwrap_err(),
            UriError::BadValue { .. }
        ));
        assert_eq!(
            Pkcs11Uri::parse_key("pkcs11:object=a;type=data").unwrap_err(),
            UriError::NotAKey("data")
        );
        // Never panics on odd input.
        for s in [
            "pkcs11:%",
            "pkcs11:a=%",
            "pkcs11:?&&=",
            "pkcs11:;;;",
            "pkcs11:id=%é1",
        ] {
            let _ = Pkcs11Uri::parse(s);
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "pkcs11:token=graphd;object=app%20key;id=%01%FF",
            "pkcs11:serial=abc;slot-id=3;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
            "pkcs11:library-version=2.6;model=x",
        ] {
            let u = Pkcs11Uri::parse(s).unwrap();
            let again = Pkcs11Uri::parse(&u.to_string()).unwrap();
            assert_eq!(u, again, "{s} -> {u}");
        }
        let u = Pkcs11Uri::parse("pkcs11:token=graphd;object=app;id=%01").unwrap();
        assert_eq!(u.to_string(), "pkcs11:token=graphd;object=app;id=%01");
    }

    use proptest::prelude::*;

    proptest! {
        /// Any text after the scheme parses or is refused, never panics.
        #[test]
        fn never_panics(rest in "\\PC{0,80}") {
            let _ = Pkcs11Uri::parse(&format!("pkcs11:{rest}"));
        }

        /// Any label, serial and id survive encoding and parsing.
        #[test]
        fn values_round_trip(
            token in "\\PC{0,24}",
            object in "\\PC{0,24}",
            id in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            let u = Pkcs11Uri {
                token: Some(token),
                object: Some(object),
                id: Some(id),
                ..Pkcs11Uri::default()
            };
            prop_assert_eq!(Pkcs11Uri::parse(&u.to_string()).unwrap(), u);
        }
    }
}

//! Why a key on a token cannot be used. Each message names the module, the token (label and
//! serial) or the URI, never a PIN; each hint says what to do. Exit code 3 unless `is_usage`.

use std::fmt;
use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};

use crate::names;

/// One failed PKCS#11 call, as `C_Login returned CKR_PIN_INCORRECT` (boxed: errors stay small).
#[derive(Debug, Clone)]
pub struct Call(Box<CallInner>);

#[derive(Debug, Clone)]
struct CallInner {
    function: String,
    /// The return value, when the module answered one.
    rv: Option<RvError>,
    text: String,
}

/// `PinIncorrect` → `PIN_INCORRECT`.
fn screaming(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}

impl From<CkError> for Call {
    fn from(e: CkError) -> Self {
        Call(Box::new(match e {
            CkError::Pkcs11(rv, f) => CallInner {
                function: format!("C_{f:?}"),
                rv: Some(rv),
                text: format!("CKR_{}", screaming(&format!("{rv:?}"))),
            },
            other => CallInner {
                function: String::new(),
                rv: None,
                text: other.to_string(),
            },
        }))
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.function.is_empty() {
            f.write_str(&self.0.text)
        } else {
            write!(f, "{} returned {}", self.0.function, self.0.text)
        }
    }
}

impl std::error::Error for Call {}

impl Call {
    /// The token went away: removed, or its session invalidated by a removal.
    pub fn is_removal(&self) -> bool {
        matches!(
            self.0.rv,
            Some(
                RvError::TokenNotPresent
                    | RvError::DeviceRemoved
                    | RvError::TokenNotRecognized
                    | RvError::SessionHandleInvalid
                    | RvError::SessionClosed
            )
        )
    }
}

/// A token as messages name it: `'graphd' (serial 814d5715e4d26521)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenName {
    pub label: String,
    pub serial: String,
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' (serial {})", self.label, self.serial)
    }
}

/// A key as the "no key matches" hint lists it: `'app' (id %01)`.
#[derive(Debug, Clone)]
pub struct ObjectName {
    pub label: String,
    pub id: Vec<u8>,
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.id.is_empty() {
            write!(f, "'{}' (no id)", self.label)
        } else {
            write!(
                f,
                "'{}' (id {})",
                self.label,
                super::uri::encode_id(&self.id)
            )
        }
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

const MODULE_HINT: &str = "name the module with --pkcs11-module PATH, GRAPHD_PKCS11_MODULE or module-path=PATH in the URI \
     (e.g. /usr/lib/softhsm/libsofthsm2.so, /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so, \
     /usr/lib/x86_64-linux-gnu/libykcs11.so, /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so)";

/// A token key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("no PKCS#11 module named, and p11-kit's proxy module is not installed")]
    NoModule,
    #[error("the PKCS#11 module {} does not exist", path.display())]
    ModuleNotFound { path: PathBuf },
    #[error("no PKCS#11 module named '{name}' in {}", list(&dirs.iter().map(|d| d.display()).collect::<Vec<_>>()))]
    ModuleNameNotFound { name: String, dirs: Vec<PathBuf> },
    #[error("{} is not a PKCS#11 module", path.display())]
    NotAModule {
        path: PathBuf,
        #[source]
        source: Call,
    },
    #[error("the PKCS#11 module {} cannot be initialized", path.display())]
    Initialize {
        path: PathBuf,
        #[source]
        source: Call,
    },
    #[error("no token matches {uri}")]
    NoToken { uri: String, seen: Vec<TokenName> },
    #[error("{} tokens match {uri}; graphd needs exactly one", seen.len())]
    TwoTokens { uri: String, seen: Vec<TokenName> },
    #[error("no private key on token {token} matches {uri}")]
    NoKey {
        uri: String,
        token: TokenName,
        seen: Vec<ObjectName>,
    },
    #[error("{} private keys on token {token} match {uri}; graphd needs exactly one", seen.len())]
    TwoKeys {
        uri: String,
        token: TokenName,
        seen: Vec<ObjectName>,
    },
    #[error("{uri} names no object (object= or id=)")]
    NoObjectNamed { uri: String },
    #[error(
        "the PIN for token {token} is wrong; graphd tried it once and will not retry by itself"
    )]
    PinIncorrect { token: TokenName, final_try: bool },
    #[error("the PIN of token {token} is locked")]
    PinLocked { token: TokenName },
    #[error("token {token} needs a PIN and none was given (standard input is not a terminal)")]
    NeedPin { token: TokenName },
    #[error("--pin-stdin already gave the PIN of another token; token {token} needs its own")]
    PinStdinUsed { token: TokenName },
    #[error("the PIN from {from} is empty")]
    EmptyPin { from: String },
    #[error("the PIN file {} is readable or writable by others (mode {mode:03o})", path.display())]
    InsecurePinFile { path: PathBuf, mode: u32 },
    #[error("token {token} was removed or stopped answering during the run")]
    TokenRemoved {
        token: TokenName,
        #[source]
        source: Call,
    },
    #[error("token {token} cannot sign {alg}: it offers neither {}", mechanisms.join(" nor "))]
    NoMechanism {
        token: TokenName,
        alg: &'static str,
        mechanisms: Vec<&'static str>,
    },
    #[error("token {token} cannot make RSA key pairs (no CKM_RSA_PKCS_KEY_PAIR_GEN)")]
    NoKeyGeneration { token: TokenName },
    #[error(
        "the private key {object} on token {token} asks for the PIN again before every signature (CKA_ALWAYS_AUTHENTICATE)"
    )]
    AlwaysAuthenticate {
        token: TokenName,
        object: ObjectName,
    },
    #[error("the private key {object} on token {token} is not allowed to sign (CKA_SIGN is false)")]
    CannotSign {
        token: TokenName,
        object: ObjectName,
    },
    #[error("the public part of the private key {object} on token {token} cannot be read")]
    NoPublicKey {
        token: TokenName,
        object: ObjectName,
    },
    #[error("no certificate on token {token} matches {uri}")]
    NoTokenCertificate { uri: String, token: TokenName },
    #[error("several certificates on token {token} match {uri}")]
    TwoCertificates { uri: String, token: TokenName },
    #[error("cannot prepare the data for the token")]
    Digest(#[source] openssl::error::ErrorStack),
    #[error(
        "no --cert given, and token {token} holds no certificate with the id or label of {object}"
    )]
    NoCertificate {
        token: TokenName,
        object: ObjectName,
    },
    #[error("the certificate object {object} on token {token} is not a valid X.509 certificate")]
    BadCertificate {
        token: TokenName,
        object: ObjectName,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("token {token} already holds {what}; graphd never overwrites")]
    Exists { token: TokenName, what: String },
    #[error("cannot {what} on token {token}")]
    Call {
        what: &'static str,
        token: TokenName,
        #[source]
        source: Call,
    },
    #[error("cannot {what} with the PKCS#11 module {}", path.display())]
    ModuleCall {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Call,
    },
}

impl Pkcs11Error {
    /// A call that failed on `token`: a removal is said so, anything else as what was tried.
    pub fn call(what: &'static str, token: &TokenName, e: impl Into<Call>) -> Self {
        let source = e.into();
        if source.is_removal() {
            Pkcs11Error::TokenRemoved {
                token: token.clone(),
                source,
            }
        } else {
            Pkcs11Error::Call {
                what,
                token: token.clone(),
                source,
            }
        }
    }

    /// A usage mistake (exit code 2) rather than a token that cannot be used.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Exists { .. } | Self::NoObjectNamed { .. })
    }

    /// What the user can do.
    pub fn hint(&self) -> Option<String> {
        let pin_ways = format!(
            "give the PIN with {} (env), --pin-stdin, pin-source=file:PATH in the URI, or run in a terminal to be asked",
            names::ENV_PKCS11_PIN
        );
        Some(match self {
            Self::NoModule | Self::ModuleNotFound { .. } | Self::ModuleNameNotFound { .. } => {
                MODULE_HINT.into()
            }
            Self::NotAModule { .. } => {
                format!("name the module's shared library (.so), not another file; {MODULE_HINT}")
            }
            Self::Initialize { .. } => "check the module's own configuration (SoftHSM: SOFTHSM2_CONF and its \
                 tokendir; TPM: TPM2_PKCS11_STORE and TPM2_PKCS11_TCTI)"
                .into(),
            Self::NoToken { seen, .. } if seen.is_empty() => {
                "the module sees no initialized token: insert it, or check the module's configuration".into()
            }
            Self::NoToken { seen, .. } | Self::TwoTokens { seen, .. } => format!(
                "tokens seen: {}; name one with token=LABEL or serial=SERIAL",
                list(seen)
            ),
            Self::NoKey { seen, .. } if seen.is_empty() => {
                "the token holds no private key you can see after login: make one with \
                 `graphd cert new --key 'pkcs11:token=...;object=LABEL' --out-cert cert.pem`"
                    .into()
            }
            Self::NoKey { seen, .. } | Self::TwoKeys { seen, .. } => format!(
                "private keys on the token: {}; name one with object=LABEL or id=%XX",
                list(seen)
            ),
            Self::NoObjectNamed { .. } => "add object=LABEL (and id=%XX if you like) to the URI".into(),
            Self::PinIncorrect { final_try, .. } => format!(
                "{}check the PIN you gave ({}, --pin-stdin, the pin-source file or the prompt); tokens lock after a few \
                 wrong PINs",
                if *final_try {
                    "the token says one more wrong PIN locks it: "
                } else {
                    ""
                },
                names::ENV_PKCS11_PIN
            ),
            Self::PinLocked { .. } => "unblock it with the security officer PIN or PUK (SoftHSM/OpenSC: \
                 `pkcs11-tool --login --login-type so --init-pin`; YubiKey: `ykman piv access unblock-pin`)"
                .into(),
            Self::NeedPin { .. } => pin_ways,
            Self::PinStdinUsed { .. } => {
                "give the second token's PIN in a file only you can read, with pin-source=file:PATH in its URI".into()
            }
            Self::EmptyPin { .. } => pin_ways,
            Self::InsecurePinFile { path, .. } => format!(
                "chmod 600 {} (or pass {} if it must be shared)",
                path.display(),
                names::ALLOW_INSECURE_KEY_FILE.flag
            ),
            Self::TokenRemoved { .. } => "reinsert the token (or check its reader or service) and run again".into(),
            Self::NoMechanism { alg: "PS256", .. } => format!(
                "sign RS256 (PKCS#1 v1.5, with x5t) instead: {} rs256",
                names::ASSERTION_ALG.flag
            ),
            Self::NoMechanism { .. } => "this token cannot make the RSA signatures Entra accepts; use another token".into(),
            Self::NoKeyGeneration { .. } => "make the key with the token's own tools, then use it with --key 'pkcs11:...' \
                 (its certificate with --cert, or stored on the token)"
                .into(),
            Self::AlwaysAuthenticate { .. } => "graphd logs in once and keeps no PIN: use a key without \
                 CKA_ALWAYS_AUTHENTICATE (on a YubiKey, PIV slot 9a rather than 9c)"
                .into(),
            Self::NoCertificate { .. } => "pass the certificate with --cert FILE, or store it on the token \
                 (`graphd cert new ... --store-cert`, or `pkcs11-tool --write-object cert.pem --type cert --id ID \
                 --label LABEL`)"
                .into(),
            Self::BadCertificate { .. } => "pass the certificate with --cert FILE instead".into(),
            Self::CannotSign { .. } => "use a key made for signing (`graphd cert new --key URI` makes one)".into(),
            Self::NoPublicKey { .. } => "store the key's public key or certificate on the token with the same id".into(),
            Self::NoTokenCertificate { .. } | Self::TwoCertificates { .. } => {
                "name the certificate with object=LABEL and id=%XX (`pkcs11-tool -O --type cert` lists them), or pass a file"
                    .into()
            }
            Self::Exists { .. } => "choose another object= label and id=, or delete the old objects first \
                 (`pkcs11-tool --delete-object --type privkey --label LABEL`)"
                .into(),
            Self::Call { .. } | Self::ModuleCall { .. } | Self::Digest(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_read_like_the_spec() {
        let c = Call::from(CkError::Pkcs11(
            RvError::PinIncorrect,
            cryptoki::context::Function::Login,
        ));
        assert_eq!(c.to_string(), "C_Login returned CKR_PIN_INCORRECT");
        let c = Call::from(CkError::Pkcs11(
            RvError::DeviceRemoved,
            cryptoki::context::Function::Sign,
        ));
        assert!(c.is_removal());
        let e = Pkcs11Error::call("sign", &TokenName::default(), c);
        assert!(matches!(e, Pkcs11Error::TokenRemoved { .. }));
    }
}

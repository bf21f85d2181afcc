//! What the user must fix in the configuration (exit code 2), each with its hint.

use std::path::PathBuf;

use crate::credential::pkcs11::UriError;
use crate::diagnostic::Diagnostic;
use crate::names::{self, ENV_TOKEN_CACHE};

/// A configuration the user must fix; exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no tenant given")]
    MissingTenant,
    #[error("no client id given")]
    MissingClientId,
    #[error("tenant '{0}' cannot be used for app-only tokens")]
    MultiTenantAlias(String),
    #[error("tenant '{0}' is not a tenant id or domain")]
    InvalidTenant(String),
    #[error("client id '{0}' is not valid")]
    InvalidClientId(String),
    #[error("{flag} '{value}' is not a valid URL")]
    InvalidUrl {
        flag: &'static str,
        value: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{flag} '{value}' is not https")]
    NotHttps { flag: &'static str, value: String },
    #[error("{flag} '{value}' must be an origin (scheme://host[:port]) without path or query")]
    NotAnOrigin { flag: &'static str, value: String },
    #[error("{ENV_TOKEN_CACHE}={0:?} is neither on nor off")]
    InvalidTokenCacheEnv(String),
    #[error("{flag} '{0}' is not a SHA-1 thumbprint (40 hex digits, colons allowed)", flag = names::THUMBPRINT.flag)]
    InvalidThumbprint(String),
    #[error("{} cannot sign PS256: x5t#S256 is a hash of the certificate itself", names::THUMBPRINT.flag)]
    ThumbprintNeedsRs256,
    #[error("{} needs the certificate chain, not just a thumbprint", names::SEND_X5C.flag)]
    X5cNeedsCertificate,
    #[error("{} needs {} or {}", names::KEY.flag, names::CERT.flag, names::THUMBPRINT.flag)]
    KeyWithoutCertificate,
    #[error("--new-cert is needed with a key file")]
    NewCertNeeded,
    #[error("cert new needs --out-key (where to write the new key)")]
    OutKeyNeeded,
    #[error("--store-cert needs a key on a token (--key 'pkcs11:...')")]
    StoreCertNeedsToken,
    #[error("a key made on a token is never written to a file (--out-key, --pfx)")]
    TokenKeyNotWritten,
    #[error("the PKCS#11 URI from {from} cannot be used")]
    Pkcs11Uri {
        from: String,
        #[source]
        source: UriError,
    },
    #[error("{} needs {}{}", names::THUMBPRINT.flag, names::KEY.flag, if cfg!(windows) { " or --cert-store" } else { "" })]
    ThumbprintWithoutKey,
    #[error("{} needs {}", names::CERT_STORE.flag, names::THUMBPRINT.flag)]
    CertStoreNeedsThumbprint,
    #[error("{} '{value}' is not a certificate store: {why}", names::CERT_STORE.flag)]
    InvalidCertStore { value: String, why: String },
    #[error("{} (the Windows certificate store) is only available on Windows", names::CERT_STORE.flag)]
    CertStoreNotOnThisPlatform,
    #[error("{0} and {1} cannot both read standard input")]
    StdinTwice(String, String),
    #[error("two credentials given: {0} and {1}")]
    TwoCredentials(String, String),
    #[error("two managed identities named: {0} and {1}")]
    TwoSelectors(String, String),
    #[error("{0} names a managed identity, but the credential is not one")]
    SelectorWithoutManagedIdentity(String),
    #[error("--client-id names an app, and --managed-identity needs none")]
    ClientIdWithManagedIdentity,
    #[error("the managed identity's {what} (from {from}) is not valid: {why}")]
    BadSelector {
        what: String,
        from: String,
        why: &'static str,
    },
    #[error("a managed identity holds no certificate to sign this command's proof of possession")]
    NoProofWithManagedIdentity,
    #[error("with --managed-identity there is no app registration of its own")]
    ManagedIdentityHasNoApp,
    #[error(
        "this needs a certificate credential (--cert/--key): a proof of possession is signed with it"
    )]
    NeedsCertificate,
    #[error("no PATH given and no endpoint in --config")]
    NoPath,
    #[error("the scope '{0}' is not RESOURCE/.default")]
    BadScope(String),
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is larger than 1 MiB; it cannot be a parameters file", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} has a comment at line {line}; JSON has no comments", path.display())]
    CommentedJson { path: PathBuf, line: usize },
    #[error("{} is not valid JSON at line {line} column {column}: {what}", path.display())]
    BadJson {
        path: PathBuf,
        line: usize,
        column: usize,
        what: &'static str,
    },
    #[error("\"{key}\" in {} {why}", path.display())]
    BadParam {
        path: PathBuf,
        key: &'static str,
        why: &'static str,
    },
    #[error("{} is not valid TOML at line {line} column {column}", path.display())]
    BadToml {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{key} in {} {why}", path.display())]
    BadProfileKey {
        path: PathBuf,
        key: String,
        why: &'static str,
    },
    #[error("{key} in {} would hold a secret; profiles hold only references to credentials", path.display())]
    SecretInProfile { path: PathBuf, key: String },
    #[error("profile '{profile}' was asked for, but there is no {}", path.display())]
    NoConfigFile { path: PathBuf, profile: String },
    #[error("no profile '{profile}' in {}", path.display())]
    NoSuchProfile {
        path: PathBuf,
        profile: String,
        known: Vec<String>,
    },
    #[error("profile '{profile}' asked for, but neither XDG_CONFIG_HOME nor HOME is set")]
    NoConfigDir { profile: String },
}

impl Diagnostic for ConfigError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::MissingTenant => format!("pass {} or set {}", names::TENANT.flag, names::TENANT.env),
            Self::MissingClientId => {
                format!("pass {} or set {}", names::CLIENT_ID.flag, names::CLIENT_ID.env)
            }
            Self::MultiTenantAlias(_) => {
                "the client-credentials grant needs the tenant's id (a GUID) or its domain, \
                 e.g. contoso.onmicrosoft.com"
                    .into()
            }
            Self::InvalidTenant(_) => {
                "use the directory (tenant) id GUID or a verified domain, as shown in the portal"
                    .into()
            }
            Self::InvalidClientId(_) => {
                "use the application (client) id GUID of the app registration".into()
            }
            Self::NotHttps { .. } => "graphd only talks https; use an https:// URL".into(),
            Self::InvalidUrl { .. } | Self::NotAnOrigin { .. } => {
                "e.g. https://login.microsoftonline.com or https://graph.microsoft.com".into()
            }
            Self::InvalidTokenCacheEnv(_) => format!("set {ENV_TOKEN_CACHE} to off or on"),
            Self::TwoCredentials(..) => "give exactly one credential".into(),
            Self::TwoSelectors(..) => "name one user-assigned identity: by client id, object id or resource id".into(),
            Self::SelectorWithoutManagedIdentity(_) => format!(
                "add {} (or {} to act as an app), or drop it",
                names::MANAGED_IDENTITY.flag,
                names::FEDERATED_MANAGED_IDENTITY.flag
            ),
            Self::ClientIdWithManagedIdentity => format!(
                "name a user-assigned identity with {}, or act as the app with {}",
                names::MI_CLIENT_ID.flag,
                names::FEDERATED_MANAGED_IDENTITY.flag
            ),
            Self::BadSelector { .. } => "copy the id from the identity's Overview page in the portal \
                 (client id and object (principal) id are GUIDs; the resource id starts with /subscriptions/)"
                .into(),
            Self::NoProofWithManagedIdentity => "Graph's addKey/removeKey need a proof signed by one of the app's \
                 current certificates: run this once with --cert/--key, or add the certificate in the portal \
                 (or with `az ad app credential reset --append`)"
                .into(),
            Self::ManagedIdentityHasNoApp => "name the app with --app-object-id, or act as the app with \
                 --federated-managed-identity --tenant T --client-id C"
                .into(),
            Self::InvalidThumbprint(_) => {
                "copy the thumbprint from the app registration's Certificates & secrets".into()
            }
            Self::ThumbprintNeedsRs256 => {
                "drop --assertion-alg ps256, or pass the certificate with --cert".into()
            }
            Self::X5cNeedsCertificate => "pass the certificate chain with --cert".into(),
            Self::KeyWithoutCertificate => {
                "pass the certificate with --cert, or its thumbprint with --thumbprint (a key on a token, \
                 --key 'pkcs11:...', needs neither when its certificate is on the token)"
                    .into()
            }
            Self::Pkcs11Uri { source, .. } => source.hint(),
            Self::OutKeyNeeded => "pass --out-key PATH, or --key 'pkcs11:token=...;object=LABEL' to make the key \
                 inside a token"
                .into(),
            Self::StoreCertNeedsToken => "drop --store-cert, or make the key on a token with --key 'pkcs11:...'".into(),
            Self::TokenKeyNotWritten => "drop --out-key and --pfx: the key stays in the token; only the \
                 certificate is written (--out-cert)"
                .into(),
            Self::NewCertNeeded => "pass --new-cert PATH, or a token key --new-key 'pkcs11:...' whose certificate \
                 is on the token"
                .into(),
            Self::ThumbprintWithoutKey => format!(
                "pass the certificate's private key with {}{}",
                names::KEY.flag,
                if cfg!(windows) {
                    ", or the certificate store holding both with --cert-store CurrentUser\\My"
                } else {
                    ""
                }
            ),
            Self::CertStoreNeedsThumbprint => format!(
                "pass the certificate's SHA-1 thumbprint with {} (PowerShell: Get-ChildItem Cert:\\CurrentUser\\My)",
                names::THUMBPRINT.flag
            ),
            Self::InvalidCertStore { .. } => "e.g. CurrentUser\\My or LocalMachine\\My".into(),
            Self::CertStoreNotOnThisPlatform => format!(
                "export the certificate with its key (PKCS#12) and pass it with {}",
                names::CERT.flag
            ),
            Self::StdinTwice(..) if cfg!(windows) => "read one of them from a file instead".into(),
            Self::StdinTwice(..) => "read one of them from a file or /dev/fd/N instead".into(),
            Self::NeedsCertificate => {
                "pass the app's current certificate with --cert/--key (or its token key, --key 'pkcs11:...')".into()
            }
            Self::NoPath => "e.g. graphd get /organization".into(),
            Self::BadScope(_) => {
                "app-only tokens are for RESOURCE/.default, e.g. https://graph.microsoft.com/.default"
                    .into()
            }
            Self::Read { path, .. } => format!("check that {} exists and is readable", path.display()),
            Self::TooLarge { .. } => "pass the quickstart's parameters.json (a few lines of JSON)".into(),
            Self::CommentedJson { line, .. } => format!(
                "delete the comment at line {line} (and any other // or /* */ lines): the old quickstart's \
                 commented parameters.json is not JSON"
            ),
            Self::BadJson { .. } => {
                "fix the file: it must be one JSON object like the quickstart's parameters.json".into()
            }
            Self::BadParam { .. } => "see the quickstart's parameters.json: authority, client_id, scope, endpoint, and \
                 secret or thumbprint + private_key_file"
                .into(),
            Self::BadToml { .. } | Self::BadProfileKey { .. } => {
                "profile keys: tenant, client_id, cloud, authority_host, graph_endpoint, ca_bundle, certificate, \
                 key, assertion_alg, keyring, federated_token_file, managed_identity_client_id, \
                 managed_identity_object_id, managed_identity_resource_id, cert_store + thumbprint (Windows) (strings); managed_identity, \
                 federated_managed_identity (true or false)"
                    .into()
            }
            Self::SecretInProfile { .. } => "remove it; store a client secret with `graphd secret set` (the profile's \
                 keyring = \"...\" says which keyring), or reference a certificate with certificate = \"PATH\""
                .into(),
            Self::NoConfigFile { path, .. } => format!(
                "create {} with a [profiles.NAME] table, or drop {} / {}",
                path.display(),
                names::PROFILE.flag,
                names::PROFILE.env
            ),
            Self::NoSuchProfile { known, .. } if known.is_empty() => {
                "the file defines no [profiles.NAME]".into()
            }
            Self::NoSuchProfile { known, .. } => format!("profiles defined: {}", known.join(", ")),
            Self::NoConfigDir { .. } if cfg!(windows) => "set APPDATA or XDG_CONFIG_HOME".into(),
            Self::NoConfigDir { .. } => "set HOME or XDG_CONFIG_HOME".into(),
        })
    }
}

//! Why a credential cannot be used; exit code 3 unless `error` says otherwise. Messages name
//! the file or the stream, never its content.

use std::path::PathBuf;

use super::keyring::KeyringError;
use super::managed_identity::ManagedIdentityError;
use super::pkcs11::Pkcs11Error;
use crate::diagnostic::Diagnostic;
use crate::names::{self, ENV_CERT_PASSWORD, ENV_CLIENT_SECRET};

/// A credential that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no credential given, and {}", match cause { None => format!("no client secret stored in the {backend} keyring for this tenant and client"), Some(_) => format!("the {backend} keyring could not be read") })]
    NoCredential {
        backend: &'static str,
        #[source]
        cause: Option<KeyringError>,
    },
    #[error("cannot read {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is larger than {} KiB; it cannot be a credential", path.display(), cap / 1024)]
    TooLarge { path: PathBuf, cap: usize },
    #[error("cannot read from standard input or the terminal")]
    Stdin(#[source] std::io::Error),
    #[error("the two {what} typed do not match")]
    PromptMismatch { what: &'static str },
    #[error("the client secret from {0} is empty")]
    EmptySecret(String),
    #[error("the {what} from {from} is not UTF-8 text")]
    NotUtf8 { what: &'static str, from: String },
    #[error("the PKCS#12 password is empty")]
    EmptyPassword,
    #[error("{} holds no certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{} is not a PEM, DER or PKCS#12 certificate (nor base64 of one)", path.display())]
    NotACertificate { path: PathBuf },
    #[error("{} is not a valid PEM certificate", path.display())]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("{} holds no private key", path.display())]
    NoKey { path: PathBuf },
    #[error("{} holds no PEM private key", path.display())]
    BadKeyFile { path: PathBuf },
    #[error("the password for {} is wrong", path.display())]
    WrongPassword { path: PathBuf },
    #[error("{what} is encrypted and no password was given")]
    NeedPassword { what: String },
    #[error("{} uses an encryption this OpenSSL cannot read", path.display())]
    UnsupportedEncryption {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("{} is not a valid PKCS#12 file", path.display())]
    BadPkcs12 {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("the unencrypted private key {} is readable or writable by others (mode {mode:03o})", path.display())]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    #[error("the file {} holds a client secret and is readable or writable by others (mode {mode:03o})", path.display())]
    InsecureSecretFile { path: PathBuf, mode: u32 },
    #[error("{} is not a valid PEM private key", path.display())]
    BadKey {
        path: PathBuf,
        #[source]
        source: openssl::error::ErrorStack,
    },
    #[error("the private key in {} is {kind}, not RSA", path.display())]
    NotRsa { path: PathBuf, kind: String },
    #[error("the RSA key in {} has {bits} bits, fewer than the 2048 Entra requires", path.display())]
    KeyTooSmall { path: PathBuf, bits: u32 },
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("the certificate in {} has expired (valid {not_before} to {not_after})", path.display())]
    CertificateExpired {
        path: PathBuf,
        not_before: String,
        not_after: String,
    },
    #[error("the certificate in {} is not valid yet (valid {not_before} to {not_after})", path.display())]
    CertificateNotYetValid {
        path: PathBuf,
        not_before: String,
        not_after: String,
    },
    #[error("the federated token file {} is empty", path.display())]
    EmptyFederatedToken { path: PathBuf },
    #[error("the federated token in {} is not usable: {reason}", path.display())]
    BadFederatedToken { path: PathBuf, reason: String },
    #[error("the federated token in {} expired at {at}", path.display())]
    ExpiredFederatedToken { path: PathBuf, at: String },
    #[error("the certificate in {} has thumbprint {actual}, not the {expected} the parameters file says", path.display())]
    ThumbprintMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("the {key} does not match the certificate in {cert}")]
    TokenKeyMismatch { cert: String, key: String },
    /// Boxed: the token errors are many and large, and every `Result` carries this enum.
    #[error(transparent)]
    Pkcs11(Box<Pkcs11Error>),
    #[error("the unencrypted private key {} is {who}", path.display())]
    InsecureKeyFileAcl { path: PathBuf, who: String },
    #[error("the file {} holds a client secret and is {who}", path.display())]
    InsecureSecretFileAcl { path: PathBuf, who: String },
    #[error("cannot use the certificate {thumbprint} of the Windows store {store}")]
    CertStore {
        store: String,
        thumbprint: String,
        #[source]
        source: graphd_win::certstore::Error,
    },
    #[error("cannot sign with the key of the certificate {thumbprint} in the Windows store")]
    StoreSign {
        thumbprint: String,
        #[source]
        source: graphd_win::certstore::Error,
    },
    #[error(
        "the key of the certificate {thumbprint} in the Windows store made a signature the certificate does not verify"
    )]
    StoreKeyMismatch { thumbprint: String },
    #[error("there is no Windows certificate store on this platform")]
    CertStoreUnavailable,
    #[error("cannot process the certificate or key")]
    Crypto(#[source] openssl::error::ErrorStack),
    #[error("cannot sign with the private key")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error(transparent)]
    ManagedIdentity(Box<ManagedIdentityError>),
    #[error("a managed identity's token comes from its endpoint, not from Entra's token endpoint")]
    NoClientAuth,
}

impl From<ManagedIdentityError> for CredentialError {
    fn from(e: ManagedIdentityError) -> Self {
        CredentialError::ManagedIdentity(Box::new(e))
    }
}

impl From<Pkcs11Error> for CredentialError {
    fn from(e: Pkcs11Error) -> Self {
        CredentialError::Pkcs11(Box::new(e))
    }
}

impl CredentialError {
    /// A usage mistake rather than a bad credential: exit code 2 (`error` decides).
    pub fn is_usage(&self) -> bool {
        match self {
            Self::ManagedIdentity(e) => e.is_usage(),
            Self::Pkcs11(e) => e.is_usage(),
            _ => matches!(
                self,
                Self::NoCredential { cause: None, .. }
                    | Self::PromptMismatch { .. }
                    | Self::EmptyPassword
            ),
        }
    }

    /// A managed identity's endpoint kept failing (or the network did): exit code 5.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::ManagedIdentity(e) if e.is_unavailable())
    }
}

impl Diagnostic for CredentialError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NoCredential { cause, .. } => format!(
                "give one of: {ENV_CLIENT_SECRET} (env), {}, {} PATH, {} PATH {} PATH, \
                 {} (env, a PEM with certificate and key), or store a secret with `graphd secret set`{}",
                names::SECRET_STDIN.flag,
                names::SECRET_FILE.flag,
                names::CERT.flag,
                names::KEY.flag,
                names::CERT.env,
                cause.as_ref().and_then(|c| c.hint()).map(|h| format!("; {h}")).unwrap_or_default()
            ),
            Self::ReadFile { path, .. } => format!("check that {} exists and is readable", path.display()),
            Self::TooLarge { .. } => "pass the credential file itself (certificates and keys are a few KiB)".into(),
            Self::PromptMismatch { .. } => "type the same value twice, or pipe it on stdin".into(),
            Self::EmptySecret(_) | Self::Stdin(_) | Self::NotUtf8 { what: "client secret", .. } => {
                "pipe the secret's value, e.g. printf %s \"$SECRET\" | graphd users --secret-stdin".into()
            }
            Self::NotUtf8 { .. } => "give the password as text on one line".into(),
            Self::EmptyPassword => format!(
                "set {ENV_CERT_PASSWORD}, pipe the password on stdin, or type it twice at the prompt"
            ),
            Self::NoCertificate { .. } | Self::BadCertificate { .. } | Self::NotACertificate { .. } => {
                "pass the certificate (PEM, or a .pfx/.p12) with --cert".into()
            }
            Self::NoKey { path } => format!(
                "{} holds only a certificate: pass its private key with --key PATH",
                path.display()
            ),
            Self::BadKeyFile { .. } => "pass a PEM RSA private key (PKCS#1 or PKCS#8, possibly encrypted) with --key".into(),
            Self::WrongPassword { .. } => format!(
                "give the right password in {ENV_CERT_PASSWORD} or with {}",
                names::CERT_PASSWORD_STDIN.flag
            ),
            Self::NeedPassword { .. } => format!(
                "set {ENV_CERT_PASSWORD}, pass {}, or run in a terminal to be asked",
                names::CERT_PASSWORD_STDIN.flag
            ),
            Self::UnsupportedEncryption { path, .. } => format!(
                "re-export it with modern encryption: openssl pkcs12 -in {} -legacy -nodes | openssl pkcs12 -export -out new.pfx",
                path.display()
            ),
            Self::BadPkcs12 { .. } => "export the certificate again as .pfx/.p12, or as PEM".into(),
            Self::InsecureKeyFile { path, .. } => format!(
                "chmod 600 {} (or pass {} if it must be shared)",
                path.display(),
                names::ALLOW_INSECURE_KEY_FILE.flag
            ),
            Self::InsecureSecretFile { path, .. } => format!(
                "chmod 600 {} (or pass {} if it must be shared); better, store the secret with `graphd secret set`",
                path.display(),
                names::ALLOW_INSECURE_KEY_FILE.flag
            ),
            Self::BadKey { .. } => "pass a PEM RSA private key (PKCS#1 or PKCS#8) with --key".into(),
            Self::NotRsa { .. } => {
                "Entra accepts only RSA keys (2048 bits or more) for app credentials: \
                 openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 -subj /CN=graphd"
                    .into()
            }
            Self::KeyTooSmall { .. } => "make a new key of 2048 bits or more and register its certificate".into(),
            Self::KeyMismatch { .. } => {
                "pass the key that was made with this certificate; compare `openssl x509 -noout -pubkey -in CERT` \
                 with `openssl pkey -pubout -in KEY`"
                    .into()
            }
            Self::CertificateExpired { .. } | Self::CertificateNotYetValid { .. } => {
                "make and register a new certificate, and check this machine's clock".into()
            }
            Self::EmptyFederatedToken { .. } | Self::BadFederatedToken { .. } => format!(
                "point {} / {} at the JWT your CI provider writes \
                 (e.g. GitHub Actions: request an OIDC token with audience api://AzureADTokenExchange)",
                names::FEDERATED_TOKEN_FILE.env,
                names::FEDERATED_TOKEN_FILE.flag
            ),
            Self::ExpiredFederatedToken { .. } => {
                "CI tokens live minutes: request a fresh one in the same job step, just before running graphd".into()
            }
            Self::ThumbprintMismatch { .. } => {
                "fix \"thumbprint\" or \"public_certificate_file\" in the parameters file so they name the same certificate"
                    .into()
            }
            Self::InsecureKeyFileAcl { path, .. } => format!(
                "leave only yourself on its ACL: icacls \"{}\" /inheritance:r /grant:r \"${{env:USERNAME}}:F\" \
                 (PowerShell; %USERNAME% in cmd.exe), or pass {} if it must be shared",
                path.display(),
                names::ALLOW_INSECURE_KEY_FILE.flag
            ),
            Self::InsecureSecretFileAcl { path, .. } => format!(
                "leave only yourself on its ACL: icacls \"{}\" /inheritance:r /grant:r \"${{env:USERNAME}}:F\" \
                 (PowerShell), or pass {}; better, store the secret with `graphd secret set`",
                path.display(),
                names::ALLOW_INSECURE_KEY_FILE.flag
            ),
            Self::CertStore { store, source, .. } => store_hint(store, source),
            Self::StoreSign { .. } => {
                "the key's provider refused to sign: a smart card or TPM key must be present and need no PIN \
                 prompt (graphd runs silent); check the key with `certutil -user -repairstore My THUMBPRINT`"
                    .into()
            }
            Self::StoreKeyMismatch { .. } => {
                "the store links this certificate to another key: import the certificate with its own key again".into()
            }
            Self::CertStoreUnavailable => format!(
                "export the certificate with its key (PKCS#12) and pass it with {}",
                names::CERT.flag
            ),
            Self::ManagedIdentity(e) => return e.hint(),
            Self::TokenKeyMismatch { .. } => {
                "pass the certificate made for this key, or name the key made with this certificate (object=, id=)"
                    .into()
            }
            Self::Pkcs11(e) => return e.hint(),
            Self::Crypto(_) | Self::Sign(_) | Self::NoClientAuth => return None,
        })
    }

    fn notes(&self) -> Vec<String> {
        match self {
            Self::ManagedIdentity(e) => e.notes(),
            _ => Vec::new(),
        }
    }
}

/// What to do when a store certificate cannot be used, by what went wrong.
fn store_hint(store: &str, e: &graphd_win::certstore::Error) -> String {
    use graphd_win::certstore::Error as E;
    match e {
        E::OpenStore { .. } => {
            "the store is LOCATION\\NAME: CurrentUser\\My (Personal) or LocalMachine\\My".into()
        }
        E::NotFound { .. } => format!(
            "list the store's certificates with `Get-ChildItem Cert:\\{store}` (PowerShell): its Thumbprint \
             column is what {} takes",
            names::THUMBPRINT.flag
        ),
        E::NoPrivateKey { .. } => "import the certificate with its private key (Import-PfxCertificate); for \
             LocalMachine, grant this account read access to the key (certlm.msc > the certificate > All Tasks > \
             Manage Private Keys)"
            .into(),
        E::NotCng { .. } => "import it again into a CNG key storage provider: certutil -user -csp \
             \"Microsoft Software Key Storage Provider\" -importpfx My FILE.pfx (LocalMachine: without -user)"
            .into(),
        E::BadInput(_) | E::Sign { .. } | E::Import { .. } => {
            "check the certificate and its key with `certutil -user -store My THUMBPRINT`".into()
        }
    }
}

//! The client secret kept in the operating system's keyring.
//!
//! One entry per authority host + tenant + client id (service `graphd`), so two apps or two
//! clouds never collide. Backends: the Secret Service over D-Bus (Linux default), the kernel
//! keyring (keyutils, memory-only), the macOS Keychain and the Windows Credential Manager.
//! Every call runs under a deadline so a keyring that does not answer cannot hang graphd, and
//! keyring errors are re-described here because some of them carry the stored bytes.
//!
//! Windows: a generic credential (target `{account}.graphd`) persisted for this computer only
//! (`CRED_PERSIST_LOCAL_MACHINE`), not the store crate's default `Enterprise`, which roams to
//! other computers with the user's roaming profile: a daemon's secret stays where it runs.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use clap::ValueEnum;
use keyring_core::api::CredentialStore;
use keyring_core::{Entry, Error as KrError};

use crate::diagnostic::Diagnostic;
use crate::secret::ClientSecret;

/// Where `graphd secret set` keeps the client secret (`--keyring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyringBackend {
    /// Secret Service over D-Bus: gnome-keyring, KWallet, KeePassXC (Linux default)
    SecretService,
    /// The Linux kernel keyring: memory only, gone at reboot
    Keyutils,
    /// The macOS Keychain (macOS default; untested here)
    Keychain,
    /// The Windows Credential Manager (Windows default; tested under Wine)
    Windows,
}

impl KeyringBackend {
    /// Every backend, in `--help`'s order.
    pub const ALL: [KeyringBackend; 4] = [
        Self::SecretService,
        Self::Keyutils,
        Self::Keychain,
        Self::Windows,
    ];

    /// The platform's own keyring.
    pub fn platform_default() -> Self {
        if cfg!(target_os = "macos") {
            Self::Keychain
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::SecretService
        }
    }

    /// The name used in flags, profiles and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::SecretService => "secret-service",
            Self::Keyutils => "keyutils",
            Self::Keychain => "keychain",
            Self::Windows => "windows",
        }
    }

    /// Parses a profile's `keyring = "..."` value.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The keyring service name of every graphd entry.
pub const SERVICE: &str = "graphd";

/// A keyring that does not answer within this is reported as unreachable.
pub const KEYRING_DEADLINE: Duration = Duration::from_secs(10);

/// Where one app's secret lives.
#[derive(Debug, Clone)]
pub struct KeyringSlot {
    pub backend: KeyringBackend,
    /// `{authority origin}/{tenant}/{client id}`: the entry's account name.
    pub account: String,
}

impl KeyringSlot {
    pub fn new(
        backend: KeyringBackend,
        authority_origin: &str,
        tenant: &str,
        client_id: &str,
    ) -> Self {
        KeyringSlot {
            backend,
            account: format!(
                "{authority_origin}/{}/{}",
                tenant.to_ascii_lowercase(),
                client_id.to_ascii_lowercase()
            ),
        }
    }

    /// Reads the secret; `Ok(None)` when no entry exists.
    pub fn get(&self) -> Result<Option<ClientSecret>, KeyringError> {
        let account = self.account.clone();
        self.with_entry(move |entry| match entry.get_password() {
            Ok(value) => Ok(Some(ClientSecret::new(value))),
            Err(KrError::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
        .map_err(|e| e.context(&account))
    }

    /// Stores (or replaces) the secret.
    pub fn set(&self, secret: &ClientSecret) -> Result<(), KeyringError> {
        let value = ClientSecret::new(secret.expose().to_string());
        self.with_entry(move |entry| entry.set_password(value.expose()))
    }

    /// Deletes the secret; `Ok(false)` when there was none.
    pub fn delete(&self) -> Result<bool, KeyringError> {
        self.with_entry(|entry| match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(KrError::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    /// Runs `f` on this slot's entry in a thread, under `KEYRING_DEADLINE`.
    fn with_entry<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Entry) -> Result<T, KrError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        let (backend, account) = (self.backend, self.account.clone());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let modifiers = store_modifiers(backend);
            let result = open_store(backend)
                .and_then(|store| store.build(SERVICE, &account, modifiers.as_ref()))
                .and_then(|entry| f(&entry))
                .map_err(|e| KeyringError::from_keyring(backend, e));
            let _ = tx.send(result);
        });
        match rx.recv_timeout(KEYRING_DEADLINE) {
            Ok(r) => r,
            Err(_) => Err(KeyringError::Timeout {
                backend: self.backend,
            }),
        }
    }
}

/// What an entry is built with, beyond service and account: on Windows, a credential that does
/// not roam (see the module docs). Other stores take no modifiers.
fn store_modifiers(
    backend: KeyringBackend,
) -> Option<std::collections::HashMap<&'static str, &'static str>> {
    (backend == KeyringBackend::Windows).then(|| [("persistence", "Local")].into())
}

fn open_store(backend: KeyringBackend) -> Result<Arc<CredentialStore>, KrError> {
    match backend {
        #[cfg(target_os = "linux")]
        KeyringBackend::SecretService => {
            Ok(zbus_secret_service_keyring_store::Store::new()? as Arc<CredentialStore>)
        }
        #[cfg(target_os = "linux")]
        KeyringBackend::Keyutils => {
            Ok(linux_keyutils_keyring_store::Store::new()? as Arc<CredentialStore>)
        }
        #[cfg(target_os = "macos")]
        KeyringBackend::Keychain => {
            Ok(apple_native_keyring_store::keychain::Store::new()? as Arc<CredentialStore>)
        }
        #[cfg(windows)]
        KeyringBackend::Windows => {
            Ok(windows_native_keyring_store::Store::new()? as Arc<CredentialStore>)
        }
        #[allow(unreachable_patterns)]
        other => Err(KrError::NotSupportedByStore(format!(
            "{} is not available on this platform",
            other.name()
        ))),
    }
}

/// A keyring operation failed. Never carries stored bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the {} keyring is not reachable: {cause}", backend.name())]
    Unreachable {
        backend: KeyringBackend,
        cause: String,
    },
    #[error("the {} keyring is locked or refused access: {cause}", backend.name())]
    Locked {
        backend: KeyringBackend,
        cause: String,
    },
    #[error("the {} keyring did not answer within {} s", backend.name(), KEYRING_DEADLINE.as_secs())]
    Timeout { backend: KeyringBackend },
    #[error("the secret stored in the {} keyring{} is not valid text", backend.name(), account.as_deref().map(|a| format!(" for {a}")).unwrap_or_default())]
    BadValue {
        backend: KeyringBackend,
        account: Option<String>,
    },
    #[error("the {} keyring failed: {cause}", backend.name())]
    Other {
        backend: KeyringBackend,
        cause: String,
    },
}

impl KeyringError {
    fn from_keyring(backend: KeyringBackend, e: KrError) -> Self {
        match e {
            KrError::NoStorageAccess(p) => KeyringError::Locked {
                backend,
                cause: p.to_string(),
            },
            KrError::PlatformFailure(p) => KeyringError::Unreachable {
                backend,
                cause: p.to_string(),
            },
            KrError::NotSupportedByStore(m) | KrError::BadStoreFormat(m) => {
                KeyringError::Other { backend, cause: m }
            }
            // These two hold the stored bytes: never show them.
            KrError::BadEncoding(_) | KrError::BadDataFormat(..) => KeyringError::BadValue {
                backend,
                account: None,
            },
            KrError::Ambiguous(_) => KeyringError::Other {
                backend,
                cause: "more than one matching entry".into(),
            },
            other => KeyringError::Other {
                backend,
                cause: describe_kind(&other),
            },
        }
    }

    fn context(self, account: &str) -> Self {
        match self {
            KeyringError::BadValue { backend, .. } => KeyringError::BadValue {
                backend,
                account: Some(account.into()),
            },
            e => e,
        }
    }
}

impl Diagnostic for KeyringError {
    fn hint(&self) -> Option<String> {
        let backend = match self {
            KeyringError::Unreachable { backend, .. }
            | KeyringError::Locked { backend, .. }
            | KeyringError::Timeout { backend }
            | KeyringError::BadValue { backend, .. }
            | KeyringError::Other { backend, .. } => *backend,
        };
        if backend == KeyringBackend::Keyutils && !matches!(self, KeyringError::BadValue { .. }) {
            return Some("the kernel keyring needs a session keyring: run graphd in a login session or under \
                    `keyctl session - graphd ...`, use the Secret Service (--keyring secret-service), \
                    or pass the secret through AZURE_CLIENT_SECRET"
                .into());
        }
        Some(match self {
            KeyringError::Locked { .. } => {
                "unlock the keyring (log in to the desktop session, or `gnome-keyring-daemon --unlock`), \
                 use --keyring keyutils, or pass the secret through AZURE_CLIENT_SECRET"
                    .into()
            }
            KeyringError::Unreachable { .. } | KeyringError::Timeout { .. } => {
                "no Secret Service on this session (is DBUS_SESSION_BUS_ADDRESS set, and a keyring daemon running?): \
                 use --keyring keyutils on a headless machine, or pass the secret through AZURE_CLIENT_SECRET"
                    .into()
            }
            KeyringError::BadValue { .. } => "store it again with `graphd secret set`".into(),
            KeyringError::Other { .. } => {
                "use --keyring keyutils, or pass the secret through AZURE_CLIENT_SECRET".into()
            }
        })
    }
}

fn describe_kind(e: &KrError) -> String {
    match e {
        KrError::TooLong(what, max) => format!("{what} is longer than {max}"),
        KrError::Invalid(what, why) => format!("{what} is invalid: {why}"),
        KrError::NoDefaultStore => "no keyring store".into(),
        KrError::NoEntry => "no entry".into(),
        _ => "unexpected keyring error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_differ_by_cloud_tenant_and_client() {
        let a = KeyringSlot::new(
            KeyringBackend::SecretService,
            "https://login.microsoftonline.com",
            "T",
            "C",
        );
        let b = KeyringSlot::new(
            KeyringBackend::SecretService,
            "https://login.microsoftonline.us",
            "T",
            "C",
        );
        let c = KeyringSlot::new(
            KeyringBackend::SecretService,
            "https://login.microsoftonline.com",
            "T",
            "D",
        );
        assert_eq!(a.account, "https://login.microsoftonline.com/t/c");
        assert_ne!(a.account, b.account);
        assert_ne!(a.account, c.account);
    }

    #[test]
    fn errors_holding_bytes_never_show_them() {
        let e = KeyringError::from_keyring(
            KeyringBackend::SecretService,
            KrError::BadEncoding(b"canary-secret\xff".to_vec()),
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(!shown.contains("99, 97, 110"), "{shown}");
    }

    #[test]
    fn mock_store_round_trip() {
        use keyring_core::api::CredentialStoreApi;
        // keyring-core's in-memory mock store: the Entry calls graphd makes, without a daemon.
        let store = keyring_core::mock::Store::new().unwrap();
        let entry = store.build(SERVICE, "https://a/t/c", None).unwrap();
        assert!(matches!(entry.get_password(), Err(KrError::NoEntry)));
        entry.set_password("v").unwrap();
        assert_eq!(entry.get_password().unwrap(), "v");
        entry.delete_credential().unwrap();
        assert!(matches!(entry.delete_credential(), Err(KrError::NoEntry)));
    }
}

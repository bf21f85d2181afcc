//! A certificate in a Windows certificate store and its private key, signing through CNG.
//!
//! [`StoreKey::find`] opens a system store (`CurrentUser\My`, `LocalMachine\My`, ...) read-only,
//! finds the certificate by its SHA-1 thumbprint (as the portal, `Get-ChildItem Cert:\` and Graph
//! PowerShell's `-CertificateThumbprint` name it), copies its DER, and acquires its private key
//! as a CNG key handle (`CryptAcquireCertificatePrivateKey` with
//! `CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG | CRYPT_ACQUIRE_SILENT_FLAG`). [`StoreKey::sign_digest`]
//! signs a SHA-256 digest with `NCryptSignHash`: PKCS#1 v1.5 (`BCRYPT_PAD_PKCS1`, RS256) or PSS
//! (`BCRYPT_PAD_PSS`, SHA-256 and its salt length, PS256). The key never leaves its provider, so
//! a non-exportable software key, a TPM key or a smart card's key signs where it is.
//!
//! Silent: no provider may show a dialog (graphd runs unattended), so a key that needs a PIN
//! typed into a Windows prompt fails with `NTE_SILENT_CONTEXT` rather than waiting for a click.
//! A key only a legacy CryptoAPI provider can open (no CNG key storage provider) is refused.

use std::fmt;

/// Where a system store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The user's stores (`Cert:\CurrentUser`).
    CurrentUser,
    /// The machine's stores (`Cert:\LocalMachine`); reading a key there needs the key's ACL to
    /// grant this account access (a service account, or an administrator).
    LocalMachine,
}

/// A system certificate store: a location and a store name (`My` is "Personal").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreName {
    pub location: Location,
    pub store: String,
}

impl StoreName {
    /// Parses `CurrentUser\My`, `LocalMachine\My`, also with `/`, any letter case, or in
    /// PowerShell's form `Cert:\CurrentUser\My`.
    pub fn parse(text: &str) -> Result<StoreName, String> {
        let t = text.trim();
        let t = t
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("cert:"))
            .map_or(t, |_| t[5..].trim_start_matches(['\\', '/']));
        let Some((location, store)) = t.split_once(['\\', '/']) else {
            return Err(
                "expected LOCATION\\STORE, e.g. CurrentUser\\My or LocalMachine\\My".into(),
            );
        };
        let location = if location.eq_ignore_ascii_case("CurrentUser") {
            Location::CurrentUser
        } else if location.eq_ignore_ascii_case("LocalMachine") {
            Location::LocalMachine
        } else {
            return Err(format!(
                "unknown store location {location:?}: CurrentUser or LocalMachine"
            ));
        };
        let valid = !store.is_empty()
            && store.len() <= 64
            && store
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'));
        if !valid {
            return Err(format!(
                "invalid store name {store:?}: e.g. My, Root, TrustedPeople"
            ));
        }
        Ok(StoreName {
            location,
            store: store.to_string(),
        })
    }
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = match self.location {
            Location::CurrentUser => "CurrentUser",
            Location::LocalMachine => "LocalMachine",
        };
        write!(f, "{location}\\{}", self.store)
    }
}

/// How an RSA signature is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256); deterministic.
    Pkcs1,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and this salt length in bytes (PS256: 32).
    Pss { salt_len: u32 },
}

/// A store or key operation failed. Carries Windows' error code, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The store could not be opened (it does not exist, or access is denied).
    OpenStore { store: String, code: u32 },
    /// No certificate with this thumbprint is in the store.
    NotFound { store: String, thumbprint: String },
    /// The certificate has no private key this account can use.
    NoPrivateKey { code: u32 },
    /// The key is held by a legacy CryptoAPI provider (key spec `spec`), not a CNG one.
    NotCng { spec: u32 },
    /// The thumbprint is not 20 bytes, or a digest not 32.
    BadInput(&'static str),
    /// `NCryptSignHash` failed.
    Sign { code: u32 },
    /// Importing a PKCS#12 file, or adding its certificate to the store, failed.
    Import { code: u32 },
}

/// `NTE_SILENT_CONTEXT`: the provider would have needed to show a dialog (a PIN prompt).
pub const NTE_SILENT_CONTEXT: u32 = 0x8009_0022;
/// `NTE_BAD_KEYSET` / `NTE_NO_KEY`: the key container is gone or not readable by this account.
pub const NTE_BAD_KEYSET: u32 = 0x8009_0016;
pub const NTE_NO_KEY: u32 = 0x8009_000D;
/// `NTE_INVALID_HANDLE`: a key handle graphd could not own.
pub const NTE_INVALID_HANDLE: u32 = 0x8009_0026;
/// `CRYPT_E_NO_KEY_PROPERTY`: the certificate is not linked to a private key.
pub const CRYPT_E_NO_KEY_PROPERTY: u32 = 0x8009_200B;
/// `E_ACCESSDENIED` / `ERROR_ACCESS_DENIED`.
pub const ACCESS_DENIED: [u32; 2] = [0x8007_0005, 5];

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OpenStore { store, code: 2 } => {
                write!(
                    f,
                    "there is no certificate store {store} (error 0x00000002)"
                )
            }
            Error::OpenStore { store, code } => {
                write!(
                    f,
                    "cannot open the certificate store {store} (error {code:#010x})"
                )
            }
            Error::NotFound { store, thumbprint } => write!(
                f,
                "no certificate with thumbprint {thumbprint} in the store {store}"
            ),
            Error::NoPrivateKey { code } => {
                let why = match *code {
                    CRYPT_E_NO_KEY_PROPERTY => "the certificate has no private key",
                    NTE_SILENT_CONTEXT => "its key provider needs to show a prompt (a PIN?)",
                    NTE_BAD_KEYSET | NTE_NO_KEY => {
                        "its key container is missing or this account may not read it"
                    }
                    c if ACCESS_DENIED.contains(&c) => "this account may not use the key",
                    _ => "the key cannot be opened",
                };
                write!(
                    f,
                    "cannot use the certificate's private key: {why} (error {code:#010x})"
                )
            }
            Error::NotCng { spec } => write!(
                f,
                "the certificate's private key is held by a legacy CryptoAPI provider (key spec {spec}), not a CNG key storage provider"
            ),
            Error::BadInput(what) => f.write_str(what),
            Error::Sign { code } => write!(f, "NCryptSignHash failed (error {code:#010x})"),
            Error::Import { code } => {
                write!(
                    f,
                    "importing the PKCS#12 file into the store failed (error {code:#010x})"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(windows)]
pub use imp::{StoreKey, delete, import_pfx};

#[cfg(windows)]
mod imp {
    use std::ptr;

    use windows_sys::Win32::Foundation::GetLastError;
    use windows_sys::Win32::Security::Cryptography::{
        BCRYPT_PAD_PKCS1, BCRYPT_PAD_PSS, BCRYPT_PKCS1_PADDING_INFO, BCRYPT_PSS_PADDING_INFO,
        BCRYPT_RSAPRIVATE_BLOB, BCRYPT_SHA256_ALGORITHM, CERT_CONTEXT, CERT_FIND_SHA1_HASH,
        CERT_KEY_PROV_INFO_PROP_ID, CERT_NCRYPT_KEY_SPEC, CERT_STORE_ADD_REPLACE_EXISTING,
        CERT_STORE_OPEN_EXISTING_FLAG, CERT_STORE_PROV_SYSTEM_W, CERT_STORE_READONLY_FLAG,
        CERT_SYSTEM_STORE_CURRENT_USER, CERT_SYSTEM_STORE_LOCAL_MACHINE,
        CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG, CRYPT_ACQUIRE_SILENT_FLAG, CRYPT_INTEGER_BLOB,
        CRYPT_MACHINE_KEYSET, CRYPT_USER_KEYSET, CertAddCertificateContextToStore, CertCloseStore,
        CertDeleteCertificateFromStore, CertDuplicateCertificateContext,
        CertEnumCertificatesInStore, CertFindCertificateInStore, CertFreeCertificateContext,
        CertGetCertificateContextProperty, CertOpenStore, CryptAcquireCertificatePrivateKey,
        CryptReleaseContext, HCERTSTORE, MS_KEY_STORAGE_PROVIDER, NCRYPT_KEY_HANDLE,
        NCRYPT_SILENT_FLAG, NCryptFreeObject, NCryptImportKey, NCryptOpenStorageProvider,
        NCryptSignHash, PFXImportCertStore, PKCS_7_ASN_ENCODING, X509_ASN_ENCODING,
    };

    use super::{Error, Location, Padding, StoreName};
    use crate::ffi;

    /// PKCS12_ALWAYS_CNG_KSP: import the key into a CNG key storage provider.
    const PKCS12_ALWAYS_CNG_KSP: u32 = 0x200;

    fn last_error() -> u32 {
        // SAFETY: GetLastError only reads this thread's last-error value.
        unsafe { GetLastError() }
    }

    /// An open system store, closed on drop.
    struct Store(HCERTSTORE);

    impl Store {
        fn open(name: &StoreName, writable: bool) -> Result<Store, Error> {
            let wide =
                ffi::wide(name.store.as_ref()).ok_or(Error::BadInput("invalid store name"))?;
            let location = match name.location {
                Location::CurrentUser => CERT_SYSTEM_STORE_CURRENT_USER,
                Location::LocalMachine => CERT_SYSTEM_STORE_LOCAL_MACHINE,
            };
            // Reading never creates a store; importing creates it if missing (a fresh Wine
            // prefix has no CurrentUser\My yet).
            let flags = if writable {
                location
            } else {
                location | CERT_STORE_OPEN_EXISTING_FLAG | CERT_STORE_READONLY_FLAG
            };
            // SAFETY: CERT_STORE_PROV_SYSTEM_W takes a NUL-terminated UTF-16 store name as
            // pvPara; `wide` is one, alive for the call. No legacy provider handle is passed.
            let h = unsafe {
                CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, flags, wide.as_ptr().cast())
            };
            if h.is_null() {
                return Err(Error::OpenStore {
                    store: name.to_string(),
                    code: last_error(),
                });
            }
            Ok(Store(h))
        }
    }

    impl Drop for Store {
        fn drop(&mut self) {
            // SAFETY: the handle came from CertOpenStore/PFXImportCertStore and is closed only
            // here; contexts taken from it hold their own reference to the store.
            unsafe { CertCloseStore(self.0, 0) };
        }
    }

    /// A certificate context, freed on drop.
    struct Cert(*const CERT_CONTEXT);

    impl Cert {
        fn der(&self) -> Vec<u8> {
            // SAFETY: `self.0` is a valid certificate context; its encoded bytes are
            // `cbCertEncoded` long and live as long as the context.
            unsafe {
                let c = &*self.0;
                std::slice::from_raw_parts(c.pbCertEncoded, c.cbCertEncoded as usize).to_vec()
            }
        }
    }

    impl Drop for Cert {
        fn drop(&mut self) {
            // SAFETY: the context was returned to this code by a find, enumerate or duplicate
            // call, which hands the caller one reference; released only here.
            unsafe { CertFreeCertificateContext(self.0) };
        }
    }

    fn find_cert(store: &Store, name: &StoreName, sha1: &[u8]) -> Result<Cert, Error> {
        if sha1.len() != 20 {
            return Err(Error::BadInput("a SHA-1 thumbprint is 20 bytes"));
        }
        let mut hash = sha1.to_vec();
        let blob = CRYPT_INTEGER_BLOB {
            cbData: 20,
            pbData: hash.as_mut_ptr(),
        };
        // SAFETY: `store.0` is an open store; CERT_FIND_SHA1_HASH takes a pointer to a blob
        // of the hash, alive for the call; no previous context.
        let ctx = unsafe {
            CertFindCertificateInStore(
                store.0,
                X509_ASN_ENCODING | PKCS_7_ASN_ENCODING,
                0,
                CERT_FIND_SHA1_HASH,
                (&blob as *const CRYPT_INTEGER_BLOB).cast(),
                ptr::null(),
            )
        };
        if ctx.is_null() {
            return Err(Error::NotFound {
                store: name.to_string(),
                thumbprint: sha1.iter().map(|b| format!("{b:02X}")).collect(),
            });
        }
        Ok(Cert(ctx))
    }

    /// A certificate from a store and a CNG handle to its private key.
    pub struct StoreKey {
        cert_der: Vec<u8>,
        key: NCRYPT_KEY_HANDLE,
        /// Whether this code must free `key` (false when Windows cached it on the context).
        owned: bool,
    }

    impl std::fmt::Debug for StoreKey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("StoreKey(CNG key handle)")
        }
    }

    impl StoreKey {
        /// Finds the certificate whose SHA-1 thumbprint is `sha1` in `name` and opens its key.
        pub fn find(name: &StoreName, sha1: &[u8]) -> Result<StoreKey, Error> {
            let store = Store::open(name, false)?;
            let cert = find_cert(&store, name, sha1)?;
            let cert_der = cert.der();
            let mut key: usize = 0;
            let mut spec: u32 = 0;
            let mut owned = 0;
            // SAFETY: `cert.0` is a valid context; the out pointers are valid for writes.
            let ok = unsafe {
                CryptAcquireCertificatePrivateKey(
                    cert.0,
                    CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG | CRYPT_ACQUIRE_SILENT_FLAG,
                    ptr::null(),
                    &mut key,
                    &mut spec,
                    &mut owned,
                )
            };
            if ok == 0 {
                return Err(Error::NoPrivateKey { code: last_error() });
            }
            if spec != CERT_NCRYPT_KEY_SPEC {
                // A CryptoAPI provider handle (Wine hands one back whatever the flags say):
                // never pass it to NCrypt.
                if owned != 0 {
                    // SAFETY: `key` is a legacy provider handle this code owns (`owned`).
                    unsafe { CryptReleaseContext(key, 0) };
                }
                return Err(Error::NotCng { spec });
            }
            if owned == 0 {
                // A handle the certificate's context owns would die with that context when
                // this function returns. Without CRYPT_ACQUIRE_CACHE_FLAG Windows hands out
                // only handles the caller owns; anything else is refused, never kept.
                return Err(Error::NoPrivateKey {
                    code: super::NTE_INVALID_HANDLE,
                });
            }
            Ok(StoreKey {
                cert_der,
                key,
                owned: true,
            })
        }

        /// An ephemeral key of the Microsoft Software Key Storage Provider, imported from a
        /// `BCRYPT_RSAPRIVATE_BLOB` and never persisted, paired with `cert_der`. For tests: it
        /// runs the signing path where no store hands out a CNG key (Wine's
        /// `CryptAcquireCertificatePrivateKey` returns only CryptoAPI handles).
        pub fn from_rsa_blob(cert_der: Vec<u8>, blob: &[u8]) -> Result<StoreKey, Error> {
            let len =
                u32::try_from(blob.len()).map_err(|_| Error::BadInput("key blob too large"))?;
            let mut provider: usize = 0;
            // SAFETY: `provider` is valid for a write; the provider name is a static wide string.
            let rc =
                unsafe { NCryptOpenStorageProvider(&mut provider, MS_KEY_STORAGE_PROVIDER, 0) };
            if rc != 0 {
                return Err(Error::Import { code: rc as u32 });
            }
            let mut key: usize = 0;
            // SAFETY: `provider` is an open provider; `blob` is `len` readable bytes; `key` is
            // valid for a write and, on success, a key handle this StoreKey owns.
            let rc = unsafe {
                NCryptImportKey(
                    provider,
                    0,
                    BCRYPT_RSAPRIVATE_BLOB,
                    ptr::null(),
                    &mut key,
                    blob.as_ptr(),
                    len,
                    0,
                )
            };
            // SAFETY: the provider handle was opened above and is freed only here; the key
            // keeps what it needs of it.
            unsafe { NCryptFreeObject(provider) };
            if rc != 0 {
                return Err(Error::Import { code: rc as u32 });
            }
            Ok(StoreKey {
                cert_der,
                key,
                owned: true,
            })
        }

        /// The certificate's DER.
        pub fn cert_der(&self) -> &[u8] {
            &self.cert_der
        }

        /// Signs a SHA-256 `digest` (32 bytes) with the key.
        pub fn sign_digest(&self, digest: &[u8], padding: Padding) -> Result<Vec<u8>, Error> {
            if digest.len() != 32 {
                return Err(Error::BadInput("a SHA-256 digest is 32 bytes"));
            }
            let pkcs1 = BCRYPT_PKCS1_PADDING_INFO {
                pszAlgId: BCRYPT_SHA256_ALGORITHM,
            };
            let pss = BCRYPT_PSS_PADDING_INFO {
                pszAlgId: BCRYPT_SHA256_ALGORITHM,
                cbSalt: match padding {
                    Padding::Pss { salt_len } => salt_len,
                    Padding::Pkcs1 => 0,
                },
            };
            let (info, flags): (*const core::ffi::c_void, u32) = match padding {
                Padding::Pkcs1 => (
                    (&pkcs1 as *const BCRYPT_PKCS1_PADDING_INFO).cast(),
                    BCRYPT_PAD_PKCS1,
                ),
                Padding::Pss { .. } => (
                    (&pss as *const BCRYPT_PSS_PADDING_INFO).cast(),
                    BCRYPT_PAD_PSS,
                ),
            };
            let flags = flags | NCRYPT_SILENT_FLAG;
            let mut len = 0u32;
            // SAFETY: a size query: `self.key` is a CNG key handle (checked in `find`), `info`
            // points to the padding struct `flags` names, alive for the call; `digest` is 32
            // readable bytes; no output buffer.
            let rc = unsafe {
                NCryptSignHash(
                    self.key,
                    info,
                    digest.as_ptr(),
                    32,
                    ptr::null_mut(),
                    0,
                    &mut len,
                    flags,
                )
            };
            if rc != 0 {
                return Err(Error::Sign { code: rc as u32 });
            }
            let mut sig = vec![0u8; len as usize];
            // SAFETY: as above, with `sig` writable for `len` bytes.
            let rc = unsafe {
                NCryptSignHash(
                    self.key,
                    info,
                    digest.as_ptr(),
                    32,
                    sig.as_mut_ptr(),
                    len,
                    &mut len,
                    flags,
                )
            };
            if rc != 0 {
                return Err(Error::Sign { code: rc as u32 });
            }
            sig.truncate(len as usize);
            Ok(sig)
        }
    }

    impl Drop for StoreKey {
        fn drop(&mut self) {
            if self.owned {
                // SAFETY: a CNG key handle this struct owns, freed only here.
                unsafe { NCryptFreeObject(self.key) };
            }
        }
    }

    /// Imports a PKCS#12 file's certificates that have a private key into the store `name`
    /// (replacing the same certificate), the keys into the account's (or machine's) key
    /// storage, not exportable. With `cng`, the keys go to a CNG key storage provider
    /// (`PKCS12_ALWAYS_CNG_KSP`). Returns how many certificates were added. For provisioning
    /// and tests; graphd itself never writes to a store.
    pub fn import_pfx(
        name: &StoreName,
        pfx: &[u8],
        password: &str,
        cng: bool,
    ) -> Result<usize, Error> {
        let mut der = pfx.to_vec();
        let blob = CRYPT_INTEGER_BLOB {
            cbData: u32::try_from(der.len())
                .map_err(|_| Error::BadInput("PKCS#12 file too large"))?,
            pbData: der.as_mut_ptr(),
        };
        let password =
            ffi::wide(password.as_ref()).ok_or(Error::BadInput("password with a NUL"))?;
        let mut flags = match name.location {
            Location::CurrentUser => CRYPT_USER_KEYSET,
            Location::LocalMachine => CRYPT_MACHINE_KEYSET,
        };
        if cng {
            flags |= PKCS12_ALWAYS_CNG_KSP;
        }
        // SAFETY: `blob` describes `der`, and `password` is NUL-terminated, both alive for the
        // call; the returned handle is a temporary store owned by `Store`.
        let temp = unsafe { PFXImportCertStore(&blob, password.as_ptr(), flags) };
        if temp.is_null() {
            return Err(Error::Import { code: last_error() });
        }
        let temp = Store(temp);
        let target = Store::open(name, true)?;
        let mut added = 0;
        let mut prev: *const CERT_CONTEXT = ptr::null();
        loop {
            // SAFETY: enumerating an open store; `prev` is the last context returned (or
            // null), which this call frees.
            let ctx = unsafe { CertEnumCertificatesInStore(temp.0, prev) };
            if ctx.is_null() {
                break;
            }
            prev = ctx;
            let mut size = 0u32;
            // SAFETY: a size query of a property on a valid context.
            let has_key = unsafe {
                CertGetCertificateContextProperty(
                    ctx,
                    CERT_KEY_PROV_INFO_PROP_ID,
                    ptr::null_mut(),
                    &mut size,
                )
            } != 0;
            if !has_key {
                continue;
            }
            // SAFETY: `ctx` is valid; adding copies it (and its key link) into `target`.
            let ok = unsafe {
                CertAddCertificateContextToStore(
                    target.0,
                    ctx,
                    CERT_STORE_ADD_REPLACE_EXISTING,
                    ptr::null_mut(),
                )
            };
            if ok == 0 {
                let code = last_error();
                // SAFETY: `ctx` is the enumeration's current context, ours to free when
                // leaving the loop early.
                unsafe { CertFreeCertificateContext(ctx) };
                return Err(Error::Import { code });
            }
            added += 1;
        }
        Ok(added)
    }

    /// Removes the certificate with this thumbprint from the store (not its key). `Ok(false)`
    /// when it was not there.
    pub fn delete(name: &StoreName, sha1: &[u8]) -> Result<bool, Error> {
        let store = Store::open(name, true)?;
        let cert = match find_cert(&store, name, sha1) {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        // CertDeleteCertificateFromStore frees the context it is given, even on failure: hand
        // it a duplicate so that `cert` keeps its own reference.
        // SAFETY: `cert.0` is valid; the duplicate is consumed by the delete call.
        let ok = unsafe { CertDeleteCertificateFromStore(CertDuplicateCertificateContext(cert.0)) };
        if ok == 0 {
            return Err(Error::Import { code: last_error() });
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names() {
        let cu = StoreName::parse("CurrentUser\\My").unwrap();
        assert_eq!(cu.location, Location::CurrentUser);
        assert_eq!(cu.store, "My");
        assert_eq!(cu.to_string(), "CurrentUser\\My");
        assert_eq!(
            StoreName::parse("localmachine/My").unwrap().to_string(),
            "LocalMachine\\My"
        );
        assert_eq!(StoreName::parse("Cert:\\CurrentUser\\My").unwrap(), cu);
        assert_eq!(StoreName::parse(" cert:/currentuser/My ").unwrap(), cu);
        for bad in [
            "My",
            "CurrentUser\\",
            "Somewhere\\My",
            "CurrentUser\\My\\x",
            "CurrentUser\\M\u{0}y",
            "",
        ] {
            assert!(StoreName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_say_what_and_the_code() {
        let e = Error::NoPrivateKey {
            code: NTE_SILENT_CONTEXT,
        };
        assert!(e.to_string().contains("prompt"), "{e}");
        assert!(e.to_string().contains("0x80090022"), "{e}");
        let e = Error::NotFound {
            store: "CurrentUser\\My".into(),
            thumbprint: "AB".into(),
        };
        assert_eq!(
            e.to_string(),
            "no certificate with thumbprint AB in the store CurrentUser\\My"
        );
    }
}

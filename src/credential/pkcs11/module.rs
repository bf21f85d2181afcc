//! Which PKCS#11 module (shared library) to load, loading and initializing it once per
//! process, and finalizing it when the last key using it is dropped (at the latest, on exit).
//!
//! The module is the URI's `module-path`, else its `module-name` looked up in p11-kit's module
//! directories, else `--pkcs11-module` / `GRAPHD_PKCS11_MODULE`, else p11-kit's proxy (which
//! offers every module the system registered), else an error saying how to name one. Loading a
//! module runs its code in graphd's process: it is what the user named, and `-v` says which.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use tracing::{debug, info};

use super::error::{Call, Pkcs11Error};
use super::session::TokenSession;
use super::uri::Pkcs11Uri;

/// Where p11-kit's proxy module is installed (Debian and derivatives, Fedora, others).
pub const P11_KIT_PROXY: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib64/p11-kit-proxy.so",
    "/usr/lib/p11-kit-proxy.so",
    "/usr/local/lib/p11-kit-proxy.so",
    "/opt/homebrew/lib/p11-kit-proxy.so",
];

/// Where `module-name=NAME` is looked for (p11-kit's module directories), as `NAME.so` or
/// `libNAME.so`.
pub const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/local/lib/pkcs11",
];

/// The module to load for `uri`, given `--pkcs11-module` (`flag`).
pub fn resolve(uri: &Pkcs11Uri, flag: Option<&Path>) -> Result<PathBuf, Pkcs11Error> {
    if let Some(p) = &uri.module_path {
        return Ok(p.clone());
    }
    if let Some(name) = &uri.module_name {
        let dirs: Vec<PathBuf> = MODULE_DIRS.iter().map(PathBuf::from).collect();
        let safe = !name.is_empty() && !name.contains('/') && !name.contains("..");
        return dirs
            .iter()
            .filter(|_| safe)
            .flat_map(|d| {
                [
                    d.join(format!("{name}.so")),
                    d.join(format!("lib{name}.so")),
                ]
            })
            .find(|p| p.is_file())
            .ok_or(Pkcs11Error::ModuleNameNotFound {
                name: name.clone(),
                dirs,
            });
    }
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    P11_KIT_PROXY
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or(Pkcs11Error::NoModule)
}

/// A loaded, initialized module.
pub struct Module {
    pub(super) pkcs11: Pkcs11,
    pub path: PathBuf,
    /// Whether graphd initialized it (and so finalizes it).
    owned: bool,
    /// The sessions open on its tokens, by slot id: one login per token per process.
    pub(super) sessions: Mutex<Vec<(u64, Weak<TokenSession>)>>,
}

/// The modules this process has loaded, by path.
static MODULES: Mutex<Vec<(PathBuf, Weak<Module>)>> = Mutex::new(Vec::new());

impl Module {
    /// The module at `path`, loaded and initialized once per process.
    pub fn load(path: &Path) -> Result<Arc<Module>, Pkcs11Error> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut modules = MODULES.lock().unwrap_or_else(|e| e.into_inner());
        modules.retain(|(_, m)| m.strong_count() > 0);
        if let Some(m) = modules
            .iter()
            .find(|(p, _)| *p == key)
            .and_then(|(_, m)| m.upgrade())
        {
            return Ok(m);
        }
        if !path.is_file() {
            return Err(Pkcs11Error::ModuleNotFound {
                path: path.to_path_buf(),
            });
        }
        info!(target: "graphd::credential", "loading the PKCS#11 module {}", path.display());
        let pkcs11 = Pkcs11::new(path).map_err(|e| Pkcs11Error::NotAModule {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let owned = match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => true,
            // Initialized by someone else in this process: use it, leave finalizing to them.
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => false,
            Err(e) => {
                return Err(Pkcs11Error::Initialize {
                    path: path.to_path_buf(),
                    source: e.into(),
                });
            }
        };
        if let Ok(i) = pkcs11.get_library_info() {
            debug!(
                target: "graphd::credential",
                "PKCS#11 module: {} {} (Cryptoki {})",
                i.manufacturer_id(),
                i.library_description(),
                i.cryptoki_version()
            );
        }
        let m = Arc::new(Module {
            pkcs11,
            path: path.to_path_buf(),
            owned,
            sessions: Mutex::new(Vec::new()),
        });
        modules.push((key, Arc::downgrade(&m)));
        Ok(m)
    }
}

impl Module {
    /// Whether dropping this handle finalizes the module, so that loading it again makes it
    /// read its tokens afresh: graphd initialized it and nothing else holds it.
    pub(super) fn reloadable(self: &Arc<Self>) -> bool {
        self.owned && Arc::strong_count(self) == 1
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if self.owned {
            match self.pkcs11.clone().finalize() {
                Ok(()) => {
                    debug!(target: "graphd::credential", "finalized the PKCS#11 module {}", self.path.display())
                }
                Err(e) => {
                    debug!(target: "graphd::credential", "finalizing {}: {}", self.path.display(), Call::from(e))
                }
            }
        }
    }
}

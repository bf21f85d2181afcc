//! The token a URI selects and the one session graphd keeps on it: opened once per token per
//! process, logged in at most once, with a PIN tried at most once (tokens lock after a few
//! wrong PINs: a wrong one ends the run, it is never retried).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use tracing::{debug, info};

use super::error::{Pkcs11Error, TokenName};
use super::module::Module;
use super::pin;
use super::uri::Pkcs11Uri;
use crate::credential::CredentialError;
use crate::credential::input::Passwords;

/// A token's session, shared by every key of this process on that token.
pub struct TokenSession {
    // Field order is drop order: the session closes before the module may be finalized.
    session: Mutex<Session>,
    logged_in: Mutex<bool>,
    pub slot: Slot,
    pub name: TokenName,
    pub module: Arc<Module>,
}

fn token_name(info: &TokenInfo) -> TokenName {
    TokenName {
        label: info.label().to_string(),
        serial: info.serial_number().to_string(),
    }
}

fn matches(want: &Option<String>, have: &str) -> bool {
    want.as_deref().is_none_or(|w| w == have)
}

impl TokenSession {
    /// The one initialized token `uri` selects in `module`, and its session.
    pub fn open(module: &Arc<Module>, uri: &Pkcs11Uri) -> Result<Arc<TokenSession>, Pkcs11Error> {
        let p = &module.pkcs11;
        let module_call = |what, e: CkError| Pkcs11Error::ModuleCall {
            what,
            path: module.path.clone(),
            source: e.into(),
        };
        let shown = uri.token_part().to_string();
        let mut library_matches = true;
        if uri.library_manufacturer.is_some()
            || uri.library_description.is_some()
            || uri.library_version.is_some()
        {
            let i = p
                .get_library_info()
                .map_err(|e| module_call("read the library information", e))?;
            let v = i.library_version();
            library_matches = matches(&uri.library_manufacturer, i.manufacturer_id())
                && matches(&uri.library_description, i.library_description())
                && uri.library_version.is_none_or(|(major, minor)| {
                    major == v.major() && minor.is_none_or(|m| m == v.minor())
                });
        }
        let slots = p
            .get_slots_with_token()
            .map_err(|e| module_call("list the slots", e))?;
        let (mut seen, mut found) = (Vec::new(), Vec::new());
        for slot in slots {
            let Ok(info) = p.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            let name = token_name(&info);
            seen.push(name.clone());
            let slot_ok = uri.slot_id.is_none_or(|id| id == slot.id())
                && (uri.slot_description.is_none() && uri.slot_manufacturer.is_none()
                    || p.get_slot_info(slot).is_ok_and(|s| {
                        matches(&uri.slot_description, s.slot_description())
                            && matches(&uri.slot_manufacturer, s.manufacturer_id())
                    }));
            if library_matches
                && slot_ok
                && matches(&uri.token, info.label())
                && matches(&uri.manufacturer, info.manufacturer_id())
                && matches(&uri.model, info.model())
                && matches(&uri.serial, info.serial_number())
            {
                found.push((slot, name));
            }
        }
        let (slot, name) = match found.len() {
            1 => found.remove(0),
            0 => return Err(Pkcs11Error::NoToken { uri: shown, seen }),
            _ => {
                return Err(Pkcs11Error::TwoTokens {
                    uri: shown,
                    seen: found.into_iter().map(|(_, n)| n).collect(),
                });
            }
        };

        let mut sessions = module.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|(_, s)| s.strong_count() > 0);
        if let Some(s) = sessions
            .iter()
            .find(|(id, _)| *id == slot.id())
            .and_then(|(_, s)| s.upgrade())
        {
            return Ok(s);
        }
        let session = p
            .open_ro_session(slot)
            .map_err(|e| Pkcs11Error::call("open a session", &name, e))?;
        debug!(target: "graphd::credential", "opened a session on token {name}");
        let s = Arc::new(TokenSession {
            session: Mutex::new(session),
            logged_in: Mutex::new(false),
            slot,
            name,
            module: module.clone(),
        });
        sessions.push((slot.id(), Arc::downgrade(&s)));
        Ok(s)
    }

    /// The session, for one operation at a time.
    pub fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A read-write session beside the shared one (it shares the login), for making objects.
    pub fn rw_session(&self) -> Result<Session, Pkcs11Error> {
        self.module
            .pkcs11
            .open_rw_session(self.slot)
            .map_err(|e| Pkcs11Error::call("open a read-write session", &self.name, e))
    }

    /// The token's current state.
    pub fn info(&self) -> Result<TokenInfo, Pkcs11Error> {
        self.module
            .pkcs11
            .get_token_info(self.slot)
            .map_err(|e| Pkcs11Error::call("read the token's state", &self.name, e))
    }

    /// The mechanisms the token offers.
    pub fn mechanisms(&self) -> Result<Vec<MechanismType>, Pkcs11Error> {
        self.module
            .pkcs11
            .get_mechanism_list(self.slot)
            .map_err(|e| Pkcs11Error::call("list the mechanisms", &self.name, e))
    }

    /// Logs the user in, once per token per process, with the PIN tried once.
    pub fn login(
        &self,
        passwords: &mut Passwords<'_>,
        pin_file: Option<&Path>,
        allow_insecure_file: bool,
    ) -> Result<(), CredentialError> {
        let mut logged_in = self.logged_in.lock().unwrap_or_else(|e| e.into_inner());
        if *logged_in {
            return Ok(());
        }
        let info = self.info()?;
        if info.user_pin_locked() {
            return Err(Pkcs11Error::PinLocked {
                token: self.name.clone(),
            }
            .into());
        }
        if !info.login_required() {
            *logged_in = true;
            return Ok(());
        }
        // A PIN pad (protected authentication path) takes the PIN itself, unless one was given.
        let pin = if info.protected_authentication_path()
            && !passwords.pin.explicit()
            && pin_file.is_none()
        {
            info!(target: "graphd::credential", "enter the PIN on the PIN pad of token {}", self.name);
            None
        } else {
            Some(AuthPin::from(
                pin::read(passwords, &self.name, pin_file, allow_insecure_file)?
                    .expose()
                    .to_string(),
            ))
        };
        debug!(target: "graphd::credential", "logging in to token {} (C_Login, once)", self.name);
        let result = self.lock().login(UserType::User, pin.as_ref());
        match result {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
                _,
            )) => {
                let final_try = self.info().is_ok_and(|i| i.user_pin_final_try());
                return Err(Pkcs11Error::PinIncorrect {
                    token: self.name.clone(),
                    final_try,
                }
                .into());
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(Pkcs11Error::PinLocked {
                    token: self.name.clone(),
                }
                .into());
            }
            Err(e) => return Err(Pkcs11Error::call("log in", &self.name, e).into()),
        }
        info!(target: "graphd::credential", "logged in to token {}", self.name);
        *logged_in = true;
        Ok(())
    }
}

//! Where a token's PIN comes from, read once per token and never retried.
//!
//! In order: `--pin-stdin` (the first line of standard input, for one token), the URI's
//! `pin-source=file:PATH` (a file only its owner may read, checked like a key file),
//! `GRAPHD_PKCS11_PIN`, else a no-echo prompt when standard input is a terminal. All reading
//! goes through `input`; the PIN lives in a [`Pin`] and reaches the module at `C_Login` only.

use std::path::Path;

use super::error::{Pkcs11Error, TokenName};
use crate::credential::input::{self, LineSource, Passwords};
use crate::credential::{CredentialError, checks};
use crate::secret::Pin;

/// The PIN source the user chose (before the URI's `pin-source` is known).
pub enum PinSource {
    /// `GRAPHD_PKCS11_PIN`, already read (it was in the environment anyway).
    Env(Pin),
    /// `--pin-stdin`.
    Stdin,
    /// Nothing explicit: a prompt on a terminal, else none.
    Prompt,
}

impl PinSource {
    /// The same source again (a copy of the env value, zeroized with it).
    pub fn duplicate(&self) -> PinSource {
        match self {
            PinSource::Env(p) => PinSource::Env(Pin::new(p.expose().to_string())),
            PinSource::Stdin => PinSource::Stdin,
            PinSource::Prompt => PinSource::Prompt,
        }
    }

    /// A non-secret description for `config show` and logs.
    pub fn describe(&self) -> &'static str {
        match self {
            PinSource::Env(_) => "[redacted] from GRAPHD_PKCS11_PIN",
            PinSource::Stdin => "standard input (--pin-stdin)",
            PinSource::Prompt => "the URI's pin-source, else a prompt on a terminal",
        }
    }
}

/// The source and whether standard input was already spent on a PIN.
pub struct PinState {
    source: PinSource,
    stdin_used: bool,
}

impl PinState {
    pub fn new(source: PinSource) -> Self {
        PinState {
            source,
            stdin_used: false,
        }
    }

    /// Whether the user named a PIN source (rather than waiting for a prompt).
    pub fn explicit(&self) -> bool {
        !matches!(self.source, PinSource::Prompt)
    }
}

/// The PIN for `token`, from the first source that applies; `pin_file` is the URI's
/// `pin-source`. Never asks twice for one token: the caller logs in once with it.
pub fn read(
    passwords: &mut Passwords<'_>,
    token: &TokenName,
    pin_file: Option<&Path>,
    allow_insecure_file: bool,
) -> Result<Pin, CredentialError> {
    let (line, from) = if matches!(passwords.pin.source, PinSource::Stdin) {
        if passwords.pin.stdin_used {
            return Err(Pkcs11Error::PinStdinUsed {
                token: token.clone(),
            }
            .into());
        }
        passwords.pin.stdin_used = true;
        (
            input::read_line(LineSource::Stdin(&mut *passwords.stdin), input::PIN)?,
            "standard input".to_string(),
        )
    } else if let Some(path) = pin_file {
        let file = input::read_input(path, &mut std::io::empty())?;
        if !allow_insecure_file {
            // Mode bits name the PIN file as such; a Windows ACL finding keeps its own
            // message (who else may read it) and its icacls hint.
            checks::private_mode(path, file.mode, file.exposed.as_deref()).map_err(
                |e| match e {
                    CredentialError::InsecureKeyFile { .. } => Pkcs11Error::InsecurePinFile {
                        path: path.to_path_buf(),
                        mode: file.mode.unwrap_or_default(),
                    }
                    .into(),
                    other => other,
                },
            )?;
        }
        let line = input::first_line(&file.bytes).ok_or(CredentialError::NotUtf8 {
            what: input::PIN.one,
            from: path.display().to_string(),
        })?;
        (line, path.display().to_string())
    } else if let PinSource::Env(pin) = &passwords.pin.source {
        return non_empty(
            Pin::new(pin.expose().to_string()),
            crate::names::ENV_PKCS11_PIN,
        );
    } else if passwords.terminal() {
        (
            input::read_line(
                LineSource::Prompt {
                    label: &format!("PIN for token {token}: "),
                    twice: false,
                },
                input::PIN,
            )?,
            "the prompt".to_string(),
        )
    } else {
        return Err(Pkcs11Error::NeedPin {
            token: token.clone(),
        }
        .into());
    };
    non_empty(Pin::new(line.to_string()), &from)
}

fn non_empty(pin: Pin, from: &str) -> Result<Pin, CredentialError> {
    if pin.expose().is_empty() {
        return Err(Pkcs11Error::EmptyPin {
            from: from.to_string(),
        }
        .into());
    }
    Ok(pin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::PasswordSource;

    fn token() -> TokenName {
        TokenName {
            label: "t".into(),
            serial: "1".into(),
        }
    }

    #[test]
    fn sources_in_order_and_stdin_once() {
        let mut stdin: &[u8] = b"1234\n";
        let mut p =
            Passwords::new(PasswordSource::Prompt, &mut stdin, false).with_pin(PinSource::Stdin);
        assert_eq!(
            read(&mut p, &token(), None, false).unwrap().expose(),
            "1234"
        );
        assert!(matches!(
            read(&mut p, &token(), None, false),
            Err(CredentialError::Pkcs11(e)) if matches!(*e, Pkcs11Error::PinStdinUsed { .. })
        ));

        let mut none = std::io::empty();
        let mut p = Passwords::new(PasswordSource::Prompt, &mut none, false)
            .with_pin(PinSource::Env(Pin::new("9999".into())));
        assert_eq!(
            read(&mut p, &token(), None, false).unwrap().expose(),
            "9999"
        );

        // The URI's file beats the environment; a file others can read is refused.
        let dir = tempfile::tempdir().unwrap();
        let f = crate::credential::certificate::tests::write(dir.path(), "pin", b"4321\n");
        assert_eq!(
            read(&mut p, &token(), Some(&f), false).unwrap().expose(),
            "4321"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                read(&mut p, &token(), Some(&f), false),
                Err(CredentialError::Pkcs11(e)) if matches!(*e, Pkcs11Error::InsecurePinFile {
                    mode: 0o644,
                    ..
                })
            ));
            assert!(read(&mut p, &token(), Some(&f), true).is_ok());
        }

        let mut p = Passwords::new(PasswordSource::Prompt, &mut none, false);
        assert!(matches!(
            read(&mut p, &token(), None, false),
            Err(CredentialError::Pkcs11(e)) if matches!(*e, Pkcs11Error::NeedPin { .. })
        ));
        let mut p = Passwords::new(PasswordSource::Prompt, &mut none, false)
            .with_pin(PinSource::Env(Pin::new(String::new())));
        assert!(matches!(
            read(&mut p, &token(), None, false),
            Err(CredentialError::Pkcs11(e)) if matches!(*e, Pkcs11Error::EmptyPin { .. })
        ));
    }
}

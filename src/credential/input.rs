//! The one reader of secret material: files, standard input, `/dev/fd/N`, environment values
//! and no-echo prompts, for client secrets, key and certificate files, passwords and tokens.
//!
//! Everything is read into a pre-sized [`SecretBytes`] buffer with a cap, so no growing
//! buffer leaves unwiped copies behind, and a hostile or mistaken input (a FIFO that never
//! ends, `/dev/zero`) cannot exhaust memory. [`Passwords`] asks for a password only when a file
//! turns out to need one, and at most once. Errors name the file or the stream, never content.

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::CredentialError;
use crate::files;
use crate::secret::{CertPassword, SecretBytes};

/// The largest credential file graphd reads (a PKCS#12 with a long chain is a few KiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The largest one-line secret graphd reads (a client secret, a password, a PIN).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// An input's bytes and what is known of where they came from.
pub struct Input {
    pub bytes: SecretBytes,
    /// The path as given, or "standard input".
    pub path: PathBuf,
    /// The permission bits when it is a regular file (stdin and pipes have none that matter).
    pub mode: Option<u32>,
    /// Windows: who besides its owner may read or change it, from its ACL, when anyone may
    /// (`files::acl_exposure`); `None` elsewhere, for stdin, and for a private file.
    pub exposed: Option<String>,
}

/// Reads `reader` to its end into a buffer allocated once, failing past `cap` bytes.
pub fn read_capped(
    reader: &mut dyn Read,
    cap: usize,
    hint: Option<u64>,
) -> std::io::Result<Result<SecretBytes, usize>> {
    // One allocation: the expected size when known (a regular file), else the cap. Never grown.
    let size = hint
        .and_then(|h| usize::try_from(h).ok())
        .map_or(cap, |h| h.min(cap))
        + 1;
    let mut buf = Zeroizing::new(vec![0u8; size]);
    let mut len = 0;
    loop {
        if len == buf.len() {
            if buf.len() > cap {
                return Ok(Err(cap));
            }
            // The file grew since its size was read: one more exact allocation, wiping the old.
            let mut bigger = Zeroizing::new(vec![0u8; cap + 1]);
            bigger[..len].copy_from_slice(&buf[..len]);
            buf = bigger;
        }
        match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if len > cap {
        return Ok(Err(cap));
    }
    let mut bytes = std::mem::take(&mut *buf);
    bytes.truncate(len);
    Ok(Ok(SecretBytes::new(bytes)))
}

/// Reads a credential input: `-` is `stdin`, anything else a path (`/dev/fd/N` included).
pub fn read_input(path: &Path, stdin: &mut dyn Read) -> Result<Input, CredentialError> {
    if path == Path::new("-") {
        let bytes = read_capped(stdin, MAX_FILE_BYTES, None)
            .map_err(CredentialError::Stdin)?
            .map_err(|cap| CredentialError::TooLarge {
                path: PathBuf::from("standard input"),
                cap,
            })?;
        return Ok(Input {
            bytes,
            path: PathBuf::from("standard input"),
            mode: None,
            exposed: None,
        });
    }
    let err = |source| CredentialError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let (mut file, meta) = files::open_with_meta(path).map_err(err)?;
    let size = meta.file_type().is_file().then_some(meta.len());
    let bytes = read_capped(&mut file, MAX_FILE_BYTES, size)
        .map_err(err)?
        .map_err(|cap| CredentialError::TooLarge {
            path: path.to_path_buf(),
            cap,
        })?;
    Ok(Input {
        bytes,
        path: path.to_path_buf(),
        mode: files::mode(&meta),
        exposed: files::acl_exposure(&file, &meta),
    })
}

/// Reads a file holding secret material (a client secret, a federated token).
pub fn read_secret_file(path: &Path) -> Result<SecretBytes, CredentialError> {
    read_input(path, &mut std::io::empty()).map(|i| i.bytes)
}

/// The first line of `bytes`, without its line ending: what `echo "$SECRET" |` sends.
pub fn first_line(bytes: &SecretBytes) -> Option<Zeroizing<String>> {
    let text = std::str::from_utf8(bytes.expose()).ok()?;
    Some(Zeroizing::new(
        text.split(['\r', '\n']).next().unwrap_or("").to_string(),
    ))
}

/// Where a one-line secret (client secret, password) comes from.
pub enum LineSource<'a> {
    /// The first line of standard input.
    Stdin(&'a mut dyn Read),
    /// The first line of a file.
    File(&'a Path),
    /// A no-echo prompt on the terminal; `twice` asks again and requires the same answer.
    Prompt { label: &'a str, twice: bool },
}

/// What a line is, for errors ("secrets", "passwords").
#[derive(Debug, Clone, Copy)]
pub struct What {
    /// "client secret", "password"
    pub one: &'static str,
    /// "secrets", "passwords"
    pub many: &'static str,
}

pub const SECRET: What = What {
    one: "client secret",
    many: "secrets",
};
pub const PASSWORD: What = What {
    one: "password",
    many: "passwords",
};
pub const PIN: What = What {
    one: "PIN",
    many: "PINs",
};

/// Reads one line from `source`. Empty lines are returned as such: callers decide.
pub fn read_line(source: LineSource<'_>, what: What) -> Result<Zeroizing<String>, CredentialError> {
    let (bytes, from) = match source {
        LineSource::Stdin(stdin) => (
            read_capped(stdin, MAX_LINE_BYTES, None)
                .map_err(CredentialError::Stdin)?
                .map_err(|cap| CredentialError::TooLarge {
                    path: PathBuf::from("standard input"),
                    cap,
                })?,
            "standard input".to_string(),
        ),
        LineSource::File(path) => (read_secret_file(path)?, path.display().to_string()),
        LineSource::Prompt { label, twice } => {
            let first = prompt(label)?;
            if twice {
                let second = prompt("Again: ")?;
                if *first != *second {
                    return Err(CredentialError::PromptMismatch { what: what.many });
                }
            }
            return Ok(first);
        }
    };
    first_line(&bytes).ok_or(CredentialError::NotUtf8 {
        what: what.one,
        from,
    })
}

/// A no-echo prompt on the terminal.
fn prompt(label: &str) -> Result<Zeroizing<String>, CredentialError> {
    rpassword::prompt_password(label)
        .map(Zeroizing::new)
        .map_err(CredentialError::Stdin)
}

/// Where a password comes from, asked for only when a file turns out to need one.
pub enum PasswordSource {
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
    Env(CertPassword),
    /// `--cert-password-stdin`: the first line of stdin.
    Stdin,
    /// A no-echo prompt when stdin is a terminal; otherwise none.
    Prompt,
}

impl PasswordSource {
    /// The same source again (a copy of the env value, zeroized with it).
    pub fn duplicate(&self) -> PasswordSource {
        match self {
            Self::Env(p) => Self::Env(CertPassword::new(p.expose().to_string())),
            Self::Stdin => Self::Stdin,
            Self::Prompt => Self::Prompt,
        }
    }
}

/// Hands out the password once asked, reading or prompting at most once; and, for a key on a
/// PKCS#11 token, where its PIN comes from (read by `pkcs11::pin`, once per token).
pub struct Passwords<'a> {
    source: PasswordSource,
    cached: Option<CertPassword>,
    pub(super) stdin: &'a mut dyn Read,
    stdin_is_terminal: bool,
    pub(super) pin: super::pkcs11::PinState,
}

impl<'a> Passwords<'a> {
    pub fn new(source: PasswordSource, stdin: &'a mut dyn Read, stdin_is_terminal: bool) -> Self {
        Passwords {
            source,
            cached: None,
            stdin,
            stdin_is_terminal,
            pin: super::pkcs11::PinState::new(super::pkcs11::PinSource::Prompt),
        }
    }

    /// Where a token's PIN comes from (a prompt on a terminal unless set).
    pub fn with_pin(mut self, pin: super::pkcs11::PinSource) -> Self {
        self.pin = super::pkcs11::PinState::new(pin);
        self
    }

    /// Whether standard input is a terminal (prompts need one).
    pub(super) fn terminal(&self) -> bool {
        self.stdin_is_terminal
    }

    /// Whether the user gave a password explicitly (then it is used first, not "").
    pub fn explicit(&self) -> bool {
        !matches!(self.source, PasswordSource::Prompt)
    }

    /// The password for `what` (a file name, for the prompt and errors).
    pub fn get(&mut self, what: &str) -> Result<&CertPassword, CredentialError> {
        if self.cached.is_none() {
            let password = match &self.source {
                PasswordSource::Env(p) => CertPassword::new(p.expose().to_string()),
                PasswordSource::Stdin => CertPassword::new(
                    read_line(LineSource::Stdin(&mut *self.stdin), PASSWORD)?.to_string(),
                ),
                PasswordSource::Prompt if self.stdin_is_terminal => CertPassword::new(
                    read_line(
                        LineSource::Prompt {
                            label: &format!("Password for {what}: "),
                            twice: false,
                        },
                        PASSWORD,
                    )?
                    .to_string(),
                ),
                PasswordSource::Prompt => {
                    return Err(CredentialError::NeedPassword {
                        what: what.to_string(),
                    });
                }
            };
            if password.expose().contains('\0') {
                return Err(CredentialError::NotUtf8 {
                    what: PASSWORD.one,
                    from: "the password source".into(),
                });
            }
            self.cached = Some(password);
        }
        Ok(self.cached.as_ref().expect("just set"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_within_the_cap_without_growing() {
        let data = vec![7u8; 1000];
        let got = read_capped(&mut &data[..], 1000, None).unwrap().unwrap();
        assert_eq!(got.expose(), &data[..]);
        assert!(matches!(
            read_capped(&mut &data[..], 999, None).unwrap(),
            Err(999)
        ));
        // A size hint that is too small (the file grew) still reads it all.
        let got = read_capped(&mut &data[..], 4096, Some(10))
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 1000);
        // An endless input stops at the cap.
        assert!(matches!(
            read_capped(&mut std::io::repeat(1), 4096, None).unwrap(),
            Err(4096)
        ));
    }

    /// Secrets are read into one buffer allocated up front and never regrown (a growing buffer
    /// frees its old, unwiped copies): every `read` call gets the rest of that same buffer.
    #[test]
    fn one_buffer_never_regrown() {
        struct Probe {
            data: Vec<u8>,
            pos: usize,
            room: Vec<usize>,
        }
        impl Read for Probe {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.room.push(buf.len());
                let n = buf.len().min(self.data.len() - self.pos).min(1000);
                buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }
        let mut p = Probe {
            data: vec![9u8; 100_000],
            pos: 0,
            room: Vec::new(),
        };
        let got = read_capped(&mut p, MAX_FILE_BYTES, None).unwrap().unwrap();
        assert_eq!(got.len(), 100_000);
        assert_eq!(p.room[0], MAX_FILE_BYTES + 1);
        for (i, room) in p.room.iter().enumerate() {
            assert_eq!(*room, MAX_FILE_BYTES + 1 - 1000 * i, "call {i}");
        }
    }

    #[test]
    fn first_lines() {
        let b = SecretBytes::new(b"s3cret\r\nmore".to_vec());
        assert_eq!(first_line(&b).unwrap().as_str(), "s3cret");
        assert!(first_line(&SecretBytes::new(vec![0xff])).is_none());
        let mut stdin: &[u8] = b"pw\n";
        assert_eq!(
            read_line(LineSource::Stdin(&mut stdin), PASSWORD)
                .unwrap()
                .as_str(),
            "pw"
        );
    }
}

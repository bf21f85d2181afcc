//! The token cache: access tokens reused across processes, never written in plain text.
//!
//! Each entry is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
//! credential's own secret material (the client secret, or what only the certificate's key
//! can produce) and bound, as associated data and in the derivation, to authority, tenant,
//! client id, scope and certificate. Reading an entry therefore needs the credential that
//! could mint the token anyway; a run with another credential derives another file name and
//! key, so it never sees this token. File names are derived the same way and reveal nothing.
//! The crypto is aws-lc's (already linked for TLS), so a warm run starts no OpenSSL.
//!
//! The directory is not trusted: it must be a real directory (not a symlink) owned by the
//! user, made `0700`; entries and the lock are opened without following symlinks or blocking
//! on FIFOs, and only when they are regular files of the user's. Files are `0600`, written to
//! a temporary file and renamed. A cold cache is filled under an exclusive file lock, checked
//! again after taking it, so many processes started together make one token request; the lock
//! is waited for at most [`LOCK_WAIT`] (within `--deadline`), then the run goes on without
//! the cache. A corrupt, truncated, foreign or hostile file is a miss, never an error.
//! `should_refresh` is pure and takes `now`.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::Token;
use crate::files;
use crate::secret::AccessToken;

/// A cached token is used until this long before it expires, so that it cannot expire
/// between being read and reaching Graph (a slow listing, clock skew). Matches MSAL's margin.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Entries untouched for this long are pruned: Entra's app tokens live 60–90 minutes and at
/// most a day under a token-lifetime policy, so such an entry can only hold an expired token.
pub const PRUNE_AFTER: Duration = Duration::from_secs(26 * 60 * 60);

/// The longest wait for another process's lock on an entry (a cold token request takes well
/// under a second; a process stuck or hostile holding it must not stall this one).
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The largest entry read (one holds a token of a few KiB).
const MAX_ENTRY_BYTES: usize = 64 * 1024;

const MAGIC: &[u8; 4] = b"GDTC";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const ENTRY_EXT: &str = "tok";
const LOCK_EXT: &str = "lock";
const SALT: &[u8] = b"graphd token cache v1";

/// Whether a token must be replaced at `now` rather than reused.
pub fn should_refresh(
    expires_on: SystemTime,
    refresh_on: Option<SystemTime>,
    now: SystemTime,
) -> bool {
    now + REFRESH_MARGIN >= expires_on || refresh_on.is_some_and(|r| now >= r)
}

/// The token cache directory.
pub struct TokenCache {
    dir: PathBuf,
}

/// One entry's derived file name and sealing key.
pub struct CacheKey {
    name: String,
    key: Zeroizing<[u8; 32]>,
    binding: String,
}

/// An HKDF output length.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl CacheKey {
    /// Derives the entry's name and key from the credential's secret `material` and what the
    /// token is for (`binding`: authority, tenant, client id, scope, certificate).
    pub fn derive(material: &[u8], binding: &str) -> Result<CacheKey, CacheError> {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(material);
        let expand = |info: &[u8], out: &mut [u8]| {
            prk.expand(&[info], Len(out.len()))
                .and_then(|okm| okm.fill(out))
                .map_err(|_| CacheError::Crypto)
        };
        let mut key = Zeroizing::new([0u8; 32]);
        expand(format!("key|{binding}").as_bytes(), &mut key[..])?;
        let mut name = [0u8; 16];
        expand(format!("name|{binding}").as_bytes(), &mut name)?;
        Ok(CacheKey {
            name: name.iter().map(|b| format!("{b:02x}")).collect(),
            key,
            binding: binding.to_string(),
        })
    }

    fn aead(&self) -> Result<LessSafeKey, CacheError> {
        UnboundKey::new(&AES_256_GCM, &self.key[..])
            .map(LessSafeKey::new)
            .map_err(|_| CacheError::Crypto)
    }
}

/// The plaintext of an entry (only ever in zeroizing buffers).
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: Zeroizing<String>,
    expires_on: u64,
    refresh_on: Option<u64>,
}

/// The cache could not be used; the run goes on without it.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot use the token cache directory {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no cache directory: neither XDG_CACHE_HOME nor HOME is set")]
    NoDir,
    #[error("cannot derive the cache key or seal an entry")]
    Crypto,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl crate::diagnostic::Diagnostic for CacheError {}

impl TokenCache {
    /// `$XDG_CACHE_HOME/graphd/tokens` (or `~/.cache/graphd/tokens`; on Windows,
    /// `%LOCALAPPDATA%\graphd\tokens`).
    pub fn default_dir() -> Result<PathBuf, CacheError> {
        let base = directories::BaseDirs::new().ok_or(CacheError::NoDir)?;
        Ok(base.cache_dir().join("graphd").join("tokens"))
    }

    /// Opens (creating with mode 0700) the cache directory; refuses one that is a symlink or
    /// another user's.
    pub fn open(dir: PathBuf) -> Result<TokenCache, CacheError> {
        files::create_private_dir(&dir).map_err(io_err(&dir))?;
        Ok(TokenCache { dir })
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.{ENTRY_EXT}", key.name))
    }

    /// A usable cached token for `key` at `now`, if there is one.
    pub fn load(&self, key: &CacheKey, now: SystemTime) -> Option<Token> {
        let path = self.entry_path(key);
        let mut file = match files::open_owned(&path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                warn!(target: "graphd::cache", "ignoring the cache entry {}: {e}", path.display());
                return None;
            }
        };
        let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
        (&mut file)
            .take(MAX_ENTRY_BYTES as u64)
            .read_to_end(&mut bytes)
            .ok()?;
        let Some(sealed) = open_entry(key, bytes) else {
            debug!(target: "graphd::cache", "ignoring an unreadable cache entry {}", path.display());
            return None;
        };
        // Checked conversions: a stored time past what SystemTime holds is a miss, not a panic.
        let at = |secs: u64| crate::time::from_unix(i64::try_from(secs).ok()?);
        let token = Token {
            access_token: AccessToken::new(sealed.access_token.to_string()),
            expires_on: at(sealed.expires_on)?,
            refresh_on: sealed.refresh_on.and_then(at),
        };
        // An entry that claims to live longer than any token does was not written by a
        // correct graphd: a miss, replaced by the next fetch.
        if token
            .expires_on
            .duration_since(now)
            .is_ok_and(|left| left > super::MAX_LIFETIME)
        {
            debug!(target: "graphd::cache", "ignoring a cache entry that expires beyond any token's lifetime");
            return None;
        }
        if should_refresh(token.expires_on, token.refresh_on, now) {
            debug!(target: "graphd::cache", "cached token is within the refresh margin");
            return None;
        }
        Some(token)
    }

    /// Writes `token` for `key`: temp file (0600, create-new) then rename.
    pub fn store(&self, key: &CacheKey, token: &Token) -> Result<(), CacheError> {
        let sealed = Sealed {
            access_token: Zeroizing::new(token.access_token.expose().to_string()),
            expires_on: crate::time::unix_secs(token.expires_on),
            refresh_on: token.refresh_on.map(crate::time::unix_secs),
        };
        let out = seal(key, &sealed)?;
        let final_path = self.entry_path(key);
        files::replace_private(&final_path, &out).map_err(|source| CacheError::Io {
            path: final_path.clone(),
            source,
        })
    }

    /// The cached token for `key`, or `fetch`'s, stored for the next run. Concurrent cold
    /// runs serialize on the entry's lock file, and all but the first find the new token. The
    /// lock is waited for at most `LOCK_WAIT`, and never past `deadline`.
    pub fn get_or_fetch<E>(
        &self,
        key: &CacheKey,
        now: impl Fn() -> SystemTime,
        deadline: Instant,
        fetch: impl FnOnce() -> Result<Token, E>,
    ) -> Result<Token, E> {
        if let Some(t) = self.load(key, now()) {
            debug!(target: "graphd::cache", "using the cached token");
            return Ok(t);
        }
        let lock_path = self.dir.join(format!("{}.{LOCK_EXT}", key.name));
        let Some(_guard) = self.lock(&lock_path, deadline) else {
            // Without the lock, without the cache: neither read nor written this run.
            return fetch();
        };
        if let Some(t) = self.load(key, now()) {
            debug!(target: "graphd::cache", "another graphd filled the cache while this one waited");
            return Ok(t);
        }
        let token = fetch()?;
        match self.store(key, &token) {
            Ok(()) => debug!(target: "graphd::cache", "token cached"),
            Err(e) => warn!(target: "graphd::cache", "cannot write the token cache: {e}"),
        }
        self.prune(now());
        Ok(token)
    }

    /// The entry's lock, waited for at most `LOCK_WAIT` (and not past `deadline`); `None`,
    /// with a warning, when it cannot be had.
    fn lock(&self, path: &Path, deadline: Instant) -> Option<fs::File> {
        let file = match files::open_owned(path, true) {
            Ok(f) => f,
            Err(e) => {
                warn!(target: "graphd::cache", "cannot use the token cache's lock {} ({e}); going on without the cache", path.display());
                return None;
            }
        };
        let started = Instant::now();
        let until = deadline.min(started + LOCK_WAIT);
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    warn!(target: "graphd::cache", "another process has held the token cache's lock for {:.1} s; going on without the cache", started.elapsed().as_secs_f64());
                    return None;
                }
                Err(fs::TryLockError::Error(e)) => {
                    warn!(target: "graphd::cache", "cannot lock the token cache ({e}); going on without it");
                    return None;
                }
            }
        }
    }

    /// Removes entries not written for `PRUNE_AFTER`, and stale temporary files.
    pub fn prune(&self, now: SystemTime) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| now.duration_since(m).is_ok_and(|age| age > PRUNE_AFTER));
            if old && is_cache_file(&path) {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// Removes every entry (and lock and temporary file); returns how many entries went.
    pub fn clear(&self) -> Result<usize, CacheError> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(CacheError::Io {
                    path: self.dir.clone(),
                    source: e,
                });
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if is_cache_file(&path) {
                fs::remove_file(&path).map_err(io_err(&path))?;
                if path.extension().is_some_and(|e| e == ENTRY_EXT) {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn is_cache_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == ENTRY_EXT || e == LOCK_EXT || e == "tmp")
}

fn aad(binding: &str) -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.push(VERSION);
    v.extend_from_slice(binding.as_bytes());
    v
}

/// `MAGIC VERSION nonce ciphertext tag`, the plaintext serialised into a buffer reserved for
/// it (never regrown, so no unwiped copy of the token is left behind).
fn seal(key: &CacheKey, sealed: &Sealed) -> Result<Vec<u8>, CacheError> {
    let mut plain = Zeroizing::new(Vec::with_capacity(
        sealed.access_token.len() + 128 + TAG_LEN,
    ));
    serde_json::to_writer(&mut *plain as &mut dyn io::Write, sealed)
        .map_err(|_| CacheError::Crypto)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CacheError::Crypto)?;
    let tag = key
        .aead()?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&key.binding)),
            &mut plain[..],
        )
        .map_err(|_| CacheError::Crypto)?;
    let mut out = Vec::with_capacity(5 + NONCE_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&plain); // now the ciphertext
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

fn open_entry(key: &CacheKey, mut bytes: Zeroizing<Vec<u8>>) -> Option<Sealed> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (&version, rest) = rest.split_first()?;
    if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let nonce: [u8; NONCE_LEN] = rest[..NONCE_LEN].try_into().ok()?;
    let start = MAGIC.len() + 1 + NONCE_LEN;
    let plain = key
        .aead()
        .ok()?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&key.binding)),
            &mut bytes[start..],
        )
        .ok()?;
    serde_json::from_slice(plain).ok()
}

#[cfg(test)]
mod tests;

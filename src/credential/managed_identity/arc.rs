//! Azure Arc-enabled servers: `GET {IDENTITY_ENDPOINT}?api-version=2020-06-01&resource=R` with
//! `Metadata: true` answers `401` with `WWW-Authenticate: Basic realm=<file>`; the file's
//! content, sent back as `Authorization: Basic <content>`, proves the caller may read the
//! agent's token directory. Only the system-assigned identity (PROTOCOL.md §8).
//!
//! The challenge is an attack surface: any local process that answers on the endpoint can name
//! any file and have graphd send its content. So the file is read only if it lies **directly**
//! in the agent's token directory (`/var/opt/azcmagent/tokens`; on Windows
//! `%ProgramData%\AzureConnectedMachineAgent\Tokens`), whose path has no symbolic link in it,
//! ends in `.key`, is a regular file (a symbolic link is refused, looked at without following
//! it) and is at most 4,096 bytes (msal-node's `AZURE_ARC_SECRET_FILE_MAX_SIZE_BYTES`). Anything
//! else is refused before a second request is sent, with the reason.

use std::path::{Component, Path, PathBuf};

use reqwest::blocking::RequestBuilder;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use url::Url;

use super::ManagedIdentityError;
use super::error::printable;
use crate::credential::input;
use crate::files::{self, PlainFileError};
use crate::http::{Http, Reply};
use crate::secret::ArcSecret;

/// The api-version MSAL sends (the docs' samples use 2019-11-01 and 2020-06-01).
pub const API_VERSION: &str = "2020-06-01";
/// The largest challenge file read.
pub const MAX_SECRET_BYTES: usize = 4096;

/// The agent's token directory, as hints print it.
#[cfg(windows)]
pub const TOKEN_DIR_TEXT: &str = r"%ProgramData%\AzureConnectedMachineAgent\Tokens";
#[cfg(not(windows))]
pub const TOKEN_DIR_TEXT: &str = "/var/opt/azcmagent/tokens";

/// The agent's token directory on this platform (`None` where Arc has none: not Linux or
/// Windows). graphd has no switch that changes it: a switch would be a way around the check.
pub fn token_dir() -> Option<PathBuf> {
    #[cfg(windows)]
    {
        let data = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
        Some(Path::new(&data).join(r"AzureConnectedMachineAgent\Tokens"))
    }
    #[cfg(target_os = "linux")]
    {
        Some(PathBuf::from(TOKEN_DIR_TEXT))
    }
    #[cfg(not(any(windows, target_os = "linux")))]
    {
        None
    }
}

/// The request, with the challenge's answer when there is one.
pub fn request(
    http: &Http,
    url: &Url,
    resource: &str,
    secret: Option<&ArcSecret>,
) -> RequestBuilder {
    let mut r = http
        .client()
        .get(url.clone())
        .query(&[("api-version", API_VERSION), ("resource", resource)])
        .header("Metadata", "true");
    if let Some(secret) = secret
        && let Ok(mut v) = HeaderValue::from_str(&format!("Basic {}", secret.expose()))
    {
        v.set_sensitive(true);
        r = r.header(AUTHORIZATION, v);
    }
    r
}

/// The file a `401`'s `WWW-Authenticate: Basic realm=<file>` names.
pub fn challenge(reply: &Reply) -> Result<String, ManagedIdentityError> {
    let value = reply
        .header("www-authenticate")
        .ok_or(ManagedIdentityError::ArcChallenge(
            "a 401 without WWW-Authenticate",
        ))?;
    realm(value).ok_or(ManagedIdentityError::ArcChallenge(
        "WWW-Authenticate is not Basic realm=<file>",
    ))
}

/// `Basic realm=PATH` (or `realm="PATH"`) → `PATH`.
fn realm(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let (name, value) = rest.trim().split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("realm") {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    (!value.is_empty()).then(|| value.to_string())
}

/// Reads the challenge file `realm` names, if the rules allow it (module docs); otherwise says
/// why not. `dir` is the agent's token directory.
pub fn read_challenge(realm: &str, dir: &Path) -> Result<ArcSecret, ManagedIdentityError> {
    let refuse = |why: &str| ManagedIdentityError::ArcFile {
        path: printable(realm, 300),
        why: why.to_string(),
    };
    let path = Path::new(realm);
    if !path.is_absolute() {
        return Err(refuse("it is not an absolute path"));
    }
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(refuse("it has a . or .. component"));
    }
    if !path.parent().is_some_and(|p| same_dir(p, dir)) {
        return Err(refuse(&format!(
            "it is not directly in the agent's token directory {}",
            dir.display()
        )));
    }
    let key = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("key"))
        && path.file_stem().is_some_and(|s| !s.is_empty());
    if !key {
        return Err(refuse("its name does not end in .key"));
    }
    // The directory's own path must not pass through a symbolic link (looked at without
    // following any): a link in it could lead anywhere.
    for ancestor in dir.ancestors() {
        match std::fs::symlink_metadata(ancestor) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(&format!(
                    "the token directory {} is reached through a symbolic link ({})",
                    dir.display(),
                    ancestor.display()
                )));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(refuse(&format!(
                    "cannot look at {} ({e})",
                    ancestor.display()
                )));
            }
        }
    }
    let (mut file, meta) = files::open_plain_file(path).map_err(|e| match e {
        PlainFileError::Symlink => refuse("it is a symbolic link"),
        PlainFileError::NotRegular => refuse("it is not a regular file"),
        PlainFileError::Replaced => refuse("it changed while it was being opened"),
        PlainFileError::Io(e) => refuse(&format!("cannot open it ({e})")),
    })?;
    if meta.len() > MAX_SECRET_BYTES as u64 {
        return Err(refuse(&format!(
            "it is {} bytes, more than the {MAX_SECRET_BYTES} a challenge file may be",
            meta.len()
        )));
    }
    let bytes = input::read_capped(&mut file, MAX_SECRET_BYTES, Some(meta.len()))
        .map_err(|e| refuse(&format!("cannot read it ({e})")))?
        .map_err(|_| refuse("it grew past 4096 bytes while it was read"))?;
    let text = std::str::from_utf8(bytes.expose())
        .map_err(|_| refuse("its content is not text"))?
        .trim();
    if text.is_empty() {
        return Err(refuse("it is empty"));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(refuse("its content cannot be sent in a header"));
    }
    Ok(ArcSecret::new(text.to_string()))
}

/// Whether two directory paths are the same, as the platform compares names (Windows: without
/// regard to ASCII case).
fn same_dir(a: &Path, b: &Path) -> bool {
    #[cfg(windows)]
    {
        a.as_os_str()
            .to_string_lossy()
            .eq_ignore_ascii_case(&b.as_os_str().to_string_lossy())
    }
    #[cfg(not(windows))]
    {
        a == b
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn realms() {
        assert_eq!(
            realm("Basic realm=/var/opt/azcmagent/tokens/a.key").as_deref(),
            Some("/var/opt/azcmagent/tokens/a.key")
        );
        assert_eq!(
            realm("basic  Realm=\"/x/a.key\"").as_deref(),
            Some("/x/a.key")
        );
        for bad in ["Bearer realm=/x", "Basic", "Basic realm=", "Basic foo=/x"] {
            assert!(realm(bad).is_none(), "{bad}");
        }
    }

    /// A token directory of our own (the real one is exercised by the CLI tests as root).
    fn dir() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let d = fs::canonicalize(t.path()).unwrap().join("tokens");
        fs::create_dir(&d).unwrap();
        (t, d)
    }

    fn refused(realm: &Path, dir: &Path) -> String {
        match read_challenge(realm.to_str().unwrap(), dir) {
            Err(ManagedIdentityError::ArcFile { why, .. }) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn only_a_small_key_file_directly_in_the_directory() {
        let (t, d) = dir();
        let ok = d.join("abc.key");
        fs::write(&ok, "s3cret\n").unwrap();
        assert_eq!(
            read_challenge(ok.to_str().unwrap(), &d).unwrap().expose(),
            "s3cret"
        );

        let outside = t.path().join("out.key");
        fs::write(&outside, "x").unwrap();
        assert!(refused(&outside, &d).contains("not directly"));
        assert!(refused(&d.join("../out.key"), &d).contains(".."));
        let sub = d.join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("a.key"), "x").unwrap();
        assert!(refused(&sub.join("a.key"), &d).contains("not directly"));

        let txt = d.join("abc.txt");
        fs::write(&txt, "x").unwrap();
        assert!(refused(&txt, &d).contains(".key"));
        assert!(refused(&d.join(".key"), &d).contains(".key"));

        let big = d.join("big.key");
        fs::write(&big, "x".repeat(MAX_SECRET_BYTES + 1)).unwrap();
        assert!(refused(&big, &d).contains("4097 bytes"));
        let exact = d.join("exact.key");
        fs::write(&exact, "x".repeat(MAX_SECRET_BYTES)).unwrap();
        assert!(read_challenge(exact.to_str().unwrap(), &d).is_ok());

        let link = d.join("link.key");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(refused(&link, &d).contains("symbolic link"));
        let fifo_like = d.join("dir.key");
        fs::create_dir(&fifo_like).unwrap();
        assert!(refused(&fifo_like, &d).contains("regular file"));
        assert!(refused(Path::new("relative.key"), &d).contains("absolute"));

        let bin = d.join("bin.key");
        fs::write(&bin, [0xff, 0xfe]).unwrap();
        assert!(refused(&bin, &d).contains("not text"));
        let ctl = d.join("ctl.key");
        fs::write(&ctl, "a\u{7}b").unwrap();
        assert!(refused(&ctl, &d).contains("header"));
    }

    #[test]
    fn a_directory_reached_through_a_link_is_refused() {
        let (t, d) = dir();
        fs::write(d.join("a.key"), "x").unwrap();
        let via = t.path().join("via");
        std::os::unix::fs::symlink(&d, &via).unwrap();
        let why = refused(&via.join("a.key"), &via);
        assert!(why.contains("symbolic link"), "{why}");
    }
}

//! Files that hold secrets or state: created private, never overwritten by accident, replaced
//! atomically, and their permissions read so that callers can refuse ones others may read.
//!
//! Unix: private means mode `0600` (files) and `0700` (directories), set at creation. Windows:
//! private means an ACL that lets nobody but the owner, SYSTEM and Administrators (who can
//! take any file anyway) read or change it (read through the `graphd-win` crate, which holds the unsafe FFI graphd's crate
//! forbids): a private directory gets that ACL, protected from inheritance, if it has another;
//! files inherit it from their directory. There are no mode bits, so [`mode`] answers `None`
//! there and [`acl_exposure`] says who else may read a file. Reparse points (symlinks,
//! junctions) are refused as Unix refuses symlinks. Callers decide what to refuse; this module
//! does I/O only. Imports nothing of graphd's.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Who may read a file that is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only the user (`0600`): keys, PKCS#12 files, cache entries, state.
    Private,
    /// Everyone may read (`0644`): certificates.
    Public,
}

#[cfg(unix)]
fn options_for(access: Access) -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(match access {
        Access::Private => 0o600,
        Access::Public => 0o644,
    });
    o
}

#[cfg(not(unix))]
fn options_for(_access: Access) -> OpenOptions {
    OpenOptions::new()
}

/// How a private file is described to the user.
pub const PRIVATE_DESCRIPTION: &str = if cfg!(windows) {
    "ACL: only you and SYSTEM"
} else {
    "mode 0600"
};

/// Creates `path` (which must not exist) with `bytes`, flushed to disk. On Windows a private
/// file gets an ACL of its own (this user and SYSTEM) before any byte is written, rather than
/// whatever its directory would pass on; it is created with no sharing and its ACL set through
/// that handle, so no other process can open it in between.
pub fn write_new(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let mut o = options_for(access);
    o.write(true).create_new(true);
    #[cfg(windows)]
    if access == Access::Private {
        use std::os::windows::fs::OpenOptionsExt;
        // GENERIC_WRITE | WRITE_DAC | READ_CONTROL (winnt.h): writing, and setting the ACL.
        o.access_mode(0x4000_0000 | 0x0004_0000 | 0x0002_0000)
            .share_mode(0);
    }
    let mut f = o.open(path)?;
    #[cfg(windows)]
    if access == Access::Private {
        let restricted = graphd_win::acl::restrict_file_to_owner(&f, false);
        if let Err(e) = restricted {
            drop(f);
            let _ = fs::remove_file(path);
            return Err(e);
        }
    }
    f.write_all(bytes)?;
    f.sync_all()
}

/// Opens an existing file to read, or (with `create`) a file to lock, creating it private if
/// missing and never truncating it, refusing anything a hostile local user could have put in
/// its place: a symlink is not followed (Unix `O_NOFOLLOW`), a FIFO or device does not block
/// the open (`O_NONBLOCK`) and is refused, and so is a file owned by another user.
pub fn open_owned(path: &Path, create: bool) -> io::Result<File> {
    let mut o = options_for(Access::Private);
    o.read(true);
    if create {
        o.write(true).create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // A symlink or junction is opened itself, not followed (and refused below as not a
        // regular file); a missing file is still created.
        o.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    let f = o.open(path)?;
    owned_regular(&f, &f.metadata()?)
        .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, why))?;
    Ok(f)
}

/// `FILE_FLAG_OPEN_REPARSE_POINT` (winbase.h).
#[cfg(windows)]
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
/// `FILE_ATTRIBUTE_REPARSE_POINT` (winnt.h): a symlink, a junction, or another reparse point.
#[cfg(windows)]
const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0400;

/// Whether an open file (its metadata not following links) is a regular file of this user's.
fn owned_regular(f: &File, meta: &fs::Metadata) -> Result<(), String> {
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err("a reparse point (symlink or junction)".into());
        }
        // The owner must be this user (or SYSTEM or Administrators, who own what an elevated
        // process creates): anyone else could change the file's ACL.
        match graphd_win::acl::of_file(f) {
            Ok(e) if e.owner_trusted => Ok(()),
            Ok(e) => Err(format!("owned by {}", e.owner)),
            Err(e) => Err(format!("its owner cannot be read ({e})")),
        }
    }
    #[cfg(not(windows))]
    {
        let _ = f;
        if !owned_by_me(meta) {
            return Err("owned by another user".into());
        }
        Ok(())
    }
}

/// Whether this user owns what `meta` describes. Unix only: elsewhere the metadata does not
/// say (on Windows the owner is in the ACL, which [`open_owned`] reads from the open handle),
/// and this answers true.
pub fn owned_by_me(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.uid() == rustix::process::geteuid().as_raw()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Replaces `path` with `bytes` atomically: a private temporary file beside it (create-new),
/// fsync, rename. Readers see the old file or the new one, never a partial one.
pub fn replace_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    Staged::write(path, bytes)?.commit()
}

/// A private file written and flushed beside its final place, not yet in it: [`Staged::commit`]
/// renames it there; dropped uncommitted, it is removed. For a write that must come after
/// another one and should not fail then (only the rename is left).
#[derive(Debug)]
pub struct Staged {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to a new private temporary file in `path`'s directory.
    pub fn write(path: &Path, bytes: &[u8]) -> io::Result<Staged> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let staged = Staged {
            tmp,
            path: path.to_path_buf(),
            committed: false,
        };
        write_new(&staged.tmp, bytes, Access::Private)?;
        Ok(staged)
    }

    /// Moves the file into its place (atomically replacing what was there).
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Creates `dir` and its parents; `dir` itself ends up private (`0700` on Unix; on Windows an
/// ACL granting only this user and SYSTEM, set only if it has a wider one). A
/// `dir` that is a symlink (or junction), or is owned by another user, is refused (never
/// chmod-ed: that would change the symlink's target or another user's directory).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = fs::symlink_metadata(dir)?;
        let refuse = |why: &str| io::Error::new(io::ErrorKind::PermissionDenied, why.to_string());
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(refuse("it is a symlink or not a directory"));
        }
        if !owned_by_me(&meta) {
            return Err(refuse("it is owned by another user"));
        }
        if meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        fs::create_dir_all(dir)?;
        let meta = fs::symlink_metadata(dir)?;
        let refuse = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 || !meta.is_dir() {
            return Err(refuse(
                "it is a symlink, a junction or not a directory".into(),
            ));
        }
        let exposure = graphd_win::acl::of_path(dir)?;
        if !exposure.owner_trusted {
            return Err(refuse(format!("it is owned by {}", exposure.owner)));
        }
        if !exposure.others.is_empty() {
            graphd_win::acl::restrict_to_owner(dir, true)?;
            let again = graphd_win::acl::of_path(dir)?;
            if !again.is_private() {
                return Err(refuse(format!("its ACL stays {}", again.describe())));
            }
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        fs::create_dir_all(dir)
    }
}

/// Who besides its owner, SYSTEM and Administrators may read or change an open regular file,
/// from its ACL: `Some("open to BUILTIN\Users (S-1-5-32-545)")`, `Some("owned by ...")`, or
/// `Some` saying the ACL cannot be read (no evidence it is private). `None` when it is private,
/// when it is not a regular file, and on Unix, where [`mode`] tells instead.
pub fn acl_exposure(file: &File, meta: &fs::Metadata) -> Option<String> {
    if !meta.file_type().is_file() {
        return None;
    }
    #[cfg(windows)]
    {
        match graphd_win::acl::of_file(file) {
            Ok(e) if e.is_private() => None,
            Ok(e) => Some(e.describe()),
            Err(e) => Some(format!("of unknown access (its ACL cannot be read: {e})")),
        }
    }
    #[cfg(not(windows))]
    {
        let _ = file;
        None
    }
}

/// The permission bits of a regular file (`None` for pipes, devices and on platforms without
/// mode bits): what a key-file check looks at.
pub fn mode(meta: &fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.file_type().is_file().then(|| meta.mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Whether group or others may read or write a file of this `mode` (Unix bits).
pub fn open_to_others(mode: u32) -> bool {
    mode & 0o077 != 0
}

/// Opens `path` for reading and returns it with its metadata (taken from the open file, so
/// they describe the same file).
pub fn open_with_meta(path: &Path) -> io::Result<(File, fs::Metadata)> {
    let f = File::open(path)?;
    let meta = f.metadata()?;
    Ok((f, meta))
}

/// Why [`open_plain_file`] refused a path.
#[derive(Debug)]
pub enum PlainFileError {
    Io(io::Error),
    /// The path is a symbolic link (not followed).
    Symlink,
    /// The path is a directory, a FIFO, a device or a socket.
    NotRegular,
    /// What was opened is not what was looked at (a link swapped in between).
    Replaced,
}

/// Opens `path` only if it is a regular file and not a symbolic link, which is checked without
/// following it, and returns it with the metadata of the file opened. On Unix the file opened
/// must be the one looked at (same device and inode), so a link swapped in between the look
/// and the open is refused too.
pub fn open_plain_file(path: &Path) -> Result<(File, fs::Metadata), PlainFileError> {
    let seen = fs::symlink_metadata(path).map_err(PlainFileError::Io)?;
    if seen.file_type().is_symlink() {
        return Err(PlainFileError::Symlink);
    }
    if !seen.file_type().is_file() {
        return Err(PlainFileError::NotRegular);
    }
    let (file, meta) = open_with_meta(path).map_err(PlainFileError::Io)?;
    if !meta.file_type().is_file() {
        return Err(PlainFileError::NotRegular);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (seen.dev(), seen.ino()) != (meta.dev(), meta.ino()) {
            return Err(PlainFileError::Replaced);
        }
    }
    Ok((file, meta))
}

/// When standard output is a regular file (`graphd users --delta S > out.json`), flushes it to
/// disk, so that a state saved afterwards never gets ahead of the output it follows across a
/// power cut. Pipes, terminals and devices have nothing to sync: `Ok` at once. The caller has
/// flushed its own buffers first.
pub fn sync_stdout() -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        sync_if_regular(&file)
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsHandle;
        let file = File::from(io::stdout().as_handle().try_clone_to_owned()?);
        sync_if_regular(&file)
    }
    #[cfg(not(any(unix, windows)))]
    {
        Ok(())
    }
}

#[cfg(any(unix, windows))]
fn sync_if_regular(file: &File) -> io::Result<()> {
    if file.metadata()?.is_file() {
        file.sync_data()?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn private_files_and_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        create_private_dir(&d).unwrap();
        assert_eq!(
            fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let f = d.join("k");
        write_new(&f, b"x", Access::Private).unwrap();
        assert_eq!(mode(&fs::metadata(&f).unwrap()), Some(0o600));
        assert_eq!(
            write_new(&f, b"y", Access::Private).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        replace_private(&f, b"z").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"z");
        assert_eq!(mode(&fs::metadata(&f).unwrap()), Some(0o600));
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temp file left");
        assert!(open_to_others(0o640) && !open_to_others(0o600));
        // An existing directory others may enter is made private, not trusted as it is.
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&open).unwrap();
        assert_eq!(
            fs::metadata(&open).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn plain_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(open_plain_file(&f).is_ok());
        assert!(matches!(
            open_plain_file(&link),
            Err(PlainFileError::Symlink)
        ));
        assert!(matches!(
            open_plain_file(dir.path()),
            Err(PlainFileError::NotRegular)
        ));
        assert!(matches!(
            open_plain_file(&dir.path().join("missing")),
            Err(PlainFileError::Io(_))
        ));
    }

    #[test]
    fn hostile_paths_are_refused_without_blocking_or_following() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A symlinked directory is not made private (its target keeps its mode).
        let target = d.join("target");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        symlink(&target, d.join("link")).unwrap();
        assert!(create_private_dir(&d.join("link")).is_err());
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // A symlink is not followed, nor created through.
        symlink(d.join("victim"), d.join("lock")).unwrap();
        assert!(open_owned(&d.join("lock"), true).is_err());
        assert!(!d.join("victim").exists());
        // A FIFO does not block the open, and is refused.
        let fifo = d.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(open_owned(&fifo, false).is_err());
        // A regular file of this user opens.
        fs::write(d.join("ok"), b"x").unwrap();
        assert!(open_owned(&d.join("ok"), false).is_ok());
    }
}

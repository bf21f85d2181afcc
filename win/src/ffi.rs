//! Helpers shared by the Windows calls: wide strings, memory Windows allocated, SIDs.

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, HLOCAL, LocalFree};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{
    CopySid, CreateWellKnownSid, GetLengthSid, GetTokenInformation, IsValidSid, LookupAccountSidW,
    PSID, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER, TokenUser, WELL_KNOWN_SID_TYPE,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use crate::acl::Principal;

/// A NUL-terminated UTF-16 string; `None` when `s` holds a NUL (Windows would cut it there).
pub fn wide(s: &OsStr) -> Option<Vec<u16>> {
    let mut w: Vec<u16> = s.encode_wide().collect();
    if w.contains(&0) {
        return None;
    }
    w.push(0);
    Some(w)
}

/// A path as a NUL-terminated UTF-16 string.
pub fn wide_path(path: &Path) -> io::Result<Vec<u16>> {
    wide(path.as_os_str()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path contains a NUL character",
        )
    })
}

/// The text of a NUL-terminated UTF-16 string.
///
/// # Safety
/// `p` must point to a NUL-terminated UTF-16 string.
unsafe fn from_wide(p: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller guarantees a NUL terminator, so every index up to it is readable.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` elements from `p` were just read.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Memory Windows allocated with `LocalAlloc` for the caller, freed on drop.
pub struct LocalBox(pub *mut core::ffi::c_void);

impl Drop for LocalBox {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a Windows function documented to allocate it with
            // LocalAlloc for the caller to free with LocalFree, and is freed only here.
            unsafe { LocalFree(self.0 as HLOCAL) };
        }
    }
}

/// A handle closed on drop.
struct OwnedHandle(HANDLE);

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened for this struct and is closed only here.
        unsafe { CloseHandle(self.0) };
    }
}

/// A SID owned by Rust (DWORD-aligned, as SIDs must be).
pub struct Sid(Vec<u32>);

impl Sid {
    /// A copy of the SID at `p`.
    ///
    /// # Safety
    /// `p` must point to a valid SID.
    unsafe fn copy_of(p: PSID) -> io::Result<Sid> {
        // SAFETY: the caller guarantees a valid SID.
        if unsafe { IsValidSid(p) } == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "invalid SID"));
        }
        // SAFETY: `p` is a valid SID.
        let len = unsafe { GetLengthSid(p) };
        let mut buf = vec![0u32; (len as usize).div_ceil(4)];
        // SAFETY: `buf` has room for `len` bytes; `p` is a valid SID of that length.
        if unsafe { CopySid(len, buf.as_mut_ptr() as PSID, p) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Sid(buf))
    }

    /// A well-known SID of this machine (SYSTEM, Administrators, ...).
    pub fn well_known(kind: WELL_KNOWN_SID_TYPE) -> io::Result<Sid> {
        // SECURITY_MAX_SID_SIZE is 68 bytes.
        let mut buf = vec![0u32; 17];
        let mut len = (buf.len() * 4) as u32;
        // SAFETY: `buf` has `len` writable bytes; no domain SID is needed for these kinds.
        let ok = unsafe {
            CreateWellKnownSid(kind, ptr::null_mut(), buf.as_mut_ptr() as PSID, &mut len)
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Sid(buf))
    }

    /// A pointer to the SID, valid while `self` lives.
    pub fn as_psid(&self) -> PSID {
        self.0.as_ptr() as PSID
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        // SAFETY: `self` holds a valid SID (made by CopySid or CreateWellKnownSid).
        unsafe { GetLengthSid(self.as_psid()) as usize }
    }

    /// `S-1-5-...`
    pub fn to_text(&self) -> io::Result<String> {
        // SAFETY: `self` holds a valid SID alive for the call.
        unsafe { sid_text(self.as_psid()) }
    }
}

/// The current process user's SID.
pub fn current_user_sid() -> io::Result<Sid> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is
    // valid for a write and, on success, a token handle closed by `OwnedHandle`.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = OwnedHandle(token);
    let mut len = 0u32;
    // SAFETY: a size query: no buffer, `len` receives the size needed.
    unsafe { GetTokenInformation(token.0, TokenUser, ptr::null_mut(), 0, &mut len) };
    if len == 0 {
        return Err(io::Error::last_os_error());
    }
    // u64 words: TOKEN_USER holds a pointer, so the buffer must be pointer-aligned.
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: `buf` has at least `len` writable, aligned bytes.
    let ok =
        unsafe { GetTokenInformation(token.0, TokenUser, buf.as_mut_ptr().cast(), len, &mut len) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: GetTokenInformation(TokenUser) filled `buf` with a TOKEN_USER whose SID pointer
    // points into `buf`, alive for the copy.
    unsafe {
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        Sid::copy_of(user.User.Sid)
    }
}

/// `S-1-5-...` of a SID.
///
/// # Safety
/// `p` must point to a valid SID alive for the call.
pub unsafe fn sid_text(p: PSID) -> io::Result<String> {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: the caller guarantees a valid SID; `text` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(p, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let owned = LocalBox(text.cast());
    // SAFETY: ConvertSidToStringSidW returned a NUL-terminated string, owned by `owned`.
    let s = unsafe { from_wide(text) };
    drop(owned);
    Ok(s)
}

/// A SID as text and, when Windows can name it, `DOMAIN\name`.
///
/// # Safety
/// `p` must point to a valid SID alive for the call.
pub unsafe fn principal(p: PSID) -> io::Result<Principal> {
    // SAFETY: forwarded from the caller.
    let sid = unsafe { sid_text(p) }?;
    let mut name = vec![0u16; 256];
    let mut domain = vec![0u16; 256];
    let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
    let mut usage: SID_NAME_USE = 0;
    // SAFETY: both buffers are writable for the lengths passed; `p` is a valid SID.
    let ok = unsafe {
        LookupAccountSidW(
            ptr::null(),
            p,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut usage,
        )
    };
    let name = (ok != 0).then(|| {
        let n = String::from_utf16_lossy(&name[..name_len as usize]);
        let d = String::from_utf16_lossy(&domain[..domain_len as usize]);
        if d.is_empty() { n } else { format!("{d}\\{n}") }
    });
    Ok(Principal { sid, name })
}

//! Who besides its owner may read or change a file or directory, from its security descriptor.
//!
//! The rule, conservative on purpose (as OpenSSH for Windows checks key files): the owner must
//! be the current user, SYSTEM or the Administrators group; and no *allow* entry of the DACL
//! that applies to the object itself may grant read, write or permission-changing rights to
//! anyone else. Deny entries are not credited (a deny for one group does not make an allow for
//! another safe), inherit-only entries are skipped (they apply to children, not to the object),
//! and a missing DACL (which grants everyone everything) exposes the object to `Everyone`.
//! Trusted principals: the current user, `NT AUTHORITY\SYSTEM` (S-1-5-18),
//! `BUILTIN\Administrators` (S-1-5-32-544, who can take any file anyway) and `OWNER RIGHTS`
//! (S-1-3-4, which stands for the owner, itself checked).

use std::fmt;

/// SIDs trusted with any file of the user's, besides the user.
pub const SYSTEM_SID: &str = "S-1-5-18";
pub const ADMINISTRATORS_SID: &str = "S-1-5-32-544";
pub const OWNER_RIGHTS_SID: &str = "S-1-3-4";
/// `Everyone`: what a missing DACL grants everything to.
pub const EVERYONE_SID: &str = "S-1-1-0";

/// Rights that expose a file or directory: reading its data (listing a directory), writing
/// or appending to it (adding files to a directory), deleting its children, and changing its
/// DACL or owner (which grants the rest); and the generic rights that map to them.
pub const EXPOSING_RIGHTS: u32 = 0x0000_0001 // FILE_READ_DATA / FILE_LIST_DIRECTORY
    | 0x0000_0002 // FILE_WRITE_DATA / FILE_ADD_FILE
    | 0x0000_0004 // FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY
    | 0x0000_0040 // FILE_DELETE_CHILD
    | 0x0004_0000 // WRITE_DAC
    | 0x0008_0000 // WRITE_OWNER
    | 0x1000_0000 // GENERIC_ALL
    | 0x4000_0000 // GENERIC_WRITE
    | 0x8000_0000; // GENERIC_READ

/// One access-control entry, as far as the rule above needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    pub kind: AceKind,
    /// `INHERIT_ONLY_ACE`: applies to children only.
    pub inherit_only: bool,
    pub mask: u32,
    /// The trustee's SID as text (`S-1-5-...`); `None` for an allow entry whose layout this
    /// crate does not parse (object and compound entries), which counts as untrusted.
    pub sid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AceKind {
    Allow,
    Deny,
    /// Audit and alarm entries: they grant nothing.
    Other,
}

impl AceKind {
    /// The kind of an ACE from its `AceType` byte.
    pub fn of_type(ace_type: u8) -> AceKind {
        match ace_type {
            // ACCESS_ALLOWED, _COMPOUND, _OBJECT, _CALLBACK, _CALLBACK_OBJECT
            0 | 4 | 5 | 9 | 11 => AceKind::Allow,
            // ACCESS_DENIED, _OBJECT, _CALLBACK, _CALLBACK_OBJECT
            1 | 6 | 10 | 12 => AceKind::Deny,
            _ => AceKind::Other,
        }
    }
}

/// A principal: its SID and, when Windows could name it, `DOMAIN\name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sid: String,
    pub name: Option<String>,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({})", self.sid),
            None => f.write_str(&self.sid),
        }
    }
}

/// What a file's security descriptor says about who may get at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub owner: Principal,
    /// The owner is the current user, SYSTEM or Administrators.
    pub owner_trusted: bool,
    /// Everyone else an allow entry grants an exposing right to (empty: private).
    pub others: Vec<Principal>,
}

impl Exposure {
    /// Only trusted principals can read or change it.
    pub fn is_private(&self) -> bool {
        self.owner_trusted && self.others.is_empty()
    }

    /// A one-line account for an error message: who, besides the owner, may read or change it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.owner_trusted {
            parts.push(format!("owned by {}", self.owner));
        }
        if !self.others.is_empty() {
            let names: Vec<String> = self.others.iter().map(|p| p.to_string()).collect();
            parts.push(format!("open to {}", names.join(", ")));
        }
        if parts.is_empty() {
            "private".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Whether `sid` is trusted with the user's files (`me` is the current user's SID).
pub fn is_trusted(sid: &str, me: &str) -> bool {
    sid == me || sid == SYSTEM_SID || sid == ADMINISTRATORS_SID || sid == OWNER_RIGHTS_SID
}

/// The SIDs (in DACL order, without repeats) that `dacl` exposes the object to, by the rule in
/// the module docs; `None` as the DACL (no DACL at all) exposes it to `Everyone`. An allow entry
/// this crate could not parse is reported as `"(unparsed entry)"`.
pub fn exposing_sids(dacl: Option<&[Ace]>, me: &str) -> Vec<String> {
    let Some(aces) = dacl else {
        return vec![EVERYONE_SID.to_string()];
    };
    let mut out: Vec<String> = Vec::new();
    for ace in aces {
        if ace.kind != AceKind::Allow || ace.inherit_only || ace.mask & EXPOSING_RIGHTS == 0 {
            continue;
        }
        let sid = match &ace.sid {
            Some(sid) if is_trusted(sid, me) => continue,
            Some(sid) => sid.clone(),
            None => "(unparsed entry)".to_string(),
        };
        if !out.contains(&sid) {
            out.push(sid);
        }
    }
    out
}

#[cfg(windows)]
pub use imp::{of_file, of_path, restrict_file_to_owner, restrict_to_owner};

#[cfg(windows)]
mod imp {
    use std::fs::File;
    use std::io;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use std::ptr;

    use std::os::windows::fs::OpenOptionsExt;
    use windows_sys::Win32::Foundation::{ERROR_SUCCESS, HANDLE};
    use windows_sys::Win32::Security::Authorization::{
        GetNamedSecurityInfoW, GetSecurityInfo, SE_FILE_OBJECT,
    };
    use windows_sys::Win32::Security::{
        ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_REVISION, AddAccessAllowedAceEx,
        CONTAINER_INHERIT_ACE, DACL_SECURITY_INFORMATION, GetAce, INHERIT_ONLY_ACE, InitializeAcl,
        InitializeSecurityDescriptor, OBJECT_INHERIT_ACE, OWNER_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED, SECURITY_DESCRIPTOR,
        SetKernelObjectSecurity, SetSecurityDescriptorControl, SetSecurityDescriptorDacl,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, READ_CONTROL, WRITE_DAC,
    };

    /// `SECURITY_DESCRIPTOR_REVISION` (winnt.h).
    const SECURITY_DESCRIPTOR_REVISION: u32 = 1;

    use super::{Ace, AceKind, Exposure, Principal, exposing_sids, is_trusted};
    use crate::ffi::{self, LocalBox, Sid};

    /// FILE_ALL_ACCESS: what the owner and SYSTEM get on a private file or directory.
    const FULL_CONTROL: u32 = 0x001F_01FF;

    /// The exposure of an open file (its handle needs `READ_CONTROL`, which reading implies).
    pub fn of_file(file: &File) -> io::Result<Exposure> {
        let handle = file.as_raw_handle() as HANDLE;
        read_descriptor(|owner, dacl, sd| {
            // SAFETY: `handle` is a valid open handle borrowed from `file` for the call; the
            // out pointers are valid for writes.
            unsafe {
                GetSecurityInfo(
                    handle,
                    SE_FILE_OBJECT,
                    OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                    owner,
                    ptr::null_mut(),
                    dacl,
                    ptr::null_mut(),
                    sd,
                )
            }
        })
    }

    /// The exposure of the file or directory at `path` (following links, as opening would).
    pub fn of_path(path: &Path) -> io::Result<Exposure> {
        let wide = ffi::wide_path(path)?;
        read_descriptor(|owner, dacl, sd| {
            // SAFETY: `wide` is a NUL-terminated UTF-16 path alive for the call; the out
            // pointers are valid for writes.
            unsafe {
                GetNamedSecurityInfoW(
                    wide.as_ptr(),
                    SE_FILE_OBJECT,
                    OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                    owner,
                    ptr::null_mut(),
                    dacl,
                    ptr::null_mut(),
                    sd,
                )
            }
        })
    }

    /// Runs `get`, a `Get*SecurityInfo` call asking for the owner and the DACL, and reads
    /// them. On success `get` leaves a LocalAlloc'd descriptor in `sd` that `owner` and `dacl`
    /// point into; it is freed here, after reading.
    fn read_descriptor(
        get: impl FnOnce(&mut PSID, &mut *mut ACL, &mut PSECURITY_DESCRIPTOR) -> u32,
    ) -> io::Result<Exposure> {
        let mut owner: PSID = ptr::null_mut();
        let mut dacl: *mut ACL = ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = ptr::null_mut();
        let rc = get(&mut owner, &mut dacl, &mut sd);
        if rc != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        let _sd = LocalBox(sd);
        // SAFETY: `owner` and `dacl` point into the descriptor `_sd` owns, alive until the
        // end of this function.
        unsafe { exposure(owner, dacl) }
    }

    /// Reads the owner and the DACL's entries.
    ///
    /// # Safety
    /// `owner` must be null or point to a valid SID, and `dacl` null or to a valid ACL, both
    /// alive for the call.
    unsafe fn exposure(owner: PSID, dacl: *mut ACL) -> io::Result<Exposure> {
        let me = ffi::current_user_sid()?.to_text()?;
        let owner = if owner.is_null() {
            Principal {
                sid: "(no owner)".into(),
                name: None,
            }
        } else {
            // SAFETY: the caller guarantees `owner` is a valid SID alive for the call.
            let sid = unsafe { ffi::sid_text(owner) }?;
            if is_trusted(&sid, &me) {
                // Named only when reported: a lookup may ask a domain controller.
                Principal { sid, name: None }
            } else {
                // SAFETY: as above.
                unsafe { ffi::principal(owner) }?
            }
        };
        let entries = if dacl.is_null() {
            None
        } else {
            // SAFETY: the caller guarantees `dacl` is a valid ACL alive for the call.
            Some(unsafe { read_aces(dacl) }?)
        };
        let aces: Option<Vec<Ace>> = entries
            .as_ref()
            .map(|e| e.iter().map(|(ace, _)| ace.clone()).collect());
        let mut others = Vec::new();
        for sid in exposing_sids(aces.as_deref(), &me) {
            // Names are looked up only for the principals reported.
            let psid = entries.as_ref().and_then(|e| {
                e.iter()
                    .find(|(ace, _)| ace.sid.as_deref() == Some(sid.as_str()))
                    .map(|(_, p)| *p)
            });
            let name = match psid {
                // SAFETY: `p` points to a SID inside the DACL, alive for this call.
                Some(p) => unsafe { ffi::principal(p) }.ok().and_then(|p| p.name),
                None => None,
            };
            others.push(Principal { sid, name });
        }
        Ok(Exposure {
            owner_trusted: is_trusted(&owner.sid, &me),
            owner,
            others,
        })
    }

    /// The entries of `dacl`, each with a pointer to its SID (null when not parsed).
    ///
    /// # Safety
    /// `dacl` must point to a valid ACL alive for the call; the SID pointers returned point
    /// into it.
    unsafe fn read_aces(dacl: *mut ACL) -> io::Result<Vec<(Ace, PSID)>> {
        // SAFETY: the caller guarantees `dacl` points to a valid ACL.
        let count = unsafe { (*dacl).AceCount };
        let mut out = Vec::with_capacity(usize::from(count));
        for i in 0..u32::from(count) {
            let mut raw: *mut core::ffi::c_void = ptr::null_mut();
            // SAFETY: `i` < AceCount of a valid ACL; `raw` is valid for a write.
            if unsafe { GetAce(dacl, i, &mut raw) } == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: GetAce returned a pointer to the i-th ACE inside the ACL, which starts
            // with an ACE_HEADER.
            let header = unsafe { &*(raw as *const ACE_HEADER) };
            let kind = AceKind::of_type(header.AceType);
            let inherit_only = u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0;
            // Types 0, 1, 9 and 10 (allowed/denied, plain or callback) share the layout of
            // ACCESS_ALLOWED_ACE: header, mask, then the SID. Others are not parsed.
            let simple = matches!(header.AceType, 0 | 1 | 9 | 10)
                && usize::from(header.AceSize) >= std::mem::size_of::<ACCESS_ALLOWED_ACE>();
            let (mask, sid, psid) = if simple {
                // SAFETY: the type says the ACE has ACCESS_ALLOWED_ACE's layout and AceSize
                // says it is at least that large.
                let ace = unsafe { &*(raw as *const ACCESS_ALLOWED_ACE) };
                // SidStart is the first DWORD of the SID, which Windows validated as part of
                // the ACL.
                let psid = &ace.SidStart as *const u32 as PSID;
                // SAFETY: `psid` points to the ACE's SID, inside the live ACL.
                let sid = unsafe { ffi::sid_text(psid) }?;
                (ace.Mask, Some(sid), psid)
            } else if header.AceSize >= 8 {
                // SAFETY: every ACE layout puts a DWORD mask right after the 4-byte header,
                // and AceSize says this ACE holds those 8 bytes.
                let mask = unsafe { ((raw as *const u8).add(4) as *const u32).read_unaligned() };
                (mask, None, ptr::null_mut())
            } else {
                // Too short to hold a mask: grants nothing graphd can read.
                (0, None, ptr::null_mut())
            };
            out.push((
                Ace {
                    kind,
                    inherit_only,
                    mask,
                    sid,
                },
                psid,
            ));
        }
        Ok(out)
    }

    /// Gives `path` a protected DACL (no inherited entries) granting full control to the
    /// current user and SYSTEM only (as `icacls /inheritance:r` leaves a key for OpenSSH): the
    /// Windows form of `chmod 600`, or, with `inherit` (a directory), of `chmod 700` passed on
    /// to what is created inside it. Administrators are left out: they can take any file, but
    /// need not read this one.
    pub fn restrict_to_owner(path: &Path, inherit: bool) -> io::Result<()> {
        // Set through a handle (opened by std with WRITE_DAC, not following a reparse point):
        // the object itself, not whatever the name points at a moment later.
        let file = std::fs::OpenOptions::new()
            .access_mode(WRITE_DAC | READ_CONTROL)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?;
        restrict_file_to_owner(&file, inherit)
    }

    /// [`restrict_to_owner`] on a file already open with `WRITE_DAC`: for a file just created
    /// with no sharing, so that no other handle can be opened on it before its ACL is set.
    pub fn restrict_file_to_owner(file: &std::fs::File, inherit: bool) -> io::Result<()> {
        let me = ffi::current_user_sid()?;
        let system = Sid::well_known(windows_sys::Win32::Security::WinLocalSystemSid)?;
        let sids = [&me, &system];
        // An ACL header, then per entry the ACE without its SidStart DWORD plus the SID.
        let size = std::mem::size_of::<ACL>()
            + sids
                .iter()
                .map(|s| std::mem::size_of::<ACCESS_ALLOWED_ACE>() - 4 + s.len())
                .sum::<usize>();
        // u32 words keep the ACL DWORD-aligned, as InitializeAcl requires.
        let mut buf = vec![0u32; size.div_ceil(4)];
        let acl = buf.as_mut_ptr() as *mut ACL;
        let bytes = (buf.len() * 4) as u32;
        // SAFETY: `acl` points to `bytes` writable, DWORD-aligned bytes owned by `buf`.
        if unsafe { InitializeAcl(acl, bytes, ACL_REVISION) } == 0 {
            return Err(io::Error::last_os_error());
        }
        for sid in sids {
            // SAFETY: `acl` was initialized above with room for these entries; `sid.as_psid()`
            // is a valid SID owned by `sid`, alive for the call.
            let ok = unsafe {
                AddAccessAllowedAceEx(
                    acl,
                    ACL_REVISION,
                    if inherit {
                        OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
                    } else {
                        0
                    },
                    FULL_CONTROL,
                    sid.as_psid(),
                )
            };
            if ok == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // The descriptor itself is marked SE_DACL_PROTECTED (what makes a DACL protected at
        // the NT level; SetSecurityInfo's PROTECTED_DACL flag only sets it, and Wine's does
        // not, merging the parent's inheritable entries in).
        // SAFETY: SECURITY_DESCRIPTOR is plain data; all-zero is a valid value to initialize.
        let mut sd: SECURITY_DESCRIPTOR = unsafe { std::mem::zeroed() };
        let psd = (&mut sd as *mut SECURITY_DESCRIPTOR).cast();
        // SAFETY: `psd` points to a SECURITY_DESCRIPTOR owned by this frame; `acl` is a valid
        // ACL in `buf`, which outlives every use of `sd` below.
        let ok = unsafe {
            InitializeSecurityDescriptor(psd, SECURITY_DESCRIPTOR_REVISION) != 0
                && SetSecurityDescriptorDacl(psd, 1, acl, 0) != 0
                && SetSecurityDescriptorControl(psd, SE_DACL_PROTECTED, SE_DACL_PROTECTED) != 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the handle is open (borrowed from `file`; callers open it with WRITE_DAC, and
        // a handle without it makes the call fail, not misbehave), and `psd` a valid
        // descriptor whose DACL lives in `buf`, all alive for the call; Windows copies what it
        // needs and keeps no pointer.
        let ok = unsafe {
            SetKernelObjectSecurity(
                file.as_raw_handle() as HANDLE,
                DACL_SECURITY_INFORMATION,
                psd,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        drop(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "S-1-5-21-1-2-3-1001";

    fn allow(sid: &str, mask: u32) -> Ace {
        Ace {
            kind: AceKind::Allow,
            inherit_only: false,
            mask,
            sid: Some(sid.into()),
        }
    }

    #[test]
    fn a_profile_acl_is_private() {
        // What %LOCALAPPDATA% inherits: SYSTEM, Administrators, the user, all full control.
        let dacl = [
            allow(SYSTEM_SID, 0x001F_01FF),
            allow(ADMINISTRATORS_SID, 0x001F_01FF),
            allow(ME, 0x001F_01FF),
        ];
        assert!(exposing_sids(Some(&dacl), ME).is_empty());
    }

    #[test]
    fn users_everyone_and_unknown_entries_expose() {
        let users = "S-1-5-32-545";
        let dacl = [
            allow(ME, 0x001F_01FF),
            allow(users, 0x0012_0089),                // read & execute
            allow(EVERYONE_SID, 0x8000_0000),         // GENERIC_READ
            allow("S-1-5-11", 0x0004_0000),           // WRITE_DAC only
            allow(users, 0x0000_0001),                // a repeat: reported once
            allow("S-1-5-21-9-9-9-500", 0x0010_0000), // SYNCHRONIZE only: harmless
            Ace {
                kind: AceKind::Allow,
                inherit_only: false,
                mask: 1,
                sid: None,
            },
        ];
        assert_eq!(
            exposing_sids(Some(&dacl), ME),
            vec![users, EVERYONE_SID, "S-1-5-11", "(unparsed entry)"]
        );
    }

    #[test]
    fn no_dacl_is_everyone_and_deny_or_inherit_only_grant_nothing() {
        assert_eq!(exposing_sids(None, ME), vec![EVERYONE_SID]);
        let dacl = [
            Ace {
                kind: AceKind::Deny,
                inherit_only: false,
                mask: 0x001F_01FF,
                sid: Some(EVERYONE_SID.into()),
            },
            Ace {
                kind: AceKind::Allow,
                inherit_only: true,
                mask: 0x001F_01FF,
                sid: Some("S-1-3-0".into()), // CREATOR OWNER, for children only
            },
            Ace {
                kind: AceKind::Other,
                inherit_only: false,
                mask: 0x001F_01FF,
                sid: Some(EVERYONE_SID.into()), // an audit entry
            },
        ];
        assert!(exposing_sids(Some(&dacl), ME).is_empty());
    }

    #[test]
    fn ace_types_and_descriptions() {
        assert_eq!(AceKind::of_type(0), AceKind::Allow);
        assert_eq!(AceKind::of_type(5), AceKind::Allow);
        assert_eq!(AceKind::of_type(1), AceKind::Deny);
        assert_eq!(AceKind::of_type(2), AceKind::Other);
        let e = Exposure {
            owner: Principal {
                sid: "S-1-5-21-7".into(),
                name: Some("HOST\\eve".into()),
            },
            owner_trusted: false,
            others: vec![Principal {
                sid: EVERYONE_SID.into(),
                name: Some("\\Everyone".into()),
            }],
        };
        assert!(!e.is_private());
        assert_eq!(
            e.describe(),
            "owned by HOST\\eve (S-1-5-21-7); open to \\Everyone (S-1-1-0)"
        );
    }
}

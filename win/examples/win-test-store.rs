//! A test fixture, never shipped: puts a PKCS#12 file's certificate and key into a Windows
//! certificate store (scripts/test-windows.sh runs it under Wine, where there is no certutil or
//! PowerShell), removes it, probes what the store and CNG do with it, and signs with an
//! ephemeral CNG key.
//!
//! ```text
//! win-test-store import CurrentUser\My FILE.pfx [cng]   # password from WIN_TEST_PFX_PASSWORD
//! win-test-store delete CurrentUser\My THUMBPRINT
//! win-test-store probe  CurrentUser\My THUMBPRINT       # find + sign, prints what happened
//! win-test-store sign   KEY.blob pss|pkcs1 DIGESTHEX     # NCryptSignHash with an ephemeral key
//! win-test-store creds  SUFFIX                          # the Credential Manager's entries
//! ```
//! `creds` lists the credentials whose target ends with SUFFIX (e.g. `.graphd`), one
//! line each: target, persistence and whether the stored bytes are WIN_TEST_SECRET (UTF-8 or
//! UTF-16), never the bytes; `none` when there are none. It reads the Credential Manager
//! directly, not through graphd.
//! `sign` imports a `BCRYPT_RSAPRIVATE_BLOB` into the software key storage provider (not
//! persisted) and prints the signature of the SHA-256 digest in hex: the CNG signing path of
//! `--cert-store`, which Wine cannot reach through a store (see docs/windows.md).
//! Exit codes: 0 done, 1 failed, 2 usage.

// A command-line fixture: its output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    use std::process::ExitCode;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(Fail::Usage) => {
            eprintln!(
                "usage: win-test-store import|delete|probe LOCATION\\STORE FILE.pfx|THUMBPRINT [cng]\n       win-test-store sign KEY.blob pss|pkcs1 DIGESTHEX\n       win-test-store creds SUFFIX"
            );
            ExitCode::from(2)
        }
        Err(Fail::Failed(e)) => {
            eprintln!("win-test-store: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(windows)]
enum Fail {
    Usage,
    Failed(String),
}

#[cfg(windows)]
fn run(args: &[&str]) -> Result<String, Fail> {
    use graphd_win::certstore::{self, Padding, StoreKey, StoreName};

    let failed = |e: &dyn std::fmt::Display| Fail::Failed(e.to_string());
    let hex = |s: &str, n: usize| -> Result<Vec<u8>, Fail> {
        if s.len() != 2 * n {
            return Err(Fail::Usage);
        }
        (0..n)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| Fail::Usage))
            .collect()
    };
    let store = |s: &str| StoreName::parse(s).map_err(Fail::Failed);
    match args {
        ["import", name, pfx, rest @ ..] => {
            let store = store(name)?;
            let bytes = std::fs::read(pfx).map_err(|e| failed(&e))?;
            let password = std::env::var("WIN_TEST_PFX_PASSWORD").unwrap_or_default();
            let cng = rest.first() == Some(&"cng");
            let n =
                certstore::import_pfx(&store, &bytes, &password, cng).map_err(|e| failed(&e))?;
            Ok(format!(
                "imported {n} certificate(s) with a key into {store}"
            ))
        }
        ["delete", name, tp] => {
            let found = certstore::delete(&store(name)?, &hex(tp, 20)?).map_err(|e| failed(&e))?;
            Ok(if found { "deleted" } else { "not there" }.into())
        }
        ["probe", name, tp] => {
            let key = StoreKey::find(&store(name)?, &hex(tp, 20)?)
                .map_err(|e| Fail::Failed(format!("find failed: {e}")))?;
            let signed = match key.sign_digest(&[0u8; 32], Padding::Pss { salt_len: 32 }) {
                Ok(sig) => format!("signed: {} bytes", sig.len()),
                Err(e) => format!("sign failed: {e}"),
            };
            Ok(format!(
                "found: {} bytes of certificate, CNG key; {signed}",
                key.cert_der().len()
            ))
        }
        ["sign", blob, padding, digest] => {
            let padding = match *padding {
                "pss" => Padding::Pss { salt_len: 32 },
                "pkcs1" => Padding::Pkcs1,
                _ => return Err(Fail::Usage),
            };
            let digest = hex(digest, 32)?;
            let blob = std::fs::read(blob).map_err(|e| failed(&e))?;
            let sig = StoreKey::from_rsa_blob(Vec::new(), &blob)
                .and_then(|key| key.sign_digest(&digest, padding))
                .map_err(|e| failed(&e))?;
            Ok(sig.iter().map(|b| format!("{b:02x}")).collect())
        }
        ["creds", suffix] => credentials(suffix),
        _ => Err(Fail::Usage),
    }
}

/// The `creds` command: every credential of the user (`CredEnumerateW` filters by prefix
/// only), those whose target ends with `suffix`.
#[cfg(windows)]
fn credentials(suffix: &str) -> Result<String, Fail> {
    use windows_sys::Win32::Foundation::{ERROR_NOT_FOUND, GetLastError};
    use windows_sys::Win32::Security::Credentials::{
        CRED_PERSIST_ENTERPRISE, CRED_PERSIST_LOCAL_MACHINE, CRED_PERSIST_SESSION, CREDENTIALW,
        CredEnumerateW, CredFree,
    };

    let mut count = 0u32;
    let mut list: *mut *mut CREDENTIALW = std::ptr::null_mut();
    // SAFETY: a null filter (all); `count` and `list` are valid for writes; on success `list`
    // is an array of `count` pointers freed with CredFree below.
    let ok = unsafe { CredEnumerateW(std::ptr::null(), 0, &mut count, &mut list) };
    if ok == 0 {
        // SAFETY: no preconditions.
        let code = unsafe { GetLastError() };
        return if code == ERROR_NOT_FOUND {
            Ok("none".into())
        } else {
            Err(Fail::Failed(format!("CredEnumerateW failed: {code}")))
        };
    }
    let secret = std::env::var("WIN_TEST_SECRET").unwrap_or_default();
    let utf16: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut lines = Vec::new();
    for i in 0..count as usize {
        // SAFETY: `list` holds `count` valid credential pointers until CredFree.
        let c = unsafe { &**list.add(i) };
        // SAFETY: TargetName is a NUL-terminated UTF-16 string inside the credential.
        let target = unsafe { wide_to_string(c.TargetName) };
        if !target.ends_with(suffix) {
            continue;
        }
        let blob = if c.CredentialBlob.is_null() {
            &[][..]
        } else {
            // SAFETY: the blob is `CredentialBlobSize` readable bytes, alive until CredFree.
            unsafe { std::slice::from_raw_parts(c.CredentialBlob, c.CredentialBlobSize as usize) }
        };
        let persist = match c.Persist {
            CRED_PERSIST_SESSION => "session",
            CRED_PERSIST_LOCAL_MACHINE => "local_machine",
            CRED_PERSIST_ENTERPRISE => "enterprise",
            _ => "other",
        };
        let matches = !secret.is_empty() && (blob == secret.as_bytes() || blob == utf16.as_slice());
        lines.push(format!(
            "{target} persist={persist} secret={}",
            if matches { "yes" } else { "no" }
        ));
    }
    // SAFETY: `list` came from CredEnumerateW and is freed once.
    unsafe { CredFree(list as *const core::ffi::c_void) };
    Ok(if lines.is_empty() {
        "none".into()
    } else {
        lines.join("\n")
    })
}

/// A NUL-terminated UTF-16 string as a `String`.
///
/// # Safety
/// `p` is null or points to a NUL-terminated UTF-16 string.
#[cfg(windows)]
unsafe fn wide_to_string(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0;
    // SAFETY: the caller promises a NUL terminator; reading stops there.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` u16s were just read from `p`.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
}

#[cfg(not(windows))]
fn main() -> std::process::ExitCode {
    eprintln!("win-test-store: Windows only");
    std::process::ExitCode::from(2)
}

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
//! ```
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
                "usage: win-test-store import|delete|probe LOCATION\\STORE FILE.pfx|THUMBPRINT [cng]\n       win-test-store sign KEY.blob pss|pkcs1 DIGESTHEX"
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
        _ => Err(Fail::Usage),
    }
}

#[cfg(not(windows))]
fn main() -> std::process::ExitCode {
    eprintln!("win-test-store: Windows only");
    std::process::ExitCode::from(2)
}

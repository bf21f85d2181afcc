//! A test fixture, never shipped: puts a PKCS#12 file's certificate and key into a Windows
//! certificate store (scripts/test-windows.sh runs it under Wine, where there is no certutil or
//! PowerShell), removes it, or probes what the store and CNG can do with it.
//!
//! ```text
//! win-test-store import CurrentUser\My FILE.pfx [cng]   # password from WIN_TEST_PFX_PASSWORD
//! win-test-store delete CurrentUser\My THUMBPRINT
//! win-test-store probe  CurrentUser\My THUMBPRINT       # find + sign, prints what happened
//! ```
//! Exit codes: 0 done, 1 failed, 2 usage.

// A command-line fixture: its output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    use graphd_win::certstore::{self, Padding, StoreKey, StoreName};
    use std::process::ExitCode;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: win-test-store import|delete|probe LOCATION\\STORE FILE.pfx|THUMBPRINT [cng]"
        );
        ExitCode::from(2)
    };
    let (Some(cmd), Some(store), Some(arg)) = (args.first(), args.get(1), args.get(2)) else {
        return usage();
    };
    let store = match StoreName::parse(store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("win-test-store: {e}");
            return ExitCode::from(2);
        }
    };
    let hex = |s: &str| -> Option<Vec<u8>> {
        (s.len() == 40)
            .then(|| {
                (0..20)
                    .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
                    .collect()
            })
            .flatten()
    };
    match cmd.as_str() {
        "import" => {
            let pfx = match std::fs::read(arg) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("win-test-store: cannot read {arg}: {e}");
                    return ExitCode::from(1);
                }
            };
            let password = std::env::var("WIN_TEST_PFX_PASSWORD").unwrap_or_default();
            let cng = args.get(3).is_some_and(|a| a == "cng");
            match certstore::import_pfx(&store, &pfx, &password, cng) {
                Ok(n) => {
                    println!("imported {n} certificate(s) with a key into {store}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("win-test-store: {e}");
                    ExitCode::from(1)
                }
            }
        }
        "delete" => {
            let Some(tp) = hex(arg) else { return usage() };
            match certstore::delete(&store, &tp) {
                Ok(found) => {
                    println!("{}", if found { "deleted" } else { "not there" });
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("win-test-store: {e}");
                    ExitCode::from(1)
                }
            }
        }
        "probe" => {
            let Some(tp) = hex(arg) else { return usage() };
            match StoreKey::find(&store, &tp) {
                Ok(key) => {
                    println!(
                        "found: {} bytes of certificate, CNG key",
                        key.cert_der().len()
                    );
                    match key.sign_digest(&[0u8; 32], Padding::Pss { salt_len: 32 }) {
                        Ok(sig) => println!("signed: {} bytes", sig.len()),
                        Err(e) => println!("sign failed: {e}"),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("find failed: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => usage(),
    }
}

#[cfg(not(windows))]
fn main() -> std::process::ExitCode {
    eprintln!("win-test-store: Windows only");
    std::process::ExitCode::from(2)
}

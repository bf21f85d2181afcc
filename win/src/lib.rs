//! The Windows API calls graphd needs, behind a safe interface: graphd's own crate forbids
//! unsafe code, so every foreign call lives here, in one small crate whose every `unsafe` block
//! says why it is sound.
//!
//! - [`acl`]: who besides its owner may read or change a file or directory, from its DACL (what
//!   `chmod 600` and `0700` say on Unix), and making a directory private to its owner.
//! - [`certstore`]: a certificate in a Windows certificate store (`CurrentUser\My`,
//!   `LocalMachine\My`) found by its SHA-1 thumbprint, and its private key signing through CNG
//!   (`NCryptSignHash`), so a key that cannot be exported (a TPM, a smart card, a
//!   non-exportable software key) signs where it is.
//!
//! What can be decided without calling Windows (parsing a store name, deciding which ACEs
//! expose a file) is plain Rust compiled and unit-tested on every platform; the calls
//! themselves exist only on Windows (`cfg(windows)`), so this crate builds empty elsewhere.

pub mod acl;
pub mod certstore;

#[cfg(windows)]
mod ffi;

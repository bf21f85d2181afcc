//! Black-box tests of the real `graphd` binary against the in-process emulator over TLS.
//!
//! One integration binary; each module is a feature:
//! - `util`: the hermetic command builder and emulator helpers
//! - `users`: listing with each credential, paging, select, max-items, output formats
//! - `refusals`: every error path with its exit code and hint, and local refusals that send nothing
//! - `redaction`: no secret, assertion or token in any output, at any verbosity
//! - `params`: the quickstart's parameters.json (`--config`), both variants
//! - `settings`: profiles, precedence, clouds, `config show`
//! - `commands`: `user`, `get`, `token`, `consent-url`, advanced `users` queries
//! - `docs`: every `sh run` example of README.md and docs/*.md, run against the emulator
//! - `formats`: table snapshots, CSV/TSV, colour, completions, man page, `--help`
//! - `hostile`: SECURITY.md's promises against a hostile server and a hostile local user
//! - `help`: snapshots of every command's `--help` and of the main usage errors
//! - `faults`: every emulator fault (throttling, outages, resets, stalls, hostile links, revoked
//!   tokens) with exit code, output, request count and time bound, each checked for leaks
//! - `managed_identity`: every managed-identity source and selector, a managed identity as the
//!   app's federated credential, Arc's challenge-file rules, retries and their bounds
//! - `pkcs11`: keys on a SoftHSM2 token (PKCS#11): signing, `cert new|show|add|rotate` on the
//!   token, the token cache, every token failure, PIN sources, the PIN never shown
//! - `network`: HTTPS_PROXY / NO_PROXY through a CONNECT proxy, retried and unretried transport
//!   failures, the documented defaults, no core dumps

mod cli;

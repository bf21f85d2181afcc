//! One module per subcommand: each turns a validated `Config` and its own arguments into
//! calls on `credential`, `token`, `graph` and `output`. Nothing here parses flags.

pub mod cache;
pub mod cert;
pub mod keys;
pub mod secret;
pub mod users;

//! One module per subcommand: each turns a validated `Config` and its own arguments into
//! calls on `credential`, `token`, `graph` and `output`. Nothing here parses flags.

pub mod cache;
pub mod cert;
pub mod completions;
pub mod consent;
pub mod get;
pub mod keys;
pub mod secret;
pub mod session;
pub mod show_config;
pub mod token;
pub mod user;
pub mod users;

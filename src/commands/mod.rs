//! One module per subcommand (`cert` is a folder: one file per `cert` subcommand behind its
//! dispatcher). Each turns a validated `Config` (or, for the commands that need none, the
//! layers or its own arguments) into calls on `credential`, `token`, `graph` and `output`.
//! Nothing here parses flags; `session` is what every Graph-calling command does first, and
//! `listing` streams every collection the same way.

pub mod cache;
pub mod cert;
pub mod completions;
pub mod consent;
pub mod get;
pub mod listing;
pub mod secret;
pub mod session;
pub mod show_config;
pub mod token;
pub mod user;
pub mod users;

mod cache;
mod keyring;
mod redaction;
mod refusals;
mod users;
pub mod util;

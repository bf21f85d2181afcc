mod cache;
mod certs;
mod keyring;
mod redaction;
mod refusals;
mod users;
pub mod util;

mod cache;
mod certs;
mod ci;
mod keyring;
mod redaction;
mod refusals;
mod users;
pub mod util;

mod cache;
mod faults;
mod keyring;
mod network;
mod redaction;
mod refusals;
mod users;
pub mod util;

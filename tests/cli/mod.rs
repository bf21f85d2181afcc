mod redaction;
mod refusals;
mod users;
pub mod util;

//! `graphd cache clear`: removes every cached token.

use crate::error::Error;
use crate::output;
use crate::token::cache::TokenCache;

pub fn clear() -> Result<(), Error> {
    let dir = TokenCache::default_dir()?;
    let removed = TokenCache::open(dir.clone())?.clear()?;
    output::message(&format!(
        "removed {removed} cached token(s) from {}",
        dir.display()
    ))?;
    Ok(())
}

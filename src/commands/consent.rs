//! `graphd consent-url`: the admin-consent URL for this tenant and client id (PROTOCOL.md §3),
//! the classic form by default, the v2.0 form with `--v2`. Sends nothing.

use crate::cli::ConsentUrlArgs;
use crate::config::Config;
use crate::error::Error;
use crate::output;

pub fn run(config: &Config, args: &ConsentUrlArgs) -> Result<(), Error> {
    config.require_app()?;
    let url = if args.v2 {
        config.admin_consent_url_v2()
    } else {
        config.admin_consent_url()
    };
    output::message(&url)?;
    Ok(())
}

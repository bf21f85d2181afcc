//! `graphd consent-url`: the admin-consent URL for this tenant and client id (PROTOCOL.md §3),
//! the classic form by default, the v2.0 form with `--v2`. Sends nothing.

use crate::cli::ConsentUrlArgs;
use crate::config::{Config, origin};
use crate::error::Error;
use crate::output;

pub fn run(config: &Config, args: &ConsentUrlArgs) -> Result<(), Error> {
    let url = if args.v2 {
        let mut url = config.authority_host.clone();
        url.set_path(&format!("{}/v2.0/adminconsent", config.tenant));
        url.query_pairs_mut()
            .append_pair("client_id", &config.client_id)
            .append_pair(
                "scope",
                &format!("{}/.default", origin(&config.graph_endpoint)),
            );
        url.to_string()
    } else {
        config.admin_consent_url()
    };
    output::message(&url)?;
    Ok(())
}

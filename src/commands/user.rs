//! `graphd user ID|UPN`: one user, the key sent as one percent-encoded path segment.

use super::session::Session;
use crate::cli::UserArgs;
use crate::config::Config;
use crate::error::Error;
use crate::output;
use crate::request;

pub fn run(config: &Config, args: &UserArgs) -> Result<(), Error> {
    let url = request::user_url(&config.graph_endpoint, &args.id, &args.select);
    let session = Session::open(config)?;
    let user = session.graph(config).get_object(&url, &[])?;
    output::object(&user, config.output, &args.select)?;
    Ok(())
}

//! `graphd user ID|UPN`: one user, the key sent as one percent-encoded path segment.

use super::session;
use crate::cli::UserArgs;
use crate::config::Config;
use crate::error::Error;
use crate::graph::Graph;
use crate::output;
use crate::request;

pub fn run(config: &Config, args: &UserArgs) -> Result<(), Error> {
    let url = request::user_url(&config.graph_endpoint, &args.id, &args.select);
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let user = Graph::new(&http, &tokens, config).get_object(&url, &[])?;
    output::object(&user, config.output, &args.select)?;
    Ok(())
}

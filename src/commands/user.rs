//! `graphd user ID|UPN`: one user, the key sent as one percent-encoded path segment.

use super::session;
use crate::cli::UserArgs;
use crate::config::Config;
use crate::error::Error;
use crate::graph::{Graph, query};
use crate::output;

pub fn run(config: &Config, args: &UserArgs) -> Result<(), Error> {
    let url = query::user_url(&config.graph_endpoint, &args.id, &args.select);
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let target = config.graph_target();
    let user = Graph::new(&http, &tokens, &target).get_object(&url, &[])?;
    output::object(&user, config.output, &args.select)?;
    Ok(())
}

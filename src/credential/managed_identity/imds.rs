//! IMDS, the Instance Metadata Service of VMs, scale sets and AKS pod-managed identity:
//! `GET {host}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=R` with at most
//! one of `client_id`, `object_id`, `msi_res_id`, and the header `Metadata: true` (IMDS refuses
//! requests without it, and any that carry `X-Forwarded-For`, so no proxy is ever used). The
//! host is 169.254.169.254 unless `AZURE_POD_IDENTITY_AUTHORITY_HOST` names another (PROTOCOL.md §8).
//!
//! IMDS is unreliable by design: `404` and `410` while it is being updated or upgraded (410
//! "for up to 70 seconds"), `429`, `5xx`; all are retried, and 410 past `--max-retries` for up
//! to [`UPGRADE_WINDOW`] (a 404 is also what other clouds' metadata services answer, so it gets
//! the ordinary backoff only). `400` "Identity not found" is final.

use std::time::Duration;

use reqwest::blocking::RequestBuilder;
use url::Url;

use super::Selector;
use crate::http::Http;

pub const API_VERSION: &str = "2018-02-01";

/// How long IMDS's 410 is retried in all (the docs: it is back "within 70 seconds").
pub const UPGRADE_WINDOW: Duration = Duration::from_secs(70);

/// The request for `resource`, naming `selector`'s identity if any.
pub fn request(
    http: &Http,
    url: &Url,
    resource: &str,
    selector: Option<&Selector>,
) -> RequestBuilder {
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    if let Some(s) = selector {
        query.push((param(s), s.value()));
    }
    http.client()
        .get(url.clone())
        .query(&query)
        .header("Metadata", "true")
}

/// The query parameter IMDS names a user-assigned identity by.
pub fn param(s: &Selector) -> &'static str {
    match s {
        Selector::ClientId(_) => "client_id",
        Selector::ObjectId(_) => "object_id",
        Selector::ResourceId(_) => "msi_res_id",
    }
}

/// IMDS's final "no such identity": `400` with "Identity not found".
pub fn is_identity_not_found(status: u16, summary: Option<&str>) -> bool {
    status == 400 && summary.is_some_and(|s| s.to_ascii_lowercase().contains("identity not found"))
}

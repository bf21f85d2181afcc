//! Azure Cloud Shell: `POST {MSI_ENDPOINT}` with the form `resource=R` and `Metadata: true`.
//! Its token is the **signed-in user's**, delegated (`scp`, not `roles`): Graph then acts as
//! that user, with the user's permissions, which graphd says at `-v`. There is one identity,
//! so no selector (PROTOCOL.md §8).

use reqwest::blocking::RequestBuilder;
use url::Url;

use crate::http::Http;

pub fn request(http: &Http, url: &Url, resource: &str) -> RequestBuilder {
    http.client()
        .post(url.clone())
        .header("Metadata", "true")
        .form(&[("resource", resource)])
}

pub fn is_identity_not_found(status: u16, summary: Option<&str>) -> bool {
    super::imds::is_identity_not_found(status, summary)
}

//! App Service and Azure Functions: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R`
//! with `X-IDENTITY-HEADER: {IDENTITY_HEADER}` and at most one of `client_id`, `principal_id`
//! (the App Service docs' name for the object id; MSAL sends `object_id`, which App Service
//! also takes) and `mi_res_id` (PROTOCOL.md §8). The answer's `expires_on` is Unix seconds as a
//! string. `400` "Unable to load the proper Managed Identity." means no such identity.

use reqwest::blocking::RequestBuilder;
use reqwest::header::HeaderValue;
use url::Url;

use super::Selector;
use crate::http::Http;
use crate::secret::IdentityHeader;

pub const API_VERSION: &str = "2019-08-01";

pub fn request(
    http: &Http,
    url: &Url,
    header: &IdentityHeader,
    resource: &str,
    selector: Option<&Selector>,
) -> RequestBuilder {
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    if let Some(s) = selector {
        query.push((param(s), s.value()));
    }
    let mut r = http.client().get(url.clone()).query(&query);
    if let Ok(mut v) = HeaderValue::from_str(header.expose()) {
        v.set_sensitive(true);
        r = r.header("X-IDENTITY-HEADER", v);
    }
    r
}

/// The query parameter App Service names a user-assigned identity by.
pub fn param(s: &Selector) -> &'static str {
    match s {
        Selector::ClientId(_) => "client_id",
        Selector::ObjectId(_) => "principal_id",
        Selector::ResourceId(_) => "mi_res_id",
    }
}

pub fn is_identity_not_found(status: u16, summary: Option<&str>) -> bool {
    status == 400
        && summary.is_some_and(|s| {
            s.to_ascii_lowercase()
                .contains("unable to load the proper managed identity")
        })
}

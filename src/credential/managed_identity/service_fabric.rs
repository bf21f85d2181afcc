//! Service Fabric: `GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview&resource=R` with the
//! header `secret: {IDENTITY_HEADER}`, over https to an endpoint whose certificate is
//! self-signed: graphd trusts exactly the certificate whose SHA-1 is
//! `IDENTITY_SERVER_THUMBPRINT` (`http::IdentityTls::PinnedSha1`). The application's identity
//! is chosen at deployment, so no selector is ever sent (PROTOCOL.md §8). `expires_on` is Unix
//! seconds, a number in the docs and a string in practice; both are read. `404`
//! `ManagedIdentityNotFound` is final (it is also the answer to a wrong `secret`).

use reqwest::blocking::RequestBuilder;
use reqwest::header::HeaderValue;
use url::Url;

use crate::http::Http;
use crate::secret::IdentityHeader;

pub const API_VERSION: &str = "2019-07-01-preview";

pub fn request(http: &Http, url: &Url, header: &IdentityHeader, resource: &str) -> RequestBuilder {
    let mut r = http
        .client()
        .get(url.clone())
        .query(&[("api-version", API_VERSION), ("resource", resource)]);
    if let Ok(mut v) = HeaderValue::from_str(header.expose()) {
        v.set_sensitive(true);
        r = r.header("secret", v);
    }
    r
}

pub fn is_identity_not_found(status: u16, code: Option<&str>) -> bool {
    status == 404 && code == Some("ManagedIdentityNotFound")
}

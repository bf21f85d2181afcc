//! Graph's application API for an app rolling its own certificates (PROTOCOL.md §7): find the
//! application object id, list `keyCredentials`, `addKey` and `removeKey`.
//!
//! The proofs of possession are signed by `credential::proof` and handed in; this module only
//! sends them. Request bodies holding a proof are serialised from typed structs straight into
//! a zeroizing buffer sized for them, so no copy of the proof outlives the request.

use std::io::Write;

use serde::{Deserialize, Serialize};
use tracing::info;
use url::Url;
use zeroize::Zeroizing;

use super::{Graph, GraphError};
use crate::secret::Assertion;

/// One `keyCredentials` entry as Graph returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    pub key_id: String,
    #[serde(default)]
    pub custom_key_identifier: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

impl KeyCredential {
    /// Whether this entry is the certificate with SHA-1 thumbprint `thumbprint_hex`.
    pub fn is(&self, thumbprint_hex: &str) -> bool {
        self.custom_key_identifier
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(thumbprint_hex))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddKey<'a> {
    key_credential: NewKey<'a>,
    password_credential: Option<()>,
    proof: &'a str,
}

#[derive(Serialize)]
struct NewKey<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    usage: &'static str,
    key: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RemoveKey<'a> {
    key_id: &'a str,
    proof: &'a str,
}

/// Serialises a body holding a proof into a buffer reserved up front (`extra` bytes beyond
/// the proof), so it is never regrown and dropped unwiped.
fn secret_body<T: Serialize>(body: &T, proof: &Assertion, extra: usize) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(proof.expose().len() + extra + 256));
    // Writing into a Vec cannot fail; a serialisation failure would leave an empty body,
    // which Graph refuses.
    let _ = serde_json::to_writer(&mut *buf as &mut dyn Write, body);
    buf
}

impl Graph<'_> {
    fn application_url(&self, oid: &str, action: Option<&str>) -> Url {
        let mut path = format!("v1.0/applications/{oid}");
        if let Some(a) = action {
            path.push('/');
            path.push_str(a);
        }
        self.target().url(&path)
    }

    /// The application object id of the app with `client_id`, as Graph reports it.
    pub fn application_object_id(&self, client_id: &str) -> Result<String, GraphError> {
        let mut url = self
            .target()
            .url(&format!("v1.0/applications(appId='{client_id}')"));
        url.query_pairs_mut().append_pair("$select", "id");
        let app = self
            .call_json(reqwest::Method::GET, &url, None)
            .map_err(|source| GraphError::ObjectIdNeeded {
                client_id: client_id.to_string(),
                source: Box::new(source),
            })?;
        let oid = app
            .and_then(|a| a["id"].as_str().map(str::to_owned))
            .ok_or(GraphError::NoObjectId)?;
        info!(target: "graphd", "application object id {oid}");
        Ok(oid)
    }

    /// The app's registered certificates.
    pub fn key_credentials(&self, oid: &str) -> Result<Vec<KeyCredential>, GraphError> {
        let mut url = self.application_url(oid, None);
        url.query_pairs_mut()
            .append_pair("$select", "id,appId,keyCredentials");
        let app = self
            .call_json(reqwest::Method::GET, &url, None)?
            .unwrap_or_default();
        Ok(serde_json::from_value(app["keyCredentials"].clone()).unwrap_or_default())
    }

    /// Registers the certificate `der` (public part only), proven by `proof`.
    pub fn add_key(
        &self,
        oid: &str,
        der: &[u8],
        proof: &Assertion,
    ) -> Result<KeyCredential, GraphError> {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode(der);
        let body = secret_body(
            &AddKey {
                key_credential: NewKey {
                    kind: "AsymmetricX509Cert",
                    usage: "Verify",
                    key: &key,
                },
                password_credential: None,
                proof: proof.expose(),
            },
            proof,
            key.len(),
        );
        let added = self.call_json(
            reqwest::Method::POST,
            &self.application_url(oid, Some("addKey")),
            Some(&body),
        )?;
        serde_json::from_value(added.unwrap_or_default()).map_err(|_| GraphError::BadPage {
            reason: "addKey's answer has no keyId".into(),
            ids: Default::default(),
        })
    }

    /// Removes the certificate `key_id`, proven by `proof`.
    pub fn remove_key(&self, oid: &str, key_id: &str, proof: &Assertion) -> Result<(), GraphError> {
        let body = secret_body(
            &RemoveKey {
                key_id,
                proof: proof.expose(),
            },
            proof,
            key_id.len(),
        );
        self.call_json(
            reqwest::Method::POST,
            &self.application_url(oid, Some("removeKey")),
            Some(&body),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_graphs_shape() {
        let proof = Assertion::new("eyJ.proof.sig".into());
        let body = secret_body(
            &AddKey {
                key_credential: NewKey {
                    kind: "AsymmetricX509Cert",
                    usage: "Verify",
                    key: "QUJD",
                },
                password_credential: None,
                proof: proof.expose(),
            },
            &proof,
            4,
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"keyCredential":{"type":"AsymmetricX509Cert","usage":"Verify","key":"QUJD"},
                "passwordCredential":null,"proof":"eyJ.proof.sig"})
        );
        assert_eq!(
            body.capacity(),
            proof.expose().len() + 4 + 256,
            "never regrown past its reservation"
        );
        // A real certificate (kilobytes of base64) fits the reservation its caller makes.
        let key = "Q".repeat(4000);
        let body = secret_body(
            &AddKey {
                key_credential: NewKey {
                    kind: "AsymmetricX509Cert",
                    usage: "Verify",
                    key: &key,
                },
                password_credential: None,
                proof: proof.expose(),
            },
            &proof,
            key.len(),
        );
        assert!(body.len() > key.len());
        assert_eq!(
            body.capacity(),
            proof.expose().len() + key.len() + 256,
            "never regrown past its reservation"
        );
        let body = secret_body(
            &RemoveKey {
                key_id: "k",
                proof: proof.expose(),
            },
            &proof,
            1,
        );
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"keyId":"k","proof":"eyJ.proof.sig"}"#
        );
    }
}

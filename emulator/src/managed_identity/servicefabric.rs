//! Service Fabric's managed identity token service: https on loopback with a **self-signed**
//! server certificate that the emulator's test CA did not issue, so a client can only connect
//! by trusting exactly that certificate (`IDENTITY_SERVER_THUMBPRINT`).
//!
//! The thumbprint: uppercase hex of the SHA-1 digest of the certificate's DER
//! (`Info::service_fabric_server_thumbprint`). That is what Microsoft's clients compare it
//! with: MSAL .NET's `ServiceFabricManagedIdentitySource` and the Service Fabric docs' sample
//! accept the server certificate when `certificate.GetCertHashString()` (the SHA-1 hash as
//! uppercase hex) equals `IDENTITY_SERVER_THUMBPRINT`, compared case-insensitively
//! (`StringComparison.OrdinalIgnoreCase`), and only when the normal chain validation failed.
//! (azure-identity for Python historically skipped verification for this endpoint altogether.)
//!
//! Request: `GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview&resource=R` (2020-05-01,
//! what newer MSAL .NET sends, is accepted too) with the header `secret: {IDENTITY_HEADER}`.
//! The identity is chosen at deployment (`Emulator::set_service_fabric_identity`, default the
//! system-assigned one); a selector parameter → `400`.
//!
//! Success: `200` `{"token_type":"Bearer","access_token","expires_on":<epoch seconds>,
//! "resource"}`. The docs' sample has `expires_on` as a JSON number; MSAL Python notes that
//! "Azure SDK team's test obtained a string", so `Emulator::set_service_fabric_string_expires_on`
//! switches to that form.
//!
//! Refusals (`{"error":{"correlationId","code","message"}}`, the docs' codes): no `secret`
//! header → `401 SecretHeaderNotFound`; a wrong one → `404 ManagedIdentityNotFound` ("Unknown
//! authentication code"); an unsupported or missing `api-version` → `400 InvalidApiVersion`;
//! `resource` missing → `400 ArgumentNullOrEmpty`; a repeated parameter or a selector → `400
//! InvalidParameter`; an unknown resource → `500 InternalServerError`.
//!
//! Sources: <https://learn.microsoft.com/azure/service-fabric/how-to-managed-identity-service-fabric-app-code>
//! ("Acquiring an access token using REST API", "Error handling"); MSAL .NET
//! `src/client/Microsoft.Identity.Client/ManagedIdentity/ServiceFabricManagedIdentitySource.cs`;
//! MSAL Python `_obtain_token_on_service_fabric`.

use super::{
    ALL_SELECTORS, MiRequest, MiSource, Outcome, TOKEN_PATH, json_response, lock,
    mint_for_identity, param, refuse, target,
};
use crate::state::Shared;
use axum::http::{Method, StatusCode};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Builder, X509NameBuilder};
use serde_json::json;
use std::sync::atomic::Ordering;

const SOURCE: MiSource = MiSource::ServiceFabric;

const API_VERSIONS: [&str; 2] = ["2019-07-01-preview", "2020-05-01"];

/// The Service Fabric endpoint's own server certificate.
pub(crate) struct ServerCert {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    pub cert_pem: Vec<u8>,
    /// Uppercase hex SHA-1 of the DER: `IDENTITY_SERVER_THUMBPRINT`.
    pub thumbprint: String,
}

impl ServerCert {
    /// A self-signed P-256 certificate for 127.0.0.1, ::1 and localhost (serverAuth), valid
    /// from an hour ago for 30 days.
    pub(crate) fn generate() -> Result<ServerCert, crate::Error> {
        Self::inner().map_err(|e| {
            crate::Error::Crypto("generating the Service Fabric server certificate", e)
        })
    }

    fn inner() -> Result<ServerCert, openssl::error::ErrorStack> {
        let now = crate::util::now_unix();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, "graphd-emulator Service Fabric identity")?;
        let name = name.build();
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let (not_before, not_after) = (
            Asn1Time::from_unix(now - 3600)?,
            Asn1Time::from_unix(now + 30 * 86_400)?,
        );
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_agreement()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .ip("::1")
            .dns("localhost")
            .build(&b.x509v3_context(None, None))?;
        b.append_extension(san)?;
        b.sign(&key, MessageDigest::sha256())?;
        let cert = b.build();
        Ok(ServerCert {
            cert_der: cert.to_der()?,
            key_der: key.private_key_to_pkcs8()?,
            cert_pem: cert.to_pem()?,
            thumbprint: crate::tls::hex_upper(&cert.digest(MessageDigest::sha1())?),
        })
    }
}

pub(super) fn handle(s: &Shared, req: &MiRequest) -> Outcome {
    let refused =
        |status, code, message: String| Outcome::refused(SOURCE, refuse(status, code, message));
    if req.uri.path() != TOKEN_PATH {
        return refused(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Not found: {}", req.uri.path()),
        );
    }
    if req.method != Method::GET {
        return refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The method {} is not allowed.", req.method),
        );
    }
    match req.header("secret") {
        None => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "SecretHeaderNotFound",
                "Secret is not found in the request headers.".into(),
            );
        }
        Some(sent) if !super::appservice::same_secret(sent, &s.mi.service_fabric_header) => {
            return refused(
                StatusCode::NOT_FOUND,
                "ManagedIdentityNotFound",
                "Managed identity not found for the specified application host.".into(),
            );
        }
        Some(_) => {}
    }
    let query = match req.query() {
        Ok(q) => q,
        Err(name) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                format!("The parameter '{name}' was specified more than once."),
            );
        }
    };
    let version = param(&query, "api-version").unwrap_or("");
    if !API_VERSIONS.contains(&version) {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!(
                "The api-version '{version}' is not supported. Supported version is '2019-07-01-preview'."
            ),
        );
    }
    let Some(resource) = param(&query, "resource").filter(|r| !r.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "ArgumentNullOrEmpty",
            "The parameter 'resource' should not be null or empty string.".into(),
        );
    };
    if let Some(sel) = ALL_SELECTORS.iter().find(|n| param(&query, n).is_some()) {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!(
                "The identity of a Service Fabric application is chosen at deployment; '{sel}' is not accepted."
            ),
        );
    }
    let Some(t) = target(s, resource) else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An error occurred.".into(),
        );
    };
    let which = *lock(&s.mi.service_fabric_identity);
    match mint_for_identity(s, s.mi.identity(which), t) {
        Ok(m) => {
            let expires_on = if s.mi.service_fabric_string_expires_on.load(Ordering::SeqCst) {
                json!(m.expires_on.to_string())
            } else {
                json!(m.expires_on)
            };
            let body = json!({
                "token_type": "Bearer",
                "access_token": m.access_token,
                "expires_on": expires_on,
                "resource": resource,
            });
            Outcome::issued(json_response(StatusCode::OK, &body), &m)
        }
        Err(_) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An error occurred.".into(),
        ),
    }
}

//! Trusting exactly one server certificate, named by its SHA-1 thumbprint: what Service
//! Fabric's managed-identity endpoint needs (PROTOCOL.md §8). Its certificate is self-signed by
//! the cluster, so no CA vouches for it; the platform tells the process which one it is through
//! `IDENTITY_SERVER_THUMBPRINT` (uppercase hex SHA-1 of the DER, as Windows shows thumbprints;
//! MSAL .NET compares `GetCertHashString()` with it, case-insensitively).
//!
//! What this verifier checks: the end-entity certificate's SHA-1 equals the pinned one, and the
//! TLS handshake signature verifies with that certificate's key (so the server holds the key).
//! What it gives up, on purpose, because a pin replaces them: a chain to a trusted root, the
//! host name (the endpoint is reached by IP), the validity period (a cluster may keep serving a
//! certificate past its `notAfter`; the pin still names it), key-usage checks, and revocation.
//! SHA-1 is weak against *collisions*, but impersonating a pinned certificate needs a *second
//! preimage* of its hash, which remains out of reach.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// Accepts exactly the certificate whose SHA-1 is `sha1`.
#[derive(Debug)]
struct PinnedSha1 {
    sha1: [u8; 20],
    provider: Arc<CryptoProvider>,
}

impl PinnedSha1 {
    fn matches(&self, der: &[u8]) -> bool {
        // Thumbprints are public; a constant-time compare costs nothing, so use it anyway.
        openssl::memcmp::eq(&openssl::sha::sha1(der), &self.sha1)
    }
}

impl ServerCertVerifier for PinnedSha1 {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.matches(end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration that trusts only the certificate with SHA-1 `sha1`, on
/// aws-lc-rs (the provider reqwest uses), TLS 1.2 and 1.3.
pub(super) fn client_config(sha1: [u8; 20]) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedSha1 {
        sha1,
        provider: provider.clone(),
    });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_certificate_passes() {
        let der = b"not really a certificate, only its bytes are hashed";
        let v = PinnedSha1 {
            sha1: openssl::sha::sha1(der),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let check = |d: &[u8]| {
            v.verify_server_cert(
                &CertificateDer::from(d.to_vec()),
                &[],
                &name,
                &[],
                UnixTime::now(),
            )
        };
        assert!(check(der).is_ok());
        assert!(check(b"another certificate").is_err());
        assert!(!v.supported_verify_schemes().is_empty());
        assert!(client_config([0; 20]).is_ok());
    }
}

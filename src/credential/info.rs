//! What graphd shows of a certificate (`cert show`, `cert new`): subject, issuer, validity,
//! key, the thumbprints the portal and Entra use, and the app manifest's `keyCredentials`
//! entry. Built from a parsed certificate at a given `now`; printing is `output`'s.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::Id;
use openssl::x509::{X509NameRef, X509Ref};
use serde::Serialize;

use super::checks::unix_of;
use super::thumbprint::Thumbprints;
use crate::time;

/// A certificate as `cert show` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub serial_number: String,
    pub not_before: String,
    pub not_after: String,
    pub seconds_left: i64,
    pub key_type: String,
    pub key_size: u32,
    /// SHA-1, uppercase hex: the portal's "Thumbprint".
    pub thumbprint: String,
    pub sha256_thumbprint: String,
    pub x5t: String,
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
    pub chain_length: usize,
    #[serde(skip)]
    der: Vec<u8>,
}

impl CertInfo {
    /// The description of `cert` (the leaf of a chain of `chain_length`) at `now`.
    pub fn of(
        cert: &X509Ref,
        chain_length: usize,
        now: SystemTime,
    ) -> Result<CertInfo, openssl::error::ErrorStack> {
        let t = Thumbprints::of(cert)?;
        let key = cert.public_key()?;
        let key_type = match key.id() {
            Id::RSA => "RSA".to_string(),
            Id::EC => "EC".to_string(),
            Id::ED25519 => "Ed25519".to_string(),
            other => format!("type {}", other.as_raw()),
        };
        let not_after = unix_of(cert.not_after())?;
        Ok(CertInfo {
            subject: name_line(cert.subject_name()),
            issuer: name_line(cert.issuer_name()),
            serial_number: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            not_before: time::rfc3339(unix_of(cert.not_before())?),
            not_after: time::rfc3339(not_after),
            seconds_left: not_after.saturating_sub(time::unix(now)),
            key_type,
            key_size: key.bits(),
            thumbprint: t.hex(),
            sha256_thumbprint: super::thumbprint::hex_upper(
                t.sha256.as_deref().unwrap_or_default(),
            ),
            x5t: t.x5t(),
            x5t_s256: t.x5t_s256().unwrap_or_default(),
            chain_length,
            der: cert.to_der()?,
        })
    }

    /// The text `cert show` prints for people.
    pub fn human(&self) -> String {
        let left = if self.seconds_left > 0 {
            format!("{} left", time::human_duration(self.seconds_left))
        } else {
            "EXPIRED".into()
        };
        let mut s = format!(
            "Subject:             {}\nIssuer:              {}\nSerial:              {}\n\
             Valid from:          {}\nValid until:         {} ({left})\nKey:                 {} {} bits\n\
             Thumbprint (SHA-1):  {}\nSHA-256 thumbprint:  {}\nx5t:                 {}\nx5t#S256:            {}",
            self.subject,
            self.issuer,
            self.serial_number,
            self.not_before,
            self.not_after,
            self.key_type,
            self.key_size,
            self.thumbprint,
            self.sha256_thumbprint,
            self.x5t,
            self.x5t_s256
        );
        if self.chain_length > 1 {
            s.push_str(&format!(
                "\nChain:               {} certificates (leaf shown)",
                self.chain_length
            ));
        }
        s
    }

    /// The app manifest's `keyCredentials` entry (PROTOCOL.md §2).
    pub fn manifest(&self) -> serde_json::Value {
        serde_json::json!({
            "customKeyIdentifier": self.thumbprint,
            "displayName": self.subject,
            "endDateTime": self.not_after,
            "key": STANDARD.encode(&self.der),
            "keyId": uuid::Uuid::new_v4().to_string(),
            "startDateTime": self.not_before,
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        })
    }
}

/// `CN=a,O=b`: a name's entries by their short names.
pub fn name_line(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A key on a PKCS#11 token as `cert show pkcs11:...` prints it: where it is, whether it can
/// leave the token, and its certificate on the token, if any.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenKeyInfo {
    pub token: String,
    pub token_serial: String,
    pub object: String,
    /// Percent-encoded, as in a URI: `%01%02`.
    pub id: String,
    pub key_type: &'static str,
    pub key_size: u32,
    pub extractable: Option<bool>,
    pub sensitive: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub never_extractable: Option<bool>,
    /// `sign`, or `sign, decrypt` when the key may also decrypt.
    pub usage: &'static str,
    pub certificate: Option<CertInfo>,
}

impl TokenKeyInfo {
    /// The description of `key` (and of `cert`, its certificate on the token) at `now`.
    pub fn of(
        key: &super::pkcs11::TokenKey,
        cert: Option<&X509Ref>,
        now: SystemTime,
    ) -> Result<TokenKeyInfo, openssl::error::ErrorStack> {
        let f = &key.facts;
        Ok(TokenKeyInfo {
            token: key.token().label.clone(),
            token_serial: key.token().serial.clone(),
            object: key.object.label.clone(),
            id: super::pkcs11::uri::encode_id(&key.object.id),
            key_type: "RSA",
            key_size: f.bits,
            extractable: f.extractable,
            sensitive: f.sensitive,
            always_sensitive: f.always_sensitive,
            never_extractable: f.never_extractable,
            usage: if f.decrypt == Some(true) {
                "sign, decrypt"
            } else {
                "sign"
            },
            certificate: cert.map(|c| CertInfo::of(c, 1, now)).transpose()?,
        })
    }

    /// The text `cert show pkcs11:...` prints for people.
    pub fn human(&self) -> String {
        let yn = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        let mut s = match &self.certificate {
            Some(c) => format!("{}\n", c.human()),
            None => format!(
                "Certificate:         none on the token for this key\nKey:                 {} {} bits\n",
                self.key_type, self.key_size
            ),
        };
        s.push_str(&format!(
            "Private key:         on token '{}' (serial {}), object '{}' (id {})\n\
             Extractable:         {} (sensitive: {}, always sensitive: {}, never extractable: {})\n\
             Usage:               {}",
            self.token,
            self.token_serial,
            self.object,
            if self.id.is_empty() { "none" } else { &self.id },
            yn(self.extractable),
            yn(self.sensitive),
            yn(self.always_sensitive),
            yn(self.never_extractable),
            self.usage,
        ));
        s
    }
}

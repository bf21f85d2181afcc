//! The private key (and its certificate) on a token: found by the URI's label and id, its
//! attributes read and checked (RSA of 2048 bits or more, allowed to sign, not asking for the
//! PIN per signature; a key that could leave the token is warned about), signing through the
//! mechanisms the token offers, and new keys made inside the token (`cert new`).

use std::path::Path;
use std::sync::Arc;

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::types::Ulong;
use openssl::bn::BigNum;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use tracing::{debug, info, warn};

use super::error::{ObjectName, Pkcs11Error, TokenName};
use super::session::TokenSession;
use super::uri::Pkcs11Uri;
use crate::credential::{CredentialError, checks};

/// The DER prefix of a SHA-256 `DigestInfo` (RFC 8017 §9.2 note 1), for `CKM_RSA_PKCS`.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// PS256's PSS parameters (PROTOCOL.md §10): SHA-256, MGF1-SHA-256, a 32-byte salt.
fn pss_params() -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    }
}

/// A signature scheme, by what Entra calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt (PS256; randomized).
    Pss,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256; deterministic).
    Pkcs1,
}

impl Scheme {
    fn alg(self) -> &'static str {
        match self {
            Scheme::Pss => "PS256",
            Scheme::Pkcs1 => "RS256",
        }
    }

    /// The mechanism that hashes on the token, then the one signing a digest made here.
    fn mechanisms(self) -> [(MechanismType, &'static str); 2] {
        match self {
            Scheme::Pss => [
                (
                    MechanismType::SHA256_RSA_PKCS_PSS,
                    "CKM_SHA256_RSA_PKCS_PSS",
                ),
                (MechanismType::RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS"),
            ],
            Scheme::Pkcs1 => [
                (MechanismType::SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS"),
                (MechanismType::RSA_PKCS, "CKM_RSA_PKCS"),
            ],
        }
    }
}

/// What graphd reads of a private key object.
#[derive(Debug, Clone, Default)]
pub struct KeyFacts {
    pub bits: u32,
    pub extractable: Option<bool>,
    pub sensitive: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub never_extractable: Option<bool>,
    /// Whether the key may also decrypt (a sign-only key may not).
    pub decrypt: Option<bool>,
}

impl KeyFacts {
    /// Whether the key could leave the token (or once could have).
    pub fn exportable(&self) -> bool {
        self.extractable != Some(false) || self.sensitive != Some(true)
    }
}

/// A private key on a token, ready to sign.
pub struct TokenKey {
    // Drop order: nothing here outlives the session, which keeps the module loaded.
    session: Arc<TokenSession>,
    handle: ObjectHandle,
    pub object: ObjectName,
    pub public: PKey<Public>,
    pub facts: KeyFacts,
    mechanisms: Vec<MechanismType>,
    /// The URI as given (canonical form), for messages.
    pub uri: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({})", self.describe())
    }
}

/// Label and id of an object (either may be absent).
fn label_and_id(session: &TokenSession, h: ObjectHandle) -> ObjectName {
    let attrs = session
        .lock()
        .get_attributes(h, &[AttributeType::Label, AttributeType::Id])
        .unwrap_or_default();
    let mut o = ObjectName {
        label: String::new(),
        id: Vec::new(),
    };
    for a in attrs {
        match a {
            Attribute::Label(l) => o.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Id(id) => o.id = id,
            _ => {}
        }
    }
    o
}

/// The search template for the objects of `class` the URI names.
fn template(class: ObjectClass, uri: &Pkcs11Uri) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(l) = &uri.object {
        t.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

fn find(session: &TokenSession, template: &[Attribute]) -> Result<Vec<ObjectHandle>, Pkcs11Error> {
    session
        .lock()
        .find_objects(template)
        .map_err(|e| Pkcs11Error::call("search the token's objects", &session.name, e))
}

impl TokenKey {
    /// The one private key `uri` names on the (logged-in) token, read and checked.
    pub fn find(session: Arc<TokenSession>, uri: &Pkcs11Uri) -> Result<TokenKey, CredentialError> {
        let shown = uri.to_string();
        let mut handles = find(&session, &template(ObjectClass::PRIVATE_KEY, uri))?;
        match handles.len() {
            1 => {}
            0 => {
                let all = find(&session, &[Attribute::Class(ObjectClass::PRIVATE_KEY)])?;
                return Err(Pkcs11Error::NoKey {
                    uri: shown,
                    token: session.name.clone(),
                    seen: all.into_iter().map(|h| label_and_id(&session, h)).collect(),
                }
                .into());
            }
            _ => {
                return Err(Pkcs11Error::TwoKeys {
                    uri: shown,
                    token: session.name.clone(),
                    seen: handles
                        .into_iter()
                        .map(|h| label_and_id(&session, h))
                        .collect(),
                }
                .into());
            }
        }
        Self::from_handle(session, handles.remove(0), shown)
    }

    /// Reads and checks the private key object `handle`.
    fn from_handle(
        session: Arc<TokenSession>,
        handle: ObjectHandle,
        uri: String,
    ) -> Result<TokenKey, CredentialError> {
        let token = session.name.clone();
        let attrs = session
            .lock()
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::Label,
                    AttributeType::Id,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                    AttributeType::Extractable,
                    AttributeType::Sensitive,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                    AttributeType::Sign,
                    AttributeType::Decrypt,
                    AttributeType::AlwaysAuthenticate,
                ],
            )
            .map_err(|e| Pkcs11Error::call("read the private key's attributes", &token, e))?;
        let mut object = ObjectName {
            label: String::new(),
            id: Vec::new(),
        };
        let (mut key_type, mut modulus, mut exponent) = (None, None, None);
        let (mut sign, mut always_auth) = (None, None);
        let mut facts = KeyFacts::default();
        for a in attrs {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Label(l) => object.label = String::from_utf8_lossy(&l).into_owned(),
                Attribute::Id(id) => object.id = id,
                Attribute::Modulus(n) => modulus = Some(n),
                Attribute::PublicExponent(e) => exponent = Some(e),
                Attribute::Extractable(b) => facts.extractable = Some(b),
                Attribute::Sensitive(b) => facts.sensitive = Some(b),
                Attribute::AlwaysSensitive(b) => facts.always_sensitive = Some(b),
                Attribute::NeverExtractable(b) => facts.never_extractable = Some(b),
                Attribute::Sign(b) => sign = Some(b),
                Attribute::Decrypt(b) => facts.decrypt = Some(b),
                Attribute::AlwaysAuthenticate(b) => always_auth = Some(b),
                _ => {}
            }
        }
        let path = Path::new(&uri);
        match key_type {
            Some(KeyType::RSA) | None => {}
            Some(t) => {
                return Err(CredentialError::NotRsa {
                    path: path.to_path_buf(),
                    kind: match t {
                        KeyType::EC => "an EC key".into(),
                        KeyType::EC_EDWARDS => "an EdDSA key".into(),
                        KeyType::DSA => "a DSA key".into(),
                        other => format!("a key of type {other}"),
                    },
                });
            }
        }
        if sign == Some(false) {
            return Err(Pkcs11Error::CannotSign { token, object }.into());
        }
        if always_auth == Some(true) {
            return Err(Pkcs11Error::AlwaysAuthenticate { token, object }.into());
        }
        // The public part: the private key object's, else the public key object's of the same id.
        if (modulus.is_none() || exponent.is_none()) && !object.id.is_empty() {
            let public = find(
                &session,
                &[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::Id(object.id.clone()),
                ],
            )?;
            if let Some(&h) = public.first() {
                for a in session
                    .lock()
                    .get_attributes(h, &[AttributeType::Modulus, AttributeType::PublicExponent])
                    .unwrap_or_default()
                {
                    match a {
                        Attribute::Modulus(n) => modulus = Some(n),
                        Attribute::PublicExponent(e) => exponent = Some(e),
                        _ => {}
                    }
                }
            }
        }
        let (Some(n), Some(e)) = (modulus, exponent) else {
            return Err(Pkcs11Error::NoPublicKey { token, object }.into());
        };
        let public = BigNum::from_slice(&n)
            .and_then(|n| Ok((n, BigNum::from_slice(&e)?)))
            .and_then(|(n, e)| Rsa::from_public_components(n, e))
            .and_then(PKey::from_rsa)
            .map_err(CredentialError::Crypto)?;
        checks::rsa(&public, path)?;
        facts.bits = public.bits();
        let mechanisms = session.mechanisms()?;
        let key = TokenKey {
            session,
            handle,
            object,
            public,
            facts,
            mechanisms,
            uri,
        };
        if key.facts.exportable() {
            warn!(
                target: "graphd::credential",
                "the private key {} on token {} can leave the token (extractable: {}, sensitive: {}): \
                 a copy may exist; make a non-extractable one with `graphd cert new --key URI`",
                key.object,
                key.session.name,
                yes_no(key.facts.extractable),
                yes_no(key.facts.sensitive)
            );
        }
        info!(target: "graphd::credential", "signing on token {} with private key {}", key.session.name, key.object);
        Ok(key)
    }

    /// The token the key is on.
    pub fn token(&self) -> &TokenName {
        &self.session.name
    }

    /// `private key 'app' (id %01) on token 'graphd' (serial 1234)`.
    pub fn describe(&self) -> String {
        format!("private key {} on token {}", self.object, self.session.name)
    }

    /// Fails (before anything is sent) when the token cannot sign `scheme`.
    pub fn require(&self, scheme: Scheme) -> Result<(), Pkcs11Error> {
        self.mechanism(scheme).map(|_| ())
    }

    fn mechanism(&self, scheme: Scheme) -> Result<(MechanismType, bool), Pkcs11Error> {
        let [(hashing, a), (raw, b)] = scheme.mechanisms();
        if self.mechanisms.contains(&hashing) {
            Ok((hashing, true))
        } else if self.mechanisms.contains(&raw) {
            Ok((raw, false))
        } else {
            Err(Pkcs11Error::NoMechanism {
                token: self.session.name.clone(),
                alg: scheme.alg(),
                mechanisms: vec![a, b],
            })
        }
    }

    /// Signs `data` on the token with `scheme` (SHA-256 on the token, else here).
    pub fn sign(&self, data: &[u8], scheme: Scheme) -> Result<Vec<u8>, Pkcs11Error> {
        let (mechanism, hashes) = self.mechanism(scheme)?;
        let digest = if hashes {
            None
        } else {
            let d = hash(MessageDigest::sha256(), data).map_err(Pkcs11Error::Digest)?;
            Some(match scheme {
                Scheme::Pss => d.to_vec(),
                Scheme::Pkcs1 => [&SHA256_DIGEST_INFO[..], &d[..]].concat(),
            })
        };
        let m = match (scheme, hashes) {
            (Scheme::Pss, true) => Mechanism::Sha256RsaPkcsPss(pss_params()),
            (Scheme::Pss, false) => Mechanism::RsaPkcsPss(pss_params()),
            (Scheme::Pkcs1, true) => Mechanism::Sha256RsaPkcs,
            (Scheme::Pkcs1, false) => Mechanism::RsaPkcs,
        };
        debug!(target: "graphd::credential", "signing {} with {mechanism} on token {}", scheme.alg(), self.session.name);
        self.session
            .lock()
            .sign(&m, self.handle, digest.as_deref().unwrap_or(data))
            .map_err(|e| Pkcs11Error::call("sign", &self.session.name, e))
    }

    /// The key's certificate on the token: same id, else same label; one whose public key is
    /// the key's if several.
    pub fn certificate(&self) -> Result<Option<X509>, Pkcs11Error> {
        let by = |a: Attribute| {
            find(
                &self.session,
                &[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::CertificateType(CertificateType::X_509),
                    a,
                ],
            )
        };
        let mut handles = Vec::new();
        if !self.object.id.is_empty() {
            handles = by(Attribute::Id(self.object.id.clone()))?;
        }
        if handles.is_empty() && !self.object.label.is_empty() {
            handles = by(Attribute::Label(self.object.label.as_bytes().to_vec()))?;
        }
        let mut certs = Vec::new();
        for h in handles {
            certs.push(read_certificate(&self.session, h)?);
        }
        let matching = certs
            .iter()
            .position(|c| c.public_key().is_ok_and(|k| k.public_eq(&self.public)));
        Ok(match matching {
            Some(i) => Some(certs.swap_remove(i)),
            None => certs.into_iter().next(),
        })
    }

    /// Stores `cert` on the token beside the key (same label and id), as a public object.
    pub fn store_certificate(&self, cert: &X509) -> Result<(), Pkcs11Error> {
        let token = &self.session.name;
        let der = |r: Result<Vec<u8>, openssl::error::ErrorStack>| r.map_err(Pkcs11Error::Digest);
        let mut template = vec![
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Subject(der(cert.subject_name().to_der())?),
            Attribute::Issuer(der(cert.issuer_name().to_der())?),
            Attribute::Value(der(cert.to_der())?),
            Attribute::Id(self.object.id.clone()),
        ];
        if !self.object.label.is_empty() {
            template.push(Attribute::Label(self.object.label.as_bytes().to_vec()));
        }
        self.session
            .rw_session()?
            .create_object(&template)
            .map_err(|e| Pkcs11Error::call("store the certificate", token, e))?;
        info!(target: "graphd::credential", "stored the certificate on token {token} as {}", self.object);
        Ok(())
    }

    /// Makes a new RSA key pair of `bits` bits inside the token, named as `uri` says: a token
    /// object, private, sensitive, never extractable, for signing only. Refuses when an object
    /// with that label or id already exists.
    pub fn generate(
        session: Arc<TokenSession>,
        uri: &Pkcs11Uri,
        bits: u32,
    ) -> Result<TokenKey, CredentialError> {
        let token = session.name.clone();
        if !uri.names_object() {
            return Err(Pkcs11Error::NoObjectNamed {
                uri: uri.to_string(),
            }
            .into());
        }
        if let Some(l) = &uri.object
            && !find(&session, &[Attribute::Label(l.as_bytes().to_vec())])?.is_empty()
        {
            return Err(Pkcs11Error::Exists {
                token,
                what: format!("an object labelled '{l}'"),
            }
            .into());
        }
        if let Some(id) = &uri.id
            && !find(&session, &[Attribute::Id(id.clone())])?.is_empty()
        {
            return Err(Pkcs11Error::Exists {
                token,
                what: format!("an object with id {}", super::uri::encode_id(id)),
            }
            .into());
        }
        if !session
            .mechanisms()?
            .contains(&MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        {
            return Err(Pkcs11Error::NoKeyGeneration { token }.into());
        }
        let id = match &uri.id {
            Some(id) => id.clone(),
            None => {
                let mut id = vec![0u8; 8];
                openssl::rand::rand_bytes(&mut id).map_err(CredentialError::Crypto)?;
                id
            }
        };
        let mut named = vec![Attribute::Id(id)];
        if let Some(l) = &uri.object {
            named.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        // CK_ULONG is 64 bits on Linux and 32 on Windows, where this conversion is the identity.
        #[allow(clippy::useless_conversion)]
        let modulus_bits = Ulong::new(bits.into());
        let public = [
            vec![
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::ModulusBits(modulus_bits),
                Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            ],
            named.clone(),
        ]
        .concat();
        let private = [
            vec![
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
            ],
            named,
        ]
        .concat();
        info!(target: "graphd::credential", "generating an RSA-{bits} key pair inside token {token}");
        let rw = session.rw_session()?;
        let (public, private) = rw
            .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
            .map_err(|e| Pkcs11Error::call("generate a key pair", &token, e))?;
        // Sign only: every other use is turned off after generation rather than in the
        // template, because some modules fail a template that turns one off (tpm2-pkcs11 1.9
        // answers CKR_GENERAL_ERROR to CKA_DECRYPT=false or CKA_ENCRYPT=false, and leaks TPM
        // object slots doing so). What a token refuses to turn off is said, never hidden.
        let mut kept = Vec::new();
        for (handle, uses) in [
            (
                private,
                &[
                    (AttributeType::Decrypt, Attribute::Decrypt(false), "decrypt"),
                    (AttributeType::Unwrap, Attribute::Unwrap(false), "unwrap"),
                    (AttributeType::Derive, Attribute::Derive(false), "derive"),
                    (
                        AttributeType::SignRecover,
                        Attribute::SignRecover(false),
                        "sign-recover",
                    ),
                ][..],
            ),
            (
                public,
                &[
                    (AttributeType::Encrypt, Attribute::Encrypt(false), "encrypt"),
                    (AttributeType::Wrap, Attribute::Wrap(false), "wrap"),
                ][..],
            ),
        ] {
            for (ty, off, name) in uses {
                let on = rw
                    .get_attributes(handle, &[*ty])
                    .unwrap_or_default()
                    .iter()
                    .any(attribute_is_true);
                if on
                    && rw
                        .update_attributes(handle, std::slice::from_ref(off))
                        .is_err()
                {
                    kept.push(*name);
                }
            }
        }
        if !kept.is_empty() {
            warn!(
                target: "graphd::credential",
                "token {token} would not make the new key sign-only: it also allows {} (the key is still \
                 sensitive and never extractable)",
                kept.join(", ")
            );
        }
        drop(rw);
        Self::from_handle(session, private, uri.to_string())
    }
}

/// The X.509 certificate object `h`.
fn read_certificate(session: &TokenSession, h: ObjectHandle) -> Result<X509, Pkcs11Error> {
    let value = session
        .lock()
        .get_attributes(h, &[AttributeType::Value])
        .map_err(|e| Pkcs11Error::call("read a certificate", &session.name, e))?
        .into_iter()
        .find_map(|a| match a {
            Attribute::Value(v) => Some(v),
            _ => None,
        })
        .unwrap_or_default();
    X509::from_der(&value).map_err(|source| Pkcs11Error::BadCertificate {
        token: session.name.clone(),
        object: label_and_id(session, h),
        source,
    })
}

/// The certificate `uri` names on the token (by label and id), without logging in:
/// certificates are public objects. For `cert add pkcs11:...`.
pub fn certificate_named(session: &TokenSession, uri: &Pkcs11Uri) -> Result<X509, Pkcs11Error> {
    let mut t = template(ObjectClass::CERTIFICATE, uri);
    t.push(Attribute::CertificateType(CertificateType::X_509));
    let handles = find(session, &t)?;
    match handles.as_slice() {
        [h] => read_certificate(session, *h),
        [] => Err(Pkcs11Error::NoTokenCertificate {
            uri: uri.to_string(),
            token: session.name.clone(),
        }),
        _ => Err(Pkcs11Error::TwoCertificates {
            uri: uri.to_string(),
            token: session.name.clone(),
        }),
    }
}

/// A boolean attribute that is set.
fn attribute_is_true(a: &Attribute) -> bool {
    matches!(
        a,
        Attribute::Decrypt(true)
            | Attribute::Unwrap(true)
            | Attribute::Derive(true)
            | Attribute::SignRecover(true)
            | Attribute::Encrypt(true)
            | Attribute::Wrap(true)
    )
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

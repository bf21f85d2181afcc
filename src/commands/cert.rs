//! `graphd cert new` and `graphd cert show`: make a certificate suitable for an app
//! registration, and show any certificate's thumbprints the way the portal and Entra see them.
//!
//! `new` writes the key first, `0600` with create-new (never overwrites), then the certificate,
//! then an optional PKCS#12 file (`0600`); every output path is checked before anything is
//! written. `show` reads PEM, DER or PKCS#12 through `credential::certificate`. Neither needs a
//! tenant or a network.

use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{Id, PKey};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509NameBuilder, X509NameRef};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{CertCommand, CertNewArgs, CertShowArgs, GlobalArgs};
use crate::config::{ConfigError, ENV_CERT_PASSWORD, Env};
use crate::credential::certificate::{hex_upper, human_duration, read_certificates};
use crate::credential::{PasswordSource, Passwords};
use crate::error::Error;
use crate::output;
use crate::secret::CertPassword;

/// The certificate tooling failed.
#[derive(Debug, thiserror::Error)]
pub enum CertToolError {
    #[error("{} already exists; graphd cert new never overwrites", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("subject '{0}' is not a distinguished name like CN=name or CN=name,O=org")]
    BadSubject(String),
    #[error("the PKCS#12 password is empty")]
    EmptyPassword,
    #[error("the two passwords typed do not match")]
    PasswordMismatch,
    #[error("cannot read the PKCS#12 password")]
    ReadPassword(#[source] io::Error),
    #[error("cannot make the certificate")]
    Crypto(#[from] openssl::error::ErrorStack),
}

impl CertToolError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Exists { .. } => "choose another path, or move the old file away first".into(),
            Self::BadSubject(_) => "e.g. --subject CN=my-daemon".into(),
            Self::EmptyPassword | Self::PasswordMismatch | Self::ReadPassword(_) => format!(
                "set {ENV_CERT_PASSWORD}, pipe the password on stdin, or type it twice at the prompt"
            ),
            Self::Write { .. } | Self::Crypto(_) => return None,
        })
    }

    /// Exit code: 2 for what the user asked wrongly, 1 for the rest.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Exists { .. }
                | Self::BadSubject(_)
                | Self::EmptyPassword
                | Self::PasswordMismatch
        )
    }
}

/// Runs `graphd cert new|show`.
pub fn run(cmd: &CertCommand, global: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    match cmd {
        CertCommand::New(args) => new(args, env),
        CertCommand::Show(args) => show(args, global, env),
        _ => unreachable!("list/add/remove/rotate need a configuration: commands::keys"),
    }
}

fn new(args: &CertNewArgs, env: &dyn Env) -> Result<(), Error> {
    let outputs: Vec<&Path> = [
        Some(args.out_key.as_path()),
        Some(args.out_cert.as_path()),
        args.pfx.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for path in &outputs {
        if path.exists() {
            return Err(CertToolError::Exists {
                path: path.to_path_buf(),
            }
            .into());
        }
    }
    let name = parse_subject(&args.subject)?;
    let password = match &args.pfx {
        Some(_) => Some(pfx_password(env)?),
        None => None,
    };
    let lifetime = match (args.days, args.hours) {
        (_, Some(h)) => Duration::from_secs(u64::from(h) * 3600),
        (Some(d), None) => Duration::from_secs(u64::from(d) * 86_400),
        (None, None) => Duration::from_secs(365 * 86_400),
    };

    let key = PKey::from_rsa(Rsa::generate(args.key_size).map_err(CertToolError::from)?)
        .map_err(CertToolError::from)?;
    let cert = build_certificate(&key, &name, lifetime).map_err(CertToolError::from)?;

    let key_pem = Zeroizing::new(
        key.private_key_to_pem_pkcs8()
            .map_err(CertToolError::from)?,
    );
    write_new(&args.out_key, &key_pem, 0o600)?;
    write_new(
        &args.out_cert,
        &cert.to_pem().map_err(CertToolError::from)?,
        0o644,
    )?;
    if let (Some(path), Some(password)) = (&args.pfx, &password) {
        let friendly = args.subject.trim_start_matches("CN=");
        let p12 = Pkcs12::builder()
            .name(friendly)
            .pkey(&key)
            .cert(&cert)
            .build2(password.expose())
            .map_err(CertToolError::from)?;
        let der = Zeroizing::new(p12.to_der().map_err(CertToolError::from)?);
        write_new(path, &der, 0o600)?;
    }
    let info = CertInfo::of(&cert, 1)?;
    let mut written = format!(
        "Wrote:               {} (key, mode 0600), {}",
        args.out_key.display(),
        args.out_cert.display()
    );
    if let Some(p) = &args.pfx {
        written.push_str(&format!(", {} (mode 0600)", p.display()));
    }
    output::message(&format!(
        "{}\n{written}\nNext:                upload {} (never the key) to the app registration",
        info.human(),
        args.out_cert.display()
    ))?;
    Ok(())
}

fn show(args: &CertShowArgs, global: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    let source = match (env.var(ENV_CERT_PASSWORD), global.cert_password_stdin) {
        (Some(p), _) => PasswordSource::Env(CertPassword::new(p)),
        (None, true) => PasswordSource::Stdin,
        (None, false) => PasswordSource::Prompt,
    };
    let terminal = io::stdin().is_terminal();
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let chain = if args.path == Path::new("-") {
        // The certificate comes from stdin, so the password cannot (env or prompt instead).
        if global.cert_password_stdin {
            return Err(ConfigError::StdinTwice(
                "cert show -".into(),
                "--cert-password-stdin".into(),
            )
            .into());
        }
        let mut no_stdin = io::empty();
        let mut passwords = Passwords::new(source, &mut no_stdin, terminal);
        read_certificates(&args.path, &mut passwords, &mut lock)?
    } else {
        let mut passwords = Passwords::new(source, &mut lock, terminal);
        read_certificates(&args.path, &mut passwords, &mut io::empty())?
    };
    let info = CertInfo::of(&chain[0], chain.len())?;
    if args.manifest {
        output::message(&serde_json::to_string_pretty(&info.manifest()).expect("JSON of strings"))?;
    } else if args.json {
        output::message(
            &serde_json::to_string_pretty(&info).expect("JSON of strings and numbers"),
        )?;
    } else {
        output::message(&info.human())?;
    }
    Ok(())
}

/// What `cert show` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CertInfo {
    subject: String,
    issuer: String,
    serial_number: String,
    not_before: String,
    not_after: String,
    seconds_left: i64,
    key_type: String,
    key_size: u32,
    /// SHA-1, uppercase hex: the portal's "Thumbprint".
    thumbprint: String,
    sha256_thumbprint: String,
    x5t: String,
    #[serde(rename = "x5t#S256")]
    x5t_s256: String,
    chain_length: usize,
    #[serde(skip)]
    der: Vec<u8>,
}

impl CertInfo {
    fn of(cert: &X509, chain_length: usize) -> Result<CertInfo, CertToolError> {
        let sha1 = cert.digest(MessageDigest::sha1())?;
        let sha256 = cert.digest(MessageDigest::sha256())?;
        let key = cert.public_key()?;
        let key_type = match key.id() {
            Id::RSA => "RSA".to_string(),
            Id::EC => "EC".to_string(),
            Id::ED25519 => "Ed25519".to_string(),
            other => format!("type {}", other.as_raw()),
        };
        let not_after = unix_of(cert.not_after())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Ok(CertInfo {
            subject: name_line(cert.subject_name()),
            issuer: name_line(cert.issuer_name()),
            serial_number: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            not_before: rfc3339(unix_of(cert.not_before())?),
            not_after: rfc3339(not_after),
            seconds_left: not_after - now,
            key_type,
            key_size: key.bits(),
            thumbprint: hex_upper(&sha1),
            sha256_thumbprint: hex_upper(&sha256),
            x5t: URL_SAFE_NO_PAD.encode(&*sha1),
            x5t_s256: URL_SAFE_NO_PAD.encode(&*sha256),
            chain_length,
            der: cert.to_der()?,
        })
    }

    fn human(&self) -> String {
        let left = if self.seconds_left > 0 {
            format!("{} left", human_duration(self.seconds_left))
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
    fn manifest(&self) -> serde_json::Value {
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

fn name_line(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn unix_of(t: &Asn1TimeRef) -> Result<i64, CertToolError> {
    let epoch = Asn1Time::from_unix(0)?;
    let d = epoch.diff(t)?;
    Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

fn rfc3339(unix: i64) -> String {
    let t = if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    };
    humantime::format_rfc3339_seconds(t).to_string()
}

fn parse_subject(subject: &str) -> Result<openssl::x509::X509Name, CertToolError> {
    let bad = || CertToolError::BadSubject(subject.to_string());
    let mut name = X509NameBuilder::new()?;
    let mut any = false;
    for part in subject.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(bad)?;
        if value.is_empty() {
            return Err(bad());
        }
        name.append_entry_by_text(key.trim(), value.trim())
            .map_err(|_| bad())?;
        any = true;
    }
    if !any {
        return Err(bad());
    }
    Ok(name.build())
}

fn build_certificate(
    key: &PKey<openssl::pkey::Private>,
    name: &openssl::x509::X509Name,
    lifetime: Duration,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(name)?;
    b.set_issuer_name(name)?;
    b.set_pubkey(key)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Five minutes back, so a server whose clock is slightly behind already accepts it.
    let not_before = Asn1Time::from_unix(now - 300)?;
    b.set_not_before(&not_before)?;
    let not_after = Asn1Time::from_unix(now + lifetime.as_secs() as i64)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CertToolError> {
    let err = |source: io::Error| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            CertToolError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            CertToolError::Write {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// The PKCS#12 password: env, else stdin when it is not a terminal, else typed twice.
fn pfx_password(env: &dyn Env) -> Result<CertPassword, CertToolError> {
    let password = if let Some(p) = env.var(ENV_CERT_PASSWORD) {
        CertPassword::new(p)
    } else if !io::stdin().is_terminal() {
        let mut buf = Zeroizing::new(String::new());
        io::stdin()
            .lock()
            .read_to_string(&mut buf)
            .map_err(CertToolError::ReadPassword)?;
        CertPassword::new(buf.split(['\r', '\n']).next().unwrap_or("").to_string())
    } else {
        let a = CertPassword::new(
            rpassword::prompt_password("PKCS#12 password: ")
                .map_err(CertToolError::ReadPassword)?,
        );
        let b = CertPassword::new(
            rpassword::prompt_password("Again: ").map_err(CertToolError::ReadPassword)?,
        );
        if a.expose() != b.expose() {
            return Err(CertToolError::PasswordMismatch);
        }
        a
    };
    if password.expose().is_empty() {
        return Err(CertToolError::EmptyPassword);
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_or_are_refused() {
        assert_eq!(
            name_line(&parse_subject("CN=a, O=Contoso").unwrap()),
            "CN=a,O=Contoso"
        );
        for bad in ["", "CN", "CN=", "XX=a", ","] {
            assert!(parse_subject(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}

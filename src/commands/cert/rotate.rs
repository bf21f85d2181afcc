//! `graphd cert rotate`: swap in a new certificate. It adds the new one (skipped if it is
//! already registered, so an interrupted rotation is completed by running it again), proves
//! it works by getting a token with it (retrying for a bounded time while the registration
//! propagates), then removes the current one unless `--keep-old`. Any failure says exactly
//! what state the app is in and what to run next.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant, SystemTime};

use tracing::info;

use super::Session;
use crate::cli::CertRotateArgs;
use crate::config::{Config, ConfigError};
use crate::credential::{CertSpec, CertificateCredential, Credential, KeyRef, Passwords, proof};
use crate::error::Error;
use crate::output;
use crate::time;
use crate::token::{self, TokenError};

/// The longest wait between two tries of the new certificate while it propagates.
const MAX_PROPAGATION_WAIT: Duration = Duration::from_secs(15);

fn stop(what: &str, state: String, next: String, source: Error) -> Error {
    Error::Rotation {
        what: what.into(),
        state,
        next,
        source: Box::new(source),
    }
}

pub fn run(config: &Config, args: &CertRotateArgs) -> Result<(), Error> {
    let http = super::super::session::http(config)?;
    let s = Session::open(&http, config, args.app.app_object_id.as_deref())?;
    let current = s.certificate()?;
    let oid = &s.object_id;
    let graph = s.graph();
    let new_key = KeyRef::parse(&args.new_key).map_err(|source| ConfigError::Pkcs11Uri {
        from: "--new-key".into(),
        source,
    })?;
    if args.new_cert.is_none() && new_key.token().is_none() {
        return Err(ConfigError::NewCertNeeded.into());
    }
    let spec = CertSpec {
        cert: args.new_cert.clone(),
        key: Some(new_key.clone()),
        pkcs11_module: config.pkcs11_module.clone(),
        thumbprint: None,
        store: None,
        alg: config.assertion_alg(),
        send_x5c: false,
        allow_insecure_key_file: false,
    };
    let terminal = io::stdin().is_terminal();
    let mut stdin = io::stdin().lock();
    let mut passwords =
        Passwords::new(config.cert_password(), &mut stdin, terminal).with_pin(config.pin_source());
    let new = CertificateCredential::load(&spec, &mut passwords, SystemTime::now())?;
    let (old_tp, new_tp) = (current.thumbprint_hex(), new.thumbprint_hex());
    let sign = |signer: &CertificateCredential| -> Result<_, Error> {
        Ok(proof::sign(
            signer,
            oid,
            time::unix_secs(SystemTime::now()),
        )?)
    };

    // 1. Add, unless an interrupted rotation already did.
    let before = graph.key_credentials(oid).ok();
    let already = before
        .as_ref()
        .and_then(|keys| keys.iter().find(|k| k.is(&new_tp)).cloned());
    let new_key_id = match already {
        Some(k) => {
            info!(target: "graphd", "the new certificate is already registered (keyId {}): continuing an interrupted rotation", k.key_id);
            k.key_id
        }
        None => {
            let der = new.cert_der.clone().expect("loaded from a certificate");
            sign(current)
                .and_then(|proof| Ok(graph.add_key(oid, &der, &proof)?))
                .map_err(|e| {
                    stop(
                        "adding the new certificate failed",
                        format!("unchanged: the app still has its current certificate ({old_tp}) and not the new one ({new_tp})"),
                        "fix the cause above and run the same `graphd cert rotate` again".into(),
                        e,
                    )
                })?
                .key_id
        }
    };
    info!(target: "graphd", "step 1/3: new certificate {new_tp} registered as keyId {new_key_id}");

    // 2. Prove it works, retrying while the registration propagates.
    let new_credential = Credential::Certificate(Box::new(new));
    let deadline = Instant::now() + Duration::from_secs(args.propagation_timeout);
    let mut wait = Duration::from_secs(1);
    loop {
        match token::request_token(&http, s.tokens.request(), &new_credential) {
            Ok(_) => break,
            Err(TokenError::Entra(e)) if e.has(700027) && Instant::now() + wait < deadline => {
                info!(target: "graphd", "the new certificate is not accepted yet (AADSTS700027); retrying in {} s", wait.as_secs());
                std::thread::sleep(wait);
                wait = (wait * 2).min(MAX_PROPAGATION_WAIT);
            }
            Err(e) => {
                return Err(stop(
                    "the new certificate does not work at the token endpoint",
                    format!(
                        "the app now has BOTH the current ({old_tp}) and the new ({new_tp}, keyId {new_key_id}) certificate; nothing was removed"
                    ),
                    format!(
                        "run the same `graphd cert rotate` again later (it will not add twice), or undo with \
                         `graphd cert remove {new_key_id} --cert <current> --key <current key>`"
                    ),
                    Error::Token(e),
                ));
            }
        }
    }
    info!(target: "graphd", "step 2/3: a token was issued for the new certificate");
    let new = new_credential
        .certificate()
        .ok_or(ConfigError::NeedsCertificate)?;

    // 3. Remove the old one, with a proof signed by the new one.
    if args.keep_old {
        output::message(&format!(
            "added keyId {new_key_id} (thumbprint {new_tp}) and verified it; kept the current certificate ({old_tp}) as asked"
        ))?;
        return Ok(());
    }
    // How to name the new credential from now on.
    let use_new = match &args.new_cert {
        Some(cert) => format!("--cert {} --key {}", cert.display(), new_key.describe()),
        None => format!("--key '{}'", new_key.describe()),
    };
    let keys = graph.key_credentials(oid).map_err(|e| {
        stop(
            "cannot list the app's certificates to find the current one's keyId",
            format!("the app has BOTH certificates; the new one ({new_tp}, keyId {new_key_id}) works"),
            format!("find the old keyId (thumbprint {old_tp}) in the portal and run `graphd cert remove KEYID {use_new}`"),
            e.into(),
        )
    })?;
    let old = keys
        .iter()
        .find(|k| k.is(&old_tp) && !k.key_id.eq_ignore_ascii_case(&new_key_id));
    match old {
        Some(old) => {
            sign(new)
                .and_then(|proof| Ok(graph.remove_key(oid, &old.key_id, &proof)?))
                .map_err(|e| {
                    stop(
                        "removing the current certificate failed",
                        format!("the app has BOTH certificates; the new one ({new_tp}, keyId {new_key_id}) works"),
                        format!("run `graphd cert remove {} {use_new}`", old.key_id),
                        e,
                    )
                })?;
            output::message(&format!(
                "rotated: added keyId {new_key_id} (thumbprint {new_tp}), verified a token with it, removed keyId {} (thumbprint {old_tp}); use {use_new} from now on",
                old.key_id,
            ))?;
        }
        None => output::message(&format!(
            "added keyId {new_key_id} (thumbprint {new_tp}) and verified it; the previous certificate ({old_tp}) was already gone"
        ))?,
    }
    Ok(())
}

//! `graphd cert list|add|remove|rotate`: the app rolling its own certificates through Graph's
//! `addKey` / `removeKey` (PROTOCOL.md §7), which need no admin permission but a proof of
//! possession signed by a currently registered certificate.
//!
//! `rotate` adds the new certificate (skipped if it is already registered, so an interrupted
//! rotation is completed by running it again), proves the new one works by getting a token
//! with it (retrying for a bounded time while the registration propagates), then removes the
//! current one unless `--keep-old`. Any failure says exactly what state the app is in and what
//! to run next.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};
use url::Url;

use crate::cli::{AppObjectArgs, CertCommand, CertRotateArgs};
use crate::config::{Config, CredentialSource};
use crate::credential::certificate::read_certificates;
use crate::credential::{
    CertSpec, CertificateCredential, Credential, PasswordSource, Passwords, proof,
};
use crate::error::Error;
use crate::graph::{Graph, GraphError};
use crate::http::Http;
use crate::output;
use crate::secret::CertPassword;
use crate::token::{self, TokenError};

/// A key-management step that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "this needs a certificate credential (--cert/--key): a proof of possession is signed with it"
    )]
    NeedsCertificate,
    #[error("cannot find the application object id for client id {client_id}")]
    ObjectIdNeeded {
        client_id: String,
        #[source]
        source: GraphError,
    },
    #[error("Graph answered the application object without an id")]
    NoObjectId,
    #[error("rotation stopped: {what}")]
    Rotation {
        what: String,
        /// What the app holds now.
        state: String,
        /// What to run next.
        next: String,
        #[source]
        source: Box<Error>,
    },
}

impl KeysError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NeedsCertificate => "pass the currently registered certificate with --cert PATH --key PATH".into(),
            Self::ObjectIdNeeded { .. } | Self::NoObjectId => {
                "pass --app-object-id: in the portal, App registrations > the app > Overview > Object ID \
                 (not the Application (client) ID)"
                    .into()
            }
            Self::Rotation { next, .. } => format!("next: {next}"),
        })
    }

    pub fn notes(&self) -> Vec<String> {
        match self {
            Self::Rotation { state, .. } => vec![format!("state: {state}")],
            _ => Vec::new(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NeedsCertificate => crate::error::exit::USAGE,
            Self::ObjectIdNeeded { .. } | Self::NoObjectId => crate::error::exit::GRAPH_REFUSED,
            Self::Rotation { source, .. } => source.exit_code(),
        }
    }
}

/// One `keyCredentials` entry as Graph returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyCredential {
    key_id: String,
    #[serde(default)]
    custom_key_identifier: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    start_date_time: Option<String>,
    #[serde(default)]
    end_date_time: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl KeyCredential {
    fn is(&self, thumbprint_hex: &str) -> bool {
        self.custom_key_identifier
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(thumbprint_hex))
    }
}

/// Runs `graphd cert list|add|remove|rotate`.
pub fn run(config: &Config, cmd: &CertCommand) -> Result<(), Error> {
    let http = super::session::http(config)?;
    let tokens = super::session::tokens(&http, config)?;
    let graph = Graph::new(&http, &tokens, config);
    let cert = match tokens.credential() {
        Credential::Certificate(c) => Some(c.as_ref()),
        _ => None,
    };
    match cmd {
        CertCommand::List(args) => {
            let oid = object_id(&graph, config, &args.app)?;
            let keys = list(&graph, config, &oid)?;
            let current = cert.map(|c| c.thumbprint_hex());
            if args.json {
                let out: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        let mut v = serde_json::to_value(k).expect("strings");
                        v["inUse"] = json!(current.as_deref().is_some_and(|t| k.is(t)));
                        v
                    })
                    .collect();
                output::message(&serde_json::to_string_pretty(&out).expect("strings"))?;
            } else {
                let mut text = format!(
                    "{:<38} {:<42} {:<22} {:<22}",
                    "KEY ID", "THUMBPRINT (SHA-1)", "START", "END"
                );
                for k in &keys {
                    let mark = if current.as_deref().is_some_and(|t| k.is(t)) {
                        "  <- in use"
                    } else {
                        ""
                    };
                    text.push_str(&format!(
                        "\n{:<38} {:<42} {:<22} {:<22}{mark}",
                        k.key_id,
                        k.custom_key_identifier.as_deref().unwrap_or("-"),
                        k.start_date_time.as_deref().unwrap_or("-"),
                        k.end_date_time.as_deref().unwrap_or("-"),
                    ));
                }
                output::message(&text)?;
            }
        }
        CertCommand::Add(args) => {
            let cert = cert.ok_or(KeysError::NeedsCertificate)?;
            let oid = object_id(&graph, config, &args.app)?;
            let new = read_new_cert_der(config, &args.new_cert)?;
            let added = add_key(&graph, config, &oid, cert, &new)?;
            output::message(&format!(
                "added keyId {} (thumbprint {})",
                added.key_id,
                added.custom_key_identifier.as_deref().unwrap_or("-")
            ))?;
        }
        CertCommand::Remove(args) => {
            let cert = cert.ok_or(KeysError::NeedsCertificate)?;
            let oid = object_id(&graph, config, &args.app)?;
            if let Ok(keys) = list(&graph, config, &oid)
                && keys.iter().any(|k| {
                    k.key_id.eq_ignore_ascii_case(&args.key_id) && k.is(&cert.thumbprint_hex())
                })
            {
                warn!(target: "graphd", "removing the certificate graphd is using now: it stops working at once");
            }
            remove_key(&graph, config, &oid, cert, &args.key_id)?;
            output::message(&format!("removed keyId {}", args.key_id))?;
        }
        CertCommand::Rotate(args) => {
            let cert = cert.ok_or(KeysError::NeedsCertificate)?;
            let oid = object_id(&graph, config, &args.app)?;
            rotate(&http, &graph, config, &oid, cert, args)?;
        }
        CertCommand::New(_) | CertCommand::Show(_) => unreachable!("routed to commands::cert"),
    }
    Ok(())
}

/// `--app-object-id`, or Graph's answer for this client id.
fn object_id(graph: &Graph<'_>, config: &Config, args: &AppObjectArgs) -> Result<String, Error> {
    if let Some(oid) = &args.app_object_id {
        return Ok(oid.clone());
    }
    let mut url = config.graph_endpoint.clone();
    url.set_path(&format!("v1.0/applications(appId='{}')", config.client_id));
    url.query_pairs_mut().append_pair("$select", "id");
    let app = graph
        .call_json(reqwest::Method::GET, url, None)
        .map_err(|source| KeysError::ObjectIdNeeded {
            client_id: config.client_id.clone(),
            source,
        })?;
    let oid = app
        .and_then(|a| a["id"].as_str().map(str::to_owned))
        .ok_or(KeysError::NoObjectId)?;
    info!(target: "graphd", "application object id {oid}");
    Ok(oid)
}

fn app_url(config: &Config, oid: &str, action: Option<&str>) -> Url {
    let mut url = config.graph_endpoint.clone();
    let mut path = format!("v1.0/applications/{oid}");
    if let Some(a) = action {
        path.push('/');
        path.push_str(a);
    }
    url.set_path(&path);
    url
}

fn list(graph: &Graph<'_>, config: &Config, oid: &str) -> Result<Vec<KeyCredential>, Error> {
    let mut url = app_url(config, oid, None);
    url.query_pairs_mut()
        .append_pair("$select", "id,appId,keyCredentials");
    let app = graph
        .call_json(reqwest::Method::GET, url, None)?
        .unwrap_or_default();
    Ok(serde_json::from_value(app["keyCredentials"].clone()).unwrap_or_default())
}

fn proof(cert: &CertificateCredential, oid: &str) -> Result<crate::secret::Assertion, Error> {
    proof::sign(cert, oid, token::unix(SystemTime::now()))
        .map_err(|e| Error::Credential(crate::credential::CredentialError::Sign(e)))
}

fn add_key(
    graph: &Graph<'_>,
    config: &Config,
    oid: &str,
    signer: &CertificateCredential,
    der: &[u8],
) -> Result<KeyCredential, Error> {
    use base64::Engine;
    let proof = proof(signer, oid)?;
    let body = json!({
        "keyCredential": {
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "key": base64::engine::general_purpose::STANDARD.encode(der),
        },
        "passwordCredential": null,
        "proof": proof.expose(),
    });
    let added = graph.call_json(
        reqwest::Method::POST,
        app_url(config, oid, Some("addKey")),
        Some(&body),
    )?;
    Ok(
        serde_json::from_value(added.unwrap_or_default()).map_err(|_| GraphError::BadPage {
            reason: "addKey's answer has no keyId".into(),
            ids: Default::default(),
        })?,
    )
}

fn remove_key(
    graph: &Graph<'_>,
    config: &Config,
    oid: &str,
    signer: &CertificateCredential,
    key_id: &str,
) -> Result<(), Error> {
    let proof = proof(signer, oid)?;
    let body = json!({ "keyId": key_id, "proof": proof.expose() });
    graph.call_json(
        reqwest::Method::POST,
        app_url(config, oid, Some("removeKey")),
        Some(&body),
    )?;
    Ok(())
}

fn read_new_cert_der(config: &Config, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let mut no_stdin = io::empty();
    let mut passwords = Passwords::new(
        password_source(config),
        &mut no_stdin,
        io::stdin().is_terminal(),
    );
    let chain = read_certificates(path, &mut passwords, &mut io::stdin().lock())?;
    Ok(chain[0]
        .to_der()
        .map_err(crate::credential::CredentialError::Crypto)?)
}

/// The password for the new certificate's files: `AZURE_CLIENT_CERTIFICATE_PASSWORD` as read
/// by `config`, else a prompt on a terminal.
fn password_source(config: &Config) -> PasswordSource {
    match &config.credential {
        CredentialSource::Certificate {
            password_env: Some(p),
            ..
        } => PasswordSource::Env(CertPassword::new(p.expose().to_string())),
        _ => PasswordSource::Prompt,
    }
}

fn rotate(
    http: &Http,
    graph: &Graph<'_>,
    config: &Config,
    oid: &str,
    current: &CertificateCredential,
    args: &CertRotateArgs,
) -> Result<(), Error> {
    let spec = CertSpec {
        cert: Some(args.new_cert.clone()),
        key: Some(args.new_key.clone()),
        thumbprint: None,
        alg: current_alg(config),
        send_x5c: false,
        allow_insecure_key_file: false,
    };
    let mut stdin = io::stdin().lock();
    let mut passwords = Passwords::new(
        password_source(config),
        &mut stdin,
        io::stdin().is_terminal(),
    );
    let new = CertificateCredential::load(&spec, &mut passwords)?;
    let (old_tp, new_tp) = (current.thumbprint_hex(), new.thumbprint_hex());
    let stop = |what: &str, state: String, next: String, source: Error| -> Error {
        Error::Keys(KeysError::Rotation {
            what: what.into(),
            state,
            next,
            source: Box::new(source),
        })
    };

    // 1. Add, unless an interrupted rotation already did.
    let before = list(graph, config, oid).ok();
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
            add_key(graph, config, oid, current, &der)
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
        match token::request_token(http, config, &new_credential) {
            Ok(_) => break,
            Err(TokenError::Entra(e)) if e.has(700027) && Instant::now() + wait < deadline => {
                info!(target: "graphd", "the new certificate is not accepted yet (AADSTS700027); retrying in {} s", wait.as_secs());
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(15));
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
    let Credential::Certificate(new) = new_credential else {
        unreachable!("built above")
    };

    // 3. Remove the old one, with a proof signed by the new one.
    if args.keep_old {
        output::message(&format!(
            "added keyId {new_key_id} (thumbprint {new_tp}) and verified it; kept the current certificate ({old_tp}) as asked"
        ))?;
        return Ok(());
    }
    let keys = list(graph, config, oid).map_err(|e| {
        stop(
            "cannot list the app's certificates to find the current one's keyId",
            format!("the app has BOTH certificates; the new one ({new_tp}, keyId {new_key_id}) works"),
            format!("find the old keyId (thumbprint {old_tp}) in the portal and run `graphd cert remove KEYID --cert {} --key {}`", args.new_cert.display(), args.new_key.display()),
            e,
        )
    })?;
    let old = keys
        .iter()
        .find(|k| k.is(&old_tp) && !k.key_id.eq_ignore_ascii_case(&new_key_id));
    match old {
        Some(old) => {
            remove_key(graph, config, oid, &new, &old.key_id).map_err(|e| {
                stop(
                    "removing the current certificate failed",
                    format!("the app has BOTH certificates; the new one ({new_tp}, keyId {new_key_id}) works"),
                    format!(
                        "run `graphd cert remove {} --cert {} --key {}`",
                        old.key_id,
                        args.new_cert.display(),
                        args.new_key.display()
                    ),
                    e,
                )
            })?;
            output::message(&format!(
                "rotated: added keyId {new_key_id} (thumbprint {new_tp}), verified a token with it, removed keyId {} (thumbprint {old_tp}); use --cert {} --key {} from now on",
                old.key_id,
                args.new_cert.display(),
                args.new_key.display()
            ))?;
        }
        None => output::message(&format!(
            "added keyId {new_key_id} (thumbprint {new_tp}) and verified it; the previous certificate ({old_tp}) was already gone"
        ))?,
    }
    Ok(())
}

fn current_alg(config: &Config) -> Option<crate::cli::AssertionAlg> {
    match &config.credential {
        CredentialSource::Certificate { spec, .. } => spec.alg,
        _ => None,
    }
}

//! `graphd config show`: every resolved setting, its value and where it came from (flag,
//! env, parameters file, profile, cloud, default). Secrets are never shown: a credential is
//! described (its kind and where it is), a secret value is `[redacted]`.
//!
//! It validates nothing beyond reading the files, so it also shows an incomplete setup.

use serde_json::{Map, Value, json};

use crate::cli::{ArgOrigin, GlobalArgs, OutputFormat};
use crate::config::{
    self, CredentialSource, ENV_CERT_PATH, ENV_CLIENT_SECRET, ENV_TOKEN_CACHE, Env,
};
use crate::error::Error;
use crate::output::{self, Output};
use crate::settings::{self, FileCredential, Origin, ParamsCredential};

/// One row: setting, value, origin.
type Row = (&'static str, String, String);

fn origin_of(args: &GlobalArgs, id: &str, flag: &'static str, env: &'static str) -> String {
    match args.origin(id) {
        ArgOrigin::Env => Origin::Env(env).to_string(),
        ArgOrigin::Default => Origin::Default.to_string(),
        ArgOrigin::CommandLine => Origin::Flag(flag).to_string(),
    }
}

pub fn rows(args: &GlobalArgs, env: &dyn Env) -> Result<Vec<Row>, Error> {
    let r = settings::resolve(args, env).map_err(config::ConfigError::from)?;
    let unset = || "(not set)".to_string();
    let show = |v: Option<settings::Sourced<String>>| match v {
        Some(s) => (s.value, s.origin.to_string()),
        None => (unset(), String::new()),
    };
    let mut rows: Vec<Row> = Vec::new();
    let (profile, profile_origin) = match (&r.profile, &args.profile) {
        (Some((name, _)), Some(_)) => (
            name.clone(),
            origin_of(args, "profile", "--profile", "GRAPHD_PROFILE"),
        ),
        (Some((name, _)), None) => (
            name.clone(),
            "default_profile, or the profile named default".into(),
        ),
        (None, _) => ("(none)".into(), String::new()),
    };
    rows.push(("profile", profile, profile_origin));
    rows.push((
        "profile file",
        r.profile_file
            .as_ref()
            .map(|p| {
                format!(
                    "{}{}",
                    p.display(),
                    if p.exists() { "" } else { " (absent)" }
                )
            })
            .unwrap_or_else(unset),
        String::new(),
    ));
    rows.push((
        "parameters file",
        r.params_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none)".into()),
        if r.params_path.is_some() {
            origin_of(args, "config", "--config", "GRAPHD_CONFIG")
        } else {
            String::new()
        },
    ));
    let (v, o) = show(r.tenant);
    rows.push(("tenant", v, o));
    let (v, o) = show(r.client_id);
    rows.push(("client id", v, o));
    rows.push((
        "cloud",
        r.cloud.value.name().into(),
        r.cloud.origin.to_string(),
    ));
    rows.push((
        "authority host",
        r.authority_host.value.clone(),
        r.authority_host.origin.to_string(),
    ));
    rows.push((
        "graph endpoint",
        r.graph_endpoint.value.clone(),
        r.graph_endpoint.origin.to_string(),
    ));
    rows.push((
        "scope",
        format!("{}/.default", r.graph_endpoint.value.trim_end_matches('/')),
        format!("graph endpoint ({})", r.graph_endpoint.origin),
    ));
    if let Some(e) = &r.endpoint {
        rows.push(("endpoint", e.value.to_string(), e.origin.to_string()));
    }
    let (v, o) = match &r.ca_bundle {
        Some(c) => (c.value.display().to_string(), c.origin.to_string()),
        None => ("(system roots only)".into(), Origin::Default.to_string()),
    };
    rows.push(("CA bundle", v, o));

    let alg = r.assertion_alg.value;
    let given_alg = (!matches!(r.assertion_alg.origin, Origin::Default)).then_some(alg);
    let (cred, cred_origin) = match config::resolve_credential(args, env, given_alg)? {
        Some(c) => {
            let origin = match &c {
                CredentialSource::SecretEnv(_) => Origin::Env(ENV_CLIENT_SECRET).to_string(),
                CredentialSource::SecretStdin => origin_of(
                    args,
                    "secret_stdin",
                    "--secret-stdin",
                    "GRAPHD_SECRET_STDIN",
                ),
                CredentialSource::SecretFile(_) => {
                    origin_of(args, "secret_file", "--secret-file", "GRAPHD_SECRET_FILE")
                }
                CredentialSource::Certificate { .. } if args.cert.is_some() => {
                    Origin::Flag("--cert").to_string()
                }
                CredentialSource::Certificate { .. } if args.thumbprint.is_some() => {
                    Origin::Flag("--thumbprint").to_string()
                }
                CredentialSource::FederatedFile(_) if args.federated_token_file.is_some() => {
                    Origin::Flag("--federated-token-file").to_string()
                }
                CredentialSource::FederatedFile(_) => {
                    Origin::Env(crate::config::ENV_FEDERATED_TOKEN_FILE).to_string()
                }
                _ => Origin::Env(ENV_CERT_PATH).to_string(),
            };
            let d = match &c {
                CredentialSource::SecretEnv(_) => "client secret [redacted]".to_string(),
                other => other.describe(),
            };
            (d, origin)
        }
        None => match r.credential {
            Some(s) => {
                let d = match &s.value {
                    FileCredential::Params(ParamsCredential::Secret(_)) => {
                        "client secret [redacted] (plaintext in the file: consider `graphd secret set`)".to_string()
                    }
                    FileCredential::Params(ParamsCredential::KeyWithThumbprint { key, thumbprint }) => {
                        format!("private key {} with thumbprint {thumbprint} (RS256 + x5t)", key.display())
                    }
                    FileCredential::Params(ParamsCredential::Certificate { cert, key, .. })
                    | FileCredential::ProfileCertificate { cert, key } => format!(
                        "certificate {} (key {})",
                        cert.display(),
                        key.as_ref().map_or("in the same file".into(), |k| k.display().to_string())
                    ),
                    FileCredential::ProfileFederated(f) => {
                        format!("federated token file {}", f.display())
                    }
                };
                (d, s.origin.to_string())
            }
            None => (
                format!(
                    "client secret stored with `graphd secret set` in the {} keyring",
                    r.keyring.value.name()
                ),
                "default (no credential given)".into(),
            ),
        },
    };
    rows.push(("credential", cred, cred_origin));
    rows.push((
        "keyring",
        r.keyring.value.name().into(),
        r.keyring.origin.to_string(),
    ));
    rows.push((
        "assertion alg",
        format!("{alg:?}").to_ascii_lowercase(),
        r.assertion_alg.origin.to_string(),
    ));
    let (cache, cache_origin) = if args.no_token_cache {
        (
            "off".to_string(),
            origin_of(
                args,
                "no_token_cache",
                "--no-token-cache",
                "GRAPHD_NO_TOKEN_CACHE",
            ),
        )
    } else {
        match env.var(ENV_TOKEN_CACHE) {
            Some(v) => (v, Origin::Env(ENV_TOKEN_CACHE).to_string()),
            None => ("on".into(), Origin::Default.to_string()),
        }
    };
    rows.push(("token cache", cache, cache_origin));
    rows.push((
        "output",
        format!("{:?}", args.output).to_ascii_lowercase(),
        origin_of(args, "output", "--output", "GRAPHD_OUTPUT"),
    ));
    Ok(rows)
}

pub fn show(args: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    let rows = rows(args, env)?;
    // For people by default: a table unless -o / GRAPHD_OUTPUT asked for something else.
    let format = match args.origin("output") {
        ArgOrigin::Default => OutputFormat::Table,
        _ => args.output,
    };
    match format {
        OutputFormat::Json | OutputFormat::Jsonl => {
            let mut m = Map::new();
            for (k, v, o) in &rows {
                m.insert((*k).to_string(), json!({"value": v, "from": o}));
            }
            output::object(&Value::Object(m), format, &[])?;
        }
        format => {
            let mut out = Output::new(std::io::stdout().lock(), format).columns(vec![
                "setting".into(),
                "value".into(),
                "from".into(),
            ]);
            out.begin()?;
            for (k, v, o) in &rows {
                out.item(&json!({"setting": k, "value": v, "from": o}))?;
            }
            out.end()?;
        }
    }
    Ok(())
}

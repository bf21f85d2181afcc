//! `graphd config show`: every resolved setting, its value and where it came from (flag,
//! env, parameters file, profile, cloud, default), read from the configuration layers as they
//! are, so it also shows an incomplete setup. Secrets are never shown: a credential is
//! described (its kind and where it is), a secret value is `[redacted]`.

use serde_json::{Map, Value, json};

use crate::cli::{ArgOrigin, GlobalArgs};
use crate::config::{CredentialLayer, Env, Layers, Origin, Sourced};
use crate::credential::KeyRef;
use crate::error::Error;
use crate::names;
use crate::output::{self, Output, OutputFormat};

/// One row: setting, value, origin.
type Row = (&'static str, String, String);

fn row<T>(name: &'static str, s: &Sourced<T>, show: impl Fn(&T) -> String) -> Row {
    (name, show(&s.value), s.origin.to_string())
}

fn optional<T>(
    name: &'static str,
    s: &Option<Sourced<T>>,
    show: impl Fn(&T) -> String,
    none: &str,
) -> Row {
    match s {
        Some(s) => row(name, s, show),
        None => (name, none.to_string(), String::new()),
    }
}

/// The rows `config show` prints.
pub fn rows(l: &Layers) -> Vec<Row> {
    let unset = "(not set)";
    let mut rows: Vec<Row> = vec![
        optional("profile", &l.profile, String::clone, "(none)"),
        (
            "profile file",
            l.profile_file
                .as_ref()
                .map(|p| {
                    format!(
                        "{}{}",
                        p.display(),
                        if p.exists() { "" } else { " (absent)" }
                    )
                })
                .unwrap_or_else(|| unset.into()),
            String::new(),
        ),
        optional(
            "parameters file",
            &l.params_file,
            |p| p.display().to_string(),
            "(none)",
        ),
        optional("tenant", &l.tenant, String::clone, unset),
        optional("client id", &l.client_id, String::clone, unset),
        row("cloud", &l.cloud, |c| c.name().into()),
        row("authority host", &l.authority_host, String::clone),
        row("graph endpoint", &l.graph_endpoint, String::clone),
        (
            "scope",
            format!("{}/.default", l.graph_endpoint.value.trim_end_matches('/')),
            format!("graph endpoint ({})", l.graph_endpoint.origin),
        ),
    ];
    if let Some(e) = &l.endpoint {
        rows.push(row("endpoint", e, |u| u.to_string()));
    }
    rows.push(match &l.ca_bundle {
        Some(c) => row("CA bundle", c, |p| p.display().to_string()),
        None => (
            "CA bundle",
            "(system roots only)".into(),
            Origin::Default.to_string(),
        ),
    });
    rows.push(match &l.credential {
        Some(c) => row("credential", c, |c| c.describe()),
        None => (
            "credential",
            format!(
                "client secret stored with `graphd secret set` in the {} keyring",
                l.keyring.value.name()
            ),
            "default (no credential given)".into(),
        ),
    });
    if let Some(Sourced {
        value:
            CredentialLayer::ManagedIdentity {
                federated,
                detection,
            },
        ..
    }) = &l.credential
    {
        // Which platform was found, and from which variables.
        rows.push((
            "managed identity source",
            format!(
                "{} at {}",
                detection.platform.name(),
                detection.platform.endpoint()
            ),
            detection.why.clone(),
        ));
        rows.push(match &l.managed_identity_selector {
            Some(s) => row("managed identity", s, |s| format!("user-assigned, {s}")),
            None => (
                "managed identity",
                "system-assigned".into(),
                "default (no user-assigned identity named)".into(),
            ),
        });
        if *federated {
            rows.push(row("token exchange audience", &l.cloud, |c| {
                c.token_exchange_audience().into()
            }));
        }
    }
    // A key on a token: which module, and where its PIN comes from (never the PIN).
    if let Some(Sourced {
        value:
            CredentialLayer::Certificate {
                key: Some(KeyRef::Token(uri)),
                ..
            },
        ..
    }) = &l.credential
    {
        rows.push(
            match (&uri.module_path, &uri.module_name, &l.pkcs11_module) {
                (Some(p), _, _) => (
                    "PKCS#11 module",
                    p.display().to_string(),
                    "the URI's module-path".into(),
                ),
                (None, Some(n), _) => ("PKCS#11 module", n.clone(), "the URI's module-name".into()),
                (None, None, Some(m)) => row("PKCS#11 module", m, |p| p.display().to_string()),
                (None, None, None) => (
                    "PKCS#11 module",
                    "p11-kit's proxy, when installed".into(),
                    Origin::Default.to_string(),
                ),
            },
        );
        rows.push(match (l.pin.stdin, &uri.pin_source, &l.pin.env) {
            (true, _, _) => (
                "PKCS#11 PIN",
                "standard input".into(),
                Origin::Flag(names::PIN_STDIN.flag).to_string(),
            ),
            (false, Some(p), _) => (
                "PKCS#11 PIN",
                format!("file {}", p.display()),
                "the URI's pin-source".into(),
            ),
            (false, None, Some(_)) => (
                "PKCS#11 PIN",
                "[redacted]".into(),
                Origin::Env(names::ENV_PKCS11_PIN).to_string(),
            ),
            (false, None, None) => (
                "PKCS#11 PIN",
                "a no-echo prompt on a terminal".into(),
                Origin::Default.to_string(),
            ),
        });
    }
    let mi_cache = match &l.credential {
        Some(Sourced {
            value: CredentialLayer::ManagedIdentity { federated, .. },
            ..
        }) => Some((
            "token cache",
            "off: never cached across runs".to_string(),
            if *federated {
                "managed identity (graphd holds no secret to key a cache entry with)"
            } else {
                "managed identity (the identity endpoint caches tokens itself)"
            }
            .to_string(),
        )),
        _ => None,
    };
    let on_off = |b: &bool| if *b { "on" } else { "off" }.to_string();
    let n = &l.network;
    rows.extend([
        row("keyring", &l.keyring, |k| k.name().into()),
        row("assertion alg", &l.assertion_alg, |a| a.name().into()),
        row("send x5c", &l.send_x5c, on_off),
        mi_cache.unwrap_or_else(|| row("token cache", &l.token_cache, on_off)),
        row("output", &l.output, |o| o.name().into()),
        row("max retries", &n.max_retries, u32::to_string),
        row("timeout (s)", &n.timeout, u64::to_string),
        row("deadline (s)", &n.deadline, u64::to_string),
        row("max retry wait (s)", &n.max_retry_wait, u64::to_string),
        row("max response (MiB)", &n.max_response_mib, u64::to_string),
    ]);
    rows
}

pub fn show(args: &GlobalArgs, env: &dyn Env) -> Result<(), Error> {
    let rows = rows(&Layers::resolve(args, env)?);
    // For people by default: a table unless -o / GRAPHD_OUTPUT asked for something else.
    let format = match args.origin(names::OUTPUT.id) {
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
            let mut out = Output::stdout(format).columns(vec![
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

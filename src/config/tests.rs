//! Unit tests of the configuration pipeline: layering, validation, credentials, switches.
use std::path::Path;

use clap::Parser;

use super::*;
use crate::cli::{ArgOrigin, Cli};
use crate::credential::KeyringBackend;
use crate::credential::managed_identity::Selector;
use crate::diagnostic::Diagnostic;
use crate::names::{ENV_CERT_PASSWORD, ENV_CLIENT_SECRET, ENV_TOKEN_CACHE};

const ENV_CERT_PATH: &str = names::CERT.env;
const ENV_SEND_CHAIN: &str = names::SEND_X5C.env;

fn env(pairs: &[(&'static str, &'static str)]) -> MapEnv {
    MapEnv::of(pairs)
}

impl Config {
    fn token_url(&self) -> String {
        self.token_request(None).token_url()
    }
}

fn parse(extra: &[&str], env: &MapEnv) -> Result<Config, ConfigError> {
    let mut argv = vec![
        "graphd",
        "users",
        "--tenant",
        "contoso.onmicrosoft.com",
        "--client-id",
        "c1",
    ];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    Config::from_args(&cli.global, env)
}

#[test]
fn derived_urls() {
    let c = parse(&["--secret-stdin"], &env(&[])).unwrap();
    assert_eq!(
        c.token_url(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
    assert_eq!(
        c.admin_consent_url(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=c1"
    );
    assert_eq!(
        c.users_url().as_str(),
        "https://graph.microsoft.com/v1.0/users"
    );
}

#[test]
fn trailing_slash_and_port_are_kept_as_origin() {
    let c = parse(
        &[
            "--secret-stdin",
            "--graph-endpoint",
            "https://127.0.0.1:8443/",
            "--authority-host",
            "https://[::1]:9/",
        ],
        &env(&[]),
    )
    .unwrap();
    assert_eq!(c.scope(), "https://127.0.0.1:8443/.default");
    assert_eq!(
        c.token_url(),
        "https://[::1]:9/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
}

#[test]
fn http_and_paths_are_refused() {
    let e = parse(
        &[
            "--secret-stdin",
            "--graph-endpoint",
            "http://graph.microsoft.com",
        ],
        &env(&[]),
    );
    assert!(matches!(
        e,
        Err(ConfigError::NotHttps {
            flag: "--graph-endpoint",
            ..
        })
    ));
    let e = parse(
        &["--secret-stdin", "--authority-host", "http://127.0.0.1:1"],
        &env(&[]),
    );
    assert!(matches!(
        e,
        Err(ConfigError::NotHttps {
            flag: "--authority-host",
            ..
        })
    ));
    let e = parse(
        &[
            "--secret-stdin",
            "--authority-host",
            "https://login.microsoftonline.com/tenant",
        ],
        &env(&[]),
    );
    assert!(matches!(e, Err(ConfigError::NotAnOrigin { .. })));
    let e = parse(
        &["--secret-stdin", "--graph-endpoint", "not a url"],
        &env(&[]),
    );
    assert!(matches!(e, Err(ConfigError::InvalidUrl { .. })));
}

#[test]
fn multi_tenant_aliases_are_refused() {
    for t in ["common", "Organizations", "CONSUMERS"] {
        let cli = Cli::try_parse_from([
            "graphd",
            "users",
            "--tenant",
            t,
            "--client-id",
            "c",
            "--secret-stdin",
        ])
        .unwrap();
        assert!(matches!(
            Config::from_args(&cli.global, &env(&[])),
            Err(ConfigError::MultiTenantAlias(_))
        ));
    }
    let cli = Cli::try_parse_from([
        "graphd",
        "users",
        "--tenant",
        "a/b",
        "--client-id",
        "c",
        "--secret-stdin",
    ])
    .unwrap();
    assert!(matches!(
        Config::from_args(&cli.global, &env(&[])),
        Err(ConfigError::InvalidTenant(_))
    ));
}

#[test]
fn exactly_one_credential_or_the_keyring() {
    let c = parse(&[], &env(&[])).unwrap();
    match &c.credential {
        CredentialSource::Keyring(slot) => {
            assert_eq!(
                slot.account,
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/c1"
            );
            assert_eq!(slot.backend, KeyringBackend::platform_default());
        }
        _ => panic!("no credential given means the keyring"),
    }
    let c = parse(&["--keyring", "keyutils"], &env(&[])).unwrap();
    assert_eq!(c.keyring.backend, KeyringBackend::Keyutils);
    match parse(&["--secret-stdin"], &env(&[(ENV_CLIENT_SECRET, "x")])) {
        Err(ConfigError::TwoCredentials(a, b)) => {
            assert_eq!(a, "--secret-stdin");
            assert_eq!(b, "AZURE_CLIENT_SECRET (env)");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    match parse(&["--cert", "c.pem", "--secret-file", "s"], &env(&[])) {
        Err(ConfigError::TwoCredentials(a, b)) => {
            assert_eq!((a.as_str(), b.as_str()), ("--secret-file", "--cert"))
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(matches!(
        parse(
            &[],
            &env(&[(ENV_CLIENT_SECRET, "x"), (ENV_CERT_PATH, "both.pem")])
        ),
        Err(ConfigError::TwoCredentials(..))
    ));
}

#[test]
fn env_credentials() {
    let c = parse(&[], &env(&[(ENV_CLIENT_SECRET, "v")])).unwrap();
    assert!(matches!(&c.credential, CredentialSource::SecretEnv(s) if s.expose() == "v"));
    let c = parse(
        &["--assertion-alg", "rs256"],
        &env(&[(ENV_CERT_PATH, "both.pem")]),
    )
    .unwrap();
    match &c.credential {
        CredentialSource::Certificate(CertSource { spec, password, .. }) => {
            assert_eq!(spec.cert.as_deref(), Some(Path::new("both.pem")));
            assert!(
                spec.key.is_none() && !spec.send_x5c && matches!(password, PasswordSource::Prompt)
            );
            assert_eq!(spec.alg, Some(AssertionAlg::Rs256));
        }
        _ => panic!("a certificate"),
    }
    let c = parse(
        &[],
        &env(&[
            (ENV_CERT_PATH, "both.pfx"),
            (ENV_SEND_CHAIN, "true"),
            (ENV_CERT_PASSWORD, "pw"),
        ]),
    )
    .unwrap();
    match &c.credential {
        CredentialSource::Certificate(CertSource { spec, password, .. }) => {
            assert!(spec.send_x5c);
            assert!(matches!(password, PasswordSource::Env(p) if p.expose() == "pw"));
        }
        _ => panic!("a certificate"),
    }
}

#[test]
fn certificate_flag_rules() {
    let tp = "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13";
    let c = parse(&["--thumbprint", tp, "--key", "k.pem"], &env(&[])).unwrap();
    assert!(
        matches!(&c.credential, CredentialSource::Certificate(CertSource { spec, .. }) if spec.thumbprint.as_ref().unwrap().len() == 20)
    );
    assert!(matches!(
        parse(&["--thumbprint", "abc", "--key", "k.pem"], &env(&[])),
        Err(ConfigError::InvalidThumbprint(_))
    ));
    assert!(matches!(
        parse(
            &[
                "--thumbprint",
                tp,
                "--key",
                "k.pem",
                "--assertion-alg",
                "ps256"
            ],
            &env(&[])
        ),
        Err(ConfigError::ThumbprintNeedsRs256)
    ));
    assert!(matches!(
        parse(
            &["--thumbprint", tp, "--key", "k.pem", "--send-x5c"],
            &env(&[])
        ),
        Err(ConfigError::X5cNeedsCertificate)
    ));
    assert!(matches!(
        parse(&["--key", "k.pem"], &env(&[(ENV_CLIENT_SECRET, "s")])),
        Err(ConfigError::KeyWithoutCertificate)
    ));
    match parse(&["--cert", "-", "--key", "-"], &env(&[])) {
        Err(ConfigError::StdinTwice(a, b)) => {
            assert_eq!((a.as_str(), b.as_str()), ("--cert -", "--key -"))
        }
        _ => panic!("stdin twice"),
    }
    assert!(matches!(
        parse(&["--cert", "-", "--cert-password-stdin"], &env(&[])),
        Err(ConfigError::StdinTwice(..))
    ));
    assert!(parse(&["--cert", "c.pfx", "--cert-password-stdin"], &env(&[])).is_ok());
    // --thumbprint alone names no key (clap no longer requires --key: --cert-store may).
    assert!(matches!(
        parse(&["--thumbprint", tp], &env(&[])),
        Err(ConfigError::ThumbprintWithoutKey)
    ));
}

#[test]
fn cert_store_rules() {
    let tp = "000102030405060708090a0b0c0d0e0f10111213";
    assert!(matches!(
        parse(&["--cert-store", "CurrentUser\\My"], &env(&[])),
        Err(ConfigError::CertStoreNeedsThumbprint)
    ));
    // clap: the store holds the key and the certificate.
    for other in [["--key", "k.pem"], ["--cert", "c.pem"]] {
        let mut argv = vec!["graphd", "users", "--cert-store", "CurrentUser\\My"];
        argv.extend(other);
        assert!(Cli::try_parse_from(argv).is_err(), "{other:?}");
    }
    let store = parse(
        &["--cert-store", "CurrentUser\\My", "--thumbprint", tp],
        &env(&[]),
    );
    if cfg!(windows) {
        let c = store.unwrap();
        assert!(
            matches!(&c.credential, CredentialSource::Certificate(CertSource { spec, .. }) if spec.store.as_ref().unwrap().to_string() == "CurrentUser\\My")
        );
        assert!(matches!(
            parse(
                &["--cert-store", "Nowhere\\My", "--thumbprint", tp],
                &env(&[])
            ),
            Err(ConfigError::InvalidCertStore { .. })
        ));
    } else {
        assert!(matches!(
            store,
            Err(ConfigError::CertStoreNotOnThisPlatform)
        ));
    }
    // Two credentials: the store and a secret.
    assert!(matches!(
        parse(
            &["--cert-store", "CurrentUser\\My", "--thumbprint", tp],
            &env(&[(ENV_CLIENT_SECRET, "s")])
        ),
        Err(ConfigError::TwoCredentials(..))
    ));
    // Its origin and description for `config show`.
    let cli = Cli::try_parse_from([
        "graphd",
        "users",
        "--cert-store",
        "LocalMachine\\My",
        "--thumbprint",
        tp,
    ])
    .unwrap();
    let l = Layers::resolve(&cli.global, &env(&[])).unwrap();
    let c = l.credential.unwrap();
    assert_eq!(c.origin, Origin::Flag("--cert-store"));
    assert_eq!(
        c.value.describe(),
        "certificate 000102030405060708090A0B0C0D0E0F10111213 in the Windows store LocalMachine\\My (its key signs in the store)"
    );
}

#[test]
fn token_cache_switches() {
    assert!(parse(&["--secret-stdin"], &env(&[])).unwrap().token_cache);
    assert!(
        !parse(&["--secret-stdin", "--no-token-cache"], &env(&[]))
            .unwrap()
            .token_cache
    );
    assert!(
        !parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "off")]))
            .unwrap()
            .token_cache
    );
    assert!(
        !parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "FALSE")]))
            .unwrap()
            .token_cache
    );
    assert!(
        parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "on")]))
            .unwrap()
            .token_cache
    );
    assert!(matches!(
        parse(&["--secret-stdin"], &env(&[(ENV_TOKEN_CACHE, "maybe")])),
        Err(ConfigError::InvalidTokenCacheEnv(_))
    ));
}

#[test]
fn debug_never_shows_the_secret() {
    let c = parse(&[], &env(&[(ENV_CLIENT_SECRET, "canary-secret-value")])).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("canary-secret-value"), "{shown}");
    assert!(shown.contains("AZURE_CLIENT_SECRET"), "{shown}");
}

#[test]
fn managed_identity_layers() {
    const G1: &str = "6f1c1c2e-0b1a-4a43-9a55-0c2d5b8e7f10";
    const G2: &str = "0f1c1c2e-0b1a-4a43-9a55-0c2d5b8e7f11";
    let run = |argv: &[&str], env: &MapEnv| {
        let mut a = vec!["graphd", "users"];
        a.extend_from_slice(argv);
        Config::from_args(&Cli::try_parse_from(a).unwrap().global, env)
    };
    let spec = |c: &Config| match &c.credential {
        CredentialSource::ManagedIdentity(s) => (
            s.detection.platform.name(),
            s.chosen
                .as_ref()
                .map(|c| (c.selector.clone(), c.from.clone())),
        ),
        _ => panic!("not a managed identity: {}", c.credential.describe()),
    };
    // No tenant or client id needed; the system-assigned identity on IMDS.
    let c = run(&["--managed-identity"], &env(&[])).unwrap();
    assert_eq!((c.tenant.as_str(), c.client_id.as_str()), ("", ""));
    assert_eq!(spec(&c), ("IMDS", None));
    assert!(matches!(c.require_app(), Err(ConfigError::MissingTenant)));
    // AZURE_CLIENT_ID names a user-assigned identity when no selector is given ...
    let mut cli =
        Cli::try_parse_from(["graphd", "users", "--managed-identity", "--client-id", G1]).unwrap();
    cli.global
        .origins
        .insert("client_id".into(), ArgOrigin::Env);
    let c = Config::from_args(&cli.global, &env(&[])).unwrap();
    assert_eq!(
        spec(&c).1,
        Some((Selector::ClientId(G1.into()), "env AZURE_CLIENT_ID".into()))
    );
    // ... and an explicit selector beats it.
    cli.global.managed_identity_object_id = Some(G2.into());
    let c = Config::from_args(&cli.global, &env(&[])).unwrap();
    assert_eq!(
        spec(&c).1,
        Some((
            Selector::ObjectId(G2.into()),
            "flag --managed-identity-object-id".into()
        ))
    );
    // --client-id by flag names an app: refused with a plain managed identity.
    assert!(matches!(
        run(&["--managed-identity", "--client-id", G1], &env(&[])),
        Err(ConfigError::ClientIdWithManagedIdentity)
    ));
    assert!(matches!(
        run(
            &[
                "--managed-identity",
                "--managed-identity-client-id",
                G1,
                "--managed-identity-resource-id",
                "/subscriptions/x"
            ],
            &env(&[])
        ),
        Err(ConfigError::TwoSelectors(..))
    ));
    assert!(matches!(
        run(&["--secret-stdin", "--managed-identity-client-id", G1, "--tenant", "t", "--client-id", "c"], &env(&[])),
        Err(ConfigError::SelectorWithoutManagedIdentity(f)) if f == "--managed-identity-client-id"
    ));
    assert!(matches!(
        run(
            &["--managed-identity", "--managed-identity-client-id", "nope"],
            &env(&[])
        ),
        Err(ConfigError::BadSelector { .. })
    ));
    match run(&["--managed-identity"], &env(&[(ENV_CLIENT_SECRET, "s")])) {
        Err(ConfigError::TwoCredentials(a, b)) => {
            assert_eq!(
                (a.as_str(), b.as_str()),
                ("AZURE_CLIENT_SECRET (env)", "--managed-identity")
            )
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(matches!(
        run(
            &["--managed-identity", "--federated-managed-identity"],
            &env(&[])
        ),
        Err(ConfigError::TwoCredentials(..))
    ));
    // The platform comes from the environment.
    let c = run(
        &["--managed-identity"],
        &env(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/MSI/token/"),
            ("IDENTITY_HEADER", "canary-identity-header"),
        ]),
    )
    .unwrap();
    assert_eq!(spec(&c).0, "App Service");
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("canary") && shown.contains("App Service"),
        "{shown}"
    );
    // The federated form is the app's: tenant and client id needed, AZURE_CLIENT_ID is the
    // app, and the audience is the cloud's.
    assert!(matches!(
        run(&["--federated-managed-identity"], &env(&[])),
        Err(ConfigError::MissingTenant)
    ));
    let c = run(
        &[
            "--federated-managed-identity",
            "--tenant",
            "t",
            "--client-id",
            G1,
            "--cloud",
            "usgov",
        ],
        &env(&[]),
    )
    .unwrap();
    match &c.credential {
        CredentialSource::FederatedManagedIdentity { spec, audience } => {
            assert_eq!(*audience, "api://AzureADTokenExchangeUSGov");
            assert!(spec.chosen.is_none(), "the app's client id is no selector");
        }
        _ => panic!("federated managed identity"),
    }
    assert_eq!(c.client_id, G1);
}

#[test]
fn a_token_key_is_a_credential_by_itself() {
    let uri = "pkcs11:token=graphd;object=app";
    let c = parse(&["--key", uri], &env(&[])).unwrap();
    match &c.credential {
        CredentialSource::Certificate(CertSource { spec, .. }) => {
            assert!(spec.cert.is_none() && spec.thumbprint.is_none());
            let key = spec.key.as_ref().and_then(|k| k.token()).unwrap();
            assert_eq!(key.object.as_deref(), Some("app"));
        }
        _ => panic!("a token key"),
    }
    // With a certificate from the environment: one credential, not two.
    let c = parse(&["--key", uri], &env(&[(ENV_CERT_PATH, "c.pem")])).unwrap();
    assert!(
        matches!(&c.credential, CredentialSource::Certificate(CertSource { spec, .. }) if spec.cert.is_some())
    );
    // A file key alone still needs its certificate.
    assert!(matches!(
        parse(&["--key", "k.pem"], &env(&[])),
        Err(ConfigError::KeyWithoutCertificate)
    ));
    // pin-value is refused, and its value never quoted.
    match parse(&["--key", "pkcs11:object=a?pin-value=987654"], &env(&[])) {
        Err(e @ ConfigError::Pkcs11Uri { .. }) => {
            assert!(!format!("{e} {e:?} {:?}", e.hint()).contains("987654"));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // The PIN: --pin-stdin beats the environment; it shares stdin with nothing else.
    let c = parse(
        &["--key", uri, "--pin-stdin"],
        &env(&[(names::ENV_PKCS11_PIN, "1")]),
    )
    .unwrap();
    assert!(matches!(c.pin_source(), PinSource::Stdin));
    let c = parse(&["--key", uri], &env(&[(names::ENV_PKCS11_PIN, "1")])).unwrap();
    assert!(matches!(c.pin_source(), PinSource::Env(p) if p.expose() == "1"));
    assert!(matches!(
        parse(&["--key", uri, "--pin-stdin", "--cert", "-"], &env(&[])),
        Err(ConfigError::StdinTwice(..))
    ));
    assert!(!format!("{c:?}").contains("pin"), "{c:?}");
}

#[test]
fn token_uris_in_files_are_not_paths() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("parameters.json");
    std::fs::write(
        &p,
        r#"{"authority":"https://login.microsoftonline.com/t.onmicrosoft.com","client_id":"c","private_key_file":"pkcs11:token=a;object=b"}"#,
    )
    .unwrap();
    let params = params::load(&p).unwrap();
    match params.credential {
        Some(params::ParamsCredential::KeyOnToken { key }) => {
            assert_eq!(key, Path::new("pkcs11:token=a;object=b"))
        }
        other => panic!("{other:?}"),
    }
    let toml = "[profiles.hw]\nkey = \"pkcs11:token=a;object=b\"\n";
    let prof = profile::parse(toml, &dir.path().join("config.toml"), Some("hw"))
        .unwrap()
        .unwrap();
    assert_eq!(
        prof.key.as_deref(),
        Some(Path::new("pkcs11:token=a;object=b"))
    );
    let toml = "[profiles.hw]\nkey = \"rel/key.pem\"\n";
    assert!(profile::parse(toml, &dir.path().join("config.toml"), Some("hw")).is_err());
}

//! A strict local HTTPS emulator of Entra ID's v2.0 token endpoint (client credentials) and of
//! Microsoft Graph's `/v1.0/users`, `/users/delta` and `/groups/delta`, following
//! /work/shared/PROTOCOL.md. graphd's integration tests start it in-process
//! ([`Emulator::start`]); demo and benchmark scripts run the `graphd-emulator` binary, which
//! writes [`Info`] as a JSON state file.
//!
//! The directory can change while a client reads it: tests call [`Emulator::add_user`],
//! [`Emulator::update_user`], [`Emulator::soft_delete_user`], [`Emulator::hard_delete_user`],
//! [`Emulator::restore_user`] (the same for groups), [`Emulator::touch_users`] and
//! [`Emulator::expire_delta_links`]; scripts POST the same operations to
//! [`Info::directory_url`]. Every change shows in `/users` at once and in the next delta round.
//! [`Options::latency`] (or [`Emulator::set_latency`]) holds every response, to stand for a real
//! network in benchmarks.
//!
//! It never depends on graphd and does all crypto with OpenSSL (not jsonwebtoken), so the two
//! cannot share a JWT bug. Two listeners on 127.0.0.1 (ephemeral ports) serve TLS with a test CA
//! generated at start; there is no plain-HTTP listener. A third, "foreign" listener stands for
//! another origin, and switchable faults ([`Emulator::set_fault`]) make the endpoints misbehave
//! the way real networks, proxies and services do.
//!
//! Managed identity (`managed_identity`): five more loopback listeners stand for the platform
//! endpoints a process on Azure gets tokens from without a stored credential — IMDS, App
//! Service, Azure Arc and Cloud Shell over plain http, Service Fabric over https with its own
//! self-signed certificate — serving one system-assigned and two user-assigned identities whose
//! tokens Graph accepts, and the token-exchange token the main app's federated credential trusts.

mod applications;
mod assertion;
mod authority;
mod changes;
mod control;
mod directory;
mod fault;
mod federation;
mod foreign;
mod graph;
mod info;
mod jwt;
mod latency;
mod log;
mod managed_identity;
mod server;
mod state;
mod tls;
mod util;

pub use directory::DirectoryError;
pub use fault::{Fault, FaultKind, RawAnswer};
pub use federation::FederatedTokenSpec;
pub use graph::delta::DEFAULT_DELTA_PAGE_SIZE;
pub use info::Info;
pub use log::{ForeignRecord, GraphRecord, Log, ManagedIdentityRecord, OtherRecord, TokenRecord};
pub use managed_identity::{MiFault, MiFaultKind, MiIdentity, MiSource, TOKEN_EXCHANGE_AUDIENCE};
pub use tls::{ClientCertSpec, ClientKey, GeneratedCert, generate_client_cert};

use assertion::RegisteredCert;
use info::{write_atomic, write_private};
use state::{App, AppSecret, Shared};
use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Everything that can go wrong starting or configuring the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("openssl failed while {0}")]
    Crypto(&'static str, #[source] openssl::error::ErrorStack),
    #[error("no PEM certificate found in the input")]
    NoCertificate,
    #[error("the emulator's server thread failed: {0}")]
    Server(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// How to start the emulator.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of synthetic users (default 250).
    pub users: usize,
    /// Number of synthetic groups (default 20), for `/groups/delta`.
    pub groups: usize,
    /// `expires_in` of issued tokens and their lifetime (default 3599).
    pub token_lifetime_secs: u64,
    /// When `Some`, token responses carry `refresh_in`.
    pub refresh_in_secs: Option<u64>,
    /// Extra PEM certificates registered on the main app (`--register-cert`).
    pub register_certs: Vec<PathBuf>,
    /// Where `ca.pem`, `cert.pem` and `key.pem` are written (created if missing). The default is
    /// a fresh directory under the system temp dir, removed again at shutdown.
    pub dir: PathBuf,
    /// When `Some`, one JSON line per handled request is appended to this file (`--log`).
    pub log_file: Option<PathBuf>,
    /// Objects per page of a delta round (default 200, as Graph pages directory delta rounds;
    /// `$top` does not change it).
    pub delta_page_size: usize,
    /// How long every listener (token endpoint, Graph, the foreign origin) holds each response
    /// before sending it, to stand for a real network in benchmarks (default zero;
    /// `--latency-ms`; [`Emulator::set_latency`] changes it while running).
    pub latency: Duration,
    /// Where the Azure Arc endpoint writes its challenge files (`--arc-token-dir`). It must
    /// exist; graphd's tests use the agent's real directory, `/var/opt/azcmagent/tokens`. When
    /// `None`, they go to `arc-tokens/` (created, mode 0700) under `dir`, a directory a careful
    /// client refuses to read from. Either way the files written are removed at shutdown.
    pub arc_token_dir: Option<PathBuf>,
}

/// Temp dirs handed out by `Options::default()`; only these are removed at shutdown.
static AUTO_DIRS: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

impl Default for Options {
    fn default() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "graphd-emulator-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        AUTO_DIRS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashSet::new)
            .insert(dir.clone());
        Options {
            users: 250,
            groups: 20,
            token_lifetime_secs: 3599,
            refresh_in_secs: None,
            register_certs: Vec::new(),
            dir,
            log_file: None,
            delta_page_size: DEFAULT_DELTA_PAGE_SIZE,
            latency: Duration::ZERO,
            arc_token_dir: None,
        }
    }
}

/// A running emulator. Dropping it (or [`Emulator::shutdown`]) stops both listeners.
pub struct Emulator {
    info: Info,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    remove_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("authority_host_url", &self.info.authority_host_url)
            .field("graph_url", &self.info.graph_url)
            .finish_non_exhaustive()
    }
}

fn new_app(name: &str, secrets: Vec<AppSecret>, roles: Vec<String>) -> App {
    App {
        client_id: util::guid(),
        application_id: util::guid(),
        object_id: util::guid(),
        display_name: name.into(),
        secrets,
        roles,
        certs: RwLock::new(Vec::new()),
        trusted_subjects: RwLock::new(Vec::new()),
    }
}

fn register(app: &App, pem: &[u8]) -> Result<(), Error> {
    let certs = tls::certs_from_pem(pem)?;
    let mut parsed = Vec::with_capacity(certs.len());
    for c in &certs {
        parsed.push(
            RegisteredCert::from_x509(c).map_err(|e| Error::Crypto("reading a certificate", e))?,
        );
    }
    app.certs
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .extend(parsed);
    Ok(())
}

impl Emulator {
    /// Generates the TLS material and credentials, binds both listeners on 127.0.0.1 and
    /// returns once both accept connections. A tokio runtime runs on a background thread.
    pub fn start(opts: Options) -> Result<Emulator, Error> {
        let created_dir = !opts.dir.exists();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&opts.dir)
            .map_err(io_err("create the directory", &opts.dir))?;
        let auto = AUTO_DIRS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|s| s.contains(&opts.dir));
        let remove_dir = (created_dir && auto).then(|| opts.dir.clone());

        let server_tls = tls::generate_server_tls()?;
        let ca_pem = opts.dir.join("ca.pem");
        write_atomic(&ca_pem, &server_tls.ca_pem, 0o644)?;
        let client = tls::generate_client_cert(&ClientCertSpec::default())?;
        let cert_pem = opts.dir.join("cert.pem");
        let key_pem = opts.dir.join("key.pem");
        write_atomic(&cert_pem, &client.cert_pem, 0o644)?;
        write_private(&key_pem, &client.key_pem)?;

        let bind = |what| {
            std::net::TcpListener::bind(("127.0.0.1", 0))
                .map_err(io_err(what, Path::new("127.0.0.1:0")))
        };
        let authority_listener = bind("bind the authority listener on")?;
        let graph_listener = bind("bind the Graph listener on")?;
        let foreign_listener = bind("bind the foreign listener on")?;
        let port = |l: &std::net::TcpListener| {
            l.local_addr().map(|a| a.port()).map_err(io_err(
                "read the local address of",
                Path::new("127.0.0.1:0"),
            ))
        };
        let authority_url = format!("https://127.0.0.1:{}", port(&authority_listener)?);
        let graph_url = format!("https://127.0.0.1:{}", port(&graph_listener)?);
        let foreign_url = format!("https://127.0.0.1:{}", port(&foreign_listener)?);
        let (mi_listeners, mi_urls) = managed_identity::Listeners::bind()?;
        let service_fabric_cert_pem = opts.dir.join("service-fabric.pem");
        write_atomic(
            &service_fabric_cert_pem,
            &mi_listeners.service_fabric_cert.cert_pem,
            0o644,
        )?;
        let arc_token_dir = match &opts.arc_token_dir {
            Some(d) => {
                if !d.is_dir() {
                    return Err(Error::Io {
                        action: "use the Arc token directory",
                        path: d.clone(),
                        source: std::io::Error::from(std::io::ErrorKind::NotFound),
                    });
                }
                d.clone()
            }
            None => {
                let d = opts.dir.join("arc-tokens");
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&d)
                    .map_err(io_err("create the directory", &d))?;
                d
            }
        };
        // The challenge names an absolute path, as the real agent's does.
        let arc_token_dir = fs::canonicalize(&arc_token_dir)
            .map_err(io_err("resolve the Arc token directory", &arc_token_dir))?;

        let client_secret = util::client_secret();
        let expired_client_secret = util::client_secret();
        let noperm_client_secret = util::client_secret();
        let main_app = new_app(
            "graphd-emulator app",
            vec![
                AppSecret {
                    value: client_secret.clone(),
                    expired: false,
                },
                AppSecret {
                    value: expired_client_secret.clone(),
                    expired: true,
                },
            ],
            // Application.ReadWrite.OwnedBy lets the app read its own application object (cert list);
            // Group.Read.All lets it read /groups/delta.
            vec![
                "User.Read.All".into(),
                "Group.Read.All".into(),
                "Application.ReadWrite.OwnedBy".into(),
            ],
        );
        register(&main_app, &client.cert_pem)?;
        for path in &opts.register_certs {
            let pem = fs::read(path).map_err(io_err("read the certificate", path))?;
            register(&main_app, &pem)?;
        }
        let noperm_app = new_app(
            "graphd-emulator app without consent",
            vec![AppSecret {
                value: noperm_client_secret.clone(),
                expired: false,
            }],
            Vec::new(),
        );
        let log_file = match &opts.log_file {
            Some(p) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(p)
                    .map_err(io_err("open the log file", p))?,
            ),
            None => None,
        };
        let tenant_domain = "contoso.onmicrosoft.com".to_owned();
        let federation = federation::Federation::generate(&authority_url)?;
        let tenant_id = util::guid();
        let directory = directory::Directory::new(opts.users, opts.groups, &tenant_domain);
        // Cloud Shell's signed-in user is the directory's first user, when there is one.
        let first = directory
            .values(directory::Collection::Users)
            .into_iter()
            .next();
        let text = |v: &serde_json::Value, k: &str| v[k].as_str().map(str::to_owned);
        let cloud_shell_user = match first {
            Some(u) => {
                let upn = text(&u, "userPrincipalName").unwrap_or_default();
                managed_identity::CloudShellUser {
                    object_id: text(&u, "id").unwrap_or_else(util::guid),
                    display_name: text(&u, "displayName").unwrap_or_else(|| upn.clone()),
                    upn,
                }
            }
            None => managed_identity::CloudShellUser {
                object_id: util::guid(),
                upn: format!("cloudshell@{tenant_domain}"),
                display_name: "Cloud Shell user".into(),
            },
        };
        let mi = managed_identity::ManagedIdentities::new(
            &authority_url,
            &tenant_id,
            cloud_shell_user,
            arc_token_dir.clone(),
        );
        let ids = mi.ids();
        let info = Info {
            authority_host_url: authority_url.clone(),
            graph_url: graph_url.clone(),
            ca_pem,
            tenant_id,
            tenant_domain: tenant_domain.clone(),
            client_id: main_app.client_id.clone(),
            client_secret,
            expired_client_secret,
            cert_pem,
            key_pem,
            noperm_client_id: noperm_app.client_id.clone(),
            noperm_client_secret,
            app_object_id: main_app.application_id.clone(),
            federated_issuer: federation.issuer.clone(),
            federated_subject: federation.subject.clone(),
            federated_audience: federation::FEDERATED_AUDIENCE.into(),
            federated_token_url: format!("{authority_url}/_emulator/federated-token"),
            directory_url: format!("{authority_url}/_emulator/directory"),
            pid: std::process::id(),
            foreign_url: foreign_url.clone(),
            mi_system_client_id: ids.system.0,
            mi_system_object_id: ids.system.1,
            mi_user1_client_id: ids.user1.0,
            mi_user1_object_id: ids.user1.1,
            mi_user1_resource_id: ids.user1.2,
            mi_user2_client_id: ids.user2.0,
            mi_user2_object_id: ids.user2.1,
            mi_user2_resource_id: ids.user2.2,
            imds_url: mi_urls.imds,
            app_service_identity_endpoint: mi_urls.app_service,
            app_service_identity_header: mi.app_service_header.clone(),
            arc_identity_endpoint: mi_urls.arc_identity,
            arc_imds_endpoint: mi_urls.arc_imds,
            arc_token_dir,
            cloud_shell_msi_endpoint: mi_urls.cloud_shell,
            cloud_shell_user_upn: mi.cloud_shell_user.upn.clone(),
            cloud_shell_user_object_id: mi.cloud_shell_user.object_id.clone(),
            service_fabric_endpoint: mi_urls.service_fabric,
            service_fabric_identity_header: mi.service_fabric_header.clone(),
            service_fabric_server_thumbprint: mi_listeners.service_fabric_cert.thumbprint.clone(),
            service_fabric_cert_pem,
            mi_federated_issuer: mi.issuer.clone(),
            token_exchange_audience: TOKEN_EXCHANGE_AUDIENCE.into(),
        };
        let shared = Arc::new(Shared {
            tenant_id: info.tenant_id.clone(),
            tenant_domain: tenant_domain.clone(),
            authority_url,
            graph_url,
            main_app,
            noperm_app,
            token_key: jwt::TokenKey::generate()?,
            directory,
            pages: Mutex::new(Default::default()),
            seen_jtis: Mutex::new(HashSet::new()),
            log: log::LogSink::new(log_file),
            token_lifetime_secs: opts.token_lifetime_secs,
            refresh_in_secs: opts.refresh_in_secs,
            key_propagation_secs: Default::default(),
            federation,
            foreign_url,
            faults: Default::default(),
            secrets_seen: Mutex::new(Vec::new()),
            delta: Default::default(),
            delta_page_size: opts.delta_page_size.max(1),
            latency_micros: Default::default(),
            mi,
        });
        latency::set(&shared, opts.latency);
        shared.remember_secret(&shared.mi.app_service_header);
        shared.remember_secret(&shared.mi.service_fabric_header);

        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("graphd-emulator".into())
            .spawn(move || {
                server::serve(
                    thread_shared,
                    server_tls,
                    server::Bound {
                        authority: authority_listener,
                        graph: graph_listener,
                        foreign: foreign_listener,
                        managed_identity: mi_listeners,
                    },
                    ready_tx,
                    stop_rx,
                )
            })
            .map_err(|e| Error::Server(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(Error::Server(e));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::Server(
                    "the server thread exited during start-up".into(),
                ));
            }
        }
        Ok(Emulator {
            info,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
            remove_dir,
        })
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// A snapshot of everything seen so far.
    pub fn log(&self) -> Log {
        self.shared.log.snapshot()
    }

    pub fn clear_log(&self) {
        self.shared.log.clear();
    }

    /// Registers more certificates (every one in the PEM) on the main app.
    pub fn register_cert_pem(&self, pem: &[u8]) -> Result<(), Error> {
        register(&self.shared.main_app, pem)
    }

    /// Trusts, on the main app, certificates sent in `x5c` whose subject is `subject` (e.g.
    /// `CN=ci.contoso.com`) and that `issuer_pem` (a CA certificate) signed: Entra's
    /// Subject Name + Issuer authentication, with no thumbprint registered.
    pub fn trust_subject_issuer(&self, subject: &str, issuer_pem: &[u8]) -> Result<(), Error> {
        let issuer = tls::certs_from_pem(issuer_pem)?
            .into_iter()
            .next()
            .ok_or(Error::NoCertificate)?;
        self.shared
            .main_app
            .trusted_subjects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(assertion::TrustedSubject {
                subject: subject.to_string(),
                issuer,
            });
        Ok(())
    }

    /// A token as a CI provider would issue it for the main app's federated identity credential
    /// (or, with `spec`'s overrides, one that must be refused).
    pub fn mint_federated_token(&self, spec: &FederatedTokenSpec) -> String {
        self.shared.federation.mint(spec, util::now_unix())
    }

    /// Makes keys added through `addKey` reach the token endpoint only `secs` later, as a
    /// registration propagating through Entra does (the token endpoint answers 700027 until then).
    pub fn set_key_propagation(&self, secs: i64) {
        self.shared
            .key_propagation_secs
            .store(secs, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every present user in listing order, with the default properties: the synthetic
    /// directory as changed so far (added users last, deleted ones gone).
    pub fn users(&self) -> Vec<serde_json::Value> {
        self.shared.directory.values(directory::Collection::Users)
    }

    /// Arms `fault`, replacing every armed fault (`set_fault(Fault::once(FaultKind::Unavailable))`).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.faults.set(vec![fault]);
    }

    /// Arms `fault` beside the ones already armed; the first that fires on a request wins.
    pub fn add_fault(&self, fault: Fault) {
        self.shared.faults.add(fault);
    }

    /// Disarms every fault (revoked tokens stay revoked).
    pub fn clear_faults(&self) {
        self.shared.faults.set(Vec::new());
    }

    /// Every access token issued and every client assertion received so far, and the
    /// managed-identity secrets (identity headers sent, Arc challenge secrets written,
    /// `Authorization` values the Arc endpoint received): the values a redaction test looks for
    /// in a client's output and files.
    pub fn secrets_seen(&self) -> Vec<String> {
        self.shared
            .secrets_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops both listeners and waits for the server thread (the same as dropping).
    pub fn shutdown(self) {}
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.mi.arc.cleanup();
        if let Some(dir) = self.remove_dir.take() {
            let _ = fs::remove_dir_all(&dir);
            if let Some(set) = AUTO_DIRS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                set.remove(&dir);
            }
        }
    }
}

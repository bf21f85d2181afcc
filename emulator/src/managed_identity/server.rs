//! The listeners: one plain-http loopback listener per source (IMDS, App Service, Arc, Cloud
//! Shell) and an https one for Service Fabric with its own self-signed certificate; and the one
//! request path they share — read the request, let an armed fault answer (or stall, or never
//! answer), hand it to the source's handler, log what happened (header presence, never values).

use super::faults::MiFaultKind;
use super::{
    ALL_SELECTORS, ManagedIdentityRecord, MiRequest, MiSource, ServerCert, TOKEN_PATH, appservice,
    arc, cloudshell, decode_pairs, faults, imds, param, servicefabric,
};
use crate::state::Shared;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Router state: the shared state and which source this listener is.
#[derive(Clone)]
struct Endpoint {
    shared: Arc<Shared>,
    source: MiSource,
}

fn router(shared: Arc<Shared>, source: MiSource) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(Endpoint { shared, source })
}

async fn handle(
    State(ep): State<Endpoint>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = ep.shared;
    let req = MiRequest {
        method,
        uri,
        headers,
        body,
    };
    let query = req.query().unwrap_or_default();
    let mut rec = ManagedIdentityRecord {
        source: ep.source.name().into(),
        method: req.method.to_string(),
        path: req.uri.path().to_owned(),
        raw_query: req.uri.query().map(str::to_owned),
        metadata: req.headers.contains_key("metadata"),
        identity_header: req.headers.contains_key("x-identity-header"),
        secret_header: req.headers.contains_key("secret"),
        authorization: req.headers.contains_key(header::AUTHORIZATION),
        x_forwarded_for: req.headers.contains_key("x-forwarded-for"),
        api_version: param(&query, "api-version").map(str::to_owned),
        resource: param(&query, "resource").map(str::to_owned),
        selector: ALL_SELECTORS
            .iter()
            .find_map(|n| param(&query, n).map(|v| format!("{n}={v}"))),
        identity: None,
        token_kind: None,
        status: 0,
        error: None,
        fault: None,
    };
    // The header secrets a client sent are secrets to look for in its output.
    for name in ["x-identity-header", "secret"] {
        if let Some(v) = req.header(name) {
            s.remember_secret(v);
        }
    }
    let fault = s.mi.faults.next(ep.source);
    rec.fault = fault.as_ref().map(|f| f.name().to_owned());
    match &fault {
        Some(MiFaultKind::NoAnswer) => {
            s.log.managed_identity(rec);
            // Hold the connection open with no answer; shutdown drops this future.
            std::future::pending::<Response>().await
        }
        Some(MiFaultKind::Stall { secs }) => {
            tokio::time::sleep(Duration::from_secs(*secs)).await;
            finish(&s, ep.source, &req, rec)
        }
        Some(kind) => match faults::response(ep.source, kind) {
            Some((response, code)) => {
                rec.status = response.status().as_u16();
                rec.error = Some(code.to_owned());
                s.log.managed_identity(rec);
                response
            }
            None => finish(&s, ep.source, &req, rec),
        },
        None => finish(&s, ep.source, &req, rec),
    }
}

fn finish(
    s: &Shared,
    source: MiSource,
    req: &MiRequest,
    mut rec: ManagedIdentityRecord,
) -> Response {
    let outcome = match source {
        MiSource::Imds => imds::handle(s, req),
        MiSource::AppService => appservice::handle(s, req),
        MiSource::Arc => arc::handle(s, req),
        MiSource::CloudShell => cloudshell::handle(s, req),
        MiSource::ServiceFabric => servicefabric::handle(s, req),
    };
    if source == MiSource::CloudShell
        && let Ok(form) = decode_pairs(&req.body)
    {
        // Cloud Shell's parameters come in the form body.
        rec.resource = param(&form, "resource").map(str::to_owned);
        if rec.selector.is_none() {
            rec.selector = ALL_SELECTORS
                .iter()
                .find_map(|n| param(&form, n).map(|v| format!("{n}={v}")));
        }
    }
    rec.status = outcome.response.status().as_u16();
    rec.error = outcome.error;
    if let Some((identity, target)) = outcome.minted {
        rec.identity = Some(identity);
        rec.token_kind = Some(target.name().into());
    }
    s.log.managed_identity(rec);
    outcome.response
}

/// The bound (not yet serving) listeners, one per source.
pub(crate) struct Listeners {
    imds: std::net::TcpListener,
    app_service: std::net::TcpListener,
    arc: std::net::TcpListener,
    cloud_shell: std::net::TcpListener,
    service_fabric: std::net::TcpListener,
    /// Service Fabric's own self-signed server certificate.
    pub service_fabric_cert: ServerCert,
}

/// The URLs graphd is pointed at (the environment variables a platform would set).
pub(crate) struct Urls {
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` for IMDS: `http://127.0.0.1:PORT`.
    pub imds: String,
    /// App Service's `IDENTITY_ENDPOINT`.
    pub app_service: String,
    /// Arc's `IDENTITY_ENDPOINT` and `IMDS_ENDPOINT`.
    pub arc_identity: String,
    pub arc_imds: String,
    /// Cloud Shell's `MSI_ENDPOINT`.
    pub cloud_shell: String,
    /// Service Fabric's `IDENTITY_ENDPOINT`.
    pub service_fabric: String,
}

impl Listeners {
    pub(crate) fn bind() -> Result<(Listeners, Urls), crate::Error> {
        let any = Path::new("127.0.0.1:0");
        let bind =
            |what| std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(crate::io_err(what, any));
        let l = Listeners {
            imds: bind("bind the IMDS listener on")?,
            app_service: bind("bind the App Service identity listener on")?,
            arc: bind("bind the Arc identity listener on")?,
            cloud_shell: bind("bind the Cloud Shell identity listener on")?,
            service_fabric: bind("bind the Service Fabric identity listener on")?,
            service_fabric_cert: ServerCert::generate()?,
        };
        let port = |l: &std::net::TcpListener| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(crate::io_err("read the local address of", any))
        };
        let arc = format!("http://127.0.0.1:{}", port(&l.arc)?);
        let urls = Urls {
            imds: format!("http://127.0.0.1:{}", port(&l.imds)?),
            app_service: format!("http://127.0.0.1:{}/MSI/token", port(&l.app_service)?),
            arc_identity: format!("{arc}{TOKEN_PATH}"),
            arc_imds: arc,
            cloud_shell: format!("http://127.0.0.1:{}/oauth2/token", port(&l.cloud_shell)?),
            service_fabric: format!("https://127.0.0.1:{}{TOKEN_PATH}", port(&l.service_fabric)?),
        };
        Ok((l, urls))
    }

    /// Serves every listener on the current tokio runtime: plain http for all but Service
    /// Fabric, which serves its own self-signed certificate.
    pub(crate) async fn serve(
        self,
        shared: Arc<Shared>,
    ) -> Result<
        (
            Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
            Vec<axum_server::Handle<std::net::SocketAddr>>,
        ),
        String,
    > {
        let mut tasks = Vec::new();
        let mut handles = Vec::new();
        for (listener, source) in [
            (self.imds, MiSource::Imds),
            (self.app_service, MiSource::AppService),
            (self.arc, MiSource::Arc),
            (self.cloud_shell, MiSource::CloudShell),
        ] {
            let handle = axum_server::Handle::new();
            let server = axum_server::from_tcp(listener)
                .map_err(|e| format!("cannot use the {} listener: {e}", source.name()))?
                .acceptor(axum_server::accept::NoDelayAcceptor::new())
                .handle(handle.clone());
            let app = router(shared.clone(), source);
            tasks.push(tokio::spawn(server.serve(app.into_make_service())));
            handles.push(handle);
        }
        let config = axum_server::tls_rustls::RustlsConfig::from_der(
            vec![self.service_fabric_cert.cert_der.clone()],
            self.service_fabric_cert.key_der.clone(),
        )
        .await
        .map_err(|e| format!("cannot build the Service Fabric rustls config: {e}"))?;
        let handle = axum_server::Handle::new();
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
            .acceptor(axum_server::accept::NoDelayAcceptor::new());
        let server = axum_server::from_tcp(self.service_fabric)
            .map_err(|e| format!("cannot use the service_fabric listener: {e}"))?
            .acceptor(acceptor)
            .handle(handle.clone());
        let app = router(shared, MiSource::ServiceFabric);
        tasks.push(tokio::spawn(server.serve(app.into_make_service())));
        handles.push(handle);
        Ok((tasks, handles))
    }
}

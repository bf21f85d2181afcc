//! The server thread: a tokio runtime serving every listener (the authority, Graph and the
//! foreign origin over TLS; the managed-identity endpoints over plain http, Service Fabric's
//! over TLS with its own self-signed certificate) until `Emulator` tells it to stop.

use std::sync::Arc;

use crate::state::Shared;
use crate::{authority, foreign, graph, latency, managed_identity, tls};

/// The listeners bound in `start`, handed to the server thread.
pub(crate) struct Bound {
    pub authority: std::net::TcpListener,
    pub graph: std::net::TcpListener,
    pub foreign: std::net::TcpListener,
    pub managed_identity: managed_identity::Listeners,
}

/// The server thread: a tokio runtime serving every router (TLS, and plain http for the
/// managed-identity endpoints but Service Fabric's) until told to stop.
pub(crate) fn serve(
    shared: Arc<Shared>,
    server_tls: tls::ServerTls,
    listeners: Bound,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_name("graphd-emulator-worker")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot build the tokio runtime: {e}")));
            return;
        }
    };
    runtime.block_on(async move {
        let started = async {
            let config = axum_server::tls_rustls::RustlsConfig::from_der(
                vec![server_tls.cert_der],
                server_tls.key_der,
            )
            .await
            .map_err(|e| format!("cannot build the rustls server config: {e}"))?;
            let mut tasks = Vec::new();
            let mut handles = Vec::new();
            for (listener, router) in [
                (listeners.authority, authority::router(shared.clone())),
                (listeners.graph, graph::router(shared.clone())),
                (listeners.foreign, foreign::router(shared.clone())),
            ] {
                let router = latency::layer(router, shared.clone());
                let handle = axum_server::Handle::new();
                // TCP_NODELAY on every accepted connection: without it, Nagle's algorithm holds
                // a response's last small TLS record until the client's delayed ACK (40 ms on
                // Linux), which added 40 ms to a random request in about one run out of three.
                let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config.clone())
                    .acceptor(axum_server::accept::NoDelayAcceptor::new());
                let server = axum_server::from_tcp(listener)
                    .map_err(|e| format!("cannot use the listener: {e}"))?
                    .acceptor(acceptor)
                    .handle(handle.clone());
                tasks.push(tokio::spawn(server.serve(router.into_make_service())));
                handles.push(handle);
            }
            let (mi_tasks, mi_handles) = listeners.managed_identity.serve(shared.clone()).await?;
            tasks.extend(mi_tasks);
            handles.extend(mi_handles);
            for h in &handles {
                if h.listening().await.is_none() {
                    return Err("a listener failed to start".to_owned());
                }
            }
            Ok::<_, String>((tasks, handles))
        };
        match started.await {
            Ok((tasks, handles)) => {
                let _ = ready.send(Ok(()));
                let _ = stop.await;
                for h in &handles {
                    // Short grace: in-flight requests finish, idle keep-alive connections do not hold
                    // up a test's teardown.
                    h.graceful_shutdown(Some(std::time::Duration::from_millis(200)));
                }
                for t in tasks {
                    let _ = t.await;
                }
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        }
    });
}

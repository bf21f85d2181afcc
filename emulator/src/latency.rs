//! Simulated network latency: every response of every listener (token endpoint, Graph, the
//! foreign origin) is held for `Options::latency` before it is sent, so benchmarks on loopback
//! show what a client on a real network would see. Changeable while running
//! (`Emulator::set_latency`, the control endpoint's `set_latency`); zero costs nothing.

use crate::state::Shared;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Sets the latency every response gets from now on.
pub(crate) fn set(s: &Shared, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    s.latency_micros.store(micros, Ordering::SeqCst);
}

/// `router` with every response held for the current latency.
pub(crate) fn layer(router: Router, shared: Arc<Shared>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(shared, hold))
}

async fn hold(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let micros = s.latency_micros.load(Ordering::SeqCst);
    if micros > 0 {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }
    response
}

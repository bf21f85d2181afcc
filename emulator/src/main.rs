//! The `graphd-emulator` binary: starts the emulator, writes its state file (mode 0600, only once
//! every listener accepts connections), prints one line to stderr and runs until SIGTERM or SIGINT.
//! Everything else lives in the library.
//!
//! Scripts change the running emulator through its control endpoint, whose URL the state file
//! gives as `directory_url` (`POST {authority}/_emulator/directory`, JSON, see the library's
//! `control` module): add, update, soft-delete, hard-delete and restore users or groups, touch
//! N users (a new jobTitle each: "N users changed since the last delta round"), expire every
//! delta link issued so far (`410 resyncRequired`, or a chosen status and code), and set the
//! latency. For example, with `curl --cacert ca.pem` and the URL from the state file:
//!
//! ```text
//! {"op":"add","value":{"displayName":"Ada Lovelace","userPrincipalName":"ada@contoso.onmicrosoft.com"}}
//! {"op":"update","id":"00000000-0000-4000-8000-00000000002a","patch":{"jobTitle":"CTO"}}
//! {"op":"soft_delete","id":"..."}   {"op":"hard_delete","id":"..."}   {"op":"restore","id":"..."}
//! {"op":"add","collection":"groups","value":{"displayName":"Payroll"}}
//! {"op":"touch","n":1000}
//! {"op":"expire_delta"}   {"op":"expire_delta","status":400,"code":"syncStateNotFound"}
//! {"op":"set_latency","ms":40}
//! ```
//!
//! `--latency-ms N` holds every response of every listener N ms before it is sent, so benchmarks
//! on loopback show what a real network costs; `--delta-page-size` sets how many objects a page
//! of `/users/delta` and `/groups/delta` holds (Graph: about 200, whatever `$top` says).

use clap::Parser;
use graphd_emulator::{Emulator, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// A strict local HTTPS emulator of Entra ID's token endpoint and Microsoft Graph's /v1.0/users
/// (with /users/delta and /groups/delta).
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Change the directory while it runs: POST JSON operations to the state file's \
                  directory_url, e.g. {\"op\":\"touch\",\"n\":1000} or {\"op\":\"expire_delta\"} \
                  (ops: add, update, soft_delete, hard_delete, restore, touch, expire_delta, set_latency)."
)]
struct Args {
    /// Where to write the state JSON (URLs, CA path, tenant, app credentials), mode 0600.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Number of synthetic users.
    #[arg(long, default_value_t = 250)]
    users: usize,
    /// Number of synthetic groups (for /groups/delta).
    #[arg(long, default_value_t = 20)]
    groups: usize,
    /// An extra PEM certificate to register on the main app (repeatable).
    #[arg(long = "register-cert", value_name = "PATH")]
    register_cert: Vec<PathBuf>,
    /// Where ca.pem, cert.pem and key.pem go [default: the directory of --state].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// expires_in of issued tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3599)]
    token_lifetime: u64,
    /// Add "refresh_in" with this many seconds to token responses.
    #[arg(long, value_name = "SECS")]
    refresh_in: Option<u64>,
    /// Append one JSON line per handled request to this file (no secrets).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Hold every response of every listener this many milliseconds (a real network's latency).
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Objects per page of a delta round (/users/delta, /groups/delta); $top does not change it.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    delta_page_size: u32,
    /// An existing directory where the Azure Arc endpoint writes its challenge files (the real
    /// agent's is /var/opt/azcmagent/tokens) [default: arc-tokens/ under --dir].
    #[arg(long, value_name = "DIR")]
    arc_token_dir: Option<PathBuf>,
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let args = Args::parse();
    let dir = args.dir.clone().unwrap_or_else(|| {
        args.state
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let opts = Options {
        users: args.users,
        groups: args.groups,
        token_lifetime_secs: args.token_lifetime,
        refresh_in_secs: args.refresh_in,
        register_certs: args.register_cert,
        dir,
        log_file: args.log,
        delta_page_size: usize::try_from(args.delta_page_size)
            .unwrap_or(graphd_emulator::DEFAULT_DELTA_PAGE_SIZE),
        latency: std::time::Duration::from_millis(args.latency_ms),
        arc_token_dir: args.arc_token_dir,
    };
    // Signal handlers go in before the state file exists: a script that sends SIGTERM as soon
    // as it sees the file must stop us cleanly, never kill us mid-way or be ignored.
    let (runtime, mut signals) = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("graphd-emulator: error: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = (|| {
        let emulator = Emulator::start(opts)?;
        emulator.info().write_state_file(&args.state)?;
        Ok::<_, graphd_emulator::Error>(emulator)
    })();
    let emulator = match result {
        Ok(e) => e,
        Err(e) => {
            eprintln!("graphd-emulator: error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("graphd-emulator: caused by: {s}");
                source = s.source();
            }
            return ExitCode::FAILURE;
        }
    };
    let info = emulator.info();
    eprintln!(
        "graphd-emulator: authority {} graph {} (CA {}, state {})",
        info.authority_host_url,
        info.graph_url,
        info.ca_pem.display(),
        args.state.display()
    );
    runtime.block_on(signals.wait());
    emulator.shutdown();
    ExitCode::SUCCESS
}

/// SIGTERM and SIGINT streams, registered on a small current-thread runtime.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> std::io::Result<(tokio::runtime::Runtime, Signals)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let signals = {
            let _guard = runtime.enter();
            Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            }
        };
        Ok((runtime, signals))
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

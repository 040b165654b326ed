//! `ocifit mirror`: a node-local registry mirror that makes runtimes which
//! ignore `platform.features` (containerd, CRI-O, podman, skopeo) pull the
//! entry ocifit selects for this node (`docs/semantics.md` §9,
//! `docs/mirror.md`).
//!
//! Runtimes already know how to use a mirror. For a tag, this one asks
//! upstream what the tag points at; when that is an index on which the
//! runtime's own rule (first matching platform) would not take the entry
//! ocifit's matcher chooses, it answers with a rewritten index on which it
//! does. Everything else — blobs, manifests by digest, errors, auth
//! challenges — passes through unchanged and streamed.
//!
//! - [`rewrite`]: the pure rewrite (document, target, mode → bytes or the
//!   reason to pass through), no I/O;
//! - [`server`]: routing, the tag flow, stored rewrites by digest, pass-through;
//! - [`upstream`]: `--upstream` / `?ns=` routing and the pooled HTTP(S) client;
//! - [`cache`]: rewrites on disk (atomic writes, size bound, LRU eviction);
//! - [`metrics`]: `/metrics` in Prometheus text; [`glob`]: `--exclude` patterns;
//! - [`pacing`]: loopback clients' connections are not paced (BBR);
//! - [`node_config`]: what to install on a node (containerd `hosts.toml`,
//!   containers `registries.conf`).

#![forbid(unsafe_code)]

pub mod cache;
pub mod glob;
pub mod metrics;
pub mod node_config;
pub mod pacing;
pub mod rewrite;
pub mod server;
pub mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ocifit_core::Target;

pub use rewrite::Mode;

/// Threads that run requests. One: a blob's bytes are then allocated (read
/// from upstream) and freed (written to the client) on the same thread.
/// With one worker per core, the two ends of a transfer ran on different
/// threads, and mimalloc's per-thread heaps kept the buffers the other
/// thread freed for a while: the mirror's peak RSS grew with transfer speed
/// to ~110 MiB after two 1 GiB blobs at 1 GiB/s, against 18 MiB with one
/// worker, at the same throughput (`docs/performance-notes.md`). The copy
/// costs about 0.3 s of CPU per GiB, so one thread is far from busy; the
/// cache's disk writes use `block_in_place`, which hands the async work to
/// another thread meanwhile.
pub const ASYNC_WORKERS: usize = 1;

/// What each HTTP/1 connection may buffer, both to clients (bytes queued
/// for a client that reads slowly, or not at all) and from upstream (the
/// read buffer). Past it hyper stops reading upstream, and the TCP window
/// then pushes back on the registry: a blob in flight holds about 1 MiB of
/// the mirror's memory at most (this to the client, plus one read buffer
/// and one frame from upstream), however slow its client.
pub const MAX_BUFFERED_BYTES: usize = 256 * 1024;

/// How rewrites are logged on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `ocifit mirror` is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub allow_remote: bool,
    pub upstream: Option<String>,
    /// Registry hosts (`HOST` or `HOST:PORT`) reached over plain HTTP with `?ns=` routing.
    pub plain_http: Vec<String>,
    /// Every `?ns=` host over plain HTTP.
    pub plain_http_all: bool,
    pub ca_certs: Vec<PathBuf>,
    pub target: Target,
    pub mode: Mode,
    pub excludes: Vec<String>,
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
    pub log_format: LogFormat,
    /// How long connecting upstream may take.
    pub connect_timeout: Duration,
    /// How long upstream may take to send its headers (and a whole index to rewrite).
    pub read_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
}

/// Check the settings, listen, serve until SIGTERM or SIGINT, then finish
/// in-flight requests (at most `shutdown_grace`). The error is one line.
pub fn run(settings: Settings) -> Result<(), String> {
    if !settings.allow_remote && !settings.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: not a loopback address; the mirror serves this node only (--allow-remote to listen there anyway)",
            settings.listen
        ));
    }
    let upstream = settings.upstream.as_deref().map(upstream::Upstream::parse).transpose()?;
    let cache = cache::Cache::open(&settings.cache_dir, settings.cache_max_bytes)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ASYNC_WORKERS)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let client = upstream::client(&settings.ca_certs, settings.connect_timeout)?;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| format!("--listen {}: {e}", settings.listen))?;
        let bound = listener.local_addr().map_err(|e| format!("--listen {}: {e}", settings.listen))?;
        let mut state = server::State::new(
            upstream,
            upstream::PlainHttp { hosts: settings.plain_http, all: settings.plain_http_all },
            settings.target,
            settings.mode,
            settings.excludes,
            settings.log_format,
            client,
            cache,
        );
        state.read_timeout = settings.read_timeout;
        let state = Arc::new(state);
        // Handlers first: a SIGTERM right after "listening on" must stop
        // the mirror cleanly, not kill it.
        let stop = shutdown_signal()?;
        eprintln!("listening on http://{bound}");
        serve(listener, state, stop, settings.shutdown_grace).await;
        Ok(())
    })
}

/// Accept connections until `stop` resolves, then drain.
async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<server::State>,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, go on.
                        eprintln!("ocifit mirror: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                pacing::unpace_loopback_client(&stream);
                let state = state.clone();
                let service = service_fn(move |request| server::handle(state.clone(), request));
                let connection = http1::Builder::new().max_buf_size(MAX_BUFFERED_BYTES).serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    eprintln!("ocifit mirror: stopping (finishing requests in flight, at most {} s)", grace.as_secs());
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        eprintln!("ocifit mirror: requests still in flight after {} s, stopping anyway", grace.as_secs());
    }
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed when this is
/// called, not when it is first polled.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handler = |kind: SignalKind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        let (mut term, mut int) = (handler(SignalKind::terminate())?, handler(SignalKind::interrupt())?);
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

//! `sandbox-executor serve`: the HTTP daemon, its store, its delivery to the control plane,
//! and its orderly end.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use delivery::{ControlPlaneConfig, Deliverer};
use executor::{ExecutionService, ServiceOptions};
use store::Store;
use tokio::signal::unix::{signal, SignalKind};

use super::state_lock::StateLock;
use crate::config::{ControlPlaneArgs, ServeArgs};
use crate::telemetry;

/// How often expired records are purged and outbox gauges refreshed.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    telemetry::init_logging(&args.log_level, &args.log_format)?;
    // Before anything is opened, and before the egress limits are set from it.
    raise_open_files_limit();
    args.check_exposure()?;
    // Settings the service does not take are checked before anything starts.
    let (peers, cors_origins) = (args.peers.peers()?, args.cors_origins()?);
    let prometheus = telemetry::install_metrics();
    let state_dir = args.state_dir();
    // Before anything of the directory is read or changed (store recovery, workspaces).
    let _lock = StateLock::take(&state_dir)?;
    let delivering = args.control_plane.url().is_some();
    let store = open_store(&state_dir, delivering)?;
    let service = open_service(&args, &store).await?;
    let nvidia_template = Some(args.nvidia_template.clone()).filter(|name| !name.is_empty());
    if let Some(name) = &nvidia_template {
        service.templates().get(name).map_err(|e| anyhow!("--nvidia-template: {e}"))?;
    }
    let deliverer = match args.control_plane.url() {
        Some(url) => Some(start_delivery(&args.control_plane, url, args.port, &store, &service)?),
        None => None,
    };
    let options = server::AppOptions {
        max_body_bytes: args.max_body_bytes,
        api_token: args.api_token(),
        metrics: Some(server::MetricsSource {
            prometheus,
            extra_json: Some(outbox_json(&store)),
            refresh: Some(outbox_gauges(&store)),
        }),
        outbox: delivering.then(|| server::OutboxSource(outbox_report(&store))),
        nvidia_template,
        peers,
        cors_origins,
        ports: args.ports.options(),
        ..server::AppOptions::default()
    };
    let router = server::app(service.clone(), options);
    let addr = args.listen_addr();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    // From here on the daemon serves, and stops in order: its pooled sandboxes are removed.
    service.start_warm();
    tracing::info!(%addr, control_plane = delivering, "listening");
    tokio::spawn(maintenance(store.clone(), Duration::from_secs(args.result_retention_secs)));
    if let Some(deliverer) = deliverer.clone() {
        tokio::spawn(async move { report_ready(&deliverer).await });
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let http = tokio::spawn(server::serve(listener, router, async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    }));
    let reason = first_signal().await;
    tracing::info!(signal = reason, "shutting down: no new executions; running ones may finish");
    tokio::spawn(exit_on_second_signal());
    // The listener stays open while the daemon drains: /ready answers 503 and new work is
    // refused with a clear error (not a refused connection) until what was accepted is done.
    service.shutdown(Duration::from_secs(args.shutdown_grace_secs)).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    if let Some(deliverer) = &deliverer {
        stop_delivery(deliverer).await;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Raises the soft limit of open descriptors to the hard one: a service manager's default
/// soft limit (1024) is far below what sandboxes, sessions and egress connections take.
fn raise_open_files_limit() {
    match sandbox::host::raise_open_files_limit() {
        Ok((soft, hard)) => tracing::info!(soft, hard, "open descriptors limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open descriptors limit"),
    }
}

/// The execution service of the daemon's configuration, refused when a layer it requires is
/// missing here.
async fn open_service(args: &ServeArgs, store: &Arc<Store>) -> anyhow::Result<Arc<ExecutionService>> {
    let state_dir = args.state_dir();
    let workspace_root = args.sandbox.workspace_path.clone().unwrap_or_else(|| state_dir.join("workspaces"));
    let mut config = args.sandbox.clone().into_config(workspace_root, &state_dir)?;
    // A run's proxy never reaches this daemon's own API, whatever else it may reach.
    let mut egress = (*config.egress).clone();
    egress.never.push(std::net::SocketAddr::new(args.host, args.port));
    config.egress = Arc::new(egress);
    let defaults = ServiceOptions::default();
    let options = ServiceOptions {
        recorder: Some(store.clone()),
        max_running: args.max_concurrent.unwrap_or(defaults.max_running),
        max_queued: args.max_queue,
        sessions: executor::SessionConfig {
            id_prefix: args.peers.node_name.clone(),
            ..args.sessions.clone().into_config()?
        },
        warm: executor::WarmConfig {
            per_key: args.warm_pool,
            prebuilt: args.warm_prebuilt,
            max_idle: Duration::from_secs(args.warm_max_idle_secs.max(1)),
            max_templates: args.warm_templates,
            zygote_lib: args.zygote_library(),
        },
        launcher: None,
    };
    let service = ExecutionService::new(config, options).await.map_err(|e| anyhow!("{e}"))?;
    if !service.missing_required().is_empty() {
        anyhow::bail!(
            "refusing to start: required isolation layers are missing: {}. Fix the host, or name the layers \
             this daemon may run without in SANDBOX_REQUIRE (see `sandbox-executor check`)",
            service.missing_required().join("; ")
        );
    }
    match service.health() {
        Ok(()) => tracing::info!("sandbox self-test passed"),
        Err(reason) => tracing::error!(%reason, "serving, but /health answers 503 and runs fail until this is fixed"),
    }
    Ok(service)
}

/// The store, with the executions the previous daemon left unfinished recorded as killed.
fn open_store(state_dir: &std::path::Path, delivering: bool) -> anyhow::Result<Arc<Store>> {
    let store = Arc::new(Store::open(&state_dir.join("executor.db"), delivering).map_err(|e| anyhow!("{e}"))?);
    let recovered = store.recover_interrupted().map_err(|e| anyhow!("{e}"))?;
    if !recovered.is_empty() {
        tracing::warn!(count = recovered.len(), ids = ?recovered, "executions cut short by the previous daemon are recorded as killed");
    }
    Ok(store)
}

async fn report_ready(deliverer: &Deliverer) {
    if let Err(e) = deliverer.report_ready().await {
        tracing::warn!(error = %e, "the control plane did not take the ready event");
    }
}

/// Delivers what is left in the outbox (a bounded time) and tells the control plane the
/// daemon exited.
async fn stop_delivery(deliverer: &Deliverer) {
    deliverer.flush(Duration::from_secs(5)).await;
    deliverer.stop();
    if let Err(e) = deliverer.report_exited(0, "sigterm").await {
        tracing::warn!(error = %e, "the control plane did not take the exited event");
    }
}

fn start_delivery(
    cp: &ControlPlaneArgs,
    url: &str,
    port: u16,
    store: &Arc<Store>,
    service: &Arc<ExecutionService>,
) -> anyhow::Result<Arc<Deliverer>> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let mut config = ControlPlaneConfig::new(url);
    config.token = cp.internal_api_token.clone();
    config.base_path = cp.callback_base_path.clone();
    config.heartbeat_interval = Duration::from_secs_f64(cp.heartbeat_interval_secs.max(0.1));
    config.max_age = Duration::from_secs(cp.delivery_max_age_secs);
    config.backoff_max = Duration::from_secs_f64(cp.delivery_backoff_max_secs.max(0.1));
    config.fallback_dir = Some(cp.results_fallback_dir.clone());
    config.container_id = std::env::var("CONTAINER_ID").unwrap_or_else(|_| host.clone());
    config.pod_name = std::env::var("POD_NAME").unwrap_or(host);
    config.executor_port = port;
    let deliverer = Deliverer::new(store.clone(), config).map_err(|e| anyhow!("{e}"))?;
    deliverer.start();
    let service = service.clone();
    deliverer.start_heartbeats(Arc::new(move || service.active_ids()));
    Ok(deliverer)
}

fn outbox_json(store: &Arc<Store>) -> Arc<dyn Fn() -> serde_json::Value + Send + Sync> {
    let store = store.clone();
    Arc::new(move || match store.counts() {
        Ok(c) => {
            serde_json::json!({"outbox_pending": c.pending, "outbox_delivered": c.delivered, "outbox_dead": c.dead})
        }
        Err(_) => serde_json::json!({}),
    })
}

/// Sets the outbox gauges from the store; called at each scrape of /metrics.
fn outbox_gauges(store: &Arc<Store>) -> Arc<dyn Fn() + Send + Sync> {
    let store = store.clone();
    Arc::new(move || {
        if let Ok(counts) = store.counts() {
            metrics::gauge!("sandbox_outbox_pending").set(counts.pending as f64);
            metrics::gauge!("sandbox_outbox_delivered").set(counts.delivered as f64);
            metrics::gauge!("sandbox_outbox_dead").set(counts.dead as f64);
        }
    })
}

/// `GET /outbox`: the counts and the newest dead letters, with why they were given up on.
fn outbox_report(store: &Arc<Store>) -> Arc<dyn Fn(&str) -> serde_json::Value + Send + Sync> {
    let store = store.clone();
    Arc::new(move |tenant| {
        let counts = store.counts().unwrap_or_default();
        let dead: Vec<serde_json::Value> = store
            .dead_letters(tenant, 100)
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                serde_json::json!({
                    "execution_id": d.execution_id,
                    "reason": d.reason,
                    "attempts": d.attempts,
                    "dead_at_ms": d.dead_at_ms,
                })
            })
            .collect();
        serde_json::json!({
            "pending": counts.pending,
            "delivered": counts.delivered,
            "dead": counts.dead,
            "dead_letters": dead,
        })
    })
}

async fn maintenance(store: Arc<Store>, retention: Duration) {
    let mut every = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        every.tick().await;
        let cutoff = executor::recorder::now_ms() - retention.as_millis() as i64;
        if let Err(e) = store.purge_finished_before(cutoff) {
            tracing::warn!(error = %e, "cannot purge expired execution records");
        }
    }
}

async fn first_signal() -> &'static str {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// A second signal ends the daemon at once; every accepted result is already committed to
/// the store, so the outbox is intact for the next start.
async fn exit_on_second_signal() {
    let reason = first_signal().await;
    tracing::warn!(signal = reason, "second signal: exiting now");
    std::process::exit(1);
}

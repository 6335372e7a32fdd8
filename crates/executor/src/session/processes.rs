//! A session's box and its processes: started on the first process asked for, it lives as
//! long as the session. Every protocol (our API, E2B's commands and terminals, MCP) starts,
//! lists, feeds, signals and reads processes here.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::boxed::BoxedProcess;
use super::egress;
use super::interpreter::Interpreter;
use super::live::Session;
use super::Sessions;
use crate::boxes::{
    BoxMetrics, BoxParts, LiveBox, ProcessEvent, ProcessInfo, ProcessOutput, ProcessStart, Started, TerminalSize,
};
use crate::{driver, runtime, spec, ExecuteError, Language};

impl Sessions {
    /// The session's box: the running one, or a new one when it has none (or its box ended).
    pub(crate) async fn box_of(&self, session: &Session) -> Result<Arc<LiveBox>, ExecuteError> {
        let mut slot = session.the_box.lock().await;
        if let Some(the_box) = slot.as_ref().filter(|b| b.alive()) {
            return Ok(Arc::clone(the_box));
        }
        if session.ended() {
            return Err(ExecuteError::SessionNotFound(session.id.clone()));
        }
        let the_box = Arc::new(self.start_box(session).await?);
        *slot = Some(Arc::clone(&the_box));
        Ok(the_box)
    }

    async fn start_box(&self, session: &Session) -> Result<LiveBox, ExecuteError> {
        let config = &self.sandboxes.config;
        let mut env_vars: BTreeMap<String, String> = egress::package_vars(session.egress.as_ref());
        let home = if session.home_alias { spec::rootfs::HOME_USER } else { spec::rootfs::WORKSPACE };
        env_vars.insert("HOME".into(), home.into());
        let parts = spec::BoxSpecParts {
            environment: Some(&session.environment),
            workspace: &session.workspace,
            env_vars: &env_vars,
            wall_time_ms: self.registry.config.max_lifetime_secs.saturating_mul(1000),
            home_alias: session.home_alias,
        };
        let mut spec = spec::box_spec(config, &self.sandboxes.cgroups, parts);
        let cancel = session.cancel.child_token();
        let door = egress::open_door(&self.sandboxes, session.egress.as_ref(), &session.id, &mut spec, &cancel)?;
        tracing::info!(session_id = %session.id, "starting the session's box");
        let launcher = Arc::clone(&self.sandboxes.launcher);
        let memory_bytes = config.limits.max_memory_mb * 1024 * 1024;
        LiveBox::start(BoxParts { launcher, spec, door, cancel, home: home.into(), memory_bytes }).await
    }

    /// The session's interpreter of `language` as a process of its box (E2B sandboxes: their
    /// cells see what their commands leave, in `/tmp` and on the loopback).
    pub(crate) async fn boxed_interpreter(
        &self,
        session: &Session,
        language: Language,
    ) -> Result<Interpreter, ExecuteError> {
        let the_box = self.box_of(session).await?;
        let runtimes = runtime::runtimes_for(&self.sandboxes.config, Some(&session.environment));
        let launch = runtime::session_launch(language, &runtimes)
            .ok_or_else(|| ExecuteError::invalid("language", format!("{} keeps no interpreter", language.name())))?;
        tracing::info!(session_id = %session.id, language = language.name(), "starting an interpreter in the box");
        let cancel = session.cancel.child_token();
        let (process, socket) = BoxedProcess::start(the_box, launch.argv, driver::SESSION_FD, cancel).await?;
        Ok(Interpreter::boxed(process, socket))
    }

    /// The session's box if it has one running.
    async fn running_box(&self, id: &str, tenant: &str) -> Result<Option<Arc<LiveBox>>, ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        let slot = session.the_box.lock().await;
        Ok(slot.as_ref().filter(|b| b.alive()).cloned())
    }

    async fn with_box(&self, id: &str, tenant: &str, pid: i32) -> Result<Arc<LiveBox>, ExecuteError> {
        self.running_box(id, tenant).await?.ok_or(ExecuteError::ProcessNotFound(pid))
    }

    /// The session's usage over time: its box's samples (none yet, or no box: one sample of
    /// now, with nothing running), with its workspace's disk use where it is a filesystem of
    /// its own.
    pub async fn metrics(&self, id: &str, tenant: &str) -> Result<Vec<BoxMetrics>, ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        let running = session.the_box.lock().await.as_ref().filter(|b| b.alive()).cloned();
        let mut series = running.map(|b| b.metrics()).unwrap_or_default();
        if series.is_empty() {
            series.push(BoxMetrics {
                timestamp: std::time::SystemTime::now(),
                cpu_count: crate::boxes::cpu_count(),
                cpu_used_pct: 0.0,
                mem_used: Some(0),
                mem_total: self.sandboxes.config.limits.max_memory_mb * 1024 * 1024,
                disk: None,
            });
        }
        let disk = self.sandboxes.workspaces.size_capped().then(|| sandbox::host::filesystem_usage(&session.workspace));
        for sample in &mut series {
            sample.disk = disk.flatten();
        }
        Ok(series)
    }

    /// Starts a process in the session's box (the box starts with its first process).
    pub async fn start_process(&self, id: &str, tenant: &str, start: ProcessStart) -> Result<Started, ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        self.registry.reused();
        let the_box = self.box_of(&session).await?;
        the_box.spawn(start).await
    }

    /// The processes running in the session's box.
    pub async fn processes(&self, id: &str, tenant: &str) -> Result<Vec<ProcessInfo>, ExecuteError> {
        Ok(self.running_box(id, tenant).await?.map(|b| b.list()).unwrap_or_default())
    }

    /// Reads a running process's events from now on.
    pub async fn process_events(
        &self,
        id: &str,
        tenant: &str,
        pid: i32,
    ) -> Result<broadcast::Receiver<ProcessEvent>, ExecuteError> {
        self.with_box(id, tenant, pid).await?.subscribe(pid)
    }

    /// A process's output from offset `from` on, while it runs and a while after it ended
    /// (until its box ends).
    pub async fn process_output(
        &self,
        id: &str,
        tenant: &str,
        pid: i32,
        from: u64,
    ) -> Result<ProcessOutput, ExecuteError> {
        self.with_box(id, tenant, pid).await?.output(pid, from)
    }

    pub async fn process_input(&self, id: &str, tenant: &str, pid: i32, data: &[u8]) -> Result<(), ExecuteError> {
        self.with_box(id, tenant, pid).await?.input(pid, data).await
    }

    pub async fn close_process_input(&self, id: &str, tenant: &str, pid: i32) -> Result<(), ExecuteError> {
        self.with_box(id, tenant, pid).await?.close_input(pid).await
    }

    pub async fn signal_process(&self, id: &str, tenant: &str, pid: i32, signal: i32) -> Result<(), ExecuteError> {
        self.with_box(id, tenant, pid).await?.signal(pid, signal).await
    }

    pub async fn resize_process(
        &self,
        id: &str,
        tenant: &str,
        pid: i32,
        size: TerminalSize,
    ) -> Result<(), ExecuteError> {
        self.with_box(id, tenant, pid).await?.resize(pid, size).await
    }

    /// A TCP connection to `port` on the session's box's loopback (the box starts if it has
    /// none yet, and then nothing listens).
    pub async fn connect_port(&self, id: &str, tenant: &str, port: u16) -> Result<tokio::net::TcpStream, ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        let the_box = self.box_of(&session).await?;
        the_box.connect(port).await
    }
}

//! The E2B sandboxes this daemon serves: each is one session of the service, with what E2B
//! adds to it (its owner's tenant, access tokens, metadata, environment variables,
//! code contexts). The session owns its lifetime: when it ends (its E2B timeout reached,
//! killed, the daemon stopping), the sandbox is gone for every API at once.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use executor::Language;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A command running in a sandbox: its configuration as `Process.List` shows it, and what
/// kills it.
struct Running {
    config: serde_json::Value,
    kill: tokio_util::sync::CancellationToken,
}

/// A code context of a sandbox's code interpreter.
#[derive(Debug, Clone)]
pub struct Context {
    pub id: String,
    pub language: Language,
    pub cwd: String,
    /// Cells run in it so far.
    pub executions: u64,
}

impl Context {
    /// The name of its own interpreter in the session, for a context created explicitly; a
    /// language's default context uses the language's interpreter.
    pub fn interpreter(&self) -> Option<&str> {
        (self.id != self.language.name()).then_some(self.id.as_str())
    }
}

/// One E2B sandbox: a session of the service (same id) and its E2B attributes.
pub struct Sandbox {
    pub id: String,
    pub tenant: String,
    pub template_id: String,
    pub envd_token: String,
    pub traffic_token: String,
    pub started_at: SystemTime,
    pub metadata: BTreeMap<String, String>,
    pub env_vars: BTreeMap<String, String>,
    /// Whether its ports are open to anyone (`network.allowPublicTraffic`, true unless the
    /// creator said false); else a request to a port must carry its traffic token.
    pub public_traffic: bool,
    contexts: Mutex<Vec<Context>>,
    /// The process ids handed out so far.
    next_pid: Mutex<u32>,
    /// The commands running, by pid: their configuration as `Process.List` shows it.
    processes: Mutex<BTreeMap<u32, Running>>,
}

/// What a new sandbox is made of.
pub struct NewSandbox {
    pub id: String,
    pub tenant: String,
    pub template_id: String,
    pub metadata: BTreeMap<String, String>,
    pub env_vars: BTreeMap<String, String>,
    pub public_traffic: bool,
}

impl Sandbox {
    pub fn new(new: NewSandbox) -> Sandbox {
        let now = SystemTime::now();
        Sandbox {
            id: new.id,
            tenant: new.tenant,
            template_id: new.template_id,
            envd_token: random_token(),
            traffic_token: random_token(),
            started_at: now,
            metadata: new.metadata,
            env_vars: new.env_vars,
            public_traffic: new.public_traffic,
            contexts: Mutex::new(Vec::new()),
            next_pid: Mutex::new(1000),
            processes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `presented` is one of the sandbox's access tokens (compared in constant time).
    pub fn accepts(&self, presented: &str) -> bool {
        let digest = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        let p = digest(presented);
        let envd: bool = p.ct_eq(&digest(&self.envd_token)).into();
        let traffic: bool = p.ct_eq(&digest(&self.traffic_token)).into();
        !presented.is_empty() && (envd | traffic)
    }

    /// Whether `presented` is the sandbox's traffic token (compared in constant time).
    pub fn is_traffic_token(&self, presented: &str) -> bool {
        let digest = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        !presented.is_empty() && bool::from(digest(presented).ct_eq(&digest(&self.traffic_token)))
    }

    pub fn new_pid(&self) -> u32 {
        let mut pid = self.next_pid.lock().unwrap_or_else(|p| p.into_inner());
        *pid += 1;
        *pid
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Running>> {
        self.processes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a running command, its configuration and what kills it.
    pub fn started(&self, pid: u32, config: serde_json::Value, kill: tokio_util::sync::CancellationToken) {
        self.processes().insert(pid, Running { config, kill });
    }

    pub fn ended(&self, pid: u32) {
        if let Some(running) = self.processes().remove(&pid) {
            // Ends the task that would have killed it.
            running.kill.cancel();
        }
    }

    pub fn running(&self) -> Vec<(u32, serde_json::Value)> {
        self.processes().iter().map(|(pid, running)| (*pid, running.config.clone())).collect()
    }

    /// Kills the running command `pid`; false if there is none.
    pub fn kill(&self, pid: u32) -> bool {
        self.processes().get(&pid).map(|running| running.kill.cancel()).is_some()
    }

    fn contexts(&self) -> std::sync::MutexGuard<'_, Vec<Context>> {
        self.contexts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The language's default context, created on first use.
    pub fn default_context(&self, language: Language) -> Context {
        let mut contexts = self.contexts();
        let id = language.name().to_string();
        if let Some(found) = contexts.iter().find(|c| c.id == id) {
            return found.clone();
        }
        let context = Context { id, language, cwd: "/home/user".into(), executions: 0 };
        contexts.push(context.clone());
        context
    }

    pub fn add_context(&self, language: Language, cwd: String) -> Context {
        let id = uuid::Uuid::new_v4().to_string();
        let context = Context { id, language, cwd, executions: 0 };
        self.contexts().push(context.clone());
        context
    }

    pub fn context(&self, id: &str) -> Option<Context> {
        self.contexts().iter().find(|c| c.id == id).cloned()
    }

    pub fn list_contexts(&self) -> Vec<Context> {
        self.contexts().clone()
    }

    pub fn remove_context(&self, id: &str) -> bool {
        let mut contexts = self.contexts();
        let before = contexts.len();
        contexts.retain(|c| c.id != id);
        contexts.len() != before
    }

    /// Counts one more cell of the context `id`; its new count.
    pub fn count_execution(&self, id: &str) -> u64 {
        let mut contexts = self.contexts();
        match contexts.iter_mut().find(|c| c.id == id) {
            Some(c) => {
                c.executions += 1;
                c.executions
            }
            None => 1,
        }
    }
}

/// The live E2B sandboxes of the daemon.
#[derive(Default)]
pub struct Sandboxes {
    live: Mutex<HashMap<String, Arc<Sandbox>>>,
}

impl Sandboxes {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Sandbox>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, sandbox: Arc<Sandbox>) {
        self.live().insert(sandbox.id.clone(), sandbox);
    }

    /// The sandbox `id`, whoever owns it (the sandbox plane checks its access token).
    pub fn any(&self, id: &str) -> Option<Arc<Sandbox>> {
        self.live().get(id).cloned()
    }

    /// The sandbox `id` of `tenant`: another tenant's does not exist for it.
    pub fn get(&self, id: &str, tenant: &str) -> Option<Arc<Sandbox>> {
        self.any(id).filter(|s| s.tenant == tenant)
    }

    pub fn remove(&self, id: &str, tenant: &str) -> Option<Arc<Sandbox>> {
        let mut live = self.live();
        match live.get(id) {
            Some(s) if s.tenant == tenant => live.remove(id),
            _ => None,
        }
    }

    /// The tenant's sandboxes, oldest first.
    pub fn list(&self, tenant: &str) -> Vec<Arc<Sandbox>> {
        let mut mine: Vec<_> = self.live().values().filter(|s| s.tenant == tenant).cloned().collect();
        mine.sort_by_key(|s| s.started_at);
        mine
    }

    /// Forgets the sandbox `id` once `ended` (its session's end) resolves.
    pub fn forget_when(self: &Arc<Self>, id: String, ended: impl Future<Output = ()> + Send + 'static) {
        let sandboxes: Weak<Sandboxes> = Arc::downgrade(self);
        tokio::spawn(async move {
            ended.await;
            if let Some(sandboxes) = sandboxes.upgrade() {
                sandboxes.live().remove(&id);
            }
        });
    }
}

/// The tenant an E2B API key stands for: keys are never stored, only this digest of them.
pub fn tenant_of_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("e2b-{hex}")
}

fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

//! The commands running in each E2B sandbox, as envd's Process service lists and signals
//! them: pids handed out per sandbox, each command's configuration and what kills it. A
//! sandbox's table goes when its session ends.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};

use tokio_util::sync::CancellationToken;

/// A command running in a sandbox: its configuration as `Process.List` shows it, and what
/// kills it.
struct Running {
    config: serde_json::Value,
    kill: CancellationToken,
}

/// The commands of one sandbox.
pub struct ProcessTable {
    /// The process ids handed out so far.
    next_pid: Mutex<u32>,
    /// The commands running, by pid.
    processes: Mutex<BTreeMap<u32, Running>>,
}

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable { next_pid: Mutex::new(1000), processes: Mutex::new(BTreeMap::new()) }
    }
}

impl ProcessTable {
    pub fn new_pid(&self) -> u32 {
        let mut pid = self.next_pid.lock().unwrap_or_else(|p| p.into_inner());
        *pid += 1;
        *pid
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Running>> {
        self.processes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a running command, its configuration and what kills it.
    pub fn started(&self, pid: u32, config: serde_json::Value, kill: CancellationToken) {
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
}

/// The process tables of the live sandboxes, by sandbox id.
#[derive(Default)]
pub struct ProcessTables {
    tables: Mutex<HashMap<String, Arc<ProcessTable>>>,
}

impl ProcessTables {
    fn tables(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ProcessTable>>> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table of sandbox `id`, made on first use and forgotten once `ended` (its
    /// session's end) resolves.
    pub fn of(self: &Arc<Self>, id: &str, ended: Pin<Box<dyn Future<Output = ()> + Send>>) -> Arc<ProcessTable> {
        let mut tables = self.tables();
        if let Some(table) = tables.get(id) {
            return Arc::clone(table);
        }
        let table = Arc::new(ProcessTable::default());
        tables.insert(id.to_string(), Arc::clone(&table));
        let weak: Weak<ProcessTables> = Arc::downgrade(self);
        let id = id.to_string();
        tokio::spawn(async move {
            ended.await;
            if let Some(tables) = weak.upgrade() {
                tables.tables().remove(&id);
            }
        });
        table
    }
}

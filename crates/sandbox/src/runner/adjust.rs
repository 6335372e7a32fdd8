//! A sandbox whose limits the daemon changes from outside after its start: a sandbox started
//! ahead of its run gets the run's own limits when a request claims it, before the run is
//! handed to it. What cannot be applied is refused, and the sandbox must then not take the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustix::process::{getrlimit, prlimit, Gid, Pid, Resource, Rlimit, Uid};
use rustix::thread::{set_thread_res_gid, set_thread_res_uid};

use crate::cgroup::{Limiter, RunLimits};
use crate::spec::Limits;

/// Why a limit could not be applied to a waiting sandbox: it must then not take the run.
#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    #[error("the sandbox has not started")]
    NotStarted,
    #[error("the sandbox's program is not running")]
    NotRunning,
    #[error("cgroup limits: {0}")]
    Cgroup(std::io::Error),
    #[error("prlimit {resource:?} of {pid:?}: {error}")]
    Rlimit { resource: Resource, pid: Pid, error: rustix::io::Errno },
    #[error("cannot read the ids of {0}")]
    Ids(i32),
    #[error("{0}: {1}")]
    TakeIds(&'static str, rustix::io::Errno),
    #[error("the thread setting the limits panicked")]
    Panicked,
}

/// Shared by the runner of one sandbox (which fills in where its limits live once it has
/// started it) and its owner (which changes them).
#[derive(Debug)]
pub struct Adjustable {
    /// Bytes kept of each output stream; read by the capture as output arrives.
    pub(super) output_cap: Arc<AtomicU64>,
    started: Mutex<Option<Started>>,
}

#[derive(Debug)]
struct Started {
    /// The run's cgroup, if it has one.
    cgroup: Option<Limiter>,
    /// The launcher, outside the sandbox: the program is its grandchild (under init).
    launcher: u32,
}

impl Adjustable {
    pub fn new(output_cap: u64) -> Arc<Adjustable> {
        Arc::new(Adjustable { output_cap: Arc::new(AtomicU64::new(output_cap)), started: Mutex::new(None) })
    }

    pub fn output_cap(&self) -> u64 {
        self.output_cap.load(Ordering::SeqCst)
    }

    /// What the sandbox's cgroup holds now, once it started with one.
    pub fn usage_now(&self) -> Option<crate::cgroup::LiveUsage> {
        let started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        started.as_ref()?.cgroup.as_ref().map(Limiter::now)
    }

    pub(super) fn started(&self, cgroup: Option<Limiter>, launcher: u32) {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(Started { cgroup, launcher });
    }

    /// Gives the waiting sandbox `limits` (its cgroup's memory and processes, the program's
    /// process and data rlimits) and keeps `output_cap` bytes of each stream from now on.
    /// An error means some limit may not hold: the sandbox must not take the run.
    pub fn apply(&self, limits: &Limits, output_cap: u64) -> Result<(), AdjustError> {
        let launcher = self.apply_cgroup(limits, output_cap)?;
        let program = program_processes(launcher);
        if program.is_empty() {
            return Err(AdjustError::NotRunning);
        }
        let mut rlimits = vec![(Resource::Nproc, limits.processes)];
        rlimits.extend(limits.data_bytes.map(|bytes| (Resource::Data, bytes)));
        // As a fresh sandbox's program sets them: never above the hard limit the daemon (and
        // so every launcher) has.
        for (resource, value) in rlimits.iter_mut() {
            *value = getrlimit(*resource).maximum.map_or(*value, |hard| (*value).min(hard));
        }
        set_rlimits(&program, &rlimits)
    }

    /// [`Adjustable::apply`] for a sandbox whose program sets its rlimits itself (one that
    /// awaits a claim, which carries them): the cgroup's limits and the output cap only.
    /// Returns the launcher's pid.
    pub fn apply_cgroup(&self, limits: &Limits, output_cap: u64) -> Result<u32, AdjustError> {
        let started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let Some(started) = started.as_ref() else { return Err(AdjustError::NotStarted) };
        // Without a cgroup here the rlimits are all the limits a fresh sandbox gets too.
        if let Some(cgroup) = &started.cgroup {
            let run = RunLimits { memory_bytes: limits.memory_bytes, processes: limits.pids };
            cgroup.set(&run).map_err(AdjustError::Cgroup)?;
        }
        self.output_cap.store(output_cap, Ordering::SeqCst);
        Ok(started.launcher)
    }
}

/// Sets `rlimits` on each of `pids`. prlimit(2) on a process of other ids needs
/// CAP_SYS_RESOURCE over its user namespace, which a root daemon may lack (a container may
/// drop it); on a process of the same ids it needs none. So a root daemon sets them from a
/// thread of its own that takes the program's ids (on Linux, ids are a thread's) and ends.
fn set_rlimits(pids: &[i32], rlimits: &[(Resource, u64)]) -> Result<(), AdjustError> {
    let set = || -> Result<(), AdjustError> {
        for pid in pids.iter().filter_map(|&pid| Pid::from_raw(pid)) {
            for &(resource, value) in rlimits {
                let limit = Rlimit { current: Some(value), maximum: Some(value) };
                prlimit(Some(pid), resource, limit).map_err(|error| AdjustError::Rlimit { resource, pid, error })?;
            }
        }
        Ok(())
    };
    let Some(&first) = pids.first() else { return Ok(()) };
    if !rustix::process::geteuid().is_root() {
        return set();
    }
    let (uid, gid) = ids_of(first).ok_or(AdjustError::Ids(first))?;
    if uid == 0 {
        return set();
    }
    let as_the_program = || -> Result<(), AdjustError> {
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        set_thread_res_gid(gid, gid, gid).map_err(|e| AdjustError::TakeIds("setresgid", e))?;
        set_thread_res_uid(uid, uid, uid).map_err(|e| AdjustError::TakeIds("setresuid", e))?;
        set()
    };
    let done = std::thread::scope(|scope| scope.spawn(as_the_program).join());
    // A thread's change of ids made the daemon's memory non-dumpable: it was dumpable.
    let _ = nix::sys::prctl::set_dumpable(true);
    done.unwrap_or(Err(AdjustError::Panicked))
}

/// The real uid and gid of `pid`, from its status.
fn ids_of(pid: i32) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let first = |key: &str| -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    Some((first("Uid:")?, first("Gid:")?))
}

/// The program of the sandbox under `launcher` and every process it started: the
/// descendants of the sandbox's init, the launcher's child.
fn program_processes(launcher: u32) -> Vec<i32> {
    let init = children(launcher as i32);
    let mut found = Vec::new();
    let mut next: Vec<i32> = init.iter().flat_map(|&pid| children(pid)).collect();
    while let Some(pid) = next.pop() {
        found.push(pid);
        next.extend(children(pid));
    }
    found
}

/// The children of `pid`, from each of its threads' `children` file.
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<i32>>())
        .collect()
}

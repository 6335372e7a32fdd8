//! Reading and writing cgroup control files, and the parts of a run's cgroup life that are
//! the same on v1 and v2: joining, killing what is left, removing.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| annotate(&path, e))
}

/// Makes one cgroup directory; the error names it.
pub fn make_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir(dir).map_err(|e| annotate(dir, e))
}

/// Whether this daemon can make a run's cgroup under `parent` and move a process into it: a
/// parent that exists (made by a root daemon, say) may still not be this daemon's to write.
/// Makes and removes a probe cgroup; the error says what was refused.
pub fn probe(parent: &Path) -> Result<(), ProbeError> {
    let dir = parent.join(format!("{}-probe", super::own_tag()));
    if let Err(source) = std::fs::create_dir(&dir) {
        let owner = std::fs::metadata(parent).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
        let whose = match owner {
            Ok(uid) => format!(" (owned by uid {uid}; this daemon runs as uid {})", nix::unistd::geteuid()),
            Err(_) => String::new(),
        };
        return Err(ProbeError::Create { parent: parent.into(), whose, source });
    }
    let procs = dir.join("cgroup.procs");
    // Opened for writing, not written: nothing moves. A fake cgroup in a test is a plain
    // directory, so the file is made there.
    let writable = std::fs::OpenOptions::new().write(true).create(cfg!(test)).truncate(false).open(&procs);
    let _ = remove(&dir);
    writable.map(drop).map_err(|source| ProbeError::Move { procs, source })
}

/// What the probe of a cgroup parent was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot create a run's cgroup in {}{whose}: {source}", parent.display())]
    Create { parent: PathBuf, whose: String, source: io::Error },
    #[error("cannot move a run into its cgroup: {}: {source}", procs.display())]
    Move { procs: PathBuf, source: io::Error },
}

pub fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

pub fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// The value of `key` in a flat keyed file (`key value` per line: memory.events, cpu.stat,
/// pids.events, memory.oom_control).
pub fn keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    read(dir, file)?.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn annotate(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

pub fn procs(dir: &Path) -> Vec<i32> {
    read(dir, "cgroup.procs").map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect()).unwrap_or_default()
}

/// Moves a process (all its threads) into the cgroup at `dir`.
pub fn join(dir: &Path, pid: u32) -> io::Result<()> {
    write(dir, "cgroup.procs", &pid.to_string())
}

/// SIGKILLs every process of the cgroup until none is left (new ones may be forked while
/// the list is read, so it goes round again). Returns whether it emptied.
pub fn kill_all(dir: &Path) -> bool {
    if dir.join("cgroup.kill").exists() {
        let _ = write(dir, "cgroup.kill", "1");
    }
    for _ in 0..100 {
        let pids = procs(dir);
        if pids.is_empty() {
            return true;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    procs(dir).is_empty()
}

/// Removes an emptied cgroup; a process that was just killed may take a moment to leave it.
pub fn remove(dir: &Path) -> io::Result<()> {
    let mut last = None;
    for _ in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // A fake cgroup in a test is a plain directory with files in it.
            Err(_) if cfg!(test) => return std::fs::remove_dir_all(dir),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(annotate(dir, last.unwrap_or_else(|| io::Error::other("busy"))))
}

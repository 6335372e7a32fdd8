//! One state directory, one daemon: `serve` holds an exclusive lock on a file in it for its
//! whole life. A second daemon on the same directory would recover the first one's live runs
//! as crashed and remove its workspaces; it is refused before it touches anything.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{anyhow, Context};

/// The lock file's name in the state directory; it holds the pid of the daemon holding it.
pub const LOCK_FILE: &str = "daemon.lock";

/// Held while the daemon runs; the kernel releases the lock when the process ends, however
/// it ends, so a crashed daemon never blocks the next one.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of `state_dir` (creating the directory if needed), or says which
    /// daemon holds it.
    pub fn take(state_dir: &Path) -> anyhow::Result<StateLock> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
        let path = state_dir.join(LOCK_FILE);
        // Not truncated on open: the holder's pid must stay readable for the refused one.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(refused(state_dir, &path, &mut file)),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let written = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| {
            file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
            file.flush()
        });
        written.with_context(|| format!("cannot write the daemon's pid into {}", path.display()))?;
        Ok(StateLock { _file: file })
    }
}

fn refused(state_dir: &Path, path: &Path, file: &mut File) -> anyhow::Error {
    let mut text = String::new();
    let holder = match file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse::<u32>().ok()) {
        Some(pid) => format!("pid {pid}"),
        None => "a process whose pid it does not record".to_string(),
    };
    anyhow!(
        "refusing to start: another daemon ({holder}) is running on the state directory {} (it holds {}). \
         Stop it first, or give this one its own STATE_DIR",
        state_dir.display(),
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = StateLock::take(dir.path()).unwrap();
        let refused = StateLock::take(dir.path()).unwrap_err().to_string();
        assert!(refused.contains(&format!("pid {}", std::process::id())), "{refused}");
        assert!(refused.contains(&dir.path().display().to_string()), "{refused}");
        drop(held);
        StateLock::take(dir.path()).expect("free again once the holder is gone");
    }
}

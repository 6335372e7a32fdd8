//! The launcher process of a run, whichever way it was started.

use tokio::io::AsyncRead;

pub(super) type Stream = Box<dyn AsyncRead + Unpin + Send>;

/// The launcher of a run: executed by the daemon, or forked by a zygote.
pub(super) enum LauncherProcess {
    Executed(tokio::process::Child),
    Forked(crate::zygote::Forked),
}

impl LauncherProcess {
    pub fn id(&self) -> Option<u32> {
        match self {
            LauncherProcess::Executed(child) => child.id(),
            LauncherProcess::Forked(forked) => Some(forked.pid()),
        }
    }

    pub fn start_kill(&mut self) {
        match self {
            LauncherProcess::Executed(child) => drop(child.start_kill()),
            LauncherProcess::Forked(forked) => forked.kill(),
        }
    }

    pub async fn wait(&mut self) {
        match self {
            LauncherProcess::Executed(child) => drop(child.wait().await),
            LauncherProcess::Forked(forked) => forked.exited().await,
        }
    }
}

//! The proxied connections open at once, per session and per tenant: a new one past either
//! cap is refused before anything is opened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The connections open now, and the caps.
pub struct Connections {
    max_per_session: usize,
    max_per_tenant: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    sessions: HashMap<String, usize>,
    tenants: HashMap<String, usize>,
}

/// Why a connection was refused: the cap that is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Session(usize),
    Tenant(usize),
}

impl Refused {
    pub fn limit(self) -> usize {
        match self {
            Refused::Session(limit) | Refused::Tenant(limit) => limit,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Session(n) => write!(f, "the session has {n} proxied connections open, the most it may"),
            Refused::Tenant(n) => {
                write!(f, "the tenant's sessions have {n} proxied connections open, the most they may")
            }
        }
    }
}

/// One open connection, counted until dropped.
pub struct ConnectionGuard {
    connections: Arc<Connections>,
    session: String,
    tenant: String,
}

impl Connections {
    pub fn new(max_per_session: usize, max_per_tenant: usize) -> Arc<Connections> {
        Arc::new(Connections { max_per_session, max_per_tenant, open: Mutex::new(Open::default()) })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more connection to `session` of `tenant`, unless a cap is reached.
    pub fn try_open(self: &Arc<Self>, session: &str, tenant: &str) -> Result<ConnectionGuard, Refused> {
        let mut open = self.open();
        let in_session = open.sessions.get(session).copied().unwrap_or(0);
        if in_session >= self.max_per_session {
            return Err(Refused::Session(self.max_per_session));
        }
        if open.tenants.get(tenant).copied().unwrap_or(0) >= self.max_per_tenant {
            return Err(Refused::Tenant(self.max_per_tenant));
        }
        open.sessions.insert(session.to_string(), in_session + 1);
        *open.tenants.entry(tenant.to_string()).or_insert(0) += 1;
        Ok(ConnectionGuard { connections: Arc::clone(self), session: session.to_string(), tenant: tenant.to_string() })
    }

    /// The connections open now to `session`.
    pub fn open_to(&self, session: &str) -> usize {
        self.open().sessions.get(session).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.connections.open();
        let Open { sessions, tenants } = &mut *open;
        for (counts, key) in [(sessions, &self.session), (tenants, &self.tenant)] {
            if let Some(n) = counts.get_mut(key.as_str()) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(key.as_str());
                }
            }
        }
    }
}

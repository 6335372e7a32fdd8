//! When a session ends by itself, as every API sees it: idle past its TTL, or at an explicit
//! end (an E2B sandbox's timeout), never past the operator's lifetime cap. The reaper of
//! [`Sessions`] is the one thing that ends it then.

use std::future::Future;
use std::time::{Duration, SystemTime};

use super::Sessions;
use crate::{ExecuteError, Language};

impl Sessions {
    /// The session `id` of `tenant` now ends `after` from now, however idle or busy, at most
    /// at the lifetime cap; when it then ends.
    pub fn end_in(&self, id: &str, tenant: &str, after: Duration) -> Result<SystemTime, ExecuteError> {
        let session = self.registry.peek(id, tenant)?;
        Ok(session.end_in(after, self.registry.lifetime()))
    }

    /// When the live session `id` of `tenant` ends if nothing else happens.
    pub fn ends_at(&self, id: &str, tenant: &str) -> Result<SystemTime, ExecuteError> {
        Ok(self.registry.peek(id, tenant)?.ends_at(self.registry.lifetime()))
    }

    /// Resolves once the session `id` of `tenant` has ended, however it ended.
    pub fn ended(&self, id: &str, tenant: &str) -> Result<impl Future<Output = ()> + Send + 'static, ExecuteError> {
        Ok(self.registry.peek(id, tenant)?.cancel.clone().cancelled_owned())
    }

    /// Makes room for the named context `name` of `language` in the session, counted
    /// against its interpreter cap from now on (its interpreter starts with its first cell).
    pub fn open_context(&self, id: &str, tenant: &str, name: &str, language: Language) -> Result<(), ExecuteError> {
        self.registry.peek(id, tenant)?.context_slot(name, language).map(drop)
    }
}

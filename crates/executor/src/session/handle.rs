//! A live session as a protocol sees it (an E2B sandbox): its identity, what it was created
//! with, its code contexts; and the pages of a tenant's sessions, filtered and in order.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

use super::attributes::{AccessTokens, SessionAttributes};
use super::contexts::CodeContext;
use super::live::Session;
use crate::{ExecuteError, Language};

/// A live session, shared with the registry: what it says of itself is always current.
#[derive(Clone)]
pub struct SessionHandle(pub(crate) Arc<Session>);

impl SessionHandle {
    pub fn id(&self) -> &str {
        &self.0.id
    }

    pub fn tenant(&self) -> &str {
        &self.0.tenant
    }

    pub fn attributes(&self) -> &SessionAttributes {
        &self.0.attributes
    }

    /// Its access tokens, when it was created with some.
    pub fn tokens(&self) -> Option<&AccessTokens> {
        self.0.tokens.as_ref()
    }

    /// The template as its caller named it.
    pub fn template_label(&self) -> &str {
        self.0.attributes.template_label.as_deref().unwrap_or(&self.0.template.name)
    }

    pub fn created(&self) -> SystemTime {
        self.0.created
    }

    /// Whether its ports may only be reached with its traffic token.
    pub fn ports_need_token(&self) -> bool {
        self.0.attributes.private_ports
    }

    /// Whether it has a network (an egress policy).
    pub fn has_network(&self) -> bool {
        self.0.egress.is_some()
    }

    /// Its egress policy; `None`: no network.
    pub fn egress(&self) -> Option<&crate::EgressPolicy> {
        self.0.egress.as_ref()
    }

    /// The language's default code context, made on first use.
    pub fn default_context(&self, language: Language) -> CodeContext {
        self.0.code_contexts.default_for(language)
    }

    /// A new code context (its interpreter starts with its first cell).
    pub fn add_context(&self, language: Language, cwd: String) -> CodeContext {
        self.0.code_contexts.add(language, cwd)
    }

    pub fn context(&self, id: &str) -> Option<CodeContext> {
        self.0.code_contexts.get(id)
    }

    pub fn list_contexts(&self) -> Vec<CodeContext> {
        self.0.code_contexts.list()
    }

    pub fn remove_context(&self, id: &str) -> bool {
        self.0.code_contexts.remove(id)
    }

    /// Counts one more cell of the context `id`; its new count.
    pub fn count_execution(&self, id: &str) -> u64 {
        self.0.code_contexts.count_execution(id)
    }
}

/// The order of a list: by creation time, then id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// Which of a tenant's sessions a list shows, in which order, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    /// Every pair must be in the session's metadata.
    pub metadata: Vec<(String, String)>,
    /// The template as the caller named it, or its own name.
    pub template: Option<String>,
    /// Created at or after this time.
    pub started_after: Option<SystemTime>,
    pub order: ListOrder,
    /// The most a page holds (at least 1).
    pub limit: usize,
    /// The cursor a previous page gave: this page starts after it.
    pub after: Option<String>,
}

/// One page of a list, and the cursor of the next when there are more.
pub struct SessionPage {
    pub sessions: Vec<SessionHandle>,
    pub next: Option<String>,
}

type Key = (Duration, String);

fn key(session: &Session) -> Key {
    (session.created.duration_since(UNIX_EPOCH).unwrap_or_default(), session.id.clone())
}

fn cursor((at, id): &Key) -> String {
    let text = format!("{}:{id}", at.as_nanos());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn parse_cursor(text: &str) -> Result<Key, ExecuteError> {
    let bad = || ExecuteError::invalid("next_token", "is not a cursor this server gave");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (nanos, id) = text.split_once(':').ok_or_else(bad)?;
    let nanos: u128 = nanos.parse().map_err(|_| bad())?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad())?;
    Ok((Duration::new(secs, (nanos % 1_000_000_000) as u32), id.to_string()))
}

/// The page of `sessions` (one tenant's) that `query` asks for.
pub(crate) fn page(sessions: Vec<Arc<Session>>, query: &SessionQuery) -> Result<SessionPage, ExecuteError> {
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    let wanted = |s: &Session| {
        let label = s.attributes.template_label.as_deref();
        query.metadata.iter().all(|(k, v)| s.attributes.metadata.get(k) == Some(v))
            && query.template.as_ref().is_none_or(|t| label == Some(t.as_str()) || *t == s.template.name)
            && query.started_after.is_none_or(|t| s.created >= t)
    };
    let mut keyed: Vec<(Key, Arc<Session>)> =
        sessions.into_iter().filter(|s| wanted(s)).map(|s| (key(&s), s)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if query.order == ListOrder::NewestFirst {
        keyed.reverse();
    }
    let past = |k: &Key| match (&after, query.order) {
        (None, _) => true,
        (Some(a), ListOrder::NewestFirst) => k < a,
        (Some(a), ListOrder::OldestFirst) => k > a,
    };
    let mut rest: Vec<(Key, Arc<Session>)> = keyed.into_iter().filter(|(k, _)| past(k)).collect();
    let limit = query.limit.max(1);
    let next = (rest.len() > limit).then(|| cursor(&rest[limit - 1].0));
    rest.truncate(limit);
    Ok(SessionPage { sessions: rest.into_iter().map(|(_, s)| SessionHandle(s)).collect(), next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let k = (Duration::new(1_765_000_000, 123_456_789), "abc123def456".to_string());
        assert_eq!(parse_cursor(&cursor(&k)).unwrap(), k);
        for bad in ["", "!!", "bm90IGEgY3Vyc29y"] {
            assert!(matches!(parse_cursor(bad), Err(ExecuteError::Invalid { .. })), "{bad}");
        }
    }
}

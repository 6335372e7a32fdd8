//! A session's code contexts: each a named interpreter of the session (its variables its
//! own), with the language and working directory it was made with and the cells it ran.
//! A language's default context is the session's interpreter of that language.

use std::sync::Mutex;

use crate::Language;

/// The home the contexts start in, as the session's code sees it.
const HOME: &str = "/home/user";

/// A code context of a session.
#[derive(Debug, Clone)]
pub struct CodeContext {
    pub id: String,
    pub language: Language,
    pub cwd: String,
    /// Cells run in it so far.
    pub executions: u64,
}

impl CodeContext {
    /// The name of its own interpreter in the session, for a context created explicitly; a
    /// language's default context uses the language's interpreter.
    pub fn interpreter(&self) -> Option<&str> {
        (self.id != self.language.name()).then_some(self.id.as_str())
    }
}

/// The contexts of one session, in the order they were made.
#[derive(Debug, Default)]
pub(crate) struct CodeContexts(Mutex<Vec<CodeContext>>);

impl CodeContexts {
    fn all(&self) -> std::sync::MutexGuard<'_, Vec<CodeContext>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The language's default context, made on first use.
    pub fn default_for(&self, language: Language) -> CodeContext {
        let mut contexts = self.all();
        let id = language.name().to_string();
        if let Some(found) = contexts.iter().find(|c| c.id == id) {
            return found.clone();
        }
        let context = CodeContext { id, language, cwd: HOME.into(), executions: 0 };
        contexts.push(context.clone());
        context
    }

    pub fn add(&self, language: Language, cwd: String) -> CodeContext {
        let context = CodeContext { id: uuid::Uuid::new_v4().to_string(), language, cwd, executions: 0 };
        self.all().push(context.clone());
        context
    }

    pub fn get(&self, id: &str) -> Option<CodeContext> {
        self.all().iter().find(|c| c.id == id).cloned()
    }

    pub fn list(&self) -> Vec<CodeContext> {
        self.all().clone()
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut contexts = self.all();
        let before = contexts.len();
        contexts.retain(|c| c.id != id);
        contexts.len() != before
    }

    /// Counts one more cell of the context `id`; its new count.
    pub fn count_execution(&self, id: &str) -> u64 {
        match self.all().iter_mut().find(|c| c.id == id) {
            Some(c) => {
                c.executions += 1;
                c.executions
            }
            None => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_contexts_are_made_once_and_counted() {
        let contexts = CodeContexts::default();
        let python = contexts.default_for(Language::Python);
        assert_eq!(python.interpreter(), None);
        assert_eq!(contexts.default_for(Language::Python).id, python.id);
        assert_eq!(contexts.count_execution(&python.id), 1);
        assert_eq!(contexts.count_execution(&python.id), 2);
        let own = contexts.add(Language::Javascript, "/home/user/d".into());
        assert_eq!(own.interpreter(), Some(own.id.as_str()));
        assert_eq!(contexts.list().len(), 2);
        assert!(contexts.remove(&own.id));
        assert!(!contexts.remove(&own.id));
        assert!(contexts.get(&own.id).is_none());
    }
}

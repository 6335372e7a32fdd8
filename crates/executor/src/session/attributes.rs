//! What a session carries for the protocol that made it, set at its creation: the name its
//! caller gave its template, metadata and environment variables, whether it issues access
//! tokens (and them), and whether its ports are public. An E2B sandbox is a session with
//! these; the protocol reads them back, and never keeps a copy.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a new session carries besides its sandbox's configuration.
#[derive(Debug, Clone, Default)]
pub struct SessionAttributes {
    /// The template as its caller named it (an E2B template id), which lists filter on;
    /// `None`: the template's own name.
    pub template_label: Option<String>,
    /// The caller's labels, which lists filter on.
    pub metadata: BTreeMap<String, String>,
    /// Variables every command and cell of the session gets (a call's own win).
    pub env_vars: BTreeMap<String, String>,
    /// Whether the session issues access tokens (see [`AccessTokens`]).
    pub access_tokens: bool,
    /// Whether its ports may be reached without its traffic token (E2B's
    /// `allowPublicTraffic`, true unless asked otherwise).
    pub private_ports: bool,
}

/// The tokens that let a caller who does not hold the owner's API key use a session: the
/// envd token (its files, commands and cells) and the traffic token (its ports).
#[derive(Debug, Clone)]
pub struct AccessTokens {
    pub envd: String,
    pub traffic: String,
}

impl AccessTokens {
    pub(crate) fn issue() -> AccessTokens {
        AccessTokens { envd: random_token(), traffic: random_token() }
    }

    /// Whether `presented` is one of the tokens (compared in constant time).
    pub fn accepts(&self, presented: &str) -> bool {
        let digest = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        let p = digest(presented);
        let envd: bool = p.ct_eq(&digest(&self.envd)).into();
        let traffic: bool = p.ct_eq(&digest(&self.traffic)).into();
        !presented.is_empty() && (envd | traffic)
    }

    /// Whether `presented` is the traffic token (compared in constant time).
    pub fn accepts_traffic(&self, presented: &str) -> bool {
        let digest = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
        !presented.is_empty() && bool::from(digest(presented).ct_eq(&digest(&self.traffic)))
    }
}

fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issued_tokens_are_accepted() {
        let tokens = AccessTokens::issue();
        assert!(tokens.accepts(&tokens.envd));
        assert!(tokens.accepts(&tokens.traffic));
        assert!(!tokens.accepts(""));
        assert!(!tokens.accepts(&tokens.envd[1..]));
        assert!(tokens.accepts_traffic(&tokens.traffic));
        assert!(!tokens.accepts_traffic(&tokens.envd));
        assert_ne!(AccessTokens::issue().envd, tokens.envd);
    }
}

//! The flags of stateful sessions (`/session/*`), validated into a [`SessionConfig`].

use anyhow::bail;
use clap::Args;
use executor::SessionConfig;

fn sessions() -> SessionConfig {
    SessionConfig::default()
}

/// Stateful sessions (`/session/*`).
#[derive(Args, Debug, Clone)]
pub struct SessionArgs {
    /// Idle seconds after which a session expires when it asked for no `ttl`.
    #[arg(long, env = "SESSION_DEFAULT_TTL_SECS", default_value_t = sessions().default_ttl_secs)]
    pub session_default_ttl_secs: u64,
    /// The largest `ttl` a session may ask for (seconds).
    #[arg(long, env = "SESSION_MAX_TTL_SECS", default_value_t = sessions().max_ttl_secs)]
    pub session_max_ttl_secs: u64,
    /// Sessions alive at once, all tenants together; more get 429 Executor.SessionLimit.
    #[arg(long, env = "SESSION_MAX_COUNT", default_value_t = sessions().max_sessions)]
    pub session_max_count: usize,
    /// Sessions alive at once for one tenant; more get 429 Executor.SessionLimit.
    #[arg(long, env = "SESSION_MAX_PER_TENANT", default_value_t = sessions().max_per_tenant)]
    pub session_max_per_tenant: usize,
    /// The longest a session lives however busy it is (seconds).
    #[arg(long, env = "SESSION_MAX_LIFETIME_SECS", default_value_t = sessions().max_lifetime_secs)]
    pub session_max_lifetime_secs: u64,
    /// Interpreters one session may keep at once (a language's, and each named context's,
    /// E2B code contexts included); more get 429.
    #[arg(long, env = "SESSION_MAX_INTERPRETERS", default_value_t = sessions().max_interpreters)]
    pub session_max_interpreters: usize,
    /// File downloads under way at once, all tenants together (session files and E2B's
    /// /files); more get 503 Executor.QueueFull (E2B: 429) with Retry-After.
    #[arg(long, env = "SESSION_MAX_TRANSFERS", default_value_t = sessions().max_transfers)]
    pub session_max_transfers: usize,
    /// File downloads under way at once for one tenant; more are refused likewise.
    #[arg(long, env = "SESSION_MAX_TRANSFERS_PER_TENANT", default_value_t = sessions().max_transfers_per_tenant)]
    pub session_max_transfers_per_tenant: usize,
}

impl SessionArgs {
    pub fn into_config(self) -> anyhow::Result<executor::SessionConfig> {
        if self.session_max_ttl_secs == 0 {
            bail!("--session-max-ttl-secs must be at least 1");
        }
        if self.session_default_ttl_secs == 0 || self.session_default_ttl_secs > self.session_max_ttl_secs {
            bail!(
                "--session-default-ttl-secs must be between 1 and --session-max-ttl-secs ({})",
                self.session_max_ttl_secs
            );
        }
        if self.session_max_lifetime_secs == 0 {
            bail!("--session-max-lifetime-secs must be at least 1");
        }
        if self.session_max_interpreters == 0 {
            bail!("--session-max-interpreters must be at least 1");
        }
        if self.session_max_transfers == 0 || self.session_max_transfers_per_tenant == 0 {
            bail!("--session-max-transfers and --session-max-transfers-per-tenant must be at least 1");
        }
        Ok(executor::SessionConfig {
            default_ttl_secs: self.session_default_ttl_secs,
            max_ttl_secs: self.session_max_ttl_secs,
            max_sessions: self.session_max_count,
            max_per_tenant: self.session_max_per_tenant,
            max_lifetime_secs: self.session_max_lifetime_secs,
            max_interpreters: self.session_max_interpreters,
            id_prefix: None,
            max_transfers: self.session_max_transfers,
            max_transfers_per_tenant: self.session_max_transfers_per_tenant,
        })
    }
}

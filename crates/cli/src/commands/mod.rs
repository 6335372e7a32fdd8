pub mod check;
pub mod mcp;
pub mod run;
pub mod serve;
mod state_lock;
pub mod templates;

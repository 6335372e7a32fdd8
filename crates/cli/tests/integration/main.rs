//! The integration tests, one binary: each module drives the real `sandbox-executor` binary
//! (most through a daemon started by `common`) from the outside, as a user would.

mod common;

mod api_contract;
mod api_errors;
mod cgroups;
mod charts;
mod cli;
mod control_plane;
mod cors;
mod docs_commands;
mod downloads;
mod drain;
mod e2b;
mod egress;
mod escape;
mod exact_numbers;
mod faults;
mod files;
mod health_info;
mod isolation;
mod languages;
mod lifecycle;
mod limits;
mod mcp;
mod metrics;
mod nvidia;
mod nvidia_data;
mod openapi_client;
mod peer_faults;
mod peers;
mod posture;
mod prebuilt;
mod quickstart;
mod readme;
mod rich_results;
mod seccomp;
mod session_files;
mod sessions;
mod streaming;
mod template_env;
mod templates;
mod tenancy;
mod warm;
mod warm_limits;
mod warm_sessions;

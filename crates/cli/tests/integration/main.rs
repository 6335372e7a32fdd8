//! The integration tests, one binary: each module drives the real `sandbox-executor` binary
//! (most through a daemon started by `common`) from the outside, as a user would.

mod common;

mod api_contract;
mod api_errors;
mod cgroups;
mod charts;
mod cli;
mod control_plane;
mod deep_trees;
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
mod nvidia;
mod nvidia_data;
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
mod templates;
mod tenancy;
mod warm;
mod warm_limits;
mod warm_sessions;

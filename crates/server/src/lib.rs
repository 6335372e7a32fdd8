//! HTTP API of the sandbox executor.

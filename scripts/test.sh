#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, the driver scripts' own tests, and every unit
# and integration test (the integration tests start real daemons and run real sandboxes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
source scripts/install-test-tools.sh
cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# No module of these crates imports one that imports it back.
python3 scripts/module-cycles.py crates/*/src
bash runtimes/test_drivers.sh
# The compose file and the Kubernetes manifests render and validate.
bash scripts/test-kubernetes.sh
# Builds the binaries the tests run, the zygote library among them (tests never build it).
cargo build --workspace --locked
cargo nextest run --workspace --locked --no-fail-fast
# The container image builds from the binaries just built and serves as documented.
IMAGE_TEST_PROFILE=debug bash scripts/test-image.sh

#!/usr/bin/env bash
# Installs what `sandbox-bench latency` needs beyond the daemon's own prerequisites
# (scripts/install-deps.sh): bubblewrap, for the bwrap baseline, from Debian's package.
# Idempotent: installs nothing when `bwrap` is present. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bubblewrap is missing; run this script as root to install it" >&2
    exit 1
  fi
  echo "installing: bubblewrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null
fi
bwrap --version
# The bench reports why when bwrap cannot make namespaces here; say it now as well.
if ! bwrap --ro-bind / / --unshare-all --die-with-parent true 2>/tmp/bench-setup-bwrap.err; then
  echo "warning: bwrap cannot run here: $(cat /tmp/bench-setup-bwrap.err)" >&2
fi

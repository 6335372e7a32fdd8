#!/usr/bin/env bash
# Installs what building and running sandbox-executor needs and is missing on this Debian or
# Ubuntu host: a C toolchain, Python 3 with venv, Node.js with npm (templates build their
# environments with them), bash tools, and a Rust toolchain.
# Idempotent: installs nothing when everything is present. Run as root.
set -euo pipefail

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need cc build-essential
need curl curl
need pgrep procps
need /usr/bin/python3 python3
need node nodejs
need npm npm
# Debian splits venv (and the pip it seeds venvs with) out of python3.
if ! /usr/bin/python3 -m venv --help >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
need base64 coreutils
if ! [ -e /etc/ssl/certs/ca-certificates.crt ]; then missing+=(ca-certificates); fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: the one already installed, else rustup's minimal profile.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "installing the Rust toolchain with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
  export PATH="$HOME/.cargo/bin:$PATH"
fi

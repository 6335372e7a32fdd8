#!/usr/bin/env bash
# Installs the third-party clients the test suite runs against a real daemon (the OpenAPI
# validator, schemathesis and the official MCP Python SDK, from PyPI) into their own venv;
# prints nothing when present.
# Sourced by scripts/test.sh, which exports where they are.
set -euo pipefail

# A venv at $1 holding the pinned packages that follow, remade when the pins change (a stamp
# in it records them). The first python3 on PATH: Debian 12's 3.11.2 has an ast bug that
# hypothesis can trip over.
pinned_venv() {
  local dir="$1"
  shift
  if [ "$(cat "$dir/.pins" 2>/dev/null)" != "$*" ]; then
    echo "installing into $dir: $*"
    rm -rf "$dir"
    "${SANDBOX_TEST_PYTHON:-python3}" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$*" >"$dir/.pins"
  fi
}

SANDBOX_TEST_TOOLS="${SANDBOX_TEST_TOOLS:-/var/cache/sandbox-executor/test-tools}"
# hypothesis is pinned too: scripts/run-schemathesis.py works around one of its internals.
pinned_venv "$SANDBOX_TEST_TOOLS" schemathesis==4.32.5 hypothesis==6.170.27 openapi-spec-validator==0.9.0 mcp==2.3.0
export SANDBOX_TEST_TOOLS

# The official E2B SDKs, which the E2B compatibility tests run unmodified against the daemon:
# Python in a venv of their own, Node packages in a directory of their own, each with a pin stamp.
SANDBOX_E2B_SDKS="${SANDBOX_E2B_SDKS:-/var/cache/sandbox-executor/e2b-sdks}"
e2b_py_pins=(e2b==2.63.0 e2b-code-interpreter==2.11.5)
e2b_js_pins=(e2b@2.51.0 @e2b/code-interpreter@2.8.0)
e2b_stamp="$SANDBOX_E2B_SDKS/.pins"
if [ "$(cat "$e2b_stamp" 2>/dev/null)" != "${e2b_py_pins[*]} ${e2b_js_pins[*]}" ]; then
  echo "installing the E2B SDKs into $SANDBOX_E2B_SDKS: ${e2b_py_pins[*]} ${e2b_js_pins[*]}"
  rm -rf "$SANDBOX_E2B_SDKS"
  "${SANDBOX_TEST_PYTHON:-python3}" -m venv "$SANDBOX_E2B_SDKS/venv"
  "$SANDBOX_E2B_SDKS/venv/bin/pip" install --quiet --disable-pip-version-check "${e2b_py_pins[@]}"
  mkdir -p "$SANDBOX_E2B_SDKS/node"
  (cd "$SANDBOX_E2B_SDKS/node" && echo '{"private":true}' >package.json \
    && npm install --silent --no-audit --no-fund --save-exact "${e2b_js_pins[@]}")
  echo "${e2b_py_pins[*]} ${e2b_js_pins[*]}" >"$e2b_stamp"
fi
export SANDBOX_E2B_SDKS

# openapi-python-client, which generates a Python client from docs/openapi.json that a test
# then runs code with: a venv of its own (its dependencies differ from schemathesis's), with a
# pin stamp.
SANDBOX_OPENAPI_CLIENT="${SANDBOX_OPENAPI_CLIENT:-/var/cache/sandbox-executor/openapi-client}"
pinned_venv "$SANDBOX_OPENAPI_CLIENT" openapi-python-client==0.29.1
export SANDBOX_OPENAPI_CLIENT
# promtool alone, unpacked from the package (installing it would start a Prometheus server).
SANDBOX_PROMTOOL="${SANDBOX_PROMTOOL:-/var/cache/sandbox-executor/promtool/usr/bin/promtool}"
if ! [ -x "$SANDBOX_PROMTOOL" ]; then
  echo "unpacking promtool from Debian's prometheus package"
  promtool_dir="$(dirname "$(dirname "$(dirname "$SANDBOX_PROMTOOL")")")"
  download="$(mktemp -d)"
  chmod 755 "$download"
  apt-get update -qq
  (cd "$download" && apt-get download -qq prometheus 2>/dev/null)
  mkdir -p "$promtool_dir"
  dpkg-deb -x "$download"/prometheus_*.deb "$promtool_dir"
  rm -rf "$download"
fi
export SANDBOX_PROMTOOL

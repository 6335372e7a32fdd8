#!/usr/bin/env bash
# Installs the API contract tools the test suite runs against a real daemon (the OpenAPI
# validator and schemathesis, from PyPI) into their own venv; prints nothing when present.
# Sourced by scripts/test.sh, which exports where they are.
set -euo pipefail

SANDBOX_TEST_TOOLS="${SANDBOX_TEST_TOOLS:-/var/cache/sandbox-executor/test-tools}"
# hypothesis is pinned too: scripts/run-schemathesis.py works around one of its internals.
tools_pins=(schemathesis==4.32.5 hypothesis==6.170.27 openapi-spec-validator==0.9.0)
stamp="$SANDBOX_TEST_TOOLS/.pins"
if [ "$(cat "$stamp" 2>/dev/null)" != "${tools_pins[*]}" ]; then
  echo "installing test tools into $SANDBOX_TEST_TOOLS: ${tools_pins[*]}"
  rm -rf "$SANDBOX_TEST_TOOLS"
  # The first python3 on PATH: Debian 12's 3.11.2 has an ast bug that hypothesis can trip over.
  "${SANDBOX_TEST_PYTHON:-python3}" -m venv "$SANDBOX_TEST_TOOLS"
  "$SANDBOX_TEST_TOOLS/bin/pip" install --quiet --disable-pip-version-check "${tools_pins[@]}"
  echo "${tools_pins[*]}" >"$stamp"
fi
export SANDBOX_TEST_TOOLS

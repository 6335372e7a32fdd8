#!/usr/bin/env bash
# Installs what is missing, builds sandbox-executor, installs it to /usr/local/bin, and starts
# the daemon on 127.0.0.1:${EXECUTOR_PORT:-8080}, ready for the quickstart. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

cargo build --release --locked
install -m 0755 target/release/sandbox-executor /usr/local/bin/sandbox-executor
# Python zygotes load it to fork runs (found in ../lib/sandbox-executor beside the binary).
install -D -m 0644 target/release/libsandbox_zygote.so /usr/local/lib/sandbox-executor/libsandbox_zygote.so

port="${EXECUTOR_PORT:-8080}"
pidfile=/run/sandbox-executor.pid
log=/var/log/sandbox-executor.log
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "stopping the running daemon (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi

sandbox-executor check || { echo "this host cannot run the sandbox; see the layers above" >&2; exit 1; }
EXECUTOR_PORT="$port" nohup sandbox-executor serve >>"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    echo "sandbox-executor is serving on http://127.0.0.1:$port (pid $(cat "$pidfile"), log $log)"
    curl -sS "http://127.0.0.1:$port/health"; echo
    exit 0
  fi
  sleep 0.1
done
echo "the daemon did not come up; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1

#!/usr/bin/env bash
# Builds the container image from the host-built binary and tests it with podman: the health
# check, every isolation layer active, the seed quickstart requests, a result and the lifecycle
# events reaching a control-plane stand-in on the host loopback, and exit 0 on SIGTERM. Then it
# finds which isolation layers each weaker privilege setting loses.
#
# Needs root and Debian's apt (installs podman, runc, debootstrap when missing). The base image
# is made once with `debootstrap --variant=minbase bookworm` and kept in IMAGE_CACHE_DIR, so a
# warm run builds only the layers that changed. Prints each check; exits non-zero on the first
# failure.
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE_DIR=${IMAGE_CACHE_DIR:-/var/cache/sandbox-executor/images}
BASE_IMAGE=localhost/sandbox-executor-base:bookworm
IMAGE=localhost/sandbox-executor:test
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TOKEN=internal-token-for-the-image-test
started=$SECONDS

say() { printf '%4ss  %s\n' "$((SECONDS - started))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

# --- tools --------------------------------------------------------------------------------
missing=()
for tool in podman:podman runc:runc debootstrap:debootstrap curl:curl python3:python3; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# --- base image (cached) ------------------------------------------------------------------
if ! podman image exists "$BASE_IMAGE"; then
  mkdir -p "$CACHE_DIR"
  tarball=$CACHE_DIR/bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    say "debootstrap --variant=minbase bookworm (once; cached in $CACHE_DIR)"
    rootfs=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE_DIR/debootstrap.log"; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" --numeric-owner -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  say "importing the base image $BASE_IMAGE"
  podman import "$tarball" "$BASE_IMAGE" >/dev/null 2>&1
fi

# --- binary and image ---------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
# IMAGE_TEST_PROFILE=debug reuses the test suite's `cargo build --workspace` (the same command,
# so the same features: nothing is rebuilt) instead of compiling a release build.
profile=${IMAGE_TEST_PROFILE:-release}
case $profile in
  release) build=(cargo build --release --locked -q -p sandbox-executor -p sandbox-zygote) ;;
  debug) build=(cargo build --workspace --locked -q) ;;
  *) fail "IMAGE_TEST_PROFILE is release or debug, not $profile" ;;
esac
say "${build[*]}"
"${build[@]}"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
prebuilt=target/image-prebuilt
mkdir -p "$prebuilt"
cp "$target_dir/$profile/sandbox-executor" "$target_dir/$profile/libsandbox_zygote.so" "$prebuilt/"

say "podman build --target runtime-prebuilt"
mkdir -p "$CACHE_DIR"
podman build -q --isolation=chroot --format docker --target runtime-prebuilt \
  --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg PREBUILT_DIR="$prebuilt" \
  -t "$IMAGE" . >"$CACHE_DIR/build.log" 2>&1 </dev/null || { tail -30 "$CACHE_DIR/build.log"; fail "podman build"; }

# --- running it ---------------------------------------------------------------------------
# runc, since crun refuses hybrid cgroup hosts. Rootful podman asks for descriptor and process
# limits above what a host without CAP_SYS_RESOURCE grants: ask for the host's hard descriptor
# limit (20000 on these machines), and at most 32768 processes (podman's own raised limits make
# some values below the shell's hard limit fail too).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
RUN=(podman run --runtime runc --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
work=$(mktemp -d)
containers=()
standin=
cleanup() {
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  if [ -n "$standin" ]; then kill "$standin" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

logs() { podman logs "$1" 2>&1 | tail -20; }

# Evaluates a Python expression over the JSON file $1 (as `r`); fails with the file shown.
expect() {
  python3 - "$1" "$2" <<'PY' || { echo "      got: $(head -c 1500 "$1")"; return 1; }
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# 1. The seeds' defaults (0.0.0.0, no API token) start, and the image's health check passes.
#    No network, so nothing outside the container can reach the unauthenticated daemon.
c=$("${RUN[@]}" -d --privileged --network none --health-interval disable \
  -e CONTROL_PLANE_URL=http://localhost:8000 -e INTERNAL_API_TOKEN=dev-token-change-me "$IMAGE" 2>/dev/null) || fail "podman run"
containers+=("$c")
for _ in $(seq 150); do podman healthcheck run "$c" >/dev/null 2>&1 && break; sleep 0.2; done
podman healthcheck run "$c" >/dev/null 2>&1 || { logs "$c"; fail "health check of the seeds' docker run line"; }
podman logs "$c" 2>&1 | grep -q '"addr":"0.0.0.0:8080"' || { logs "$c"; fail "listening on 0.0.0.0:8080"; }
say "ok  the seeds' docker run line starts on 0.0.0.0:8080 without an API token; HEALTHCHECK healthy"
podman rm -f "$c" >/dev/null 2>&1

# 2. A daemon on the host loopback, reporting to a control-plane stand-in there.
python3 scripts/control-plane-stand-in.py "$work/posts.jsonl" "$work/cp-port" &
standin=$!
for _ in $(seq 50); do [ -s "$work/cp-port" ] && break; sleep 0.1; done
[ -s "$work/cp-port" ] || fail "control-plane stand-in did not start"
port=$(free_port)
base=http://127.0.0.1:$port
c=$("${RUN[@]}" -d --privileged --network host --health-interval disable \
  -e EXECUTOR_HOST=127.0.0.1 -e EXECUTOR_PORT="$port" \
  -e CONTROL_PLANE_URL="http://127.0.0.1:$(cat "$work/cp-port")" -e INTERNAL_API_TOKEN="$TOKEN" \
  "$IMAGE" 2>/dev/null) || fail "podman run"
containers+=("$c")

get() { curl -sS --max-time 60 -o "$work/body" -w '%{http_code}' "$base$1" || true; }
post() { curl -sS --max-time 60 -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" "$base$1" || true; }
posted() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["path"].endswith(sys.argv[2]) and e["authorization"] == "Bearer " + sys.argv[3]:
        sys.exit(0)
sys.exit(1)' "$work/posts.jsonl" "$1" "$TOKEN" 2>/dev/null; }
wait_posted() { for _ in $(seq 300); do posted "$1" && return 0; sleep 0.1; done; return 1; }

for _ in $(seq 300); do [ "$(get /health 2>/dev/null)" = 200 ] && break; sleep 0.1; done
[ "$(get /health)" = 200 ] || { logs "$c"; fail "/health: not 200"; }
expect "$work/body" 'r["status"] == "healthy" and r["active_executions"] == 0' || fail "/health: not healthy"
say "ok  /health 200 healthy"
[ "$(get /ready)" = 200 ] || { logs "$c"; fail "/ready: not 200"; }
expect "$work/body" 'r["ready"] is True' || fail "/ready: not ready"
say "ok  /ready 200 ready"

[ "$(get /info)" = 200 ] || fail "/info"
expect "$work/body" 'r["isolation"]["layers"] and all(l["active"] for l in r["isolation"]["layers"])' \
  || fail "/info: a layer is not active"
say "ok  /info: all $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["isolation"]["layers"]))' "$work/body") isolation layers active"

wait_posted /containers/ready || fail "containers/ready not reported to the stand-in"
say "ok  ready reported to the control plane"

# The seed 000 quickstart (steps 3 and 4, the file output, JavaScript and shell examples).
post /execute '{"code": "def handler(event):\n    return {\"message\": \"Hello\", \"input\": event.get(\"name\", \"World\")}", "language": "python", "timeout": 10, "stdin": "{\"name\": \"Alice\"}", "execution_id": "exec_test_001"}' >/dev/null
expect "$work/body" 'r["status"] == "success" and r["return_value"] == {"message": "Hello", "input": "Alice"} and r["stdout"] == "" and r["exit_code"] == 0 and r["metrics"]["peak_memory_mb"] > 0' \
  || fail "seed step 3: python handler"
say "ok  seed step 3: handler returns {message: Hello, input: Alice}"

post /execute '{"code": "def handler(event:\n    return x", "language": "python", "timeout": 10, "stdin": "{}", "execution_id": "exec_test_002"}' >/dev/null
expect "$work/body" 'r["status"] == "failed" and r["exit_code"] == 1 and "SyntaxError" in r["stderr"] and r["return_value"] is None' \
  || fail "seed step 4: syntax error"
say "ok  seed step 4: syntax error fails with exit 1 and SyntaxError"

post /execute '{"code": "\nimport json\n\ndef handler(event):\n    data = {\"results\": [1, 2, 3]}\n    with open(\"output.json\", \"w\") as f:\n        json.dump(data, f)\n    return {\"status\": \"ok\", \"file\": \"output.json\"}\n", "language": "python", "timeout": 10, "stdin": "{}", "execution_id": "exec_test_003"}' >/dev/null
expect "$work/body" 'r["status"] == "success" and [a["path"] for a in r["artifacts"]] == ["output.json"]' \
  || fail "seed file output: artifact"
say "ok  seed file output: output.json reported as an artifact"

post /execute '{"code": "console.log(\"Hello from Node.js\"); process.exit(0);", "language": "javascript", "timeout": 5, "stdin": "", "execution_id": "exec_test_004"}' >/dev/null
expect "$work/body" 'r["status"] == "success" and r["stdout"] == "Hello from Node.js\n"' || fail "seed javascript"
post /execute '{"code": "echo \"Hello from Bash\" && date", "language": "shell", "timeout": 5, "stdin": "", "execution_id": "exec_test_005"}' >/dev/null
expect "$work/body" 'r["status"] == "success" and r["stdout"].startswith("Hello from Bash\n") and len(r["stdout"].splitlines()) == 2' \
  || fail "seed shell"
say "ok  seed javascript and shell examples"

wait_posted /executions/exec_test_001/result || fail "result of exec_test_001 not delivered to the stand-in"
say "ok  result of exec_test_001 delivered to the control plane with the internal token"

podman stop -t 45 "$c" >/dev/null 2>&1
code=$(podman inspect "$c" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || { logs "$c"; fail "exit code $code after SIGTERM"; }
wait_posted /containers/exited || fail "containers/exited not reported to the stand-in"
say "ok  podman stop (SIGTERM): exit 0, exited reported"

# 3. What each privilege setting keeps: `check` lists the layers it finds missing.
say "privilege settings (missing layers as \`sandbox-executor check\` finds them):"
# AppArmor (where the host has it) refuses mounts; the host's cgroup namespace makes the
# daemon's own cgroup path match the host tree mounted over /sys/fs/cgroup.
LEAST=(--cap-add SYS_ADMIN --security-opt unmask=/proc/* --security-opt apparmor=unconfined
       --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw)
# The missing layers, or why the sandbox cannot start at all (then every layer is missing).
missing_layers() {
  "${RUN[@]}" --rm --network none --no-healthcheck "$@" "$IMAGE" check 2>/dev/null | awk '
    $1 == "missing" { lost = lost $2 " " }
    /^the sandbox does not work on this host: / && !/host: required/ { sub(/^the sandbox does not work on this host: /, ""); why = $0 }
    END { if (why != "") print "every layer (" why ")"; else printf "%s", lost }' || true
}
least=$(missing_layers "${LEAST[@]}")
say "    ${LEAST[*]}: ${least:-nothing missing}"
[ -z "$least" ] || fail "the least privilege setting loses layers: $least"
for setting in "--cap-add SYS_ADMIN --security-opt unmask=/proc/*" \
               "--cap-add SYS_ADMIN -v /sys/fs/cgroup:/sys/fs/cgroup:rw" \
               "-v /sys/fs/cgroup:/sys/fs/cgroup:rw --security-opt unmask=/proc/*" \
               "--user 1000:1000 -e HOME=/tmp -e STATE_DIR=/tmp/state --security-opt seccomp=unconfined --security-opt unmask=/proc/*" \
               ""; do
  # shellcheck disable=SC2086 # the setting is a list of options
  lost=$(missing_layers $setting)
  say "    ${setting:-(no options)}: ${lost:-nothing missing}"
done
say "all image checks passed"

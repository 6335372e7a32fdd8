#!/usr/bin/env bash
# Renders the Kubernetes manifests (deploy/kubernetes and each overlay) with kustomize and
# validates every object against the schemas of a pinned Kubernetes version, strictly (unknown
# fields fail), with kubernetes-validate from PyPI, which bundles the schemas: nothing but PyPI
# is reached, once, to fill the venv cached in VALIDATE_VENV. Also checks docker-compose.yml.
# Needs python3 with venv, and kubectl (or kustomize) on PATH.
set -euo pipefail

cd "$(dirname "$0")/.."
KUBERNETES_VERSION=1.32.0
VALIDATOR=kubernetes-validate==1.37.0  # with its dependencies: scripts/kubernetes-validate-requirements.txt
VENV=${VALIDATE_VENV:-/var/cache/sandbox-executor/kubernetes-validate-1.37.0}
started=$SECONDS
say() { printf '%4ss  %s\n' "$((SECONDS - started))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

if command -v kubectl >/dev/null 2>&1; then
  render() { kubectl kustomize "$1"; }
elif command -v kustomize >/dev/null 2>&1; then
  render() { kustomize build "$1"; }
else
  fail "neither kubectl nor kustomize on PATH"
fi

if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  say "installing $VALIDATOR into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/kubernetes-validate-requirements.txt </dev/null
fi

"$VENV/bin/python" scripts/check-compose.py docker-compose.yml | sed "s/^/$(printf '%4ss  ' "$((SECONDS - started))")/"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fails unless the rendered file has every kind the deployment is made of, the pods' grace
# outlasts the preStop pause and the daemon's shutdown grace, and pods reach their peers by name.
expect_objects() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"] for d in docs}
needed = {"StatefulSet", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
          "NetworkPolicy", "Secret", "ConfigMap"}
assert needed <= kinds, f"missing kinds: {needed - kinds}"
sts = next(d for d in docs if d["kind"] == "StatefulSet")
pod = sts["spec"]["template"]["spec"]
env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
grace = int(env.get("EXECUTOR_SHUTDOWN_GRACE_SECS", 30))
pre_stop = pod["containers"][0].get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
pause = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
assert pod["terminationGracePeriodSeconds"] > pause + grace, "terminationGracePeriodSeconds not above preStop and the shutdown grace"
assert sts["spec"]["volumeClaimTemplates"], "no volume per pod"
headless = [d for d in docs if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
assert [h["metadata"]["name"] for h in headless] == [sts["spec"]["serviceName"]], "serviceName is not the headless Service"
peer_url = env.get("EXECUTOR_PEER_URL") or ""
assert "{node}" in peer_url and sts["spec"]["serviceName"] in peer_url, f"peers are not reached through the headless Service: {peer_url!r}"
node = next(e for e in pod["containers"][0]["env"] if e["name"] == "EXECUTOR_NODE")
assert node.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name", "EXECUTOR_NODE is not the pod's name"
print(f"{len(docs)} objects")
PY
}

for dir in deploy/kubernetes deploy/kubernetes/overlays/*/; do
  dir=${dir%/}
  out=$work/$(echo "$dir" | tr / _).yaml
  render "$dir" >"$out" 2>"$work/err" || { cat "$work/err"; fail "kustomize $dir"; }
  objects=$(expect_objects "$out") || fail "$dir: rendered objects"
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$out" \
    || fail "$dir: schema validation against Kubernetes $KUBERNETES_VERSION"
  say "ok  $dir renders ($objects) and validates against Kubernetes $KUBERNETES_VERSION"
done

# The validator must refuse what Kubernetes would: an unknown field in the StatefulSet.
sed 's/^  podManagementPolicy: Parallel$/  podManagementPolicy: Parallel\n  replica: 2/' \
  "$work/deploy_kubernetes.yaml" >"$work/broken.yaml"
grep -q '^  replica: 2$' "$work/broken.yaml" || fail "could not plant the unknown field"
if "$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$work/broken.yaml" >/dev/null 2>&1; then
  fail "an unknown StatefulSet field passed validation"
fi
say "ok  an unknown StatefulSet field fails validation"
say "all Kubernetes checks passed"

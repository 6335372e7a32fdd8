#!/usr/bin/env python3
"""Checks docker-compose.yml without a compose tool: it parses, its service has what the image
needs (the state volume, port 8080, the control plane's settings), and the stop grace period
outlasts the daemon's shutdown grace.

Usage: check-compose.py [docker-compose.yml]"""
import re
import sys

import yaml

KNOWN_KEYS = {
    "build", "image", "container_name", "restart", "privileged", "cap_add", "security_opt",
    "ports", "environment", "extra_hosts", "volumes", "stop_grace_period", "stop_signal",
    "ulimits", "healthcheck", "deploy", "cgroup",
}


def seconds(duration):
    match = re.fullmatch(r"(\d+)s", str(duration))
    if not match:
        raise SystemExit(f"stop_grace_period {duration!r} is not in seconds")
    return int(match.group(1))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml"
    with open(path, encoding="utf-8") as file:
        compose = yaml.safe_load(file)
    executor = compose["services"]["executor"]
    unknown = set(executor) - KNOWN_KEYS
    assert not unknown, f"unknown service keys: {unknown}"
    env = executor["environment"]
    for name in ("CONTROL_PLANE_URL", "INTERNAL_API_TOKEN", "EXECUTOR_API_TOKEN"):
        assert name in env, f"{name} missing from the environment"
    assert any(str(p).endswith(":8080:8080") for p in executor["ports"]), "port 8080 not published"
    volume, _, target = executor["volumes"][0].partition(":")
    assert target == "/var/lib/sandbox-executor", f"state volume mounted at {target!r}"
    assert volume in (compose.get("volumes") or {}), f"volume {volume!r} not declared"
    grace = int(env.get("EXECUTOR_SHUTDOWN_GRACE_SECS", 30))
    assert seconds(executor["stop_grace_period"]) > grace, "stop_grace_period not above the shutdown grace"
    assert executor.get("privileged") or "SYS_ADMIN" in executor.get("cap_add", []), "no privilege for namespaces"
    print(f"ok  {path}: service executor, state volume, port 8080, stop grace above {grace}s")


main()

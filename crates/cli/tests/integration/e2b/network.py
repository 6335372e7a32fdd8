"""An E2B sandbox's network options through the official Python SDK (sync and async),
unmodified: each option becomes the sandbox's egress policy, in force for its commands and
its cells. The daemon maps origin.test and other.test to a loopback server the Rust test
started (port in argv[1]) and caps egress at origin.test and other.test on that port; what
each step gave is printed as one JSON object."""

import asyncio
import json
import os
import shlex
import sys

from e2b import AsyncSandbox
from e2b_code_interpreter import Sandbox

PORT = int(sys.argv[1])
ORIGIN = f"origin.test:{PORT}"
OTHER = f"other.test:{PORT}"
FETCH = """import urllib.request, urllib.error
try:
    r = urllib.request.urlopen({url!r}, timeout=20)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except Exception as e:
    print('failed', type(e).__name__)
"""
out = {}


def attempt(call):
    """The call's value, or its exception as `Type: message`."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - the type and message are what is checked
        return f"{type(e).__name__}: {e}"


def script(host):
    return "python3 -c " + shlex.quote(FETCH.format(url=f"http://{host}/hello"))


def fetch(sbx, host):
    return sbx.commands.run(script(host), timeout=60).stdout.strip()


# No internet access: no door at all, whatever the daemon allows.
sbx = Sandbox.create(allow_internet_access=False, network={"allow_public_traffic": False})
out["closed_command"] = fetch(sbx, ORIGIN)
info = sbx.get_info()
out["closed_info"] = [info.allow_internet_access, dict(info.network or {})]
sbx.kill()

# Everything denied but one name: that name is reached, by commands and cells; no other.
sbx = Sandbox.create(network={"deny_out": ["0.0.0.0/0"], "allow_out": [ORIGIN]})
out["allowed_command"] = fetch(sbx, ORIGIN)
out["refused_command"] = fetch(sbx, OTHER)
out["allowed_info"] = dict(sbx.get_info().network or {})
out["allowed_cell"] = "".join(sbx.run_code(FETCH.format(url=f"http://{ORIGIN}/hello")).logs.stdout).strip()
sbx.kill()

# A denied address range holds for every name allowed: both names resolve into it.
sbx = Sandbox.create(network={"allow_out": [ORIGIN, OTHER], "deny_out": ["127.0.0.0/8"]})
out["denied_range"] = fetch(sbx, ORIGIN)
sbx.kill()

# What cannot be expressed, or what the operator's cap forbids, is refused at create.
out["address_allowed"] = attempt(lambda: Sandbox.create(network={"allow_out": ["8.8.8.8"]}))
out["domain_denied"] = attempt(lambda: Sandbox.create(network={"deny_out": ["example.com"]}))
out["outside_cap"] = attempt(lambda: Sandbox.create(network={"allow_out": [f"elsewhere.test:{PORT}"]}))


async def in_async():
    sbx = await AsyncSandbox.create(network={"deny_out": ["0.0.0.0/0"], "allow_out": [OTHER]})
    try:
        allowed = await sbx.commands.run(script(OTHER), timeout=60)
        refused = await sbx.commands.run(script(ORIGIN), timeout=60)
        return [allowed.stdout.strip(), refused.stdout.strip()]
    finally:
        await sbx.kill()


out["async"] = asyncio.run(in_async())
print(json.dumps(out), flush=True)
# What the daemon did is all above; the async SDK's HTTP client has been seen to abort while
# the interpreter tears down after asyncio.run, which is none of the daemon's doing.
os._exit(0)

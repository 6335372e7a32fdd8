"""An E2B sandbox's lifetime and its interpreter cap, through the official Python SDK,
unmodified. The daemon runs with a 2 s idle TTL, a 30 s lifetime cap and 3 interpreters a
session; what each step gave is printed as one JSON object for the Rust test to check."""

import json
import time

from e2b_code_interpreter import Sandbox

out = {}


def attempt(call):
    """The call's value, or its exception as `Type: message`."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - the type and message are what is checked
        return f"{type(e).__name__}: {e}"


def listed():
    return [s.sandbox_id for s in Sandbox.list().next_items()]


# Asked for 300 s: the operator's 30 s cap bounds it, and E2B says so.
sbx = Sandbox.create(timeout=300)
out["sandbox_id"] = sbx.sandbox_id
info = sbx.get_info()
out["lifetime"] = (info.end_at - info.started_at).total_seconds()
sbx.run_code("x = 41")
sbx.files.write("/home/user/kept.txt", "kept")

# Idle past the session idle TTL, well within the E2B timeout: all of it lives on.
time.sleep(4)
out["running_after_idle"] = sbx.is_running()
out["x_after_idle"] = attempt(lambda: sbx.run_code("x + 1").text)
out["file_after_idle"] = attempt(lambda: sbx.files.read("/home/user/kept.txt"))
out["echo_after_idle"] = attempt(lambda: sbx.commands.run("cat kept.txt").stdout)
sbx.set_timeout(3600)
info = sbx.get_info()
out["lifetime_after_set_timeout"] = (info.end_at - info.started_at).total_seconds()

# Contexts count against the cap: the default Python context holds one interpreter.
first = sbx.create_code_context()
second = sbx.create_code_context()
out["third_context"] = attempt(lambda: sbx.create_code_context().id)
out["default_js"] = attempt(lambda: sbx.run_code("40 + 2", language="js").error.value)
sbx.run_code("y = 'first'", context=first)
out["first_after_refusal"] = attempt(lambda: sbx.run_code("y", context=first).text)
out["default_after_refusal"] = attempt(lambda: sbx.run_code("x + 1").text)
sbx.remove_code_context(first)
out["context_after_removal"] = attempt(lambda: bool(sbx.create_code_context().id))

# A sandbox whose E2B timeout passes is gone for E2B.
short = Sandbox.create(timeout=3)
out["short_id"] = short.sandbox_id
out["short_listed_before"] = short.sandbox_id in listed()
time.sleep(5)
out["short_info_after"] = attempt(lambda: Sandbox.get_info(short.sandbox_id).state)
out["short_listed_after"] = short.sandbox_id in listed()
out["short_running_after"] = attempt(short.is_running)
out["short_code_after"] = attempt(lambda: short.run_code("1").text)
out["long_listed"] = sbx.sandbox_id in listed()
print(json.dumps(out))

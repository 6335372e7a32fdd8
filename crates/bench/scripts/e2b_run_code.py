"""Times the official E2B SDK's Sandbox.run_code against the daemon named by E2B_API_URL and
E2B_SANDBOX_URL: one sandbox, WARMUP unmeasured calls, then RUNS measured ones on one
kept-alive connection, as an SDK user's loop makes them. Prints one JSON line: the
milliseconds of each measured call."""

import json
import os
import sys
import time

from e2b_code_interpreter import Sandbox


def main() -> None:
    runs, warmup = int(os.environ["RUNS"]), int(os.environ["WARMUP"])
    sandbox = Sandbox.create(template=os.environ.get("TEMPLATE", "base"), timeout=600)
    try:
        for _ in range(warmup):
            sandbox.run_code("1 + 1")
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            execution = sandbox.run_code("1 + 1")
            timings.append((time.perf_counter() - started) * 1000.0)
            if execution.error is not None or execution.text != "2":
                sys.exit(f"run_code answered {execution!r}")
    finally:
        sandbox.kill()
    print(json.dumps({"ms": timings}))


if __name__ == "__main__":
    main()

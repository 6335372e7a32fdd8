"""The sandbox as one computer, through the official Python SDK: what a command leaves running
answers the next one, /tmp is shared, stdin, terminals, attaching, listing and signals work on
the box's processes. Prints one JSON object with what it saw."""

import json
import os
import time

from e2b import CommandExitException, PtySize
from e2b_code_interpreter import Sandbox

out = {}
sandbox = Sandbox.create(template="base", timeout=300)
try:
    server = sandbox.commands.run(
        "cd /tmp && echo served-by-the-box > index.html && python3 -m http.server 8765 --bind 127.0.0.1",
        background=True,
        timeout=0,
    )
    body = ""
    for _ in range(100):
        got = sandbox.commands.run("curl -s http://127.0.0.1:8765/index.html || true")
        body = got.stdout
        if body:
            break
        time.sleep(0.1)
    out["served"] = body

    sandbox.commands.run("echo shared > /tmp/shared.txt")
    out["tmp_shared"] = sandbox.commands.run("cat /tmp/shared.txt").stdout
    out["tmp_read_by_cell"] = sandbox.run_code("open('/tmp/shared.txt').read().strip()").text
    out["served_to_cell"] = sandbox.run_code(
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:8765/index.html').read().decode().strip()"
    ).text
    sandbox.run_code("import subprocess\nnapper = subprocess.Popen(['sleep', '77'])")
    seen = sandbox.commands.run("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c 'sleep 77' || true")
    out["cell_process_seen"] = seen.stdout.strip()

    listed = [p.pid for p in sandbox.commands.list()]
    out["server_listed"] = server.pid in listed

    cat = sandbox.commands.run("cat", background=True, stdin=True)
    sandbox.commands.send_stdin(cat.pid, "line one\n")
    cat.send_stdin(b"line two\n")
    cat.close_stdin()
    out["stdin"] = cat.wait().stdout

    sleeper = sandbox.commands.run("sleep 30", background=True)
    attached = sandbox.commands.connect(sleeper.pid)
    out["attached_pid"] = attached.pid == sleeper.pid
    out["killed"] = sandbox.commands.kill(sleeper.pid)
    try:
        sleeper.wait()
        out["killed_wait"] = "ended normally"
    except CommandExitException as e:
        out["killed_wait"] = e.error
    out["kill_again"] = sandbox.commands.kill(sleeper.pid)
    try:
        sandbox.commands.connect(999999)
        out["connect_missing"] = "connected"
    except Exception as e:  # noqa: BLE001 - the SDK's not-found exception
        out["connect_missing"] = type(e).__name__

    received = bytearray()
    terminal = sandbox.pty.create(size=PtySize(rows=24, cols=80), timeout=0)
    sandbox.pty.send_stdin(terminal.pid, b"echo typed-$((40+2)); stty size\n")
    resized = False
    for _, _, chunk in terminal:
        received.extend(chunk or b"")
        if not resized and b"24 80" in received:
            resized = True
            sandbox.pty.resize(terminal.pid, PtySize(rows=30, cols=100))
            sandbox.pty.send_stdin(terminal.pid, b"stty size; exit\n")
    text = received.decode(errors="replace")
    out["pty_typed"] = "typed-42" in text
    out["pty_sizes"] = ["24 80" in text, "30 100" in text]

    out["cwd_missing"] = None
    try:
        sandbox.commands.run("pwd", cwd="/no/such/dir")
    except Exception as e:  # noqa: BLE001
        out["cwd_missing"] = type(e).__name__

    sandbox.commands.run("python3 -c 'x = bytearray(64 << 20); import time; time.sleep(6)'")
    samples = sandbox.get_metrics()
    out["metrics"] = {
        "some": len(samples) > 0,
        "cpu_count": min(s.cpu_count for s in samples) >= 1,
        "mem_total": all(s.mem_total >= 64 << 20 for s in samples),
        "mem_used": max(s.mem_used for s in samples) > 0,
    }
    server.kill()
finally:
    sandbox.kill()

print(json.dumps(out))

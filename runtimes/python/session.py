"""Session interpreter of sandbox-executor: one long-lived Python that runs cells like a notebook.

Usage: python3 -u -B session.py  3<>socket

Requests arrive on fd 3 (a socket the daemon handed over), one JSON object per line:
{"id": n, "code": "...", "max_output": bytes, "max_value": bytes}. Each is answered with
one line: {"id": n, "stdout", "stderr", "stdout_truncated", "stderr_truncated", "display",
"value", "error", "cpu_ms", "peak_kb"}.

Every cell runs in the same __main__ namespace, so variables, functions and imports live on.
If the last statement of a cell is an expression, its value is the cell's result, like a
notebook's Out[n]: `display` is its repr() and `value` the value itself when it is JSON.
The cell's stdout and stderr are captured at the file-descriptor level, so subprocesses'
output is caught too. Charts are saved to output/ by the one-shot driver's code (imported
from driver.py), after every cell.
"""
import fcntl
import os

# The request socket: moved far from the low numbers, close-on-exec, so that subprocesses do
# not inherit it.
SOCK = fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, 100)
os.close(3)

import ast
import builtins
import importlib.util
import json
import linecache
import resource
import sys
import tempfile
import traceback
import types

SESSION_FILE = __file__
WORKSPACE = os.getcwd()
MAX_DISPLAY_CHARS = 64 * 1024


def _load_driver():
    loaded = sys.modules.get("_sandbox_driver")
    if loaded is not None:  # forked by a zygote: its driver, output capture installed
        return loaded
    spec = importlib.util.spec_from_file_location("_sandbox_driver", os.path.join(os.path.dirname(__file__), "driver.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._install_output_capture()
    return module


DRIVER = _load_driver()

MAIN = types.ModuleType("__main__")
MAIN.__builtins__ = builtins
sys.modules["__main__"] = MAIN
sys.argv[:] = [""]
sys.path[0] = WORKSPACE  # workspace modules import, not /sandbox ones


class _Capture:
    """Points fds 1 and 2 at temporary files for one cell."""

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.files = [tempfile.TemporaryFile(dir="/tmp"), tempfile.TemporaryFile(dir="/tmp")]
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(self.files[0].fileno(), 1)
        os.dup2(self.files[1].fileno(), 2)
        return self

    def __exit__(self, *exc):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in self.saved:
            os.close(fd)
        return False

    def read(self, cap):
        out = []
        for f in self.files:
            f.seek(0)
            data = f.read(cap + 1)
            f.close()
            out.append((data[:cap].decode("utf-8", "replace"), len(data) > cap))
        return out


def _run_cell(number, code):
    """Runs the cell; returns (has_value, value)."""
    filename = f"<cell-{number}>"
    lines = (code if code.endswith("\n") else code + "\n").splitlines(True)
    linecache.cache[filename] = (len(code), None, lines, filename)
    tree = ast.parse(code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    body = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
    _await_if_needed(eval(body, MAIN.__dict__))
    if last is None:
        return False, None
    expr = compile(last, filename, "eval", flags=flags, dont_inherit=True)
    return True, _await_if_needed(eval(expr, MAIN.__dict__))


def _await_if_needed(result):
    # Top-level `await` makes the compiled cell a coroutine.
    if not isinstance(result, types.CoroutineType):
        return result
    import asyncio

    return asyncio.run(result)


def _value_fields(value, max_value):
    try:
        text = repr(value)
    except Exception as e:
        text = f"<repr() failed: {type(e).__name__}: {e}>"
    if len(text) > MAX_DISPLAY_CHARS:
        text = text[:MAX_DISPLAY_CHARS] + "..."
    try:
        encoded = json.dumps(value, allow_nan=False)
        plain = json.loads(encoded) if len(encoded) <= max_value else None
    except Exception:
        plain = None
    return text, plain


def _usage():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return cpu, max(own.ru_maxrss, kids.ru_maxrss)


def _serve(request):
    number = request.get("id", 0)
    max_output = int(request.get("max_output", 1 << 20))
    max_value = int(request.get("max_value", 1 << 20))
    reply = {"id": number, "display": None, "value": None, "error": None}
    cpu_before, _ = _usage()
    with _Capture() as capture:
        try:
            has_value, value = _run_cell(number, request.get("code", ""))
            if has_value and value is not None:
                reply["display"], reply["value"] = _value_fields(value, max_value)
        except BaseException as e:  # SystemExit too: the session goes on, like a notebook's
            DRIVER._strip_driver_frames(e, SESSION_FILE)
            text = "".join(traceback.format_exception(e))
            sys.stderr.write(text)
            msg = e.msg if isinstance(e, SyntaxError) and e.msg else str(e)
            reply["error"] = {"type": type(e).__name__, "message": msg, "traceback": text}
        finally:
            try:
                DRIVER._save_open_figures()
            except Exception as e:
                DRIVER._warn("cannot save the open figures", e)
    (reply["stdout"], reply["stdout_truncated"]), (reply["stderr"], reply["stderr_truncated"]) = capture.read(max_output)
    cpu_after, peak_kb = _usage()
    reply["cpu_ms"] = round((cpu_after - cpu_before) * 1000, 2)
    reply["peak_kb"] = peak_kb
    return reply


def _send(reply):
    data = memoryview((json.dumps(reply) + "\n").encode())
    while data:
        data = data[os.write(SOCK, data):]


def _main():
    pending = b""
    while True:
        chunk = os.read(SOCK, 1 << 16)
        if not chunk:
            return  # the daemon closed the session
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                _send(_serve(json.loads(line)))


_main()

"""Session interpreter of sandbox-executor: one long-lived Python that runs cells like a notebook.

Usage: python3 -u -B session.py  3<>socket

Requests arrive on fd 3 (a socket the daemon handed over), one JSON object per line:
{"id": n, "code": "...", "max_output": bytes, "max_value": bytes, "live": bool}. Each is
answered with one line: {"id": n, "stdout", "stderr", "stdout_truncated",
"stderr_truncated", "display", "value", "error", "execution_count", "cpu_ms", "peak_kb"}.
Before it, while the cell runs, come event lines: {"event": "result", "is_main_result",
"data"} for each result displayed, and when "live" is true {"event": "stdout"|"stderr",
"text"} for each chunk of output as the code writes it (within max_output).

Every cell runs in the same __main__ namespace, so variables, functions and imports live on.
If the last statement of a cell is an expression (not None, not ending with `;`), its value
is the cell's result, like a notebook's Out[n]: `display` is its repr(), `value` the value
itself when it is JSON, and a result with `is_main_result` its MIME bundle (rich.py).
`display(*objs)` shows objects as results too, as do matplotlib figures shown or left open.
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
import codecs
import resource
import select
import sys
import threading
import traceback
import types

SESSION_FILE = __file__
WORKSPACE = os.getcwd()


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


def _load_rich():
    path = os.path.join(os.path.dirname(SESSION_FILE), "rich.py")
    spec = importlib.util.spec_from_file_location("_sandbox_rich", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RICH = _load_rich()
_send_lock = threading.Lock()

MAIN = types.ModuleType("__main__")
MAIN.__builtins__ = builtins
sys.modules["__main__"] = MAIN
sys.argv[:] = [""]
sys.path[0] = WORKSPACE  # workspace modules import, not /sandbox ones


class _Stream:
    """What one cell wrote to one stream: kept up to the cap, sent on as it comes when live."""

    def __init__(self, name, cap, live):
        self.name, self.cap, self.live = name, cap, live
        self.kept = bytearray()
        self.truncated = False
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def add(self, data, final=False):
        room = self.cap - len(self.kept)
        taken = data[: max(room, 0)]
        self.truncated |= len(data) > len(taken)
        self.kept += taken
        if self.live:
            text = self.decoder.decode(taken, final)
            if text:
                _event({"event": self.name, "text": text})

    def text(self):
        return self.kept.decode("utf-8", "replace")


class _Pump:
    """Fds 1 and 2 point at pipes while a cell runs; a thread reads them as the code writes
    and hands the bytes to the cell's streams. Between cells the pipes stay (a background
    process may still hold them) and what arrives is dropped."""

    def __init__(self):
        self.pipes = [os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK) for _ in range(2)]
        for read_end, write_end in self.pipes:
            os.set_blocking(write_end, True)
        self.lock = threading.Lock()
        self.streams = None
        threading.Thread(target=self._loop, name="sandbox-output", daemon=True).start()

    def _loop(self):
        ends = [read_end for read_end, _ in self.pipes]
        while True:
            ready, _, _ = select.select(ends, [], [])
            with self.lock:
                self._drain(ready)

    def _drain(self, ends):
        for n, (read_end, _) in enumerate(self.pipes):
            if read_end not in ends:
                continue
            while True:
                try:
                    data = os.read(read_end, 1 << 16)
                except BlockingIOError:
                    break
                if not data:
                    break
                if self.streams is not None:
                    self.streams[n].add(data)

    def __call__(self, cap, live):
        self.cap, self.live = cap, live
        return self

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        with self.lock:
            self.streams = [_Stream("stdout", self.cap, self.live), _Stream("stderr", self.cap, self.live)]
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(self.pipes[0][1], 1)
        os.dup2(self.pipes[1][1], 2)
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
        # Everything the cell (and its finished subprocesses) wrote is in the pipes by now.
        with self.lock:
            self._drain([read_end for read_end, _ in self.pipes])
            for stream in self.streams:
                stream.add(b"", final=True)
            self.taken, self.streams = self.streams, None
        return False

    def read(self):
        return [(s.text(), s.truncated) for s in self.taken]


_capture = _Pump()


class _Results:
    """The results of the cell that runs: sent as event lines, within their byte budget."""

    budget = 0

    @classmethod
    def start(cls, max_bytes):
        cls.budget = max_bytes

    @classmethod
    def show(cls, bundle, main=False):
        line = json.dumps({"event": "result", "is_main_result": main, "data": bundle})
        if len(line) > cls.budget:
            DRIVER._warn("a result was left out", ValueError(f"its {len(line)} bytes are past what is left ({cls.budget})"))
            return
        cls.budget -= len(line)
        # What the code wrote before goes first.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        with _capture.lock:
            if _capture.streams is not None:
                _capture._drain([read_end for read_end, _ in _capture.pipes])
            _send_line(line)


def display(*objs, **kwargs):
    """Shows each object as a notebook does, as a result of the cell (IPython's display())."""
    for obj in objs:
        if kwargs.get("raw") and isinstance(obj, dict):
            _Results.show({k: RICH._normalise(k, v) for k, v in obj.items()})
        else:
            _Results.show(RICH.bundle_of(obj))


def _figure_shown(fig, png):
    _Results.show(RICH.figure_bundle(fig, png))


def _patch_ipython():
    """IPython's display() (when it can be imported) is this one: patched on import."""
    def patch(module):
        module.display = display

    names = ("IPython.core.display_functions", "IPython.core.display", "IPython.display")
    for name in names:
        if name in sys.modules:
            patch(sys.modules[name])
        else:
            DRIVER._PATCHES[name] = patch
    if not any(isinstance(f, DRIVER._PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, DRIVER._PatchOnImport())


builtins.display = display
DRIVER._figure_shown = _figure_shown
_patch_ipython()


def _run_cell(number, code):
    """Runs the cell; returns (has_value, value)."""
    filename = f"<cell-{number}>"
    lines = (code if code.endswith("\n") else code + "\n").splitlines(True)
    linecache.cache[filename] = (len(code), None, lines, filename)
    tree = ast.parse(code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not code.rstrip().endswith(";"):
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
    text = RICH.text_of(value)
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


_count = 0  # the cells this interpreter has run: a notebook's In [n]


def _serve(request):
    global _count
    _count += 1
    number = request.get("id", 0)
    max_output = int(request.get("max_output", 1 << 20))
    max_value = int(request.get("max_value", 1 << 20))
    reply = {"id": number, "display": None, "value": None, "error": None, "execution_count": _count}
    cpu_before, _ = _usage()
    _Results.start(max_value)
    with _capture(max_output, bool(request.get("live"))) as capture:
        try:
            has_value, value = _run_cell(number, request.get("code", ""))
            if has_value and value is not None:
                reply["display"], reply["value"] = _value_fields(value, max_value)
                _Results.show(RICH.bundle_of(value, reply["display"]), main=True)
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
    (reply["stdout"], reply["stdout_truncated"]), (reply["stderr"], reply["stderr_truncated"]) = capture.read()
    cpu_after, peak_kb = _usage()
    reply["cpu_ms"] = round((cpu_after - cpu_before) * 1000, 2)
    reply["peak_kb"] = peak_kb
    return reply


def _send_line(line):
    data = memoryview((line + "\n").encode())
    with _send_lock:
        while data:
            data = data[os.write(SOCK, data):]


def _event(event):
    _send_line(json.dumps(event))


def _send(reply):
    _send_line(json.dumps(reply))


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

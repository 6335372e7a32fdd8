"""Python driver of sandbox-executor: runs the user's code inside the sandbox.

Usage: python3 -u -B driver.py USER_CODE EVENT_JSON CONTEXT_JSON  [3>result]
       python3 -u -B driver.py --warm [MODULE...]  3>result 4<>socket
       python3 -u -B driver.py --zygote LIBRARY [MODULE...]  4<>socket

Warm mode starts the sandbox before its run: the driver imports the given modules,
says "ready" on fd 4, then reads one JSON document up to end of file from fd 4,
{"code", "event", "context", "env"}, answers "taken" on fd 4 (the daemon knows from it
that the sandbox is alive and has the run), takes `env` as its whole environment and
runs the code exactly as the first form runs the files.

Zygote mode imports the modules, says "ready" on fd 4, then forks once for every byte
that arrives on fd 4 with three descriptors (the run's control socket, stdout, stderr).
The fork hands them to LIBRARY's sandbox_zygote_fork, which builds the run's own
sandbox around it (fresh namespaces, root, workspace, cgroup, limits, seccomp,
Landlock) and returns only in the run's program, which then runs the code from the
first form's files, with /sandbox/environ.json as its whole environment. The zygote
itself never reads a run's code or data.

The user's code runs as the __main__ module. If it defines a top-level callable
`handler`, the handler is called with the event (plus a context object when it
takes two arguments) and its JSON-encoded return value is written to fd 3;
otherwise the code is simply a script. Uncaught exceptions are printed like the
interpreter does and also reported on fd 3. At most one JSON document is ever
written to fd 3, and nothing at all to stdout, which belongs to the user.

Charts come back as files in the workspace's output folder (see "Rich outputs"
below), which the daemon returns as artifacts with their content.
"""
import errno
import fcntl
import os


def _take_result_fd():
    # fd 3 is the private result channel. Move it before anything else to a
    # close-on-exec descriptor far from the low numbers, so that subprocesses do
    # not inherit it and stray os.write(3, ...) in user code fails with EBADF.
    for lowest in (1000, 100, 10):  # must stay below RLIMIT_NOFILE
        try:
            fd = fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, lowest)
        except OSError as e:
            if e.errno == errno.EBADF:  # not started with fd 3 (e.g. run by hand)
                return None
            continue
        os.close(3)
        return fd
    return None


RESULT_FD = _take_result_fd()


def _take_warm_fd():
    # fd 4 carries a warm sandbox's run (or a zygote's requests): moved away
    # (close-on-exec) like fd 3, and closed once the run is read, so the user's code
    # never sees it.
    import sys
    if sys.argv[1:2] not in (["--warm"], ["--zygote"]):
        return None
    fd = fcntl.fcntl(4, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(4)
    return fd


WARM_FD = _take_warm_fd()

import builtins
import json
import linecache
import sys
import time
import types

START = time.monotonic()
WORKSPACE = os.getcwd()
DRIVER_FILE = sys._getframe().f_code.co_filename  # to recognise our own frames
FILENAME = "<string>"  # what `python3 -c` calls its code, in tracebacks too
_mode = "script"  # becomes "handler" once the handler is being called


def _late_import(name):
    # sys.path[0] is the workspace by now: make sure a user file named e.g.
    # inspect.py cannot shadow a stdlib module that the driver imports late.
    saved = sys.path[:]
    sys.path[:] = [p for p in saved if p not in ("", WORKSPACE)]
    try:
        return __import__(name)
    finally:
        sys.path[:] = saved


def _write_result(text):
    global RESULT_FD
    fd, RESULT_FD = RESULT_FD, None  # at most one document, ever
    if fd is None:
        return
    data = memoryview(text.encode())
    try:
        while data:
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:  # the channel may be a non-blocking pipe
                _late_import("select").select([], [fd], [])
    except OSError:
        pass  # the reader went away: nothing useful left to do
    finally:
        os.close(fd)


def _write_error(type_name, message, traceback_text):
    error = {"type": type_name, "message": message, "traceback": traceback_text}
    _write_result(json.dumps({"mode": _mode, "error": error}))


def _strip_driver_frames(exc, own_file=DRIVER_FILE, seen=None):
    # Drop the leading frames that belong to `own_file` (this driver, or the session
    # interpreter: exec, handler call...) from the exception and everything chained to it, so
    # that tracebacks look as if the user's code had been run directly by the interpreter.
    seen = seen if seen is not None else set()
    if exc is None or id(exc) in seen:
        return
    seen.add(id(exc))
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == own_file:
        tb = tb.tb_next
    exc.__traceback__ = tb
    _strip_driver_frames(exc.__cause__, own_file, seen)
    _strip_driver_frames(exc.__context__, own_file, seen)


def _fail(exc):
    """Report an exception escaping the user's code, then exit."""
    if isinstance(exc, SystemExit):
        raise exc  # the interpreter handles it: exit code, message, no traceback
    _strip_driver_frames(exc)
    # With no user frame left (e.g. a compile error) this prints no "Traceback"
    # header, exactly like the interpreter does for a SyntaxError in -c code.
    text = "".join(_late_import("traceback").format_exception(exc))
    sys.stderr.write(text)
    sys.stderr.flush()
    msg = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
    _write_error(type(exc).__name__, msg, text)
    sys.exit(1)


def _run_user_code(source):
    # mtime None: linecache never invalidates this entry, so tracebacks (ours,
    # the user's own, warnings, inspect.getsource) can show the source lines.
    # Like linecache itself, end the last line with "\n": the traceback module
    # misplaces its ^^^ markers otherwise.
    lines = (source if source.endswith("\n") else source + "\n").splitlines(True)
    linecache.cache[FILENAME] = (len(source), None, lines, FILENAME)
    # A fresh __main__ keeps the driver's globals out of the user's namespace,
    # runs `if __name__ == "__main__":` blocks and lets pickle find classes.
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv[:] = ["-c"]
    sys.path[0] = WORKSPACE  # not the driver's directory: workspace modules import
    try:
        code = compile(source, FILENAME, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    except BaseException as e:
        _fail(e)
    return main.__dict__


def _arity(fn):
    """How many of (event, context) the handler takes; 1 if we cannot tell."""
    try:
        params = _late_import("inspect").signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return min(2, sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params))


def _await(awaitable):
    outcome = {}

    async def runner():
        # Catch inside the coroutine so the traceback starts at the handler,
        # not in asyncio's event loop machinery.
        try:
            outcome["value"] = await awaitable
        except BaseException as e:
            outcome["error"] = e

    _late_import("asyncio").run(runner())
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _make_context(text):
    ctx = json.loads(text)
    timeout_ms = ctx.get("timeout_ms") or 0
    return types.SimpleNamespace(
        execution_id=ctx.get("execution_id"),
        function_name="handler",
        memory_limit_in_mb=ctx.get("memory_limit_mb"),
        get_remaining_time_in_millis=lambda: max(0, int(timeout_ms - (time.monotonic() - START) * 1000)),
    )


# ---------------------------------------------------------------- Rich outputs
# Like a notebook, charts are shown rather than lost: matplotlib's plt.show() saves
# every open figure as output/plot_<n>.png (and closes it); figures still open when
# the code ends are saved too; plotly's fig.show() / plotly.io.show() saves the
# figure's JSON as output/plotly_<n>.json, plus output/plotly_<n>.png when kaleido
# can be imported. The numbers count from 0 in each run.
#
# Importing matplotlib or plotly takes 0.3 to 1 s, so nothing here imports them:
# an import hook patches each module right after the user's code (or a library)
# first imports it, and the final capture only looks at sys.modules.

OUTPUT_DIR = os.path.join(WORKSPACE, "output")
_shown = {"plot": 0, "plotly": 0}  # how many of each this run has saved


def _warn(message, exc):
    """One line on stderr: a chart that cannot be saved should not go unnoticed."""
    detail = " ".join(str(exc).split())
    sys.stderr.write(f"sandbox-executor: {message}: {type(exc).__name__}: {detail}\n")
    sys.stderr.flush()


def _output_base(prefix):
    """The next output path of this kind, without its extension."""
    n = _shown[prefix]
    _shown[prefix] = n + 1
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    return os.path.join(OUTPUT_DIR, f"{prefix}_{n}")


# A session interpreter's: called with each figure saved and its PNG, before it is closed.
_figure_shown = None


def _save_open_figures():
    """Saves (as PNG) and closes every open matplotlib figure, as a notebook displays them."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in plt.get_fignums():
        fig = plt.figure(num)
        try:
            # Like IPython, an empty figure (no axes, no lines) shows nothing.
            if fig.axes or fig.lines:
                import io

                png = io.BytesIO()
                fig.savefig(png, format="png", bbox_inches="tight")
                with open(_output_base("plot") + ".png", "wb") as f:
                    f.write(png.getvalue())
                if _figure_shown is not None:
                    _figure_shown(fig, png.getvalue())
        except Exception as e:
            _warn(f"cannot save matplotlib figure {num}", e)
        finally:
            plt.close(fig)


def _pyplot_show(*args, **kwargs):
    """matplotlib.pyplot.show, in the sandbox: saves the open figures to the output folder."""
    _save_open_figures()


def _save_plotly(fig):
    try:
        pio = sys.modules.get("plotly.io") or _late_import("plotly.io").io
        to_json = getattr(fig, "to_json", None)
        text = to_json() if callable(to_json) else pio.to_json(fig)
        base = _output_base("plotly")
        with open(base + ".json", "w", encoding="utf-8") as f:
            f.write(text)
    except Exception as e:
        _warn("cannot save plotly figure", e)
        return
    if _late_import("importlib.util").util.find_spec("kaleido") is None:
        return
    try:
        pio.write_image(fig, base + ".png", format="png")
    except Exception as e:
        _warn("cannot save plotly figure as PNG", e)


def _plotly_show(fig, *args, **kwargs):
    """plotly.io.show, in the sandbox: saves the figure to the output folder."""
    _save_plotly(fig)


def _figure_show(self, *args, **kwargs):
    """plotly's Figure.show, in the sandbox: saves the figure to the output folder."""
    _save_plotly(self)


def _patch_pyplot(plt):
    plt.show = _pyplot_show


def _patch_plotly_io(pio):
    pio.show = _plotly_show


def _patch_plotly_figure(basedatatypes):
    basedatatypes.BaseFigure.show = _figure_show


_PATCHES = {
    "matplotlib.pyplot": _patch_pyplot,
    "plotly.io": _patch_plotly_io,
    "plotly.basedatatypes": _patch_plotly_figure,
}


class _PatchOnImport:
    """A sys.meta_path finder that finds nothing itself: for the modules in _PATCHES it
    asks the other finders, and makes the loader patch the module once it has run. It
    leaves sys.meta_path when every patch is applied; until then it costs each first
    import of a module one dict lookup."""

    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None or isinstance(loader, type):
            return spec  # not a per-module loader object: leave it alone

        def exec_then_patch(module):
            exec_module(module)
            try:
                patch(module)
            except Exception as e:
                _warn(f"cannot patch {name}", e)
            _PATCHES.pop(name, None)
            if not _PATCHES and self in sys.meta_path:
                sys.meta_path.remove(self)

        loader.exec_module = exec_then_patch
        return spec


def _install_output_capture():
    # Never try a display: the Agg backend renders to files only.
    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = "Agg"
    sys.meta_path.insert(0, _PatchOnImport())


def _capture_at_end():
    """Saves the figures still open when the user's code is done, whatever the outcome."""
    try:
        _save_open_figures()
    except Exception as e:
        _warn("cannot save the open figures", e)


def _read(path, encoding="utf-8"):
    with open(path, encoding=encoding) as f:
        return f.read()


def _inputs_from_files(user_path, event_path, context_path):
    """The run's code, and loaders of its event and context (read when needed)."""
    return _read(user_path, "utf-8-sig"), lambda: _read(event_path), lambda: _read(context_path)


def _warm_up_rendering():
    """Draws a throwaway figure (outside pyplot, whose state stays untouched) so that the
    fonts and the renderer are loaded before the run."""
    try:
        import io
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure()
        FigureCanvasAgg(fig)
        fig.add_subplot().plot([0, 1])
        fig.text(0.5, 0.5, "0")
        fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    except Exception:
        pass


# What the driver imports late (the handler call, errors, the exit, async handlers) and
# what a session interpreter imports: a warm sandbox or zygote has them loaded already.
DRIVER_MODULES = ("inspect", "traceback", "atexit", "asyncio", "ast", "tempfile", "resource", "runpy")


def _preload(modules):
    for name in (*DRIVER_MODULES, *modules):
        try:
            __import__(name)
        except Exception:
            pass  # the run imports it itself, and sees the error then
    if "matplotlib.pyplot" in sys.modules:
        _warm_up_rendering()


def _wait_for_run(preload):
    """Warm mode: imports what the run will likely need, then waits for the run itself."""
    global START
    _preload(preload)
    os.write(WARM_FD, b"ready\n")
    chunks = []
    while True:
        chunk = os.read(WARM_FD, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.write(WARM_FD, b"taken\n")
    os.close(WARM_FD)
    run = json.loads(b"".join(chunks))
    os.environ.clear()
    os.environ.update(run["env"])
    START = time.monotonic()
    source = run["code"]
    if source.startswith("\ufeff"):  # as the utf-8-sig codec does for a file
        source = source[1:]
    return source, lambda: run["event"], lambda: run["context"]


def _zygote(library, preload):
    """Zygote mode: loads what runs will likely need once, then forks one run per request."""
    import ctypes
    import gc
    import signal
    import socket

    _preload(preload)
    # Launchers are reaped as they end (each fork resets this for itself).
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    library = ctypes.CDLL(library)
    library.sandbox_zygote_prepare()  # a failure shows in each run, which then fails closed
    fork_entry = library.sandbox_zygote_fork
    fork_entry.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    fork_entry.restype = ctypes.c_int
    take_claim = library.sandbox_zygote_claim
    take_claim.restype = ctypes.c_int
    requests = socket.socket(fileno=WARM_FD)
    requests.sendall(b"ready\n")
    gc.freeze()  # what is loaded now stays shared with the forks: their collector skips it
    while True:
        message, fds, _, _ = socket.recv_fds(requests, 1, 3)
        if not message:
            os._exit(0)  # the daemon is gone
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            started = fork_entry(*fds)
            if started == BUILT_AHEAD:  # a sandbox built ahead of its run
                _warm_up_fork()
                started = take_claim()
            if started != 0:
                os._exit(127)
            _run_forked()  # confined by now; never returns
        for fd in fds:
            os.close(fd)


# What sandbox_zygote_fork returns in a sandbox built ahead of its run, whose claim is to come.
BUILT_AHEAD = 1


def _warm_up_fork():
    """A sandbox built ahead of its run, before its claim (nothing of any run is in it): goes
    through what a run goes through (the environment, JSON, compiling and calling a handler),
    so that the interpreter's first writes to memory it shares with the zygote, one page
    copied each, happen now rather than in the run's time. Leaves nothing behind."""
    try:
        environ = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
        json.loads(json.dumps({"warm": [1, 2.5, "up", None]}))
        namespace = {"__builtins__": builtins}
        exec(compile("def handler(event):\n    return event\n", FILENAME, "exec", dont_inherit=True), namespace)
        namespace["handler"]({})
    except Exception:
        pass


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _run_forked():
    """A zygote's fork, in its own sandbox: runs the code from the files as the first form
    does, then ends as the interpreter would."""
    global RESULT_FD, START
    signal = sys.modules["signal"]  # loaded by the zygote
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if os.path.exists("/sandbox/exec.json"):
        _exec_forked(signal)
    _environ_from_file()
    if os.path.exists("/sandbox/session.py"):
        _serve_session()
    RESULT_FD = _take_result_fd()
    START = time.monotonic()
    if "numpy" in sys.modules:  # its global generator would repeat the zygote's sequence
        sys.modules["numpy"].random.seed()
    code = 0
    try:
        try:
            _main(*_inputs_from_files("/sandbox/user.py", "/sandbox/event.json", "/sandbox/context.json"))
        finally:
            _capture_at_end()
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException:
        _late_import("traceback").print_exc()
        code = 1
    _finish(code)


def _environ_from_file():
    """A fork's environment: the run's, as the cold path's driver would see it."""
    os.environ.clear()
    os.environ.update(json.loads(_read("/sandbox/environ.json")))
    if not os.environ.get("MPLBACKEND"):  # as _install_output_capture sets it
        os.environ["MPLBACKEND"] = "Agg"


def _serve_session():
    """A zygote's fork serving a session: says it is ready on the session's socket, then
    runs the session interpreter in this interpreter, with this driver (and its output
    capture, already installed) as the one it saves charts with."""
    os.write(3, b"ready\n")  # fd 3: the session's socket, which session.py takes over
    sys.modules["_sandbox_driver"] = sys.modules[__name__]
    code = 0
    try:
        _late_import("runpy").run_path("/sandbox/session.py", run_name="_sandbox_session")
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException:
        _late_import("traceback").print_exc()
        code = 1
    _finish(code)


def _exec_forked(signal):
    """A forked run of another program (a shell run): executes its command line with its
    environment, as the cold path's launcher would, with nothing of the interpreter kept."""
    argv = json.loads(_read("/sandbox/exec.json"))
    environ = json.loads(_read("/sandbox/environ.json"))
    # The interpreter ignores these at start, and an ignored signal stays so across exec.
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execve(argv[0], argv, environ)
    except OSError as e:
        os.write(2, f"cannot execute {argv[0]}: {e.strerror}\n".encode())
        os._exit(127)


def _exit_code(e):
    """The exit status the interpreter gives a SystemExit."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    print(e.code, file=sys.stderr)
    return 1


def _finish(code):
    """Ends as the interpreter does (non-daemon threads, atexit handlers, flushed output),
    without tearing down the modules the zygote loaded."""
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        _late_import("atexit")._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _main(source, event_text, context_text):
    global _mode
    namespace = _run_user_code(source)
    handler = namespace.get("handler")
    if not callable(handler):
        return  # script mode: the top level was the whole program
    _mode = "handler"
    try:
        event = json.loads(event_text())
        args = (event, _make_context(context_text()))[: _arity(handler)]
        value = handler(*args)
        if _late_import("inspect").isawaitable(value):  # async def handler, or the like
            value = _await(value)
    except BaseException as e:
        _fail(e)
    try:
        payload = json.dumps(value, allow_nan=False)
    except Exception as e:  # TypeError, ValueError (NaN, circular), RecursionError
        msg = f"the handler's return value is not JSON serializable: {e}"
        sys.stderr.write(f"SerializationError: {msg}\n")
        _write_error("SerializationError", msg, "")
        sys.exit(1)
    _write_result('{"mode":"handler","return_value":' + payload + "}")


# A session's interpreter (session.py) imports this file for its chart saving only.
if __name__ == "__main__":
    _install_output_capture()
    if sys.argv[1:2] == ["--zygote"]:
        _zygote(sys.argv[2], sys.argv[3:])
    warm = sys.argv[1:2] == ["--warm"]
    inputs = _wait_for_run(sys.argv[2:]) if warm else _inputs_from_files(*sys.argv[1:4])
    try:
        _main(*inputs)
    finally:
        _capture_at_end()

"""Tests of the session interpreters (python/session.py with rich.py, node/session.js), run on
the host without a sandbox: each interpreter serves on a socket pair at fd 3, as the daemon
hands it, from a temporary workspace; the tests send cells and read the event lines and the
answer of each.

Usage: python3 runtimes/test_sessions.py [PYTHON [NODE [CHART_PYTHON]]]
CHART_PYTHON, an interpreter with matplotlib, runs the figure cases (skipped without it).
"""
import base64
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/python3"
NODE = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/node"
CHART_PY = sys.argv[3] if len(sys.argv) > 3 else ""
failures = []
passed = 0


class Interpreter:
    """A session interpreter serving on fd 3, as the daemon starts it."""

    def __init__(self, argv, workspace):
        ours, theirs = socket.socketpair()
        raw = ours.detach()
        self.sock = socket.socket(fileno=fcntl.fcntl(raw, fcntl.F_DUPFD_CLOEXEC, 50))
        os.close(raw)
        child = fcntl.fcntl(theirs.fileno(), fcntl.F_DUPFD, 60)
        theirs.close()
        shell = f'exec "$@" 3<&{child} {child}<&-'
        self.process = subprocess.Popen(["bash", "-c", shell, "bash", *argv], cwd=workspace, pass_fds=[child],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child)
        self.lines = self.sock.makefile("rb")
        self.next_id = 1

    def cell(self, code, live=True, max_output=1 << 20, max_value=1 << 20):
        """(event lines, answer) of one cell."""
        request = {"id": self.next_id, "code": code, "max_output": max_output, "max_value": max_value, "live": live}
        self.next_id += 1
        self.sock.sendall((json.dumps(request) + "\n").encode())
        events = []
        while True:
            line = self.lines.readline()
            if not line:
                raise AssertionError(f"the interpreter ended during {code!r}")
            doc = json.loads(line)
            if "id" in doc:
                return events, doc
            events.append(doc)

    def close(self):
        self.lines.close()
        self.sock.close()
        self.process.wait(timeout=10)


def check(name, condition, detail=""):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(name)
        print(f"FAIL {name}: {detail}")


def texts(events, name):
    return "".join(e["text"] for e in events if e["event"] == name)


def results(events):
    return [{k: v for k, v in e.items() if k != "event"} for e in events if e["event"] == "result"]


def python_cases(py, workspace):
    s = Interpreter([py, "-u", "-B", os.path.join(HERE, "python", "session.py")], workspace)
    events, r = s.cell("x = 41")
    check("py: a statement has no result", (results(events), r["execution_count"]) == ([], 1), r)
    events, r = s.cell("x + 1")
    check("py: the value is the main result",
          results(events) == [{"is_main_result": True, "data": {"text/plain": "42"}}], events)
    check("py: cells are counted", (r["execution_count"], r["display"], r["value"]) == (2, "42", 42), r)
    events, r = s.cell("x;")
    check("py: `;` silences the value", results(events) == [] and r["display"] is None, (events, r))
    events, r = s.cell("print('hi')\nimport subprocess\nsubprocess.run(['echo', 'sub'])\ndisplay(1, 'a')\nNone")
    check("py: display gives results that are not main", results(events) == [
        {"is_main_result": False, "data": {"text/plain": "1"}},
        {"is_main_result": False, "data": {"text/plain": "'a'"}}], events)
    check("py: stdout streams, subprocesses included", texts(events, "stdout") == r["stdout"] == "hi\nsub\n", events)
    order = [e["event"] for e in events]
    check("py: output written before a display comes before it", order.index("result") > order.index("stdout"), order)
    events, r = s.cell("print('quiet')", live=False)
    check("py: not live, no output events", events == [] and r["stdout"] == "quiet\n", (events, r))
    events, r = s.cell("print('é' * 20)", max_output=9)
    check("py: the streamed output keeps to the cap", texts(events, "stdout") == r["stdout"] == "éééé\ufffd", events)
    check("py: the cap says truncated", r["stdout_truncated"] is True, r)
    events, r = s.cell("import sys\nsys.stderr.write('warn\\n')\n1 / 0")
    check("py: an error is as before", r["error"]["type"] == "ZeroDivisionError" and r["execution_count"] == 7, r)
    check("py: stderr streams, traceback included", texts(events, "stderr") == r["stderr"] and "ZeroDivision" in
          r["stderr"], events)
    rich_cases(s)
    s.close()


def rich_cases(s):
    code = ("class R:\n"
            "    def _repr_markdown_(self): return '**b**'\n"
            "    def _repr_svg_(self): return '<svg/>'\n"
            "    def _repr_png_(self): return b'\\x89PNG'\n"
            "    def _repr_json_(self): return {'n': [1]}\n"
            "    def _repr_latex_(self): raise ValueError('no latex')\n"
            "    def __repr__(self): return 'R()'\n"
            "R()")
    events, r = s.cell(code)
    data = results(events)[0]["data"]
    want = {"text/markdown": "**b**", "image/svg+xml": "<svg/>", "image/png": base64.b64encode(b"\x89PNG").decode(),
            "application/json": {"n": [1]}, "text/plain": "R()"}
    check("py: repr methods make the bundle", data == want, data)
    check("py: a failing repr method is said on stderr", "_repr_latex_ of R failed" in r["stderr"], r["stderr"])
    events, r = s.cell("class M:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n"
                       "        return {'text/html': '<i>m</i>'}, {}\n    def _repr_html_(self): return 'not this'\nM")
    check("py: a class is shown by its repr only", list(results(events)[0]["data"]) == ["text/plain"], events)
    events, r = s.cell("M()")
    check("py: a mime bundle comes first", results(events)[0]["data"]["text/html"] == "<i>m</i>", events)
    events, r = s.cell("display('x' * 100)", max_value=50)
    check("py: a result past the budget is left out, said", results(events) == [] and "left out" in r["stderr"], r)
    # IPython's display() is this one when IPython imports (a stand-in package here).
    events, r = s.cell("from IPython.display import display as d\nd({'a': 1})")
    check("py: IPython.display.display shows results",
          results(events) == [{"is_main_result": False, "data": {"text/plain": "{'a': 1}"}}], (events, r))


def chart_cases(py, workspace):
    s = Interpreter([py, "-u", "-B", os.path.join(HERE, "python", "session.py")], workspace)
    events, r = s.cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nplt.figure()\n"
                       "plt.bar(['a'], [1])\n'end'")
    shown = results(events)
    check("chart: the value, then the figure left open",
          [x["is_main_result"] for x in shown] == [False, True, False], shown)
    figure = shown[0]["data"]
    check("chart: a figure's text", figure["text/plain"] == "<Figure size 640x480 with 1 Axes>", figure)
    check("chart: a figure's PNG", base64.b64decode(figure["image/png"]).startswith(b"\x89PNG\r\n\x1a\n"), figure)
    check("chart: the files are saved as before",
          sorted(os.listdir(os.path.join(workspace, "output"))) == ["plot_0.png", "plot_1.png"], r)
    events, r = s.cell("import matplotlib.figure\nf = matplotlib.figure.Figure()\nf.add_subplot().plot([1])\nf")
    data = results(events)[0]["data"]
    check("chart: a figure as the value is drawn", base64.b64decode(data["image/png"])[:4] == b"\x89PNG", data)
    s.close()


def node_cases(workspace):
    s = Interpreter([NODE, os.path.join(HERE, "node", "session.js")], workspace)
    events, r = s.cell("var x = 41")
    check("js: undefined has no result", (results(events), r["execution_count"]) == ([], 1), r)
    events, r = s.cell("console.log('hi'); ({a: [x + 1]})")
    check("js: text and JSON", results(events) == [{"is_main_result": True, "data": {
        "text/plain": "{ a: [ 42 ] }", "application/json": {"a": [42]}}}], events)
    check("js: stdout streams", texts(events, "stdout") == r["stdout"] == "hi\n", events)
    check("js: cells are counted", r["execution_count"] == 2, r)
    events, r = s.cell("Symbol('s')")
    check("js: no JSON for what is not JSON",
          results(events) == [{"is_main_result": True, "data": {"text/plain": "Symbol(s)"}}], events)
    events, r = s.cell("process.stdout.write('é'.repeat(5)); 1", max_output=5)
    check("js: the streamed output keeps to the cap", texts(events, "stdout") == r["stdout"], events)
    events, r = s.cell("console.log('quiet')", live=False)
    check("js: not live, no output events", results(events) == [] and texts(events, "stdout") == "", events)
    s.close()


def main():
    workspace = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(workspace, "IPython"))
        with open(os.path.join(workspace, "IPython", "__init__.py"), "w") as f:
            f.write("")
        with open(os.path.join(workspace, "IPython", "display.py"), "w") as f:
            f.write("def display(*objs):\n    print('the stand-in, not ours')\n")
        python_cases(PY, workspace)
        node_cases(workspace)
        if CHART_PY:
            chart_cases(CHART_PY, workspace)
        else:
            print("SKIP: the figure cases (no interpreter with matplotlib)")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    print(f"sessions: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


main()

#!/usr/bin/env bash
# Tests for python/driver.py and node/driver.js (and, through test_sessions.py, the session
# interpreters), run directly on the host (no sandbox):
# a temp dir mimics the sandbox layout, the drivers run with the system
# interpreters from a workspace dir, with fd 3 redirected to a file.
#
# The Python rich-output cases (matplotlib and plotly figures saved under output/)
# run in a venv with those packages, built with pip on first use (PyPI must be
# reachable then) and cached under ${TMPDIR:-/tmp}/driver-test-venv/, keyed by the
# package list and the interpreter's version. Without it they are skipped, said so.
#
# Usage: runtimes/test_drivers.sh   (PYTHON=... NODE=... to override)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
NODE=${NODE:-/usr/bin/node}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SB=$T/sandbox WS=$T/workspace RES=$T/fd3-channel.json
mkdir -p "$SB" "$WS/node_modules/foo"
cp "$HERE/python/driver.py" "$HERE/node/driver.js" "$HERE/node/exact_json.js" "$SB/"
echo '{"n": 1}' >"$SB/event.json"
echo '{"execution_id": "exec-1", "timeout_ms": 30000, "memory_limit_mb": 512}' >"$SB/context.json"
printf 'def double(x):\n    return 2 * x\n' >"$WS/helper.py"
echo 'module.exports = (x) => 2 * x;' >"$WS/helper.js"
echo 'export const triple = (x) => 3 * x;' >"$WS/helper.mjs"
echo 'module.exports = "foo-pkg";' >"$WS/node_modules/foo/index.js"

pass=0 failed=0 CASE=
fd3=yes

# py CODE / js EXT CODE: run the driver on CODE; stdin from $STDIN (default /dev/null).
run() {
  local user=$1 cmd
  shift
  printf '%s' "$1" >"$SB/$user"
  case $user in
    *.py) cmd=("$PY" -u -B "$SB/driver.py") ;;
    *) cmd=("$NODE" "$SB/driver.js") ;;
  esac
  : >"$RES"
  if [ $fd3 = yes ]; then
    (cd "$WS" && exec timeout 30 "${cmd[@]}" "$SB/$user" "$SB/event.json" "$SB/context.json" \
      <"${STDIN:-/dev/null}" >"$T/out" 2>"$T/err" 3>"$RES")
  else
    (cd "$WS" && exec timeout 30 "${cmd[@]}" "$SB/$user" "$SB/event.json" "$SB/context.json" \
      <"${STDIN:-/dev/null}" >"$T/out" 2>"$T/err")
  fi
  RC=$?
}
py() { CASE="py: $1"; run user.py "$2"; }
js() { CASE="js: $1"; run "user.$2" "$3"; }

check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    pass=$((pass + 1))
  else
    failed=$((failed + 1))
    echo "FAIL [$CASE] $what (rc=$RC)"
    echo "  stdout: $(head -c 300 "$T/out")"
    echo "  stderr: $(head -c 600 "$T/err")"
    echo "  fd 3:   $(head -c 600 "$RES")"
  fi
}
json_eq() { "$PY" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.loads(sys.argv[2]))' "$RES" "$1" 2>/dev/null; }
field() { # field KEY VALUE: the fd-3 document's mode or error.KEY is VALUE (=stderr: the stderr text)
  "$PY" - "$RES" "$T/err" "$1" "$2" 2>/dev/null <<'EOF'
import json, sys
res, err, key, want = sys.argv[1:]
doc = json.load(open(res))
got = doc["mode"] if key == "mode" else doc["error"][key]
sys.exit(got != (open(err).read() if want == "=stderr" else want))
EOF
}
rc() { check "exit code $1" test "$RC" = "$1"; }
res() { check "fd 3 = $1" json_eq "$1"; }
no_res() { check "nothing on fd 3" test ! -s "$RES"; }
res_err() { # res_err MODE TYPE MESSAGE: an error document whose traceback is the stderr text
  check "fd 3 mode $1" field mode "$1"
  check "fd 3 error type $2" field type "$2"
  check "fd 3 error message $3" field message "$3"
  check "fd 3 traceback = stderr" field traceback =stderr
}
out_is() { check "stdout = $(printf %q "$1")" test "$(cat "$T/out"; echo .)" = "$1."; }
err_is() { check "stderr = $(printf %q "$1")" test "$(cat "$T/err"; echo .)" = "$1."; }
err_has() { check "stderr has $1" grep -qF -- "$1" "$T/err"; }
err_lacks() { check "stderr lacks $1" eval '! grep -qF -- "$1" "$T/err"'; }
out_size() { check "stdout size $1" test "$(wc -c <"$T/out")" = "$1"; }

# ---------------------------------------------------------------- Python
py 'handler returns a dict' 'def handler(event):
    return {"echo": event, "ok": True, "none": None}'
rc 0; res '{"mode": "handler", "return_value": {"echo": {"n": 1}, "ok": true, "none": null}}'; out_is ''; err_is ''

py 'handler(event, context)' 'def handler(event, context):
    left = context.get_remaining_time_in_millis()
    return [context.execution_id, context.function_name, context.memory_limit_in_mb, 0 < left <= 30000]'
rc 0; res '{"mode": "handler", "return_value": ["exec-1", "handler", 512, true]}'

py 'async handler' 'import asyncio
async def handler(event):
    await asyncio.sleep(0.01)
    return event["n"] + 1'
rc 0; res '{"mode": "handler", "return_value": 2}'

py 'handler returning None' 'def handler(event):
    print("side effect")'
rc 0; res '{"mode": "handler", "return_value": null}'; out_is $'side effect\n'

py 'script printing' 'print("hello")
print("world")'
rc 0; no_res; out_is $'hello\nworld\n'; err_is ''

py 'syntax error' 'def handler(event:
    return 1'
rc 1; res_err script SyntaxError "'(' was never closed"
err_is '  File "<string>", line 1
    def handler(event:
               ^
SyntaxError: '"'"'('"'"' was never closed
'

py 'ZeroDivisionError in handler' 'def ratio(x):
    return x / 0

def handler(event):
    return ratio(event["n"])'
rc 1; res_err handler ZeroDivisionError 'division by zero'; err_lacks driver.py
err_is 'Traceback (most recent call last):
  File "<string>", line 5, in handler
    return ratio(event["n"])
           ^^^^^^^^^^^^^^^^^
  File "<string>", line 2, in ratio
    return x / 0
           ~~^~~
ZeroDivisionError: division by zero
'

py 'ZeroDivisionError at top level' 'print("before")
x = 1 / 0'
rc 1; res_err script ZeroDivisionError 'division by zero'; out_is $'before\n'; err_lacks driver.py
err_is 'Traceback (most recent call last):
  File "<string>", line 2, in <module>
    x = 1 / 0
        ~~^~~
ZeroDivisionError: division by zero
'

py 'error in async handler' 'async def handler(event):
    raise KeyError("k")'
rc 1; res_err handler KeyError "'k'"; err_lacks driver.py; err_lacks asyncio

py 'sys.exit(3)' 'import sys
sys.exit(3)'
rc 3; no_res; err_is ''

py 'sys.exit() in handler' 'import sys
def handler(event):
    sys.exit()'
rc 0; no_res; err_is ''

py 'sys.exit("msg")' 'import sys
sys.exit("bye")'
rc 1; no_res; err_is $'bye\n'

py 'non-serializable return' 'def handler(event):
    return {1, 2}'
rc 1; err_has 'not JSON serializable'; check 'SerializationError' field type SerializationError
check 'empty traceback' field traceback ''

py 'NaN return' 'def handler(event):
    return float("nan")'
rc 1; check 'SerializationError' field type SerializationError

py 'fd 3 is private' 'import os
try:
    os.write(3, b"garbage")
except OSError as e:
    print(e.errno == 9)
os.system("ls -l /proc/self/fd/ | grep -c fd3-channel")
def handler(event):
    return 1'
rc 0; out_is $'True\n0\n'; res '{"mode": "handler", "return_value": 1}'

py '__main__ and pickle' 'import pickle
class Point:
    pass
if __name__ == "__main__":
    print(type(pickle.loads(pickle.dumps(Point()))).__name__)
print(sorted(globals()))'
rc 0; out_is $'Point\n[\x27Point\x27, \x27__builtins__\x27, \x27__doc__\x27, \x27__loader__\x27, \x27__name__\x27, \x27__package__\x27, \x27__spec__\x27, \x27pickle\x27]\n'

py 'helper module in cwd' 'import helper
def handler(event):
    return helper.double(21)'
rc 0; res '{"mode": "handler", "return_value": 42}'

echo 'from stdin' >"$T/stdin"
STDIN=$T/stdin py 'reads stdin' 'import sys
print(sys.stdin.read().upper())'
rc 0; out_is $'FROM STDIN\n\n'

py '20 MB print' 'import sys
def handler(event):
    print("x" * (20 * 1000 * 1000 - 1))
    return "done"'
rc 0; out_size 20000000; res '{"mode": "handler", "return_value": "done"}'

fd3=no
py 'without fd 3' 'def handler(event):
    print("ran")
    return 1'
rc 0; out_is $'ran\n'; err_is ''
fd3=yes

# ---------------------------------------------------------------- Python rich outputs
CHART_PACKAGES="matplotlib plotly"
VENV_ROOT=${TMPDIR:-/tmp}/driver-test-venv
VENV=$VENV_ROOT/$(printf '%s\n' "$CHART_PACKAGES" "$(/usr/bin/python3 -VV 2>&1)" | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python3" ]; then
  echo "building the chart test venv $VENV (pip install $CHART_PACKAGES)..."
  mkdir -p "$VENV_ROOT"
  partial=$VENV.partial.$$ # renamed into place only when complete
  /usr/bin/python3 -m venv "$partial" >"$T/venv.log" 2>&1 &&
    "$partial/bin/python3" -m pip install -q --disable-pip-version-check $CHART_PACKAGES >>"$T/venv.log" 2>&1 &&
    mv -T "$partial" "$VENV" 2>/dev/null
  rm -rf "$partial"
fi

# chart DESCRIPTION CODE: the driver on CODE with the venv's interpreter, from a
# workspace without an output folder.
chart() {
  CASE="chart: $1"
  rm -rf "$WS/output"
  PY=$VENV/bin/python3 run user.py "$2"
}
is_png() { test "$(head -c 8 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a; }
png() { check "output/$1 is a PNG" is_png "$WS/output/$1"; }
outputs() { check "output/ holds $1" test "$(cd "$WS/output" 2>/dev/null && ls | tr '\n' ' ')" = "$1"; }
no_output() { check "no output folder" test ! -e "$WS/output"; }
plotly_json() { # plotly_json FILE TRACE-TYPE: a plotly figure's JSON whose first trace is of that type
  check "output/$1 is a plotly figure of a $2" "$PY" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
sys.exit(not (doc["data"][0]["type"] == sys.argv[2] and "layout" in doc))' "$WS/output/$1" "$2"
}
# best_ms CODE: the shortest of three runs of the driver on CODE, in milliseconds.
best_ms() {
  local best= i start ms
  for i in 1 2 3; do
    start=$(date +%s%N)
    PY=$VENV/bin/python3 run user.py "$1"
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

if [ ! -x "$VENV/bin/python3" ]; then
  echo "SKIP the Python rich-output cases: cannot build the venv (no PyPI?): $(tail -c 300 "$T/venv.log")"
else
  export MPLCONFIGDIR=$VENV/mplconfig # matplotlib's font cache, built once

  chart 'plt.show() saves the figure' 'import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9])
plt.show()
print(plt.get_fignums())'
  rc 0; no_res; out_is $'[]\n'; err_is ''; outputs 'plot_0.png '; png plot_0.png

  chart 'two figures left open' 'import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b"], [3, 5])
plt.figure()
plt.scatter([1, 2], [2, 1])'
  rc 0; out_is ''; err_is ''; outputs 'plot_0.png plot_1.png '; png plot_0.png; png plot_1.png

  chart 'show, then one more left open' 'import matplotlib
matplotlib.use("Agg")
from matplotlib import pyplot
pyplot.plot([1, 2])
pyplot.show()
pyplot.plot([2, 1])
print(matplotlib.get_backend().lower())'
  rc 0; out_is $'agg\n'; outputs 'plot_0.png plot_1.png '; png plot_1.png

  chart 'a handler plots and returns' 'import matplotlib.pyplot as plt
def handler(event):
    plt.plot([event["n"], 2, 3])
    return {"plotted": True}'
  rc 0; res '{"mode": "handler", "return_value": {"plotted": true}}'; outputs 'plot_0.png '; png plot_0.png

  chart 'plotted, then an error' 'import matplotlib.pyplot as plt
plt.plot([1, 2])
raise ValueError("after the plot")'
  rc 1; res_err script ValueError 'after the plot'; outputs 'plot_0.png '; png plot_0.png

  chart 'plotted, then sys.exit(0)' 'import sys
import matplotlib.pyplot as plt
plt.plot([1, 2])
sys.exit(0)'
  rc 0; no_res; outputs 'plot_0.png '

  chart 'saved in the workspace after chdir' 'import os
import matplotlib.pyplot as plt
os.chdir("/")
plt.plot([1, 2])
plt.show()'
  rc 0; outputs 'plot_0.png '

  chart 'an empty figure shows nothing' 'import matplotlib.pyplot as plt
plt.figure()'
  rc 0; err_is ''; no_output

  chart 'plotly fig.show() saves the JSON' 'import plotly.graph_objects as go
fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
fig.show()
print("shown")'
  rc 0; out_is $'shown\n'; err_is ''; outputs 'plotly_0.json '; plotly_json plotly_0.json bar

  chart 'plotly.io.show of a dict and of a figure' 'import plotly.io as pio
pio.show({"data": [{"type": "scatter", "y": [1, 3]}]})
import plotly.graph_objects as go
pio.show(go.Figure(go.Pie(values=[1, 2])))'
  rc 0; err_is ''; outputs 'plotly_0.json plotly_1.json '
  plotly_json plotly_0.json scatter; plotly_json plotly_1.json pie

  chart 'matplotlib and plotly in one handler' 'import matplotlib.pyplot as plt
import plotly.graph_objects as go
def handler(event):
    go.Figure(go.Bar(y=[1])).show()
    plt.plot([1, 2])
    return "both"'
  rc 0; res '{"mode": "handler", "return_value": "both"}'; outputs 'plot_0.png plotly_0.json '

  chart 'no import, no output folder, no matplotlib loaded' 'import sys, json
print(sorted(m for m in sys.modules if m.split(".")[0] in ("matplotlib", "plotly")))
def handler(event):
    return 1'
  rc 0; out_is $'[]\n'; res '{"mode": "handler", "return_value": 1}'; no_output

  chart 'importing matplotlib alone saves nothing' 'import matplotlib, plotly'
  rc 0; err_is ''; no_output

  # No eager import: a run that does not plot costs a fraction of one that imports pyplot.
  CASE='chart: timing'
  plain=$(best_ms 'print(sum(range(1000)))')
  with_pyplot=$(best_ms 'import matplotlib.pyplot')
  check "a plain run (${plain} ms) is under half a pyplot import (${with_pyplot} ms)" \
    test $((plain * 2)) -lt "$with_pyplot"
  rm -rf "$WS/output"
fi

# ---------------------------------------------------------------- JavaScript
js 'module.exports.handler + context' cjs 'module.exports.handler = (event, context) => {
  const left = context.getRemainingTimeInMillis();
  return [event, context.execution_id, context.function_name, context.memory_limit_in_mb, left > 0 && left <= 30000];
};'
rc 0; res '{"mode": "handler", "return_value": [{"n": 1}, "exec-1", "handler", 512, true]}'; out_is ''; err_is ''

js 'exports.handler' cjs 'exports.handler = function (event) { return { got: event.n } }'
rc 0; res '{"mode": "handler", "return_value": {"got": 1}}'

js 'module.exports = { handler }' cjs 'async function handler(event) { return "obj" }
module.exports = { handler };'
rc 0; res '{"mode": "handler", "return_value": "obj"}'

js 'top-level function handler' cjs 'function handler(event) { return "top-fn" }'
rc 0; res '{"mode": "handler", "return_value": "top-fn"}'

js 'top-level const async handler' cjs 'const handler = async (event) => { await null; return "top-const" }'
rc 0; res '{"mode": "handler", "return_value": "top-const"}'

js 'returning undefined' cjs 'exports.handler = () => { console.log("side effect") }'
rc 0; res '{"mode": "handler", "return_value": null}'; out_is $'side effect\n'

js 'Promise-returning handler' cjs 'exports.handler = (e) => new Promise((resolve) => setTimeout(() => resolve(e.n + 1), 20))'
rc 0; res '{"mode": "handler", "return_value": 2}'

js 'ESM export const handler' mjs 'export const handler = async (event, context) => [event.n, context.execution_id]'
rc 0; res '{"mode": "handler", "return_value": [1, "exec-1"]}'

js 'ESM export function handler' mjs 'import os from "node:os";
export function handler(event) { return typeof os.cpus }'
rc 0; res '{"mode": "handler", "return_value": "function"}'

js 'ESM export default function' mjs 'export default function (event) { return "default-fn" }'
rc 0; res '{"mode": "handler", "return_value": "default-fn"}'

js 'ESM export default { handler }' mjs 'export default { handler: async () => "default-obj" }'
rc 0; res '{"mode": "handler", "return_value": "default-obj"}'

js 'require helper + node_modules' cjs 'const double = require("./helper"); const foo = require("foo");
exports.handler = () => [double(21), foo, require.main === module, __dirname === process.cwd()]'
rc 0; res '{"mode": "handler", "return_value": [42, "foo-pkg", true, true]}'

js 'ESM import helper + node_modules' mjs 'import { triple } from "./helper.mjs"; import foo from "foo";
export const handler = () => [triple(3), foo, import.meta.url === "file://" + process.cwd() + "/index.mjs"]'
rc 0; res '{"mode": "handler", "return_value": [9, "foo-pkg", true]}'

js 'script with a timer' cjs 'setTimeout(() => console.log("later"), 100); console.log("now")'
rc 0; no_res; out_is $'now\nlater\n'; err_is ''

js 'ESM script' mjs 'import { triple } from "./helper.mjs"; console.log(triple(2))'
rc 0; no_res; out_is $'6\n'

js 'process.exit(0) in script' cjs 'console.log("bye"); process.exit(0); console.log("never")'
rc 0; no_res; out_is $'bye\n'

js 'exit code of a script' cjs 'process.exitCode = 4'
rc 4; no_res

js 'TypeError in handler' cjs 'exports.handler = (event) => {
  return event.missing.field;
};'
rc 1; res_err handler TypeError "Cannot read properties of undefined (reading 'field')"; err_lacks driver.js
err_is "TypeError: Cannot read properties of undefined (reading 'field')
    at exports.handler ($WS/index.js:2:24)
"

js 'error at top level' cjs 'function f() { throw new RangeError("top") }
f();'
rc 1; res_err script RangeError top; err_lacks driver.js; err_lacks node:internal
err_is "RangeError: top
    at f ($WS/index.js:1:22)
    at Object.<anonymous> ($WS/index.js:2:1)
"

js 'CommonJS syntax error' cjs 'function handler(event {
  return 1;
}'
rc 1; res_err script SyntaxError "Unexpected token '{'"
err_is "$WS/index.js:1
function handler(event {
                       ^

SyntaxError: Unexpected token '{'
"

js 'ESM syntax error' mjs 'import fs from "fs";
export const handler = () => {;'
rc 1; res_err script SyntaxError 'Unexpected end of input'; err_has "file://$WS/index.mjs:2"

js 'async rejection in script' cjs 'async function main() { await null; throw new Error("async boom") }
main();'
rc 1; res_err script Error 'async boom'; err_has 'at main'

js 'uncaught error in a timer' cjs 'setTimeout(() => { throw new Error("timer boom") }, 10)'
rc 1; res_err script Error 'timer boom'

js 'throw "string"' cjs 'throw "x"'
rc 1; res_err script string x; err_is $'Uncaught \'x\'\n'

js 'rejected handler' mjs 'export const handler = async () => { throw new TypeError("nope") }'
rc 1; res_err handler TypeError nope; err_has "file://$WS/index.mjs:1"

js 'BigInt return' cjs 'exports.handler = () => ({ big: 2n ** 70n, small: -10n })'
rc 0; res '{"mode": "handler", "return_value": {"big": 1180591620717411303424, "small": -10}}'

js 'circular return' cjs 'exports.handler = () => { const a = {}; a.self = a; return a }'
rc 1; check 'SerializationError' field type SerializationError; check 'empty traceback' field traceback ''

js 'never-settling handler' cjs 'exports.handler = () => new Promise(() => {})'
rc 1; check 'error reported' field type Error

js 'children do not inherit fd 3' cjs 'require("child_process").execSync("ls -l /proc/self/fd/ | grep -c fd3-channel || true", { stdio: "inherit" });
exports.handler = () => 1'
rc 0; out_is $'0\n'; res '{"mode": "handler", "return_value": 1}'

js '20 MB console.log then return' cjs 'exports.handler = () => {
  const line = "x".repeat(99);
  for (let i = 0; i < 200000; i++) console.log(line);
  setInterval(() => {}, 1000); // must not keep the process alive
  return "done";
}'
rc 0; out_size 20000000; res '{"mode": "handler", "return_value": "done"}'

fd3=no
js 'without fd 3' cjs 'exports.handler = () => { console.log("ran"); return 1 }'
rc 0; out_is $'ran\n'; err_is ''
fd3=yes

# The session interpreters (results, counts, streamed output): their own file of cases.
chart_python=
[ -x "$VENV/bin/python3" ] && chart_python=$VENV/bin/python3
CASE="session interpreters"
RC=0
"$PY" "$HERE/test_sessions.py" "$PY" "$NODE" $chart_python >"$T/out" 2>"$T/err" || RC=$?
cat "$T/out"
check "runtimes/test_sessions.py passes" test "$RC" = 0

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]

"""The E2B workflow through the official Python SDKs, unmodified: what each step gave is printed
as one JSON object for the Rust test to check. E2B_API_KEY, E2B_API_URL and E2B_SANDBOX_URL
point at the daemon; OTHER_API_KEY is a second key (another tenant)."""

import asyncio
import json
import os

from e2b import CommandExitException, Sandbox as BaseSandbox
from e2b_code_interpreter import AsyncSandbox, Sandbox

OTHER = os.environ["OTHER_API_KEY"]
out = {}


def failure(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the type is what is checked
        return type(e).__name__
    return None


sbx = Sandbox.create()
out["sandbox_id"] = sbx.sandbox_id
sbx.run_code("x = 41")
out["x_plus_1"] = sbx.run_code("x + 1").text
out["string"] = sbx.run_code("'abc'").text
plot = sbx.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
out["plot_png"] = [r.png[:8] for r in plot.results if r.png]
frame = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})")
out["frame_html"] = [("<table" in r.html) for r in frame.results if r.html]
error = sbx.run_code("def f():\n    return 1 / 0\nf()").error
out["error"] = {"name": error.name, "value": error.value, "traceback": error.traceback}
printed = sbx.run_code("print('printed')")
out["stdout"] = "".join(printed.logs.stdout)
out["js"] = sbx.run_code("const y = 20; y * 2 + 2", language="js").text

context = sbx.create_code_context(cwd="/home/user")
sbx.run_code("x = 'own'", context=context)
out["context_x"] = sbx.run_code("x", context=context).text
out["default_x_after_context"] = sbx.run_code("x").text
out["contexts_listed"] = context.id in [c.id for c in sbx.list_code_contexts()]
sbx.restart_code_context(context)
out["context_after_restart"] = sbx.run_code("x", context=context).error.name
sbx.remove_code_context(context)
out["context_removed"] = context.id in [c.id for c in sbx.list_code_contexts()]
out["removed_context_run"] = failure(lambda: sbx.run_code("1", context=context))

sbx.files.write("/home/user/a.txt", "written by files")
out["read"] = sbx.files.read("/home/user/a.txt")
out["read_by_command"] = sbx.commands.run("cat /home/user/a.txt").stdout
out["read_by_code"] = sbx.run_code("open('/home/user/a.txt').read()").text
sbx.files.write("/home/user/b.bin", bytes(range(256)))
out["binary"] = sbx.files.read("/home/user/b.bin", format="bytes") == bytes(range(256))
sbx.files.make_dir("/home/user/d/e")
out["made_again"] = sbx.files.make_dir("/home/user/d/e")
sbx.files.write("d/f.txt", "f")
out["listed"] = sorted((e.name, e.type.value) for e in sbx.files.list("/home/user/d"))
sbx.files.rename("/home/user/d/f.txt", "/home/user/d/g.txt")
out["exists_after_move"] = [sbx.files.exists("/home/user/d/f.txt"), sbx.files.exists("/home/user/d/g.txt")]
sbx.files.remove("/home/user/d")
out["exists_after_remove"] = sbx.files.exists("/home/user/d")
out["list_outside"] = failure(lambda: sbx.files.list("/etc"))
out["echo"] = sbx.commands.run("echo hi").stdout
out["pwd_home"] = sbx.commands.run("echo $HOME; pwd").stdout
try:
    sbx.commands.run("echo oops >&2; exit 3")
    out["exit"] = None
except CommandExitException as e:
    out["exit"] = {"code": e.exit_code, "stderr": e.stderr}

# Output streams: each command and cell below waits for a file the client writes only once it
# has seen the first line (a client that got the output at the end would wait for ever).
def release(name):
    return lambda line: line.startswith("1") and sbx.files.write(f"/home/user/{name}", "")


wait = "while [ ! -f /home/user/{0} ]; do sleep 0.1; done"
streamed = sbx.commands.run(f"echo 1; {wait.format('go1')}; echo 2", on_stdout=release("go1"), timeout=60)
out["streamed_command"] = streamed.stdout
wait_py = "import os, time\nprint('1', flush=True)\nwhile not os.path.exists('/home/user/go2'): time.sleep(0.1)\nprint('2')"
streamed = sbx.run_code(wait_py, on_stdout=lambda m: release("go2")(m.line), timeout=60)
out["streamed_cell"] = "".join(streamed.logs.stdout)

handle = sbx.commands.run("sleep 100; echo finished", background=True)
out["listed_running"] = handle.pid in [p.pid for p in sbx.commands.list()]
out["killed"] = sbx.commands.kill(handle.pid)
try:
    result = handle.wait()
    out["killed_wait"] = {"stdout": result.stdout, "code": result.exit_code}
except CommandExitException as e:
    out["killed_wait"] = {"stdout": e.stdout, "code": e.exit_code}
out["kill_again"] = sbx.commands.kill(handle.pid)

listed = [s.sandbox_id for s in Sandbox.list().next_items()]
out["listed_by_owner"] = sbx.sandbox_id in listed
out["listed_by_other"] = sbx.sandbox_id in [s.sandbox_id for s in Sandbox.list(api_key=OTHER).next_items()]
out["other_connect"] = failure(lambda: Sandbox.connect(sbx.sandbox_id, api_key=OTHER))
out["other_kill"] = Sandbox.kill(sbx.sandbox_id, api_key=OTHER)
out["other_info"] = failure(lambda: Sandbox.get_info(sbx.sandbox_id, api_key=OTHER))
out["running_for_owner"] = Sandbox.connect(sbx.sandbox_id).is_running()

before = sbx.get_info().end_at
sbx.set_timeout(900)
out["timeout_moved"] = sbx.get_info().end_at > before


async def async_client():
    asbx = await AsyncSandbox.create()
    await asbx.run_code("z = 6")
    text = (await asbx.run_code("z * 7")).text
    stdout = (await asbx.commands.run("echo async")).stdout
    await asbx.kill()
    return [text, stdout]


out["async"] = asyncio.run(async_client())

base = BaseSandbox.create()
out["base_echo"] = base.commands.run("python3 -c 'print(6 * 7)'").stdout
out["base_kill"] = base.kill()

out["kill"] = sbx.kill()
out["running_after_kill"] = sbx.is_running()
out["run_code_after_kill"] = failure(lambda: sbx.run_code("1"))
out["command_after_kill"] = failure(lambda: sbx.commands.run("echo hi"))
out["read_after_kill"] = failure(lambda: sbx.files.read("/home/user/a.txt"))
print(json.dumps(out))

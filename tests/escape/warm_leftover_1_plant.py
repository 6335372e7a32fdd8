# what: on the warm path, leave a token everywhere a later run on the same pool might look: files in /tmp, /workspace and /dev/shm, the environment, the interpreter's memory, a background process holding it
# status: success
# reason: none
import os
import subprocess
import sys

token = "{{TOKEN}}"
for d in ("/tmp", "/workspace", "/dev/shm"):
    with open(os.path.join(d, "warm-left-behind"), "w") as f:
        f.write(token)
os.environ["WARM_LEFT_BEHIND"] = token
sys.modules["warm_left_behind"] = type(sys)("warm_left_behind")
sys.modules["warm_left_behind"].token = token
kept = [token * 1000]  # in this interpreter's heap
subprocess.Popen(
    [sys.executable, "-c", "import time; t = open('/tmp/warm-left-behind').read(); time.sleep(600)"],
    start_new_session=True,
    env={**os.environ, "HELD": token},
)
print("planted")

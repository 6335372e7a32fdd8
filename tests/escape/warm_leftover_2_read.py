# what: on the warm path, look for what an earlier run of the same pool left: files, the environment, imported modules, other processes' memory, environment and command lines (the runner knows every earlier token)
# status: success
# reason: none
# denied: files, environment, modules, processes
import os
import sys

found = []
for d in ("/tmp", "/workspace", "/dev/shm"):
    for root, _, files in os.walk(d):
        for name in files:
            path = os.path.join(root, name)
            try:
                found.append(path + ": " + open(path, errors="replace").read(200))
            except OSError:
                pass
print("DENIED files (none left)" if not found else "ESCAPED files: %s" % found)
left = {k: v for k, v in os.environ.items() if "LEFT" in k or "HELD" in k}
print("DENIED environment (clean)" if not left else "ESCAPED environment: %s" % left)
mods = [m for m in sys.modules if "left" in m]
print("DENIED modules (fresh interpreter)" if not mods else "ESCAPED modules: %s" % mods)
others = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) in (1, os.getpid()):
        continue
    try:
        cmdline = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ")
    except OSError:
        continue
    others.append(pid)
    print("other process %s: %s" % (pid, cmdline[:200]))
    for what in ("environ", "mem"):
        try:
            with open("/proc/%s/%s" % (pid, what), "rb") as f:
                print("ESCAPED /proc/%s/%s readable: %r" % (pid, what, f.read(200)))
        except OSError:
            pass
print("DENIED processes (only this run's)" if not others else "ESCAPED processes: %s" % others)

# what: climb out through /proc: /proc/self/root, /proc/<pid>/root and cwd of every process, inherited descriptors
# status: success
# reason: none
# denied: /proc/self/root, /proc/*/root, /proc/*/cwd, descriptors
import os

sandbox_root = sorted(os.listdir("/"))
host_only = ["root", "home", "var", "boot", "srv", "work"]
root = sorted(os.listdir("/proc/self/root/"))
if root != sandbox_root or any(os.path.exists(f"/proc/self/root/{d}") for d in host_only):
    print(f"ESCAPED /proc/self/root shows {root}")
else:
    print("DENIED /proc/self/root (the sandbox's own root)")
escaped = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    for link in ["root", "cwd"]:
        try:
            seen = sorted(os.listdir(f"/proc/{pid}/{link}/"))
        except OSError:
            continue
        if link == "root" and seen != sandbox_root:
            escaped.append(f"/proc/{pid}/root")
        for up in ["..", "../..", "../../.."]:
            here = os.path.realpath(f"/proc/{pid}/{link}/{up}")
            if any(os.path.exists(f"{here}/{d}") for d in host_only):
                escaped.append(f"/proc/{pid}/{link}/{up}")
print(f"ESCAPED {escaped}" if escaped else "DENIED /proc/*/root")
print("DENIED /proc/*/cwd" if not any("cwd" in e for e in escaped) else "ESCAPED cwd")
# Every descriptor the program holds: nothing of the daemon's (its sockets, database, state dir).
bad = []
for pid in ["self", "1"]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if "executor" in target or "se-test" in target or "{{STATE_DIR}}" in target or target.startswith("socket:"):
            bad.append(f"{pid}/{fd} -> {target}")
print(f"ESCAPED descriptors {bad}" if bad else "DENIED descriptors (none of the daemon's)")

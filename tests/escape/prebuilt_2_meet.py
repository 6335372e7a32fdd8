# what: in a sandbox built ahead of its run, look for the previous claimant: files in the claim directory that are not this run's, a workspace other than its own, the process it left behind, its stdin and environment (the runner knows every earlier token)
# status: success
# reason: none
# stdin: "mine\n"
# denied: claim directory, workspace, processes, stdin, environment
import os
import sys

mine = {"driver.py", "user.py", "event.json", "context.json", "environ.json"}
others = sorted(set(os.listdir("/sandbox")) - mine)
print("DENIED claim directory (only this run's files)" if not others else f"ESCAPED claim directory: {others}")

mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if l.split()[4] == "/workspace"]
planted = os.path.exists("/workspace/next-claimant")
ok = len(mounts) == 1 and not planted
print("DENIED workspace (its own only)" if ok else f"ESCAPED workspace: {len(mounts)} mounts, planted {planted}")

left = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) in (1, os.getpid()):
        continue
    try:
        left.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")[:200])
    except OSError:
        pass
print("DENIED processes (only this run's)" if not left else f"ESCAPED processes: {left}")

given = sys.stdin.read()
print("DENIED stdin (its own)" if given == "mine\n" else f"ESCAPED stdin: {given!r}")
print("DENIED environment (clean)" if "NEXT_CLAIMANT" not in os.environ else "ESCAPED environment")

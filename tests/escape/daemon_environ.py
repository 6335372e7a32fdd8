# what: read the daemon's environment through /proc/1/environ, /proc/<daemon pid> and every /proc/*/environ
# status: success
# reason: none
# denied: /proc/1/environ, daemon pid, environ scan
import os

try:
    env = open("/proc/1/environ", "rb").read()
    if b"EXECUTOR_PORT" in env or b"ESCAPE_CANARY" in env:
        print("ESCAPED /proc/1/environ is the daemon's:", env[:200])
    else:
        print("DENIED /proc/1/environ (readable, but the sandbox's own init)")
except OSError as e:
    print(f"DENIED /proc/1/environ ({e.strerror})")

daemon = "/proc/{{DAEMON_PID}}"
if os.path.exists(daemon) and b"serve" in open(f"{daemon}/cmdline", "rb").read():
    print("ESCAPED daemon pid {{DAEMON_PID}} is visible")
else:
    print("DENIED daemon pid (not in this pid namespace)")

found = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        env = open(f"/proc/{pid}/environ", "rb").read()
    except OSError:
        continue
    if b"EXECUTOR_PORT" in env or b"ESCAPE_CANARY" in env or b"STATE_DIR" in env:
        found.append(pid)
print(f"ESCAPED daemon environment in /proc/{found}" if found else "DENIED environ scan")

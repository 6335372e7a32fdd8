# what: signal host processes by guessed pid and group (the daemon, pids and groups 1 to pid_max, at most 65536), and join a foreign process group (setpgid)
# status: success
# reason: none
# denied: kill daemon by pid, killpg daemon, kill guessed pids, killpg guessed groups, setpgid foreign group, setpgid guessed groups
# in-session: yes
import errno
import os
import signal

# Guessing stops here on hosts whose pid_max is larger (up to 4194304): each guess is a system call.
GUESSES = 1 << 16
# The run's processes and their threads (an interpreter may run threads; a thread's id answers
# kill too).
own = {int(p) for p in os.listdir("/proc") if p.isdigit()}
for pid in list(own):
    try:
        own.update(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        pass


def attempt(what, call):
    try:
        call()
        print(f"ESCAPED {what}: it worked")
    except OSError as e:
        print(f"DENIED {what} ({errno.errorcode.get(e.errno)})")


for sig in (signal.SIGSTOP, signal.SIGKILL):
    attempt("kill daemon by pid", lambda: os.kill({{DAEMON_PID}}, sig))
    attempt("killpg daemon", lambda: os.killpg({{DAEMON_PID}}, sig))

# Signal 0 checks for a process (or group) without touching it: none outside the run may be
# found, whatever the number.
try:
    pid_max = min(int(open("/proc/sys/kernel/pid_max").read()), GUESSES)
except OSError:
    pid_max = 32768
for what, probe in [("kill guessed pids", os.kill), ("killpg guessed groups", os.killpg)]:
    found = []
    for n in range(1, pid_max + 1):
        if n in own:
            continue
        try:
            probe(n, 0)
            found.append(n)
        except OSError:
            pass
    if found:
        print(f"ESCAPED {what}: {len(found)} outside the sandbox answer, e.g. {found[:8]}")
    else:
        print(f"DENIED {what} (none of 1 to {pid_max} outside the sandbox)")

# A child may join a group of its own session only: the run's, never a host one.
read, write = os.pipe()
child = os.fork()
if child == 0:
    own.add(os.getpid())  # its own new group is the run's
    lines = []
    for what, groups in [("setpgid foreign group", [{{DAEMON_PID}}, 1]), ("setpgid guessed groups", range(2, pid_max + 1))]:
        joined = []
        for g in groups:
            if g in own:
                continue
            try:
                os.setpgid(0, g)
                joined.append(g)
            except OSError:
                pass
        lines.append(f"ESCAPED {what}: joined {joined[:8]}" if joined else f"DENIED {what} (none outside the run)")
    os.write(write, "\n".join(lines).encode())
    os._exit(0)
os.close(write)
os.waitpid(child, 0)
print(os.read(read, 1 << 16).decode())

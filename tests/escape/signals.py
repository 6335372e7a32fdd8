# what: signal processes outside the sandbox: the daemon, a host process, everything (kill -1), the sandbox init
# status: success
# reason: none
# denied: kill daemon, kill host sleeper, pidfd host sleeper, kill init
# in-session: yes
import ctypes
import errno
import os
import signal
import time

for what, pid in [("kill daemon", {{DAEMON_PID}}), ("kill host sleeper", {{SLEEPER_PID}})]:
    try:
        if os.path.exists(f"/proc/{pid}"):
            print(f"ESCAPED {what}: pid {pid} is visible")
            continue
        os.kill(pid, signal.SIGKILL)
        print(f"ESCAPED {what}: signal delivered")
    except OSError as e:
        print(f"DENIED {what} ({errno.errorcode.get(e.errno)})")
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ctypes.set_errno(0)
fd = libc.syscall(ctypes.c_long(434), ctypes.c_long({{SLEEPER_PID}}), ctypes.c_long(0))  # pidfd_open, x86_64 and others
print(f"ESCAPED pidfd host sleeper: fd {fd}" if fd >= 0 else f"DENIED pidfd host sleeper ({errno.errorcode.get(ctypes.get_errno())})")
# kill(-1) reaches every process this one may signal: only the sandbox's own.
try:
    os.kill(-1, signal.SIGKILL)
except ProcessLookupError:
    pass  # nothing else to signal
os.kill(1, signal.SIGKILL)
time.sleep(0.2)
print("DENIED kill init (the sandbox init ignores it)" if os.path.exists("/proc/1") else "ESCAPED kill init")

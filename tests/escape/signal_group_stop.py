# what: SIGSTOP its own process group (kill(0), killpg) and then everything it may signal (kill(-1)): nothing outside the run may freeze, not a zygote, a pre-started sandbox, another tenant's run or the daemon
# status: success
# reason: none
# denied: own group beyond the run, own session beyond the run, resumed
# bystander: yes
# in-session: yes
import os
import signal
import time

me = os.getpid()
for what, leader in [("own group beyond the run", os.getpgrp()), ("own session beyond the run", os.getsid(0))]:
    if leader > 0:
        print(f"DENIED {what} (led by pid {leader} of the sandbox)", flush=True)
    else:
        print(f"ESCAPED {what}: it is led from outside the sandbox", flush=True)


def state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def waker(group_call):
    """A helper in a group of its own, out of reach of the stop, that wakes this process."""
    helper = os.fork()
    if helper == 0:
        os.setpgid(0, 0)
        deadline = time.monotonic() + 10
        while state(me) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(me, signal.SIGCONT)
        os._exit(0)
    os.setpgid(helper, helper)  # before the stop, whichever of the two runs first
    group_call()
    os.waitpid(helper, 0)


waker(lambda: os.kill(0, signal.SIGSTOP))
waker(lambda: os.killpg(os.getpgrp(), signal.SIGSTOP) if os.getpgrp() > 0 else os.kill(0, signal.SIGSTOP))
# kill(-1) skips the caller itself: every other process of the run stops, then goes on.
sleeper = os.fork()
if sleeper == 0:
    time.sleep(30)
    os._exit(0)
os.kill(-1, signal.SIGSTOP)
os.kill(-1, signal.SIGCONT)
os.kill(sleeper, signal.SIGKILL)
os.waitpid(sleeper, 0)
print("DENIED resumed: every stop of this run was undone by the run itself", flush=True)

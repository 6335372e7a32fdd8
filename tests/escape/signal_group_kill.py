# what: SIGKILL its own process group (kill(0)) and session: they hold the run and nothing else, not a zygote, a pre-started sandbox, another tenant's run or the daemon
# status: killed
# reason: signal
# denied: own group beyond the run, own session beyond the run
# bystander: yes
# in-session: dies
import os
import signal

# Seen from inside the sandbox's pid namespace, a group or session led from outside it is 0.
for what, leader in [("own group beyond the run", os.getpgrp()), ("own session beyond the run", os.getsid(0))]:
    if leader > 0:
        print(f"DENIED {what} (led by pid {leader} of the sandbox)", flush=True)
    else:
        print(f"ESCAPED {what}: it is led from outside the sandbox", flush=True)
# The host checks that the zygotes, pre-started sandboxes, the daemon and a run of another
# tenant in flight all outlive this.
os.kill(0, signal.SIGKILL)

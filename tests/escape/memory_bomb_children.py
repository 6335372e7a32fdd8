# what: children that each stay under a per-process cap but together hold 6x the run's memory
# status: killed
# reason: memory_limit
# needs: cgroup:memory
# denied: memory
# limits: {"memory_mb": 64}
# timeout: 30
# mixed: heavy
import os
import sys
import time

CHILDREN, EACH_MB = 6, 56
pids = []
for _ in range(CHILDREN):
    pid = os.fork()
    if pid == 0:
        hold = []
        for _ in range(EACH_MB // 8):
            hold.append(b"\x01" * (8 << 20))  # written, so resident, not just reserved
        time.sleep(3)
        os._exit(0)
    pids.append(pid)
survived = sum(1 for pid in pids if os.waitpid(pid, 0)[1] == 0)
if survived == CHILDREN:
    print(f"ESCAPED memory: {CHILDREN * EACH_MB} MB resident under a 64 MB limit")
else:
    print(f"DENIED memory ({CHILDREN - survived} of {CHILDREN} children stopped)")
    sys.exit(1)  # a program whose workers died fails

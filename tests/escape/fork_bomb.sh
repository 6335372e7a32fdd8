# what: a classic shell fork bomb; the process cap holds, the run is cut, nothing is left behind
# status: killed
# reason: process_limit
# needs: cgroup:pids
# limits: {"max_processes": 32}
# timeout: 8
# mixed: heavy
b() { b | b & }
b
# Only a cut ends this run early; otherwise it lasts until the timeout (a different status).
while :; do sleep 1 2>/dev/null; done

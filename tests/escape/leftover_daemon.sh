# what: leave a daemonized process behind (double fork, new session, ignoring SIGHUP/SIGTERM); the runner looks for it after the run
# status: success
# reason: none
(setsid bash -c 'trap "" HUP TERM; exec -a {{MARKER}} sleep 600' </dev/null >/dev/null 2>&1 &)
(nohup bash -c 'exec -a {{MARKER}}-2 sleep 600' </dev/null >/dev/null 2>&1 &) &
sleep 0.3
pgrep -f {{MARKER}} >/dev/null && echo "daemonized sleepers started"

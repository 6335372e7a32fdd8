# what: on the warm path, look for what the previous claimant had: its stdin, its environment, its files in /tmp, the process it left to meet this run (the runner knows every earlier token)
# status: success
# reason: none
# denied: stdin, environment, files, processes
left=$(cat)
if [ -z "$left" ]; then echo "DENIED stdin (empty)"; else echo "ESCAPED stdin: $left"; fi
if env | grep -q '^WARM_PLANTED='; then echo "ESCAPED environment: $(env | grep WARM_PLANTED)"; else echo "DENIED environment (clean)"; fi
found=$(find /tmp /workspace /dev/shm -type f 2>/dev/null)
if [ -z "$found" ]; then echo "DENIED files (none left)"; else echo "ESCAPED files: $found"; cat $found; fi
sleepers=$(for c in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$c" 2>/dev/null; echo; done | grep -c '[s]leep 600')
if [ "$sleepers" = 0 ]; then echo "DENIED processes (none left)"; else echo "ESCAPED processes: $sleepers sleeping"; fi

# what: look for anything an earlier run left in /tmp, /workspace, /dev/shm (the runner knows every earlier token)
# status: success
# reason: none
# denied: leftovers
n=$(find /tmp /workspace /dev/shm -mindepth 1 2>/dev/null | wc -l)
find /tmp /workspace /dev/shm -type f -exec cat {} + 2>/dev/null | head -c 2000
[ "$n" = 0 ] && echo "DENIED leftovers (nothing left)" || echo "ESCAPED leftovers: $n entries left by earlier runs"

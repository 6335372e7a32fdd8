# what: reach the daemon's binary, memory and files through the sandbox init (/proc/1/exe, mem, fd, root)
# status: success
# reason: none
# denied: /proc/1/exe, /proc/1/mem, /proc/1/fd, /proc/1/root
if head -c 4 /proc/1/exe >/dev/null 2>&1; then echo "ESCAPED /proc/1/exe readable ($(readlink /proc/1/exe))"; else echo "DENIED /proc/1/exe"; fi
if head -c 1 /proc/1/mem >/dev/null 2>&1 || grep -q . /proc/1/maps 2>/dev/null; then echo "ESCAPED /proc/1/mem or maps readable"; else echo "DENIED /proc/1/mem"; fi
if ls /proc/1/fd >/dev/null 2>&1; then echo "ESCAPED /proc/1/fd listable: $(ls -l /proc/1/fd 2>&1 | tail -n +2)"; else echo "DENIED /proc/1/fd"; fi
if ls /proc/1/root/ >/dev/null 2>&1; then echo "ESCAPED /proc/1/root listable"; else echo "DENIED /proc/1/root"; fi
# Our own exe is the interpreter, which is fine; it must not be the daemon.
case "$(readlink /proc/self/exe)" in
  *sandbox-executor*) echo "ESCAPED /proc/self/exe is the daemon" ;;
esac
true

# what: become root through setuid binaries (su, sudo, mount, passwd...); no_new_privs and nosuid keep uid 1000
# status: success
# reason: none
# denied: setuid su, setuid mount, no_new_privs, capabilities, euid
found=$(find / -xdev -perm -4000 -type f 2>/dev/null; find /usr -perm -4000 -type f 2>/dev/null)
echo "setuid files visible: $(echo $found | tr '\n' ' ')"
# The bits are there (the binds show the host's files), but nosuid and no_new_privs void them.
if command -v newgrp >/dev/null; then
  out=$(newgrp root </dev/null 2>&1 <<< 'id -g')
  [ "$out" = 0 ] && echo "ESCAPED setuid newgrp: $out" || echo "DENIED setuid newgrp (${out:0:80})"
fi
if command -v su >/dev/null; then
  out=$(su root -c 'id -u' </dev/null 2>&1)
  [ "$out" = 0 ] && echo "ESCAPED setuid su: $out" || echo "DENIED setuid su (${out:0:80})"
else echo "DENIED setuid su (not present)"; fi
if command -v sudo >/dev/null; then
  out=$(sudo -n id -u </dev/null 2>&1)
  [ "$out" = 0 ] && echo "ESCAPED setuid sudo: $out" || echo "DENIED setuid sudo (${out:0:80})"
fi
if out=$(mount -t tmpfs none /tmp 2>&1); then echo "ESCAPED setuid mount"; else echo "DENIED setuid mount (${out:0:80})"; fi
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status && echo "DENIED no_new_privs (set)" || echo "ESCAPED no_new_privs not set"
grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/self/status && grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/self/status \
  && echo "DENIED capabilities (none)" || echo "ESCAPED capabilities: $(grep ^Cap /proc/self/status | tr '\n' ' ')"
[ "$(id -u)" != 0 ] && echo "DENIED euid ($(id -u))" || echo "ESCAPED euid is 0"

# what: read /etc/shadow and secrets the runner planted in host directories
# status: success
# reason: none
# denied: /etc/shadow, planted secrets
# timeout: 60
if cat /etc/shadow 2>/dev/null; then echo "ESCAPED /etc/shadow readable"; else echo "DENIED /etc/shadow"; fi
leaked=0
for f in {{CANARY_PATHS}}; do
  if cat "$f" 2>/dev/null; then echo "ESCAPED planted secret $f readable"; leaked=1; fi
done
[ $leaked = 0 ] && echo "DENIED planted secrets"
for d in /root /home /var /work /etc/ssh /run /srv /sys; do
  ls -A "$d" >/dev/null 2>&1 && echo "visible $d: $(ls -A "$d" | head -5 | tr '\n' ' ')"
done
# Print anything that looks like a canary, wherever it is (its random part is not in this code).
grep -rsh "se-canary-" / --exclude-dir=proc --exclude-dir=dev --exclude-dir=usr --exclude-dir=sandbox | head -20
true

# what: the unshare and mount tools from the shell: a user namespace as "root", a private mount
# status: success
# reason: none
# denied: unshare -r, unshare -U, mount tmpfs
if ! command -v unshare >/dev/null; then echo "DENIED unshare -r (no unshare tool)"; echo "DENIED unshare -U (no unshare tool)"
else
  if out=$(unshare -r id -u 2>&1); then echo "ESCAPED unshare -r: $out"; else echo "DENIED unshare -r ($out)"; fi
  if out=$(unshare -U true 2>&1); then echo "ESCAPED unshare -U: a new user namespace"; else echo "DENIED unshare -U ($out)"; fi
fi
if out=$(mount -t tmpfs none /tmp 2>&1); then echo "ESCAPED mount tmpfs"; else echo "DENIED mount tmpfs ($out)"; fi

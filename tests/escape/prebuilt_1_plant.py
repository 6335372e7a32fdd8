# what: in a sandbox built ahead of its run, reach for what it was built with: write into the claim directory the run's files came in, make it writable again, mount over the workspace, keep the socket the run came on, keep capabilities; then leave a process holding a token to meet the next claimant
# status: success
# reason: none
# denied: claim directory, remount, mount, descriptors, capabilities
import ctypes
import errno
import os
import subprocess
import sys

token = "{{TOKEN}}"
try:
    with open("/sandbox/next-claimant", "w") as f:
        f.write(token)
    print("ESCAPED claim directory: wrote /sandbox/next-claimant")
except OSError as e:
    print(f"DENIED claim directory ({errno.errorcode[e.errno]})")

libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND = 32, 4096
for what, source, target, fstype, flags in [
    ("remount", None, b"/sandbox", None, MS_REMOUNT | MS_BIND),
    ("mount", b"tmpfs", b"/workspace", b"tmpfs", 0),
]:
    r = libc.mount(source, target, fstype, flags, None)
    e = ctypes.get_errno()
    print(f"DENIED {what} ({errno.errorcode.get(e, e)})" if r != 0 else f"ESCAPED {what}: {target.decode()}")

sockets = []
for fd in os.listdir("/proc/self/fd"):
    try:
        link = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue
    if link.startswith("socket:"):
        sockets.append(f"{fd} -> {link}")
print("DENIED descriptors (no socket)" if not sockets else f"ESCAPED descriptors: {sockets}")

status = open("/proc/self/status").read()
effective = [l for l in status.splitlines() if l.startswith(("CapEff", "CapPrm", "CapBnd"))]
held = [l for l in effective if int(l.split()[1], 16) != 0]
print("DENIED capabilities (none)" if not held else f"ESCAPED capabilities: {held}")

for d in ("/tmp", "/workspace", "/dev/shm"):
    with open(os.path.join(d, "next-claimant"), "w") as f:
        f.write(token)
subprocess.Popen(
    [sys.executable, "-c", "import time; t = open('/tmp/next-claimant').read(); time.sleep(600)"],
    start_new_session=True,
    env={**os.environ, "NEXT_CLAIMANT": token},
)
print("planted")

# what: fill /dev/shm and /tmp until the disk is full; the caps give ENOSPC, the host is untouched, and the run that dies of it is reported as disk_limit
# status: failed
# reason: disk_limit
# denied: disk /dev/shm, disk /tmp
# timeout: 30
import errno
import os
import sys

CHUNK = b"\0" * (8 << 20)


def fill(where):
    """Writes 8 MB files into `where` until it is full (512 MB at most, well past any cap)."""
    written = 0
    try:
        for i in range(64):
            with open(f"{where}/fill-{i}", "wb") as f:
                f.write(CHUNK)
            written += len(CHUNK)
        print(f"ESCAPED disk {where}: wrote {written >> 20} MB without hitting a cap")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            print(f"DENIED disk {where} (ENOSPC after {written >> 20} MB)")
        elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            print(f"DENIED disk {where} (not writable: {errno.errorcode[e.errno]})")
        else:
            print(f"ESCAPED disk {where}: failed with {e}, not ENOSPC")


fill("/dev/shm")
for name in os.listdir("/dev/shm"):
    os.unlink(f"/dev/shm/{name}")
fill("/tmp")
# /tmp stays full; the program fails as one that ran out of space does.
sys.exit(1)

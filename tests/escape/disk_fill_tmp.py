# what: fill /tmp and /dev/shm until the disk is full; the caps give ENOSPC, the host is untouched
# status: success|failed|killed
# reason: disk_limit
# denied: disk /tmp, disk /dev/shm
# timeout: 30
import errno
import os

CHUNK = b"\0" * (8 << 20)
for where in ["/tmp", "/dev/shm"]:
    written = 0
    try:
        for i in range(64):  # 512 MB at most, well past any cap
            with open(f"{where}/fill-{i}", "wb") as f:
                f.write(CHUNK)
            written += len(CHUNK)
        print(f"ESCAPED disk {where}: wrote {written >> 20} MB without hitting a cap")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            print(f"DENIED disk {where} (ENOSPC after {written >> 20} MB)")
        else:
            print(f"ESCAPED disk {where}: failed with {e}, not ENOSPC")
    for name in os.listdir(where):
        if name.startswith("fill-"):
            os.unlink(f"{where}/{name}")

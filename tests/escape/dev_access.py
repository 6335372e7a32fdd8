# what: reach devices: block devices, /dev/mem, kmsg, tty; create device nodes with mknod
# status: success
# reason: none
# denied: unexpected devices, /dev/mem, /dev/kmem, /dev/port, /dev/kmsg, /dev/sda, /dev/vda, /dev/nvme0n1, /dev/console, mknod char, mknod block
import errno
import os
import stat

allowed = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd", "stdin", "stdout",
           "stderr", "core", "mqueue"}
extra = sorted(set(os.listdir("/dev")) - allowed)
blocks = [n for n in os.listdir("/dev") if stat.S_ISBLK(os.lstat(f"/dev/{n}").st_mode)]
print(f"ESCAPED unexpected devices {extra} {blocks}" if extra or blocks else "DENIED unexpected devices (none)")
for dev in ["/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/console"]:
    try:
        os.close(os.open(dev, os.O_RDONLY))
        print(f"ESCAPED {dev} opened")
    except OSError as e:
        print(f"DENIED {dev} ({errno.errorcode.get(e.errno)})")
for what, kind, where in [("mknod char", stat.S_IFCHR, "/tmp/mem"), ("mknod block", stat.S_IFBLK, "/dev/shm/sda")]:
    try:
        os.mknod(where, 0o666 | kind, os.makedev(1, 1) if kind == stat.S_IFCHR else os.makedev(8, 0))
        try:
            os.close(os.open(where, os.O_RDONLY))
            print(f"ESCAPED {what} created and opened")
        except OSError as e:
            print(f"DENIED {what} (created but unusable: {errno.errorcode.get(e.errno)})")
    except OSError as e:
        print(f"DENIED {what} ({errno.errorcode.get(e.errno)})")
# Writing to /dev itself must fail too.
try:
    open("/dev/evil", "w").close()
    print("ESCAPED /dev writable")
except OSError:
    pass

# what: chroot (and the classic double-chroot climb out), which needs a capability the sandbox never has
# status: success
# reason: none
# denied: chroot, chroot via python
# arch: x86_64
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long


def attempt(what, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(L(nr), *args)
    e = ctypes.get_errno()
    if r < 0 and e in (errno.EPERM, errno.EACCES, errno.ENOSYS):
        print(f"DENIED {what} ({errno.errorcode[e]})")
    else:
        print(f"ESCAPED {what} (returned {r}, errno {e})")
    return r


os.makedirs("/tmp/jail", exist_ok=True)
attempt("chroot", 161, b"/tmp/jail")
try:
    os.chroot("/tmp/jail")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    print(f"ESCAPED chroot via python: now at {os.listdir('/')}")
except OSError as e:
    print(f"DENIED chroot via python ({errno.errorcode.get(e.errno)})")

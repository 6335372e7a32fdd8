# what: userfaultfd, a favourite tool to win kernel races
# status: success
# reason: none
# denied: userfaultfd, userfaultfd user mode
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


attempt("userfaultfd", 323, L(os.O_CLOEXEC))
attempt("userfaultfd user mode", 323, L(os.O_CLOEXEC | 1))  # UFFD_USER_MODE_ONLY
if os.path.exists("/dev/userfaultfd"):
    print("ESCAPED /dev/userfaultfd present")

# what: the x32 ABI (syscall numbers with bit 30 set), which a filter checking only x86_64 numbers would let through
# status: success
# reason: none
# denied: x32 getpid, x32 unshare, x32 keyctl, x32 ptrace
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


X32 = 0x40000000
attempt("x32 getpid", X32 | 39)
attempt("x32 unshare", X32 | 272, L(0x10000000))  # CLONE_NEWUSER
attempt("x32 keyctl", X32 | 250, L(0), L(-2), L(0))  # KEYCTL_GET_KEYRING_ID
attempt("x32 ptrace", X32 | 521, L(0), L(0), L(0), L(0))  # x32's own PTRACE number

# what: io_uring, a large kernel surface that also bypasses syscall filters
# status: success
# reason: none
# denied: io_uring_setup
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


params = ctypes.create_string_buffer(120)
attempt("io_uring_setup", 425, L(4), params)

# what: the kernel keyring (keyctl, add_key, request_key), shared kernel state and a long history of bugs
# status: success
# reason: none
# denied: add_key, keyctl join session, request_key
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


attempt("add_key", 248, b"user", b"se-escape", b"payload", L(7), L(-2))  # KEY_SPEC_PROCESS_KEYRING
attempt("keyctl join session", 250, L(1), b"se-escape")  # KEYCTL_JOIN_SESSION_KEYRING
attempt("request_key", 249, b"user", b"se-escape", None, L(0))

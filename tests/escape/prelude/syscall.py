# Shared by the cases whose header says `prelude: syscall`: the runner puts it before them.
# attempt() makes one raw system call and prints DENIED when the kernel refuses it with one
# of the `denied` errnos, ESCAPED otherwise.
import ctypes
import errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long


def attempt(what, nr, *args, denied=(errno.EPERM, errno.EACCES, errno.ENOSYS)):
    ctypes.set_errno(0)
    r = libc.syscall(L(nr), *args)
    e = ctypes.get_errno()
    if r < 0 and e in denied:
        print(f"DENIED {what} ({errno.errorcode[e]})")
    else:
        print(f"ESCAPED {what} (returned {r}, errno {e})")
    return r

# what: mount filesystems and enter new user/mount/net namespaces (where a process regains every capability)
# status: success
# reason: none
# denied: mount tmpfs, mount proc, unshare user+mount, unshare user, unshare net, clone newuser, setns, fsopen, open_tree, pivot_root
# arch: x86_64
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x20000, 0x10000000, 0x40000000


def attempt(what, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(L(nr), *args)
    e = ctypes.get_errno()
    if r < 0 and e in (errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EINVAL):
        print(f"DENIED {what} ({errno.errorcode[e]})")
    else:
        print(f"ESCAPED {what} (returned {r}, errno {e})")


attempt("mount tmpfs", 165, b"none", b"/tmp", b"tmpfs", L(0), None)
attempt("mount proc", 165, b"proc", b"/tmp", b"proc", L(0), None)
# Each unshare runs in a child, so that one that works does not change what the next one sees.
for what, flags in [("unshare user+mount", CLONE_NEWUSER | CLONE_NEWNS), ("unshare user", CLONE_NEWUSER),
                    ("unshare net", CLONE_NEWNET)]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ctypes.set_errno(0)
        ret = libc.syscall(L(272), L(flags))
        os.write(w, f"{ret} {ctypes.get_errno()}".encode())
        os._exit(0)
    os.close(w)
    ret, e = map(int, os.read(r, 64).split())
    os.waitpid(pid, 0)
    if ret < 0 and e in (errno.EPERM, errno.ENOSYS, errno.EINVAL, errno.ENOSPC, errno.EUSERS):
        print(f"DENIED {what} ({errno.errorcode[e]})")
    else:
        print(f"ESCAPED {what} (returned {ret})")
# clone with a namespace flag and no new stack: the child goes on like a forked one.
ctypes.set_errno(0)
child = libc.syscall(L(56), L(CLONE_NEWUSER | 17), None, None, None, None)  # 17: SIGCHLD
if child == 0:
    os._exit(0)
if child > 0:
    os.waitpid(child, 0)
    print("ESCAPED clone newuser: a child in a new user namespace")
else:
    print(f"DENIED clone newuser ({errno.errorcode.get(ctypes.get_errno())})")
fd = os.open("/proc/self/ns/user", os.O_RDONLY)
attempt("setns", 308, L(fd), L(0))
attempt("fsopen", 430, b"tmpfs", L(0))
attempt("open_tree", 428, L(-100), b"/usr", L(1))  # OPEN_TREE_CLONE
os.makedirs("/tmp/newroot/old", exist_ok=True)
attempt("pivot_root", 155, b"/tmp/newroot", b"/tmp/newroot/old")

"""Run inside a box (an E2B sandbox's process): tries to reach its pid 1 (the agent), the
daemon, another box and the host, and prints one `DENIED <what>` or `ESCAPED <what>` line per
attempt. Its arguments: the daemon's port, a port another box serves on its loopback."""
import ctypes
import errno
import os
import socket
import sys

DAEMON_PORT, OTHER_PORT = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def name(e):
    return errno.errorcode.get(e, str(e))


def refused(what, attempt):
    try:
        got = attempt()
    except OSError as e:
        print(f"DENIED {what} ({name(e.errno)})")
        return
    print(f"ESCAPED {what}: {repr(got)[:200]}")


def read(path):
    with open(path, "rb") as f:
        return f.read(4096)


refused("open /proc/1/mem", lambda: read("/proc/1/mem"))
refused("read /proc/1/environ", lambda: read("/proc/1/environ"))
refused("list /proc/1/root", lambda: os.listdir("/proc/1/root"))
refused("list /proc/1/cwd", lambda: os.listdir("/proc/1/cwd"))
refused("read /proc/1/exe", lambda: read("/proc/1/exe"))


def agent_descriptors():
    opened = []
    for fd in os.listdir("/proc/1/fd"):
        try:
            os.close(os.open(f"/proc/1/fd/{fd}", os.O_WRONLY))
            opened.append(fd)
        except OSError:
            pass
    if not opened:
        raise OSError(errno.EACCES, "no descriptor of pid 1 opens")
    return opened


refused("write to pid 1's descriptors", agent_descriptors)
ctypes.set_errno(0)
if libc.ptrace(ctypes.c_long(16), ctypes.c_long(1), None, None) == 0:  # PTRACE_ATTACH
    print("ESCAPED ptrace pid 1")
else:
    print(f"DENIED ptrace pid 1 ({name(ctypes.get_errno())})")
ctypes.set_errno(0)
r = libc.syscall(ctypes.c_long(310), ctypes.c_long(1), None, None)  # process_vm_readv, no iovecs
print(f"DENIED process_vm_readv pid 1 ({name(ctypes.get_errno())})" if r < 0 else "ESCAPED process_vm_readv")


def terminals():
    seen = [e for e in os.listdir("/dev/pts") if e.isdigit()]
    if seen:
        return seen
    raise OSError(errno.ENOENT, "no terminal but the box's own")


refused("see other terminals in /dev/pts", terminals)
for n in range(4):
    refused(f"open /dev/pts/{n}", lambda n=n: os.open(f"/dev/pts/{n}", os.O_RDWR | os.O_NOCTTY))
refused("mknod a terminal", lambda: os.mknod("/tmp/pts0", 0o20600, os.makedev(136, 0)))
refused("mknod the host's ptmx", lambda: os.mknod("/tmp/ptmx", 0o20600, os.makedev(5, 2)))
ctypes.set_errno(0)
r = libc.mount(b"none", b"/tmp", b"tmpfs", ctypes.c_ulong(0), None)
print(f"DENIED mount tmpfs ({name(ctypes.get_errno())})" if r != 0 else "ESCAPED mount tmpfs")


def in_child(call):
    """`call()` in a child (a namespace it enters does not change this process): its errno."""
    pid = os.fork()
    if pid == 0:
        ctypes.set_errno(0)
        os._exit(0 if call() == 0 else min(ctypes.get_errno(), 255) or 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


for what, flags in [("unshare user", 0x10000000), ("unshare mount", 0x20000), ("unshare net", 0x40000000)]:
    e = in_child(lambda flags=flags: libc.unshare(flags))
    print(f"DENIED {what} ({name(e)})" if e else f"ESCAPED {what}")


def enter(ns):
    fd = os.open(f"/proc/1/ns/{ns}", os.O_RDONLY)
    e = in_child(lambda: libc.setns(fd, 0))
    if e:
        raise OSError(e, "setns")
    return "entered"


for ns in ["mnt", "net", "pid", "user"]:
    refused(f"setns into pid 1's {ns}", lambda ns=ns: enter(ns))


def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        return s.getpeername()


refused("connect to the daemon's port", lambda: connect(DAEMON_PORT))
refused("connect to another box's port", lambda: connect(OTHER_PORT))
print("probe done")

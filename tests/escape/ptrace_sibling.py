# what: ptrace a sibling process and the sandbox init, and read a sibling's memory with process_vm_readv
# status: success
# reason: none
# denied: ptrace attach sibling, ptrace seize sibling, ptrace init, process_vm_readv
# arch: x86_64
import ctypes
import errno
import os
import time

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


SYS_PTRACE, SYS_PROCESS_VM_READV = 101, 310
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
sibling = os.fork()
if sibling == 0:
    time.sleep(10)
    os._exit(0)
attempt("ptrace attach sibling", SYS_PTRACE, L(PTRACE_ATTACH), L(sibling), None, None)
libc.syscall(L(SYS_PTRACE), L(PTRACE_DETACH), L(sibling), None, None)
attempt("ptrace seize sibling", SYS_PTRACE, L(PTRACE_SEIZE), L(sibling), None, None)
attempt("ptrace init", SYS_PTRACE, L(PTRACE_ATTACH), L(1), None, None)


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


buf = ctypes.create_string_buffer(64)
local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 64)
secret = ctypes.create_string_buffer(b"sibling-memory", 64)  # same address in the forked sibling
remote = IoVec(ctypes.cast(secret, ctypes.c_void_p), 64)
attempt("process_vm_readv", SYS_PROCESS_VM_READV, L(sibling), ctypes.byref(local), L(1), ctypes.byref(remote), L(1), L(0))
os.kill(sibling, 9)
os.waitpid(sibling, 0)

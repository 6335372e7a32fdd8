# what: chroot (and the classic double-chroot climb out), which needs a capability the sandbox never has
# status: success
# reason: none
# denied: chroot, chroot via python
# arch: x86_64
# prelude: syscall
import errno
import os


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

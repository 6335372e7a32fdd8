# what: userfaultfd, a favourite tool to win kernel races
# status: success
# reason: none
# denied: userfaultfd, userfaultfd user mode
# arch: x86_64
# prelude: syscall
import os


attempt("userfaultfd", 323, L(os.O_CLOEXEC))
attempt("userfaultfd user mode", 323, L(os.O_CLOEXEC | 1))  # UFFD_USER_MODE_ONLY
if os.path.exists("/dev/userfaultfd"):
    print("ESCAPED /dev/userfaultfd present")

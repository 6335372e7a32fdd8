# what: the x32 ABI (syscall numbers with bit 30 set), which a filter checking only x86_64 numbers would let through
# status: success
# reason: none
# denied: x32 getpid, x32 unshare, x32 keyctl, x32 ptrace
# arch: x86_64
# prelude: syscall
import os


X32 = 0x40000000
attempt("x32 getpid", X32 | 39)
attempt("x32 unshare", X32 | 272, L(0x10000000))  # CLONE_NEWUSER
attempt("x32 keyctl", X32 | 250, L(0), L(-2), L(0))  # KEYCTL_GET_KEYRING_ID
attempt("x32 ptrace", X32 | 521, L(0), L(0), L(0), L(0))  # x32's own PTRACE number

# what: io_uring, a large kernel surface that also bypasses syscall filters
# status: success
# reason: none
# denied: io_uring_setup
# arch: x86_64
# prelude: syscall
import ctypes
import os


params = ctypes.create_string_buffer(120)
attempt("io_uring_setup", 425, L(4), params)

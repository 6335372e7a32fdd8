# what: load and unload kernel modules, and kexec a new kernel
# status: success
# reason: none
# denied: init_module, finit_module, delete_module, kexec_load, kexec_file_load
# arch: x86_64
# prelude: syscall
import ctypes
import os


image = ctypes.create_string_buffer(b"\x7fELF" + b"\0" * 60)
attempt("init_module", 175, image, L(64), b"")
null = os.open("/dev/null", os.O_RDONLY)
attempt("finit_module", 313, L(null), b"", L(0))
attempt("delete_module", 176, b"loop", L(0x800))  # O_NONBLOCK
attempt("kexec_load", 246, L(0), L(0), None, L(0))
attempt("kexec_file_load", 320, L(null), L(null), L(0), b"", L(0))

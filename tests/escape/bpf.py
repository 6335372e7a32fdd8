# what: bpf(): load programs into the kernel and create maps
# status: success
# reason: none
# denied: bpf map create, bpf prog load
# arch: x86_64
# prelude: syscall
import ctypes
import struct

attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 8, 1) + b"\0" * 112)  # BPF_MAP_TYPE_ARRAY
attempt("bpf map create", 321, L(0), attr, L(128))
insns = ctypes.create_string_buffer(struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0))  # r0 = 0; exit
license = ctypes.create_string_buffer(b"GPL")
prog = struct.pack("IIQQ", 1, 2, ctypes.addressof(insns), ctypes.addressof(license))  # SOCKET_FILTER
attempt("bpf prog load", 321, L(5), ctypes.create_string_buffer(prog + b"\0" * 104), L(128))

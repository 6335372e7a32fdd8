# what: perf_event_open, counting its own process only (what unprivileged users may do by default)
# status: success
# reason: none
# denied: perf_event_open self, perf_event_open cpu-wide
# arch: x86_64
# prelude: syscall
import ctypes
import os


import struct

# PERF_TYPE_SOFTWARE, size, PERF_COUNT_SW_CPU_CLOCK, ..., flags: disabled | exclude_kernel | exclude_hv
attr = bytearray(128)
struct.pack_into("IIQ", attr, 0, 1, 128, 0)
struct.pack_into("Q", attr, 40, 1 | 32 | 64)
attempt("perf_event_open self", 298, ctypes.create_string_buffer(bytes(attr)), L(0), L(-1), L(-1), L(0))
attempt("perf_event_open cpu-wide", 298, ctypes.create_string_buffer(bytes(attr)), L(-1), L(0), L(-1), L(0))

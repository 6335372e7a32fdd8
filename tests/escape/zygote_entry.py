# what: on the warm path, call the zygote's own fork entry (sandbox_zygote_fork, still mapped in a forked run) from user code, playing the daemon, to have a sandbox built from a spec of its own choosing
# status: success
# reason: none
# denied: zygote_entry
import ctypes
import json
import os
import signal
import socket
import sys

LIBRARY = "/opt/sandbox/zygote/libsandbox_zygote.so"


def find_entry():
    # glibc hands back a loaded library by its path, even with the file gone from this root.
    names = [LIBRARY] + [line.split(None, 5)[5].strip() for line in open("/proc/self/maps")
                         if "libsandbox_zygote" in line and len(line.split()) > 5]
    for name in names:
        try:
            return ctypes.CDLL(name).sandbox_zygote_fork
        except (OSError, AttributeError):
            pass
    # Or the zygote's own handle, in a frame below this run's code.
    frame = sys._getframe()
    while frame:
        for value in frame.f_locals.values():
            if getattr(value, "__name__", None) == "sandbox_zygote_fork":
                return value
        frame = frame.f_back
    return None


entry = find_entry()
if entry is None:
    print("DENIED zygote_entry (not reachable)")
    raise SystemExit
entry.argtypes, entry.restype = (ctypes.c_int,) * 3, ctypes.c_int
daemon, control = socket.socketpair()
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
pid = os.fork()
if pid == 0:
    daemon.close()
    if entry(control.detach(), out_w, err_w) == 0:
        print("resumed in a sandbox of our own spec", flush=True)
    os._exit(0)
control.close()
os.close(out_w)
os.close(err_w)
spec = {
    "argv": ["/bin/true"], "env": [], "cwd": "/", "hostname": "escaped", "mounts": [], "stdin": "",
    "identity": {"uid": 0, "gid": 0, "host_uid": 65534, "host_gid": 65534}, "channel_fd": None,
    "limits": {"wall_time_ms": 5000, "data_bytes": None, "file_size_bytes": 1 << 20, "open_files": 64,
               "processes": 16, "channel_bytes": 4096},
}
daemon.settimeout(10)
hello, report, failed = b"", b"", None
try:
    hello = daemon.recv(1)
    daemon.sendall(json.dumps(spec).encode())
    daemon.shutdown(socket.SHUT_WR)
    while chunk := daemon.recv(65536):
        report += chunk
except OSError as e:  # a timeout too: then no DENIED line, and the case fails
    failed = e
finally:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
outcome = json.loads(report)["outcome"] if report else None
if failed:
    print(f"zygote_entry: no answer ({failed!r}) after greeting {hello!r}; wait status {status}")
elif outcome is None:
    print(f"DENIED zygote_entry (the entry's process ended without a report: wait status {status})")
elif outcome["kind"] == "setup_failed":
    print(f"DENIED zygote_entry ({outcome['stage']}: {outcome['message']})")
else:
    print(f"ESCAPED zygote_entry: a sandbox of our spec ran: {outcome}, program said {os.read(out_r, 200)!r}")

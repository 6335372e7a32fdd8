# what: change the clock (settimeofday, clock_settime, adjtimex, date -s) and the hostname (sethostname, hostname)
# status: success
# reason: none
# denied: settimeofday, clock_settime, adjtimex, clock_adjtime, sethostname, setdomainname, date -s, hostname tool
# arch: x86_64
# prelude: syscall
import ctypes
import subprocess


a_year_ago = (ctypes.c_long * 2)(1_600_000_000, 0)
attempt("settimeofday", 164, a_year_ago, None)
attempt("clock_settime", 227, L(0), a_year_ago)
timex = (ctypes.c_long * 26)()
timex[0] = 0x0001  # ADJ_OFFSET: a change, not a read
timex[1] = 500000
attempt("adjtimex", 159, timex)
attempt("clock_adjtime", 305, L(0), timex)
attempt("sethostname", 170, b"escaped", L(7))
attempt("setdomainname", 171, b"escaped", L(7))
r = subprocess.run(["date", "-s", "2001-01-01"], capture_output=True, text=True)
print(f"DENIED date -s ({r.stderr.strip()[:60]})" if r.returncode else "ESCAPED date -s")
r = subprocess.run(["hostname", "escaped"], capture_output=True, text=True)
print(f"DENIED hostname tool ({r.stderr.strip()[:60]})" if r.returncode else "ESCAPED hostname tool")

# what: push keystrokes into the terminal's input (TIOCSTI) through stdin, stdout and /dev/tty
# status: success
# reason: none
# denied: TIOCSTI stdin, TIOCSTI stdout, TIOCSTI stderr, /dev/tty
import errno
import fcntl
import os
import termios

for what, fd in [("stdin", 0), ("stdout", 1), ("stderr", 2)]:
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        print(f"ESCAPED TIOCSTI {what}")
    except OSError as e:
        print(f"DENIED TIOCSTI {what} ({errno.errorcode.get(e.errno)})")
try:
    tty = os.open("/dev/tty", os.O_RDWR)
    fcntl.ioctl(tty, termios.TIOCSTI, b"x")
    print("ESCAPED /dev/tty TIOCSTI")
except OSError as e:
    print(f"DENIED /dev/tty ({errno.errorcode.get(e.errno)})")

# what: raw and packet sockets, which would let code forge traffic or sniff the host's
# status: success
# reason: none
# denied: AF_PACKET SOCK_RAW, AF_INET SOCK_RAW, AF_INET6 SOCK_RAW, AF_PACKET SOCK_DGRAM
import errno
import socket

for what, family, kind, proto in [
    ("AF_PACKET SOCK_RAW", socket.AF_PACKET, socket.SOCK_RAW, 0x0300),
    ("AF_INET SOCK_RAW", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    ("AF_INET6 SOCK_RAW", socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
    ("AF_PACKET SOCK_DGRAM", socket.AF_PACKET, socket.SOCK_DGRAM, 0x0300),
]:
    try:
        socket.socket(family, kind, proto).close()
        print(f"ESCAPED {what} opened")
    except OSError as e:
        ok = e.errno in (errno.EPERM, errno.EACCES, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT)
        print(f"{'DENIED' if ok else 'ESCAPED'} {what} ({errno.errorcode.get(e.errno)})")

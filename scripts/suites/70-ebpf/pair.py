"""A loopback TCP client and server in Python, printing keepalive of both ends like pair.c.
Usage: pair.py [6]   6: over IPv6 (::1)."""
import socket
import sys

family, host = (socket.AF_INET6, "::1") if sys.argv[1:] == ["6"] else (socket.AF_INET, "127.0.0.1")
listener = socket.socket(family)
listener.bind((host, 0))
listener.listen()
client = socket.create_connection(listener.getsockname()[:2])
server, _ = listener.accept()
for who, s in (("client", client), ("server", server)):
    values = [s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)] + [
        s.getsockopt(socket.IPPROTO_TCP, o)
        for o in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_USER_TIMEOUT)
    ]
    print(who, *values)

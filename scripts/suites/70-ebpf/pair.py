"""A loopback TCP client and server in Python, printing keepalive of both ends like pair.c.
Usage: pair.py [6] [PORT]   6: over IPv6 (::1); PORT: the server's port (default: any free one)."""
import socket
import sys

args = sys.argv[1:]
family, host = (socket.AF_INET6, "::1") if "6" in args else (socket.AF_INET, "127.0.0.1")
port = next((int(a) for a in args if a != "6"), 0)
listener = socket.socket(family)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, port))
listener.listen()
client = socket.create_connection(listener.getsockname()[:2])
server, _ = listener.accept()
for who, s in (("client", client), ("server", server)):
    values = [s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)] + [
        s.getsockopt(socket.IPPROTO_TCP, o)
        for o in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_USER_TIMEOUT)
    ]
    print(who, *values)

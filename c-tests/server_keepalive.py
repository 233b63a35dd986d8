"""Connects to a server on loopback, waits for its first line (an SSH banner, say), and reads the
keepalive settings of the server's own socket for this connection, inside the server process
(pidfd_getfd: root, or the same user with Yama ptrace_scope 0). For servers started by an inetd or
by socket activation, which get their connection already connected.
Usage: server_keepalive.py PORT  ->  "keepalive=K idle=I intvl=N cnt=C" or "error: ...\""""
import socket
import sys
import time

from pidfd_sockets import find_socket, keepalive_options, other_pids


def server_socket(local, peer):
    """Options of the socket (in any process but this one) whose addresses are (local, peer)."""
    _, s = find_socket(other_pids(), lambda s: s.getsockname() == local and s.getpeername() == peer)
    if s is None:
        return None
    with s:
        return keepalive_options(s)


port = int(sys.argv[1])
for _ in range(200):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("error: could not connect")
first = c.makefile("rb").readline()
opts = server_socket(c.getpeername(), c.getsockname())
print("keepalive=%d idle=%d intvl=%d cnt=%d" % opts if opts else f"error: server socket not found (first line {first[:40]!r})")

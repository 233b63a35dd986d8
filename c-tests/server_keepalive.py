"""Connects to a server on loopback, waits for its first line (an SSH banner, say), and reads the
keepalive settings of the server's own socket for this connection, inside the server process
(pidfd_getfd: root, or the same user with Yama ptrace_scope 0). For servers started by an inetd or
by socket activation, which get their connection already connected.
Usage: server_keepalive.py PORT  ->  "keepalive=K idle=I intvl=N cnt=C" or "error: ...\""""
import ctypes
import os
import socket
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_GETFD = 438


def server_socket(local, peer):
    """Options of the socket (in any process but this one) whose addresses are (local, peer)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            pidfd = os.pidfd_open(int(pid))
        except OSError:
            continue
        try:
            for name in fds:
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                        continue
                except OSError:
                    continue
                fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
                if fd < 0:
                    continue
                with socket.socket(fileno=fd) as s:
                    try:
                        if s.getsockname() != local or s.getpeername() != peer:
                            continue
                    except OSError:
                        continue
                    return (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
        finally:
            os.close(pidfd)
    return None


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

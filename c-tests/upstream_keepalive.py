"""A tiny HTTP upstream that answers each request with the keepalive settings of the client's own
socket, read inside the client process with pidfd_getfd (root, or the same user with Yama
ptrace_scope 0). For servers that re-exec themselves, e.g. nginx after a binary upgrade.
Usage: upstream_keepalive.py PORTFILE    (writes the port it listens on to PORTFILE)
Response body: "keepalive=K idle=I intvl=N cnt=C pid=P" or "error: ..."."""
import ctypes
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_GETFD = 438


def client_options(address):
    """(pid, options) of the process whose socket has local address `address`."""
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
                        if s.family != socket.AF_INET or s.getsockname() != address:
                            continue
                    except OSError:
                        continue
                    return pid, (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                                 s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                                 s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                                 s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
        finally:
            os.close(pidfd)
    return None, None


with socket.create_server(("127.0.0.1", 0)) as server:
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        conn, peer = server.accept()
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(65536)
            except OSError:
                continue
            pid, opts = client_options(peer)
            body = ("keepalive=%d idle=%d intvl=%d cnt=%d pid=%s" % (*opts, pid) if opts
                    else "error: client socket not found")
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body.encode()))

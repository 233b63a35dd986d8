"""A tiny HTTP upstream that answers each request with the keepalive settings of the client's own
socket, read inside the client process with pidfd_getfd (root, or the same user with Yama
ptrace_scope 0). For servers that re-exec themselves, e.g. nginx after a binary upgrade.
Usage: upstream_keepalive.py PORTFILE    (writes the port it listens on to PORTFILE)
Response body: "keepalive=K idle=I intvl=N cnt=C pid=P" or "error: ..."."""
import os
import socket
import sys

from pidfd_sockets import find_socket, keepalive_options, other_pids


def client_options(address):
    """(pid, options) of the process whose socket has local address `address`."""
    pid, s = find_socket(other_pids(),
                         lambda s: s.family == socket.AF_INET and s.getsockname() == address)
    if s is None:
        return None, None
    with s:
        return pid, keepalive_options(s)


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

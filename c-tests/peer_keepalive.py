"""Runs a client program that connects to a loopback listener made here, and reads the keepalive
settings of the client's own socket from inside the client process (pidfd_getfd, Linux >= 5.6, needs
ptrace permission over the client: root, or the same user with Yama ptrace_scope 0). For clients whose
sockets the test cannot read in-process, e.g. PHP's pgsql (libpq) or curl (libcurl).
Usage: peer_keepalive.py LABEL "ON IDLE INTVL CNT" COMMAND ARGS...   ({port} in ARGS = the port)
Prints one PASS/FAIL/SKIP line."""
import os
import socket
import subprocess
import sys

from pidfd_sockets import find_socket, keepalive_options

label, expected, command = sys.argv[1], tuple(int(v) for v in sys.argv[2].split()), sys.argv[3:]


def skip_if_not_permitted(err):
    if err in (1, 38):  # EPERM, ENOSYS
        print(f"SKIP {label}: pidfd_getfd not permitted here ({os.strerror(err)})")
        sys.exit(0)


def client_socket(pid, address):
    """A duplicate of the client's socket whose local address is `address`."""
    return find_socket([pid], lambda s: s.family == socket.AF_INET and s.getsockname() == address,
                       skip_if_not_permitted)[1]


with socket.create_server(("127.0.0.1", 0)) as server:
    server.settimeout(20)
    port = server.getsockname()[1]
    args = [a.replace("{port}", str(port)) for a in command]
    client = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        conn, peer = server.accept()
        conn.settimeout(10)
        conn.recv(1)  # the client has sent its first bytes: its socket options are set
        s = client_socket(client.pid, peer)
        if s is None:
            print(f"FAIL {label}: the client's socket was not found in process {client.pid}")
            sys.exit(0)
        got = keepalive_options(s)
        if got == expected:
            print(f"PASS {label}")
        else:
            print(f"FAIL {label}: client socket has (keepalive, idle, intvl, cnt) = {got}, expected {expected}")
        conn.close()
    except socket.timeout:
        print(f"FAIL {label}: no connection from the client: {client.stderr.read(300) if client.poll() is not None else 'still running'}")
    finally:
        client.kill()
        client.wait()

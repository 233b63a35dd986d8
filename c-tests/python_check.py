"""Unmodified CPython socket code under the shim: create_connection, create_server + accept
(CPython uses accept4 with SOCK_CLOEXEC) must all end up with the values in EXPECT_*.
Prints PASS/FAIL lines for scripts/test.sh."""
import os
import socket

EXPECTED = (
    1,
    int(os.environ.get("EXPECT_IDLE", "60")),
    int(os.environ.get("EXPECT_INTVL", "10")),
    int(os.environ.get("EXPECT_CNT", "6")),
    int(os.environ.get("EXPECT_UT", "0")),
)
LABEL = os.environ.get("TEST_LABEL", "python")


def keepalive(sock):
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    )


def check(name, sock):
    got = keepalive(sock)
    if got == EXPECTED:
        print(f"PASS {LABEL}: {name}")
    else:
        print(f"FAIL {LABEL}: {name}: got {got}, expected {EXPECTED}")


for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    v = "IPv4" if family == socket.AF_INET else "IPv6"
    with socket.create_server((host, 0), family=family) as server:
        check(f"{v} create_server listener", server)
        client = socket.create_connection(server.getsockname()[:2], timeout=5)
        accepted, _ = server.accept()
        check(f"{v} create_connection client", client)
        check(f"{v} accept()ed socket", accepted)
        client.sendall(b"ping")
        if accepted.recv(4) == b"ping":
            print(f"PASS {LABEL}: {v} data flows normally")
        else:
            print(f"FAIL {LABEL}: {v} data flows normally: wrong bytes")
        client.close()
        accepted.close()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if udp.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0:
    print(f"PASS {LABEL}: UDP socket left alone")
else:
    print(f"FAIL {LABEL}: UDP socket left alone: SO_KEEPALIVE is on")

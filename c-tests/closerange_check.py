"""Issue 13, gap 2, through Python: a UDP socket closed with os.closerange() (close_range(2) in
CPython), then a TCP socket received over SCM_RIGHTS onto the same number must be configured at
connect(). The TCP socket is made with a raw system call, so kashim never saw it before.
Prints PASS/FAIL lines; EXPECT_* as in python_check.py. Usage: closerange_check.py [closerange|close]"""
import ctypes
import os
import platform
import socket
import sys

LABEL = os.environ.get("TEST_LABEL", "python closerange")
EXPECTED = (1, int(os.environ.get("EXPECT_IDLE", "60")), int(os.environ.get("EXPECT_INTVL", "10")),
            int(os.environ.get("EXPECT_CNT", "6")))
SYS_SOCKET = {"x86_64": 41, "aarch64": 198}[platform.machine()]
how = sys.argv[1] if len(sys.argv) > 1 else "closerange"


def result(ok, check, why=""):
    print(f"PASS {LABEL}: {check}" if ok else f"FAIL {LABEL}: {check}: {why}", flush=True)


libc = ctypes.CDLL(None, use_errno=True)
with socket.create_server(("127.0.0.1", 0)) as server:
    a, b = socket.socketpair()
    raw = libc.syscall(SYS_SOCKET, socket.AF_INET, socket.SOCK_STREAM, 0)
    socket.send_fds(a, [b"x"], [raw])
    os.close(raw)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()  # the highest number in use
    if how == "closerange":
        os.closerange(udp, udp + 1)
    else:
        os.close(udp)
    _, fds, _, _ = socket.recv_fds(b, 1, 1)
    result(fds == [udp], "TCP socket received onto the UDP socket's number", f"got {fds}, UDP was {udp}")
    s = socket.socket(fileno=fds[0])
    s.connect(server.getsockname())
    got = (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))
    result(got == EXPECTED, f"socket on a number freed by os.{how}() is configured at connect()",
           f"got {got}, expected {EXPECTED}")

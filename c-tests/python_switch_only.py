"""A program that turns SO_KEEPALIVE on and chooses no timers (sshd's TCPKeepAlive, Java's
setKeepAlive(true)): after connect() its socket must carry kashim's timers, because keepalive with
the kernel's two-hour first probe protects nothing. Two sockets kashim has not configured at
socket(): one made under scope rules (pending until its connection), one made by a raw system call.
A socket whose keepalive the program turned off, or whose idle it chose, stays as it set it.
Prints PASS/FAIL lines; EXPECT_IDLE is kashim's idle (default 60)."""
import ctypes
import os
import socket

label = os.environ.get("TEST_LABEL", "switch only")
want_idle = int(os.environ.get("EXPECT_IDLE", "60"))
libc = ctypes.CDLL(None, use_errno=True)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)


def raw_tcp_socket():
    """A TCP socket made without socket(): kashim never sees it being made."""
    fd = libc.syscall(41, socket.AF_INET, socket.SOCK_STREAM, 0)  # SYS_socket on x86_64
    assert fd >= 0, ctypes.get_errno()
    return socket.socket(fileno=fd)


def check(name, make, setup, want):
    s = make()
    setup(s)
    s.connect(listener.getsockname())
    got = (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
    print(("PASS" if got == want else "FAIL") + f" {label}: {name}"
          + ("" if got == want else f" (SO_KEEPALIVE, TCP_KEEPIDLE = {got}, want {want})"))
    s.close()


def switch_on(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def switch_off(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)


def own_idle(s):
    switch_on(s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 300)


make = raw_tcp_socket if os.environ.get("RAW") else socket.socket
check("SO_KEEPALIVE on, no timers: kashim's timers at connect()", make, switch_on, (1, want_idle))
check("SO_KEEPALIVE off: stays off", make, switch_off, (0, 7200))
check("SO_KEEPALIVE on and the program's own idle: stays the program's", make, own_idle, (1, 300))

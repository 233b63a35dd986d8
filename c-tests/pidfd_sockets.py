"""Sockets of other processes, duplicated with pidfd_getfd (Linux >= 5.6; root, or the same user with
Yama ptrace_scope 0), so a test can read a socket's options where the program under test keeps it.
Shared by server_keepalive.py, upstream_keepalive.py and peer_keepalive.py."""
import ctypes
import os
import socket

_libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_GETFD = 438


def other_pids():
    """Every process id but this one's."""
    return (int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())


def find_socket(pids, matches, on_getfd_error=None):
    """(pid, socket): a duplicate of the first socket of one of `pids` for which `matches(socket)` is
    true (an OSError in it counts as false); the caller owns it. (None, None) if there is none. A
    process that cannot be opened is passed over; a failed duplicate calls on_getfd_error(errno)."""
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            for name in fds:
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                        continue
                except OSError:
                    continue
                fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
                if fd < 0:
                    if on_getfd_error:
                        on_getfd_error(ctypes.get_errno())
                    continue
                s = socket.socket(fileno=fd)
                try:
                    if matches(s):
                        return pid, s
                except OSError:
                    pass
                s.close()
        finally:
            os.close(pidfd)
    return None, None


def keepalive_options(s):
    """(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) of socket `s`."""
    return (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))

"""Python's socket.dup() and socket.fromfd() (fcntl F_DUPFD_CLOEXEC underneath): a copy of a socket
whose keepalive the program turned off stays off after the original is closed and the copy
connects. Prints PASS/FAIL lines for scripts/test.sh."""
import os
import socket

LABEL = os.environ.get("TEST_LABEL", "python dup")

with socket.create_server(("127.0.0.1", 0)) as server:
    address = server.getsockname()
    for how in ("socket.dup()", "socket.fromfd()"):
        original = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        original.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
        if how == "socket.dup()":
            copy = original.dup()
        else:
            copy = socket.fromfd(original.fileno(), socket.AF_INET, socket.SOCK_STREAM)
        original.close()
        copy.connect(address)
        on = copy.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        if on == 0:
            print(f"PASS {LABEL}: {how} copy keeps the program's SO_KEEPALIVE=0 at connect()")
        else:
            print(f"FAIL {LABEL}: {how} copy keeps the program's SO_KEEPALIVE=0 at connect(): SO_KEEPALIVE={on}")
        copy.close()
        server.accept()[0].close()

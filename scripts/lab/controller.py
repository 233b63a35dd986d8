#!/usr/bin/env python3
"""Stand-in for the seed's MainControllerServer.py.

Accepts one crawler, then for each task: sends it, waits for the acknowledgement with
recv(4096), and goes quiet between tasks. Deliberately plain: no keepalive, no socket
timeouts, no retries, so whatever happens to the connection shows up exactly as it did
in the seed (an uncaught exception and its traceback).

Every line it prints starts with the seconds since start, so the lab can read timings.
"""
import argparse
import os
import signal
import socket
import sys
import time

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.2f}s] controller: {msg}", flush=True)


def quiet_spell(seconds, until_file):
    """Stay silent: sleep, then (if the lab asked) wait until it has set up the next step."""
    log(f"quiet for {seconds:g} s")
    time.sleep(seconds)
    if until_file:
        while not os.path.exists(until_file):
            time.sleep(0.02)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, help="port to listen on (all addresses)")
    p.add_argument("--listen-fd", type=int, help="use this inherited listening socket instead")
    p.add_argument("--tasks", type=int, default=2)
    p.add_argument("--quiet", type=float, default=4.0, help="seconds of silence between tasks")
    p.add_argument("--quiet-until", metavar="FILE", help="after the silence, also wait for FILE")
    p.add_argument("--start-after", metavar="FILE", help="once connected, ping until FILE exists, then task 1")
    p.add_argument("--keepalive-default", action="store_true",
                   help="turn SO_KEEPALIVE on for the connection and leave the kernel's timers, as sshd does")
    args = p.parse_args()

    # The lab stops a controller that is stuck for good with SIGINT. A shell starts
    # background jobs with SIGINT ignored; put Python's usual handler back.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    if args.listen_fd is not None:
        # Socket-activation style: the parent made and bound the socket; we only accept.
        server = socket.socket(fileno=args.listen_fd)
    else:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", args.port))
        server.listen(5)
    log("listening on port %d" % server.getsockname()[1])
    sock, addr = server.accept()
    if args.keepalive_default:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    log("crawler connected from %s:%d" % addr)
    if args.start_after:
        # The lab does something to the live connection first (kashim --attach). Meanwhile
        # pings keep it from going idle at the firewall, however long that takes.
        while not os.path.exists(args.start_after):
            sock.sendall(b"ping\n")
            sock.recv(4096)
            time.sleep(0.3)

    for n in range(1, args.tasks + 1):
        if n > 1:
            quiet_spell(args.quiet, args.quiet_until)
        sock.sendall(b"task %d\n" % n)
        log(f"sent task {n}, waiting for the ack")
        started = time.monotonic()
        try:
            data = sock.recv(4096)
        except BaseException as e:
            # Report how long recv blocked, then let the exception go on as in the seed.
            what = "gave up (interrupted)" if isinstance(e, KeyboardInterrupt) else "recv failed"
            log(f"{what} after {time.monotonic() - started:.1f} s waiting for ack {n}: {e!r}")
            raise
        if not data:
            log("crawler closed the connection")
            sys.exit(3)
        log(f"got {data.decode().strip()!r} after {time.monotonic() - started:.2f} s")

    log("all tasks acknowledged")
    sock.close()


if __name__ == "__main__":
    main()

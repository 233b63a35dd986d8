#!/usr/bin/env python3
"""Stand-in for the seed's crawler client: connects to the controller, and for every task
it receives it "works" for a while and sends an acknowledgement. Deliberately plain: no
keepalive, no timeouts. Exits when the controller closes the connection."""
import argparse
import socket
import time

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.2f}s] crawler: {msg}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--work", type=float, default=0.0, help="seconds spent on each task")
    args = p.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((args.host, args.port))
    log("connected")
    while True:
        data = sock.recv(4096)
        if not data:
            log("controller closed the connection")
            break
        task = data.decode().strip()
        if task == "ping":  # the controller's wait before task 1 (controller.py --start-after)
            sock.sendall(b"pong\n")
            continue
        log(f"got {task!r}")
        time.sleep(args.work)
        sock.sendall(b"ack " + task.encode() + b"\n")
    sock.close()


if __name__ == "__main__":
    main()

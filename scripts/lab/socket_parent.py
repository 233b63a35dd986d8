#!/usr/bin/env python3
"""Socket-activation style parent (like systemd or inetd): creates, binds and listens on
the socket itself, then starts the real server with the listening socket as fd 3.

The lab runs this parent WITHOUT kashim and gives only the child LD_PRELOAD (through
--child-env NAME=VALUE), so the child never creates the listener: kashim can only see
the accept() calls on it."""
import argparse
import os
import socket


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--child-env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("command", nargs=argparse.REMAINDER, help="child command; {fd} becomes 3")
    args = p.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", args.port))
    listener.listen(5)
    if listener.fileno() != 3:
        os.dup2(listener.fileno(), 3)
    os.set_inheritable(3, True)

    env = dict(os.environ)
    for item in args.child_env:
        name, _, value = item.partition("=")
        env[name] = value
    cmd = [a.replace("{fd}", "3") for a in args.command]
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    # exec keeps the pid, so the lab's timeout/kill still reaches the server.
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":
    main()

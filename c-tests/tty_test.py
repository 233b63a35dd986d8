"""A background process writing kashim's debug lines to a terminal with TOSTOP set would be stopped
by SIGTTOU: kashim must drop those lines instead. Starts a session on a new pseudo-terminal with
TOSTOP set, runs `log_test sockets 50` (50 logged sockets) in a background process group of that
session with the terminal as its stderr, and expects it to exit 0, not to stop.
Usage: tty_test.py LOG_TEST  (KASHIM_LOG=debug and LD_PRELOAD come from the environment).
Prints PASS/FAIL lines for scripts/test.sh."""
import os
import pty
import sys
import termios
import time

LABEL = os.environ.get("TEST_LABEL", "tty")
log_test = sys.argv[1]
master, slave = pty.openpty()
attrs = termios.tcgetattr(slave)
attrs[3] |= termios.TOSTOP
termios.tcsetattr(slave, termios.TCSANOW, attrs)

leader = os.fork()
if leader == 0:
    # Session leader with the pty as controlling terminal; it stays the foreground group.
    os.setsid()
    os.close(os.open(os.ttyname(slave), os.O_RDWR))
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)  # a background process group of this session
        os.dup2(slave, 2)
        os.execv(log_test, [log_test, "sockets", "50"])
    deadline = time.time() + 20
    while time.time() < deadline:
        pid, status = os.waitpid(child, os.WNOHANG | os.WUNTRACED)
        if pid == child:
            if os.WIFSTOPPED(status):
                os.kill(child, 9)
                os._exit(3)  # stopped by SIGTTOU
            os._exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 4)
        time.sleep(0.05)
    os.kill(child, 9)
    os._exit(5)

_, status = os.waitpid(leader, 0)
code = os.WEXITSTATUS(status)
why = {3: "stopped by SIGTTOU", 4: "failed", 5: "timed out"}.get(code, f"exit {code}")
if code == 0:
    print(f"PASS {LABEL}: background process logging to a TOSTOP terminal is not stopped")
else:
    print(f"FAIL {LABEL}: background process logging to a TOSTOP terminal is not stopped: {why}")

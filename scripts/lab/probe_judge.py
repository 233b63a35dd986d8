"""Judges one `kashim --probe --json` report of the firewall lab's probe rows (p1-p5).

Usage: probe_judge.py ID REPORT.json EXIT_STATUS STDERR_FILE TIMEOUT_S
Prints "pass<TAB>observed" or "fail<TAB>observed", the lab's result line.
"""
import json
import sys


def main():
    row, path, status, err_path, timeout = sys.argv[1:6]
    timeout = float(timeout)
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError):
        try:
            with open(err_path) as f:
                last = (f.read().strip().splitlines() or ["no output"])[-1]
        except OSError:
            last = "no output"
        print(f"fail\tkashim --probe exit {status}, no JSON report: {last}")
        return
    bracket = r.get("idle_timeout")
    how = r.get("expired_by")
    holds = r.get("keepalive_holds")
    closed = r.get("closed_by_server_after_s")
    idle = r.get("recommended_idle_s")
    took = r.get("elapsed_s")
    conns = len(r.get("connections", []))
    if r.get("kind") == "far_end" and bracket:
        found = f"the far end ended every connection after {bracket['low_s']:g}-{bracket['high_s']:g} s quiet"
    elif bracket:
        found = f"forgets after ({bracket['low_s']:g} s, {bracket['high_s']:g} s]"
    else:
        found = f"no timeout up to {r.get('max_s')} s"
    obs = (
        f"{found}, expired by {json.dumps(how)}, keepalive holds: {json.dumps(holds)}, "
        f"closed by server after: {json.dumps(closed)}, recommended idle: {json.dumps(idle)}; "
        f"{conns} connections, took {took} s"
    )
    problems = []

    def want(ok, what):
        if not ok:
            problems.append(what)

    want(status == "0", f"exit {status}")
    if row in ("p1", "p2"):
        # The firewall forgets after `timeout` s: a bracket of at most 2 s around it.
        want(r.get("kind") == "middlebox", "kind middlebox")
        want(
            bracket is not None
            and bracket["low_s"] <= timeout <= bracket["high_s"]
            and bracket["high_s"] - bracket["low_s"] <= 2,
            f"a bracket of at most 2 s around {timeout:g} s",
        )
        want(how == ("reset" if row == "p1" else "silence"), "the right expired_by")
        want(holds is True, "keepalive holds")
        want(idle is not None and bracket is not None and idle < bracket["low_s"], "a recommended idle below the bracket")
    elif row == "p3":
        want(r.get("kind") == "no_timeout" and bracket is None and how is None, "no timeout found")
        # Every connection's probe went out and was answered: nothing was merely left unprobed.
        want(
            all(c.get("first_probe") == "answered" for c in r.get("connections", [])),
            "every first probe answered",
        )
        want(idle is not None, "a recommendation")
    elif row == "p4":
        # HAProxy answers probes itself and closes on data idleness.
        want(holds is False, "keepalive does not hold")
        want(closed is not None and abs(closed - timeout) <= 1.5, f"closed after about {timeout:g} s")
        want(idle is None, "no kashim recommendation")
    elif row == "p5":
        want(r.get("kind") == "far_end" and how == "fin", "the far end closed it (FIN)")
        want(closed is not None and abs(closed - timeout) <= 1.5, f"closed by the server after about {timeout:g} s")
        want(holds is False, "keepalive does not hold")
    if problems:
        obs += "; expected: " + ", ".join(problems)
    print(("fail" if problems else "pass") + "\t" + obs)


main()

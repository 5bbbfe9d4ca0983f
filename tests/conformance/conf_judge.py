"""Verdicts and the two case shapes Autobahn judges.

A case opens its own connection, sends, and then is judged on

  * the observations: the messages, pongs and pings the server sent, in
    order, compared with the list expected for OK (and, where Autobahn
    has one, a second list that earns NON-STRICT);
  * the close behaviour, one of two shapes:
      normal  the client closes (1000 unless the case says otherwise); the
              server must answer with a close frame carrying an accepted
              code and then end the transport (TCP FIN, or END_STREAM on
              HTTP/2), all within a timeout;
      fail    the server must fail the connection: a close frame with one
              of the required codes, or at least dropping the transport,
              within a timeout.  A wrong code is FAILED.

Waiting for the expected observations ends as soon as they arrived, so a
correct server is never waited on; the client's close then flushes out
anything extra (a server answers in order), which is how an unexpected
pong or echo is caught without sleeping.
"""
import time

from conf_transport import HandshakeError
from conf_ws import OP_TEXT

OK = "OK"
NON_STRICT = "NON-STRICT"
FAILED = "FAILED"
UNIMPLEMENTED = "UNIMPLEMENTED"
INFORMATIONAL = "INFORMATIONAL"
# Worst first: a case's verdict is the worst of its parts.
RANK = {FAILED: 0, UNIMPLEMENTED: 1, NON_STRICT: 2, INFORMATIONAL: 3, OK: 4}


def worst(*verdicts):
    return min(verdicts, key=lambda v: RANK[v])


class Result:
    def __init__(self, verdict, detail=""):
        self.verdict = verdict  # one of the five verdicts
        self.detail = detail  # one line for the report
        self.ms = 0  # wall-clock time of the case, set by the runner


def fmt_obs(o):
    if o[0] == "message":
        kind = "text" if o[1] == OP_TEXT else "binary"
        p = o[2]
        shown = p[:24] + (b"..." if len(p) > 24 else b"")
        return f"{kind}[{len(p)}]{shown!r}"
    if o[0] in ("ping", "pong"):
        return f"{o[0]}[{len(o[1])}]{o[1][:24]!r}"
    if o[0] == "close":
        return f"close {o[1]}"
    if o[0] == "eof":
        return f"transport ended ({o[1]})"
    if o[0] == "error":
        return f"protocol error by the server: {o[1]}"
    return "timeout"


def fmt_list(obs):
    return "[" + ", ".join(fmt_obs(o) for o in obs) + "]"


def compare(obs, expect, non_strict=None):
    """(verdict, detail) for the observations."""
    if obs == list(expect):
        return OK, ""
    if non_strict is not None and obs == list(non_strict):
        return NON_STRICT, f"got {fmt_list(obs)}; OK needs {fmt_list(expect)}"
    return FAILED, f"got {fmt_list(obs)}, expected {fmt_list(expect)}"


def wait_eof(ws, timeout):
    deadline = time.monotonic() + timeout
    while True:
        ev = ws.next_event(max(0.0, deadline - time.monotonic()))
        if ev[0] in ("eof", "timeout", "error"):
            return ev


def finish_normal(ctx, ws, obs, close_with=(1000, b""), codes=(1000,)):
    """The client's closing handshake.  Observations arriving before the
    server's close are appended to obs.  Returns (verdict, detail)."""
    if not ws.closed_sent:
        ws.close(*close_with)
    ws.flush(ctx.t(10))
    deadline = time.monotonic() + ctx.t(10)
    while ws.close_received is None:
        ev = ws.next_event(max(0.0, deadline - time.monotonic()))
        if ev[0] in ("message", "ping", "pong"):
            obs.append(ev)
        elif ev[0] == "close":
            break
        else:
            return FAILED, f"closing handshake: {fmt_obs(ev)}"
    code = ws.close_received[0]
    if code not in codes:
        return FAILED, f"server answered the close with {code}, expected one of {list(codes)}"
    ev = wait_eof(ws, ctx.t(5))
    if ev[0] != "eof":
        return FAILED, "server did not end the transport after the closing handshake"
    return OK, ""


def run_normal(ctx, send, expect=(), non_strict=None, offer=None, close_with=(1000, b""),
               codes=(1000,), timeout=10.0):
    """A case the server must survive: send, await the expected
    observations, close cleanly."""
    ws = ctx.connect(offer)
    try:
        send(ws)
        ws.flush(ctx.t(timeout))
        obs = []
        deadline = time.monotonic() + ctx.t(timeout)
        while len(obs) < len(expect):
            ev = ws.next_event(max(0.0, deadline - time.monotonic()))
            if ev[0] in ("message", "ping", "pong"):
                obs.append(ev)
                continue
            if ev[0] == "close" and ws.closed_sent:
                break  # the case itself closed; finish_normal judges the code
            return Result(FAILED, f"{fmt_obs(ev)} after {fmt_list(obs)}; expected "
                          f"{fmt_list(expect)}")
        cv, cd = finish_normal(ctx, ws, obs, close_with, codes)
        ov, od = compare(obs, expect, non_strict)
        return Result(worst(cv, ov), "; ".join(d for d in (od, cd) if d))
    finally:
        ws.chan.close()


def await_failure(ctx, ws, obs, codes, timeout):
    """Wait for the server to fail the connection.  Returns
    (verdict, detail, how) where how is "close", "drop" or None."""
    deadline = time.monotonic() + ctx.t(timeout)
    while True:
        ev = ws.next_event(max(0.0, deadline - time.monotonic()))
        if ev[0] in ("message", "ping", "pong"):
            obs.append(ev)
        elif ev[0] == "close":
            code = ev[1]
            if not ws.closed_sent:
                ws.close(code if code is not None else 1000)
                ws.flush(ctx.t(2))
            wait_eof(ws, ctx.t(2))
            if code not in codes:
                return FAILED, f"server closed with {code}, expected one of {list(codes)}", "close"
            return OK, "", "close"
        elif ev[0] == "eof":
            return OK, "", "drop"
        elif ev[0] == "error":
            return FAILED, fmt_obs(ev), None
        else:
            return None, "server did not fail the connection", None


def run_fail(ctx, send, expect=(), non_strict=None, codes=(1002,), offer=None, timeout=5.0):
    """A case where the server must fail the connection."""
    ws = ctx.connect(offer)
    try:
        send(ws)
        ws.flush(ctx.t(timeout))
        obs = []
        cv, cd, _ = await_failure(ctx, ws, obs, codes, timeout)
        if cv is None:
            cv = FAILED
        ov, od = compare(obs, expect, non_strict)
        return Result(worst(cv, ov), "; ".join(d for d in (cd, od) if d))
    finally:
        ws.chan.close()


class Ctx:
    """What a case gets: how to connect, and the time scale."""

    def __init__(self, transport, host, port, path, slow=1.0):
        self.transport = transport  # ws, wss, h2c or h2
        self.host = host
        self.port = port
        self.path = path
        self.slow = slow  # multiplies every timeout (sanitizer builds)

    def t(self, seconds):
        return seconds * self.slow

    def connect(self, offer=None):
        from conf_transport import open_channel
        from conf_ws import Ws
        try:
            chan = open_channel(self.transport, self.host, self.port, self.path, offer,
                                self.t(5))
        except OSError as e:
            raise HandshakeError(f"connect: {e}") from None
        return Ws(chan)


class Case:
    def __init__(self, cid, desc, fn, fast=True):
        self.id = cid  # "1.1.1"
        self.key = tuple(int(x) for x in cid.split("."))
        self.section = self.key[0]
        self.desc = desc  # one line, for the report
        self.fn = fn  # fn(ctx) -> Result
        self.fast = fast  # part of the --fast subset

"""Section 6: UTF-8 handling, with Autobahn's groups of sequences (which
follow Markus Kuhn's UTF-8 decoder stress test).

Whether a sequence is valid is decided by Python's strict UTF-8 codec
(RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), not by
a hand-kept flag.  A valid text message must be echoed; an invalid one
must fail the connection with 1007.

6.4 checks fail-fast: the invalid octets are sent, the client waits, and
only then sends the rest of the message.  A server that fails the
connection during the wait is OK; one that fails only once the message
is complete is NON-STRICT (Autobahn's grading).
"""
from conf_judge import FAILED, NON_STRICT, OK, Case, Result, await_failure, run_fail, run_normal
from conf_ws import OP_CONT, OP_TEXT, frame

KOSME = "κόσμε".encode()
HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()
# Seconds the fail-fast cases wait after the invalid octets.
FAIL_FAST_WAIT = 1.0


def valid(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def lonely(lo, hi):
    return b"".join(bytes([c]) + b" " for c in range(lo, hi + 1))


def noncharacters():
    out = []
    for plane in range(17):
        for low in (0xFFFE, 0xFFFF):
            out.append(chr(plane * 0x10000 + low).encode())
    return out + [chr(c).encode() for c in range(0xFDD0, 0xFDF0)]


MISSING_LAST = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
                b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
                b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
SURROGATES = [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf",
              b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf"]

# (subsection, title, [sequences]) in Autobahn's order.
GROUPS = [
    (5, "valid UTF-8 samples", [HELLO_UTF8, KOSME, "\u00e9\u4e2d\U0001F600".encode(),
                                "\U0010FFFF".encode(), "\uFFFD".encode()]),
    (6, "prefix of 'κόσμε'", [KOSME[:i] for i in range(1, 12)]),
    (7, "first sequence of each length 1-4",
     [b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80"]),
    (8, "first 5- and 6-octet sequences", [b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80"]),
    (9, "last sequence of each length 1-4",
     [b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"]),
    (10, "last 4-, 5- and 6-octet patterns",
     [b"\xf7\xbf\xbf\xbf", b"\xfb\xbf\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf\xbf"]),
    (11, "other boundary conditions", [b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd",
                                       b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80"]),
    (12, "unexpected continuation octets",
     [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf",
      b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf", bytes(range(0x80, 0xC0))]),
    (13, "lonely start octets followed by a space",
     [lonely(0xC0, 0xDF), lonely(0xE0, 0xEF), lonely(0xF0, 0xF7), lonely(0xF8, 0xFB),
      lonely(0xFC, 0xFD)]),
    (14, "sequence with the last continuation octet missing", MISSING_LAST),
    (15, "concatenation of incomplete sequences", [b"".join(MISSING_LAST)]),
    (16, "impossible octets", [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"]),
    (17, "overlong '/'", [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",
                          b"\xf8\x80\x80\x80\xaf", b"\xfc\x80\x80\x80\x80\xaf"]),
    (18, "maximum overlong sequences", [b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf",
                                        b"\xf8\x87\xbf\xbf\xbf", b"\xfc\x83\xbf\xbf\xbf\xbf"]),
    (19, "overlong NUL", [b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80",
                          b"\xf8\x80\x80\x80\x80", b"\xfc\x80\x80\x80\x80\x80"]),
    (20, "single UTF-16 surrogate", SURROGATES),
    (21, "paired UTF-16 surrogates",
     [a + b for a in SURROGATES[:4] for b in (SURROGATES[4], SURROGATES[6])]),
    (22, "noncharacters (valid)", noncharacters()),
    (23, "specials (valid)", [chr(c).encode() for c in (0xFFF9, 0xFFFA, 0xFFFB, 0xFFFC, 0xFFFD,
                                                        0xFFFE, 0xFEFF)]),
]


def text_case(cid, desc, frames_of, payload):
    """A text message sent as the frames frames_of(payload) returns."""
    if valid(payload):
        def fn(ctx):
            return run_normal(ctx, lambda ws: ws.send_raw(b"".join(frames_of(payload))),
                              [("message", OP_TEXT, payload)])
        return Case(cid, desc + " (valid: echo)", fn)

    def fn_bad(ctx):
        return run_fail(ctx, lambda ws: ws.send_raw(b"".join(frames_of(payload))), codes=(1007,))
    return Case(cid, desc + " (invalid: fail 1007)", fn_bad)


def one_frame(p):
    return [frame(OP_TEXT, p)]


def fragments(p, size):
    parts = [p[i:i + size] for i in range(0, len(p), size)] or [b""]
    return [frame(OP_TEXT if i == 0 else OP_CONT, x, fin=i == len(parts) - 1)
            for i, x in enumerate(parts)]


def fail_fast(ctx, first, rest):
    """Send the chunks in first (each its own write), wait, send rest."""
    ws = ctx.connect()
    try:
        for chunk in first:
            ws.send_raw(chunk)
            ws.flush(ctx.t(5))
        obs = []
        v, d, how = await_failure(ctx, ws, obs, (1007,), FAIL_FAST_WAIT)
        if v is not None:
            if obs:
                return Result(FAILED, f"unexpected data before failing: {obs[0][0]}")
            return Result(v, d or f"failed fast ({how})")
        ws.send_raw(rest)
        ws.flush(ctx.t(5))
        v, d, how = await_failure(ctx, ws, obs, (1007,), 5.0)
        if v is None:
            return Result(FAILED, d)
        if v == OK:
            return Result(NON_STRICT, f"failed only after the end of the message ({how})")
        return Result(v, d)
    finally:
        ws.chan.close()


def section6():
    out = [
        Case("6.1.1", "Send text message of length 0", lambda ctx: run_normal(
            ctx, lambda ws: ws.send_frame(OP_TEXT, b""), [("message", OP_TEXT, b"")])),
        Case("6.1.2", "Send fragmented text message, 3 fragments each of length 0",
             lambda ctx: run_normal(ctx, lambda ws: ws.send_raw(
                 frame(OP_TEXT, b"", fin=False) + frame(OP_CONT, b"", fin=False) +
                 frame(OP_CONT, b"")), [("message", OP_TEXT, b"")])),
        Case("6.1.3", "Send fragmented text message, 3 fragments, first and last of length 0",
             lambda ctx: run_normal(ctx, lambda ws: ws.send_raw(
                 frame(OP_TEXT, b"", fin=False) + frame(OP_CONT, b"middle frame payload",
                                                        fin=False) + frame(OP_CONT, b"")),
                 [("message", OP_TEXT, b"middle frame payload")])),
    ]
    out.append(text_case("6.2.1", "Valid UTF-8 in one fragment", one_frame, HELLO_UTF8))
    out.append(text_case("6.2.2", "Valid UTF-8 in 2 fragments split inside a code point",
                         lambda p: fragments(p, 14), HELLO_UTF8))
    out.append(text_case("6.2.3", "Valid UTF-8 in 1-octet fragments",
                         lambda p: fragments(p, 1), HELLO_UTF8))
    out.append(text_case("6.2.4", "Valid UTF-8 'κόσμε' in 1-octet fragments",
                         lambda p: fragments(p, 1), KOSME))
    bad = KOSME + b"\xed\xa0\x80" + b"edited"
    out.append(text_case("6.3.1", "Invalid UTF-8 (surrogate) in one fragment", one_frame, bad))
    out.append(text_case("6.3.2", "Invalid UTF-8 (surrogate) in 1-octet fragments",
                         lambda p: fragments(p, 1), bad))

    # 6.4: fail fast.  The invalid code point U+110000 (f4 90 80 80) is
    # detectable at its second octet.
    tail = b"edited"
    cases64 = [
        ("6.4.1", "3 fragments; fail after the 2nd (invalid), before the 3rd",
         [frame(OP_TEXT, KOSME, fin=False), frame(OP_CONT, b"\xf4\x90\x80\x80", fin=False)],
         frame(OP_CONT, tail)),
        ("6.4.2", "3 fragments; the invalid sequence split, fail at its 2nd octet",
         [frame(OP_TEXT, KOSME + b"\xf4", fin=False), frame(OP_CONT, b"\x90", fin=False)],
         frame(OP_CONT, b"\x80\x80" + tail)),
    ]
    whole = frame(OP_TEXT, KOSME + b"\xf4\x90\x80\x80" + tail)
    h = 6  # 2 header octets + 4 mask octets: payload < 126
    n = len(KOSME)
    cases64.append(("6.4.3", "one frame in 3 chops; fail after the invalid chop",
                    [whole[:h + n], whole[h + n:h + n + 4]], whole[h + n + 4:]))
    cases64.append(("6.4.4", "one frame in 3 chops; invalid sequence split across chops",
                    [whole[:h + n + 1], whole[h + n + 1:h + n + 2]], whole[h + n + 2:]))
    for cid, desc, first, rest in cases64:
        out.append(Case(cid, "Fail fast on invalid UTF-8: " + desc,
                        lambda ctx, f=first, r=rest: fail_fast(ctx, f, r)))

    for sub, title, seqs in GROUPS:
        for i, seq in enumerate(seqs, 1):
            out.append(text_case(f"6.{sub}.{i}", f"{title}: {seq[:12].hex(' ')}"
                                 f"{'...' if len(seq) > 12 else ''}", one_frame, seq))
    return out


def cases():
    return section6()


# Guard against a typo in the tables: groups whose title says valid or
# invalid must hold only such sequences (checked when the module loads).
_BY_SUB = {sub: seqs for sub, _, seqs in GROUPS}
assert all(valid(s) for sub in (5, 7, 9, 22, 23) for s in _BY_SUB[sub])
assert not any(valid(s) for sub in (8, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)
               for s in _BY_SUB[sub])

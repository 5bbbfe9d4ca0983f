"""Cases of sections 1 (framing), 2 (ping/pong), 3 (reserved bits),
4 (opcodes), 5 (fragmentation), 7 (close) and 10 (auto-fragmentation),
following the Autobahn|Testsuite case descriptions.

"Chops" are Autobahn's: the bytes of the frames are written to the
network in pieces (per frame, or one octet at a time), each piece flushed
before the next, so the server sees them in separate reads.
"""
import time

from conf_judge import (FAILED, INFORMATIONAL, Case, Result, finish_normal, fmt_list, run_fail,
                        run_normal)
from conf_ws import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, close_payload,
                     frame)

HELLO = b"Hello, world!"


def msg(op, payload):
    return ("message", op, payload)


def pong(payload):
    return ("pong", payload)


def frames_chopped(ws, frames, chop):
    """Write frames: "frame" = each frame its own flushed write, an int =
    that many octets per write, None = all at once."""
    if chop == "frame":
        for f in frames:
            ws.send_raw(f)
            ws.flush()
    else:
        ws.send_raw(b"".join(frames), chop)


def section1():
    out = []
    sizes = [0, 125, 126, 127, 128, 65535, 65536]
    for sub, (op, fill, name) in enumerate([(OP_TEXT, b"*", "text"),
                                            (OP_BINARY, b"\xfe", "binary")], 1):
        for i, n in enumerate(sizes, 1):
            payload = fill * n

            def fn(ctx, op=op, payload=payload):
                return run_normal(ctx, lambda ws: ws.send_frame(op, payload),
                                  [msg(op, payload)])
            out.append(Case(f"1.{sub}.{i}", f"Send {name} message with payload of length {n}", fn))
        payload = fill * 65536

        def fn8(ctx, op=op, payload=payload):
            return run_normal(ctx, lambda ws: ws.send_frame(op, payload, chop=997),
                              [msg(op, payload)])
        out.append(Case(f"1.{sub}.8", f"Send {name} message with payload of length 65536, "
                        "sent in chops of 997 octets", fn8))
    return out


def section2():
    out = []

    def ping_case(cid, desc, payload, chop=None):
        def fn(ctx):
            return run_normal(ctx, lambda ws: ws.send_frame(OP_PING, payload, chop=chop),
                              [pong(payload)])
        out.append(Case(cid, desc, fn))

    ping_case("2.1", "Send ping without payload", b"")
    ping_case("2.2", "Send ping with small text payload", HELLO)
    ping_case("2.3", "Send ping with small binary (non UTF-8) payload",
              b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")
    ping_case("2.4", "Send ping with binary payload of 125 octets", b"\xfe" * 125)
    out.append(Case("2.5", "Send ping with binary payload of 126 octets: fail",
                    lambda ctx: run_fail(ctx, lambda ws: ws.send_frame(OP_PING, b"\xfe" * 126))))
    ping_case("2.6", "Send ping with 125 octets, sent in octet-wise chops", b"\xfe" * 125, 1)
    out.append(Case("2.7", "Send unsolicited pong without payload, expect nothing",
                    lambda ctx: run_normal(ctx, lambda ws: ws.send_frame(OP_PONG))))
    out.append(Case("2.8", "Send unsolicited pong with payload, expect nothing",
                    lambda ctx: run_normal(
                        ctx, lambda ws: ws.send_frame(OP_PONG, b"unsolicited pong payload"))))

    def c29(ws):
        ws.send_frame(OP_PONG, b"unsolicited pong payload")
        ws.send_frame(OP_PING, b"ping payload")
    out.append(Case("2.9", "Send unsolicited pong, then ping: expect the pong of the ping only",
                    lambda ctx: run_normal(ctx, c29, [pong(b"ping payload")])))
    pings = [b"payload-%d" % i for i in range(10)]
    out.append(Case("2.10", "Send 10 pings with payload: expect 10 pongs",
                    lambda ctx: run_normal(
                        ctx, lambda ws: [ws.send_frame(OP_PING, p) for p in pings],
                        [pong(p) for p in pings])))
    out.append(Case("2.11", "Send 10 pings with payload, octet-wise chops: expect 10 pongs",
                    lambda ctx: run_normal(
                        ctx, lambda ws: frames_chopped(ws, [frame(OP_PING, p) for p in pings], 1),
                        [pong(p) for p in pings])))
    return out


def section3():
    out = [Case("3.1", "Send small text message with RSV = 1: fail",
                lambda ctx: run_fail(ctx, lambda ws: ws.send_frame(OP_TEXT, HELLO, rsv=1)))]

    def three(cid, rsv, chop):
        how = {None: "", "frame": ", frame-wise chops", 1: ", octet-wise chops"}[chop]

        def fn(ctx):
            fs = [frame(OP_TEXT, HELLO), frame(OP_TEXT, HELLO, rsv=rsv), frame(OP_PING, HELLO)]
            return run_fail(ctx, lambda ws: frames_chopped(ws, fs, chop), [msg(OP_TEXT, HELLO)],
                            non_strict=[])
        out.append(Case(cid, f"Send small text, then text with RSV = {rsv}, then ping{how}: "
                        "echo then fail", fn))
    three("3.2", 2, None)
    three("3.3", 3, "frame")
    three("3.4", 4, 1)
    out.append(Case("3.5", "Send small binary message with RSV = 5: fail",
                    lambda ctx: run_fail(ctx, lambda ws: ws.send_frame(
                        OP_BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5))))
    out.append(Case("3.6", "Send ping with RSV = 6: fail",
                    lambda ctx: run_fail(ctx, lambda ws: ws.send_frame(OP_PING, HELLO, rsv=6))))
    out.append(Case("3.7", "Send close with RSV = 7: fail",
                    lambda ctx: run_fail(ctx, lambda ws: ws.send_raw(
                        frame(OP_CLOSE, close_payload(1000), rsv=7)))))
    return out


def section4():
    out = []
    for sub, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        kind = "non-control" if sub == 1 else "control"
        a, b, c, d, e = ops
        out.append(Case(f"4.{sub}.1", f"Send frame with reserved {kind} opcode {a}: fail",
                        lambda ctx, a=a: run_fail(ctx, lambda ws: ws.send_frame(a))))
        out.append(Case(f"4.{sub}.2", f"Send frame with reserved {kind} opcode {b} and payload: "
                        "fail", lambda ctx, b=b: run_fail(
                            ctx, lambda ws: ws.send_frame(b, b"reserved opcode payload"))))
        for i, op, pl, chop in ((3, c, b"", None), (4, d, b"reserved opcode payload", None),
                                (5, e, b"reserved opcode payload", 1)):
            def fn(ctx, op=op, pl=pl, chop=chop):
                fs = [frame(OP_TEXT, HELLO), frame(op, pl), frame(OP_PING, HELLO)]
                return run_fail(ctx, lambda ws: frames_chopped(ws, fs, chop),
                                [msg(OP_TEXT, HELLO)], non_strict=[])
            how = ", octet-wise chops" if chop else ""
            out.append(Case(f"4.{sub}.{i}", f"Send small text, then frame with reserved {kind} "
                            f"opcode {op}, then ping{how}: echo then fail", fn))
    return out


def section5():
    out = []
    f1, f2 = b"fragment1", b"fragment2"
    out.append(Case("5.1", "Send ping in 2 fragments: fail", lambda ctx: run_fail(
        ctx, lambda ws: frames_chopped(
            ws, [frame(OP_PING, f1, fin=False), frame(OP_CONT, f2)], None))))
    out.append(Case("5.2", "Send pong in 2 fragments: fail", lambda ctx: run_fail(
        ctx, lambda ws: frames_chopped(
            ws, [frame(OP_PONG, f1, fin=False), frame(OP_CONT, f2)], None))))
    chops = ((None, ""), ("frame", ", frame-wise chops"), (1, ", octet-wise chops"))
    for i, (chop, how) in enumerate(chops, 3):
        fs = [frame(OP_TEXT, f1, fin=False), frame(OP_CONT, f2)]
        out.append(Case(f"5.{i}", f"Send text message in 2 fragments{how}",
                        lambda ctx, fs=fs, chop=chop: run_normal(
                            ctx, lambda ws: frames_chopped(ws, fs, chop),
                            [msg(OP_TEXT, f1 + f2)])))
    for i, (chop, how) in enumerate(chops, 6):
        fs = [frame(OP_TEXT, f1, fin=False), frame(OP_PING, b"ping payload"),
              frame(OP_CONT, f2)]
        out.append(Case(f"5.{i}", f"Send text message in 2 fragments with a ping between{how}",
                        lambda ctx, fs=fs, chop=chop: run_normal(
                            ctx, lambda ws: frames_chopped(ws, fs, chop),
                            [pong(b"ping payload"), msg(OP_TEXT, f1 + f2)])))
    for i, (chop, how) in enumerate(chops, 9):
        fs = [frame(OP_CONT, b"non-continuation payload"), frame(OP_TEXT, HELLO)]
        out.append(Case(f"5.{i}", f"Send continuation with FIN = true and nothing to continue, "
                        f"then text{how}: fail", lambda ctx, fs=fs, chop=chop: run_fail(
                            ctx, lambda ws: frames_chopped(ws, fs, chop))))
    for i, (chop, how) in enumerate(chops, 12):
        fs = [frame(OP_CONT, b"non-continuation payload", fin=False), frame(OP_TEXT, HELLO)]
        out.append(Case(f"5.{i}", f"Send continuation with FIN = false and nothing to continue, "
                        f"then text{how}: fail", lambda ctx, fs=fs, chop=chop: run_fail(
                            ctx, lambda ws: frames_chopped(ws, fs, chop))))
    fs15 = [frame(OP_TEXT, f1, fin=False), frame(OP_CONT, f2), frame(OP_CONT, b"fragment3",
                                                                    fin=False),
            frame(OP_TEXT, b"fragment4")]
    out.append(Case("5.15", "Send text in 2 fragments, then continuation with FIN = false and "
                    "nothing to continue, then text: echo then fail", lambda ctx: run_fail(
                        ctx, lambda ws: frames_chopped(ws, fs15, None),
                        [msg(OP_TEXT, f1 + f2)], non_strict=[])))
    for cid, fin in (("5.16", False), ("5.17", True)):
        fs = [frame(OP_CONT, f1, fin=fin), frame(OP_TEXT, f2, fin=False),
              frame(OP_CONT, b"fragment3")] * 2
        out.append(Case(cid, f"Twice: continuation (FIN = {str(fin).lower()}) with nothing to "
                        "continue, then text in 2 fragments: fail",
                        lambda ctx, fs=fs: run_fail(ctx, lambda ws: frames_chopped(ws, fs, None))))
    out.append(Case("5.18", "Send text in 2 fragments with both frame opcodes text: fail",
                    lambda ctx: run_fail(ctx, lambda ws: frames_chopped(
                        ws, [frame(OP_TEXT, f1, fin=False), frame(OP_TEXT, f2)], None))))
    frags = [b"fragment%d" % i for i in range(1, 6)]

    def c519(ws, chop):
        groups = [[frame(OP_TEXT, frags[0], fin=False), frame(OP_CONT, frags[1], fin=False),
                   frame(OP_PING, b"pongme 1!")],
                  [frame(OP_CONT, frags[2], fin=False), frame(OP_CONT, frags[3], fin=False),
                   frame(OP_PING, b"pongme 2!")],
                  [frame(OP_CONT, frags[4])]]
        for i, g in enumerate(groups):
            if i:
                time.sleep(1)
            frames_chopped(ws, g, chop)
            ws.flush()
    expect = [pong(b"pongme 1!"), pong(b"pongme 2!"), msg(OP_TEXT, b"".join(frags))]
    out.append(Case("5.19", "Send text in 5 fragments with 2 pings between, 1 s pauses",
                    lambda ctx: run_normal(ctx, lambda ws: c519(ws, None), expect)))
    out.append(Case("5.20", "Same as 5.19, frame-wise chops",
                    lambda ctx: run_normal(ctx, lambda ws: c519(ws, "frame"), expect)))
    return out


# Valid on the wire (RFC 6455 7.4.1 and the IANA registry).  1012-1014 are
# registered since Autobahn's tables were written; we test them as valid.
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
               1012, 1013, 1014]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]
BAD_REASON = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"


def section7():
    out = []
    out.append(Case("7.1.1", "Send text, then close: echo, then clean close", lambda ctx:
                    run_normal(ctx, lambda ws: ws.send_frame(OP_TEXT, HELLO),
                               [msg(OP_TEXT, HELLO)])))

    def twice(ws):
        ws.close()
        ws.close()
    out.append(Case("7.1.2", "Send close twice", lambda ctx: run_normal(ctx, twice)))

    def then(op, payload):
        def send(ws):
            ws.close()
            ws.send_frame(op, payload)
        return send
    out.append(Case("7.1.3", "Send close, then ping: no pong", lambda ctx: run_normal(
        ctx, then(OP_PING, HELLO))))
    out.append(Case("7.1.4", "Send close, then text: no echo", lambda ctx: run_normal(
        ctx, then(OP_TEXT, HELLO))))

    def c715(ws):
        ws.send_frame(OP_TEXT, b"fragment1", fin=False)
        ws.close()
        ws.send_frame(OP_CONT, b"fragment2")
    out.append(Case("7.1.5", "Send first fragment of a message, close, then the last fragment: "
                    "no echo", lambda ctx: run_normal(ctx, c715)))
    out.append(Case("7.1.6", "Send 256 KiB text, close, then ping (what arrives before the "
                    "close is informational)", c716))

    out.append(Case("7.3.1", "Send close with empty payload", lambda ctx: run_normal(
        ctx, lambda ws: ws.send_frame(OP_CLOSE, b""), codes=(None, 1000))))
    out.append(Case("7.3.2", "Send close with a 1-octet payload: fail", lambda ctx: run_fail(
        ctx, lambda ws: ws.send_frame(OP_CLOSE, b"a"))))
    for cid, reason, desc in (("7.3.3", b"", "close 1000 and no reason"),
                              ("7.3.4", b"Hello World!", "close 1000 and a reason"),
                              ("7.3.5", b"*" * 123, "close 1000 and a 123-octet reason")):
        out.append(Case(cid, f"Send {desc}", lambda ctx, r=reason: run_normal(
            ctx, lambda ws: ws.close(1000, r))))
    out.append(Case("7.3.6", "Send close 1000 with a 124-octet reason (payload 126): fail",
                    lambda ctx: run_fail(ctx, lambda ws: ws.close(1000, b"*" * 124))))
    out.append(Case("7.5.1", "Send close with a reason that is not UTF-8: fail with 1007",
                    lambda ctx: run_fail(ctx, lambda ws: ws.close(1000, BAD_REASON),
                                         codes=(1007,))))
    for i, code in enumerate(VALID_CODES, 1):
        # Autobahn accepts the same code or 1000 in the answer.
        out.append(Case(f"7.7.{i}", f"Send close with valid code {code}", lambda ctx, c=code:
                        run_normal(ctx, lambda ws: ws.close(c), codes=(c, 1000))))
    for i, code in enumerate(INVALID_CODES, 1):
        out.append(Case(f"7.9.{i}", f"Send close with invalid code {code}: fail",
                        lambda ctx, c=code: run_fail(ctx, lambda ws: ws.close(c))))
    for i, code in enumerate((5000, 65535), 1):
        out.append(Case(f"7.13.{i}", f"Send close with invalid code {code}: fail",
                        lambda ctx, c=code: run_fail(ctx, lambda ws: ws.close(c))))
    return out


def c716(ctx):
    """Autobahn grades this INFORMATIONAL: the server may answer the close
    before or after echoing the large message.  Only a broken close is
    FAILED."""
    payload = b"BAsd7&jh23" * 26214 + b"BAsd"
    ws = ctx.connect()
    try:
        ws.send_frame(OP_TEXT, payload)
        ws.close()
        ws.send_frame(OP_PING, HELLO)
        obs = []
        cv, cd = finish_normal(ctx, ws, obs)
        if cv == FAILED:
            return Result(FAILED, cd)
        return Result(INFORMATIONAL, "before the close: " + fmt_list(obs))
    finally:
        ws.chan.close()


def section10():
    payload = b"*" * 65536
    return [Case("10.1.1", "Send text message of 65536 octets in 1300-octet fragments; any "
                 "fragmentation of the echo is accepted", lambda ctx: run_normal(
                     ctx, lambda ws: ws.send_message(OP_TEXT, payload, frag=1300),
                     [msg(OP_TEXT, payload)]))]


def cases():
    return section1() + section2() + section3() + section4() + section5() + section7() + \
        section10()

"""Sections 9 (limits and performance) and 12-13 (permessage-deflate).

Section 9 sends large messages, single-frame, fragmented and chopped, and
1000-message round-trip series; the verdict is OK when every echo is
right within the timeout, and the time taken is reported (Autobahn shows
it the same way).

Sections 12 and 13 negotiate permessage-deflate and round-trip
compressed messages one after another (each echo awaited before the next
message), so context takeover is exercised across messages in both
directions.  The client inflates the server's messages with exactly the
negotiated window and context rules: a server that ignores
server_max_window_bits or server_no_context_takeover produces data that
does not inflate, and the case is FAILED.  A server that declines the
offer makes the case UNIMPLEMENTED (Autobahn's verdict).

Autobahn sends 1000 messages per 12/13 case; to keep the suite in
minutes under a Python client we send min(1000, 256 KiB / size) messages
(at least 10).
"""
import random
import time

from conf_judge import (FAILED, OK, UNIMPLEMENTED, Case, Result, finish_normal, fmt_obs,
                        run_normal)
from conf_ws import OP_BINARY, OP_TEXT, DeflateParams, check_deflate_response

SECTION9_TIMEOUT = 100.0
KIB, MIB = 1024, 1024 * 1024


def text_fill(n):
    return (b"BAsd7&jh23" * (n // 10 + 1))[:n]


def section9():
    out = []
    single = [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB]
    frags = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB]
    chops = [64, 128, 256, 512, 1024, 2048]
    counts = [0, 16, 64, 256, 1024, 4096]
    fast = {"9.1.1", "9.1.2", "9.1.3", "9.2.1", "9.2.2", "9.2.3", "9.3.5", "9.4.5", "9.5.6",
            "9.6.6", "9.7.3", "9.8.3"}
    for op, name, s1, s2, s3, s4 in ((OP_TEXT, "text", 1, 3, 5, 7),
                                     (OP_BINARY, "binary", 2, 4, 6, 8)):
        def data(n, op=op):
            return text_fill(n) if op == OP_TEXT else b"\xfe" * n
        for i, n in enumerate(single, 1):
            cid = f"9.{s1}.{i}"
            out.append(Case(cid, f"Send {name} message of {size_name(n)}",
                            lambda ctx, n=n, op=op, d=data: big_echo(ctx, op, d(n)), cid in fast))
        for i, f in enumerate(frags, 1):
            cid = f"9.{s2}.{i}"
            out.append(Case(cid, f"Send {name} message of 4 MiB in fragments of {size_name(f)}",
                            lambda ctx, f=f, op=op, d=data: big_echo(ctx, op, d(4 * MIB), frag=f),
                            cid in fast))
        for i, c in enumerate(chops, 1):
            cid = f"9.{s3}.{i}"
            out.append(Case(cid, f"Send {name} message of 1 MiB in chops of {c} octets",
                            lambda ctx, c=c, op=op, d=data: big_echo(ctx, op, d(MIB), chop=c),
                            cid in fast))
        for i, n in enumerate(counts, 1):
            cid = f"9.{s4}.{i}"
            out.append(Case(cid, f"Send 1000 {name} messages of {n} octets, one round trip each",
                            lambda ctx, n=n, op=op, d=data: round_trips(ctx, op, d(n), 1000),
                            cid in fast))
    return out


def size_name(n):
    if n >= MIB:
        return f"{n // MIB} MiB"
    if n >= KIB:
        return f"{n // KIB} KiB"
    return f"{n} octets"


def big_echo(ctx, op, payload, frag=None, chop=None):
    t0 = time.monotonic()
    r = run_normal(ctx, lambda ws: ws.send_message(op, payload, frag=frag, chop=chop),
                   [("message", op, payload)], timeout=SECTION9_TIMEOUT)
    if r.verdict == OK:
        r.detail = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    return r


def round_trips(ctx, op, payload, count, ws=None, compress=False, frag=None):
    """count messages, each echo awaited before the next.  Returns a
    Result (its detail holds the time)."""
    own = ws is None
    if own:
        ws = ctx.connect()
    try:
        t0 = time.monotonic()
        deadline = t0 + ctx.t(SECTION9_TIMEOUT)
        for i in range(count):
            p = payload(i) if callable(payload) else payload
            ws.send_message(op, p, frag=frag, compress=compress)
            ev = ws.next_event(max(0.0, deadline - time.monotonic()))
            if ev != ("message", op, p):
                return Result(FAILED, f"message {i + 1} of {count}: got {fmt_obs(ev)}, expected "
                              f"{fmt_obs(('message', op, p))}")
        ms = (time.monotonic() - t0) * 1000
        cv, cd = finish_normal(ctx, ws, [])
        if cv != OK:
            return Result(cv, cd)
        return Result(OK, f"{ms:.0f} ms")
    finally:
        if own:
            ws.chan.close()


# ---- permessage-deflate ----

def _words(rng, n):
    vocab = ("the quick brown fox jumps over lazy dog gateway socket frame message deflate "
             "window context server client naïve Größe κόσμε data stream buffer").split()
    return " ".join(rng.choice(vocab) for _ in range(n))


def _corpus(kind, size=512 * KIB):
    """Deterministic sample data in the spirit of Autobahn's files."""
    rng = random.Random(kind)
    parts, n = [], 0
    while n < size:
        if kind == 1:  # JSON records
            s = ('{"id": %d, "name": "%s", "tags": ["%s", "%s"], "score": %.3f, "ok": %s},\n' % (
                rng.randrange(10**6), _words(rng, 2), _words(rng, 1), _words(rng, 1),
                rng.random() * 100, rng.choice(["true", "false"]))).encode()
        elif kind == 2:  # a bitmap: runs of a few byte values
            s = bytes([rng.choice((0, 0, 255, 17))]) * rng.randrange(1, 64)
        elif kind == 3:  # human-readable text
            s = (_words(rng, rng.randrange(5, 20)).capitalize() + ". ").encode()
        elif kind == 4:  # HTML
            s = ('<div class="row"><a href="/p/%d">%s</a><p>%s</p></div>\n' % (
                rng.randrange(10**4), _words(rng, 2), _words(rng, 8))).encode()
        else:  # a PDF: compressed (random) streams between text objects
            s = (b"%d 0 obj << /Length 256 >> stream\n" % rng.randrange(999) +
                 rng.randbytes(256) + b"\nendstream endobj\n")
        parts.append(s)
        n += len(s)
    return b"".join(parts)[:size]


_CORPORA = {}
KINDS = {1: ("JSON data", OP_TEXT), 2: ("bitmap", OP_BINARY), 3: ("human-readable text", OP_TEXT),
         4: ("HTML", OP_TEXT), 5: ("PDF-like binary", OP_BINARY)}


def sample(kind, size, i):
    if kind not in _CORPORA:
        _CORPORA[kind] = _corpus(kind)
    c = _CORPORA[kind]
    off = (i * 7919) % (len(c) - size + 1)
    p = c[off:off + size]
    if KINDS[kind][1] == OP_TEXT:
        # A slice may cut a code point; trim to whole ones, pad to size.
        p = p.decode("utf-8", "ignore").encode()
        p += b"." * (size - len(p))
    return p


SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072]
FRAGGED = [(8192, 256), (16384, 256), (32768, 256), (65536, 256), (131072, 256), (131072, 1024),
           (131072, 4096), (131072, 32768)]


def msg_count(size):
    return min(1000, max(10, 256 * KIB // size))


def offer_text(offers):
    return ", ".join("; ".join(["permessage-deflate"] + [k if v is None else f"{k}={v}"
                                                         for k, v in o]) for o in offers)


def deflate_case(ctx, offers, kind, size, frag):
    ws = ctx.connect(offer_text(offers))
    try:
        params, problem = check_deflate_response(offers, ws.chan.extensions)
        if problem:
            return Result(FAILED, problem)
        if params is None:
            return Result(UNIMPLEMENTED, "server declined the permessage-deflate offer")
        ws.deflate = DeflateParams(params)
        op = KINDS[kind][1]
        n = msg_count(size)
        r = round_trips(ctx, op, lambda i: sample(kind, size, i), n, ws=ws, compress=True,
                        frag=frag)
        if r.verdict == OK:
            r.detail = f"{n} messages, {r.detail}; accepted: {ws.chan.extensions}"
        return r
    finally:
        ws.chan.close()


def _deflate_cases(sec, sub, title, offers, kind, fast_ids):
    out = []
    shapes = [(s, None) for s in SIZES] + FRAGGED
    for i, (size, frag) in enumerate(shapes, 1):
        cid = f"{sec}.{sub}.{i}"
        how = f", fragments of {frag} octets" if frag else ""
        out.append(Case(cid, f"{title}: {msg_count(size)} compressed messages of {size} "
                        f"octets{how}", lambda ctx, s=size, f=frag: deflate_case(
                            ctx, offers, kind, s, f), i in fast_ids))
    return out


def section12():
    out = []
    for kind, (name, op) in KINDS.items():
        out += _deflate_cases(12, kind, f"{name}, default offer", [[]], kind, (1, 5, 11))
    return out


NCT = ("server_no_context_takeover", None)
CNCT = ("client_no_context_takeover", None)


def smwb(n):
    return ("server_max_window_bits", str(n))


def cmwb(n=None):
    return ("client_max_window_bits", None if n is None else str(n))


# Autobahn 13.1-13.7 use window bits 8; zlib cannot produce a raw deflate
# stream with an 8-bit window, so 9 stands in for 8.  13.8-13.12 add the
# client-side parameters and mixed window sizes.
SECTION13 = [
    ("permessage-deflate", [[]]),
    ("server_no_context_takeover", [[NCT]]),
    ("server_max_window_bits=9", [[smwb(9)]]),
    ("server_max_window_bits=15", [[smwb(15)]]),
    ("server_no_context_takeover; server_max_window_bits=9", [[NCT, smwb(9)]]),
    ("server_no_context_takeover; server_max_window_bits=15", [[NCT, smwb(15)]]),
    ("3 offers: (snct, smwb=9), (snct), ()", [[NCT, smwb(9)], [NCT], []]),
    ("client_no_context_takeover", [[CNCT]]),
    ("client_max_window_bits=9", [[cmwb(9)]]),
    ("client_max_window_bits (bare)", [[cmwb()]]),
    ("all four: cnct, snct, cmwb=12, smwb=12", [[CNCT, NCT, cmwb(12), smwb(12)]]),
    ("client_max_window_bits=13; server_max_window_bits=11", [[cmwb(13), smwb(11)]]),
]


def section13():
    out = []
    for sub, (title, offers) in enumerate(SECTION13, 1):
        out += _deflate_cases(13, sub, title, offers, 3, (1, 6))
    return out


def cases():
    return section9() + section12() + section13()

#!/usr/bin/python3
"""Abuse (issue 5, item 5) over HTTP/1.1: slowloris on the handshake and
on frames, idle connections up to max_connections, a deflate bomb,
oversized and smuggling request heads, garbage, frame floods and a
huge frame header.  During each attack a concurrent echo probe (its own
process, a round trip every 50 ms plus a fresh connection every second)
must never fail nor see a round trip of 500 ms or more, and the
daemon's RSS must stay bounded."""
import os
import select
import socket
import time
import unittest
import zlib

import harness
from harness import RawWs, SLOW

# Under ASan the allocator's quarantine (256 MiB by default) keeps freed
# memory resident, which would make any RSS bound meaningless for floods
# that allocate and free per frame; a small quarantine keeps the RSS
# measure about live memory while use-after-free is still caught.
if "asan" in harness.WSGATE:
    os.environ["ASAN_OPTIONS"] = ":".join(
        x for x in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=16") if x)

CONF = """
[server]
workers = 2
handshake_timeout = 2s
max_connections = 1000
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
[route small]
path = /small
backend = echo
max_message_size = 1M
permessage_deflate = on
[route trickle]
path = /trickle
backend = echo
idle_timeout = 2s
"""

CONF_CAP = """
[server]
workers = 2
max_connections = 101
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
"""

OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def close_code_of(tc, ws, timeout=2.0, skip_data=False):
    """Read up to the server's close frame within timeout (scaled); data
    frames before it are an error unless skip_data.  Returns (code,
    reason, seconds waited)."""
    t0 = time.monotonic()
    ws.sock.settimeout(timeout * SLOW)
    while True:
        fin, op, payload = ws.recv_frame()
        if not (skip_data and op in (OP_TEXT, OP_BIN, 0x0)):
            break
    tc.assertEqual(op, OP_CLOSE, f"expected a close frame, got op={op} {payload[:60]!r}")
    code, reason = harness.close_payload(payload)
    return code, reason, time.monotonic() - t0


def finish_close(tc, ws, code):
    """Answer the server's close and see TCP end with a FIN."""
    try:
        ws.send(OP_CLOSE, code.to_bytes(2, "big"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    rest = harness.read_until_eof(ws.sock)
    tc.assertEqual(rest, b"", "bytes after the close frame")


def pop_frame(buf):
    """Take one whole server frame (fin, opcode, payload) off the front
    of bytearray buf, or None when it does not hold one yet."""
    if len(buf) < 2:
        return None
    n, off = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, off = int.from_bytes(buf[2:10], "big"), 10
    if len(buf) < off + n:
        return None
    f = (bool(buf[0] & 0x80), buf[0] & 0x0F, bytes(buf[off:off + n]))
    del buf[:off + n]
    return f


class AbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(CONF)
        cls.d.start()
        ws = RawWs(cls.d.port, "/echo")  # warm-up: lazily opened descriptors
        ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
        ws.recv_frame()
        ws.close()
        time.sleep(0.5)
        cls.base_fds = cls.d.fd_count()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def setUp(self):
        time.sleep(0.2)
        self.base = max(self.base_fds, self.d.fd_count())

    def tearDown(self):
        harness.settle_fds(self.d, self.base)

    # ---- slowloris ----

    def test_slowloris_handshake(self):
        """50 connections trickle a request head at a byte per second: all
        are cut at the 2s handshake_timeout (408), the probe is fine."""
        req = harness.upgrade_request("/echo")
        socks, born = [], {}
        sent, got, cut = {}, {}, {}
        with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
            t0 = time.monotonic()
            for _ in range(50):
                s = socket.create_connection(("127.0.0.1", self.d.port))
                born[s] = time.monotonic()  # the timeout runs from the accept
                s.setblocking(False)
                socks.append(s)
                sent[s], got[s] = 0, b""
            next_byte = t0
            while len(cut) < len(socks) and time.monotonic() - t0 < 8 * SLOW:
                now = time.monotonic()
                if now >= next_byte:
                    next_byte += 1.0
                    for s in socks:
                        if s in cut:
                            continue
                        try:
                            s.send(req[sent[s]:sent[s] + 1])
                            sent[s] += 1
                        except (BrokenPipeError, ConnectionResetError):
                            cut[s] = time.monotonic() - born[s]
                live = [s for s in socks if s not in cut]
                r, _, _ = select.select(live, [], [], 0.05)
                for s in r:
                    try:
                        b = s.recv(4096)
                    except ConnectionResetError:
                        b = b""
                    if b:
                        got[s] += b
                    else:
                        cut[s] = time.monotonic() - born[s]
            probe.check(self)
            rss.check(self, 16 * SLOW, "the handshake slowloris")
        for s in socks:
            s.close()
        times = sorted(cut.values())
        print(f"  slowloris: {len(cut)}/50 cut after {times[0]:.2f}..{times[-1]:.2f}s"
              if times else "  slowloris: none cut", flush=True)
        self.assertEqual(len(cut), 50, "trickling connections outlived the handshake timeout")
        self.assertGreaterEqual(times[0], 1.8, "cut before the 2s handshake timeout")
        self.assertLess(times[-1], 2.0 + 1.5 * SLOW, "cut long after the handshake timeout")
        for s in socks:
            self.assertLess(sent[s], len(req))
            self.assertEqual(harness.status_of(got[s]), 408, got[s][:100])

    def test_slowloris_frames(self):
        """After the upgrade, 20 sessions each trickle one 10-byte frame at
        a byte per second on a route with idle_timeout 2s.  Every byte
        counts as activity (libws stamps the input time on any bytes fed,
        not on whole frames), so each session lives until its frame is
        complete (~9s), gets its echo, and is then closed 1001 about 2s
        after its last byte.  The probe is fine meanwhile."""
        frames = [RawWs.frame(OP_TEXT, f"t{i:03d}".encode()) for i in range(20)]
        with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
            # Opened only now: the idle timer runs from the upgrade.
            sessions = [RawWs(self.d.port, "/trickle") for _ in range(20)]
            t0 = time.monotonic()
            for k in range(10):
                for ws, f in zip(sessions, frames):
                    ws.sock.sendall(f[k:k + 1])
                if k < 9:
                    time.sleep(max(0.0, t0 + k + 1 - time.monotonic()))
            last = time.monotonic()
            for i, ws in enumerate(sessions):
                # The echo streams fragments as payload bytes arrive.
                ws.sock.settimeout(2 * SLOW)
                msg, first = b"", True
                while True:
                    fin, op, payload = ws.recv_frame()
                    self.assertEqual(op, OP_TEXT if first else 0x0)
                    first = False
                    msg += payload
                    if fin:
                        break
                self.assertEqual(msg, f"t{i:03d}".encode(), "a trickled frame was not echoed")
            for ws in sessions:
                code, reason, _ = close_code_of(self, ws, 3.0)
                self.assertEqual((code, reason), (1001, b"idle"))
            took = time.monotonic() - last
            print(f"\n  frame slowloris: sessions lived {last - t0:.1f}s, "
                  f"closed 1001 {took:.2f}s after the last byte", flush=True)
            self.assertGreaterEqual(took, 1.8)
            self.assertLess(took, 2.0 + 1.5 * SLOW)
            for ws in sessions:
                finish_close(self, ws, 1001)
                ws.close()
            probe.check(self)
            rss.check(self, 16 * SLOW, "the frame slowloris")

    # ---- connection limit ----

    def test_idle_connections_up_to_max_then_503(self):
        """max_connections 101: the probe plus 100 idle sessions fill it;
        the next connections get 503 and are closed, the probe keeps
        working; one idle session leaving makes room again."""
        with harness.Daemon(CONF_CAP) as d:
            time.sleep(0.3)  # the readiness check's connection is released
            with harness.EchoProbe(d.port, handshakes=False) as probe, \
                    harness.RssMonitor(d) as rss:
                idle = [RawWs(d.port, "/echo") for _ in range(100)]
                for ws in idle:
                    self.assertEqual(ws.status, 101, ws.response)
                for _ in range(5):
                    resp = harness.request_until_eof(d.port, harness.upgrade_request("/echo"))
                    self.assertEqual(harness.status_of(resp), 503, resp[:200])
                time.sleep(1.0)  # let the probe run at the limit
                # Room again once one leaves.
                idle[0].send(OP_CLOSE, (1000).to_bytes(2, "big"))
                self.assertEqual(idle[0].recv_frame()[1], OP_CLOSE)
                harness.read_until_eof(idle[0].sock)
                idle[0].close()

                def admitted():
                    ws = RawWs(d.port, "/echo")
                    ok = ws.status == 101
                    if ok:
                        idle[0] = ws
                    else:
                        harness.read_until_eof(ws.sock)
                        ws.close()
                    return ok

                harness.wait_for(admitted, 5, "a connection admitted after one left", 0.1)
                probe.check(self)
                rss.check(self, 16 * SLOW, "100 idle connections")
                for ws in idle:
                    ws.close()
            self.assertEqual(d.stop(), 0, d.log())

    # ---- deflate bomb ----

    def _bomb(self, fragments):
        ws = RawWs(self.d.port, "/small", extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
        try:
            self.assertEqual(ws.status, 101, ws.response)
            ext = harness.header_of(ws.response, "Sec-WebSocket-Extensions") or ""
            self.assertTrue(ext.startswith("permessage-deflate"), ws.response)
            z = zlib.compressobj(9, zlib.DEFLATED, -15)
            zero = bytes(1 << 20)
            comp = b"".join(z.compress(zero) for _ in range(100)) + z.flush(zlib.Z_SYNC_FLUSH)
            self.assertEqual(comp[-4:], b"\x00\x00\xff\xff")
            comp = comp[:-4]
            with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
                step = (len(comp) + fragments - 1) // fragments
                parts = [comp[i:i + step] for i in range(0, len(comp), step)]
                t0 = time.monotonic()
                try:
                    for i, p in enumerate(parts):
                        op = OP_BIN if i == 0 else 0x0
                        f = bytearray(RawWs.frame(op, p, fin=i == len(parts) - 1))
                        if i == 0:
                            f[0] |= 0x40  # RSV1: compressed
                        ws.sock.sendall(f)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon closed first: fine, the close frame is read below
                # The echo streams what it inflated, as fragments, until
                # the limit: skip those.
                code, reason, _ = close_code_of(self, ws, 5.0, skip_data=True)
                took = time.monotonic() - t0
                print(f"\n  deflate bomb ({len(comp)} bytes -> 100 MiB, {len(parts)} frames): "
                      f"close {code} {reason!r} after {took:.2f}s", flush=True)
                self.assertEqual(code, 1009)
                self.assertLess(took, 2.0 * SLOW)
                probe.check(self)
                rss.check(self, 16 * SLOW, "the deflate bomb")
            try:
                finish_close(self, ws, 1009)
            except AssertionError:
                raise
            except OSError:
                pass  # our close may meet a reset: the daemon had unread bomb bytes
        finally:
            ws.close()

    def test_deflate_bomb_one_frame(self):
        """100 MiB of zeros deflated (~100 KiB) in one frame against
        max_message_size 1M: close 1009 at once, RSS bounded."""
        self._bomb(1)

    def test_deflate_bomb_fragmented(self):
        """The same bomb in 50 fragments (continuation frames)."""
        self._bomb(50)

    # ---- request heads ----

    def _refused(self, req, statuses=(400,), shut_wr=False):
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=5 * SLOW) as s:
            try:
                s.sendall(req)
                if shut_wr:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered and closed before all was sent: read the answer
            resp = harness.read_until_eof(s)
        self.assertIn(harness.status_of(resp), statuses, f"{req[:80]!r} -> {resp[:200]!r}")
        self.assertEqual(resp.count(b"HTTP/1.1 "), 1, f"more than one answer: {resp!r}")
        self.assertNotIn(b"Sec-WebSocket-Accept", resp)
        return resp

    def test_oversized_heads(self):
        """A 64 KiB head and 10,000 tiny header fields: 431 or 400, closed."""
        with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
            big = harness.upgrade_request(extra="X-Big: " + "a" * (64 << 10) + "\r\n")
            self._refused(big, (431, 400))
            many = harness.upgrade_request(extra="".join(f"a{i}: b\r\n" for i in range(10000)))
            self._refused(many, (431, 400))
            # Many heads at once, concurrently with the probe.
            socks = []
            for _ in range(30):
                s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5 * SLOW)
                try:
                    s.sendall(big)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                socks.append(s)
            for s in socks:
                resp = harness.read_until_eof(s)
                self.assertIn(harness.status_of(resp), (431, 400), resp[:200])
                s.close()
            probe.check(self)
            rss.check(self, 16 * SLOW, "oversized heads")

    def test_garbage_before_request_line(self):
        """Binary garbage, a TLS ClientHello on the cleartext port, and
        junk before a valid request line: 400 and closed."""
        with harness.EchoProbe(self.d.port) as probe:
            self._refused(b"\x00\x01\x02\xff\xfe garbage\r\n" + harness.upgrade_request())
            self._refused(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64)
                          + b"\r\n\r\n")
            self._refused(b"xyz " + harness.upgrade_request())
            self._refused(os.urandom(2000).replace(b"\r\n", b"..") + b"\r\n\r\n")
            probe.check(self)

    def test_smuggling_attempts(self):
        """Duplicate or conflicting fields in the upgrade: each 400 and the
        connection closed, with exactly one answer (no second request
        hidden in a body is served)."""
        base = ("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
        key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        inner = harness.upgrade_request().decode()
        cases = {
            "two different keys":
                base + key + "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n",
            "the same key twice": base + key + key + "\r\n",
            "two Host fields": base + key + "Host: evil.example\r\n\r\n",
            "Content-Length and Transfer-Encoding":
                base + key + f"Content-Length: {len(inner)}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" + inner,
            "Transfer-Encoding only":
                base + key + "Transfer-Encoding: chunked\r\n\r\n"
                f"{len(inner):x}\r\n{inner}\r\n0\r\n\r\n",
            "a body with Content-Length": base + key + f"Content-Length: {len(inner)}\r\n\r\n"
                                          + inner,
            "two Content-Length fields":
                base + key + "Content-Length: 0\r\nContent-Length: 40\r\n\r\n" + inner,
            "space before the colon": base + key + "Host : evil.example\r\n\r\n",
            "space before the colon (key)":
                "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key : dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            "obs-fold": base + key + "X-Folded: a\r\n b\r\n\r\n",
            "obs-fold of Upgrade":
                "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade:\r\n websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" + key + "\r\n",
            "NUL in a value": base + key + "X-A: a\x00b\r\n\r\n",
            "bare CR in a value": base + key + "X-A: a\rb\r\n\r\n",
        }
        with harness.EchoProbe(self.d.port) as probe:
            for name, req in cases.items():
                with self.subTest(name):
                    self._refused(req.encode("latin-1"))
                    # The same with the client's FIN right behind the request.
                    self._refused(req.encode("latin-1"), shut_wr=True)
            probe.check(self)

    # ---- frame floods ----

    def test_ping_flood_without_reading(self):
        """100k tiny pings from a client that does not read: the daemon
        answers with pongs but keeps at most the newest one queued, so
        its RSS stays bounded; once the client reads, the last pong
        answers the last ping, and the session closes cleanly."""
        ws = RawWs(self.d.port, "/echo", rcvbuf=4096)
        n = 100000
        pad = b"p" * 121  # full 125-byte pings: 12.5 MiB of pongs if all were kept
        data = b"".join(RawWs.frame(OP_PING, i.to_bytes(4, "big") + pad) for i in range(n))
        flen = len(data) // n
        ws.sock.setblocking(False)
        off = 0
        stalled = None
        pongs = []
        rx = bytearray()
        with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
            t0 = time.monotonic()
            last_progress = t0
            while off < len(data):
                _, w, _ = select.select([], [ws.sock], [], 0.2)
                if w:
                    try:
                        k = ws.sock.send(data[off:off + 65536])
                        off += k
                        last_progress = time.monotonic()
                    except BlockingIOError:
                        pass
                if time.monotonic() - last_progress > 2.0:
                    stalled = off  # the daemon stopped reading: also acceptable
                    break
            took = time.monotonic() - t0
            print(f"\n  ping flood: {off // flen} of {n} pings sent in {took:.2f}s without "
                  "reading" + (" (daemon stopped reading)" if stalled is not None else ""),
                  flush=True)
            time.sleep(1.0)  # the daemon works through what it has read
            rss.check(self, 16 * SLOW, "the ping flood")
            # Now read (and send the rest if the daemon had stopped reading).
            ws.sock.setblocking(True)
            ws.sock.settimeout(10 * SLOW)
            if off < len(data):
                ws.sock.setblocking(False)
                while off < len(data):
                    r, w, _ = select.select([ws.sock], [ws.sock], [], 1.0)
                    if w:
                        try:
                            off += ws.sock.send(data[off:off + 65536])
                        except BlockingIOError:
                            pass
                    if r:
                        rx += ws.sock.recv(1 << 20)
                ws.sock.settimeout(10 * SLOW)
            ws.buf = rx
            while True:
                fin, op, payload = ws.recv_frame()
                self.assertEqual(op, OP_PONG)
                self.assertEqual(payload[4:], pad)
                v = int.from_bytes(payload[:4], "big")
                self.assertTrue(not pongs or v > pongs[-1], "pongs out of order")
                pongs.append(v)
                if v == n - 1:
                    break
            print(f"  {len(pongs)} pongs for {n} pings", flush=True)
            ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
            fin, op, payload = ws.recv_frame()
            self.assertEqual((op, harness.close_payload(payload)[0]), (OP_CLOSE, 1000))
            self.assertEqual(harness.read_until_eof(ws.sock), b"")
            ws.close()
            probe.check(self)

    def test_tiny_message_flood_without_reading(self):
        """100k 64-byte text messages from a client that does not read:
        the echo's replies back up, the daemon stops reading at its
        high-water mark instead of queueing without bound."""
        ws = RawWs(self.d.port, "/echo", rcvbuf=4096)
        n = 100000
        msg = b"m" * 64  # 6.6 MB of echoes: past every buffer on the way
        data = b"".join(RawWs.frame(OP_TEXT, msg) for _ in range(n))
        flen = len(data) // n
        ws.sock.setblocking(False)
        off = 0
        with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
            last_progress = time.monotonic()
            while off < len(data) and time.monotonic() - last_progress < 2.0:
                _, w, _ = select.select([], [ws.sock], [], 0.2)
                if w:
                    try:
                        off += ws.sock.send(data[off:off + 65536])
                        last_progress = time.monotonic()
                    except BlockingIOError:
                        pass
            print(f"\n  message flood: {off // flen} of {n} messages sent without reading",
                  flush=True)
            time.sleep(1.0)
            rss.check(self, 32 * SLOW, "the message flood")
            # Read everything back: every message that was sent is echoed.
            got, part = 0, b""
            ws.sock.settimeout(10 * SLOW)
            while off < len(data) or got < n:
                r, w, _ = select.select([ws.sock], [ws.sock] if off < len(data) else [], [], 5)
                self.assertTrue(r or w, f"stuck after {got} echoes")
                if w:
                    try:
                        off += ws.sock.send(data[off:off + 65536])
                    except BlockingIOError:
                        pass
                if r:
                    ws.buf += ws.sock.recv(1 << 20)
                    # The echo keeps message boundaries but may fragment
                    # a message while the client is not reading.
                    while (f := pop_frame(ws.buf)) is not None:
                        fin, op, payload = f
                        self.assertEqual(op, 0x0 if part else OP_TEXT)
                        part += payload
                        if fin:
                            self.assertEqual(part, msg)
                            part = b""
                            got += 1
            ws.sock.setblocking(True)
            ws.sock.settimeout(10 * SLOW)
            ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
            fin, op, payload = ws.recv_frame()
            self.assertEqual(op, OP_CLOSE)
            self.assertEqual(harness.read_until_eof(ws.sock), b"")
            ws.close()
            probe.check(self)

    # ---- frame header ----

    def test_huge_frame_header(self):
        """A header announcing 2^62 bytes: close 1009 at once, before any
        payload; a length with the top bit set: close 1002; a header over
        the route's 1M max_frame_size: 1009 at once as well."""
        cases = [("/echo", 1 << 62, 1009), ("/echo", 1 << 63, 1002),
                 ("/small", (1 << 20) + 1, 1009)]
        with harness.EchoProbe(self.d.port) as probe:
            for path, length, code in cases:
                ws = RawWs(self.d.port, path)
                try:
                    hdr = bytes([0x82, 0xFF]) + length.to_bytes(8, "big") + os.urandom(4)
                    ws.sock.sendall(hdr)
                    got, reason, took = close_code_of(self, ws, 1.0)
                    print(f"\n  length {length:#x} on {path}: close {got} {reason!r} "
                          f"after {took * 1000:.0f} ms", flush=True)
                    self.assertEqual(got, code)
                    finish_close(self, ws, code)
                finally:
                    ws.close()
            probe.check(self)


# ---- HTTP/2 (h2c, prior knowledge) ----

H2_CONF = """
[server]
workers = 1
[listen plain]
address = 127.0.0.1:{port}
http2 = on
[route echo]
path = /echo
backend = echo
"""

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_RST, H2_SETTINGS, H2_PING, H2_GOAWAY, H2_CONT = 0, 1, 3, 4, 6, 7, 9
H2_END_HEADERS = 0x4


def h2_frame(ftype, flags, sid, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big")
            + payload)


def h2_parse(buf):
    """Whole frames (type, flags, stream, payload) taken off bytearray buf."""
    out = []
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        out.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF,
                    bytes(buf[9:9 + n])))
        del buf[:9 + n]
    return out


class RawH2:
    """A cleartext HTTP/2 connection driven frame by frame, for floods
    the h2 library would refuse to send.  A reader thread (started with
    start_reading) records every frame and when the GOAWAY and the end
    of the stream came."""

    def __init__(self, port, rcvbuf=None):
        import hpack
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5 * SLOW)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(H2_PREFACE + h2_frame(H2_SETTINGS, 0, 0))
        self.buf = bytearray()
        while True:  # the server's SETTINGS, then ours acknowledged
            b = self.sock.recv(65536)
            if not b:
                raise AssertionError("h2c connection closed at once")
            self.buf += b
            frames = h2_parse(self.buf)
            if any(f[0] == H2_SETTINGS and not f[1] & 1 for f in frames):
                break
        self.sock.sendall(h2_frame(H2_SETTINGS, 1, 0))
        self.enc = hpack.Encoder()
        self.counts = {}
        self.goaway = None  # (error code, seconds after start_reading)
        self.end = None  # ("eof" | "reset" | "timeout", seconds)
        self.thread = None

    def connect_block(self, path="/echo"):
        return self.enc.encode([(":method", "CONNECT"), (":protocol", "websocket"),
                                (":scheme", "http"), (":path", path),
                                (":authority", f"127.0.0.1:{self.port}"),
                                ("sec-websocket-version", "13")])

    def start_reading(self, limit=30.0):
        import threading
        self.t0 = time.monotonic()

        def run():
            s = self.sock.dup()
            s.settimeout(limit * SLOW)
            try:
                while True:
                    b = s.recv(1 << 20)
                    if not b:
                        self.end = ("eof", time.monotonic() - self.t0)
                        break
                    self.buf += b
                    for f in h2_parse(self.buf):
                        self.counts[f[0]] = self.counts.get(f[0], 0) + 1
                        if f[0] == H2_GOAWAY and self.goaway is None:
                            self.goaway = (int.from_bytes(f[3][4:8], "big"),
                                           time.monotonic() - self.t0)
            except socket.timeout:
                self.end = ("timeout", time.monotonic() - self.t0)
            except OSError:
                self.end = ("reset", time.monotonic() - self.t0)
            finally:
                s.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def send_flood(self, data, stall=2.0):
        """Send data without blocking for good: returns (bytes sent, how it
        ended: "all", "stalled" when the daemon stopped reading for stall
        seconds, or "closed")."""
        self.sock.setblocking(False)
        off, last = 0, time.monotonic()
        try:
            while off < len(data):
                _, w, _ = select.select([], [self.sock], [], 0.2)
                if w:
                    try:
                        off += self.sock.send(data[off:off + 65536])
                        last = time.monotonic()
                    except BlockingIOError:
                        pass
                if time.monotonic() - last > stall:
                    return off, "stalled"
            return off, "all"
        except (BrokenPipeError, ConnectionResetError):
            return off, "closed"
        finally:
            self.sock.setblocking(True)

    def wait_end(self, timeout=10.0):
        self.thread.join(timeout * SLOW)
        return self.end

    def close(self):
        self.sock.close()


class H2AbuseTest(unittest.TestCase):
    """HTTP/2 floods against one worker, with the HTTP/1.1 echo probe on
    the same event loop."""

    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(H2_CONF)
        cls.d.start()
        c = RawH2(cls.d.port)  # warm-up
        c.close()
        ws = RawWs(cls.d.port, "/echo")
        ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
        ws.recv_frame()
        ws.close()
        time.sleep(0.5)
        cls.base_fds = cls.d.fd_count()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def setUp(self):
        time.sleep(0.2)
        self.base = max(self.base_fds, self.d.fd_count())

    def tearDown(self):
        harness.settle_fds(self.d, self.base)

    def _flood(self, name, data, c=None, rss_mib=16):
        """Send data on a connection that does not read until the flood
        is over; the daemon must end it with a GOAWAY and close it."""
        c = c or RawH2(self.d.port, rcvbuf=4096)
        try:
            with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
                sent, how = c.send_flood(data)
                time.sleep(0.5)
                rss.check(self, rss_mib * SLOW, name)
                c.start_reading()
                end = c.wait_end()
                print(f"\n  {name}: {sent} of {len(data)} bytes sent ({how}); got {c.counts}; "
                      f"GOAWAY {c.goaway}; end {end}", flush=True)
                self.assertIsNotNone(c.goaway, f"{name}: no GOAWAY")
                self.assertIsNotNone(end)
                self.assertIn(end[0], ("eof", "reset"), f"{name}: connection left open")
                probe.check(self)
        finally:
            c.close()
        return c, sent

    def test_h2_ping_flood(self):
        """1M PINGs (17 MB) from a client that does not read: the daemon
        does not queue a PING ACK per PING without bound (nghttp2's
        outbound-ACK limit ends the connection with GOAWAY)."""
        data = b"".join(h2_frame(H2_PING, 0, 0, i.to_bytes(8, "big")) for i in range(1000000))
        c, _ = self._flood("PING flood", data)
        self.assertLess(c.counts.get(H2_PING, 0), 1000000, "every PING was answered")

    def test_h2_settings_flood(self):
        """1M empty SETTINGS frames from a client that does not read."""
        data = h2_frame(H2_SETTINGS, 0, 0) * 1000000
        c, _ = self._flood("SETTINGS flood", data)
        self.assertLess(c.counts.get(H2_SETTINGS, 0), 1000000, "every SETTINGS was acked")

    def test_h2_rapid_reset(self):
        """20,000 extended CONNECTs each reset at once (CVE-2023-44487):
        the daemon does not keep making sessions at the attacker's pace;
        it ends the connection with GOAWAY and its descriptors and RSS
        come back."""
        c = RawH2(self.d.port, rcvbuf=4096)
        before = len(harness.access_lines(self.d))
        data = b"".join(h2_frame(H2_HEADERS, H2_END_HEADERS, sid, c.connect_block())
                        + h2_frame(H2_RST, 0, sid, (8).to_bytes(4, "big"))
                        for sid in range(1, 40000, 2))
        self._flood("rapid reset", data, c)
        time.sleep(0.5)
        sessions = len(harness.access_lines(self.d)) - before
        print(f"  rapid reset: {sessions} streams reached the access log", flush=True)
        self.assertLess(sessions, 5000, "the daemon served the rapid resets without limit")

    def test_h2_continuation_flood(self):
        """HEADERS without END_HEADERS followed by 10,000 CONTINUATION
        frames of 1 KB header fields each (CVE-2024-27316 style): the
        header list limit (16K) ends it with a GOAWAY quickly, not after
        the whole flood."""
        c = RawH2(self.d.port)
        data = h2_frame(H2_HEADERS, 0, 1, c.connect_block()) + b"".join(
            h2_frame(H2_CONT, 0, 1, c.enc.encode([(f"x-a{i}", "v" * 1000)]))
            for i in range(10000))
        c.start_reading()
        with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
            sent, how = c.send_flood(data)
            end = c.wait_end()
            print(f"\n  CONTINUATION flood: {sent} of {len(data)} bytes sent ({how}); "
                  f"got {c.counts}; GOAWAY {c.goaway}; end {end}", flush=True)
            self.assertIsNotNone(c.goaway, "no GOAWAY")
            self.assertLess(c.goaway[1], 2.0 * SLOW, "GOAWAY only long after the flood began")
            self.assertIn(end[0], ("eof", "reset"), "connection left open")
            rss.check(self, 16 * SLOW, "the CONTINUATION flood")
            probe.check(self)
        c.close()

    def test_h2_zero_window_stall(self):
        """A client that opens a WebSocket stream with a zero stream
        window (SETTINGS_INITIAL_WINDOW_SIZE 0) and keeps sending: the
        echo cannot answer, so the daemon stops returning stream credit
        and the client is held to about the stream window; RSS stays
        bounded; once the client opens its window every message comes
        back in order."""
        import h2.settings
        import h2ws

        c = h2ws.H2Client(self.d.port, window=0)
        try:
            st = c.connect_ws("/echo")
            self.assertEqual(st.status, 200, st.headers)
            msg = lambda i: i.to_bytes(4, "big") + b"z" * (16 * 1024 - 4)
            sent = 0
            with harness.EchoProbe(self.d.port) as probe, harness.RssMonitor(self.d) as rss:
                last = time.monotonic()
                while time.monotonic() - last < 2.0:
                    if len(st.out) < 65536:
                        c.ws_send(st, OP_BIN, msg(sent))
                        sent += 1
                        before = len(st.out)
                    c.pump(0.02)
                    if len(st.out) < before or len(st.out) < 65536:
                        last = time.monotonic()
                        before = len(st.out)
                accepted = sent * (16 * 1024 + 14) - len(st.out)
                print(f"\n  zero-window stall: client held after {accepted >> 10} KiB "
                      f"({sent} messages queued)", flush=True)
                self.assertLess(accepted, 4 << 20, "the daemon took data without bound")
                rss.check(self, 16 * SLOW, "the zero-window stall")
                # Open the window: every message comes back, in order.
                c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
                c.flush()
                for i in range(sent):
                    op, payload = c.ws_recv_message(st, 20)
                    self.assertEqual(op, OP_BIN)
                    self.assertEqual(payload, msg(i), f"message {i} of {sent}")
                c.ws_send(st, OP_CLOSE, (1000).to_bytes(2, "big"))
                op, payload = c.ws_recv_message(st, 10)
                self.assertEqual(op, OP_CLOSE)
                probe.check(self)
        finally:
            c.close()


if __name__ == "__main__":
    harness.main()

#!/usr/bin/python3
"""Fault injection (issue 5, item 4) over HTTP/1.1: a backend that
refuses, resets, never reads or stops mid-message, and a client that
resets mid-frame, half-closes or vanishes.  Each case asserts the close
code or HTTP status the client sees, that the other side is torn down,
that the daemon's descriptors return to their baseline, and that data
delivered before an orderly end is not lost."""
import os
import queue
import socket
import threading
import time
import unittest

import harness
from harness import RawWs, SLOW

CONF = """
[server]
workers = 2
handshake_timeout = 2s
[listen plain]
address = 127.0.0.1:{port}
http2 = off
[route echo]
path = /echo
backend = echo
[route refused]
path = /refused
backend = tcp:127.0.0.1:{dead_port}
[route be]
path = /be
backend = tcp:127.0.0.1:{be_port}
buffer_size = 64K
[route idle]
path = /idle
backend = tcp:127.0.0.1:{be_port}
idle_timeout = 2s
close_timeout = 1s
[route ping]
path = /ping
backend = tcp:127.0.0.1:{be_port}
ping_interval = 500ms
idle_timeout = 2s
"""

OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class Rec:
    """What one backend connection saw."""

    def __init__(self):
        self.accepted = threading.Event()
        self.done = threading.Event()  # the handler returned
        self.go = threading.Event()  # test -> handler: carry on
        self.data = bytearray()
        self.end = None  # "eof" or "reset" once reading stopped
        self.end_at = None


def read_to_end(c, rec, timeout=20.0):
    """Read c until EOF or reset, recording both; True if it ended."""
    c.settimeout(timeout * SLOW)
    try:
        while True:
            b = c.recv(65536)
            if not b:
                rec.end = "eof"
                break
            rec.data += b
    except ConnectionResetError:
        rec.end = "reset"
    except socket.timeout:
        return False
    rec.end_at = time.monotonic()
    return True


class Backend:
    """A TCP backend whose connections run handlers queued by the test
    (one per expected connection, in order)."""

    def __init__(self):
        self.handlers = queue.Queue()
        self.server = harness.TcpServer(self._handle)
        self.port = self.server.port

    def next(self, fn):
        rec = Rec()
        self.handlers.put((fn, rec))
        return rec

    def _handle(self, c):
        try:
            fn, rec = self.handlers.get(timeout=10)
        except queue.Empty:
            return  # an unexpected connection: closed
        rec.accepted.set()
        try:
            fn(c, rec)
        finally:
            rec.done.set()

    def close(self):
        self.server.close()


def echo_recorder(c, rec):
    """Echo everything back and record it, until EOF or reset."""
    c.settimeout(30 * SLOW)
    try:
        while True:
            b = c.recv(65536)
            if not b:
                rec.end = "eof"
                break
            rec.data += b
            c.sendall(b)
    except ConnectionResetError:
        rec.end = "reset"
    except (socket.timeout, BrokenPipeError):
        return
    rec.end_at = time.monotonic()


def recv_frame_or_end(ws):
    """The next frame, or "eof"/"reset" when the stream ended."""
    try:
        return ws.recv_frame()
    except EOFError:
        return "eof"
    except ConnectionResetError:
        return "reset"


def expect_close(tc, ws, code, skip_data=False):
    """Read up to the server's close frame (data frames are skipped only
    when skip_data) and return its (code, reason)."""
    while True:
        f = recv_frame_or_end(ws)
        tc.assertIsInstance(f, tuple, f"stream ended ({f}) before a close frame")
        fin, op, payload = f
        if op == OP_CLOSE:
            got = harness.close_payload(payload)
            tc.assertEqual(got[0], code, f"close frame {got}")
            return got
        tc.assertTrue(skip_data, f"unexpected frame op={op} {payload[:60]!r}")


def wait_eof(tc, ws, timeout=5.0):
    """After the close handshake the server ends TCP with a FIN."""
    ws.sock.settimeout(timeout * SLOW)
    try:
        rest = ws.sock.recv(65536)
    except socket.timeout:
        tc.fail("the server did not close TCP after the close handshake")
    tc.assertEqual(rest, b"", "bytes after the close frame")


def access_line(d, client_port, timeout=5.0):
    """The access-log line of the session from 127.0.0.1:client_port."""
    found = []

    def seen():
        found[:] = [l for l in harness.access_lines(d) if f" 127.0.0.1:{client_port} " in l]
        return bool(found)

    harness.wait_for(seen, timeout, f"the access-log line of client port {client_port}")
    return found[0]


def logged_close_code(d, client_port):
    return access_line(d, client_port).rsplit(" ", 1)[1]


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.be = Backend()
        cls.d = harness.Daemon(CONF, dead_port=harness.free_port(), be_port=cls.be.port)
        cls.d.start()
        # Warm up once through each kind of session so that descriptors
        # the daemon opens lazily are in the baseline.
        rec = cls.be.next(echo_recorder)
        ws = RawWs(cls.d.port, "/be")
        ws.send(OP_BIN, b"warm")
        assert ws.recv_frame()[2] == b"warm"
        ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
        ws.recv_frame()
        ws.close()
        ws = RawWs(cls.d.port, "/echo")
        ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
        ws.recv_frame()
        ws.close()
        rec.done.wait(5 * SLOW)
        time.sleep(0.5)
        cls.base_fds = cls.d.fd_count()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.be.close()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def setUp(self):
        # A leak found by an earlier test is reported there, not again by
        # every later one: the baseline is what is open now, at most the
        # count measured after the warm-up (plus what a leaking test left).
        time.sleep(0.2)
        self.base = max(self.base_fds, self.d.fd_count())

    def tearDown(self):
        harness.settle_fds(self.d, self.base)

    # ---- backend faults ----

    def test_backend_refuses_502(self):
        """Connection refused: 502 and a clean close, 20 times over."""
        for _ in range(20):
            resp = harness.request_until_eof(self.d.port, harness.upgrade_request("/refused"))
            self.assertEqual(harness.status_of(resp), 502, resp[:200])
        harness.settle_fds(self.d, self.base)

    def test_backend_resets_at_once(self):
        """The backend accepts and resets at once.  The daemon sends 101
        as soon as its connect completes, which the kernel reports on the
        SYN-ACK, before the backend even accepted: so the client gets 101
        and then close 1014 "backend failed".  Only when the reset has
        already arrived when the daemon looks at the connect result is it
        502.  Either outcome is asserted exactly."""

        def reset(c, rec):
            harness.rst_close(c)

        outcomes = {"101+1014": 0, "502": 0}
        for _ in range(10):
            rec = self.be.next(reset)
            ws = RawWs(self.d.port, "/be")
            try:
                if ws.status == 502:
                    rest = harness.read_until_eof(ws.sock)
                    outcomes["502"] += 1
                    continue
                self.assertEqual(ws.status, 101, ws.response)
                code, reason = expect_close(self, ws, 1014)
                self.assertEqual(reason, b"backend failed")
                ws.send(OP_CLOSE, (1014).to_bytes(2, "big"))
                wait_eof(self, ws)
                self.assertEqual(logged_close_code(self.d, ws.sock.getsockname()[1]), "1014")
                outcomes["101+1014"] += 1
            finally:
                ws.close()
            self.assertTrue(rec.done.wait(5 * SLOW))
        print(f"\n  reset at once: {outcomes}", flush=True)

    def test_backend_resets_after_data(self):
        """The backend takes the client's first message, then resets:
        close 1014 with everything before intact."""

        def take_then_reset(c, rec):
            c.settimeout(10 * SLOW)
            while len(rec.data) < 5:
                b = c.recv(100)
                if not b:
                    return
                rec.data += b
            harness.rst_close(c)

        rec = self.be.next(take_then_reset)
        ws = RawWs(self.d.port, "/be")
        try:
            self.assertEqual(ws.status, 101, ws.response)
            ws.send(OP_BIN, b"hello")
            code, reason = expect_close(self, ws, 1014)
            self.assertEqual(reason, b"backend failed")
            self.assertEqual(bytes(rec.data), b"hello")
            ws.send(OP_CLOSE, (1014).to_bytes(2, "big"))
            wait_eof(self, ws)
            self.assertEqual(logged_close_code(self.d, ws.sock.getsockname()[1]), "1014")
        finally:
            ws.close()

    def test_backend_never_reads(self):
        """A backend that accepts and never reads: the client's writes
        block after a bounded amount, the daemon's RSS stays bounded; when
        the client then goes away, the backend is torn down too (and the
        bytes it finally reads are exactly a prefix of what was sent)."""

        def stall(c, rec):
            rec.go.wait(60 * SLOW)
            read_to_end(c, rec)

        rec = self.be.next(stall)
        ws = RawWs(self.d.port, "/be", sndbuf=65536)
        sent = bytearray()
        chunk = bytes(range(256)) * 64  # 16 KiB
        try:
            self.assertEqual(ws.status, 101, ws.response)
            with harness.RssMonitor(self.d) as rss:
                ws.sock.settimeout(1.0 * SLOW)
                blocked = False
                for i in range(4096):  # up to 64 MiB
                    frame = RawWs.frame(OP_BIN, chunk)
                    try:
                        ws.sock.sendall(frame)
                    except socket.timeout:
                        blocked = True
                        break
                    sent += chunk
                print(f"\n  never-reading backend: client blocked after {len(sent) >> 10} KiB",
                      flush=True)
                self.assertTrue(blocked, "64 MiB went into a backend that never reads")
                rss.check(self, 24 * SLOW, "a blocked upload")
        finally:
            ws.close()  # the client goes away (mid-frame, its last send was partial)
        # The daemon notices the client is gone and closes the backend, even
        # though that backend still does not read.
        try:
            harness.settle_fds(self.d, self.base, timeout=10.0)
        finally:
            rec.go.set()
        self.assertTrue(rec.done.wait(20 * SLOW), "backend never saw its end")
        self.assertIn(rec.end, ("eof", "reset"))
        self.assertEqual(bytes(rec.data), bytes(sent[:len(rec.data)]), "backend data corrupted")

    def test_backend_closes_mid_message(self):
        """The backend sends half of an application message and then FIN:
        the client gets every byte sent before the FIN, then close 1000;
        the backend then sees its connection end."""
        half = os.urandom(300 * 1024 + 17)

        def send_half(c, rec):
            c.sendall(half)
            c.shutdown(socket.SHUT_WR)
            read_to_end(c, rec)

        rec = self.be.next(send_half)
        ws = RawWs(self.d.port, "/be")
        got = bytearray()
        try:
            self.assertEqual(ws.status, 101, ws.response)
            while True:
                f = recv_frame_or_end(ws)
                self.assertIsInstance(f, tuple, f"stream ended ({f}) before the close frame")
                fin, op, payload = f
                if op == OP_CLOSE:
                    self.assertEqual(harness.close_payload(payload)[0], 1000)
                    break
                self.assertEqual((fin, op), (True, OP_BIN))
                got += payload
            self.assertEqual(len(got), len(half))
            self.assertTrue(got == half, "backend bytes lost or changed")
            ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
            wait_eof(self, ws)
            self.assertTrue(rec.done.wait(5 * SLOW), "backend not torn down")
            self.assertEqual(rec.end, "eof")
            self.assertEqual(logged_close_code(self.d, ws.sock.getsockname()[1]), "1000")
        finally:
            ws.close()

    # ---- client faults ----

    def _client_reset(self, partial):
        rec = self.be.next(echo_recorder)
        ws = RawWs(self.d.port, "/be")
        try:
            self.assertEqual(ws.status, 101, ws.response)
            ws.send(OP_BIN, b"complete")
            self.assertEqual(ws.recv_frame(), (True, OP_BIN, b"complete"))
            ws.sock.sendall(partial)
            time.sleep(0.1)
            port = ws.sock.getsockname()[1]
        finally:
            harness.rst_close(ws.sock)
        self.assertTrue(rec.done.wait(5 * SLOW), "backend not torn down after a client reset")
        self.assertIn(rec.end, ("eof", "reset"))
        self.assertEqual(logged_close_code(self.d, port), "1006")
        return bytes(rec.data)

    def test_client_resets_mid_header(self):
        """Half a frame header (the extended length cut), then RST."""
        data = self._client_reset(b"\x82\xfe\x01")
        self.assertEqual(data, b"complete")

    def test_client_resets_mid_payload(self):
        """A frame of 1000 bytes cut after 500, then RST: the backend has
        at most the payload bytes that arrived, in order."""
        payload = os.urandom(1000)
        frame = RawWs.frame(OP_BIN, payload)  # 4-byte header, 4-byte mask key
        data = self._client_reset(frame[:8 + 500])
        self.assertTrue(data.startswith(b"complete"))
        rest = data[len(b"complete"):]
        self.assertLessEqual(len(rest), 500)
        self.assertEqual(rest, payload[:len(rest)], "partial payload corrupted")

    def test_client_half_close_after_close_frame(self):
        """close(1000) then SHUT_WR: the close is echoed, TCP is closed,
        the backend sees an orderly EOF and the log says 1000."""
        rec = self.be.next(echo_recorder)
        ws = RawWs(self.d.port, "/be")
        try:
            ws.send(OP_BIN, b"abc")
            self.assertEqual(ws.recv_frame(), (True, OP_BIN, b"abc"))
            ws.send(OP_CLOSE, (1000).to_bytes(2, "big") + b"bye")
            ws.sock.shutdown(socket.SHUT_WR)
            expect_close(self, ws, 1000)
            wait_eof(self, ws)
            self.assertTrue(rec.done.wait(5 * SLOW), "backend not torn down")
            self.assertEqual(rec.end, "eof")
            self.assertEqual(bytes(rec.data), b"abc")
            self.assertEqual(logged_close_code(self.d, ws.sock.getsockname()[1]), "1000")
        finally:
            ws.close()

    def test_client_half_close_after_close_frame_echo(self):
        """The same on the built-in echo route, 20 times: the echoed
        close must be flushed even though the client's FIN is already
        there when the daemon closes its side."""
        for i in range(20):
            ws = RawWs(self.d.port, "/echo")
            try:
                ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
                ws.sock.shutdown(socket.SHUT_WR)
                f = recv_frame_or_end(ws)
                self.assertIsInstance(f, tuple, f"round {i}: stream ended ({f}), no close echo")
                self.assertEqual(f[1], OP_CLOSE)
                self.assertEqual(harness.close_payload(f[2])[0], 1000)
                wait_eof(self, ws)
            finally:
                ws.close()

    def test_client_half_close_without_close_frame(self):
        """SHUT_WR with no close frame: the daemon ends the session as
        abnormal (1006 in the access log, no close frame can carry it),
        closes the client connection and resets the backend."""
        rec = self.be.next(echo_recorder)
        ws = RawWs(self.d.port, "/be")
        try:
            ws.send(OP_BIN, b"abc")
            self.assertEqual(ws.recv_frame(), (True, OP_BIN, b"abc"))
            ws.sock.shutdown(socket.SHUT_WR)
            f = recv_frame_or_end(ws)
            self.assertIn(f, ("eof", "reset"), f"expected the end of the stream, got {f}")
            self.assertTrue(rec.done.wait(5 * SLOW), "backend not torn down")
            self.assertIn(rec.end, ("eof", "reset"))
            self.assertEqual(bytes(rec.data), b"abc")
            self.assertEqual(logged_close_code(self.d, ws.sock.getsockname()[1]), "1006")
            print(f"\n  half-close without close frame: client saw {f}, backend saw {rec.end}",
                  flush=True)
        finally:
            ws.close()

    def test_client_vanishes(self):
        """The client stops reading and writing but keeps the socket open
        (no FIN): idle_timeout (2s) sends close 1001, close_timeout (1s)
        then ends TCP, and the backend is torn down."""
        rec = self.be.next(echo_recorder)
        ws = RawWs(self.d.port, "/idle")
        try:
            ws.send(OP_BIN, b"x")
            self.assertEqual(ws.recv_frame(), (True, OP_BIN, b"x"))
            t0 = time.monotonic()
            self.assertTrue(rec.done.wait(10 * SLOW), "backend not torn down")
            took = rec.end_at - t0
            print(f"\n  vanished client: backend torn down after {took:.2f}s ({rec.end})",
                  flush=True)
            self.assertGreaterEqual(took, 1.8, "torn down before the idle timeout")
            self.assertLess(took, 2.0 + 1.0 + 1.5 * SLOW, "torn down long after idle+close")
            # What the client finds when it looks again: the 1001 close
            # ("idle"), then the end of the stream.
            code, reason = expect_close(self, ws, 1001)
            self.assertEqual(reason, b"idle")
            self.assertIn(recv_frame_or_end(ws), ("eof", "reset"))
            self.assertEqual(logged_close_code(self.d, ws.sock.getsockname()[1]), "1001")
        finally:
            ws.close()

    def test_ping_interval_on_idle_session(self):
        """ping_interval 500ms on a session with no data: pings come
        about every 500ms; answering them keeps the session past its
        2s idle_timeout; once the pongs stop, close 1001 follows about
        idle_timeout after the last pong."""
        rec = self.be.next(echo_recorder)
        ws = RawWs(self.d.port, "/ping")
        try:
            self.assertEqual(ws.status, 101, ws.response)
            pings = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < 4.0:
                f = recv_frame_or_end(ws)
                self.assertIsInstance(f, tuple, f"stream ended: {f}")
                fin, op, payload = f
                self.assertEqual(op, OP_PING, f"unexpected frame {f}")
                pings.append(time.monotonic())
                ws.send(OP_PONG, payload)
            last_pong = time.monotonic()
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            print(f"\n  pings: {len(pings)} in 4s, gaps {min(gaps):.2f}..{max(gaps):.2f}s",
                  flush=True)
            self.assertGreaterEqual(len(pings), 6, "too few pings")
            self.assertGreater(min(gaps), 0.35)
            self.assertLess(max(gaps), 0.5 + 0.3 * SLOW)
            # Stop answering: pings keep coming, then 1001 at the idle timeout.
            while True:
                f = recv_frame_or_end(ws)
                self.assertIsInstance(f, tuple, f"stream ended before the close: {f}")
                if f[1] == OP_CLOSE:
                    break
                self.assertEqual(f[1], OP_PING)
            took = time.monotonic() - last_pong
            self.assertEqual(harness.close_payload(f[2])[0], 1001)
            self.assertGreaterEqual(took, 1.7)
            self.assertLess(took, 2.0 + 1.0 * SLOW)
            ws.send(OP_CLOSE, (1001).to_bytes(2, "big"))
            wait_eof(self, ws)
            self.assertTrue(rec.done.wait(5 * SLOW), "backend not torn down")
            self.assertEqual(rec.data, b"")
        finally:
            ws.close()


if __name__ == "__main__":
    harness.main()

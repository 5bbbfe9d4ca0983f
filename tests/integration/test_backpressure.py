#!/usr/bin/python3
"""Backpressure, measured: a client that stops reading while the backend
floods (and a backend that stops reading while the client floods) must
not make the daemon buffer without bound; the producer's writes block,
and once the consumer reads again every byte arrives intact."""
import hashlib
import os
import socket
import threading
import time
import unittest

import harness

# What the producer tries to push while the consumer is stalled.  If
# the daemon buffered it, its RSS would grow by about this much.
TOTAL = (64 if harness.SLOW > 1 else 200) << 20
# Allowed daemon RSS growth while stalled (the route's buffer_size is
# 256K per direction; kernel socket buffers are not in RSS).
RSS_BOUND_KB = 16 << 10
# ASan's shadow memory and quarantine add ~15 MiB even when the buffers
# are bounded (measured); still well under the 64 MiB a daemon that
# buffered the flood would add.  PUSH_BOUND below is unaffected.
if harness.SLOW > 1:
    RSS_BOUND_KB = 40 << 10
# The producer must be stopped well before TOTAL: what it managed to
# write is in kernel socket buffers plus the daemon's bounded buffer.
PUSH_BOUND = 16 << 20
CHUNK = 1 << 20

CONF = """
[server]
workers = 1
[listen plain]
address = 127.0.0.1:{port}
[route tcp]
path = /tcp
backend = {tcp}
buffer_size = 256K
"""


def chunks(total, chunk=CHUNK):
    base = os.urandom(chunk + 4096)
    off = n = 0
    while n < total:
        k = min(chunk, total - n)
        yield base[off:off + k]
        off = (off + 4093) % 4096
        n += k


class Progress:
    """A byte counter shared between a producer thread and the test."""

    def __init__(self):
        self.n = 0
        self.done = False
        self.error = None

    def wait_stall(self, quiet=1.5, limit=30.0):
        """Wait until the counter has not moved for `quiet` seconds (the
        producer is blocked) or it finished; bounded by limit."""
        deadline = time.monotonic() + limit * harness.SLOW
        last, since = self.n, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if self.done or self.error:
                return
            if self.n != last:
                last, since = self.n, time.monotonic()
            elif time.monotonic() - since >= quiet * harness.SLOW:
                return
        raise AssertionError("producer never stalled")


class BackpressureTest(unittest.TestCase):
    def setUp(self):
        self.go = threading.Event()
        self.mode = None
        self.progress = Progress()
        self.sha = None
        self.be_done = threading.Event()
        self.srv = harness.TcpServer(self.handle)
        self.d = harness.Daemon(CONF, tcp=self.srv.address)
        self.d.start()

    def tearDown(self):
        self.go.set()
        rc = self.d.stop()
        self.srv.close()
        self.assertEqual(rc, 0, self.d.log())

    def handle(self, c):
        c.settimeout(60 * harness.SLOW)
        h = hashlib.sha256()
        try:
            if self.mode == "flood":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
                self.go.wait(30)
                for b in chunks(TOTAL):
                    # sendall in slices so progress shows where it blocks
                    for k in range(0, len(b), 64 << 10):
                        c.sendall(b[k:k + (64 << 10)])
                        self.progress.n += min(64 << 10, len(b) - k)
                    h.update(b)
                self.progress.done = True
                self.sha = h.hexdigest()
                c.shutdown(socket.SHUT_WR)
                while c.recv(65536):
                    pass
            else:  # sink that starts reading only when told
                c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
                self.go.wait(60 * harness.SLOW)
                n = 0
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
                self.sha = (h.hexdigest(), n)
                c.shutdown(socket.SHUT_WR)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.progress.error = e
        finally:
            self.be_done.set()

    def rss_growth_while_stalled(self, base_kb):
        """Sample RSS a few times while everything is stalled."""
        peak = 0
        for _ in range(5):
            peak = max(peak, self.d.rss_kb() - base_kb)
            time.sleep(0.1)
        return peak

    def test_slow_client(self):
        self.mode = "flood"
        ws = harness.RawWs(self.d.port, "/tcp", rcvbuf=64 << 10, timeout=30)
        try:
            self.assertEqual(ws.status, 101, ws.response)
            time.sleep(0.2)
            base = self.d.rss_kb()
            self.go.set()  # the backend floods; the client reads nothing
            self.progress.wait_stall()
            self.assertIsNone(self.progress.error)
            self.assertFalse(self.progress.done,
                             "the backend wrote all %d bytes: nothing held it back" % TOTAL)
            pushed = self.progress.n
            grow = self.rss_growth_while_stalled(base)
            print(f"\n  slow client: backend blocked after {pushed >> 10} KiB, "
                  f"daemon RSS +{grow} KiB", flush=True)
            self.assertLess(pushed, PUSH_BOUND, "backend kept writing into the daemon")
            self.assertLess(grow, RSS_BOUND_KB, "daemon RSS grew past the bound")

            # Now read everything: binary messages, then close 1000.
            h, n, close = hashlib.sha256(), 0, None
            deadline = time.monotonic() + 120 * harness.SLOW
            while time.monotonic() < deadline:
                fin, op, p = ws.recv_frame()
                if op in (0, 2):
                    h.update(p)
                    n += len(p)
                elif op == 8:
                    close = harness.close_payload(p)[0]
                    ws.send(8, p[:2])
                    break
                else:
                    self.assertIn(op, (9, 10), f"unexpected opcode {op}")
            self.assertEqual(n, TOTAL)
            self.assertTrue(self.be_done.wait(10 * harness.SLOW))
            self.assertEqual(h.hexdigest(), self.sha, "bytes differ after the stall")
            self.assertEqual(close, 1000)
        finally:
            ws.close()

    def test_slow_backend(self):
        self.mode = "sink"
        ws = harness.RawWs(self.d.port, "/tcp", sndbuf=64 << 10, timeout=60)
        try:
            self.assertEqual(ws.status, 101, ws.response)
            time.sleep(0.2)
            base = self.d.rss_kb()
            sent = hashlib.sha256()
            frames_done = threading.Event()

            def producer():
                try:
                    for b in chunks(TOTAL):
                        sent.update(b)
                        f = ws.frame(2, b)
                        for k in range(0, len(f), 64 << 10):
                            ws.sock.sendall(f[k:k + (64 << 10)])
                            self.progress.n += min(64 << 10, len(f) - k)
                    ws.send(8, (1000).to_bytes(2, "big"))
                    self.progress.done = True
                except Exception as e:  # noqa: BLE001 - reported below
                    self.progress.error = e
                finally:
                    frames_done.set()

            t = threading.Thread(target=producer, daemon=True)
            t.start()
            self.progress.wait_stall()
            self.assertIsNone(self.progress.error)
            self.assertFalse(self.progress.done,
                             "the client wrote all %d bytes: nothing held it back" % TOTAL)
            pushed = self.progress.n
            grow = self.rss_growth_while_stalled(base)
            print(f"\n  slow backend: client blocked after {pushed >> 10} KiB, "
                  f"daemon RSS +{grow} KiB", flush=True)
            self.assertLess(pushed, PUSH_BOUND, "client kept writing into the daemon")
            self.assertLess(grow, RSS_BOUND_KB, "daemon RSS grew past the bound")

            self.go.set()  # the backend reads everything now
            self.assertTrue(frames_done.wait(120 * harness.SLOW), "client writes never finished")
            self.assertIsNone(self.progress.error)
            # The close half-closes the backend; it answers EOF and the
            # session closes with 1000.
            self.assertTrue(self.be_done.wait(30 * harness.SLOW))
            self.assertEqual(self.sha, (sent.hexdigest(), TOTAL), "backend got other bytes")
            # Empty pings may come first: while it cannot read a client
            # (paused behind the backend) the daemon probes it every
            # GW_TRANSPORT_PAUSE_PROBE_MS to learn whether it is still there.
            fin, op, p = ws.recv_frame()
            while op == 9 and p == b"":
                fin, op, p = ws.recv_frame()
            self.assertEqual(op, 8)
            self.assertEqual(harness.close_payload(p)[0], 1000)
        finally:
            ws.close()


if __name__ == "__main__":
    harness.main()

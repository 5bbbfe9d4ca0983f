#!/usr/bin/python3
"""Bridging to stream backends (TCP and Unix): 64 MiB of random bytes
each way with equal SHA-256 at both ends, and 200+ concurrent sessions."""
import asyncio
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import unittest

import harness
import websockets

# Under ASan the daemon is ~3x slower: move less data there.
TOTAL = (16 if harness.SLOW > 1 else 64) << 20
CHUNK = 1 << 20
SESSIONS = 220

CONF = """
[server]
workers = 2
max_connections = 1000
[listen plain]
address = 127.0.0.1:{port}
[route tcp]
path = /tcp
backend = {tcp}
[route unix]
path = /unix
backend = {unix}
"""


def random_stream(total, chunk=CHUNK):
    """Yield total random bytes in chunks (cheap: one random block
    rotated, so the stream is not periodic at chunk boundaries)."""
    base = os.urandom(chunk + 4096)
    off = 0
    n = 0
    while n < total:
        k = min(chunk, total - n)
        yield base[off:off + k]
        off = (off + 4093) % 4096
        n += k


class Backend:
    """One TCP or Unix backend whose per-connection behaviour is chosen by
    the test (mode), recording the SHA-256 of what it received and sent."""

    def __init__(self, unix_path=None):
        self.mode = "echo"
        self.results = []
        self.done = threading.Event()
        self.srv = harness.TcpServer(self.handle, unix_path=unix_path)
        self.address = self.srv.address

    def handle(self, c):
        c.settimeout(120 * harness.SLOW)
        rx, tx = hashlib.sha256(), hashlib.sha256()
        nrx = ntx = 0
        try:
            if self.mode == "echo":
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    rx.update(b)
                    nrx += len(b)
                    c.sendall(b)
                    tx.update(b)
                    ntx += len(b)
                c.shutdown(socket.SHUT_WR)
            elif self.mode == "flood":
                for b in random_stream(TOTAL):
                    c.sendall(b)
                    tx.update(b)
                    ntx += len(b)
                c.shutdown(socket.SHUT_WR)
                while c.recv(65536):  # wait for the gateway to close
                    pass
            elif self.mode == "sink":
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    rx.update(b)
                    nrx += len(b)
                c.shutdown(socket.SHUT_WR)
            elif self.mode == "many":
                # Echo, and greet first so that the client sees the
                # backend side open as well.
                c.sendall(b"hello\n")
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    c.sendall(b)
                c.shutdown(socket.SHUT_WR)
        finally:
            self.results.append((rx.hexdigest(), nrx, tx.hexdigest(), ntx))
            self.done.set()

    def close(self):
        self.srv.close()


class BridgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tcp = Backend()
        cls.tmp = tempfile.mkdtemp(prefix="wsgate-unixbe-")
        cls.unix = Backend(unix_path=os.path.join(cls.tmp, "be.sock"))
        cls.d = harness.Daemon(CONF, tcp=cls.tcp.address, unix=cls.unix.address)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.tcp.close()
        cls.unix.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def backend_result(self, be):
        self.assertTrue(be.done.wait(30 * harness.SLOW), "backend handler did not finish")
        self.assertEqual(len(be.results), 1, be.results)
        return be.results[0]

    def run_echo(self, be, path):
        be.mode, be.results = "echo", []
        be.done.clear()

        async def go():
            sent, got = hashlib.sha256(), hashlib.sha256()
            async with websockets.connect(self.d.url(path), max_size=None,
                                          compression=None) as ws:
                async def writer():
                    for b in random_stream(TOTAL, 256 << 10):
                        sent.update(b)
                        await ws.send(b)

                async def reader():
                    n = 0
                    while n < TOTAL:
                        m = await ws.recv()
                        self.assertIsInstance(m, bytes)
                        got.update(m)
                        n += len(m)
                    return n

                w = asyncio.ensure_future(writer())
                n = await reader()
                await w
                await ws.close()
            self.assertEqual(n, TOTAL)
            self.assertEqual(ws.close_code, 1000)
            return sent.hexdigest(), got.hexdigest()

        sent, got = harness.run_async(go(), 120)
        self.assertEqual(sent, got, "echoed bytes differ from the sent ones")
        rx, nrx, tx, ntx = self.backend_result(be)
        self.assertEqual((rx, nrx), (sent, TOTAL), "backend received other bytes")
        self.assertEqual((tx, ntx), (sent, TOTAL))

    def run_flood(self, be, path):
        be.mode, be.results = "flood", []
        be.done.clear()

        async def go():
            got = hashlib.sha256()
            n = 0
            async with websockets.connect(self.d.url(path), max_size=None,
                                          compression=None) as ws:
                try:
                    while True:
                        m = await ws.recv()
                        self.assertIsInstance(m, bytes)
                        got.update(m)
                        n += len(m)
                except websockets.ConnectionClosedOK:
                    pass
            # Backend EOF closes with 1000 after everything was delivered.
            self.assertEqual(ws.close_code, 1000)
            return got.hexdigest(), n

        got, n = harness.run_async(go(), 120)
        rx, nrx, tx, ntx = self.backend_result(be)
        self.assertEqual(ntx, TOTAL)
        self.assertEqual(n, TOTAL)
        self.assertEqual(got, tx, "client received other bytes than the backend sent")

    def run_sink(self, be, path):
        be.mode, be.results = "sink", []
        be.done.clear()

        async def go():
            sent = hashlib.sha256()
            async with websockets.connect(self.d.url(path), max_size=None,
                                          compression=None) as ws:
                for b in random_stream(TOTAL, 512 << 10):
                    sent.update(b)
                    await ws.send(b)
                await ws.close()
            self.assertEqual(ws.close_code, 1000)
            return sent.hexdigest()

        sent = harness.run_async(go(), 120)
        rx, nrx, tx, ntx = self.backend_result(be)
        self.assertEqual(nrx, TOTAL)
        self.assertEqual(rx, sent, "backend received other bytes than the client sent")

    def test_tcp_echo(self):
        self.run_echo(self.tcp, "/tcp")

    def test_tcp_flood_to_client(self):
        self.run_flood(self.tcp, "/tcp")

    def test_tcp_sink(self):
        self.run_sink(self.tcp, "/tcp")

    def test_unix_echo(self):
        self.run_echo(self.unix, "/unix")

    def test_unix_flood_to_client(self):
        self.run_flood(self.unix, "/unix")

    def test_unix_sink(self):
        self.run_sink(self.unix, "/unix")

    def test_concurrent_sessions(self):
        self.tcp.mode, self.tcp.results = "many", []

        async def one(i, opened, go_on):
            async with websockets.connect(self.d.url("/tcp"), compression=None,
                                          open_timeout=30 * harness.SLOW) as ws:
                buf = b""
                while len(buf) < 6:
                    buf += await ws.recv()
                self.assertEqual(buf, b"hello\n")
                opened.append(i)
                # Hold every session open until all are, so they really
                # are concurrent.
                await go_on.wait()
                payload = b"".join(b"%d:%d;" % (i, k) for k in range(200))
                for k in range(0, len(payload), 333):
                    await ws.send(payload[k:k + 333])
                got = b""
                while len(got) < len(payload):
                    got += await ws.recv()
                self.assertEqual(got, payload)
                await ws.close()
            self.assertEqual(ws.close_code, 1000)
            return i

        async def go():
            opened, go_on = [], asyncio.Event()
            tasks = [asyncio.ensure_future(one(i, opened, go_on)) for i in range(SESSIONS)]

            async def release():
                while len(opened) < SESSIONS:
                    if any(t.done() for t in tasks):
                        break
                    await asyncio.sleep(0.05)
                self.assertEqual(len(opened), SESSIONS, "not all sessions were open at once")
                go_on.set()

            r = asyncio.ensure_future(release())
            res = await asyncio.gather(*tasks, return_exceptions=True)
            await r
            errs = [x for x in res if isinstance(x, BaseException)]
            self.assertFalse(errs, f"{len(errs)} sessions failed, first: {errs[:1]!r}")
            self.assertEqual(sorted(res), list(range(SESSIONS)))

        harness.run_async(go(), 90)
        harness.wait_for(lambda: len(self.tcp.results) == SESSIONS, 10,
                         "every backend connection to end")


if __name__ == "__main__":
    harness.main()

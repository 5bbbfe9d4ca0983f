#!/usr/bin/python3
"""Request-head limits (slowloris cut at the handshake timeout, oversize
head rejected, header count) and per-route session limits."""
import socket
import time
import unittest

import harness
import websockets

CONF = """
[server]
workers = 2
handshake_timeout = 2s
max_request_size = 4K
max_headers = 20
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
[route small]
path = /small
backend = echo
max_message_size = 64K
[route idle]
path = /idle
backend = echo
idle_timeout = 1s
"""


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(CONF)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def test_slowloris_cut_at_handshake_timeout(self):
        req = harness.upgrade_request("/echo")
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
        got = b""
        closed_at = None
        t0 = time.monotonic()
        try:
            s.settimeout(0.2)
            i = 0
            while time.monotonic() - t0 < 8 * harness.SLOW:
                if i < len(req):
                    try:
                        s.send(req[i:i + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        closed_at = time.monotonic()
                        break
                    i += 1
                try:
                    b = s.recv(4096)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    closed_at = time.monotonic()
                    break
                if not b:
                    closed_at = time.monotonic()
                    break
                got += b
            self.assertIsNotNone(closed_at, "a trickled request head was never cut")
            took = closed_at - t0
            print(f"\n  slowloris: cut after {took:.2f}s, {i} bytes sent, answer {got[:40]!r}",
                  flush=True)
            self.assertLess(i, len(req), "the whole head got through")
            self.assertGreaterEqual(took, 1.5, "cut before the 2s handshake timeout")
            self.assertLess(took, 5.0 * harness.SLOW, "cut long after the 2s handshake timeout")
            if got:
                self.assertEqual(harness.status_of(got), 408, got)
        finally:
            s.close()

    def test_oversize_head_rejected(self):
        pad = "X-Pad: " + "a" * 6000 + "\r\n"
        resp = harness.request_until_eof(self.d.port, harness.upgrade_request(extra=pad))
        self.assertIn(harness.status_of(resp), (431, 400), resp[:300])
        # Many short lines past the size limit too.
        pad = "".join(f"X-{i}: {'b' * 100}\r\n" for i in range(15)) * 4
        resp = harness.request_until_eof(self.d.port, harness.upgrade_request(extra=pad))
        self.assertIn(harness.status_of(resp), (431, 400), resp[:300])

    def test_head_under_limit_accepted(self):
        pad = "X-Pad: " + "a" * 3000 + "\r\n"
        resp = harness.raw_request(self.d.port, harness.upgrade_request(extra=pad),
                                   read_timeout=0.5)
        self.assertEqual(harness.status_of(resp), 101, resp[:300])

    def test_too_many_headers(self):
        pad = "".join(f"X-{i}: v\r\n" for i in range(30))
        resp = harness.request_until_eof(self.d.port, harness.upgrade_request(extra=pad))
        self.assertIn(harness.status_of(resp), (431, 400), resp[:300])

    def test_max_message_size_1009(self):
        async def go():
            async with websockets.connect(self.d.url("/small"), max_size=None,
                                          compression=None) as ws:
                await ws.send(b"x" * (64 << 10))
                self.assertEqual(len(await ws.recv()), 64 << 10)
                await ws.send(b"x" * ((64 << 10) + 1))
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.recv()
            self.assertEqual(ws.close_code, 1009)

        harness.run_async(go(), 20)

    def test_idle_timeout_1001(self):
        async def go():
            async with websockets.connect(self.d.url("/idle"), compression=None,
                                          ping_interval=None) as ws:
                await ws.send("x")
                self.assertEqual(await ws.recv(), "x")
                t0 = time.monotonic()
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.recv()
                took = time.monotonic() - t0
            self.assertEqual(ws.close_code, 1001)
            self.assertGreaterEqual(took, 0.8)
            self.assertLess(took, 4.0 * harness.SLOW)

        harness.run_async(go(), 20)


if __name__ == "__main__":
    harness.main()

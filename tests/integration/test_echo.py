#!/usr/bin/python3
"""Echo route over ws:// and wss:// with Python websockets: text and
binary, small and 16 MiB, plus the access-log line of a session."""
import os
import unittest

import harness
import websockets

CONF = """
[server]
workers = 2
access_log = -
[listen plain]
address = 127.0.0.1:{port}
[listen tls]
address = 127.0.0.1:{tls_port}
tls_certificate = {cert}
tls_key = {key}
[route echo]
path = /echo
backend = echo
"""

BIG = 16 << 20


class EchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(CONF, tls=True)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def echo(self, tls):
        ssl = harness.insecure_ssl() if tls else None

        async def go():
            async with websockets.connect(self.d.url("/echo", tls), ssl=ssl, max_size=None,
                                          compression=None) as ws:
                msgs = ["hello", "", "héllo wörld ✓" * 10, b"\x00\x01\xff", b"",
                        os.urandom(70000)]
                for m in msgs:
                    await ws.send(m)
                    r = await ws.recv()
                    self.assertEqual(type(r), type(m))
                    self.assertEqual(r, m)
                # Several in flight keep their order and boundaries.
                for i in range(20):
                    await ws.send(f"msg {i}" if i % 2 else os.urandom(i * 100))
                for i in range(20):
                    r = await ws.recv()
                    if i % 2:
                        self.assertEqual(r, f"msg {i}")
                    else:
                        self.assertIsInstance(r, bytes)
                        self.assertEqual(len(r), i * 100)
                # A fragmented message comes back whole with the same type.
                await ws.send(["ab", "cd", "ef"])
                self.assertEqual(await ws.recv(), "abcdef")
                big_bin = os.urandom(BIG)
                await ws.send(big_bin)
                r = await ws.recv()
                self.assertIsInstance(r, bytes)
                self.assertEqual(len(r), BIG)
                self.assertTrue(r == big_bin, "16 MiB binary echo differs")
                big_text = ("0123456789abcdé✓" * (BIG // 20))[: BIG // 2]
                await ws.send(big_text)
                r = await ws.recv()
                self.assertIsInstance(r, str)
                self.assertTrue(r == big_text, "16 MiB text echo differs")
                await ws.close()
                self.assertEqual(ws.close_code, 1000)

        harness.run_async(go(), 60)

    def test_echo_ws(self):
        self.echo(False)

    def test_echo_wss(self):
        self.echo(True)

    def test_access_log_line(self):
        path = "/echo?x=1"

        async def go():
            async with websockets.connect(self.d.url(path), compression=None) as ws:
                await ws.send(b"12345")
                self.assertEqual(await ws.recv(), b"12345")
                await ws.close(1000)

        before = len(harness.access_lines(self.d))
        harness.run_async(go(), 10)
        harness.wait_for(lambda: len(harness.access_lines(self.d)) > before, 5,
                         "the access-log line")
        lines = [l for l in harness.access_lines(self.d)[before:] if '"/echo' in l]
        self.assertTrue(lines, self.d.log())
        f = lines[-1].split()
        # time client protocol "path" route status backend in out duration close
        self.assertEqual(len(f), 11, lines[-1])
        self.assertTrue(f[1].startswith("127.0.0.1:"), lines[-1])
        self.assertEqual(f[2], "HTTP/1.1", lines[-1])
        self.assertTrue(f[3].startswith('"/echo'), lines[-1])
        self.assertEqual(f[4], "echo", lines[-1])
        self.assertEqual(f[5], "101", lines[-1])
        self.assertEqual(f[6], "echo", lines[-1])
        self.assertGreaterEqual(int(f[7]), 5, lines[-1])
        self.assertGreaterEqual(int(f[8]), 5, lines[-1])
        self.assertTrue(f[9].endswith("ms"), lines[-1])
        self.assertEqual(f[10], "1000", lines[-1])


if __name__ == "__main__":
    harness.main()

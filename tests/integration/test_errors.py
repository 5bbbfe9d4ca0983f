#!/usr/bin/python3
"""Every HTTP error status of DESIGN §3 from a real request, each followed
by a clean close of the connection (the server's FIN, read to EOF)."""
import asyncio
import socket
import time
import unittest

import harness
import websockets

CONF = """
[server]
workers = 2
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
[route guarded]
path = /guarded
backend = echo
allowed_origins = https://good.example, http://127.0.0.1:8000
[route refused]
path = /refused
backend = tcp:127.0.0.1:{dead_port}
[route timeout]
path = /timeout
backend = tcp:127.0.0.1:{stuck_port}
connect_timeout = 500ms
"""

CONF_CAP = """
[server]
workers = 2
max_connections = 2
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
"""


def stuck_listener():
    """A listening socket on loopback that cannot complete a connect: its
    accept queue (backlog 0) is full of connections never accepted, so
    Linux drops further SYNs and a connect hangs."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(8):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
        time.sleep(0.05)
    # Check that a fresh connect really hangs.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        raise AssertionError("the stuck listener still completes connects")
    except socket.timeout:
        pass
    finally:
        probe.close()
    return ls, port, fillers


class ErrorStatusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stuck, stuck_port, cls.fillers = stuck_listener()
        cls.d = harness.Daemon(CONF, dead_port=harness.free_port(), stuck_port=stuck_port)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        for c in cls.fillers:
            c.close()
        cls.stuck.close()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def expect(self, req, status, timeout=5.0):
        resp = harness.request_until_eof(self.d.port, req, timeout)
        self.assertEqual(harness.status_of(resp), status, resp[:400])
        head, _, body = resp.partition(b"\r\n\r\n")
        # Body: one short plain-text line, framed by Content-Length.
        clen = harness.header_of(resp, "Content-Length")
        self.assertIsNotNone(clen, resp[:400])
        self.assertEqual(int(clen), len(body), resp[:400])
        self.assertTrue(0 < len(body) <= 200 and body.count(b"\n") <= 1, body)
        ctype = harness.header_of(resp, "Content-Type") or ""
        self.assertTrue(ctype.startswith("text/plain"), resp[:400])
        self.assertIsNone(harness.header_of(resp, "Sec-WebSocket-Accept"), resp[:400])
        return resp

    def test_good_request_101(self):
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=5) as s:
            s.sendall(harness.upgrade_request("/echo"))
            head = b""
            while b"\r\n\r\n" not in head:
                b = s.recv(4096)
                self.assertTrue(b)
                head += b
            self.assertEqual(harness.status_of(head), 101, head)
            # The RFC 6455 known answer.
            self.assertEqual(harness.header_of(head, "Sec-WebSocket-Accept"),
                             "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_400_bad_key(self):
        self.expect(harness.upgrade_request(key="c2hvcnQ="), 400)  # 5 bytes, not 16
        self.expect(harness.upgrade_request(key="not base64!!not base64!!"), 400)

    def test_400_missing_key(self):
        req = (b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.expect(req, 400)

    def test_400_malformed_head(self):
        self.expect(b"GARBAGE\r\n\r\n", 400)

    def test_426_wrong_version(self):
        for v in ("8", "12", "14"):
            resp = self.expect(harness.upgrade_request(version=v), 426)
            self.assertEqual(harness.header_of(resp, "Sec-WebSocket-Version"), "13", resp)

    def test_404_no_route(self):
        self.expect(harness.upgrade_request("/nowhere"), 404)
        self.expect(harness.upgrade_request("/echo/x"), 404)  # exact route only

    def test_403_origin(self):
        self.expect(harness.upgrade_request("/guarded", extra="Origin: https://evil.example\r\n"),
                    403)
        # Allowed origins pass; the route is otherwise the same.
        for origin in ("https://good.example", "http://127.0.0.1:8000"):
            resp = harness.raw_request(self.d.port, harness.upgrade_request(
                "/guarded", extra=f"Origin: {origin}\r\n"), read_timeout=1.0)
            self.assertEqual(harness.status_of(resp), 101, resp)

    def test_502_backend_refused(self):
        self.expect(harness.upgrade_request("/refused"), 502)

    def test_504_backend_connect_timeout(self):
        t0 = time.monotonic()
        self.expect(harness.upgrade_request("/timeout"), 504, timeout=10)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.45, "504 before the connect timeout")
        self.assertLess(took, 3.0 * harness.SLOW, "504 long after the 500ms connect timeout")

    def test_503_over_capacity(self):
        with harness.Daemon(CONF_CAP) as d:
            # Let the daemon notice that the readiness probe went away.
            time.sleep(0.3 * harness.SLOW)

            async def go():
                a = await websockets.connect(d.url("/echo"), compression=None)
                b = await websockets.connect(d.url("/echo"), compression=None)
                try:
                    resp = await asyncio.get_running_loop().run_in_executor(
                        None, harness.request_until_eof, d.port, harness.upgrade_request(), 5.0)
                    self.assertEqual(harness.status_of(resp), 503, resp)
                    # The held sessions still work.
                    await a.send("still here")
                    self.assertEqual(await a.recv(), "still here")
                finally:
                    await a.close()
                    await b.close()
                # Capacity comes back once they are gone.
                for _ in range(50):
                    try:
                        async with websockets.connect(d.url("/echo"), compression=None) as c:
                            await c.send("again")
                            self.assertEqual(await c.recv(), "again")
                            return
                    except websockets.InvalidStatusCode as e:
                        self.assertEqual(e.status_code, 503)
                        await asyncio.sleep(0.1)
                self.fail("capacity never came back after the sessions closed")

            harness.run_async(go(), 30)
            self.assertEqual(d.stop(), 0, d.log())


if __name__ == "__main__":
    harness.main()

#!/usr/bin/python3
"""Static files: a 20 MiB file over HTTP/1.1 with TLS, over cleartext
HTTP/1.1 and over HTTP/2 with TLS arrives whole (SHA-256) while the
daemon's RSS stays bounded (the body goes out in pieces as the client
takes them, never read whole into memory); a client that half-closes
after its request still gets the whole file; a client that stops reading
and leaves releases its connection."""
import hashlib
import os
import socket
import ssl
import time
import unittest

import harness
import h2ws
from harness import SLOW

CONF = """
[server]
workers = 1
[listen plain]
address = 127.0.0.1:{port}
[listen tls]
address = 127.0.0.1:{tls_port}
tls_certificate = {cert}
tls_key = {key}
[route echo]
path = /echo
backend = echo
[static]
root = {dir}/www
"""

BIG_SIZE = 20 << 20
# Peak RSS growth allowed while one 20 MiB file goes out.  Under ASan the
# daemon runs with a 4 MiB quarantine (freed chunks stay resident until
# they leave it) and its shadow memory grows too.
RSS_LIMIT_MIB = 8 if SLOW == 1 else 16
if "asan" in harness.WSGATE:
    os.environ["ASAN_OPTIONS"] = "quarantine_size_mb=4:" + os.environ.get("ASAN_OPTIONS", "")


def request(path, host):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test_static\r\n\r\n".encode()


def read_response(sock, pause_after=0, pause=0.0, timeout=30.0):
    """Read a whole HTTP/1.1 response until the server closes; optionally
    stop reading for `pause` seconds after `pause_after` bytes, so that a
    daemon buffering ahead of the client would show it.  Returns (status
    line, headers dict, body)."""
    sock.settimeout(timeout * SLOW)
    buf = bytearray()
    paused = pause_after == 0
    while True:
        if not paused and len(buf) >= pause_after:
            paused = True
            time.sleep(pause)
        try:
            b = sock.recv(1 << 16)
        except (ssl.SSLZeroReturnError, ConnectionResetError):
            b = b""
        if not b:
            break
        buf += b
    head, sep, body = bytes(buf).partition(b"\r\n\r\n")
    assert sep, "no complete response head in %r" % bytes(buf[:200])
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


class StaticTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(CONF, tls=True)
        www = os.path.join(cls.d.dir, "www")
        os.makedirs(www)
        cls.big = os.urandom(BIG_SIZE)
        cls.big_sha = hashlib.sha256(cls.big).hexdigest()
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(cls.big)
        with open(os.path.join(www, "small.txt"), "wb") as f:
            f.write(b"small\n")
        cls.d.start()
        # Warm up every path once (TLS contexts, HTTP/2 session buffers,
        # allocator arenas) with a small file, so the measurements below
        # see only what the big file costs.
        for _ in range(2):
            cls._get_tls_h1("/small.txt")
            cls._get_plain_h1("/small.txt")
            c = h2ws.H2Client(cls.d.tls_port, tls=True)
            try:
                st = c.get("/small.txt")
                assert st.status == 200, st.status
            finally:
                c.close()
        time.sleep(0.3)
        cls.base = harness.settle_fds(cls.d, cls.d.fd_count())

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    @classmethod
    def _get_tls_h1(cls, path, **kw):
        raw = socket.create_connection(("127.0.0.1", cls.d.tls_port), timeout=10 * SLOW)
        ctx = harness.insecure_ssl()
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        try:
            assert s.selected_alpn_protocol() == "http/1.1", s.selected_alpn_protocol()
            s.sendall(request(path, f"127.0.0.1:{cls.d.tls_port}"))
            return read_response(s, **kw)
        finally:
            s.close()

    @classmethod
    def _get_plain_h1(cls, path, **kw):
        with socket.create_connection(("127.0.0.1", cls.d.port), timeout=10 * SLOW) as s:
            s.sendall(request(path, f"127.0.0.1:{cls.d.port}"))
            return read_response(s, **kw)

    def assert_big(self, status, headers, body):
        self.assertIn(" 200 ", status + " ")
        self.assertEqual(int(headers["content-length"]), BIG_SIZE)
        self.assertEqual(len(body), BIG_SIZE)
        self.assertEqual(hashlib.sha256(body).hexdigest(), self.big_sha, "file content changed")

    def settle(self):
        harness.settle_fds(self.d, self.base, timeout=5.0)

    def test_https_h1_big_file_bounded_memory(self):
        with harness.RssMonitor(self.d) as rss:
            status, headers, body = self._get_tls_h1("/big.bin", pause_after=1 << 20, pause=1.0)
            self.assert_big(status, headers, body)
            rss.check(self, RSS_LIMIT_MIB, "a 20 MiB file over TLS (HTTP/1.1)")
        self.settle()

    def test_plain_h1_big_file_bounded_memory(self):
        with harness.RssMonitor(self.d) as rss:
            status, headers, body = self._get_plain_h1("/big.bin", pause_after=1 << 20, pause=1.0)
            self.assert_big(status, headers, body)
            rss.check(self, RSS_LIMIT_MIB, "a 20 MiB file over cleartext HTTP/1.1")
        self.settle()

    def test_https_h2_big_file_bounded_memory(self):
        with harness.RssMonitor(self.d) as rss:
            c = h2ws.H2Client(self.d.tls_port, tls=True)
            try:
                st = c.get("/big.bin")
                self.assertEqual(st.status, 200)
                self.assertEqual(int(st.headers["content-length"]), BIG_SIZE)
                self.assertEqual(len(st.data), BIG_SIZE)
                self.assertEqual(h2ws.sha256(st.data), h2ws.sha256(self.big))
            finally:
                c.close()
            rss.check(self, RSS_LIMIT_MIB, "a 20 MiB file over TLS (HTTP/2)")
        self.settle()

    def test_half_closed_client_gets_whole_file(self):
        """A client that shuts its sending side right after the request
        still gets every byte.  (Cleartext only: over TLS a FIN without
        close_notify is a fatal "unexpected EOF" for OpenSSL 3.)"""
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10 * SLOW) as s:
            s.sendall(request("/big.bin", f"127.0.0.1:{self.d.port}"))
            s.shutdown(socket.SHUT_WR)
            self.assert_big(*read_response(s, pause_after=1 << 20, pause=0.5))
        self.settle()

    def test_client_leaves_mid_file(self):
        """Clients that read a little of the big file and then close (FIN,
        and reset) are let go: the daemon's descriptors return to the
        baseline, and it still serves."""
        for tls in (False, True):
            for rst in (False, True):
                port = self.d.tls_port if tls else self.d.port
                raw = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s = raw
                if tls:
                    ctx = harness.insecure_ssl()
                    ctx.set_alpn_protocols(["http/1.1"])
                    s = ctx.wrap_socket(raw, server_hostname="localhost")
                s.sendall(request("/big.bin", f"127.0.0.1:{port}"))
                got = 0
                while got < 256 << 10:
                    b = s.recv(65536)
                    self.assertTrue(b, "server closed early")
                    got += len(b)
                time.sleep(0.2)
                if rst:
                    harness.rst_close(s)
                else:
                    s.close()
                self.settle()
        status, headers, body = self._get_plain_h1("/small.txt")
        self.assertIn(" 200 ", status + " ")
        self.assertEqual(body, b"small\n")


if __name__ == "__main__":
    harness.main()

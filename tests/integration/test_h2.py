#!/usr/bin/python3
"""WebSockets over HTTP/2 extended CONNECT (RFC 8441), driven by the
Python `h2` library (h2ws.H2Client): SETTINGS, echo over h2c and TLS,
200 concurrent bridged streams, every error status, RST_STREAM and
backend EOF, per-stream backpressure, HTTP/1.1 beside HTTP/2 on one
port, static files, idle timeout, shutdown and reload."""
import hashlib
import os
import signal
import socket
import sys
import threading
import time
import unittest

import harness
import h2ws

CONF = """
[server]
workers = 2
keepalive_timeout = {keepalive}
shutdown_timeout = 500ms
h2_max_concurrent_streams = 300
h2_stream_window = 1M
h2_connection_window = 16M
[listen plain]
address = 127.0.0.1:{port}
[listen tls]
address = 127.0.0.1:{tls_port}
tls_certificate = {cert}
tls_key = {key}
[route echo]
path = /echo
backend = echo
[route deflate]
path = /deflate
backend = echo
permessage_deflate = on
[route chat]
path = /chat
backend = echo
subprotocols = chat.v2, chat.v1
require_subprotocol = on
[route guarded]
path = /guarded
backend = echo
allowed_origins = https://good.example
[route tcp]
path = /tcp
backend = {backend}
buffer_size = 256K
[route source]
path = /source
backend = {source}
buffer_size = 256K
[route eof]
path = /eof
backend = {eofsrv}
[route refused]
path = /refused
backend = tcp:127.0.0.1:{dead_port}
[route timeout]
path = /timeout
backend = tcp:127.0.0.1:{stuck_port}
connect_timeout = 500ms
[static]
root = {dir}/www
"""

SOURCE_BLOCK = os.urandom(1 << 20)
SOURCE_MIB = 24  # what each /source backend connection sends, then closes


def source_handler(c):
    for _ in range(SOURCE_MIB):
        c.sendall(SOURCE_BLOCK)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass


def eof_handler(c):
    c.sendall(b"hello from the backend")
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass


class Tracker:
    """An echo backend that records how each connection ended."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = 0
        self.ended = 0

    def handler(self, c):
        with self.lock:
            self.open += 1
        try:
            harness.echo_handler(c)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
                self.ended += 1


def stuck_listener():
    """A loopback port whose accept queue is full: connects hang."""
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
    return ls, fillers, port


class H2Base(unittest.TestCase):
    keepalive = "60s"

    @classmethod
    def setUpClass(cls):
        cls.tracker = Tracker()
        cls.backend = harness.TcpServer(cls.tracker.handler)
        cls.source = harness.TcpServer(source_handler)
        cls.eofsrv = harness.TcpServer(eof_handler)
        cls.stuck, cls.fillers, stuck_port = stuck_listener()
        cls.daemon = harness.Daemon(CONF, tls=True, backend=cls.backend.address,
                                    source=cls.source.address, eofsrv=cls.eofsrv.address,
                                    dead_port=harness.free_port(), stuck_port=stuck_port,
                                    keepalive=cls.keepalive)
        www = os.path.join(cls.daemon.dir, "www")
        os.makedirs(www)
        cls.big = os.urandom(3 * 1024 * 1024 + 123)
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(cls.big)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("<html>hi</html>\n")
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        for s in (cls.backend, cls.source, cls.eofsrv):
            s.close()
        cls.stuck.close()
        for c in cls.fillers:
            c.close()

    def client(self, tls=False, **kw):
        c = h2ws.H2Client(self.daemon.tls_port if tls else self.daemon.port, tls=tls, **kw)
        self.addCleanup(c.close)
        return c

    def echo_roundtrip(self, c, path="/echo"):
        st = c.connect_ws(path)
        self.assertEqual(st.status, 200, st.headers)
        c.ws_send(st, 1, "héllo over h2".encode())
        self.assertEqual(c.ws_recv_message(st), (1, "héllo over h2".encode()))
        blob = os.urandom(200000)
        c.ws_send(st, 2, blob)
        self.assertEqual(c.ws_recv_message(st), (2, blob))
        # A fragmented message keeps its type and boundaries.
        c.ws_send(st, 1, b"ab", fin=False)
        c.ws_send(st, 0, b"cd", fin=True)
        self.assertEqual(c.ws_recv_message(st), (1, b"abcd"))
        c.ws_send(st, 8, (1000).to_bytes(2, "big") + b"bye")
        op, payload = c.ws_recv_message(st)
        self.assertEqual(op, 8)
        self.assertEqual(harness.close_payload(payload)[0], 1000)
        c.wait(lambda: st.ended, 5, "END_STREAM after the close handshake")
        self.assertIsNone(st.reset)
        c.ws_end(st)
        return st


class TestH2(H2Base):
    def test_settings_enable_connect_protocol(self):
        c = self.client()
        c.wait(lambda: h2ws.ENABLE_CONNECT_PROTOCOL in c.remote_settings, 5, "SETTINGS")
        self.assertEqual(c.remote_settings[h2ws.ENABLE_CONNECT_PROTOCOL], 1)
        self.assertEqual(c.remote_settings[0x3], 300)        # MAX_CONCURRENT_STREAMS
        self.assertEqual(c.remote_settings[0x4], 1 << 20)    # INITIAL_WINDOW_SIZE
        self.assertEqual(c.remote_settings[0x6], 16 * 1024)  # MAX_HEADER_LIST_SIZE
        # The connection window was raised to h2_connection_window.
        c.wait(lambda: c.conn.outbound_flow_control_window >= 16 * 1024 * 1024, 5,
               "connection WINDOW_UPDATE")

    def test_settings_over_tls(self):
        c = self.client(tls=True)
        c.wait(lambda: h2ws.ENABLE_CONNECT_PROTOCOL in c.remote_settings, 5, "SETTINGS")
        self.assertEqual(c.remote_settings[h2ws.ENABLE_CONNECT_PROTOCOL], 1)

    def test_echo_h2c(self):
        self.echo_roundtrip(self.client())

    def test_echo_tls_alpn_h2(self):
        self.echo_roundtrip(self.client(tls=True))

    def test_access_log_says_http2(self):
        c = self.client()
        st = self.echo_roundtrip(c, "/echo?tag=logcheck")
        harness.wait_for(lambda: any('"/echo?tag=logcheck"' in l
                                     for l in harness.access_lines(self.daemon)), 5,
                         "the access line")
        line = [l for l in harness.access_lines(self.daemon) if "tag=logcheck" in l][-1]
        f = line.split()
        self.assertEqual(f[2], "HTTP/2", line)
        self.assertEqual(f[4], "echo", line)
        self.assertEqual(f[5], "200", line)
        self.assertEqual(f[-1], "1000", line)

    def test_subprotocol_and_deflate_negotiated(self):
        c = self.client()
        st = c.connect_ws("/chat", extra=[("sec-websocket-protocol", "chat.v1, chat.v2")])
        self.assertEqual(st.status, 200)
        self.assertEqual(st.headers.get("sec-websocket-protocol"), "chat.v2")
        st2 = c.connect_ws("/deflate", extra=[("sec-websocket-extensions",
                                               "permessage-deflate; client_max_window_bits")])
        self.assertEqual(st2.status, 200)
        self.assertIn("permessage-deflate", st2.headers.get("sec-websocket-extensions", ""))
        # A compressed message (RSV1): "Hello" from RFC 7692 §7.2.3.1.
        import struct
        payload = bytes.fromhex("f248cdc9c90700")
        key = os.urandom(4)
        st2.out += struct.pack("!BB", 0xC1, 0x80 | len(payload)) + key + \
            harness.mask_bytes(payload, key)
        c.pump()
        fin, op, data = c.ws_recv(st2)
        self.assertEqual(op, 1)
        import zlib
        d = zlib.decompressobj(-15)
        self.assertEqual(d.decompress(data + b"\x00\x00\xff\xff"), b"Hello")

    def test_200_streams_to_tcp_backend_1mib_each(self):
        n_streams, size = 200, 1 << 20
        c = self.client(window=1 << 20, conn_window=256 << 20, max_frame=1 << 20)
        streams, sent = [], {}
        for i in range(n_streams):
            st = c.connect_ws("/tcp", wait=False)
            streams.append(st)
        c.wait(lambda: all(s.status is not None or s.reset is not None for s in streams), 30,
               "200 responses")
        self.assertEqual([s.status for s in streams], [200] * n_streams)
        for st in streams:
            data = os.urandom(size)
            sent[st.id] = hashlib.sha256(data).hexdigest()
            for off in range(0, size, 64 * 1024):
                c.ws_send(st, 2, data[off:off + 64 * 1024])
        got = {st.id: hashlib.sha256() for st in streams}
        count = {st.id: 0 for st in streams}

        def progress():
            for st in streams:
                while True:
                    f = c.parse_frame(st.data)
                    if not f:
                        break
                    del st.data[:f[3]]
                    self.assertEqual(f[1], 2, "backend bytes come as binary messages")
                    got[st.id].update(f[2])
                    count[st.id] += len(f[2])
            return all(count[s.id] >= size for s in streams)

        c.wait(progress, 120, "1 MiB back on each of 200 streams")
        for st in streams:
            self.assertEqual(count[st.id], size)
            self.assertEqual(got[st.id].hexdigest(), sent[st.id], "stream %d" % st.id)
        for st in streams:
            c.ws_send(st, 8, (1000).to_bytes(2, "big"))
        c.wait(lambda: all(s.ended for s in streams), 30, "every stream ended")

    def test_static_get_and_head(self):
        c = self.client()
        st = c.get("/big.bin")
        self.assertEqual(st.status, 200)
        self.assertEqual(int(st.headers["content-length"]), len(self.big))
        self.assertEqual(h2ws.sha256(st.data), h2ws.sha256(self.big))
        etag = st.headers["etag"]
        st = c.get("/big.bin", method="HEAD")
        self.assertEqual(st.status, 200)
        self.assertEqual(int(st.headers["content-length"]), len(self.big))
        self.assertEqual(len(st.data), 0)
        st = c.get("/big.bin", extra=[("if-none-match", etag)])
        self.assertEqual(st.status, 304)
        st = c.get("/")
        self.assertEqual(st.status, 200)
        self.assertEqual(bytes(st.data), b"<html>hi</html>\n")
        self.assertTrue(st.headers["content-type"].startswith("text/html"))

    def test_error_statuses(self):
        c = self.client()
        cases = [
            ("/echo", dict(extra=[("sec-websocket-protocol", "x")]), 200),
            ("/nowhere", {}, 404),
            ("/echo", dict(version="8"), 426),
            ("/echo", dict(version=None), 426),
            ("/echo", dict(protocol="not-websocket"), 501),
            ("/chat", dict(extra=[("sec-websocket-protocol", "other")]), 400),
            ("/guarded", dict(extra=[("origin", "https://evil.example")]), 403),
            ("/guarded", dict(extra=[("origin", "https://good.example")]), 200),
            ("/refused", {}, 502),
        ]
        for path, kw, want in cases:
            st = c.connect_ws(path, **kw)
            self.assertEqual(st.status, want, (path, kw, st.headers))
            if want >= 400:
                c.wait(lambda: st.ended or st.reset is not None, 5, "body end")
                self.assertEqual(st.headers["content-type"], "text/plain; charset=utf-8")
                self.assertGreater(len(st.data), 1)
                self.assertEqual(int(st.headers["content-length"]), len(st.data))
            if want == 426:
                self.assertEqual(st.headers["sec-websocket-version"], "13")
        t0 = time.monotonic()
        st = c.connect_ws("/timeout")
        took = time.monotonic() - t0
        self.assertEqual(st.status, 504)
        self.assertGreaterEqual(took, 0.45)
        self.assertLess(took, 3.0 * harness.SLOW)
        # Plain CONNECT (no :protocol) is not a WebSocket: 400.
        c.conn.config.validate_outbound_headers = False
        st = c.request([(":method", "CONNECT"), (":authority", "127.0.0.1:1")])
        c.conn.config.validate_outbound_headers = True
        c.wait(lambda: st.status is not None, 5, "plain CONNECT answer")
        self.assertEqual(st.status, 400)
        # Other methods on a WebSocket route: 400; elsewhere 405 (static root).
        self.assertEqual(c.get("/echo").status, 400)
        self.assertEqual(c.get("/echo", method="POST").status, 400)
        self.assertEqual(c.get("/index.html", method="POST").status, 405)
        self.assertEqual(c.get("/missing.html").status, 404)
        # Every one of these left the connection usable.
        self.echo_roundtrip(c)
        self.assertIsNone(c.goaway)

    def test_header_list_too_large_431(self):
        c = self.client()
        st = c.connect_ws("/echo", extra=[("x-big", "a" * 8000), ("x-big2", "b" * 9000)])
        self.assertEqual(st.status, 431)
        self.echo_roundtrip(c)

    def test_rst_stream_tears_down_its_backend_only(self):
        c = self.client()
        streams = [c.connect_ws("/tcp") for _ in range(3)]
        for st in streams:
            self.assertEqual(st.status, 200)
            c.ws_send(st, 2, b"ping%d" % st.id)
            self.assertEqual(c.ws_recv_message(st), (2, b"ping%d" % st.id))
        before = self.tracker.ended
        c.reset_stream(streams[1], 8)  # CANCEL
        harness.wait_for(lambda: self.tracker.ended >= before + 1, 5,
                         "the backend of the reset stream to end")
        time.sleep(0.3)
        self.assertEqual(self.tracker.ended, before + 1, "other backends untouched")
        for st in (streams[0], streams[2]):
            c.ws_send(st, 2, b"still here")
            self.assertEqual(c.ws_recv_message(st), (2, b"still here"))
        self.assertIsNone(streams[0].reset)
        self.assertIsNone(c.goaway)

    def test_backend_eof_ends_stream_cleanly(self):
        c = self.client()
        st = c.connect_ws("/eof")
        self.assertEqual(st.status, 200)
        self.assertEqual(c.ws_recv_message(st), (2, b"hello from the backend"))
        op, payload = c.ws_recv_message(st)
        self.assertEqual(op, 8)
        self.assertEqual(harness.close_payload(payload)[0], 1000)
        self.assertFalse(st.ended, "END_STREAM must wait for the close reply")
        c.ws_send(st, 8, (1000).to_bytes(2, "big"))
        c.wait(lambda: st.ended, 5, "END_STREAM")
        self.assertIsNone(st.reset)
        harness.wait_for(lambda: any('"/eof"' in l and " HTTP/2 " in l
                                     for l in harness.access_lines(self.daemon)), 5,
                         "access line of /eof")

    def _drain_source(self, c, streams, deadline_s):
        """Read /source streams to their end; returns {id: (bytes, sha)}."""
        got = {st.id: hashlib.sha256() for st in streams}
        count = {st.id: 0 for st in streams}

        def progress():
            for st in streams:
                if st.hold:
                    continue
                while True:
                    f = c.parse_frame(st.data)
                    if not f:
                        break
                    del st.data[:f[3]]
                    if f[1] == 8:
                        st.closed_code = harness.close_payload(f[2])[0]
                        continue
                    got[st.id].update(f[2])
                    count[st.id] += len(f[2])
            return all(st.hold or getattr(st, "closed_code", None) for st in streams)

        c.wait(progress, deadline_s, "the /source streams")
        return {sid: (count[sid], got[sid].hexdigest()) for sid in got}

    def test_stalled_stream_does_not_slow_the_others(self):
        want = hashlib.sha256(SOURCE_BLOCK * SOURCE_MIB).hexdigest()
        k = 4
        # Baseline: k streams alone.
        c = self.client(window=1 << 20, conn_window=256 << 20, max_frame=1 << 20)
        streams = [c.connect_ws("/source") for _ in range(k)]
        t0 = time.monotonic()
        res = self._drain_source(c, streams, 120)
        base = time.monotonic() - t0
        for sid, (n, h) in res.items():
            self.assertEqual((n, h), (SOURCE_MIB << 20, want))
        # Again with a stalled stream on the same connection.
        c2 = self.client(window=1 << 20, conn_window=256 << 20, max_frame=1 << 20)
        stalled = c2.connect_ws("/source")
        stalled.hold = True
        c2.wait(lambda: stalled.received >= (1 << 20) - 64 * 1024, 10,
                "the stalled stream's window to fill")
        rss0 = self.daemon.rss_kb()
        streams = [c2.connect_ws("/source") for _ in range(k)]
        t0 = time.monotonic()
        res = self._drain_source(c2, streams, 120)
        with_stall = time.monotonic() - t0
        rss1 = self.daemon.rss_kb()
        for sid, (n, h) in res.items():
            self.assertEqual((n, h), (SOURCE_MIB << 20, want))
        print("\n  %d x %d MiB: %.2fs alone, %.2fs beside a stalled stream; RSS +%d KiB"
              % (k, SOURCE_MIB, base, with_stall, rss1 - rss0), file=sys.stderr)
        # Bound: the others keep at least half their throughput.
        self.assertLess(with_stall, 2 * base + 1.0,
                        "baseline %.2fs, with a stalled stream %.2fs" % (base, with_stall))
        # The stalled stream never got past its window meanwhile.
        self.assertLessEqual(stalled.received, 1 << 20)
        # Daemon memory stayed bounded while a 24 MiB backend waited.
        self.assertLess(rss1 - rss0, 48 * 1024, "RSS grew %d KiB" % (rss1 - rss0))
        # Released, the stalled stream's data arrives intact.
        c2.release(stalled)
        res = self._drain_source(c2, [stalled], 120)
        self.assertEqual(res[stalled.id], (SOURCE_MIB << 20, want))

    def test_slow_client_upload_paused_stream_only(self):
        """Inbound direction: a stream whose session is paused (echo with
        a client that does not read its echoes) holds only its own credit;
        another stream on the connection keeps echoing."""
        c = self.client(window=1 << 20, conn_window=256 << 20)
        slow = c.connect_ws("/echo")
        slow.hold = True
        blob = os.urandom(256 * 1024)
        for _ in range(16):  # 4 MiB, far past every buffer on the way
            c.ws_send(slow, 2, blob)
        fast = c.connect_ws("/echo")
        for i in range(20):
            msg = os.urandom(50000)
            c.ws_send(fast, 2, msg)
            self.assertEqual(c.ws_recv_message(fast), (2, msg))
        self.assertTrue(len(slow.out) > 0, "the paused stream's upload must be throttled")
        c.release(slow)
        for _ in range(16):
            self.assertEqual(c.ws_recv_message(slow, timeout=20), (2, blob))

    def test_h1_and_h2_on_the_same_port(self):
        for tls in (False, True):
            port = self.daemon.tls_port if tls else self.daemon.port
            c = self.client(tls=tls)
            st = c.connect_ws("/echo")
            self.assertEqual(st.status, 200)
            ws1 = h1_ws(port, tls)
            try:
                self.assertEqual(ws1.status, 101)
                for i in range(5):
                    c.ws_send(st, 1, b"h2 %d" % i)
                    ws1.send(1, b"h1 %d" % i)
                    self.assertEqual(c.ws_recv_message(st), (1, b"h2 %d" % i))
                    self.assertEqual(ws1.recv_frame(), (True, 1, b"h1 %d" % i))
            finally:
                ws1.close()
        lines = harness.access_lines(self.daemon)
        self.assertTrue(any(" HTTP/1.1 " in l and '"/echo"' in l for l in lines))
        self.assertTrue(any(" HTTP/2 " in l and '"/echo"' in l for l in lines))

    def test_reload_sends_no_goaway_to_live_websockets(self):
        c = self.client()
        st = c.connect_ws("/echo")
        self.assertEqual(st.status, 200)
        self.daemon.signal(signal.SIGHUP)
        harness.wait_for(lambda: "reloaded" in self.daemon.log(), 5, "the reload")
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            c.pump(0.05)
        self.assertIsNone(c.goaway)
        c.ws_send(st, 1, b"after reload")
        self.assertEqual(c.ws_recv_message(st), (1, b"after reload"))
        # New streams on the same connection work too.
        self.echo_roundtrip(c)


def h1_ws(port, tls):
    """An HTTP/1.1 WebSocket (harness.RawWs), over TLS with ALPN http/1.1
    when tls."""
    if not tls:
        return harness.RawWs(port)
    import base64
    ctx = harness.insecure_ssl()
    ctx.set_alpn_protocols(["http/1.1"])
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                           server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(harness.upgrade_request("/echo", host="127.0.0.1:%d" % port, key=key))
    head = b""
    while b"\r\n\r\n" not in head:
        b = sock.recv(1)
        if not b:
            raise AssertionError("closed during the handshake: %r" % head)
        head += b
    ws = harness.RawWs.__new__(harness.RawWs)
    ws.sock, ws.response, ws.status, ws.buf = sock, head, harness.status_of(head), bytearray()
    return ws


class TestH2Idle(H2Base):
    keepalive = "1s"

    def test_idle_connection_gets_goaway(self):
        c = self.client()
        t0 = time.monotonic()
        c.wait(lambda: c.goaway is not None, 5, "GOAWAY on an idle connection")
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.8)
        self.assertEqual(c.goaway.error_code, 0)
        c.wait(lambda: c.closed, 5, "the close after GOAWAY") if not c.closed else None

    def test_connection_with_a_websocket_is_not_idle(self):
        c = self.client()
        st = c.connect_ws("/echo")
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            c.pump(0.05)
        self.assertIsNone(c.goaway)
        c.ws_send(st, 1, b"x")
        self.assertEqual(c.ws_recv_message(st), (1, b"x"))


class TestH2Limits(unittest.TestCase):
    def test_over_max_connections_503_then_goaway(self):
        conf = """
[server]
workers = 1
max_connections = 1
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
"""
        with harness.Daemon(conf) as d:
            # The daemon's start probe may still hold the one slot briefly.
            for _ in range(50):
                holder = h2ws.H2Client(d.port)
                st = holder.connect_ws("/echo")
                if st.status == 200:
                    break
                holder.close()
                time.sleep(0.1)
            try:
                self.assertEqual(st.status, 200)
                c = h2ws.H2Client(d.port)
                try:
                    st2 = c.connect_ws("/echo")
                    self.assertEqual(st2.status, 503)
                    c.wait(lambda: c.goaway is not None, 5, "GOAWAY")
                finally:
                    c.close()
            finally:
                holder.close()

    def test_shutdown_closes_1001_before_goaway(self):
        conf = """
[server]
workers = 1
shutdown_timeout = 300ms
[listen plain]
address = 127.0.0.1:{port}
[route echo]
path = /echo
backend = echo
"""
        d = harness.Daemon(conf)
        d.start()
        try:
            c = h2ws.H2Client(d.port)
            st = c.connect_ws("/echo")
            self.assertEqual(st.status, 200)
            d.signal(signal.SIGTERM)
            op, payload = c.ws_recv_message(st, timeout=5)
            self.assertEqual(op, 8)
            self.assertEqual(harness.close_payload(payload)[0], 1001)
            self.assertIsNone(c.goaway, "GOAWAY must wait for the drain")
            c.ws_send(st, 8, (1001).to_bytes(2, "big"))
            c.ws_end(st)
            c.wait(lambda: c.goaway is not None or c.closed, 10, "GOAWAY after the drain")
            kinds = [k for _, k, _ in c.events]
            self.assertIn("goaway", kinds)
            self.assertLess(kinds.index("end"), kinds.index("goaway"))
            d.proc.wait(10 * harness.SLOW)
            self.assertEqual(d.proc.returncode, 0)
            c.close()
        finally:
            d.stop()


if __name__ == "__main__":
    harness.main()

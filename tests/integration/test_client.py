#!/usr/bin/python3
"""wsgate-client and wsgate-bench against wsgate (HTTP/1.1 and HTTP/2,
ws:// and wss://), against an independent HTTP/1.1 server (Python
websockets), against nghttpx speaking RFC 8441 in front of it, and
against scripted servers that misbehave on purpose (exit statuses,
accept check, unsolicited subprotocol, data corruption, missing
SETTINGS_ENABLE_CONNECT_PROTOCOL), and wsgate-bench's bounded end of a
run (deadline, SIGINT/SIGTERM) against servers that refuse, abort,
stall or never read."""
import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import websockets

BUILD = os.path.abspath(os.environ.get("BUILD", os.path.dirname(harness.WSGATE)))
CLIENT = os.path.join(BUILD, "wsgate-client")
BENCH = os.path.join(BUILD, "wsgate-bench")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
T = 30 * harness.SLOW

CONF = """
[server]
workers = 1
max_connections = 5000
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
[route tcp]
path = /tcp
backend = {tcp}
[route sink]
path = /sink
backend = {sink}
"""


def run(args, stdin=b"", timeout=T):
    """Run a tool; returns (exit status, stdout bytes, stderr text)."""
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def bench(args, timeout=T + 30):
    """Run wsgate-bench; returns (exit status, JSON summary, stderr)."""
    rc, out, err = run([BENCH] + args, timeout=timeout)
    try:
        summary = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON summary (exit {rc}):\n{out!r}\n{err}")
    return rc, summary, err


# What wsgate-bench may take beyond its deadline: the 2 s close grace,
# then the abort, plus start-up and scheduling slack (more under ASan).
GRACE = 2.0
SLACK = 1.5 * harness.SLOW


def bench_timed(args, sig_on=None, sig=signal.SIGINT, limit=60, sig_delay=0.0):
    """Run wsgate-bench; with sig_on, send sig once that text shows on
    its stderr (so that a loaded machine cannot make the signal come
    before the sessions are up), sig_delay seconds later.  Returns (exit status, JSON summary,
    stderr, seconds from the start or from the signal to the exit).
    Kills it after limit seconds (a hang) and fails."""
    p = subprocess.Popen([BENCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         bufsize=0)
    t0 = time.monotonic()
    early = b""
    try:
        if sig_on is not None:
            deadline = t0 + T
            while time.monotonic() < deadline:
                line = p.stderr.readline()
                early += line
                if not line or sig_on.encode() in line:
                    break
            time.sleep(sig_delay)
            t0 = time.monotonic()
            p.send_signal(sig)
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"wsgate-bench hung ({limit} s):\n{(early + err).decode(errors='replace')}")
    took = time.monotonic() - t0
    err = (early + err).decode("utf-8", "replace")
    try:
        summary = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON summary (exit {p.returncode}):\n{out!r}\n{err}")
    return p.returncode, summary, err, took


def sink_handler(c):
    """A backend that accepts and never reads, until the peer goes."""
    c.settimeout(None)
    time.sleep(3600)


class PyWsServer:
    """A Python websockets 10.4 echo server in a thread (HTTP/1.1)."""

    def __init__(self, compression=None, subprotocols=None):
        self.port = harness.free_port()
        self.seen = []  # (Sec-WebSocket-Protocol offered, subprotocol chosen)
        self.ready = threading.Event()
        self.compression = compression
        self.subprotocols = subprotocols
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise AssertionError("python websockets server did not start")

    def _run(self):
        asyncio.run(self._main())

    async def _main(self):
        async def echo(ws, path=None):
            self.seen.append((ws.request_headers.get("Sec-WebSocket-Protocol"), ws.subprotocol))
            try:
                async for m in ws:
                    await ws.send(m)
            except websockets.ConnectionClosed:
                pass

        self.loop = asyncio.get_running_loop()
        self.stop_fut = self.loop.create_future()
        async with websockets.serve(echo, "127.0.0.1", self.port, max_size=None,
                                    compression=self.compression,
                                    subprotocols=self.subprotocols):
            self.ready.set()
            await self.stop_fut

    def close(self):
        self.loop.call_soon_threadsafe(self.stop_fut.set_result, None)
        self.thread.join(10)

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"


class Nghttpx:
    """nghttpx terminating RFC 8441 (h2c or TLS+ALPN) in front of a
    WebSocket server over HTTP/1.1."""

    def __init__(self, backend_port, tls=False):
        self.port = harness.free_port()
        self.dir = tempfile.mkdtemp(prefix="wsgate-nghttpx-")
        exe = shutil.which("nghttpx") or "/usr/sbin/nghttpx"
        if tls:
            cert, key = harness.self_signed_cert()
            front = [f"--frontend=127.0.0.1,{self.port}", key, cert]
        else:
            front = [f"--frontend=127.0.0.1,{self.port};no-tls"]
        self.err = os.path.join(self.dir, "err.log")
        self.proc = subprocess.Popen(
            [exe, "--conf=/dev/null", f"--backend=127.0.0.1,{backend_port}", "--workers=1",
             "--no-ocsp", f"--errorlog-file={self.err}", "--accesslog-file=/dev/null"] + front,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            harness.wait_port("127.0.0.1", self.port)
        except TimeoutError:
            self.close()
            raise AssertionError("nghttpx did not start: " + self.log())

    def log(self):
        try:
            with open(self.err) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def accept_of(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class Scripted:
    """A raw TCP server that reads one HTTP/1.1 upgrade request and runs
    script(sock, key, request) for it."""

    def __init__(self, script):
        self.requests = []

        def handler(c):
            head = b""
            while b"\r\n\r\n" not in head:
                b = c.recv(4096)
                if not b:
                    return
                head += b
            self.requests.append(head)
            key = ""
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("sec-websocket-key:"):
                    key = line.split(":", 1)[1].strip()
            script(c, key, head)

        self.srv = harness.TcpServer(handler)
        self.port = self.srv.port

    def url(self, path="/x"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def close(self):
        self.srv.close()


def response_101(key, extra=""):
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_of(key)}\r\n{extra}\r\n").encode()


def server_frame(opcode, payload, fin=True):
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        return struct.pack("!BB", b0, n) + payload
    if n < 65536:
        return struct.pack("!BBH", b0, 126, n) + payload
    return struct.pack("!BBQ", b0, 127, n) + payload


def read_client_frame(c):
    """(opcode, payload) of one masked client frame, or None at EOF."""
    buf = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            b = c.recv(65536)
            if not b:
                raise EOFError
            buf += b

    try:
        need(2)
        n = buf[1] & 0x7F
        off = 2
        if n == 126:
            need(4)
            n, off = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            need(10)
            n, off = struct.unpack("!Q", buf[2:10])[0], 10
        need(off + 4 + n)
        key = buf[off:off + 4]
        return buf[0] & 0x0F, harness.mask_bytes(buf[off + 4:off + 4 + n], key)
    except EOFError:
        return None


class ClientVsWsgate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = harness.TcpServer(harness.echo_handler)
        cls.sink = harness.TcpServer(sink_handler)
        cls.d = harness.Daemon(CONF, tls=True, tcp=cls.backend.address, sink=cls.sink.address)
        cls.d.start()
        cls.cert, _ = harness.self_signed_cert()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.backend.close()
        cls.sink.close()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def test_text_lines(self):
        rc, out, err = run([CLIENT, self.d.url("/echo")], b"hello\nw\xc3\xb6rld \xe2\x9c\x93\n\nlast")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "hello\nwörld ✓\n\nlast\n".encode())

    def test_binary_hex_and_raw(self):
        rc, out, err = run([CLIENT, "-b", self.d.url("/echo")], b"\x00\x01\xfe\xff")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"0001feff\n")
        rc, out, err = run([CLIENT, "--binary", "--raw", self.d.url("/echo")], b"\x00\x01\xfe\xff")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"\x00\x01\xfe\xff")

    def test_verbose_handshake_and_close(self):
        rc, out, err = run([CLIENT, "-v", self.d.url("/echo")], b"x\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("> GET /echo HTTP/1.1", err)
        self.assertIn("> Sec-WebSocket-Version: 13", err)
        self.assertIn("< HTTP/1.1 101", err)
        self.assertRegex(err, r"(?i)< Sec-WebSocket-Accept: \S{28}")
        self.assertIn("closed: code 1000", err)

    def test_close_after(self):
        # stdin never ends (a pipe held open): --close-after ends the session.
        p = subprocess.Popen([CLIENT, "--close-after", "2", self.d.url("/echo")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"one\ntwo\n")
        p.stdin.flush()
        try:
            rc = p.wait(T)
            out = p.stdout.read()
        finally:
            p.stdin.close()
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"one\ntwo\n")

    def test_stdin_regular_file(self):
        path = os.path.join(self.d.dir, "input.txt")
        with open(path, "wb") as f:
            f.write(b"".join(b"line %d\n" % i for i in range(300)))
        with open(path, "rb") as f:
            p = subprocess.run([CLIENT, self.d.url("/echo")], stdin=f, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=T)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [b"line %d" % i for i in range(300)])

    def test_bridge_route(self):
        rc, out, err = run([CLIENT, "--raw", self.d.url("/tcp")], b"through the backend\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"through the backend")

    def test_not_found_is_handshake_failure(self):
        rc, out, err = run([CLIENT, self.d.url("/nowhere")], b"x\n")
        self.assertEqual(rc, 2)
        self.assertIn("404", err)

    def test_connect_refused(self):
        rc, out, err = run([CLIENT, f"ws://127.0.0.1:{harness.free_port()}/echo"], b"x\n")
        self.assertEqual(rc, 2)
        self.assertIn("refused", err)

    def test_usage_errors(self):
        self.assertEqual(run([CLIENT, "http://127.0.0.1/"])[0], 1)
        self.assertEqual(run([CLIENT])[0], 1)
        self.assertEqual(run([CLIENT, "--header", "no colon", self.d.url("/echo")])[0], 1)

    def test_wss_verification(self):
        url = self.d.url("/echo", tls=True)
        rc, out, err = run([CLIENT, url], b"x\n")
        self.assertEqual(rc, 2, "a self-signed certificate must be refused by default")
        self.assertIn("certificate", err)
        rc, out, err = run([CLIENT, "--insecure", url], b"secure\n")
        self.assertEqual((rc, out), (0, b"secure\n"), err)
        rc, out, err = run([CLIENT, "--ca", self.cert, url], b"verified\n")
        self.assertEqual((rc, out), (0, b"verified\n"), err)
        # The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
        rc, out, err = run([CLIENT, "--ca", self.cert,
                            f"wss://localhost:{self.d.tls_port}/echo"], b"by name\n")
        self.assertEqual((rc, out), (0, b"by name\n"), err)

    def test_http2_echo(self):
        rc, out, err = run([CLIENT, "-v", "--http2", self.d.url("/echo")], b"over h2\nagain\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"over h2\nagain\n")
        self.assertIn("> :protocol: websocket", err)
        self.assertIn("< :status: 200", err)

    def test_http2_over_tls_alpn(self):
        rc, out, err = run([CLIENT, "--http2", "--insecure", self.d.url("/echo", tls=True)],
                           b"h2 over tls\n")
        self.assertEqual((rc, out), (0, b"h2 over tls\n"), err)

    def test_bench_echo_h1(self):
        rc, s, err = bench(["-c", "4", "--inflight", "4", "-d", "2", self.d.url("/echo")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertEqual(s["sessions_opened"], 4)
        self.assertGreater(s["messages"], 100)
        self.assertEqual(s["rtt_us"]["count"], s["messages"])
        r = s["rtt_us"]
        self.assertTrue(0 < r["p50"] <= r["p90"] <= r["p99"] <= r["p99_9"] <= r["max"], r)
        # Counted while running; at the stop at most the 16 messages in
        # flight may have arrived in part.
        self.assertGreaterEqual(s["bytes_received"], s["messages"] * 64)
        self.assertLessEqual(s["bytes_received"], (s["messages"] + 16) * 64)
        self.assertRegex(err, r"\[\s*1\.\ds\] open 4/4 +msgs/s \d+")

    def test_bench_stream_mode_through_bridge(self):
        rc, s, err = bench(["-c", "3", "-s", "3000", "--inflight", "3", "--mode", "stream",
                            "-d", "2", self.d.url("/tcp")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertGreater(s["messages"], 10)

    def test_bench_echo_mode_notices_the_bridge_changes_types(self):
        # The bridge answers text with binary: echo mode must count that.
        rc, s, err = bench(["-c", "1", "--text", "-d", "1", self.d.url("/tcp")])
        self.assertEqual(rc, 1)
        self.assertGreater(s["errors"]["data"], 0)

    def test_bench_connect_rate_h1(self):
        rc, s, err = bench(["-c", "2", "--connect-rate", "-d", "2", self.d.url("/echo")])
        self.assertEqual(rc, 0, err)
        self.assertGreater(s["sessions_opened"], 10)
        self.assertGreater(s["handshakes_per_s"], 5)
        self.assertEqual(s["errors"]["total"], 0, err)

    def test_bench_idle_and_bind(self):
        rc, s, err = bench(["-c", "30", "--idle", "-d", "1", "--bind", "127.0.0.2-4",
                            self.d.url("/echo")])
        self.assertEqual(rc, 0, err)
        self.assertIn("all 30 sessions open", err)
        self.assertIsNotNone(s["all_open_s"])
        self.assertEqual(s["sessions_opened"], 30)
        lines = [l for l in harness.access_lines(self.d) if "/echo" in l]
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            self.assertTrue(any(a in l for l in lines), f"no session from {a}")

    def test_bench_open_loop_rate(self):
        rc, s, err = bench(["-c", "4", "--rate", "400", "-d", "2", self.d.url("/echo")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertGreater(s["messages"], 600)
        self.assertLess(s["messages"], 1000)

    def test_bench_http2_many_streams(self):
        rc, s, err = bench(["--http2", "-c", "2", "-m", "16", "--inflight", "2", "-d", "2",
                            self.d.url("/echo")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertEqual(s["sessions_opened"], 32)
        self.assertGreater(s["messages"], 100)

    def test_bench_threads_and_deflate(self):
        rc, s, err = bench(["-c", "4", "--threads", "2", "--deflate", "--text", "-s", "2K",
                            "-d", "2", self.d.url("/echo")])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertEqual(s["threads"], 2)
        self.assertGreater(s["messages"], 50)

    def test_bench_usage(self):
        self.assertEqual(run([BENCH, "-m", "2", self.d.url("/echo")])[0], 2)
        self.assertEqual(run([BENCH, "--size", "x", self.d.url("/echo")])[0], 2)
        self.assertEqual(run([BENCH, "--subprotocol", "a b", self.d.url("/echo")])[0], 2)
        self.assertEqual(run([BENCH, "--subprotocol", "", self.d.url("/echo")])[0], 2)
        rc, out, _ = run([BENCH, "--help"])
        self.assertEqual(rc, 0)
        self.assertIn(b"--subprotocol NAME", out)

    def test_bench_never_reading_backend_h1_ends_in_time(self):
        # 1 MiB messages into a bridge whose backend never reads: the
        # gateway stops reading, the close frame cannot get out, and the
        # run must still end at its deadline plus the grace.
        rc, s, err, took = bench_timed(["-c", "2", "-s", "1M", "-d", "2", "--mode", "stream",
                                        self.d.url("/sink")])
        self.assertLessEqual(took, 2 + GRACE + SLACK, err)
        self.assertEqual(s["stopped_by"], "duration")
        self.assertEqual(s["sessions_opened"], 2, err)
        self.assertGreater(s["bytes_sent"], 0)
        self.assertEqual(s["messages"], 0)

    def test_bench_never_reading_backend_h2_ends_in_time(self):
        # The same over HTTP/2: streams stuck on flow control, with
        # some still opening when the deadline comes.
        rc, s, err, took = bench_timed(["--http2", "-c", "1", "-m", "100", "-s", "1M",
                                        "--mode", "stream", "-d", "2", self.d.url("/sink")])
        self.assertLessEqual(took, 2 + GRACE + SLACK, err)
        self.assertGreater(s["sessions_opened"], 0, err)
        self.assertGreater(s["bytes_sent"], 0)
        self.assertEqual(s["messages"], 0)

    def test_bench_sigint_prints_summary(self):
        rc, s, err, took = bench_timed(["--http2", "-c", "1", "-m", "20", "-s", "1M",
                                        "--mode", "stream", "-d", "120", self.d.url("/sink")],
                                       sig_on="all 20 sessions open")
        self.assertLessEqual(took, 3.0, err)
        self.assertEqual(s["stopped_by"], "SIGINT")
        self.assertLess(s["duration_s"], 3.0)
        self.assertIn("Interrupt: stopping", err)

    def test_bench_sigterm_with_threads(self):
        rc, s, err, took = bench_timed(["-c", "4", "--threads", "2", "--inflight", "4", "-d",
                                        "120", self.d.url("/echo")],
                                       sig_on="all 4 sessions open", sig_delay=1.0,
                                       sig=signal.SIGTERM)
        self.assertLessEqual(took, 3.0, err)
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["stopped_by"], "SIGTERM")
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertGreater(s["messages"], 100)


class ClientVsPython(unittest.TestCase):
    """An independent server: Python websockets over HTTP/1.1, and
    nghttpx speaking RFC 8441 in front of it."""

    @classmethod
    def setUpClass(cls):
        cls.py = PyWsServer()
        cls.pyz = PyWsServer(compression="deflate", subprotocols=["chat", "superchat"])
        cls.pysub = PyWsServer(subprotocols=["binary"])
        cls.nx = Nghttpx(cls.py.port)
        cls.nxs = Nghttpx(cls.py.port, tls=True)
        cls.nxsub = Nghttpx(cls.pysub.port)

    @classmethod
    def tearDownClass(cls):
        cls.nx.close()
        cls.nxs.close()
        cls.nxsub.close()
        cls.py.close()
        cls.pyz.close()
        cls.pysub.close()

    def test_bench_subprotocol_h1(self):
        before = len(self.pysub.seen)
        rc, s, err = bench(["-c", "2", "-d", "1", "--subprotocol", "other", "--subprotocol",
                            "binary", self.pysub.url()])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["subprotocol"], "binary")
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertEqual(self.pysub.seen[before:], [("other, binary", "binary")] * 2)

    def test_bench_subprotocol_h2_via_nghttpx(self):
        before = len(self.pysub.seen)
        rc, s, err = bench(["--http2", "-c", "1", "-m", "3", "-d", "1", "--subprotocol",
                            "binary", f"ws://127.0.0.1:{self.nxsub.port}/"])
        self.assertEqual(rc, 0, err + self.nxsub.log())
        self.assertEqual(s["subprotocol"], "binary")
        self.assertEqual(s["sessions_opened"], 3)
        self.assertEqual(self.pysub.seen[before:], [("binary", "binary")] * 3)

    def test_bench_no_subprotocol_offered_by_default(self):
        before = len(self.pysub.seen)
        rc, s, err = bench(["-c", "1", "-d", "1", self.pysub.url()])
        self.assertEqual(rc, 0, err)
        self.assertIsNone(s["subprotocol"])
        self.assertEqual(self.pysub.seen[before:], [(None, None)])

    def test_echo_h1(self):
        rc, out, err = run([CLIENT, self.py.url()], b"alpha\nbeta\n")
        self.assertEqual((rc, out), (0, b"alpha\nbeta\n"), err)

    def test_subprotocol_and_deflate(self):
        rc, out, err = run([CLIENT, "-v", "--deflate", "--subprotocol", "superchat",
                            "--subprotocol", "chat", self.pyz.url()],
                           b"compressed " * 50 + b"\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"compressed " * 50 + b"\n")
        self.assertIn("> Sec-WebSocket-Protocol: superchat, chat", err)
        self.assertIn("> Sec-WebSocket-Extensions: permessage-deflate", err)
        self.assertRegex(err, r"\* open, subprotocol (super)?chat, deflate: permessage-deflate")

    def test_h2_via_nghttpx(self):
        rc, out, err = run([CLIENT, "-v", "--http2", f"ws://127.0.0.1:{self.nx.port}/"],
                           b"rfc 8441\n")
        self.assertEqual((rc, out), (0, b"rfc 8441\n"), err + self.nx.log())
        self.assertIn("< :status: 200", err)

    def test_h2_tls_alpn_via_nghttpx(self):
        rc, out, err = run([CLIENT, "--http2", "--insecure", f"wss://127.0.0.1:{self.nxs.port}/"],
                           b"tls h2\n")
        self.assertEqual((rc, out), (0, b"tls h2\n"), err + self.nxs.log())

    def test_bench_h1(self):
        rc, s, err = bench(["-c", "2", "--inflight", "2", "-s", "1K", "-d", "2", self.py.url()])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertGreater(s["messages"], 50)

    def test_bench_deflate_text(self):
        rc, s, err = bench(["-c", "2", "--deflate", "--text", "-s", "4K", "-d", "2",
                            self.pyz.url()])
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertGreater(s["messages"], 20)

    def test_bench_h2_many_streams_via_nghttpx(self):
        rc, s, err = bench(["--http2", "-c", "2", "-m", "8", "-d", "2",
                            f"ws://127.0.0.1:{self.nx.port}/"])
        self.assertEqual(rc, 0, err + self.nx.log())
        self.assertEqual(s["errors"]["total"], 0, err)
        self.assertEqual(s["sessions_opened"], 16)
        self.assertGreater(s["messages"], 50)


class ClientVsScripted(unittest.TestCase):
    """Servers that misbehave on purpose: each exit status and check."""

    def scripted(self, script, stdin=b"x\n", args=()):
        s = Scripted(script)
        try:
            return run([CLIENT, "--linger", "2000"] + list(args) + [s.url()], stdin) + (s,)
        finally:
            s.close()

    def test_close_1001_is_success(self):
        def script(c, key, head):
            c.sendall(response_101(key) + server_frame(1, b"bye") +
                      server_frame(8, struct.pack("!H", 1001) + b"going"))
            read_client_frame(c)

        rc, out, err, _ = self.scripted(script, args=["-v"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"bye\n")
        self.assertIn("closed: code 1001, reason: going", err)

    def test_abnormal_close_exit_3(self):
        def script(c, key, head):
            c.sendall(response_101(key) + server_frame(1, b"then gone"))
            c.shutdown(socket.SHUT_RDWR)

        rc, out, err, _ = self.scripted(script)
        self.assertEqual(rc, 3, err)
        self.assertIn("code 1006", err)

    def test_other_close_code_exit_3(self):
        def script(c, key, head):
            c.sendall(response_101(key) + server_frame(8, struct.pack("!H", 1011) + b"oops"))
            read_client_frame(c)

        rc, out, err, _ = self.scripted(script)
        self.assertEqual(rc, 3, err)
        self.assertIn("1011", err)
        self.assertIn("oops", err)

    def test_protocol_error_exit_4(self):
        def script(c, key, head):
            c.sendall(response_101(key) + bytes([0x83, 0x00]))  # reserved opcode 3
            read_client_frame(c)
            time.sleep(0.5)

        rc, out, err, _ = self.scripted(script)
        self.assertEqual(rc, 4, err)

    def test_masked_server_frame_exit_4(self):
        def script(c, key, head):
            c.sendall(response_101(key) + bytes([0x81, 0x82, 1, 2, 3, 4, 0x60, 0x6b]))
            read_client_frame(c)
            time.sleep(0.5)

        rc, out, err, _ = self.scripted(script)
        self.assertEqual(rc, 4, err)

    def test_wrong_accept_exit_2(self):
        def script(c, key, head):
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                      b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            time.sleep(0.5)

        rc, out, err, _ = self.scripted(script)
        self.assertEqual(rc, 2, err)
        self.assertIn("ccept", err)

    def test_unsolicited_subprotocol_exit_2(self):
        def script(c, key, head):
            c.sendall(response_101(key, "Sec-WebSocket-Protocol: other\r\n"))
            time.sleep(0.5)

        rc, out, err, _ = self.scripted(script, args=["--subprotocol", "mine"])
        self.assertEqual(rc, 2, err)

    def test_headers_sent(self):
        def script(c, key, head):
            c.sendall(response_101(key) + server_frame(8, struct.pack("!H", 1000)))
            read_client_frame(c)

        rc, out, err, s = self.scripted(script, args=["--header", "X-Trace: abc 123",
                                                      "--header", "Origin: https://example.com"])
        self.assertEqual(rc, 0, err)
        head = s.requests[0].decode()
        self.assertTrue(head.startswith("GET /x HTTP/1.1\r\n"), head)
        self.assertIn("\r\nX-Trace: abc 123\r\n", head)
        self.assertIn("\r\nOrigin: https://example.com\r\n", head)
        self.assertIn(f"\r\nHost: 127.0.0.1:{s.port}\r\n", head)

    def test_bench_detects_corruption(self):
        def script(c, key, head):
            c.sendall(response_101(key))
            n = 0
            while True:
                f = read_client_frame(c)
                if f is None or f[0] == 8:
                    c.sendall(server_frame(8, struct.pack("!H", 1000)))
                    return
                op, payload = f
                n += 1
                if n == 5:
                    payload = payload[:10] + bytes([payload[10] ^ 1]) + payload[11:]
                c.sendall(server_frame(op, payload))

        s = Scripted(script)
        try:
            rc, summary, err = bench(["-c", "1", "-d", "1", s.url()])
        finally:
            s.close()
        self.assertEqual(rc, 1, err)
        self.assertEqual(summary["errors"]["data"], 1, err)
        self.assertGreater(summary["messages"], 5)


class BenchIdleRefused(unittest.TestCase):
    """--idle against a server that refuses every third session: the
    sessions settle (open or failed), the hold starts then, and the run
    ends at --duration instead of waiting for sessions that never come."""

    def test_settles_and_ends(self):
        lock = threading.Lock()
        count = [0]

        def script(c, key, head):
            with lock:
                count[0] += 1
                n = count[0]
            if n % 3 == 0:
                c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
                return
            c.sendall(response_101(key))
            while True:
                f = read_client_frame(c)
                if f is None:
                    return
                if f[0] == 8:
                    c.sendall(server_frame(8, f[1][:2]))
                    return

        s = Scripted(script)
        try:
            rc, summary, err, took = bench_timed(["-c", "9", "--idle", "-d", "1", s.url()])
        finally:
            s.close()
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r"6 sessions open after [\d.]+ s, 3 failed \(all 9 settled\)")
        self.assertNotIn("all 9 sessions open", err)
        self.assertEqual(summary["sessions_opened"], 6)
        self.assertEqual(summary["sessions_failed"], 3)
        self.assertEqual(summary["errors"]["handshake"], 3, err)
        self.assertIsNone(summary["all_open_s"])
        self.assertIsNotNone(summary["settled_s"])
        # Held for --duration from the settling, then closed cleanly.
        self.assertGreaterEqual(summary["duration_s"], 1.0)
        self.assertLessEqual(took, 1 + summary["settled_s"] + SLACK, err)


class H2Server:
    """An HTTP/2 server on the Python h2 library that allows extended
    CONNECT (RFC 8441) and answers every request with 200; what happens
    next is the subclass's on_data.  One thread per connection.  The
    client's DATA is acknowledged only when ack is set."""

    window = 65535  # SETTINGS_INITIAL_WINDOW_SIZE we advertise
    ack = True

    def __init__(self):
        import h2.config
        import h2.connection
        import h2.events
        import h2.settings
        self.h2 = h2
        self.lock = threading.Lock()
        self.connections = 0
        self.streams = 0
        self.resets_received = 0
        self.goaways = 0
        self.srv = harness.TcpServer(self._serve)
        self.port = self.srv.port

    def url(self):
        return f"ws://127.0.0.1:{self.port}/x"

    def close(self):
        self.srv.close()

    def _serve(self, sock):
        h2 = self.h2
        codes = h2.settings.SettingCodes
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.local_settings = h2.settings.Settings(client=False, initial_values={
            codes.MAX_CONCURRENT_STREAMS: 1000, codes.ENABLE_CONNECT_PROTOCOL: 1,
            codes.INITIAL_WINDOW_SIZE: self.window})
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        with self.lock:
            self.connections += 1
        sock.settimeout(None)
        try:
            while True:
                d = sock.recv(65536)
                if not d:
                    return
                for ev in conn.receive_data(d):
                    if isinstance(ev, h2.events.RequestReceived):
                        conn.send_headers(ev.stream_id, [(":status", "200")])
                        with self.lock:
                            self.streams += 1
                    elif isinstance(ev, h2.events.DataReceived):
                        if self.ack:
                            conn.acknowledge_received_data(ev.flow_controlled_length,
                                                           ev.stream_id)
                        if self.on_data(conn, ev.stream_id) == "close":
                            sock.sendall(conn.data_to_send())
                            return
                    elif isinstance(ev, h2.events.StreamReset):
                        with self.lock:
                            self.resets_received += 1
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        with self.lock:
                            self.goaways += 1
                sock.sendall(conn.data_to_send())
        except (h2.exceptions.ProtocolError, OSError):
            return

    def on_data(self, conn, sid):
        return None


class H2Aborting(H2Server):
    """Resets every stream when its first message arrives, and drops the
    whole connection at every fifth stream."""

    def __init__(self):
        self.seen = set()
        super().__init__()

    def on_data(self, conn, sid):
        with self.lock:
            if (id(conn), sid) in self.seen:
                return None
            self.seen.add((id(conn), sid))
            n = len(self.seen)
        if n % 5 == 0:
            return "close"
        conn.reset_stream(sid, error_code=8)  # CANCEL
        return None


class H2EndsWhileStuck(H2Server):
    """Grants the client 4 KiB per stream and never more; on a stream's
    first DATA it sends a WebSocket close and END_STREAM.  The client
    completes the close handshake, but its close frame and END_STREAM
    sit behind flow control for good: the library must reset such a
    lingering stream and close the connection normally."""

    window = 4096
    ack = False

    def __init__(self):
        self.done = set()
        super().__init__()

    def on_data(self, conn, sid):
        if (id(conn), sid) in self.done:
            return None
        self.done.add((id(conn), sid))
        conn.send_data(sid, server_frame(8, struct.pack("!H", 1000)), end_stream=True)
        return None


class BenchH2Faults(unittest.TestCase):
    def test_connect_rate_keeps_cycling_after_aborts(self):
        srv = H2Aborting()
        try:
            rc, s, err, took = bench_timed(["--http2", "-c", "2", "-m", "4", "--connect-rate",
                                            "-d", "2", "-q", srv.url()])
        finally:
            srv.close()
        self.assertEqual(rc, 1, err)
        self.assertLessEqual(took, 2 + GRACE + SLACK, err)
        # Far more cycles than the 8 streams: each abort opened the next.
        self.assertGreater(s["sessions_opened"], 40, err)
        self.assertGreater(s["errors"]["closed"], 30, err)
        # Dropped connections were replaced.
        self.assertGreater(srv.connections, 5)

    def test_stream_stuck_behind_flow_control_is_reset(self):
        srv = H2EndsWhileStuck()
        try:
            rc, s, err, took = bench_timed(["--http2", "-c", "1", "-m", "4", "-s", "64K",
                                            "-d", "3.5", srv.url()])
        finally:
            srv.close()
        self.assertLessEqual(took, 3.5 + GRACE + SLACK, err)
        self.assertEqual(s["sessions_opened"], 4, err)
        self.assertEqual(s["errors"]["closed"], 4, err)
        # Reset by the library's linger (2 s) before the deadline, so the
        # connection then closed with a GOAWAY rather than an abort.
        wait_for = time.monotonic() + 2
        while srv.goaways == 0 and time.monotonic() < wait_for:
            time.sleep(0.05)
        self.assertEqual(srv.resets_received, 4)
        self.assertEqual(srv.goaways, 1)


class H2NoConnectProtocol(unittest.TestCase):
    """An HTTP/2 server without SETTINGS_ENABLE_CONNECT_PROTOCOL: the
    client must fail clearly and never send the CONNECT."""

    def test_refused_clearly(self):
        import h2.config
        import h2.connection
        import h2.events

        got_request = []
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.settimeout(T)
        port = lsock.getsockname()[1]

        def serve():
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            conn.initiate_connection()
            c.sendall(conn.data_to_send())
            c.settimeout(5)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    for ev in conn.receive_data(d):
                        if isinstance(ev, h2.events.RequestReceived):
                            got_request.append(ev)
                    c.sendall(conn.data_to_send())
            except (OSError, Exception):
                pass
            c.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        rc, out, err = run([CLIENT, "--http2", f"ws://127.0.0.1:{port}/echo"], b"x\n")
        t.join(10)
        lsock.close()
        self.assertEqual(rc, 2, err)
        self.assertIn("ENABLE_CONNECT_PROTOCOL", err)
        self.assertEqual(got_request, [])


if __name__ == "__main__":
    harness.main()

"""Shared helpers for the wsgate integration tests.

Every test starts the real daemon (WSGATE, default build/wsgate) from a
config file written into a private temp dir, on free loopback ports, and
talks to it with independent clients.  Processes are cleaned up by PID;
every wait is bounded in time.
"""
import atexit
import os
import resource
import signal
import signal as signal_mod  # the Daemon.signal method shadows the module name in the class body
import socket
import subprocess
import tempfile
import threading
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WSGATE = os.path.abspath(os.environ.get("WSGATE", os.path.join(ROOT, "build", "wsgate")))
NODE_DIR = os.path.dirname(os.path.abspath(__file__))
# WSGATE_VALGRIND=1 runs the daemon under valgrind's memcheck: a memory
# error or a definite/indirect leak makes it exit 99, and stop() fails.
VALGRIND = os.environ.get("WSGATE_VALGRIND") == "1"
VALGRIND_CMD = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect", "--track-fds=no",
                "--num-callers=30"]
# Under ASan the daemon is slower, under valgrind much slower; scale the
# time bounds.
SLOW = 10 if VALGRIND else 3 if "asan" in WSGATE else 1
# Sanitizer reports in the daemon's stderr (a leak at exit, an invalid
# access, undefined behaviour); stop() fails the test when it sees one,
# whatever exit status the test expects.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# Temp dirs made by this process, removed at exit (keep them with
# WSGATE_KEEP_TMP=1 to look at daemon logs after a run).
_tmpdirs = []


def _remove_tmpdirs():
    if os.environ.get("WSGATE_KEEP_TMP"):
        return
    import shutil
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_tmpdirs)

_cert_lock = threading.Lock()
_cert_dir = None


def self_signed_cert():
    """A self-signed certificate for 127.0.0.1/localhost, made once per run."""
    global _cert_dir
    with _cert_lock:
        if _cert_dir is None:
            d = tempfile.mkdtemp(prefix="wsgate-cert-")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                 "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-keyout", os.path.join(d, "key.pem"),
                 "-out", os.path.join(d, "cert.pem")],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _cert_dir = d
            _tmpdirs.append(d)
        return os.path.join(_cert_dir, "cert.pem"), os.path.join(_cert_dir, "key.pem")


def wait_port(host, port, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port}")


class Daemon:
    """The real wsgate, started from a config text.

    The text may use {port}, {tls_port}, {cert}, {key}, {dir} and any
    extra keyword given; ports are picked free.  Use as a context manager.
    """

    def __init__(self, conf, tls=False, wait=True, nofile=None, **extra):
        self.dir = tempfile.mkdtemp(prefix="wsgate-it-")
        _tmpdirs.append(self.dir)
        self.port = free_port()
        self.tls_port = free_port()
        cert, key = self_signed_cert() if tls or "{cert}" in conf else ("", "")
        self.values = dict(port=self.port, tls_port=self.tls_port, cert=cert, key=key,
                           dir=self.dir, **extra)
        self.conf_path = os.path.join(self.dir, "wsgate.conf")
        self.write_conf(conf)
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.wait = wait
        self.nofile = nofile  # (soft, hard) RLIMIT_NOFILE for the daemon, or None

    def write_conf(self, conf):
        with open(self.conf_path, "w") as f:
            f.write(conf.format(**self.values))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.logf = open(self.log_path, "ab")
        cmd = [WSGATE, "-c", self.conf_path]
        if VALGRIND:
            # Its own log file, so that tests reading stderr see only the daemon.
            self.vg_log_path = os.path.join(self.dir, "valgrind.%d.log" % time.monotonic_ns())
            cmd = VALGRIND_CMD + ["--log-file=" + self.vg_log_path] + cmd
        env = dict(os.environ)
        # Leaks at exit are reported by LeakSanitizer with an exit status no
        # test expects (a config error is 1); later options win, so the
        # caller's own ASAN_OPTIONS still apply.
        env["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=86:" + env.get("ASAN_OPTIONS", "")
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:" + env.get("UBSAN_OPTIONS", "")
        limit = None
        if self.nofile is not None:
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)
        self.proc = subprocess.Popen(cmd, stdout=self.logf, env=env, preexec_fn=limit,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.checked = False
        if self.wait:
            self.wait_ready()

    def wait_ready(self, count=1, timeout=10.0):
        """Wait for the daemon's count-th "wsgate: ready" line (printed once
        every listener is bound).  Probing the port instead would take a
        connection slot and could turn a test's own request into a 503."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.log().count("wsgate: ready") >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError("daemon did not start:\n" + self.log())

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, sig=signal_mod.SIGTERM, timeout=15.0):
        """Stop the daemon; returns its exit status."""
        if self.proc is None:
            return None
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                killed = True
        self.logf.close()
        if not self.checked:
            self.checked = True
            self.check_memory(killed and sig in (signal_mod.SIGTERM, signal_mod.SIGINT))
        return self.proc.returncode

    def check_memory(self, killed):
        """Fail on a sanitizer report in the log, or on a valgrind error
        or leak; a daemon that had to be killed was never leak-checked."""
        log = self.log()
        for m in SANITIZER_MARKERS:
            if m in log:
                raise AssertionError(f"sanitizer report ({m}) from the daemon:\n{log[-8000:]}")
        if not VALGRIND:
            return
        if killed:
            raise AssertionError("daemon did not exit on SIGTERM/SIGINT under valgrind; "
                                 "killed, so it was never leak-checked:\n" + log[-3000:])
        with open(self.vg_log_path, encoding="utf-8", errors="replace") as f:
            vg = f.read()
        if self.proc.returncode == 99 or "ERROR SUMMARY: 0 errors" not in vg:
            raise AssertionError(f"valgrind found errors (exit {self.proc.returncode}):\n{vg[-12000:]}")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def url(self, path, tls=False):
        if tls:
            return f"wss://127.0.0.1:{self.tls_port}{path}"
        return f"ws://127.0.0.1:{self.port}{path}"


def insecure_ssl():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def raw_request(port, data, read_timeout=5.0, host="127.0.0.1"):
    """Send raw bytes, return everything the server sends until it closes
    (or read_timeout passes)."""
    with socket.create_connection((host, port), timeout=read_timeout * SLOW) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + read_timeout * SLOW
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def status_of(response):
    line = response.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def upgrade_request(path="/echo", host="127.0.0.1", key="dGhlIHNhbXBsZSBub25jZQ==",
                    version="13", extra=""):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n").encode()


class TcpServer:
    """A backend in a thread: accepts connections and runs handler(conn)
    for each in its own thread.  Binds 127.0.0.1 or a unix path."""

    def __init__(self, handler, unix_path=None):
        self.handler = handler
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.address = f"unix:{unix_path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.address = f"tcp:127.0.0.1:{self.port}"
        self.sock.listen(1024)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(c)
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            self.handler(c)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def echo_handler(c):
    while True:
        b = c.recv(65536)
        if not b:
            c.shutdown(socket.SHUT_WR)
            return
        c.sendall(b)


def main():
    """Run the unittest cases of the calling module; print the plain
    closing line the CI reads and exit non-zero on failure."""
    import __main__
    suite = unittest.defaultTestLoader.loadTestsFromModule(__main__)
    res = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    if res.skipped:
        failed += len(res.skipped)  # a skipped check is a defect here
    print(f"{os.path.basename(__main__.__file__)}: {max(0, res.testsRun - failed)} passed, {failed} failed")
    raise SystemExit(1 if failed else 0)


# ---- helpers added for the issue-3 suites ----

def run_async(coro, timeout):
    """Run a coroutine with a hard bound (scaled by SLOW)."""
    import asyncio

    async def bounded():
        return await asyncio.wait_for(coro, timeout * SLOW)

    return asyncio.run(bounded())


def read_until_eof(sock, timeout=5.0):
    """Everything the peer sends until it closes; raises AssertionError if
    it has not closed within timeout (scaled by SLOW)."""
    chunks = []
    deadline = time.monotonic() + timeout * SLOW
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("peer did not close the connection in time; got %r"
                                 % b"".join(chunks)[:300])
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            raise AssertionError("connection reset instead of a clean close; got %r"
                                 % b"".join(chunks)[:300])
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def request_until_eof(port, data, timeout=5.0, host="127.0.0.1"):
    """Send raw bytes and return the whole answer, asserting that the
    server closes the connection cleanly (FIN, not RST, not a hang)."""
    with socket.create_connection((host, port), timeout=timeout * SLOW) as s:
        s.sendall(data)
        return read_until_eof(s, timeout)


def header_of(response, name):
    """Value of the first header called name in a raw HTTP response head."""
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def access_lines(daemon):
    """Access-log lines (they start with an ISO time) from the daemon's stderr."""
    import re
    return [l for l in daemon.log().splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", l)]


def wait_for(pred, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


class RawWs:
    """A minimal WebSocket client over a plain socket, for tests that need
    to control exactly when bytes are read or written (backpressure) or
    to send what a library would not.  Client frames are masked."""

    def __init__(self, port, path="/echo", host="127.0.0.1", rcvbuf=None, sndbuf=None,
                 timeout=10.0, extra=""):
        import base64
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(upgrade_request(path, host=f"{host}:{port}", key=key, extra=extra))
        head = b""
        while b"\r\n\r\n" not in head:
            b = self.sock.recv(1)  # byte by byte: leave the frames unread
            if not b:
                raise AssertionError(f"closed during the handshake: {head!r}")
            head += b
        self.response = head
        self.status = status_of(head)
        self.buf = bytearray()

    @staticmethod
    def frame(opcode, payload, fin=True, mask=True):
        import struct
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            h = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            h = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            h = struct.pack("!BBQ", b0, mbit | 127, n)
        if not mask:
            return h + payload
        key = os.urandom(4)
        return h + key + mask_bytes(payload, key)

    def send(self, opcode, payload, fin=True):
        self.sock.sendall(self.frame(opcode, payload, fin))

    def _fill(self, n):
        while len(self.buf) < n:
            b = self.sock.recv(1 << 20)
            if not b:
                raise EOFError("connection closed mid-frame")
            self.buf += b

    def recv_frame(self):
        """(fin, opcode, payload) of the next frame (server frames are
        unmasked; a masked one is an error)."""
        self._fill(2)
        b0, b1 = self.buf[0], self.buf[1]
        self.last_rsv = b0 & 0x70  # RSV bits of the frame returned
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._fill(4)
            n, off = int.from_bytes(self.buf[2:4], "big"), 4
        elif n == 127:
            self._fill(10)
            n, off = int.from_bytes(self.buf[2:10], "big"), 10
        self._fill(off + n)
        payload = bytes(self.buf[off:off + n])
        del self.buf[:off + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def close(self):
        self.sock.close()


def mask_bytes(payload, key):
    """XOR payload with the 4-byte key, fast enough for MiBs."""
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def close_payload(data):
    """(code, reason) of a close frame payload; code None if empty."""
    if len(data) < 2:
        return None, b""
    return int.from_bytes(data[:2], "big"), data[2:]


# ---- helpers added for the issue-5 fault and abuse suites ----

def probe_main(port, path="/echo", interval=0.05, handshakes=True):
    """Body of the EchoProbe child process (run with python3 -c): one
    WebSocket session doing a round trip every interval, and (with
    handshakes) a fresh connection with one round trip every second,
    until stdin closes; then one JSON line with the results."""
    import json
    import sys

    res = {"n": 0, "max_rtt": 0.0, "fresh": 0, "max_fresh": 0.0, "max_gap": 0.0, "errors": []}
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    def round_trip(ws, i):
        payload = f"probe {i} {time.monotonic()}".encode()
        t0 = time.monotonic()
        ws.send(0x1, payload)
        while True:
            fin, op, data = ws.recv_frame()
            if op == 0x9:
                ws.send(0xA, data)
                continue
            if op != 0x1 or data != payload:
                raise AssertionError(f"probe got opcode {op} {data[:60]!r}")
            return time.monotonic() - t0

    ws = None
    try:
        ws = RawWs(port, path, timeout=5.0)
        if ws.status != 101:
            raise AssertionError(f"probe handshake: {ws.response[:100]!r}")
    except Exception as e:  # reported, not raised: the parent asserts
        res["errors"].append(f"connect: {e!r}")
    print("ready", flush=True)
    i = 0
    next_fresh = time.monotonic() + 1.0
    last_end = time.monotonic()
    while ws is not None and not stop.is_set():
        i += 1
        # Time between round trips beyond the interval: a probe that was
        # not scheduled measured nothing meanwhile.
        res["max_gap"] = max(res["max_gap"], time.monotonic() - last_end - interval)
        try:
            rtt = round_trip(ws, i)
            last_end = time.monotonic()
            res["n"] += 1
            res["max_rtt"] = max(res["max_rtt"], rtt)
        except Exception as e:
            res["errors"].append(f"round trip {i}: {e!r}")
            break
        if handshakes and time.monotonic() >= next_fresh:
            next_fresh = time.monotonic() + 1.0
            t0 = time.monotonic()
            try:
                f = RawWs(port, path, timeout=5.0)
                try:
                    if f.status != 101:
                        raise AssertionError(f"status {f.status}")
                    round_trip(f, i)
                finally:
                    f.close()
                res["fresh"] += 1
                res["max_fresh"] = max(res["max_fresh"], time.monotonic() - t0)
                last_end = time.monotonic()
            except Exception as e:
                res["errors"].append(f"fresh connection {i}: {e!r}")
        stop.wait(interval)
    if ws is not None:
        ws.close()
    print(json.dumps(res), flush=True)


class EchoProbe:
    """A concurrent echo probe in its own process (so that the attack's
    Python threads cannot slow it through the GIL): round trips every
    50 ms on one session, plus a fresh handshake every second unless
    handshakes=False.  Use as a context manager around the attack, then
    call check(testcase)."""

    def __init__(self, port, path="/echo", interval=0.05, handshakes=True):
        import sys
        code = (f"import harness; harness.probe_main({port}, {path!r}, {interval}, "
                f"{handshakes})")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=NODE_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            self.proc.kill()
            raise AssertionError(f"probe did not start: {line!r}")
        self.started = time.monotonic()
        self.result = None

    def stop(self, min_seconds=1.0):
        """End the probe, after it ran at least min_seconds (so that a
        short attack is still measured with a useful number of rounds,
        including the time right after it)."""
        import json
        if self.result is None:
            time.sleep(max(0.0, self.started + min_seconds - time.monotonic()))
            self.proc.stdin.close()
            try:
                self.proc.wait(15 * SLOW)  # its output is one short line: no pipe stall
                out = self.proc.stdout.read()
                self.proc.stdout.close()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.result = {"n": 0, "max_rtt": 0, "fresh": 0, "max_fresh": 0,
                               "errors": ["probe hung"]}
                return self.result
            lines = out.decode("utf-8", "replace").strip().splitlines()
            try:
                self.result = json.loads(lines[-1])
            except (ValueError, IndexError):
                self.result = {"n": 0, "max_rtt": 0, "fresh": 0, "max_fresh": 0,
                               "errors": [f"probe output: {out[-500:]!r}"]}
        return self.result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def check(self, tc, max_rtt=0.5, min_rounds=10):
        """Assert the probe never failed, did at least min_rounds round
        trips and none took max_rtt seconds or more (scaled by SLOW);
        fresh handshakes (with one round trip) get twice that."""
        r = self.stop()
        print(f"\n  probe: {r['n']} round trips, max {r['max_rtt'] * 1000:.1f} ms; "
              f"{r['fresh']} fresh connections, max {r['max_fresh'] * 1000:.1f} ms; "
              f"longest pause {r.get('max_gap', 0) * 1000:.0f} ms", flush=True)
        tc.assertEqual(r["errors"], [], "the echo probe failed")
        tc.assertGreaterEqual(r["n"], min_rounds, "the echo probe made too few round trips")
        tc.assertLess(r["max_rtt"], max_rtt * SLOW, "an echo probe round trip was too slow")
        tc.assertLess(r["max_fresh"], 2 * max_rtt * SLOW, "a fresh probe connection was too slow")
        return r


class RssMonitor:
    """Samples the daemon's VmRSS every 20 ms in a thread; max_kb is the
    peak seen.  Use as a context manager."""

    def __init__(self, daemon, step=0.02):
        self.daemon = daemon
        self.step = step
        self.base_kb = daemon.rss_kb()
        self.max_kb = self.base_kb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.max_kb = max(self.max_kb, self.daemon.rss_kb())
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.step)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        return self.max_kb - self.base_kb

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def check(self, tc, limit_mib, what="the attack"):
        grew = self.stop()
        print(f"  rss: base {self.base_kb // 1024} MiB, peak {self.max_kb // 1024} MiB "
              f"(+{grew / 1024:.1f} MiB) during {what}", flush=True)
        tc.assertLess(grew, limit_mib * 1024, f"daemon RSS grew by {grew} KiB during {what}")


def settle_fds(daemon, baseline, timeout=5.0):
    """Wait until the daemon holds at most baseline descriptors again;
    fails with the listing of what is still open."""
    deadline = time.monotonic() + timeout * SLOW
    n = daemon.fd_count()
    while time.monotonic() < deadline:
        n = daemon.fd_count()
        if n <= baseline:
            return n
        time.sleep(0.05)
    fds = {}
    d = f"/proc/{daemon.proc.pid}/fd"
    for name in os.listdir(d):
        try:
            fds[name] = os.readlink(os.path.join(d, name))
        except OSError:
            pass
    raise AssertionError(f"daemon holds {n} descriptors, baseline {baseline}: {fds}")


def rst_close(sock):
    """Close a socket with a TCP reset (SO_LINGER 0) instead of a FIN."""
    import struct
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()

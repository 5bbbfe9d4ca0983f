#!/usr/bin/python3
"""Operation by signals: SIGHUP reload with live sessions surviving, a new
route and a new certificate taking effect, an invalid config refused with
the old one kept; SIGTERM/SIGINT closing sessions with 1001 and exit 0."""
import asyncio
import os
import re
import signal
import socket
import subprocess
import time
import unittest

import harness
import websockets

BASE = """
[server]
workers = 2
shutdown_timeout = 1s
[listen plain]
address = 127.0.0.1:{port}
[listen tls]
address = 127.0.0.1:{tls_port}
tls_certificate = {dir}/cert.pem
tls_key = {dir}/key.pem
[route echo]
path = /echo
backend = echo
"""

NEW_ROUTE = """
[route fresh]
path = /fresh
backend = echo
"""


def make_cert(d, cn):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={cn}", "-keyout", os.path.join(d, "key.pem.new"),
         "-out", os.path.join(d, "cert.pem.new")],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.replace(os.path.join(d, "key.pem.new"), os.path.join(d, "key.pem"))
    os.replace(os.path.join(d, "cert.pem.new"), os.path.join(d, "cert.pem"))


def served_cert(port):
    ctx = harness.insecure_ssl()
    with socket.create_connection(("127.0.0.1", port), timeout=5 * harness.SLOW) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def upgrade_status(port, path):
    return harness.status_of(harness.raw_request(port, harness.upgrade_request(path),
                                                 read_timeout=0.5))


class SignalTest(unittest.TestCase):
    def daemon(self, conf=BASE):
        d = harness.Daemon(conf, wait=False)
        make_cert(d.dir, "first")
        d.wait = True
        d.start()

        def stop():
            rc = d.stop()
            self.assertEqual(rc, 0, f"daemon exit status {rc}\n{d.log()}")

        self.addCleanup(stop)
        return d

    def reload(self, d, conf, expect):
        """Rewrite the config, SIGHUP, wait for the log line matching expect."""
        before = len(re.findall(expect, d.log()))
        d.write_conf(conf)
        d.signal(signal.SIGHUP)
        harness.wait_for(lambda: len(re.findall(expect, d.log())) > before, 10,
                         f"the reload outcome {expect!r} in the log")
        time.sleep(0.2)  # let the workers pick it up

    def test_sighup_reload_keeps_sessions(self):
        d = self.daemon()
        self.assertEqual(upgrade_status(d.port, "/fresh"), 404)
        cert_before = served_cert(d.tls_port)

        async def go():
            plain = await websockets.connect(d.url("/echo"), compression=None)
            tls = await websockets.connect(d.url("/echo", True), ssl=harness.insecure_ssl(),
                                           compression=None)
            for ws in (plain, tls):
                await ws.send("before")
                self.assertEqual(await ws.recv(), "before")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, make_cert, d.dir, "second")
            await loop.run_in_executor(None, self.reload, d, BASE + NEW_ROUTE, r"reloaded")
            # Sessions opened before the reload keep working after it.
            for ws in (plain, tls):
                for i in range(10):
                    await ws.send(f"after {i}")
                    self.assertEqual(await ws.recv(), f"after {i}")
                await ws.send(os.urandom(300000))
                self.assertEqual(len(await ws.recv()), 300000)
            # The new route takes effect, the old one still works.
            async with websockets.connect(d.url("/fresh"), compression=None) as ws:
                await ws.send("fresh")
                self.assertEqual(await ws.recv(), "fresh")
            async with websockets.connect(d.url("/echo", True), ssl=harness.insecure_ssl(),
                                          compression=None) as ws:
                await ws.send("tls")
                self.assertEqual(await ws.recv(), "tls")
            for ws in (plain, tls):
                await ws.close()
                self.assertEqual(ws.close_code, 1000)

        harness.run_async(go(), 40)
        cert_after = served_cert(d.tls_port)
        self.assertNotEqual(cert_before, cert_after, "SIGHUP did not reload the certificate")
        self.assertIsNone(d.proc.poll())

    def test_sighup_invalid_config_refused(self):
        d = self.daemon()
        bad = BASE + NEW_ROUTE + "bogus_key = 1\n"
        bad_line = bad.count("\n")  # the last line holds the unknown key

        async def go():
            async with websockets.connect(d.url("/echo"), compression=None) as ws:
                await ws.send("one")
                self.assertEqual(await ws.recv(), "one")
                await asyncio.get_running_loop().run_in_executor(
                    None, self.reload, d, bad, r"refused")
                await ws.send("two")
                self.assertEqual(await ws.recv(), "two")
                await ws.close()

        harness.run_async(go(), 30)
        self.assertIsNone(d.proc.poll(), "daemon died on a bad reload:\n" + d.log())
        self.assertIn(f"{d.conf_path}:{bad_line}:", d.log())
        # Old routes still work; the route of the refused config does not exist.
        self.assertEqual(upgrade_status(d.port, "/echo"), 101)
        self.assertEqual(upgrade_status(d.port, "/fresh"), 404)
        # A later valid reload still works.
        self.reload(d, BASE + NEW_ROUTE, r"reloaded")
        self.assertEqual(upgrade_status(d.port, "/fresh"), 101)

    def stop_with(self, sig):
        d = self.daemon()

        async def go():
            sessions = [await websockets.connect(d.url("/echo"), compression=None)
                        for _ in range(3)]
            sessions.append(await websockets.connect(d.url("/echo", True),
                                                     ssl=harness.insecure_ssl(),
                                                     compression=None))
            for ws in sessions:
                await ws.send("x")
                self.assertEqual(await ws.recv(), "x")
            t0 = time.monotonic()
            d.signal(sig)
            for ws in sessions:
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10 * harness.SLOW)
                self.assertEqual(ws.close_code, 1001, f"close code {ws.close_code}")
            return time.monotonic() - t0

        took = harness.run_async(go(), 30)
        # shutdown_timeout = 1s: the sessions may drain for 1s first.
        self.assertLess(took, 5 * harness.SLOW)
        try:
            rc = d.proc.wait(10 * harness.SLOW)
        except subprocess.TimeoutExpired:
            self.fail("daemon did not exit after the drain:\n" + d.log())
        self.assertEqual(rc, 0, d.log())
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), timeout=1).close()

    def test_sigterm_closes_with_1001_and_exits_0(self):
        self.stop_with(signal.SIGTERM)

    def test_sigint_closes_with_1001_and_exits_0(self):
        self.stop_with(signal.SIGINT)


if __name__ == "__main__":
    harness.main()

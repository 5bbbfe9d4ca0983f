#!/usr/bin/python3
"""permessage-deflate (RFC 7692) with Python websockets on a route that
enables it, checked on the wire with zlib, and not negotiated on a route
without it."""
import os
import unittest
import zlib

import harness
import websockets

CONF = """
[server]
workers = 2
[listen plain]
address = 127.0.0.1:{port}
[listen tls]
address = 127.0.0.1:{tls_port}
tls_certificate = {cert}
tls_key = {key}
[route deflate]
path = /deflate
backend = echo
permessage_deflate = on
[route plain]
path = /plain
backend = echo
"""

MIB = 1 << 20


def payloads():
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog ✓\n"
                   for i in range(MIB // 50))[:MIB]
    return ["hi", "", "héllo" * 100, b"\x00\x01\x02", b"", os.urandom(1000),
            text, text.encode(), os.urandom(MIB), b"\x00" * MIB]


class DeflateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(CONF, tls=True)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daemon exit status {rc}\n{cls.d.log()}"

    def roundtrip(self, path, tls, expect_deflate):
        async def go():
            async with websockets.connect(
                    self.d.url(path, tls), ssl=harness.insecure_ssl() if tls else None,
                    max_size=None, compression="deflate") as ws:
                ext = ws.response_headers.get("Sec-WebSocket-Extensions")
                if expect_deflate:
                    self.assertIsNotNone(ext)
                    self.assertIn("permessage-deflate", ext)
                    self.assertTrue(ws.extensions, "client did not activate deflate")
                else:
                    self.assertIsNone(ext)
                    self.assertFalse(ws.extensions)
                for m in payloads():
                    await ws.send(m)
                    r = await ws.recv()
                    self.assertEqual(type(r), type(m))
                    self.assertTrue(r == m, f"payload of {len(m)} differs")
                # Many messages in flight (context takeover across them).
                msgs = [f"message {i} " * (i % 7 + 1) for i in range(200)]
                for m in msgs:
                    await ws.send(m)
                for m in msgs:
                    self.assertEqual(await ws.recv(), m)
                await ws.close()
            self.assertEqual(ws.close_code, 1000)

        harness.run_async(go(), 60)

    def test_deflate_ws(self):
        self.roundtrip("/deflate", False, True)

    def test_deflate_wss(self):
        self.roundtrip("/deflate", True, True)

    def test_not_negotiated_without_route_option(self):
        self.roundtrip("/plain", False, False)

    def test_on_the_wire(self):
        """Raw client: our compressed frame is inflated by the daemon and
        its answer carries RSV1 and inflates to the same bytes."""
        ws = harness.RawWs(self.d.port, "/deflate",
                           extra="Sec-WebSocket-Extensions: permessage-deflate; "
                                 "client_no_context_takeover\r\n")
        try:
            self.assertEqual(ws.status, 101, ws.response)
            ext = harness.header_of(ws.response, "Sec-WebSocket-Extensions")
            self.assertIsNotNone(ext, ws.response)
            self.assertTrue(ext.startswith("permessage-deflate"), ext)
            msg = b"compress me please " * 500
            co = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = co.compress(msg) + co.flush(zlib.Z_SYNC_FLUSH)
            self.assertTrue(comp.endswith(b"\x00\x00\xff\xff"))
            f = bytearray(ws.frame(2, comp[:-4]))
            f[0] |= 0x40  # RSV1: compressed message
            ws.sock.sendall(bytes(f))
            # The echo may fragment the message: RSV1 on its first frame
            # only, continuations after it.
            fin, op, p = ws.recv_frame()
            self.assertEqual(op, 2)
            self.assertEqual(ws.last_rsv, 0x40, "answer not compressed")
            while not fin:
                fin, op, more = ws.recv_frame()
                self.assertEqual(op, 0)
                self.assertEqual(ws.last_rsv, 0, "RSV1 on a continuation frame")
                p += more
            self.assertLess(len(p), len(msg) // 10)
            do = zlib.decompressobj(-15)
            self.assertEqual(do.decompress(p + b"\x00\x00\xff\xff"), msg)
            ws.send(8, (1000).to_bytes(2, "big"))
            fin, op, p = ws.recv_frame()
            self.assertEqual(op, 8)
            self.assertEqual(ws.last_rsv, 0, "control frame with RSV bits")
        finally:
            ws.close()

    def test_not_negotiated_raw(self):
        ws = harness.RawWs(self.d.port, "/plain",
                           extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
        try:
            self.assertEqual(ws.status, 101, ws.response)
            self.assertIsNone(harness.header_of(ws.response, "Sec-WebSocket-Extensions"))
        finally:
            ws.close()


if __name__ == "__main__":
    harness.main()

#!/usr/bin/python3
"""Reference and deliberately broken echo servers for validating the suite.

Usage: echo_server.py PORT_FILE [MODE] -- binds 127.0.0.1 on a free port,
writes the port number to PORT_FILE once listening, serves until killed.

Modes:
  websockets  Python websockets (Debian python3-websockets 10.4, asyncio
              API) echoing every message, with its default
              permessage-deflate support: the independent reference.
  no-deflate  the same without permessage-deflate (12/13 must be
              UNIMPLEMENTED).
  lie-nct     accepts server_no_context_takeover but keeps its
              compression context (13.2 must be FAILED).
  lie-window  accepts server_max_window_bits=N but compresses with a
              15-bit window (13.3 must be FAILED).
  blind       a raw echo that checks nothing: echoes data frames as they
              are, answers pings, echoes any close (every "fail the
              connection" case must be FAILED).
"""
import asyncio
import base64
import hashlib
import os
import socket
import struct
import sys
import threading

import websockets
from websockets.extensions import permessage_deflate as pmd


class LyingFactory(pmd.ServerPerMessageDeflateFactory):
    """Answers the offer like websockets does, then compresses against it."""

    def __init__(self, lie):
        super().__init__()
        self.lie = lie

    def process_request_params(self, params, accepted_extensions):
        response, ext = super().process_request_params(params, accepted_extensions)
        local_nct = ext.local_no_context_takeover
        local_bits = ext.local_max_window_bits
        if self.lie == "lie-nct":
            local_nct = False
        else:
            local_bits = 15
        return response, pmd.PerMessageDeflate(ext.remote_no_context_takeover, local_nct,
                                               ext.remote_max_window_bits, local_bits)


async def echo(ws, path):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


def publish(port_file, port):
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.rename(port_file + ".tmp", port_file)


async def serve_websockets(port_file, mode):
    kw = {}
    if mode == "no-deflate":
        kw["compression"] = None
    elif mode in ("lie-nct", "lie-window"):
        kw["extensions"] = [LyingFactory(mode)]
        kw["compression"] = None
    # max_size above section 9's 16 MiB, as in websockets' own Autobahn setup.
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=64 * 1024 * 1024,
                                **kw) as server:
        publish(port_file, server.sockets[0].getsockname()[1])
        await asyncio.Future()


def blind_conn(c):
    f = c.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = f.readline()
        if not line:
            return
        head += line
    key = b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                              .digest())
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    while True:
        h = f.read(2)
        if len(h) < 2:
            return
        n = h[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", f.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", f.read(8))[0]
        key = f.read(4) if h[1] & 0x80 else b"\0\0\0\0"
        data = f.read(n)
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data)) if n < 65536 else \
            (int.from_bytes(data, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")
             ).to_bytes(n, "big")
        op = h[0] & 0x0F
        b0 = h[0] & 0xF0 | (10 if op == 9 else op)
        if n < 126:
            out = struct.pack("!BB", b0, n)
        elif n < 65536:
            out = struct.pack("!BBH", b0, 126, n)
        else:
            out = struct.pack("!BBQ", b0, 127, n)
        if op != 10:
            c.sendall(out + data)
        if op == 8:
            return


def serve_blind(port_file):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    publish(port_file, s.getsockname()[1])
    while True:
        c, _ = s.accept()

        def run(c=c):
            try:
                blind_conn(c)
            except OSError:
                pass
            finally:
                c.close()
        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    mode = sys.argv[2] if len(sys.argv) > 2 else "websockets"
    if mode == "blind":
        serve_blind(sys.argv[1])
    else:
        asyncio.run(serve_websockets(sys.argv[1], mode))

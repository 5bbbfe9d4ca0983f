#!/usr/bin/python3
"""A minimal RFC 8441 front for the reference server, to validate the
suite's HTTP/2 transport: it accepts cleartext HTTP/2 (prior knowledge),
advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, and turns each extended
CONNECT stream into an RFC 6455 Upgrade to the backend (Python
websockets), passing the extension offer and answer through and then
copying the WebSocket bytes unchanged both ways (DATA <-> TCP).

Usage: h2_proxy.py PORT_FILE BACKEND_PORT
"""
import asyncio
import base64
import os
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

WINDOW = 1 << 24


class Proxy:
    def __init__(self, reader, writer, backend_port):
        self.reader, self.writer = reader, writer
        self.backend_port = backend_port
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.streams = {}  # stream id -> backend writer
        self.credit = asyncio.Event()  # set when a WINDOW_UPDATE arrives

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    async def run(self):
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1,
                                   h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
        self.conn.increment_flow_control_window(WINDOW)
        self.flush()
        while True:
            data = await self.reader.read(1 << 18)
            if not data:
                break
            for ev in self.conn.receive_data(data):
                await self.event(ev)
            self.flush()
        for w in self.streams.values():
            w.close()
        self.writer.close()

    async def event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            await self.open(ev.stream_id, dict(ev.headers))
        elif isinstance(ev, h2.events.DataReceived):
            w = self.streams.get(ev.stream_id)
            if w is not None:
                w.write(ev.data)
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            w = self.streams.get(ev.stream_id)
            if w is not None and w.can_write_eof():
                w.write_eof()
        elif isinstance(ev, h2.events.StreamReset):
            w = self.streams.pop(ev.stream_id, None)
            if w is not None:
                w.close()
        elif isinstance(ev, h2.events.WindowUpdated):
            self.credit.set()

    async def open(self, sid, hdrs):
        if hdrs.get(b":method") != b"CONNECT" or hdrs.get(b":protocol") != b"websocket":
            self.conn.send_headers(sid, [(b":status", b"400")], end_stream=True)
            return
        r, w = await asyncio.open_connection("127.0.0.1", self.backend_port)
        key = base64.b64encode(os.urandom(16))
        req = (b"GET " + hdrs[b":path"] + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
               b"\r\nSec-WebSocket-Version: 13\r\n")
        if b"sec-websocket-extensions" in hdrs:
            req += b"Sec-WebSocket-Extensions: " + hdrs[b"sec-websocket-extensions"] + b"\r\n"
        w.write(req + b"\r\n")
        head = await r.readuntil(b"\r\n\r\n")
        resp = [(b":status", b"200")]
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"sec-websocket-extensions":
                resp.append((b"sec-websocket-extensions", v.strip()))
        if b" 101 " not in head.split(b"\r\n")[0] + b" ":
            self.conn.send_headers(sid, [(b":status", b"502")], end_stream=True)
            w.close()
            return
        self.conn.send_headers(sid, resp)
        self.flush()
        self.streams[sid] = w
        asyncio.get_running_loop().create_task(self.pump_back(sid, r))

    async def pump_back(self, sid, r):
        """Backend bytes to DATA frames, as flow control allows."""
        try:
            while True:
                data = await r.read(1 << 16)
                if not data:
                    self.conn.end_stream(sid)
                    self.flush()
                    return
                view = memoryview(data)
                while view:
                    n = min(len(view), self.conn.local_flow_control_window(sid),
                            self.conn.max_outbound_frame_size)
                    if n <= 0:
                        self.credit.clear()
                        await self.credit.wait()
                        continue
                    self.conn.send_data(sid, bytes(view[:n]))
                    view = view[n:]
                    self.flush()
                await self.writer.drain()
        except Exception:  # the stream or connection went away
            pass


async def main(port_file, backend_port):
    async def handle(reader, writer):
        await Proxy(reader, writer, backend_port).run()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{server.sockets[0].getsockname()[1]}\n")
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))

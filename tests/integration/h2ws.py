"""A small HTTP/2 + RFC 8441 WebSocket client for the wsgate tests, on
the Python `h2` library over a plain or TLS socket.

Flow control is in the test's hands: every stream's received DATA is
acknowledged (stream and connection credit) unless the stream is held,
in which case only the connection credit is returned, so that a held
stream stalls exactly like a reader that stopped reading.
"""
import hashlib
import os
import select
import socket
import ssl
import struct
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

import harness

ENABLE_CONNECT_PROTOCOL = 8


class Stream:
    def __init__(self, sid):
        self.id = sid
        self.headers = None      # response headers, dict of str
        self.status = None
        self.data = bytearray()  # DATA received and not yet parsed
        self.ended = False       # END_STREAM received
        self.reset = None        # RST_STREAM error code received
        self.hold = False        # do not return stream credit
        self.unacked = 0         # bytes received while held
        self.out = bytearray()   # bytes to send when windows allow
        self.end_after = False   # END_STREAM after out drained
        self.received = 0        # DATA bytes received in total


class H2Client:
    def __init__(self, port, tls=False, window=1 << 20, conn_window=64 << 20, max_frame=None,
                 timeout=10.0):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * harness.SLOW)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = harness.insecure_ssl()
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            if sock.selected_alpn_protocol() != "h2":
                raise AssertionError("ALPN chose %r" % sock.selected_alpn_protocol())
        self.sock = sock
        self.scheme = "https" if tls else "http"
        self.authority = "127.0.0.1:%d" % port
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window}
        if max_frame:
            settings[h2.settings.SettingCodes.MAX_FRAME_SIZE] = max_frame
        self.conn.update_settings(settings)
        if conn_window > 65535:
            self.conn.increment_flow_control_window(conn_window - 65535)
        self.streams = {}
        self.remote_settings = {}
        self.goaway = None      # ConnectionTerminated event
        self.closed = False     # the server closed the TCP connection
        self.events = []        # (time, kind, stream id) for ordering checks
        self.settings_acked = 0  # SETTINGS ACKs received (ours: the defaults, then the above)
        self.flush()
        if max_frame:
            # python-h2 sets its inbound frame limit once per receive_data
            # call, before parsing: when the ACK that raises it shares a
            # read with a larger DATA frame, that frame is refused as
            # overlong although the server is right to send it.  So no
            # stream opens before the new limit is in force.
            self.wait(lambda: self.settings_acked >= 2, 10, "the SETTINGS ACK")

    # ---- plumbing ----

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _send_pending(self):
        for st in list(self.streams.values()):
            while st.out and st.reset is None:
                try:
                    win = self.conn.local_flow_control_window(st.id)
                except Exception:
                    st.out.clear()
                    break
                n = min(len(st.out), win, self.conn.max_outbound_frame_size)
                if n <= 0:
                    break
                self.conn.send_data(st.id, bytes(st.out[:n]))
                del st.out[:n]
            if not st.out and st.end_after and st.reset is None:
                st.end_after = False
                self.conn.end_stream(st.id)
        self.flush()

    def pump(self, timeout=0.05):
        """Send what windows allow, then read and handle what arrived
        within timeout.  Returns False once the server closed."""
        self._send_pending()
        if self.closed:
            return False
        # Over TLS, bytes OpenSSL already took from the socket are not
        # seen by select(): read them first, or a large response stalls.
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
        r, _, _ = select.select([self.sock], [], [], 0 if pending else timeout)
        if not r and not pending:
            return True
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self._event(ev)
        self._send_pending()
        return True

    def _event(self, ev):
        now = time.monotonic()
        if isinstance(ev, h2.events.SettingsAcknowledged):
            self.settings_acked += 1
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.remote_settings[int(k)] = v.new_value
        elif isinstance(ev, h2.events.ResponseReceived):
            st = self.streams[ev.stream_id]
            st.headers = {k: v for k, v in ev.headers}
            st.status = int(st.headers[":status"])
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.get(ev.stream_id)
            n = ev.flow_controlled_length
            if st is None:
                self.conn.acknowledge_received_data(n, ev.stream_id)
                return
            st.data += ev.data
            st.received += len(ev.data)
            if st.hold:
                st.unacked += n
                self.conn.increment_flow_control_window(n)  # connection credit only
            elif n:
                try:
                    self.conn.acknowledge_received_data(n, ev.stream_id)
                except Exception:
                    pass
            self.events.append((now, "data", ev.stream_id))
        elif isinstance(ev, h2.events.StreamEnded):
            self.streams[ev.stream_id].ended = True
            self.events.append((now, "end", ev.stream_id))
        elif isinstance(ev, h2.events.StreamReset):
            if ev.stream_id in self.streams:
                self.streams[ev.stream_id].reset = ev.error_code
            self.events.append((now, "reset", ev.stream_id))
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
            self.events.append((now, "goaway", 0))

    def wait(self, pred, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout * harness.SLOW
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for " + what)
            if not self.pump(0.05) and not pred():
                raise AssertionError("connection closed waiting for " + what)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- requests ----

    def request(self, headers, end_stream=False):
        sid = self.conn.get_next_available_stream_id()
        self.streams[sid] = Stream(sid)
        self.conn.send_headers(sid, headers, end_stream=end_stream)
        self.flush()
        return self.streams[sid]

    def connect_ws(self, path, extra=(), protocol="websocket", version="13", wait=True):
        hdrs = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", self.scheme),
                (":path", path), (":authority", self.authority)]
        if version is not None:
            hdrs.append(("sec-websocket-version", version))
        hdrs += list(extra)
        st = self.request(hdrs)
        if wait:
            self.wait(lambda: st.status is not None or st.reset is not None, 15,
                      "response on " + path)
        return st

    def get(self, path, method="GET", extra=()):
        hdrs = [(":method", method), (":scheme", self.scheme), (":path", path),
                (":authority", self.authority)] + list(extra)
        st = self.request(hdrs, end_stream=True)
        self.wait(lambda: st.ended or st.reset is not None, 15, method + " " + path)
        return st

    def reset_stream(self, st, code=8):
        self.conn.reset_stream(st.id, code)
        st.reset = code
        self.flush()

    def release(self, st):
        """Stop holding st: return the stream credit withheld."""
        st.hold = False
        if st.unacked:
            self.conn.increment_flow_control_window(st.unacked, st.id)
            st.unacked = 0
        self.flush()

    # ---- WebSocket frames on a stream ----

    def ws_send(self, st, opcode, payload, fin=True):
        st.out += harness.RawWs.frame(opcode, payload, fin=fin, mask=True)
        self._send_pending()

    def ws_end(self, st):
        st.end_after = True
        self._send_pending()

    @staticmethod
    def parse_frame(buf):
        """(fin, opcode, payload, size) of the first whole frame, or None."""
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n, off = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            n, off = struct.unpack("!H", bytes(buf[2:4]))[0], 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n, off = struct.unpack("!Q", bytes(buf[2:10]))[0], 10
        if len(buf) < off + n:
            return None
        return bool(b0 & 0x80), b0 & 0x0F, bytes(buf[off:off + n]), off + n

    def ws_recv(self, st, timeout=10.0):
        """The next frame on st: (fin, opcode, payload)."""
        box = []

        def ready():
            f = self.parse_frame(st.data)
            if f:
                del st.data[:f[3]]
                box.append(f[:3])
                return True
            return st.reset is not None or st.ended

        self.wait(ready, timeout, "a frame on stream %d" % st.id)
        if not box:
            raise AssertionError("stream %d ended (reset=%r) with %d bytes left"
                                 % (st.id, st.reset, len(st.data)))
        return box[0]

    def ws_recv_message(self, st, timeout=10.0):
        """(opcode, payload) of the next data message (control frames skipped
        except close, returned as opcode 8)."""
        parts, op = [], None
        while True:
            fin, opcode, payload = self.ws_recv(st, timeout)
            if opcode == 8:
                return 8, payload
            if opcode in (9, 10):
                continue
            if op is None:
                op = opcode
            parts.append(payload)
            if fin:
                return op, b"".join(parts)


def sha256(b):
    return hashlib.sha256(b).hexdigest()

"""Byte transports for the conformance client.

Every case is written once against a small "channel" interface and runs
over four transports:

  ws    RFC 6455 Upgrade over plain TCP
  wss   the same over TLS (ALPN http/1.1)
  h2c   RFC 8441 extended CONNECT over HTTP/2 with prior knowledge
  h2    the same over TLS (ALPN h2)

A channel carries the WebSocket byte stream (frames, unchanged between
HTTP versions) and offers:

  send(data)     queue bytes (an H2 channel turns each call into its own
                 DATA frame(s), so chopped writes stay chopped on the wire)
  pump(timeout)  one round of I/O: write what can be written, read what
                 arrived; returns True when anything happened
  rx             bytearray of WebSocket bytes received, consumed by the caller
  eof            the server ended the stream (TCP FIN/RST, END_STREAM,
                 RST_STREAM, GOAWAY, TLS close_notify)
  eof_how        short text saying which of those it was
  out_pending()  bytes still queued for the network
  close()        release the socket

Everything is single-threaded and non-blocking, so a client that is still
sending a 16 MiB message keeps reading the echo that the server streams
back; no wait is unbounded.  TLS goes through memory BIOs so TCP and TLS
share one I/O loop.
"""
import base64
import hashlib
import os
import select
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Read size per socket read; large enough for 16 MiB echoes.
READ_CHUNK = 1 << 18
# Window this client grants the server on HTTP/2 (stream and connection).
H2_WINDOW = 1 << 24


class HandshakeError(Exception):
    """The server refused or botched the opening handshake."""


class Pipe:
    """A non-blocking TCP socket, optionally with TLS through memory BIOs."""

    def __init__(self, host, port, tls=False, alpn=None, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = bytearray()  # raw bytes not yet accepted by the socket
        self.rx = bytearray()  # plaintext received, not yet consumed
        self.eof = False  # no more bytes will arrive
        self.eof_how = ""  # why eof is set
        self.write_failed = False  # the socket refused our bytes (reset)
        self.tls = None
        self.alpn = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if alpn:
                ctx.set_alpn_protocols(alpn)
            self._bio_in = ssl.MemoryBIO()
            self._bio_out = ssl.MemoryBIO()
            self.tls = ctx.wrap_bio(self._bio_in, self._bio_out, server_hostname="localhost")
            self._handshake(time.monotonic() + timeout)
            self.alpn = self.tls.selected_alpn_protocol()

    def _handshake(self, deadline):
        while True:
            try:
                self.tls.do_handshake()
                self.out += self._bio_out.read()
                return
            except ssl.SSLWantReadError:
                self.out += self._bio_out.read()
            except ssl.SSLError as e:
                raise HandshakeError(f"TLS handshake: {e}") from None
            if self.eof:
                raise HandshakeError(f"TLS handshake: connection closed ({self.eof_how})")
            if time.monotonic() > deadline:
                raise HandshakeError("TLS handshake timed out")
            self._io(0.05, tls_raw=True)

    def write(self, data):
        if self.write_failed:
            return
        if self.tls is None:
            self.out += data
            return
        view = memoryview(data)
        while view:
            n = self.tls.write(view)
            view = view[n:]
        self.out += self._bio_out.read()

    def pump(self, timeout):
        return self._io(timeout, tls_raw=False)

    def _io(self, timeout, tls_raw):
        rl = [] if self.eof else [self.sock]
        wl = [self.sock] if self.out and not self.write_failed else []
        if not rl and not wl:
            return False
        try:
            r, w, _ = select.select(rl, wl, [], max(0.0, timeout))
        except (OSError, ValueError):
            self._set_eof("socket error")
            return True
        progress = False
        if w:
            try:
                n = self.sock.send(self.out[:READ_CHUNK])
                del self.out[:n]
                progress = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                # The peer reset the connection: our bytes are lost, and
                # the read side will report the end.
                self.write_failed = True
                self.out.clear()
                progress = True
        if r:
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:
                self._set_eof(f"TCP reset ({e.strerror})")
                return True
            if data is not None:
                progress = True
                if not data:
                    self._set_eof("TCP FIN")
                elif self.tls is None:
                    self.rx += data
                else:
                    self._bio_in.write(data)
                    if not tls_raw:
                        self._tls_read()
        return progress

    def _tls_read(self):
        while True:
            try:
                chunk = self.tls.read(READ_CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self._set_eof("TLS close_notify")
                break
            except ssl.SSLError as e:
                self._set_eof(f"TLS error ({e.reason})")
                break
            if not chunk:
                break
            self.rx += chunk
        # TLS 1.3 may answer (key update); session tickets need no answer.
        pending = self._bio_out.read()
        if pending:
            self.out += pending

    def _set_eof(self, how):
        if not self.eof:
            self.eof = True
            self.eof_how = how

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _wait(pipe_pump, cond, deadline, what):
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            raise HandshakeError(f"timed out waiting for {what}")
        pipe_pump(min(left, 0.1))


def parse_extensions(value):
    """Parse a Sec-WebSocket-Extensions value into [(name, [(key, val)])].

    val is None for a bare parameter; quoted values are unquoted."""
    out = []
    for item in value.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params = []
        for p in parts[1:]:
            if not p:
                continue
            if "=" in p:
                k, v = p.split("=", 1)
                v = v.strip()
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                params.append((k.strip().lower(), v))
            else:
                params.append((p.lower(), None))
        out.append((parts[0].lower(), params))
    return out


class H1Channel:
    """RFC 6455 over TCP or TLS: the socket bytes are the WebSocket bytes."""

    def __init__(self, host, port, path, tls, extensions=None, timeout=5.0):
        self.pipe = Pipe(host, port, tls=tls, alpn=["http/1.1"] if tls else None,
                         timeout=timeout)
        self.extensions = None  # the server's Sec-WebSocket-Extensions value
        try:
            self._upgrade(host, port, path, extensions, time.monotonic() + timeout)
        except BaseException:
            self.pipe.close()
            raise

    def _upgrade(self, host, port, path, extensions, deadline):
        key = base64.b64encode(os.urandom(16))
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
               "Sec-WebSocket-Version: 13\r\n")
        if extensions:
            req += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        self.pipe.write((req + "\r\n").encode())
        p = self.pipe
        _wait(p.pump, lambda: b"\r\n\r\n" in p.rx or p.eof, deadline, "the 101 response")
        end = p.rx.find(b"\r\n\r\n")
        if end < 0:
            raise HandshakeError(f"connection closed before the response ({p.eof_how})")
        head = bytes(p.rx[:end]).decode("latin-1")
        del p.rx[:end + 4]
        lines = head.split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            raise HandshakeError(f"expected 101, got: {lines[0]}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise HandshakeError("wrong or missing Sec-WebSocket-Accept")
        if "websocket" not in headers.get("upgrade", "").lower():
            raise HandshakeError("101 without Upgrade: websocket")
        self.extensions = headers.get("sec-websocket-extensions")

    @property
    def rx(self):
        return self.pipe.rx

    @property
    def eof(self):
        return self.pipe.eof

    @property
    def eof_how(self):
        return self.pipe.eof_how

    def send(self, data):
        self.pipe.write(data)

    def pump(self, timeout):
        return self.pipe.pump(timeout)

    def out_pending(self):
        return len(self.pipe.out)

    def close(self):
        self.pipe.close()


class H2Channel:
    """RFC 8441: one extended-CONNECT stream on its own HTTP/2 connection."""

    def __init__(self, host, port, path, tls, extensions=None, timeout=5.0):
        self.pipe = Pipe(host, port, tls=tls, alpn=["h2"] if tls else None, timeout=timeout)
        try:
            if tls and self.pipe.alpn != "h2":
                raise HandshakeError(f"server did not select ALPN h2 (got {self.pipe.alpn})")
            self._connect(host, port, path, tls, extensions, time.monotonic() + timeout)
        except BaseException:
            self.pipe.close()
            raise

    def _connect(self, host, port, path, tls, extensions, deadline):
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: H2_WINDOW,
            })
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(H2_WINDOW - 65535)
        self.wsrx = bytearray()  # WebSocket bytes received on the stream
        self.txq = bytearray()  # WebSocket bytes waiting for flow-control credit
        self.sid = None  # the CONNECT stream
        self.eof = False
        self.eof_how = ""
        self.settings_seen = False  # the server's first SETTINGS arrived
        self.response = None  # response headers once received
        self.extensions = None
        self._flush_h2()
        _wait(self.pump, lambda: self.settings_seen or self.eof, deadline,
              "the server's SETTINGS")
        if not self.settings_seen:
            raise HandshakeError(f"no SETTINGS from the server ({self.eof_how})")
        if self.conn.remote_settings.enable_connect_protocol != 1:
            raise HandshakeError("server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1")
        self.sid = self.conn.get_next_available_stream_id()
        hdrs = [(b":method", b"CONNECT"), (b":protocol", b"websocket"),
                (b":scheme", b"https" if tls else b"http"), (b":path", path.encode()),
                (b":authority", f"{host}:{port}".encode()),
                (b"sec-websocket-version", b"13")]
        if extensions:
            hdrs.append((b"sec-websocket-extensions", extensions.encode()))
        self.conn.send_headers(self.sid, hdrs)
        self._flush_h2()
        _wait(self.pump, lambda: self.response is not None or self.eof, deadline,
              "the CONNECT response")
        if self.response is None:
            raise HandshakeError(f"no response to CONNECT ({self.eof_how})")
        status = self.response.get(b":status", b"")
        if status != b"200":
            raise HandshakeError(f"expected :status 200, got {status.decode()}")
        ext = self.response.get(b"sec-websocket-extensions")
        self.extensions = ext.decode() if ext is not None else None

    @property
    def rx(self):
        return self.wsrx

    def _flush_h2(self):
        data = self.conn.data_to_send()
        if data:
            self.pipe.write(data)

    def _push(self):
        """Send queued bytes as far as flow control allows."""
        while self.txq and not self.eof:
            window = self.conn.local_flow_control_window(self.sid)
            n = min(len(self.txq), window, self.conn.max_outbound_frame_size)
            if n <= 0:
                break
            self.conn.send_data(self.sid, bytes(self.txq[:n]))
            del self.txq[:n]
        self._flush_h2()

    def send(self, data):
        if self.eof:
            return
        self.txq += data
        try:
            self._push()
        except h2.exceptions.H2Error as e:
            self._set_eof(f"h2 error on send: {e}")

    def _set_eof(self, how):
        if not self.eof:
            self.eof = True
            self.eof_how = how

    def pump(self, timeout):
        progress = self.pipe.pump(timeout)
        if self.pipe.rx:
            data = bytes(self.pipe.rx)
            self.pipe.rx.clear()
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.H2Error as e:
                self._set_eof(f"HTTP/2 protocol error from the server: {e}")
                return True
            for ev in events:
                self._event(ev)
            self._flush_h2()
            if self.sid is not None:
                try:
                    self._push()
                except h2.exceptions.H2Error as e:
                    self._set_eof(f"h2 error on send: {e}")
        if self.pipe.eof and not self.pipe.rx:
            self._set_eof(self.pipe.eof_how)
        return progress

    def _event(self, ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.settings_seen = True
        elif isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == self.sid:
            self.response = dict(ev.headers)
            if ev.stream_ended:
                self._set_eof("END_STREAM on the response")
        elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == self.sid:
            self.wsrx += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == self.sid:
            self._set_eof("END_STREAM")
        elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == self.sid:
            self._set_eof(f"RST_STREAM ({ev.error_code!r})")
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self._set_eof(f"GOAWAY ({ev.error_code!r})")

    def out_pending(self):
        return len(self.txq) + len(self.pipe.out)

    def close(self):
        # Our half of the stream: the server already ended its half or is
        # being abandoned; either way a best-effort END_STREAM, then FIN.
        try:
            if self.sid is not None and self.conn.state_machine.state.name != "CLOSED":
                self.conn.end_stream(self.sid)
                self._flush_h2()
                self.pipe.pump(0)
        except (h2.exceptions.H2Error, KeyError):
            pass
        self.pipe.close()


TRANSPORTS = ("ws", "wss", "h2c", "h2")


def open_channel(transport, host, port, path, extensions=None, timeout=5.0):
    """A connected, upgraded channel; raises HandshakeError or OSError."""
    if transport == "ws":
        return H1Channel(host, port, path, False, extensions, timeout)
    if transport == "wss":
        return H1Channel(host, port, path, True, extensions, timeout)
    if transport == "h2c":
        return H2Channel(host, port, path, False, extensions, timeout)
    if transport == "h2":
        return H2Channel(host, port, path, True, extensions, timeout)
    raise ValueError(transport)

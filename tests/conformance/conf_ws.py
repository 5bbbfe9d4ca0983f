"""The client side of RFC 6455 framing and RFC 7692 permessage-deflate,
written for testing: frames can be built with any bits set, and the
server's frames are checked strictly (a server that sends something a
client must reject makes the case FAILED).

Ws wraps a channel (conf_transport) and turns the server's bytes into
events:

  ("message", opcode, payload)   a complete data message (text decoded
                                 and checked as UTF-8; payload bytes kept)
  ("ping", payload) / ("pong", payload)
  ("close", code or None, reason bytes)
  ("eof", how)                   the server ended the transport
  ("error", text)                the server broke the protocol
  ("timeout",)
"""
import os
import struct
import time
import zlib

from conf_transport import parse_extensions

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
TAIL = b"\x00\x00\xff\xff"
# Output step when inflating with a window below 15 bits (see decompress).
INFLATE_STEP = 32


def mask(payload, key):
    """XOR payload with the 4-byte key (big-integer trick: fast for 16 MiB)."""
    n = len(payload)
    if n == 0:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, key=None):
    """One frame with the shortest length form; rsv is a 3-bit value
    (4 = RSV1, 2 = RSV2, 1 = RSV3)."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not masked:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + mask(payload, key)


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


class DeflateParams:
    """permessage-deflate as negotiated, with the client's zlib state."""

    def __init__(self, params, level=6):
        d = dict(params)
        self.server_nct = "server_no_context_takeover" in d  # fresh inflater per message
        self.client_nct = "client_no_context_takeover" in d  # fresh deflater per message
        self.server_bits = int(d.get("server_max_window_bits") or 15)  # inflater window
        self.client_bits = int(d.get("client_max_window_bits") or 15)  # deflater window
        self.level = level
        self._comp = self._new_comp()
        self._decomp = zlib.decompressobj(-self.server_bits)

    def _new_comp(self):
        return zlib.compressobj(self.level, zlib.DEFLATED, -self.client_bits)

    def compress(self, data):
        out = self._comp.compress(data) + self._comp.flush(zlib.Z_SYNC_FLUSH)
        if self.client_nct:
            self._comp = self._new_comp()
        if out.endswith(TAIL):
            out = out[:-4]
        return out

    def decompress(self, data):
        """Raises zlib.error when the server's data does not inflate with
        the negotiated window and context rules."""
        d = self._decomp
        if self.server_bits >= 15:
            out = d.decompress(data + TAIL)
        else:
            # zlib resolves a back-reference against all output of the
            # current call, not just the window; small output steps make
            # it check distances against the negotiated window (to within
            # INFLATE_STEP octets), so a server that ignores
            # server_max_window_bits is caught inside one message too.
            parts, buf = [], data + TAIL
            while True:
                chunk = d.decompress(buf, INFLATE_STEP)
                buf = d.unconsumed_tail
                if not chunk and not buf:
                    break
                parts.append(chunk)
            out = b"".join(parts)
        if d.unconsumed_tail:
            raise zlib.error("inflate left unconsumed input")
        if self.server_nct:
            self._decomp = zlib.decompressobj(-self.server_bits)
        return out


def check_deflate_response(offers, response):
    """Check the server's Sec-WebSocket-Extensions answer against the
    offers (list of param lists).  Returns (params, None) when it
    accepted one validly, (None, None) when it declined, or
    (None, problem)."""
    if response is None or not response.strip():
        return None, None
    exts = parse_extensions(response)
    if len(exts) != 1 or exts[0][0] != "permessage-deflate":
        return None, f"unexpected extensions in response: {response!r}"
    params = exts[0][1]
    names = [k for k, _ in params]
    if len(set(names)) != len(names):
        return None, f"duplicate parameter in response: {response!r}"
    known = {"server_no_context_takeover", "client_no_context_takeover",
             "server_max_window_bits", "client_max_window_bits"}
    for k, v in params:
        if k not in known:
            return None, f"unknown parameter {k} in response"
        if k.endswith("_window_bits"):
            if v is None or not v.isdigit() or not 8 <= int(v) <= 15:
                return None, f"bad {k} value {v!r} in response"
        elif v is not None:
            return None, f"{k} with a value in response"
    got = dict(params)
    problems = []
    for offer in offers:
        o = dict(offer)
        why = None
        if "client_max_window_bits" in got:
            if "client_max_window_bits" not in o:
                why = "client_max_window_bits answered but not offered"
            elif o["client_max_window_bits"] is not None and int(
                    got["client_max_window_bits"]) > int(o["client_max_window_bits"]):
                why = "client_max_window_bits above the offer"
        if "server_max_window_bits" in o and (
                "server_max_window_bits" not in got or int(got["server_max_window_bits"]) > int(
                    o["server_max_window_bits"])):
            why = "server_max_window_bits offered but not honoured"
        if "server_no_context_takeover" in o and "server_no_context_takeover" not in got:
            why = "server_no_context_takeover offered but not echoed"
        if why is None:
            return params, None
        problems.append(why)
    return None, "response matches no offer: " + "; ".join(problems)


class Ws:
    """A client WebSocket on a channel."""

    def __init__(self, chan, deflate=None):
        self.chan = chan
        self.deflate = deflate  # DeflateParams or None
        self._msg_op = None  # opcode of the message being received
        self._msg_parts = []  # its payload so far
        self._msg_compressed = False
        self._events = []  # parsed, not yet returned
        self.closed_sent = False  # we sent a close frame
        self.close_received = None  # (code, reason) once the server's close came
        self.dead = False  # after eof or a server protocol error

    # ---- sending ----

    def send_raw(self, data, chop=None):
        """Queue bytes; with chop, write them in chop-sized pieces, each
        flushed to the network before the next (Autobahn's "chops")."""
        if not chop:
            self.chan.send(data)
            return
        for i in range(0, len(data), chop):
            self.chan.send(data[i:i + chop])
            self.flush()

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, chop=None, masked=True):
        if opcode == OP_CLOSE:
            self.closed_sent = True
        self.send_raw(frame(opcode, payload, fin, rsv, masked), chop)

    def send_message(self, opcode, payload, frag=None, chop=None, compress=False):
        """A data message, fragmented into frag-byte frames when frag is
        set; compress applies permessage-deflate (RSV1 on the first frame)."""
        rsv = 0
        if compress:
            payload = self.deflate.compress(payload)
            rsv = 4
        if not frag or len(payload) <= frag:
            self.send_frame(opcode, payload, True, rsv, chop)
            return
        parts = [payload[i:i + frag] for i in range(0, len(payload), frag)]
        out = []
        for i, p in enumerate(parts):
            out.append(frame(opcode if i == 0 else OP_CONT, p, i == len(parts) - 1,
                             rsv if i == 0 else 0))
        self.send_raw(b"".join(out), chop)

    def close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    def flush(self, timeout=30.0):
        """Write everything queued, reading meanwhile (bounded)."""
        deadline = time.monotonic() + timeout
        while self.chan.out_pending() and not self.chan.eof:
            if time.monotonic() > deadline:
                return False
            self.chan.pump(0.05)
            self._parse()
        return self.chan.out_pending() == 0

    # ---- receiving ----

    def next_event(self, timeout):
        """The next event, waiting at most timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self._parse()
            if self._events:
                return self._events.pop(0)
            if self.dead:
                return ("eof", "after end")
            if self.chan.eof:
                self.dead = True
                return ("eof", self.chan.eof_how)
            left = deadline - time.monotonic()
            if left <= 0:
                return ("timeout",)
            self.chan.pump(min(left, 0.2))

    def _error(self, text):
        self._events.append(("error", text))
        self.dead = True

    def _parse(self):
        rx = self.chan.rx
        while not self.dead and len(rx) >= 2:
            b0, b1 = rx[0], rx[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(rx) < 4:
                    return
                n = struct.unpack_from("!H", rx, 2)[0]
                pos = 4
            elif n == 127:
                if len(rx) < 10:
                    return
                n = struct.unpack_from("!Q", rx, 2)[0]
                pos = 10
            if b1 & 0x80:
                self._error("server sent a masked frame")
                return
            if len(rx) < pos + n:
                return
            payload = bytes(rx[pos:pos + n])
            del rx[:pos + n]
            self._frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload)

    def _frame(self, fin, rsv, op, payload):
        if op >= 8:
            if rsv or not fin or len(payload) > 125:
                self._error(f"bad control frame from server (op {op}, rsv {rsv}, fin {fin})")
            elif op == OP_PING:
                self._events.append(("ping", payload))
                if not self.closed_sent:
                    self.send_frame(OP_PONG, payload)
            elif op == OP_PONG:
                self._events.append(("pong", payload))
            elif op == OP_CLOSE:
                self._close_frame(payload)
            else:
                self._error(f"reserved control opcode {op} from server")
            return
        if op not in (OP_CONT, OP_TEXT, OP_BINARY):
            self._error(f"reserved data opcode {op} from server")
            return
        if self.close_received is not None:
            self._error("data frame after the server's close")
            return
        if op == OP_CONT:
            if self._msg_op is None:
                self._error("continuation from server with no message open")
                return
            if rsv:
                self._error("RSV bits on a continuation frame from server")
                return
        else:
            if self._msg_op is not None:
                self._error("new data message from server inside an open one")
                return
            if rsv & 3 or (rsv & 4 and self.deflate is None):
                self._error(f"RSV bits {rsv} from server without an extension")
                return
            self._msg_op = op
            self._msg_compressed = bool(rsv & 4)
            self._msg_parts = []
        self._msg_parts.append(payload)
        if not fin:
            return
        data = b"".join(self._msg_parts)
        op, self._msg_op, self._msg_parts = self._msg_op, None, []
        if self._msg_compressed:
            try:
                data = self.deflate.decompress(data)
            except zlib.error as e:
                self._error(f"server's compressed message does not inflate: {e}")
                return
        if op == OP_TEXT:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self._error("server sent a text message that is not UTF-8")
                return
        self._events.append(("message", op, data))

    def _close_frame(self, payload):
        if len(payload) == 1:
            self._error("server sent a close frame with a 1-byte payload")
            return
        code = struct.unpack("!H", payload[:2])[0] if payload else None
        reason = payload[2:]
        try:
            reason.decode("utf-8")
        except UnicodeDecodeError:
            self._error("server sent a close reason that is not UTF-8")
            return
        if code is not None and not valid_close_code(code):
            self._error(f"server sent invalid close code {code}")
            return
        self.close_received = (code, reason)
        self._events.append(("close", code, reason))


def valid_close_code(code):
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                    1014) or 3000 <= code <= 4999

"""The gateways `make bench` compares, and how each one is started.

Each peer is started fresh for every run (so that one run's allocator
state cannot hide the next run's memory), on free loopback ports, from
the config templates in this directory.  Everything a peer runs is in
one session (see procstat.py); the backend it bridges to is not part of
it, and neither is the load generator.
"""
import os
import re
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NICE = int(os.environ.get("BENCH_NICE", "0"))


def niced(argv):
    return ["nice", "-n", str(NICE)] + list(argv) if NICE else list(argv)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def fill(template, dest, **values):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise RuntimeError(f"{template}: unfilled {leftover}")
    with open(dest, "w") as f:
        f.write(text)
    return dest


class Launcher:
    """Starts processes in their own sessions, logs their output, records
    their command lines, and kills them by process group at the end."""

    def __init__(self, workdir, commands):
        self.workdir = workdir
        self.commands = commands  # list of (what, argv) for the report
        self.procs = []

    def spawn(self, name, argv, cpus=None, record=True):
        if cpus is not None:
            argv = ["taskset", "-c", cpus] + list(argv)
        argv = niced(argv)
        if record:
            self.commands.append((name, argv))
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             cwd=self.workdir, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def stop(self, p, grace=3.0):
        """SIGTERM the process group p leads, then SIGKILL after grace."""
        if p not in self.procs:
            return
        self.procs.remove(p)
        for sig, wait in ((15, grace), (9, 5.0)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=wait)
                # Children (websockify's forks) may outlive the leader.
                deadline = time.monotonic() + wait
                while _group_alive(p.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if not _group_alive(p.pid):
                    break
            except subprocess.TimeoutExpired:
                continue
        try:
            p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for p in list(reversed(self.procs)):
            self.stop(p)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Peer:
    """One gateway.  start() returns the leader Popen whose session is
    measured; url(proto) the URL the generator uses."""
    name = ""        # key in tables
    label = ""       # column title
    protos = ("h1",)  # "h1", "h2"
    mode = "stream"  # generator --mode: bridge to the TCP echo
    max_streams = 1  # HTTP/2 streams per connection the peer allows
    idle_sessions = None  # None: the full idle count; else a smaller one
    path = "/ws"

    def __init__(self, env):
        self.env = env  # dict: launcher, workdir, echo_port, nofile, cpus, build, ...
        self.port = None

    def scenarios(self, proto):
        """The runs that apply to this peer over proto."""
        if proto == "h1":
            # streams over HTTP/1.1: 128 connections at the streams run's depth
            return {"t64", "t64k", "lat", "streams", "conn", "idle", "idle-deflate"}
        return {"t64", "t64k", "lat", "streams", "bulk", "conn", "idle", "idle-deflate"}

    def url(self, proto):
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def extra_args(self, proto):
        return []

    def start(self, variant=None):
        raise NotImplementedError

    def helpers(self):
        return []

    def version(self):
        return ""


def _out(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return r.stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


class Wsgate(Peer):
    name = "wsgate"
    label = "wsgate"
    protos = ("h1", "h2")
    max_streams = 256

    def start(self, variant=None):
        e = self.env
        variant = variant or {}
        self.port = free_port()
        conf = fill("wsgate.conf.in", os.path.join(e["workdir"], "wsgate.conf"),
                    WORKERS=variant.get("workers", 1), MAXCONN=60000, PORT=self.port,
                    ECHO_PORT=e["echo_port"], DEFLATE="on" if variant.get("deflate") else "off")
        p = e["launcher"].spawn("wsgate", [e["wsgate"], "-c", conf],
                                cpus=variant.get("cpus", e["gw_cpus"]))
        wait_port(self.port, proc=p)
        return p

    def version(self):
        return _out([self.env["wsgate"], "--version"]).splitlines()[0]


class Lighttpd(Peer):
    name = "lighttpd"
    label = "lighttpd"
    protos = ("h1", "h2")
    max_streams = 8  # lighttpd's fixed SETTINGS_MAX_CONCURRENT_STREAMS

    def start(self, variant=None):
        e = self.env
        self.port = free_port()
        # lighttpd answers "Sec-WebSocket-Protocol: binary" to a client
        # that offered none when frame-type is binary; a conforming client
        # must then fail the handshake.  When the generator can offer a
        # subprotocol we offer "binary"; otherwise lighttpd sends text
        # frames (same bytes, ASCII payload), which needs no offer.
        frame = "binary" if e["gen_has_subprotocol"] else "text"
        conf = fill("lighttpd.conf.in", os.path.join(e["workdir"], "lighttpd.conf"),
                    DIR=e["workdir"], PORT=self.port, ECHO_PORT=e["echo_port"],
                    MAXFDS=e["nofile"], MAXCONN=(e["nofile"] - 100) // 2, FRAME=frame)
        p = e["launcher"].spawn("lighttpd", ["lighttpd", "-D", "-f", conf], cpus=e["gw_cpus"])
        wait_port(self.port, proc=p)
        return p

    def extra_args(self, proto):
        return ["--subprotocol", "binary"] if self.env["gen_has_subprotocol"] else []

    def version(self):
        return _out(["lighttpd", "-v"]).splitlines()[0]


def _websockify_version():
    v = _out(["dpkg-query", "-W", "-f=${Version}", "websockify"])
    return f"websockify {v} (Debian package), {_out(['python3', '--version'])}"


def _start_websockify(e, port, name="websockify"):
    argv = ["websockify", f"127.0.0.1:{port}", f"127.0.0.1:{e['echo_port']}"]
    p = e["launcher"].spawn(name, argv, cpus=e["gw_cpus"])
    wait_port(port, proc=p, timeout=20)
    return p


class Websockify(Peer):
    name = "websockify"
    label = "websockify"
    idle_sessions = 100  # one forked Python process per session

    def start(self, variant=None):
        self.port = free_port()
        return _start_websockify(self.env, self.port)

    def scenarios(self, proto):
        return super().scenarios(proto) - {"streams"}  # 128 forked processes

    def version(self):
        return _websockify_version()


class Chain(Peer):
    """A front proxy plus websockify: both processes are the gateway, so
    both are measured.  The front proxy is the session leader; websockify
    is started in its own session and added by the runner.

    websockify forks a Python process per session, a few per second on a
    busy machine, so the chains skip the runs that open 100+ streams at
    once (they would spend the run forking) and run idle and connect rate
    over HTTP/1.1 only (the front proxy's HTTP/2 side changes nothing
    there: every stream is one websockify process)."""
    idle_sessions = 100

    def scenarios(self, proto):
        if proto == "h1":
            return {"t64", "t64k", "lat", "conn", "idle"}
        return {"t64", "t64k", "lat"}

    def start_websockify(self):
        self.ws_port = free_port()
        self.ws_proc = _start_websockify(self.env, self.ws_port, name=f"{self.name}-websockify")
        return self.ws_proc

    def helpers(self):
        return [self.ws_proc]


class HaproxyWebsockify(Chain):
    name = "haproxy-ws"
    label = "haproxy → websockify"
    protos = ("h1", "h2")
    max_streams = 256

    def start(self, variant=None):
        e = self.env
        self.start_websockify()
        self.port = free_port()
        conf = fill("haproxy-http.cfg.in", os.path.join(e["workdir"], "haproxy-http.cfg"),
                    DIR=e["workdir"], PORT=self.port, WS_PORT=self.ws_port,
                    MAXCONN=(e["nofile"] - 200) // 2)
        p = e["launcher"].spawn("haproxy-http", ["haproxy", "-db", "-f", conf], cpus=e["gw_cpus"])
        wait_port(self.port, proc=p)
        return p

    def version(self):
        return _out(["haproxy", "-v"]).splitlines()[0] + "; " + _websockify_version()


class NghttpxWebsockify(Chain):
    name = "nghttpx-ws"
    label = "nghttpx → websockify"
    protos = ("h1", "h2")
    max_streams = 256

    def start(self, variant=None):
        e = self.env
        self.start_websockify()
        self.port = free_port()
        # --conf=/dev/null: ignore the packaged /etc/nghttpx/nghttpx.conf.
        argv = ["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{self.port};no-tls",
                f"--backend=127.0.0.1,{self.ws_port}", "--workers=1", "--single-thread",
                "--single-process", "--frontend-http2-max-concurrent-streams=256",
                "--backend-connections-per-frontend=0", "--no-via", "--log-level=WARN",
                f"--errorlog-file={e['workdir']}/nghttpx.err",
                f"--rlimit-nofile={e['nofile']}"]
        p = e["launcher"].spawn("nghttpx", argv, cpus=e["gw_cpus"])
        wait_port(self.port, proc=p)
        return p

    def version(self):
        return _out(["nghttpx", "--version"]).splitlines()[0] + "; " + _websockify_version()


class HaproxyRelay(Peer):
    """haproxy mode tcp: copies bytes, knows nothing of WebSocket.  The
    generator must still speak WebSocket, so the relay forwards to a
    WebSocket echo (wsgate's built-in echo route, a separate process on
    the backend's CPU, not measured) and the generator runs in echo mode.
    HTTP/2 works through it too (h2c bytes are bytes)."""
    name = "relay"
    label = "haproxy tcp relay"
    protos = ("h1", "h2")
    max_streams = 256
    mode = "echo"
    path = "/echo"

    def start(self, variant=None):
        e = self.env
        be_port = free_port()
        conf = fill("wsgate.conf.in", os.path.join(e["workdir"], "relay-backend.conf"),
                    WORKERS=1, MAXCONN=60000, PORT=be_port, ECHO_PORT=e["echo_port"],
                    DEFLATE="off")
        self.be = e["launcher"].spawn("relay-backend", [e["wsgate"], "-c", conf],
                                      cpus=e["aux_cpus"])
        wait_port(be_port, proc=self.be)
        self.port = free_port()
        conf = fill("haproxy-tcp.cfg.in", os.path.join(e["workdir"], "haproxy-tcp.cfg"),
                    DIR=e["workdir"], PORT=self.port, BACKEND_PORT=be_port,
                    MAXCONN=(e["nofile"] - 200) // 2)
        p = e["launcher"].spawn("haproxy-tcp", ["haproxy", "-db", "-f", conf], cpus=e["gw_cpus"])
        wait_port(self.port, proc=p)
        return p

    def backends(self):
        return [self.be]

    def version(self):
        return _out(["haproxy", "-v"]).splitlines()[0]


ALL = [Wsgate, Lighttpd, Websockify, HaproxyWebsockify, NghttpxWebsockify, HaproxyRelay]


def available(cls):
    need = {"lighttpd": "lighttpd", "websockify": "websockify", "haproxy-ws": "haproxy",
            "nghttpx-ws": "nghttpx", "relay": "haproxy"}.get(cls.name)
    if need is None:
        return True
    if shutil.which(need) is None:
        return False
    if cls.name in ("haproxy-ws", "nghttpx-ws") and shutil.which("websockify") is None:
        return False
    return True

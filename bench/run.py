#!/usr/bin/python3
"""bench/run.py: the `make bench` driver (scripts/bench.sh calls it).

Starts the C TCP echo backend, then each gateway in turn (bench/peers.py)
on loopback, drives it with the same wsgate-bench runs, measures the
gateway's CPU time and memory from /proc (bench/procstat.py), and writes
one table with absolute figures and ratios to wsgate to stdout and to
docs/benchmarks.md (bench/report.py).

`bench/run.py --rerender WORKDIR/results.json` writes the report again
from a run kept with BENCH_KEEP=1, e.g. after editing bench/analysis.md.

Environment:
  BENCH_BUILD     build dir with wsgate and wsgate-bench (build)
  BENCH_DURATION  seconds per throughput/latency run (6)
  BENCH_PEERS     comma list of peers to run (all): wsgate,lighttpd,
                  websockify,haproxy-ws,nghttpx-ws,relay
  BENCH_SCEN      comma list of scenarios (all): t64,t64k,lat,idle,conn,
                  streams,bulk,many,scale,profile
  BENCH_MANY      sessions held at once in the "many" scenario (50000)
  BENCH_LAT_REPEAT rounds of the fixed-rate latency scenario, every peer
                  and protocol in turn; the run with the median p99 is
                  reported (5)
  BENCH_ROUNDS    the same for the 64 B and 64 KiB throughput runs, by
                  median efficiency (3); both only for wsgate, lighttpd
                  and the relay, the peers the targets name
  BENCH_IDLE      idle sessions (10000, capped by the fd limit)
  BENCH_PIN       1 (default): gateway on CPU 1, generator and backends
                  on CPU 0; 0: no pinning
  BENCH_BUDGET    seconds after which remaining runs are skipped (840)
  BENCH_OUT       report path (docs/benchmarks.md); "-" = stdout only
  BENCH_KEEP      1: keep the work dir (logs, configs) after the run
  BENCH_NICE      nice value for every process of the benchmark (0); a
                  negative one keeps a shared machine's other jobs from
                  preempting the measured processes as often
"""
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import many  # noqa: E402
import peers  # noqa: E402
import procstat  # noqa: E402
import report  # noqa: E402

BUILD = os.path.abspath(os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build")))
DUR = float(os.environ.get("BENCH_DURATION", "6"))
PIN = os.environ.get("BENCH_PIN", "1") != "0"
BUDGET = float(os.environ.get("BENCH_BUDGET", "840"))
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "docs", "benchmarks.md"))
SCEN_ALL = ["t64", "t64k", "lat", "idle", "conn", "streams", "bulk", "many", "scale",
            "profile"]
SCEN = [s for s in os.environ.get("BENCH_SCEN", ",".join(SCEN_ALL)).split(",") if s]
PEER_FILTER = [s for s in os.environ.get("BENCH_PEERS", "").split(",") if s]

GEN = os.path.join(BUILD, "wsgate-bench")
WSGATE = os.path.join(BUILD, "wsgate")
ECHO = os.path.join(BUILD, "bench", "tcp_echo")
SYSCOST = os.path.join(BUILD, "bench", "syscall_cost")

# Fixed-rate latency: total messages per second, 64 B; each peer runs it
# in LAT_REPEAT interleaved rounds and the run with the median p99 is
# reported.
LAT_REPEAT = int(os.environ.get("BENCH_LAT_REPEAT", "5"))
# The throughput scenarios the targets are stated on run in BENCH_ROUNDS
# interleaved rounds the same way (median efficiency reported); only the
# peers the targets name take more than one round.
ROUNDS = {"t64": int(os.environ.get("BENCH_ROUNDS", "3")),
          "t64k": int(os.environ.get("BENCH_ROUNDS", "3")), "lat": LAT_REPEAT}
ROUND_PEERS = ("wsgate", "lighttpd", "relay")
MANY = int(os.environ.get("BENCH_MANY", "50000"))
LAT_RATE = 5000
report.SCEN_TITLE["lat"] = f"{LAT_RATE} msg/s fixed rate, 64 B"
# System calls counted one by one in the syscall runs (the rest are
# counted together as "other").
SYSCALL_KINDS = ["epoll_wait", "epoll_ctl", "read", "readv", "recvfrom", "write", "writev",
                 "sendto", "sendmsg", "ioctl"]
# Idle run: seconds without progress after which the open count is final.
PLATEAU_S = 4
# Streams per connection in the HTTP/2 idle run (when the peer allows).
IDLE_STREAMS = 100


def nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def idle_count(nofile):
    want = int(os.environ.get("BENCH_IDLE", "10000"))
    # A bridging gateway holds two descriptors per HTTP/1.1 session
    # (client and backend), and lighttpd stops accepting at about 90 % of
    # its descriptors: stay under that.
    return min(want, int(nofile * 0.85) // 2)


def gen_args(peer, proto, scen, idle_n):
    """Generator options for one run, or None when it does not apply."""
    h2 = proto == "h2"
    lim = peer.max_streams
    if scen not in peer.scenarios(proto):
        return None
    base = ["--mode", peer.mode, "--binary"] + peer.extra_args(proto)
    if h2:
        base.append("--http2")
    if scen == "t64":
        shape = ["-c", "4", "-m", "8"] if h2 else ["-c", "32"]
        return base + shape + ["-s", "64", "--inflight", "16", "-d", f"{DUR:g}", "-q"]
    if scen == "t64k":
        shape = ["-c", "2", "-m", "8"] if h2 else ["-c", "16"]
        return base + shape + ["-s", "64K", "--inflight", "4", "-d", f"{DUR:g}", "-q"]
    if scen == "lat":
        shape = ["-c", "2", "-m", "8"] if h2 else ["-c", "16"]
        return base + shape + ["-s", "64", "--rate", str(LAT_RATE), "-d", f"{DUR:g}", "-q"]
    if scen in ("idle", "idle-deflate"):
        n = peer.idle_sessions or idle_n
        extra = ["--deflate"] if scen == "idle-deflate" else []
        if h2:
            m = min(IDLE_STREAMS, lim)
            shape = ["-c", str(math.ceil(n / m)), "-m", str(m)]
        else:
            shape = ["-c", str(n)]
        return base + extra + shape + ["--idle", "-d", "2", "--concurrency", "512"]
    if scen == "conn":
        shape = ["-c", "4", "-m", "8"] if h2 else ["-c", "32", "--bind", "127.0.0.1-64"]
        return base + shape + ["--connect-rate", "-d", f"{max(DUR - 1, 3):g}", "-q"]
    if scen == "streams":
        if not h2:
            # The same 128 sessions at the same depth as HTTP/1.1
            # connections: what the streams figure is to be read against.
            return base + ["-c", "128", "-s", "64", "--inflight", "4", "-d", f"{DUR:g}", "-q"]
        # At least 100 streams on one connection; a peer that allows
        # fewer gets as many connections as it takes to carry 128.
        shape = ["-c", "1", "-m", "128"] if lim >= 128 else ["-c", str(128 // lim), "-m", str(lim)]
        return base + shape + ["-s", "64", "--inflight", "4", "-d", f"{DUR:g}", "-q"]
    if scen == "bulk":
        if not h2:
            return None
        shape = ["-c", "1", "-m", "100"] if lim >= 100 else ["-c", str(math.ceil(100 / lim)),
                                                                  "-m", str(lim)]
        return base + shape + ["-s", "1M", "--inflight", "1", "-d", f"{max(DUR - 1, 3):g}", "-q"]
    raise ValueError(scen)


def peer_sessions(peer, leader):
    return [leader.pid] + [h.pid for h in peer.helpers()]


def cpu_of(sids):
    return sum(procstat.cpu_seconds(s) for s in sids)


def mem_of(sids):
    total, hows = 0, []
    for s in sids:
        k, how = procstat.memory_kib(s)
        total += k
        hows.append(how)
    return total, " + ".join(hows)


# Where a gateway's CPU goes, from `perf report --children` (inclusive
# shares of kernel functions every TCP path goes through).  On loopback
# the sender's tcp_sendmsg also runs the receiver's TCP input (softirq,
# net_rx_action), so that part is split out of "send".
def cpu_split(children_lines):
    incl, user = {}, 0.0
    for ln in children_lines:
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[(.)\]\s+(\S+)", ln)
        if not m:
            continue
        incl.setdefault(m.group(4), float(m.group(1)))
        if m.group(3) == ".":
            user += float(m.group(2))
    send = incl.get("tcp_sendmsg", 0.0)
    deliver = min(incl.get("net_rx_action", 0.0), send)
    recv = incl.get("tcp_recvmsg", 0.0)
    poll = incl.get("do_epoll_wait", 0.0)
    parts = {"user": user, "send": send - deliver, "deliver": deliver, "recv": recv,
             "epoll": poll}
    parts["kernel_other"] = max(0.0, 100.0 - sum(parts.values()))
    return parts


def time_wait_count():
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f, None)
                n += sum(1 for ln in f if ln.split()[3:4] == ["06"])
        except OSError:
            pass
    return n


# The peers that run as one process: `perf stat -p` and `perf record -p`
# see all of their work (they do not follow websockify's forks).
ONE_PROCESS = ("wsgate", "lighttpd", "relay")


# The system-call wrappers (and the kernel's ephemeral-port search) that
# the open/echo/close cycle profile lists, by inclusive share.
CONN_SYMBOLS = re.compile(r"\[[.k]\] (__libc_(connect|sendmsg|send|recv|accept4?|close)|"
                          r"__GI___(shutdown|setsockopt|close)|__close|__socket|epoll_ctl|"
                          r"epoll_wait|accept4|__inet_hash_connect)$")


class Bench:
    def __init__(self):
        self.t_start = time.monotonic()
        self.workdir = tempfile.mkdtemp(prefix="wsgate-bench.")
        self.commands = []
        self.sys_cost = None
        self.launcher = peers.Launcher(self.workdir, self.commands)
        self.results = []
        self.nofile = nofile_limit()
        self.idle_n = idle_count(self.nofile)
        self.n_run = 0
        self.gen = None  # the generator now running, killed on an abort
        help_text = subprocess.run([GEN, "--help"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT).stdout.decode()
        self.gen_has_subprotocol = "--subprotocol" in help_text
        self.env = {
            "launcher": self.launcher, "workdir": self.workdir, "wsgate": WSGATE,
            "nofile": self.nofile, "gw_cpus": "1" if PIN else None,
            "aux_cpus": "0" if PIN else None, "gen_has_subprotocol": self.gen_has_subprotocol,
        }

    def elapsed(self):
        return time.monotonic() - self.t_start

    def start_echo(self):
        port_file = os.path.join(self.workdir, "tcp_echo.port")
        self.echo = self.launcher.spawn("tcp_echo", [ECHO, "-f", port_file],
                                        cpus=self.env["aux_cpus"])
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or self.echo.poll() is not None:
                raise RuntimeError("tcp_echo did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.env["echo_port"] = int(f.read())

    def run_one(self, peer, proto, scen, variant=None, gen_extra=(), label_scen=None,
                gen_cpus="default", count_syscalls=False):
        """Start the peer, run the generator once, measure, stop the peer."""
        key = label_scen or scen
        res = {"peer": peer.name, "proto": proto, "scen": key}
        if self.elapsed() > BUDGET:
            res["error"] = "skipped: time budget"
            self.results.append(res)
            return res
        args = gen_args(peer, proto, scen, self.idle_n)
        if args is None:
            return None
        self.n_run += 1
        tag = f"{self.n_run:02d}-{peer.name}-{proto}-{key}"
        others = [p for p in self.launcher.procs]
        try:
            leader = peer.start(variant)
        except Exception as e:  # a peer that does not start is reported, not fatal
            res["error"] = f"start failed: {e}"
            self.results.append(res)
            self._stop_peer(others)
            print(f"[{self.elapsed():5.0f}s] {tag}: {res['error']}", flush=True)
            return res
        sids = peer_sessions(peer, leader)
        time.sleep(0.3)
        url = peer.url(proto)
        argv = [GEN] + args + list(gen_extra) + [url]
        cpus = self.env["aux_cpus"] if gen_cpus == "default" else gen_cpus
        if cpus is not None:
            argv = ["taskset", "-c", cpus] + argv
        argv = peers.niced(argv)
        self.commands.append((tag, argv))
        idle = "--idle" in args
        mem0, how = mem_of(sids)
        cpu0, t0 = cpu_of(sids), time.monotonic()
        err_path = os.path.join(self.workdir, f"{tag}.gen.err")
        # The generator stops by itself after --duration plus a 5 s grace;
        # past that it is stuck, and the run is reported as such.
        timeout = 240 if idle else DUR + 30
        perf = None
        if count_syscalls:
            # Counting syscall entries slows every syscall a little, so it
            # gets runs of its own, not the measured ones.
            pids = ",".join(str(p) for s_ in sids for p in procstat.session_pids(s_))
            perf_out = os.path.join(self.workdir, f"{tag}.perf")
            events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{k}" for k in SYSCALL_KINDS]
            perf_argv = ["perf", "stat", "-x", ",", "-e", ",".join(events), "-p", pids,
                         "-o", perf_out]
            self.commands.append((f"{tag} (syscall count)", perf_argv))
            perf = subprocess.Popen(perf_argv, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.2)
        with open(err_path, "wb") as errf:
            g = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE if idle else errf,
                                 start_new_session=True)
            self.gen = g
            try:
                if idle:
                    res.update(self._idle_watch(g, sids, errf, timeout))
                out, _ = g.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(g.pid, 9)
                out, _ = g.communicate()
                res["error"] = "generator timed out"
        cpu1, t1 = cpu_of(sids), time.monotonic()
        if perf is not None:
            perf.send_signal(2)
            try:
                perf.wait(timeout=10)
                with open(perf_out) as f:
                    kinds = {}
                    for line in f:
                        fields = line.split(",")
                        if len(fields) < 3 or not fields[0].strip().isdigit():
                            continue
                        if fields[2] == "raw_syscalls:sys_enter":
                            res["syscalls"] = int(fields[0])
                        elif fields[2].startswith("syscalls:sys_enter_"):
                            kinds[fields[2][len("syscalls:sys_enter_"):]] = int(fields[0])
                    res["syscall_kinds"] = kinds
            except (subprocess.TimeoutExpired, OSError, ValueError):
                perf.kill()
        res.update({"rc": g.returncode, "wall": t1 - t0, "cpu": cpu1 - cpu0,
                    "cores": (cpu1 - cpu0) / (t1 - t0), "mem_before": mem0, "mem_how": how,
                    "argv": argv, "threads": sum(procstat.threads(s) for s in sids)})
        try:
            res["json"] = json.loads(out.decode())
        except ValueError:
            if "plateau" in res:
                pl = res["plateau"]
                res["json"] = {"sessions_opened": pl["open"], "errors": {
                    "total": pl["errors"], "handshake or connect": pl["errors"]}}
                res["note"] = (f"{pl['open']} of {pl['wanted']} sessions opened, "
                               f"{pl['errors']} refused; measured there")
            else:
                res.setdefault("error", f"no JSON (exit {g.returncode}); see {err_path}")
        if "syscalls" in res and "json" in res and res["json"].get("messages"):
            res["syscalls_per_msg"] = res["syscalls"] / res["json"]["messages"]
        if idle and "mem_after" in res and "json" in res:
            opened = res["json"].get("sessions_opened") or 0
            if opened:
                res["kib_per_session"] = (res["mem_after"] - mem0) / opened
        self.results.append(res)
        self._stop_peer(others)
        print(f"[{self.elapsed():5.0f}s] {tag}: {report.brief(res)}", flush=True)
        return res

    def run_rounds(self, scen, n):
        """n rounds of scen, every peer and protocol in turn, keeping for
        each the run with the median of the scenario's target figure
        (efficiency; p99 for latency).  On a shared machine identical runs
        differ by up to 2x (latency tails by several times), and the
        swings last tens of seconds: rounds spread each peer's samples
        over the same stretch of time as everyone else's.  Only the peers
        the targets name get more than one round."""
        label, _, key, kind = report.METRICS[scen][1]
        runs = {}
        for i in range(n):
            for p in self.peer_objs:
                if i > 0 and p.name not in ROUND_PEERS:
                    continue
                for proto in p.protos:
                    r = self.run_one(p, proto, scen)
                    if r is not None:
                        self.results.remove(r)
                        runs.setdefault((p.name, proto), []).append(r)
        for group in runs.values():
            ok = sorted((r for r in group if key(r) is not None and "error" not in r), key=key)
            keep = ok[len(ok) // 2] if ok else group[-1]
            if len(ok) > 1:
                figures = ", ".join(report.fmt(key(r), kind) for r in group
                                    if key(r) is not None)
                note = f"median of {len(group)} interleaved runs by {label} ({figures})"
                keep["note"] = f"{keep['note']}; {note}" if keep.get("note") else note
            self.results.append(keep)

    def _idle_watch(self, g, sids, errf, timeout):
        """Read the generator's stderr until every session is open, then
        sample the gateway's memory while they are held.  When some
        sessions fail (a peer out of descriptors), the open count stops
        moving: after PLATEAU_S seconds of that, sample there, and stop
        the generator (it would wait for sessions that never come)."""
        deadline = time.monotonic() + timeout
        got = {}
        last, same = None, 0
        for raw in g.stderr:
            errf.write(raw)
            if b"sessions open after" in raw:
                time.sleep(1.0)
                got["mem_after"], _ = mem_of(sids)
                break
            m = re.search(rb"open (\d+)/(\d+) .*errors (\d+)", raw)
            if m:
                state = (int(m.group(1)), int(m.group(3)))
                same = same + 1 if state == last else 0
                last = state
                if same >= PLATEAU_S and state[0] > 0:
                    got["mem_after"], _ = mem_of(sids)
                    got["plateau"] = {"open": state[0], "errors": state[1],
                                      "wanted": int(m.group(2))}
                    os.killpg(g.pid, 15)
                    break
            if time.monotonic() > deadline:
                break
        rest = g.stderr.read()
        errf.write(rest)
        g.stderr.close()
        g.stderr = None
        return got

    def _stop_peer(self, keep):
        for p in list(reversed(self.launcher.procs)):
            if p not in keep:
                self.launcher.stop(p)

    def profile(self, peer, proto, scen="t64"):
        """perf profile of one gateway under the 64 B load (t64, or the
        128-session streams shape) or the open/echo/close cycles, in a run
        of its own (perf slows the process it samples): where its CPU
        goes, and for wsgate the busiest DSOs and symbols, or for the
        cycles the system calls that take the most."""
        if shutil.which("perf") is None or self.elapsed() > BUDGET:
            return None
        others = list(self.launcher.procs)
        leader = peer.start()
        time.sleep(0.3)
        args = gen_args(peer, proto, scen, self.idle_n)
        argv = [GEN] + args[:args.index("-d")] + ["-d", "5", "-q", peer.url(proto)]
        if self.env["aux_cpus"]:
            argv = ["taskset", "-c", self.env["aux_cpus"]] + argv
        argv = peers.niced(argv)
        data = os.path.join(self.workdir, f"perf-{peer.name}-{proto}-{scen}.data")
        g = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        perf_argv = ["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(leader.pid),
                     "--", "sleep", "3"]
        subprocess.run(perf_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        g.wait(timeout=60)
        self._stop_peer(others)

        def perf_report(*opts):
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none"]
                                 + list(opts),
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
            return [re.sub(r"(\s+-)+\s*$", "", ln).rstrip() for ln in rep.splitlines()
                    if ln.strip() and not ln.startswith("#")]

        lines = []
        if scen == "conn":
            lines = [ln for ln in perf_report("--children", "--sort", "symbol")
                     if CONN_SYMBOLS.search(ln)][:16]
        elif peer.name == "wsgate":
            lines = (perf_report("--no-children", "--sort", "dso", "--percent-limit", "1") + [""]
                     + perf_report("--no-children", "--sort", "dso,symbol",
                                   "--percent-limit", "1.5")[:25])
        split = (cpu_split(perf_report("--children", "--sort", "symbol"))
                 if scen in ("t64", "streams") else None)
        self.commands.append((f"profile-{peer.name}-{proto}-{scen}", perf_argv))
        return {"peer": peer.name, "proto": proto, "scen": scen, "lines": lines, "split": split,
                "gen": argv}

    def syscall_cost(self):
        """What a system call costs here, on the gateways' CPU (None if the
        probe is missing or fails)."""
        if not os.access(SYSCOST, os.X_OK):
            return None
        argv = (["taskset", "-c", "1"] if PIN else []) + [SYSCOST]
        self.commands.append(("syscall-cost", argv))
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            return json.loads(out.stdout) if out.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            return None

    def settle_time_wait(self, most=1000, limit=70):
        """Waits (at most `limit` s) until fewer than `most` TCP sockets are
        in TIME_WAIT: those a previous run left behind make every connect()
        search longer for a free port, and the connect-rate runs come
        first.  Returns (count at start, count when the runs begin)."""
        first = count = time_wait_count()
        t0 = time.monotonic()
        while count >= most and time.monotonic() - t0 < limit:
            time.sleep(2)
            count = time_wait_count()
        if first >= most:
            print(f"bench: {first} sockets in TIME_WAIT; waited {time.monotonic() - t0:.0f} s, "
                  f"{count} left", flush=True)
        return first, count

    def run(self):
        self.time_wait = self.settle_time_wait()
        self.sys_cost = self.syscall_cost()
        classes = [c for c in peers.ALL if not PEER_FILTER or c.name in PEER_FILTER]
        self.start_echo()
        missing = [c.name for c in classes if not peers.available(c)]
        self.peer_objs = [c(self.env) for c in classes if peers.available(c)]
        main_scen = [s for s in ["t64", "t64k", "lat", "streams", "bulk", "conn", "idle"]
                     if s in SCEN]
        for p in self.peer_objs:
            for proto in p.protos:
                for s in main_scen:
                    if s not in ROUNDS:
                        self.run_one(p, proto, s)
                if p.name == "wsgate" and "idle" in SCEN:
                    self.run_one(p, proto, "idle-deflate", variant={"deflate": True})
        for s in main_scen:
            if s in ROUNDS:
                self.run_rounds(s, ROUNDS[s])
        ws = [p for p in self.peer_objs if p.name == "wsgate"]
        if ws and "many" in SCEN and self.elapsed() <= BUDGET:
            r = many.run(self, GEN, WSGATE, ECHO, MANY)
            self.results.append(r)
            self.n_run += 1
            print(f"[{self.elapsed():5.0f}s] {self.n_run:02d}-wsgate-h1-many: {report.brief(r)}",
                  flush=True)
        if ws and "scale" in SCEN:
            # Scaling: nothing pinned, so that a second worker can use the
            # second core (shared with the generator and the backend).
            for workers, key in ((1, "scale-w1"), (0, "scale-w2")):
                self.run_one(ws[0], "h1", "t64", variant={"workers": workers or "auto",
                                                          "cpus": None},
                             label_scen=key, gen_cpus=None)
        if "profile" in SCEN and shutil.which("perf"):
            # System calls per message (one-process peers only).
            for p in self.peer_objs:
                if p.name in ONE_PROCESS:
                    for proto in p.protos:
                        self.run_one(p, proto, "t64", label_scen="sys64", count_syscalls=True,
                                     gen_extra=["-d", "3"])
        profiles = []
        if "profile" in SCEN:
            runs = [(p, proto, "t64") for p in self.peer_objs if p.name in ONE_PROCESS
                    for proto in p.protos]
            if ws:
                runs += [(ws[0], proto, scen) for scen, protos in
                         (("streams", ("h1", "h2")), ("conn", ("h2",))) if scen in SCEN
                         for proto in protos]
            for peer, proto, scen in runs:
                pr = self.profile(peer, proto, scen)
                if pr:
                    profiles.append(pr)
        self.launcher.stop_all()
        return missing, profiles


def rerender(path):
    """Writes the report again from a kept results.json (after editing
    bench/analysis.md or report.py), without running anything."""
    with open(path) as f:
        d = json.load(f)
    env = {"wsgate": WSGATE, "gen_has_subprotocol": d["meta"]["gen_has_subprotocol"]}
    objs = [c(env) for c in peers.ALL if c.name in d["peers"]]
    text = report.render(d["results"], objs, d["meta"], d["commands"], d["profiles"])
    print(report.console_table(d["results"], objs))
    if OUT != "-":
        with open(OUT, "w") as f:
            f.write(text)
        print(f"bench: wrote {OUT}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--rerender":
        return rerender(sys.argv[2])
    for path in (GEN, WSGATE, ECHO):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing; run `make all` and scripts/bench.sh")
    b = Bench()
    load0 = os.getloadavg()
    # What was measured: the commit (and whether the tree had changes),
    # kept so that --rerender does not restamp the figures.
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "unknown"
    # The report this run rewrites does not count as a change.
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                            "--", ".", ":(exclude)docs/benchmarks.md"],
                           capture_output=True, text=True).stdout.strip() != ""
    print(f"bench: work dir {b.workdir}; fd limit {b.nofile}, "
          f"idle sessions {b.idle_n}; pinning {'on' if PIN else 'off'}", flush=True)
    try:
        missing, profiles = b.run()
    finally:
        if b.gen is not None and b.gen.poll() is None:
            os.killpg(b.gen.pid, 9)
            b.gen.wait()
        b.launcher.stop_all()
    meta = {
        "duration": DUR, "pin": PIN, "idle_n": b.idle_n, "nofile": b.nofile,
        "lat_rate": LAT_RATE, "elapsed": b.elapsed(), "missing": missing,
        "gen_has_subprotocol": b.gen_has_subprotocol, "build": BUILD, "echo": ECHO,
        "load": (load0, os.getloadavg()), "nice": peers.NICE, "workdir": b.workdir,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": head,
        "dirty": dirty, "syscall_cost": b.sys_cost,
        "time_wait": b.time_wait,
    }
    text = report.render(b.results, b.peer_objs, meta, b.commands, profiles)
    print()
    print(report.console_table(b.results, b.peer_objs))
    if OUT != "-":
        with open(OUT, "w") as f:
            f.write(text)
        print(f"\nbench: wrote {OUT} ({b.elapsed():.0f} s in all)")
    with open(os.path.join(b.workdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": b.results, "commands": b.commands,
                   "profiles": profiles, "peers": [p.name for p in b.peer_objs]},
                  f, indent=1, default=str)
    if os.environ.get("BENCH_KEEP") == "1":
        print(f"bench: kept {b.workdir}")
    else:
        shutil.rmtree(b.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

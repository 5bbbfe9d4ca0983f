"""The 50 000-session scenario of `make bench` ("many"): that many idle
bridged HTTP/1.1 sessions open at once through wsgate on this machine,
without errors, and what they cost in memory.

A bridged session holds two descriptors in the gateway (client and
backend socket), one in the generator and one in the TCP echo.  Where
the per-process descriptor limit allows, one wsgate process carries
them all; where it does not (this machine: a hard limit of 20 000 that
cannot be raised), the sessions are split over as many independent
pipelines as it takes (generator → wsgate → TCP echo, each wsgate on its
own port: wsgate refuses to share a listening port with another
process), all open at the same time.  The figures say how many
processes carried them.

Sessions are counted three ways: by the generators (all opened, none
failed), and by the kernel, as established sockets on the wsgate ports
and on the echo ports, read from /proc/net/tcp while every generator is
holding.
"""
import json
import math
import os
import signal
import subprocess
import time

import peers
import procstat

# Descriptors a process keeps for itself besides its sessions.
FD_SPARE = 256
# Longest wait for every session to open.
OPEN_TIMEOUT_S = 180
# How long the generators would hold (they are stopped once measured).
HOLD_S = 120


def _established(ports):
    """Established TCP sockets (IPv4 loopback) whose local port is one
    of ports."""
    want = {f"{p:04X}" for p in ports}
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split(None, 4)
            if fields[3] == "01" and fields[1].rsplit(":", 1)[1] in want:
                n += 1
    return n


def plan(total, nofile):
    """(wsgate processes, echo processes) for total sessions under the
    descriptor limit nofile."""
    # 15 % spare for descriptors opened on the way (accepts, connects).
    per_gw = int(max(1, (nofile - FD_SPARE) // 2) * 0.85)
    per_echo = int((nofile - FD_SPARE) * 0.85)
    return math.ceil(total / per_gw), math.ceil(total / per_echo)


def run(b, gen, wsgate, echo, total):
    """Run the scenario on Bench b; returns a result dict for the table."""
    res = {"peer": "wsgate", "proto": "h1", "scen": "many"}
    n_gw, n_echo = plan(total, b.nofile)
    res["processes"] = n_gw
    launcher = b.launcher
    others = list(launcher.procs)
    gens = []
    try:
        echo_ports = []
        for i in range(n_echo):
            pf = os.path.join(b.workdir, f"many-echo{i}.port")
            p = launcher.spawn(f"many-echo{i}", [echo, "-f", pf], record=(i == 0))
            deadline = time.monotonic() + 10
            while not os.path.exists(pf) or os.path.getsize(pf) == 0:
                if time.monotonic() > deadline or p.poll() is not None:
                    raise RuntimeError("tcp_echo did not start")
                time.sleep(0.02)
            with open(pf) as f:
                echo_ports.append(int(f.read()))
        gw_ports, gw_procs = [], []
        for i in range(n_gw):
            port = peers.free_port()
            conf = peers.fill("wsgate.conf.in", os.path.join(b.workdir, f"many-wsgate{i}.conf"),
                              WORKERS=1, MAXCONN=60000, PORT=port,
                              ECHO_PORT=echo_ports[i * n_echo // n_gw], DEFLATE="off")
            p = launcher.spawn(f"many-wsgate{i}", [wsgate, "-c", conf], record=(i == 0))
            peers.wait_port(port, proc=p)
            gw_ports.append(port)
            gw_procs.append(p)
        time.sleep(0.3)
        mem0 = sum(procstat.memory_kib(p.pid)[0] for p in gw_procs)
        t0 = time.monotonic()
        for i in range(n_gw):
            n = total * (i + 1) // n_gw - total * i // n_gw
            # A few source addresses per pipeline, as a deployment behind
            # several proxies would have.
            argv = [gen, "--mode", "stream", "--binary", "-c", str(n), "--idle",
                    "-d", str(HOLD_S), "--concurrency", "256",
                    "--bind", f"127.0.{i + 1}.1-4", f"ws://127.0.0.1:{gw_ports[i]}/ws"]
            if i == 0:
                b.commands.append(("many-gen0", argv))
            out = open(os.path.join(b.workdir, f"many-gen{i}.json"), "wb")
            err = open(os.path.join(b.workdir, f"many-gen{i}.err"), "wb")
            gens.append(subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True))
            out.close()
            err.close()
        # Every generator says once that its sessions have settled.
        settled = [False] * n_gw
        while not all(settled) and time.monotonic() - t0 < OPEN_TIMEOUT_S:
            for i in range(n_gw):
                if not settled[i]:
                    with open(os.path.join(b.workdir, f"many-gen{i}.err"), "rb") as f:
                        settled[i] = b"sessions open after" in f.read()
                    if gens[i].poll() is not None:
                        settled[i] = True
            time.sleep(0.2)
        res["open_s"] = time.monotonic() - t0
        if not all(settled):
            res["error"] = f"not every session opened within {OPEN_TIMEOUT_S} s"
        time.sleep(1.0)
        res["mem_after"] = sum(procstat.memory_kib(p.pid)[0] for p in gw_procs)
        res["kernel_client_side"] = _established(gw_ports)
        res["kernel_backend_side"] = _established(echo_ports)
        # Every session is held: stop the generators (they close cleanly
        # and print their summaries).
        for g in gens:
            if g.poll() is None:
                os.killpg(g.pid, signal.SIGINT)
        opened = failed = errors = 0
        for i, g in enumerate(gens):
            try:
                g.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(g.pid, signal.SIGKILL)
                g.wait()
            try:
                with open(os.path.join(b.workdir, f"many-gen{i}.json")) as f:
                    j = json.load(f)
            except (OSError, ValueError):
                res.setdefault("error", f"generator {i}: no summary (exit {g.returncode})")
                continue
            opened += j.get("sessions_opened") or 0
            failed += j.get("sessions_failed") or 0
            errors += j["errors"]["total"]
        res["json"] = {"sessions_opened": opened, "sessions_failed": failed,
                       "errors": {"total": errors}}
        res["wanted"] = total
        if opened:
            res["kib_per_session"] = (res["mem_after"] - mem0) / opened
    except Exception as e:  # reported in the table, not fatal to the bench
        res["error"] = f"{type(e).__name__}: {e}"
    finally:
        for g in gens:
            if g.poll() is None:
                os.killpg(g.pid, signal.SIGKILL)
                g.wait()
        for p in list(reversed(launcher.procs)):
            if p not in others:
                launcher.stop(p)
    return res

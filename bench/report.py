"""The `make bench` report: one table with absolute figures and ratios to
wsgate, the targets of issue 6 checked against it, versions, method and
the exact commands.  Written as Markdown to docs/benchmarks.md."""
import os
import platform
import shlex
import subprocess
import time

HI, LO, NONE = "hi", "lo", None  # which way is better

SCEN_TITLE = {
    "t64": "64 B messages, closed loop",
    "t64k": "64 KiB messages, closed loop",
    "sys64": "64 B, separate 3 s run under perf stat",
    "lat": "fixed rate, 64 B",
    "streams": "128 sessions, 4 in flight each, 64 B (HTTP/2: on one connection)",
    "bulk": "1 MiB messages on 100 HTTP/2 streams",
    "conn": "connect rate (open/echo/close)",
    "idle": "idle sessions, memory",
    "idle-deflate": "idle sessions, memory, deflate on",
    "many": "idle bridged sessions open at once (target 50 000)",
    "scale-w1": "scaling, 64 B, nothing pinned, workers = 1",
    "scale-w2": "scaling, 64 B, nothing pinned, workers = auto (2)",
}
ORDER = ["t64", "sys64", "t64k", "lat", "streams", "bulk", "conn", "idle", "idle-deflate", "many",
         "scale-w1", "scale-w2"]


def _j(r, *path):
    v = r.get("json")
    for p in path:
        if not isinstance(v, dict):
            return None
        v = v.get(p)
    return v


def _per_core(v, r):
    c = r.get("cores")
    if v is None or not c or c <= 0:
        return None
    return v / c


METRICS = {
    "t64": [("msg/s", HI, lambda r: _j(r, "messages_per_s"), "rate"),
            ("msg per gateway core-s", HI,
             lambda r: _per_core(_j(r, "messages_per_s"), r), "rate"),
            ("gateway cores used", NONE, lambda r: r.get("cores"), "cores")],
    "t64k": [("MB/s", HI, lambda r: _j(r, "mb_per_s"), "plain"),
             ("GB per gateway core-s", HI,
              lambda r: _per_core(_j(r, "mb_per_s"), r) and _per_core(_j(r, "mb_per_s"), r) / 1000,
              "gb"),
             ("gateway cores used", NONE, lambda r: r.get("cores"), "cores")],
    "lat": [("p50 µs", LO, lambda r: _j(r, "rtt_us", "p50"), "plain"),
            ("p99 µs", LO, lambda r: _j(r, "rtt_us", "p99"), "plain"),
            ("p99.9 µs", LO, lambda r: _j(r, "rtt_us", "p99_9"), "plain"),
            ("gateway cores used", NONE, lambda r: r.get("cores"), "cores")],
    "streams": [("msg/s", HI, lambda r: _j(r, "messages_per_s"), "rate"),
                ("msg per gateway core-s", HI,
                 lambda r: _per_core(_j(r, "messages_per_s"), r), "rate")],
    "bulk": [("MB/s", HI, lambda r: _j(r, "mb_per_s"), "plain"),
             ("GB per gateway core-s", HI,
              lambda r: _per_core(_j(r, "mb_per_s"), r) and _per_core(_j(r, "mb_per_s"), r) / 1000,
              "gb")],
    "conn": [("sessions/s", HI, lambda r: _j(r, "handshakes_per_s"), "rate"),
             ("sessions per gateway core-s", HI,
              lambda r: _per_core(_j(r, "handshakes_per_s"), r), "rate")],
    "idle": [("KiB per session", LO, lambda r: r.get("kib_per_session"), "kib")],
    "idle-deflate": [("KiB per session", LO, lambda r: r.get("kib_per_session"), "kib")],
}
METRICS["scale-w1"] = METRICS["scale-w2"] = METRICS["t64"]
METRICS["many"] = [("sessions open (kernel count)", HI, lambda r: r.get("kernel_client_side"), "int"),
                   ("KiB per session", LO, lambda r: r.get("kib_per_session"), "kib"),
                   ("wsgate processes", NONE, lambda r: r.get("processes"), "int")]
METRICS["sys64"] = [("gateway syscalls per message", LO, lambda r: r.get("syscalls_per_msg"),
                     "cores")]


def fmt(v, kind):
    if v is None:
        return "–"
    if kind == "rate":
        if v >= 1e6:
            return f"{v / 1e6:.2f} M"
        if v >= 1e3:
            return f"{v / 1e3:.1f} k"
        return f"{v:.0f}"
    if kind == "gb":
        return f"{v:.3f}"
    if kind == "cores":
        return f"{v:.2f}"
    if kind == "kib":
        return f"{v:.1f}"
    if kind == "int":
        return f"{v:.0f}"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


def _errors(r):
    return _j(r, "errors", "total") or 0


def _find(results, peer, proto, scen):
    for r in results:
        if r["peer"] == peer and r["proto"] == proto and r["scen"] == scen:
            return r
    return None


def brief(r):
    if r.get("error") and "json" not in r:
        return r["error"]
    s = r["scen"]
    parts = []
    for name, _, fn, kind in METRICS.get(s, []):
        parts.append(f"{name} {fmt(fn(r), kind)}")
    e = _errors(r)
    if e:
        parts.append(f"{e} errors")
    return "; ".join(parts)


def cell(results, peer, proto, scen, metric):
    name, better, fn, kind = metric
    r = _find(results, peer, proto, scen)
    if r is None:
        return None
    if "json" not in r:
        return "failed" if "start failed" in r.get("error", "") or "no JSON" in r.get(
            "error", "") else r.get("error", "–").replace("skipped: time budget", "skipped")
    v = fn(r)
    text = fmt(v, kind)
    w = _find(results, "wsgate", proto, scen)
    if better and peer != "wsgate" and w is not None and "json" in w and v:
        wv = fn(w)
        if wv:
            ratio = wv / v if better == HI else v / wv
            text += f" ({ratio:.2f}×)"
    e = _errors(r)
    if e:
        text += f" ⚠{e} err"
    late, msgs = _j(r, "late") or 0, _j(r, "messages") or 0
    if scen == "lat" and name == "p50 µs" and late > 0.01 * max(msgs, 1):
        text += f" (fell behind: {late} late)"
    if scen.startswith("idle") and r.get("json") and peer != "wsgate":
        n = _j(r, "sessions_opened")
        if n and n < 1000:
            text += f" [{n} sessions]"
    return text


def table_rows(results, peer_objs):
    rows = []
    for scen in ORDER:
        for proto in ("h1", "h2"):
            if not any(r["scen"] == scen and r["proto"] == proto for r in results):
                continue
            for m in METRICS[scen]:
                cells = [cell(results, p.name, proto, scen, m) for p in peer_objs]
                if all(c is None for c in cells):
                    continue
                label = f"{SCEN_TITLE[scen]} · {'HTTP/1.1' if proto == 'h1' else 'HTTP/2'} · {m[0]}"
                rows.append((label, [c if c is not None else "n/a" for c in cells]))
    return rows


def markdown_table(results, peer_objs):
    rows = table_rows(results, peer_objs)
    head = "| scenario · protocol · metric | " + " | ".join(p.label for p in peer_objs) + " |"
    sep = "|---|" + "---:|" * len(peer_objs)
    return "\n".join([head, sep] + [f"| {l} | " + " | ".join(c) + " |" for l, c in rows])


def console_table(results, peer_objs):
    rows = table_rows(results, peer_objs)
    w0 = max([len(l) for l, _ in rows] + [10])
    ws = [max([len(p.label)] + [len(c[i]) for _, c in rows]) for i, p in enumerate(peer_objs)]
    out = [" " * w0 + "  " + "  ".join(p.label.rjust(w) for p, w in zip(peer_objs, ws))]
    for l, c in rows:
        out.append(l.ljust(w0) + "  " + "  ".join(x.rjust(w) for x, w in zip(c, ws)))
    return "\n".join(out)


def _val(results, peer, proto, scen, idx):
    r = _find(results, peer, proto, scen)
    if r is None or "json" not in r:
        return None
    return METRICS[scen][idx][2](r)


def many_target(r, meta):
    text = "50 000 concurrent bridged sessions on one 2-core machine without errors"
    if r is None or "json" not in r:
        why = r.get("error", "") if r else "not run"
        return (text, "not measured", why)
    j = r["json"]
    want = r.get("wanted", 0)
    ok = (j["sessions_opened"] == want and j["sessions_failed"] == 0 and
          j["errors"]["total"] == 0 and r.get("kernel_client_side") == want and
          r.get("kernel_backend_side") == want and "error" not in r)
    n = r.get("processes", 1)
    how = (f"{want} held through one wsgate" if n == 1 else
           f"{want} held through {n} wsgate processes of about {want // n} each: the fd limit here "
           f"is {meta['nofile']} per process and a bridged session needs two")
    detail = (f"{how}; all open after {r.get('open_s', 0):.0f} s; kernel: "
              f"{r.get('kernel_client_side')} client and "
              f"{r.get('kernel_backend_side')} backend sockets established; "
              f"{j['sessions_failed']} failed, {j['errors']['total']} errors, "
              f"{fmt(r.get('kib_per_session'), 'kib')} KiB per session")
    verdict = ("met" if n == 1 else f"met across {n} processes") if ok else "NOT met"
    return (text, verdict, detail)


def targets(results, meta):
    """Issue 6's targets that this run measures: (text, verdict, detail)."""
    out = []

    def ratio_check(text, proto, scen, idx, peer, need, higher=True):
        w = _val(results, "wsgate", proto, scen, idx)
        p = _val(results, peer, proto, scen, idx)
        if w is None or p is None or p == 0 or w == 0:
            out.append((text, "not measured", ""))
            return
        ratio = w / p if higher else p / w
        out.append((text, "met" if ratio >= need else "NOT met", f"{ratio:.2f}× (need {need}×)"))

    for proto, pl in (("h1", "HTTP/1.1"), ("h2", "HTTP/2")):
        ratio_check(f"64 B efficiency ≥ 1.5× lighttpd, {pl}", proto, "t64", 1, "lighttpd", 1.5)
        ratio_check(f"64 B efficiency ≥ 1.0× haproxy tcp relay, {pl}", proto, "t64", 1, "relay", 1.0)
        ratio_check(f"64 KiB efficiency ≥ 1.0× haproxy tcp relay, {pl}", proto, "t64k", 1,
                    "relay", 1.0)
        ratio_check(f"64 KiB efficiency ≥ 2.5× lighttpd, {pl}", proto, "t64k", 1, "lighttpd", 2.5)
    ratio_check("64 B absolute msg/s ≥ 10× websockify, HTTP/1.1", "h1", "t64", 0, "websockify", 10)

    h1 = _val(results, "wsgate", "h1", "t64", 1)
    st = _val(results, "wsgate", "h2", "streams", 1)
    if h1 and st:
        out.append(("HTTP/2, ≥ 100 streams on one connection: ≥ 70 % of HTTP/1.1 64 B efficiency",
                    "met" if st / h1 >= 0.7 else "NOT met", f"{100 * st / h1:.0f} %"))
    else:
        out.append(("HTTP/2, ≥ 100 streams: ≥ 70 % of HTTP/1.1 efficiency", "not measured", ""))
    same = _val(results, "wsgate", "h1", "streams", 1)
    if same and st:
        out.append(("the same, against HTTP/1.1 at the same depth (128 connections × 4 in "
                    "flight; stated)", "stated", f"{100 * st / same:.0f} %"))
    b = _find(results, "wsgate", "h2", "bulk")
    k = _find(results, "wsgate", "h2", "t64k")
    ok = [r for r in (b, k) if r is not None and "json" in r]
    if ok:
        good = all(_errors(r) == 0 and (_j(r, "bytes_received") or 0) > 0 for r in ok)
        out.append(("HTTP/2 bulk works: 64 KiB on 16 streams and 1 MiB on 100 streams",
                    "met" if good else "NOT met",
                    ", ".join(f"{r['scen']}: {fmt(_j(r, 'mb_per_s'), 'plain')} MB/s, "
                              f"{_errors(r)} errors" for r in ok)))
    for proto, pl in (("h1", "HTTP/1.1"), ("h2", "HTTP/2")):
        w = _val(results, "wsgate", proto, "lat", 1)
        li = _val(results, "lighttpd", proto, "lat", 1)
        re_ = _val(results, "relay", proto, "lat", 1)
        if w is not None and li is not None:
            out.append((f"p99 at {meta['lat_rate']} msg/s ≤ lighttpd's, {pl}",
                        "met" if w <= li else "NOT met", f"{w} µs vs {li} µs"))
        if w is not None and re_ is not None:
            out.append((f"p99 at {meta['lat_rate']} msg/s within 100 µs of the relay's, {pl}",
                        "met" if w <= re_ + 100 else "NOT met", f"{w} µs vs {re_} µs"))
    for proto, pl in (("h1", "HTTP/1.1 session"), ("h2", "HTTP/2 stream")):
        v = _val(results, "wsgate", proto, "idle", 0)
        if v is not None:
            out.append((f"≤ 10 KiB RSS per idle {pl}, deflate off", "met" if v <= 10 else "NOT met",
                        f"{v:.1f} KiB"))
        d = _val(results, "wsgate", proto, "idle-deflate", 0)
        if d is not None:
            out.append((f"RSS per idle {pl} with deflate on (stated, no target)", "stated",
                        f"{d:.1f} KiB"))
    w = _val(results, "wsgate", "h1", "conn", 0)
    r = _val(results, "relay", "h1", "conn", 0)
    if w and r:
        out.append(("HTTP/1.1 new sessions/s ≥ the relay's connection rate",
                    "met" if w >= r else "NOT met", f"{w:.0f} vs {r:.0f}"))
    w = _val(results, "wsgate", "h2", "conn", 0)
    li = _val(results, "lighttpd", "h2", "conn", 0)
    lr = _find(results, "lighttpd", "h2", "conn")
    if w and li is not None:
        note = ""
        if lr is not None and _errors(lr):
            note = (f" (lighttpd: {_errors(lr)} errors, its invalid close frames; "
                    "the cycles go on, see Notes)")
        out.append(("HTTP/2 stream open/echo/close cycles/s ≥ lighttpd's",
                    "met" if w >= li else "NOT met", f"{w:.0f} vs {li:.0f}{note}"))
    out.append(many_target(_find(results, "wsgate", "h1", "many"), meta))
    s1 = _find(results, "wsgate", "h1", "scale-w1")
    s2 = _find(results, "wsgate", "h1", "scale-w2")
    if s1 and s2 and "json" in s1 and "json" in s2:
        out.append(("workers = auto uses every core; scaling 1 → 2 workers", "stated",
                    f"{fmt(_j(s1, 'messages_per_s'), 'rate')} msg/s on {s1['cores']:.2f} cores → "
                    f"{fmt(_j(s2, 'messages_per_s'), 'rate')} msg/s on {s2['cores']:.2f} cores "
                    f"({s2.get('threads', '?')} threads)"))
    return out


def _sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=10).stdout.decode().strip()
    except subprocess.TimeoutExpired:
        return "?"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"{_sh('. /etc/os-release && echo $PRETTY_NAME')}")


def versions(peer_objs, meta):
    commit = meta.get("commit") or "unknown"
    tree = "with uncommitted changes" if meta.get("dirty", True) else "clean work tree"
    v = [f"- wsgate-bench and wsgate: built from `{commit}` ({tree}) in `{meta['build']}`, "
         f"`cc -O2 -g`"]
    for p in peer_objs:
        v.append(f"- {p.label}: {p.version()}")
    v.append(f"- libraries: libevent {_sh('pkg-config --modversion libevent')}, "
             f"nghttp2 {_sh('pkg-config --modversion libnghttp2')}, "
             f"OpenSSL {_sh('pkg-config --modversion openssl')}, "
             f"zlib {_sh('pkg-config --modversion zlib')}")
    v.append(f"- compiler: {_sh('cc --version | head -1')}")
    return "\n".join(v)


def _cmd(argv):
    return " ".join(shlex.quote(a) for a in argv)


def run_notes(results):
    notes = []
    for r in results:
        if r.get("note"):
            notes.append(f"  - {r['peer']} {r['proto']} {r['scen']}: {r['note']}")
        elif r.get("error"):
            notes.append(f"  - {r['peer']} {r['proto']} {r['scen']}: {r['error']}")
        elif _errors(r):
            e = r["json"]["errors"]
            kinds = ", ".join(f"{k} {v}" for k, v in e.items() if k != "total" and v)
            notes.append(f"  - {r['peer']} {r['proto']} {r['scen']}: {e['total']} errors ({kinds})")
    return "\n".join(notes) if notes else "  - none"


def syscall_table(results, peer_objs):
    rows = [r for r in results if r["scen"] == "sys64" and r.get("syscall_kinds")
            and _j(r, "messages")]
    if not rows:
        return ""
    kinds = sorted({k for r in rows for k, v in r["syscall_kinds"].items() if v},
                   key=lambda k: -max(r["syscall_kinds"].get(k, 0) / _j(r, "messages")
                                      for r in rows))
    head = "| gateway, protocol | all | " + " | ".join(kinds) + " | other |"
    sep = "|---|---:|" + "---:|" * (len(kinds) + 1)
    out = [head, sep]
    labels = {p.name: p.label for p in peer_objs}
    for r in rows:
        m = _j(r, "messages")
        known = sum(r["syscall_kinds"].values())
        cells = [f"{r['syscall_kinds'].get(k, 0) / m:.3f}" for k in kinds]
        other = (r.get("syscalls", known) - known) / m
        out.append(f"| {labels.get(r['peer'], r['peer'])}, "
                   f"{'HTTP/1.1' if r['proto'] == 'h1' else 'HTTP/2'} | "
                   f"{r.get('syscalls_per_msg', 0):.3f} | " + " | ".join(cells) +
                   f" | {other:.3f} |")
    return ("\nSystem calls per 64 B message by kind (gateway process only, from the "
            "`perf stat` runs; a message makes two trips through the gateway, client → "
            "backend and back):\n\n" + "\n".join(out) + "\n")


def _crossing_ns(results, meta, proto):
    """What wsgate's system calls per 64 B message cost in crossings alone
    (None without the probe or the perf stat run)."""
    c = meta.get("syscall_cost")
    sysr = _find(results, "wsgate", proto, "sys64")
    if not c or sysr is None or not sysr.get("syscalls_per_msg"):
        return None
    return sysr["syscalls_per_msg"] * c["null_ns"]


def syscall_cost_md(results, meta):
    """The price of a system call here, set against wsgate's CPU per
    message at 64 B: how much of it no user-space work can remove."""
    c = meta.get("syscall_cost")
    if not c:
        return ""
    out = [f"\nOn this machine (bench/syscall_cost.c, on the gateways' CPU) a system call "
           f"that does nothing (`getppid`) costs {c['null_ns']:.0f} ns, a `recv` that finds "
           f"nothing {c['empty_recv_ns']:.0f} ns, and one 64 B message over loopback TCP "
           f"(its `send` and the `recv` that takes it) {c['tcp64_ns']:.0f} ns."]
    for proto, label in (("h1", "HTTP/1.1"), ("h2", "HTTP/2")):
        eff = _val(results, "wsgate", proto, "t64", 1)
        crossing = _crossing_ns(results, meta, proto)
        if not eff or crossing is None:
            continue
        per_msg = 1e9 / eff
        calls = _find(results, "wsgate", proto, "sys64")["syscalls_per_msg"]
        out.append(f"At 64 B over {label} wsgate spends {per_msg:.0f} ns of CPU per message; "
                   f"its {calls:.2f} system calls per message cost "
                   f"{crossing:.0f} ns ({100 * crossing / per_msg:.0f} %) in crossings alone "
                   f"(the part io_uring batching could remove), before any TCP work.")
    return "\n\n".join(out) + "\n"


SPLIT_COLS = (("user", "user space"), ("send", "TCP send, own part"),
              ("deliver", "TCP input of the receiver (loopback)"), ("recv", "TCP receive"),
              ("epoll", "epoll_wait"), ("kernel_other", "other kernel"))
TCP_PARTS = ("send", "deliver", "recv")
SHAPE = {"streams": ", 128 sessions × 4 in flight"}  # profiles not in the t64 shape


def _tcp_ns(parts):
    return sum(parts[k] for k in TCP_PARTS)


def _reach(goal, total, tcp, crossing):
    """How much of a CPU-per-message goal the TCP work (and the system-call
    crossings, when known) already takes."""
    text = f"{100 * tcp / goal:.0f} % of that goal"
    if tcp < goal:
        text += f", leaving {goal - tcp:.0f} ns for everything else (now {total - tcp:.0f})"
    floor = tcp
    if crossing is not None:
        floor += crossing
        text += (f"; with the system-call crossings it makes ({crossing:.0f} ns), "
                 f"{100 * floor / goal:.0f} %")
    if floor > goal:
        text += (", so no work on wsgate's own code can reach it: only fewer sends per "
                 "message (larger batches) or cheaper TCP can")
    return text


def cpu_split_md(results, profiles, peer_objs, meta):
    """CPU per 64 B message by where it goes, for each profiled gateway,
    and what that leaves reachable for the 64 B efficiency targets."""
    labels = {p.name: p.label for p in peer_objs}
    ns = {}
    for pr in profiles:
        scen = pr.get("scen", "t64")
        eff = _val(results, pr["peer"], pr["proto"], scen, 1)
        if pr.get("split") and eff:
            total = 1e9 / eff
            ns[(pr["peer"], pr["proto"], scen)] = (total, {k: v * total / 100
                                                           for k, v in pr["split"].items()})
    if not ns:
        return ""
    out = ["\nCPU per 64 B message by where it goes, in ns (the efficiency run's CPU per "
           "message (the median run where there are rounds), split by the shares of a `perf record -g` profile of the gateway "
           "under the same load; inclusive kernel functions: tcp_sendmsg, net_rx_action, "
           "tcp_recvmsg, do_epoll_wait).  On loopback a `send` also runs the receiving "
           "socket's TCP input in the sender's context, so a gateway pays there for part of "
           "its peers' work, which on a network the receiving host would do:\n",
           "| gateway, protocol | CPU per message | " + " | ".join(t for _, t in SPLIT_COLS)
           + " | TCP work (send + input + receive) |",
           "|---|---:|" + "---:|" * (len(SPLIT_COLS) + 1)]
    for (peer, proto, scen), (total, parts) in ns.items():
        tcp = _tcp_ns(parts)
        out.append(f"| {labels.get(peer, peer)}, {'HTTP/1.1' if proto == 'h1' else 'HTTP/2'}"
                   f"{SHAPE.get(scen, '')} | "
                   f"{total:.0f} | " + " | ".join(f"{parts[k]:.0f}" for k, _ in SPLIT_COLS)
                   + f" | {tcp:.0f} ({100 * tcp / total:.0f} %) |")
    lines = []
    for proto, label in (("h1", "HTTP/1.1"), ("h2", "HTTP/2")):
        w = ns.get(("wsgate", proto, "t64"))
        if not w:
            continue
        for peer, need in (("lighttpd", 1.5), ("relay", 1.0)):
            o = ns.get((peer, proto, "t64"))
            if not o or w[0] <= o[0] / need:
                continue
            goal, name = o[0] / need, labels.get(peer, peer)
            lines.append(f"- {label}, {need:g}× {name}: wsgate would need {goal:.0f} ns per "
                         f"message; its TCP work alone is {_tcp_ns(w[1]):.0f} ns ({name}'s: "
                         f"{_tcp_ns(o[1]):.0f} ns), "
                         f"{_reach(goal, w[0], _tcp_ns(w[1]), _crossing_ns(results, meta, proto))}.")
    h1, st = ns.get(("wsgate", "h1", "t64")), ns.get(("wsgate", "h2", "streams"))
    if h1 and st and st[0] > h1[0] / 0.7:
        goal = h1[0] / 0.7
        why = ("; each of the 128 backend sockets gets a `send` per batch of at most 4 "
               "messages, against 16 per connection at 32 × 16" if _tcp_ns(st[1]) > goal else "")
        lines.append(f"- HTTP/2, 128 streams at 70 % of HTTP/1.1's efficiency: wsgate would "
                     f"need {goal:.0f} ns per message; its TCP work alone is "
                     f"{_tcp_ns(st[1]):.0f} ns there (HTTP/1.1 at 32 × 16: {_tcp_ns(h1[1]):.0f} "
                     f"ns), {_reach(goal, st[0], _tcp_ns(st[1]), None)}{why}.")
    if lines:
        out.append("\nWhat that leaves for the efficiency targets not met:\n")
        out += lines
    return "\n".join(out) + "\n"


def analysis():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    try:
        with open(path) as f:
            return f.read().strip() + "\n"
    except OSError:
        return ""


def configs(workdir):
    """The config files as filled in for this run."""
    out = []
    for name in ("wsgate.conf", "lighttpd.conf", "haproxy-http.cfg", "haproxy-tcp.cfg",
                 "relay-backend.conf"):
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            with open(path) as f:
                out.append(f"`{name}` (last one written):\n\n```\n{f.read().strip()}\n```\n")
    return "\n".join(out)


def _time_wait_md(meta):
    tw = meta.get("time_wait")
    if not tw:
        return ""
    return (f"  TCP sockets in TIME_WAIT when the runs began: {tw[1]}"
            + (f" (after waiting for {tw[0]} left by earlier work to expire)"
               if tw[0] > tw[1] else "") + ".")


def render(results, peer_objs, meta, commands, profiles):
    now = meta.get("when") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    tg = targets(results, meta)
    tg_md = "\n".join(f"| {t} | {v} | {d} |" for t, v, d in tg)
    prof_md = ""
    for pr in profiles:
        if not pr.get("lines"):
            continue
        proto = 'HTTP/1.1' if pr['proto'] == 'h1' else 'HTTP/2'
        if pr.get("scen") == "conn":
            title, what = (f"wsgate, open/echo/close cycles, {proto}",
                           "time by system call, inclusive of the kernel work under it "
                           "(children %, then self %), and the kernel's ephemeral-port search:")
        else:
            title, what = (f"wsgate, 64 B{SHAPE.get(pr.get('scen'), '')}, {proto}",
                           "self time by DSO (≥ 1 %), then by symbol (≥ 1.5 %):")
        prof_md += (f"\n### {title}\n\n"
                    f"`{_cmd(pr['gen'])}`, sampled with `perf record -F 999 -g -p PID -- sleep 3`, "
                    + what + "\n\n```\n" + "\n".join(pr["lines"]) + "\n```\n")
    if not prof_md:
        prof_md = "\n(no profile in this run)\n"
    prof_md = (syscall_table(results, peer_objs) + syscall_cost_md(results, meta)
               + cpu_split_md(results, profiles, peer_objs, meta) + prof_md) + "\n" + analysis()
    peer_cmds = []
    seen = set()
    gen_cmds = []
    perf_cmds = []
    for what, argv in commands:
        if any(os.path.basename(a) == "wsgate-bench" for a in argv[:6]):
            gen_cmds.append(f"{what}: {_cmd(argv)}")
        elif argv and argv[0] == "perf":
            perf_cmds.append(f"{what}: {_cmd(argv)}")
        elif (what, tuple(argv[:3])) not in seen:
            seen.add((what, tuple(argv[:3])))
            peer_cmds.append(f"{what}: {_cmd(argv)}")
    pin = ("gateway processes on CPU 1 (`taskset -c 1`), load generator, TCP echo and the "
           "relay's WebSocket echo on CPU 0" if meta["pin"] else "no pinning")
    return f"""# wsgate benchmarks

Produced by `make bench` (scripts/bench.sh → bench/run.py) on {now}, in
{meta['elapsed']:.0f} s.  Machine: {machine()}.  Everything ran on
loopback on this one machine.  The machine is shared with other work:
load average {meta['load'][0][0]:.2f} when the run started and
{meta['load'][1][0]:.2f} when it ended (1-minute figures; {os.cpu_count()} CPUs){'' if not meta['nice'] else f", and every process of the benchmark ran at nice {meta['nice']}"}.{_time_wait_md(meta)}  Treat
differences under about 20 % as noise.

## How to read the table

- Each cell is the peer's absolute figure and, in parentheses, its
  **ratio to wsgate** written as wsgate's advantage: for rates and
  efficiencies wsgate ÷ peer, for latency and memory peer ÷ wsgate.  So
  **≥ 1.00× means wsgate is at least as good**, 2.00× means twice as good;
  below 1 the peer wins.
- **Efficiency** (`per gateway core-s`) is the rate divided by the CPU
  cores the gateway used during the run: (utime + stime) of all its
  processes from `/proc/PID/stat`, as a delta over the run, divided by
  the run's wall time.  The machine has {os.cpu_count()} cores shared by
  the load generator, the backend and the gateway, so the absolute rate is
  mostly the generator's limit; efficiency is the comparable figure.
  Both are shown.  For the chains (haproxy → websockify, nghttpx →
  websockify) the gateway is both processes, and websockify's forked
  children count too.
- Pinning: {pin}.  Every gateway runs single-threaded: wsgate
  `workers = 1`, lighttpd `server.max-worker = 0`, haproxy `nbthread 1`,
  nghttpx `--workers=1 --single-thread --single-process`; websockify is
  one Python process per session (its design).  The scaling row unpins
  everything.
- Every run starts the gateway afresh, {meta['duration']:g} s per
  throughput and latency run; `⚠N err` marks runs in which the generator
  counted errors (see Notes), `–` a figure that does not exist, `n/a` a
  run that does not apply to the peer.
- Memory: the gateway's VmRSS (`/proc/PID/status`) while the sessions are
  held minus before they were opened, divided by the sessions opened; for
  multi-process peers the sum of Pss over their processes instead of
  VmRSS, so that websockify's shared pages are not counted per child.

## Results

{markdown_table(results, peer_objs)}

Shapes (load generator `wsgate-bench`, one thread):

| scenario | HTTP/1.1 | HTTP/2 |
|---|---|---|
| 64 B | 32 connections, 16 messages in flight each | 4 connections × 8 streams, 16 in flight each |
| 64 KiB | 16 connections, 4 in flight each | 2 × 8 streams, 4 in flight each |
| fixed rate | {meta['lat_rate']} msg/s in all over 16 connections | over 2 × 8 streams |
| 128 sessions | 128 connections, 4 in flight each (wsgate, lighttpd and the relay only) | 1 connection × 128 streams, 4 in flight each (lighttpd: 16 × 8, its stream limit) |
| 1 MiB bulk | – | 1 connection × 100 streams, 1 in flight each (lighttpd: 13 × 8) |
| connect rate | 32 connections cycling open → one 64 B echo → close, from 127.0.0.1–64 | 4 connections × 8 streams cycling |
| idle | {meta['idle_n']} sessions held for 2 s (websockify and the chains: 100) | {meta['idle_n']} streams, 100 per connection (lighttpd: 8) |

## Targets (issue 6)

| target | verdict | measured |
|---|---|---|
{tg_md}

## Where wsgate's time goes
{prof_md}
## Versions

{versions(peer_objs, meta)}

## Notes

- **Backends.**  Every WebSocket gateway bridges `/ws` to the same C TCP
  echo (`bench/tcp_echo.c`, `cc -O2`, one epoll thread), and the
  generator runs in `--mode stream` (it counts bytes in order, since a
  bridge may split or merge messages).  The **haproxy tcp relay** knows
  nothing of WebSocket, and the generator can only speak WebSocket, so the
  relay forwards to a WebSocket echo: a second wsgate (built-in `echo`
  route, `workers = 1`, on the generator's CPU, not measured) with the
  generator in `--mode echo`.  The relay therefore copies exactly the
  bytes a WebSocket gateway would receive and send (frame headers
  included) without parsing them, which is the no-WebSocket limit the
  issue asks for; its HTTP/2 figures are the same relay carrying h2c.
- **lighttpd**: mod_wstunnel is built into Debian's `lighttpd` package
  (there is no `lighttpd-mod-wstunnel`).  It names the subprotocol
  `binary` in its 101 even when the client offered none, which a
  conforming client must reject; {'the generator offers `binary`' if meta['gen_has_subprotocol'] else 'the generator has no `--subprotocol`, so lighttpd runs with `wstunnel.frame-type = "text"` (then it names none, and sends the echoed ASCII bytes as text frames)'}.
  It answers a close frame with the ASCII digits of the code as payload
  (`88 04 "1000"`, i.e. code 12592), which the generator counts as a
  session error in the connect-rate run.  The cycles still complete (the
  echo came back before the close) and the generator goes on with a new
  connection (HTTP/1.1) or a new stream (HTTP/2), so lighttpd's connect
  rates are real figures with one error per cycle.  It allows 8 streams per HTTP/2
  connection, and it aborts streams in the 1 MiB bulk run (the errors
  there are its RST_STREAMs/closes, as issue 6 expected).
- **Fixed rate**: "fell behind: N late" marks runs in which the
  generator found more than 1 % of its sends already overdue, i.e. the
  path did not keep up with the rate and the percentiles include
  queueing.
- **Pinning** was chosen for steadiness: in three alternating trials (November, before gw_sock) of
  the 64 B runs, wsgate's efficiency relative to lighttpd's ranged
  0.66–0.77 pinned and 0.58–0.86 unpinned.  Pinning lowers every
  gateway's efficiency (a gateway alone on its core wakes up for smaller
  batches), so compare ratios, not these absolute figures with unpinned
  ones.
- Errors in the websockify runs are sessions whose handshake had not
  completed when the run ended (websockify was still forking).
- **websockify** forks one Python process per connection (a few per
  second on this busy machine), so it and the chains in front of it hold
  100 idle sessions, not {meta['idle_n']}, and the chains skip the runs
  that open 100 or more streams at once (they would spend the run
  forking) and run idle and connect rate over HTTP/1.1 only (over HTTP/2
  every stream is still one websockify process).  Their throughput runs
  include the forking of the 32 (or 16) processes at the start.
- **Relay over HTTP/2, idle**: the relay sees only the 100-stream TCP
  connections, not the streams, hence its tiny per-stream figure.
- **File descriptors**: this machine's hard `RLIMIT_NOFILE` is
  {meta['nofile']}, so the idle run holds {meta['idle_n']} sessions in one
  process (a bridging gateway needs two descriptors per HTTP/1.1
  session), and the 50 000-session run (bench/many.py) splits its
  sessions over as many generator → wsgate → TCP echo pipelines as the
  limit requires, all open at once (one wsgate where the limit allows).
- Problems counted in this run:
{run_notes(results)}

## Commands

Peers (ports and paths as in this run; configs are filled from
`bench/*.in`):

```
{chr(10).join(peer_cmds)}
```

System call counts and profiles (PID lists differ per run):

```
{chr(10).join(perf_cmds[:1] + [c for c in perf_cmds if c.startswith("profile")])}
```

Load generator, one line per run:

```
{chr(10).join(gen_cmds)}
```

Config files:

{configs(meta["workdir"])}"""

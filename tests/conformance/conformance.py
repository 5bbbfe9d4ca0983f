#!/usr/bin/python3
"""Autobahn-style WebSocket conformance client (see README.md).

Runs the cases of sections 1-7, 9, 10, 12 and 13 against an echo
endpoint over the chosen transports, prints a per-section table and
writes a Markdown report.  Exit status: 0 when every case is OK or
INFORMATIONAL (NON-STRICT too with --allow-non-strict), 1 otherwise.
"""
import argparse
import fnmatch
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import conf_cases  # noqa: E402
import conf_cases_big  # noqa: E402
import conf_cases_utf8  # noqa: E402
from conf_judge import (FAILED, INFORMATIONAL, NON_STRICT, OK, UNIMPLEMENTED, Ctx,  # noqa: E402
                        Result)
from conf_transport import TRANSPORTS, HandshakeError  # noqa: E402

VERDICTS = (OK, NON_STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED)
SECTION_NAMES = {1: "Framing", 2: "Ping/pong", 3: "Reserved bits", 4: "Opcodes",
                 5: "Fragmentation", 6: "UTF-8", 7: "Close", 9: "Limits/performance",
                 10: "Auto-fragmentation", 12: "permessage-deflate (data)",
                 13: "permessage-deflate (parameters)"}


def all_cases():
    cs = conf_cases.cases() + conf_cases_utf8.cases() + conf_cases_big.cases()
    return sorted(cs, key=lambda c: c.key)


def select(cases, fast, patterns):
    out = [c for c in cases if c.fast or not fast]
    if patterns:
        out = [c for c in out if any(fnmatch.fnmatch(c.id, p) or c.id == p or
                                     c.id.startswith(p.rstrip("*") + ".") for p in patterns)]
    return out


def probe(ctx):
    """None when a WebSocket opens on this transport, else why not."""
    try:
        ws = ctx.connect()
    except HandshakeError as e:
        return str(e)
    ws.chan.close()
    return None


def run_transport(ctx, cases, verbose):
    results = {}
    why = probe(ctx)
    if why is not None:
        print(f"{ctx.transport}: cannot open a WebSocket: {why}", flush=True)
        for c in cases:
            results[c.id] = Result(FAILED, f"handshake: {why}")
        return results
    for c in cases:
        t0 = time.monotonic()
        try:
            r = c.fn(ctx)
        except HandshakeError as e:
            r = Result(FAILED, f"handshake: {e}")
        except Exception as e:  # a client bug must show, not hide a case
            r = Result(FAILED, f"client exception: {e!r}")
            traceback.print_exc()
        r.ms = int((time.monotonic() - t0) * 1000)
        results[c.id] = r
        if verbose or r.verdict not in (OK, INFORMATIONAL):
            print(f"  {ctx.transport:4} {c.id:9} {r.verdict:13} {r.detail[:150]}", flush=True)
    return results


def section_table(cases, runs):
    """Markdown table: one row per section, one column per transport."""
    sections = sorted({c.section for c in cases})
    head = "| Section | Cases | " + " | ".join(t for t in runs) + " |"
    lines = [head, "|" + "---|" * (2 + len(runs))]
    for s in sections:
        ids = [c.id for c in cases if c.section == s]
        cells = []
        for t, res in runs.items():
            counts = {}
            for i in ids:
                counts[res[i].verdict] = counts.get(res[i].verdict, 0) + 1
            cells.append(" ".join(f"{v} {counts[v]}" for v in VERDICTS if v in counts))
        lines.append(f"| {s} {SECTION_NAMES[s]} | {len(ids)} | " + " | ".join(cells) + " |")
    totals = []
    for t, res in runs.items():
        counts = {}
        for r in res.values():
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        totals.append(" ".join(f"{v} {counts[v]}" for v in VERDICTS if v in counts))
    lines.append(f"| **all** | {len(cases)} | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def write_report(path, args, cases, runs, elapsed):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("# wsgate conformance report (Autobahn-style)\n\n")
        f.write(f"Target: {args.label or args.host}, path {args.path}; "
                f"{'fast subset' if args.fast else 'full suite'}; "
                f"{time.strftime('%Y-%m-%d %H:%M:%S')}; {elapsed:.0f} s.\n\n")
        f.write("## Summary per section\n\n" + section_table(cases, runs) + "\n\n")
        f.write("## Cases not OK\n\n")
        bad = [(t, c, res[c.id]) for t, res in runs.items() for c in cases
               if res[c.id].verdict != OK]
        if not bad:
            f.write("None.\n\n")
        else:
            f.write("| Transport | Case | Verdict | Detail |\n|---|---|---|---|\n")
            for t, c, r in bad:
                f.write(f"| {t} | {c.id} | {r.verdict} | {md(r.detail)} |\n")
            f.write("\n")
        f.write("## Slowest cases\n\n")
        for t, res in runs.items():
            slow = sorted(cases, key=lambda c: -res[c.id].ms)[:8]
            f.write(f"- {t}: " + ", ".join(f"{c.id} {res[c.id].ms} ms" for c in slow) + "\n")
        f.write("\n## Negotiated permessage-deflate (first case of each subsection)\n\n")
        for t, res in runs.items():
            for c in cases:
                if c.section in (12, 13) and c.key[2] == 1:
                    f.write(f"- {t} {c.id}: {res[c.id].verdict}: {md(res[c.id].detail)}\n")
        f.write("\n## All cases\n\n| Case | Description | " + " | ".join(runs) + " |\n|---|---|" +
                "---|" * len(runs) + "\n")
        for c in cases:
            cells = []
            for res in runs.values():
                r = res[c.id]
                extra = f" ({r.ms} ms)" if c.section in (9, 12, 13) and r.verdict == OK else ""
                cells.append(r.verdict + extra)
            f.write(f"| {c.id} | {md(c.desc)} | " + " | ".join(cells) + " |\n")


def md(s):
    return s.replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--path", default="/echo")
    ap.add_argument("--port", type=int, help="cleartext port (ws and h2c)")
    ap.add_argument("--tls-port", type=int, help="TLS port (wss and h2)")
    ap.add_argument("--h2c-port", type=int,
                    help="also run h2c on this port (validation through h2_proxy.py)")
    ap.add_argument("--transports", default=",".join(TRANSPORTS))
    ap.add_argument("--fast", action="store_true", help="the make-check subset")
    ap.add_argument("--cases", default="", help="comma-separated ids or globs, e.g. 6.4.*,7")
    ap.add_argument("--report", default="build/conformance/report.md")
    ap.add_argument("--label", default="", help="name of the server for the report")
    ap.add_argument("--slow", type=float, default=float(os.environ.get("CONF_SLOW", "1")))
    ap.add_argument("--allow-non-strict", action="store_true")
    ap.add_argument("--expect", choices=VERDICTS,
                    help="self-test: succeed only when every case gets this verdict")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args()

    cases = select(all_cases(), args.fast, [p for p in args.cases.split(",") if p])
    if args.list:
        for c in cases:
            print(f"{c.id:9} {'fast ' if c.fast else '     '}{c.desc}")
        print(f"{len(cases)} cases")
        return 0
    runs = {}
    t0 = time.monotonic()
    transports = [x for x in args.transports.split(",") if x]
    if args.h2c_port and "h2c" not in transports:
        transports.append("h2c")
    for t in transports:
        if t not in TRANSPORTS:
            ap.error(f"unknown transport {t}")
        port = args.tls_port if t in ("wss", "h2") else args.port
        if t == "h2c" and args.h2c_port:
            port = args.h2c_port
        if not port:
            ap.error(f"transport {t} needs {'--tls-port' if t in ('wss', 'h2') else '--port'}")
        t1 = time.monotonic()
        print(f"{t}: {len(cases)} cases against {args.host}:{port}{args.path}", flush=True)
        runs[t] = run_transport(Ctx(t, args.host, port, args.path, args.slow), cases,
                                args.verbose)
        print(f"{t}: done in {time.monotonic() - t1:.1f} s", flush=True)
    elapsed = time.monotonic() - t0
    write_report(args.report, args, cases, runs, elapsed)
    print()
    print(section_table(cases, runs))
    print(f"\nreport: {args.report} ({elapsed:.0f} s)")
    if args.expect:
        bad = sum(1 for res in runs.values() for r in res.values() if r.verdict != args.expect)
        print(f"self-test: {sum(len(r) for r in runs.values()) - bad} cases {args.expect} as "
              f"expected, {bad} not")
        return 1 if bad else 0
    allowed = {OK, INFORMATIONAL} | ({NON_STRICT} if args.allow_non_strict else set())
    bad = sum(1 for res in runs.values() for r in res.values() if r.verdict not in allowed)
    print(f"conformance: {sum(len(r) for r in runs.values()) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

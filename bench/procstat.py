"""CPU time and memory of a process tree, from /proc.

Every process a peer runs is started as the leader of a new session
(start_new_session), so the peer's processes are exactly those whose
session id is the leader's pid: that includes websockify's forked
children and nghttpx's helper processes without tracking pids.
"""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the
    # last ')'.
    return data[data.rindex(b")") + 2:].split()


def session_pids(sid):
    """Pids of the live processes (zombies included) in session sid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = _stat_fields(name)
        # f[3] is the session id (field 6 of stat).
        if f is not None and int(f[3]) == sid:
            out.append(int(name))
    return out


def cpu_seconds(sid):
    """User + system CPU seconds used so far by the session's processes,
    including children they have reaped (cutime/cstime), so that a
    websockify child that exited during the run is still counted."""
    ticks = 0
    for pid in session_pids(sid):
        f = _stat_fields(pid)
        if f is None:
            continue
        # utime, stime, cutime, cstime: stat fields 14-17.
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return ticks / CLK_TCK


def _status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_kib(sid):
    """(KiB, how) for the session: VmRSS when it is one process; the sum
    of Pss (shared pages divided among their users) when it is several,
    since summing RSS would count websockify's shared pages once per
    forked child."""
    pids = session_pids(sid)
    if len(pids) == 1:
        return _status_kib(pids[0], "VmRSS"), "VmRSS"
    return sum(_pss_kib(p) for p in pids), f"sum of Pss over {len(pids)} processes"


def threads(sid):
    return sum(_status_kib(p, "Threads") for p in session_pids(sid))

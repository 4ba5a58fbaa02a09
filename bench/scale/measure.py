#!/usr/bin/env python3
"""Per-request latency of a fixed set of pages, sequentially and with concurrent clients.

Standard library only. Each client keeps one HTTP/1.1 connection (like a browser) and sends
the session cookie; a request is timed from sending it to having read the whole body. Anything
but a 200 counts as an error (a lost session shows up as a 303 to /login).

    python3 bench/scale/measure.py --base-url http://127.0.0.1:18490 --cookie 'tsunagu_session=…' \
        --plan plan.tsv --backend SQLite --requests 200 --concurrency 8 > rows.tsv

The plan has one page kind a line, tab-separated: label, a regex whose first group is the
number of results the page reports (or `-`), then one or more URLs that are used in turn
(several typical queries of the same kind). Output: one TSV row per kind and mode, with the
load average and the machine's CPU use (from /proc/stat, all processes, including other
containers' compiles) while it ran.
"""

import argparse
import http.client
import math
import os
import re
import subprocess
import sys
import threading
import time


def log(msg):
    print(f"[measure {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_times():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals), idle


CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def proc_cpu_seconds(pids):
    """{pid: CPU seconds (user + system, all threads) used so far} of the processes `pids`."""
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return out


def reaped_cpu_seconds(pid):
    """CPU seconds of the children `pid` has waited for: for the PostgreSQL postmaster, its
    parallel query workers, which live for one query and are never among the backends."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def parent_pid(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def pg_backend_pids(url):
    """PIDs of the PostgreSQL backends connected to the database of `url` (the server's pool)."""
    if not url:
        return []
    try:
        out = subprocess.run(
            ["psql", "-X", "-A", "-t", url, "-c",
             "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        return [int(x) for x in out.split()]
    except (subprocess.SubprocessError, ValueError, OSError):
        return []


def busy_pct(a, b):
    total = b[0] - a[0]
    idle = b[1] - a[1]
    return 100.0 * (total - idle) / total if total > 0 else 0.0


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def wait_quiet(limit_pct, timeout):
    """Waits until the machine is at most limit_pct busy over one second; returns (busy, waited)."""
    t0 = time.time()
    while True:
        a = cpu_times()
        time.sleep(1.0)
        b = cpu_times()
        pct = busy_pct(a, b)
        waited = time.time() - t0
        if pct <= limit_pct or waited >= timeout:
            return pct, waited
        time.sleep(4.0)


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(0, math.ceil(p * len(sorted_vals)) - 1)
    return sorted_vals[k]


class Client:
    def __init__(self, host, port, cookie):
        self.host, self.port, self.cookie = host, port, cookie
        self.conn = None

    def get(self, path):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers={"Cookie": self.cookie, "Accept": "text/html"})
                resp = self.conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - t0
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, body, elapsed
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise RuntimeError("unreachable")


def run(host, port, cookie, urls, n, clients, ours=lambda: [], postmaster=None):
    """n requests in all, spread over `clients` clients, each cycling through the URLs. `ours()`:
    the PIDs of the server (and its database backends), whose CPU is not "other load"; asked
    before and after, so that a backend the pool opened during the run counts as ours. The
    CPU of PostgreSQL's parallel workers is counted through `postmaster`, which reaps them."""
    lat, errors, lock = [], [], threading.Lock()
    per = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]

    def worker(i):
        c = Client(host, port, cookie)
        mine = []
        for j in range(per[i]):
            url = urls[(i + j * clients) % len(urls)]
            try:
                status, body, el = c.get(url)
            except Exception as e:  # noqa: BLE001 (any failure is an error of this run)
                with lock:
                    errors.append(f"{url}: {e}")
                continue
            if status != 200:
                with lock:
                    errors.append(f"{url}: HTTP {status}")
            mine.append(el)
        with lock:
            lat.extend(mine)

    c0 = cpu_times()
    l0 = loadavg()
    p0 = proc_cpu_seconds(ours())
    r0 = reaped_cpu_seconds(postmaster)
    s0 = own_cpu_seconds()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    busy = busy_pct(c0, cpu_times())
    p1 = proc_cpu_seconds(ours())
    used = own_cpu_seconds() - s0 + sum(v - p0.get(pid, 0.0) for pid, v in p1.items())
    used += reaped_cpu_seconds(postmaster) - r0
    mine = 100.0 * used / (wall * NCPU) if wall > 0 else 0.0
    lat.sort()
    return {
        "n": len(lat),
        "errors": errors,
        "p50": percentile(lat, 0.50) * 1000,
        "p95": percentile(lat, 0.95) * 1000,
        "max": (lat[-1] * 1000) if lat else float("nan"),
        "rps": len(lat) / wall if wall > 0 else float("nan"),
        "load": l0,
        "busy": busy,
        "other": max(0.0, busy - mine),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--cookie", required=True, help="Cookie header value (the session)")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--requests", type=int, default=200, help="requests per page kind and mode (default 200)")
    ap.add_argument("--concurrency", type=int, default=8, help="clients of the concurrent mode (default 8)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed requests per URL first (default 5)")
    ap.add_argument("--quiet-pct", type=float, default=25.0,
                    help="before each page kind wait until the machine is at most this busy (default 25)")
    ap.add_argument("--quiet-timeout", type=float, default=300.0, help="... but at most this many seconds")
    ap.add_argument("--only", help="regex: measure only the labels that match")
    ap.add_argument("--server-pid", type=int, help="the server's PID: its CPU does not count as other load")
    ap.add_argument("--pg-url", help="the server's PostgreSQL database: its backends' CPU does not count either")
    ap.add_argument("--retries", type=int, default=2,
                    help="runs of a mode repeated when other load during it was above --quiet-pct (default 2)")
    a = ap.parse_args()

    m = re.match(r"https?://([^:/]+)(?::(\d+))?", a.base_url)
    host, port = m.group(1), int(m.group(2) or 80)
    plan = []
    with open(a.plan, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            label, rx, *urls = line.split("\t")
            if a.only and not re.search(a.only, label):
                continue
            plan.append((label, None if rx == "-" else re.compile(rx), urls))

    def ours():
        return ([a.server_pid] if a.server_pid else []) + pg_backend_pids(a.pg_url)

    backends = pg_backend_pids(a.pg_url)
    postmaster = parent_pid(backends[0]) if backends else None

    print("\t".join(["backend", "page", "mode", "requests", "errors", "p50_ms", "p95_ms", "max_ms", "req_per_s",
                     "load1", "busy_pct", "other_pct", "disturbed", "quiet_pct_before", "results", "bytes"]), flush=True)
    for label, rx, urls in plan:
        c = Client(host, port, a.cookie)
        results, size = [], 0
        for url in urls:
            status, body, _ = c.get(url)
            if status != 200:
                sys.exit(f"{url} answered {status}; is the session valid?")
            text = body.decode("utf-8", "replace")
            size = max(size, len(body))
            if rx:
                hit = rx.search(text)
                results.append(hit.group(1) if hit else "?")
            for _ in range(max(0, a.warmup - 1)):
                c.get(url)
        quiet, waited = wait_quiet(a.quiet_pct, a.quiet_timeout)
        log(f"{a.backend} {label}: machine {quiet:.0f}% busy after waiting {waited:.0f} s (load {loadavg()})")
        for mode, clients in (("seq", 1), (f"{a.concurrency}conc", a.concurrency)):
            for attempt in range(a.retries + 1):
                r = run(host, port, a.cookie, urls, a.requests, clients, ours, postmaster)
                if r["other"] <= a.quiet_pct or attempt == a.retries:
                    break
                log(f"  {mode}: other load {r['other']:.0f}% during the run; again after a quiet moment")
                wait_quiet(a.quiet_pct, a.quiet_timeout)
            if r["errors"]:
                log(f"  {mode}: {len(r['errors'])} errors, first: {r['errors'][0]}")
            log(f"  {mode}: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, max {r['max']:.1f} ms, {r['rps']:.1f} req/s, "
                f"machine {r['busy']:.0f}% busy, {r['other']:.0f}% of it other load")
            print("\t".join([
                a.backend, label, mode, str(r["n"]), str(len(r["errors"])), f"{r['p50']:.1f}", f"{r['p95']:.1f}",
                f"{r['max']:.1f}", f"{r['rps']:.1f}", r["load"], f"{r['busy']:.0f}", f"{r['other']:.0f}",
                "yes" if r["other"] > a.quiet_pct else "no", f"{quiet:.0f}",
                "/".join(results) if results else "-", str(size),
            ]), flush=True)


if __name__ == "__main__":
    main()

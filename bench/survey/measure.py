#!/usr/bin/env python3
"""Latency of the survey roll-up pages: sequential requests over one kept-alive connection (as a
browser makes them), after a warm-up, on a machine that is quiet enough; each page once as
plain HTML and once with a browser's `Accept-Encoding` (the server then gzips the page).

Standard library only; the percentiles, the quiet-machine wait and the CPU bookkeeping are
those of bench/scale/measure.py, imported.

    python3 bench/survey/measure.py --base-url http://127.0.0.1:18500 --cookie 'tsunagu_session=…' \
        --plan plan.tsv --backend SQLite --requests 200 > rows.tsv

The plan has one page a line, tab-separated: label, target p95 in ms, URL. Before measuring,
each page is fetched once and must answer 200 with a map (an `<svg`), the MLIT credit line and
a completeness figure (`n / N 市町村`), which goes into the row with the response size.
"""

import argparse
import gzip
import http.client
import os
import re
import sys
import time

# bench/scale keeps its compiled files under version control: leave them alone.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scale"))
from measure import (  # noqa: E402
    NCPU, busy_pct, cpu_times, loadavg, log, own_cpu_seconds, percentile, pg_backend_pids, proc_cpu_seconds,
    wait_quiet,
)

CREDIT = "国土数値情報"
COMPLETENESS = re.compile(r"(\d+) / (\d+) 市町村")
BROWSER_ENCODING = "gzip, deflate, br, zstd"


class Client:
    """One kept-alive HTTP/1.1 connection with the session cookie (and, when given, a browser's
    Accept-Encoding). A request is timed from sending it to having read the whole body."""

    def __init__(self, host, port, cookie, encoding=None):
        self.host, self.port = host, port
        self.headers = {"Cookie": cookie, "Accept": "text/html"}
        if encoding:
            self.headers["Accept-Encoding"] = encoding
        self.conn = None

    def get(self, path):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers=self.headers)
                resp = self.conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - t0
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, resp.getheader("content-encoding", ""), body, elapsed
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise RuntimeError("unreachable")


def run(client, url, n, ours):
    """n sequential requests; latency percentiles, and the machine's CPU use during them with
    the part that was neither the server (nor its database backends) nor this client."""
    lat, errors = [], []
    c0, l0 = cpu_times(), loadavg()
    p0, s0 = proc_cpu_seconds(ours()), own_cpu_seconds()
    t0 = time.perf_counter()
    for _ in range(n):
        try:
            status, _, _, el = client.get(url)
        except Exception as e:  # noqa: BLE001 (any failure is an error of this run)
            errors.append(f"{url}: {e}")
            continue
        if status != 200:
            errors.append(f"{url}: HTTP {status}")
        lat.append(el)
    wall = time.perf_counter() - t0
    busy = busy_pct(c0, cpu_times())
    p1 = proc_cpu_seconds(ours())
    used = own_cpu_seconds() - s0 + sum(v - p0.get(pid, 0.0) for pid, v in p1.items())
    mine = 100.0 * used / (wall * NCPU) if wall > 0 else 0.0
    lat.sort()
    return {
        "n": len(lat), "errors": errors, "p50": percentile(lat, 0.50) * 1000, "p95": percentile(lat, 0.95) * 1000,
        "max": (lat[-1] * 1000) if lat else float("nan"), "rps": len(lat) / wall if wall > 0 else float("nan"),
        "load": l0, "busy": busy, "other": max(0.0, busy - mine),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--cookie", required=True, help="Cookie header value (the session)")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--requests", type=int, default=200, help="timed requests per page (default 200)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed requests per page first (default 10)")
    ap.add_argument("--encodings", default="identity,browser",
                    help="comma-separated: identity (plain HTML) and/or browser (gzip); default both")
    ap.add_argument("--quiet-pct", type=float, default=25.0,
                    help="before each page wait until the machine is at most this busy (default 25)")
    ap.add_argument("--quiet-timeout", type=float, default=300.0, help="... but at most this many seconds")
    ap.add_argument("--retries", type=int, default=2,
                    help="runs repeated when other load during them was above --quiet-pct (default 2)")
    ap.add_argument("--only", help="regex: measure only the labels that match")
    ap.add_argument("--server-pid", type=int, help="the server's PID: its CPU does not count as other load")
    ap.add_argument("--pg-url", help="the server's PostgreSQL database: its backends' CPU does not count either")
    a = ap.parse_args()

    m = re.match(r"https?://([^:/]+)(?::(\d+))?", a.base_url)
    host, port = m.group(1), int(m.group(2) or 80)
    plan = []
    with open(a.plan, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            label, target, url = line.split("\t")
            if a.only and not re.search(a.only, label):
                continue
            plan.append((label, target, url))

    def ours():
        return ([a.server_pid] if a.server_pid else []) + pg_backend_pids(a.pg_url)

    print("\t".join(["backend", "page", "url", "encoding", "requests", "errors", "p50_ms", "p95_ms", "max_ms",
                     "req_per_s", "target_ms", "load1", "busy_pct", "other_pct", "disturbed", "quiet_pct_before",
                     "reporting", "bytes"]), flush=True)
    encodings = [e.strip() for e in a.encodings.split(",") if e.strip()]
    for label, target, url in plan:
        for enc in encodings:
            c = Client(host, port, a.cookie, BROWSER_ENCODING if enc == "browser" else None)
            status, coding, body, first = c.get(url)
            if status != 200:
                sys.exit(f"{url} answered {status}; is the session valid, does this build have the page?")
            html = gzip.decompress(body) if coding == "gzip" else body
            if coding not in ("", "gzip"):
                sys.exit(f"{url}: answered with Content-Encoding {coding}, which this script cannot read")
            text = html.decode("utf-8", "replace")
            if "<svg" not in text or CREDIT not in text:
                sys.exit(f"{url}: no map (or no credit line under it) on the page")
            hit = COMPLETENESS.search(text)
            reporting = f"{hit.group(1)}/{hit.group(2)}" if hit else "?"
            sent = f"{coding or 'identity'}"
            log(f"{a.backend} {label} ({sent}): first request {first * 1000:.0f} ms, {len(body)} bytes, "
                f"{reporting} reporting")
            for _ in range(max(0, a.warmup - 1)):
                c.get(url)
            quiet, waited = wait_quiet(a.quiet_pct, a.quiet_timeout)
            log(f"  machine {quiet:.0f}% busy after waiting {waited:.0f} s (load {loadavg()})")
            for attempt in range(a.retries + 1):
                r = run(c, url, a.requests, ours)
                if r["other"] <= a.quiet_pct or attempt == a.retries:
                    break
                log(f"  other load {r['other']:.0f}% during the run; again after a quiet moment")
                wait_quiet(a.quiet_pct, a.quiet_timeout)
            if r["errors"]:
                log(f"  {len(r['errors'])} errors, first: {r['errors'][0]}")
            log(f"  p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, max {r['max']:.1f} ms, "
                f"machine {r['busy']:.0f}% busy, {r['other']:.0f}% of it other load")
            print("\t".join([
                a.backend, label, url, sent, str(r["n"]), str(len(r["errors"])), f"{r['p50']:.1f}",
                f"{r['p95']:.1f}", f"{r['max']:.1f}", f"{r['rps']:.1f}", target, r["load"], f"{r['busy']:.0f}",
                f"{r['other']:.0f}", "yes" if r["other"] > a.quiet_pct else "no", f"{quiet:.0f}", reporting,
                str(len(body)),
            ]), flush=True)

if __name__ == "__main__":
    main()

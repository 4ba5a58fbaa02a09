#!/usr/bin/env python3
"""Where the time of a survey roll-up page goes: samples the server (and its PostgreSQL
backends) with `perf record` while the page is requested, and sums the samples by component —
the database engine (and its JSON functions), the driver, JSON parsing of the answers, the map's
SVG, templates, the allocator, the kernel. Prints a Markdown section.

Standard library only, plus `perf` (`apt-get install -y linux-perf`; needs permission to
profile the server's process). The release build keeps its symbols, so Rust functions are
named, though LTO inlines much into its callers.

    python3 bench/survey/profile.py --base-url http://127.0.0.1:18500 --cookie 'tsunagu_session=…' \
        --plan plan.tsv --backend SQLite --server-pid 1234 [--pg-url postgres://…/db] > profile.md
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

# bench/scale keeps its compiled files under version control: leave them alone.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scale"))
from measure import Client, log, pg_backend_pids, wait_quiet  # noqa: E402  (bench/scale/measure.py)

FREQ = 999
SEP = "\x1f"

ALLOC = re.compile(r"^(malloc|calloc|realloc|free|cfree|_int_\w+|malloc_consolidate|unlink_chunk|tcache\w*|__libc_\w*alloc\w*)")
MEM = re.compile(r"^__(mem|str)\w+|^(memcpy|memmove|memset|memcmp)")


def category(comm, dso, sym):
    if comm.startswith("postgres") or dso == "postgres":
        return "PostgreSQL: JSON functions" if "json" in sym.lower() else "PostgreSQL: query execution"
    if "kernel" in dso:
        return "kernel (syscalls, page cache, scheduling)"
    if dso.startswith("libc") or dso.startswith("ld-linux"):
        if ALLOC.search(sym):
            return "allocator (malloc/free)"
        if MEM.search(sym):
            return "libc memcpy/memcmp/…"
        if "pthread" in sym or "futex" in sym:
            return "locks (pthread)"
        return "libc, other"
    rust = "::" in sym or sym.startswith("<")
    if not rust and not sym.startswith("0x"):
        # The only C code in the binary is the bundled SQLite.
        return "SQLite: JSON functions (json_extract)" if sym.startswith("json") else "SQLite: engine"
    if "serde_json" in sym:
        return "answers' JSON parsing (serde_json)"
    if "tsunagu_domain::map" in sym:
        return "map SVG (domain::map)"
    if "tsunagu_domain::survey" in sym or "tsunagu_domain::disclosure" in sym:
        return "roll-up (domain::survey)"
    if "askama" in sym:
        return "templates (askama)"
    if "core::fmt" in sym:
        return "formatting (core::fmt: templates, SVG, numbers)"
    if "sqlx" in sym:
        return "sqlx (rows, Any driver)"
    if "tsunagu_web" in sym:
        return "page code (web)"
    if "miniz_oxide" in sym or "flate2" in sym:
        return "gzip"
    if any(k in sym for k in ("tokio", "hyper", "axum", "tower", "h2::")):
        return "HTTP and runtime"
    return "other Rust (std, collections, hashing)"


def perf_report(path):
    out = subprocess.run(
        ["perf", "report", "-i", path, "--stdio", "--no-children", "--sort", "comm,dso,sym", "-t", SEP,
         "--percent-limit", "0"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(SEP)]
        if len(parts) < 4:
            continue
        try:
            pct = float(parts[0].rstrip("%"))
        except ValueError:
            continue
        sym = re.sub(r"^\[[.k]\]\s*", "", parts[3])
        rows.append((pct, parts[1], parts[2], sym))
    return rows


def samples_of(path):
    out = subprocess.run(
        ["perf", "report", "-i", path, "--stdio", "--no-children", "-n", "--sort", "comm", "-t", SEP],
        capture_output=True, text=True, check=True,
    ).stdout
    n = 0
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(SEP)]
        if not line.startswith("#") and len(parts) >= 3 and parts[1].isdigit():
            n += int(parts[1])
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--cookie", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--pg-url")
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--quiet-pct", type=float, default=25.0)
    ap.add_argument("--quiet-timeout", type=float, default=300.0)
    ap.add_argument("--only")
    ap.add_argument("--top", type=int, default=6, help="functions listed per page (default 6)")
    a = ap.parse_args()

    m = re.match(r"https?://([^:/]+)(?::(\d+))?", a.base_url)
    host, port = m.group(1), int(m.group(2) or 80)
    plan = []
    with open(a.plan, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                label, _, url = line.split("\t")
                if not a.only or re.search(a.only, label):
                    plan.append((label, url))

    print(f"### Where the time goes, {a.backend} (perf, {a.requests} sequential requests a page, plain HTML)\n")
    print("CPU per request = samples of the server" + (" and its PostgreSQL backends" if a.pg_url else "")
          + f" at {FREQ} Hz over the requests; the shares are of those samples.\n")
    tmp = tempfile.mkdtemp(prefix="tsunagu-perf.")
    for label, url in plan:
        c = Client(host, port, a.cookie)
        for _ in range(5):
            c.get(url)
        wait_quiet(a.quiet_pct, a.quiet_timeout)
        pids = [a.server_pid] + pg_backend_pids(a.pg_url)
        data = os.path.join(tmp, "perf.data")
        rec = subprocess.Popen(["perf", "record", "-F", str(FREQ), "-o", data, "-p", ",".join(map(str, pids))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        t0 = time.perf_counter()
        for _ in range(a.requests):
            c.get(url)
        wall = time.perf_counter() - t0
        rec.send_signal(signal.SIGINT)
        _, err = rec.communicate(timeout=60)
        if rec.returncode not in (0, -signal.SIGINT, 130) or not os.path.exists(data):
            sys.exit(f"perf record failed: {err.strip()}")
        rows = perf_report(data)
        samples = samples_of(data)
        cats = {}
        for pct, comm, dso, sym in rows:
            k = category(comm, dso, sym)
            cats[k] = cats.get(k, 0.0) + pct
        cpu_ms = 1000.0 * samples / FREQ / a.requests
        log(f"{a.backend} {label}: {samples} samples, {cpu_ms:.0f} ms CPU a request")
        print(f"**{label}** — {1000 * wall / a.requests:.0f} ms a request (mean, while profiled), "
              f"≈ {cpu_ms:.0f} ms CPU a request\n")
        print("| component | share |")
        print("|---|---:|")
        for k, v in sorted(cats.items(), key=lambda kv: -kv[1]):
            if v >= 1.0:
                print(f"| {k} | {v:.0f} % |")
        tops = [r for r in sorted(rows, key=lambda r: -r[0])[: a.top]]
        print("\nTop functions: " + "; ".join(
            f"`{sym[:90]}` ({comm}) {pct:.1f} %" for pct, comm, _, sym in tops) + "\n")
        os.remove(data)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()

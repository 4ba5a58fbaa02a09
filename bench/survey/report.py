#!/usr/bin/env python3
"""Turns bench/survey/measure.py's TSV rows into the Markdown table of docs/benchmarks.md, with
the issue's targets (p95 under 100 ms for the prefecture roll-up with its map, under 500 ms for
the national roll-up) and a verdict per target and backend.

    python3 bench/survey/report.py rows-sqlite.tsv rows-postgres.tsv
"""

import csv
import sys

TARGETS = {
    "prefecture": "prefecture roll-up with its map, p95 < 100 ms",
    "national": "national roll-up (map by prefecture), p95 < 500 ms",
    "national by municipality": "national roll-up with the map of all municipalities, p95 < 500 ms",
}


def kind_of(page):
    if page.startswith("national"):
        return "national by municipality" if "by municipality" in page else "national"
    return "prefecture"


def main():
    rows = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            rows.extend(csv.DictReader(f, delimiter="\t"))
    print("| page | backend | sent as | p50 ms | p95 ms | max ms | req/s | target p95 | met | errors "
          "| response | reporting | load1 at start | CPU busy (other) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|")
    verdicts = {}
    for r in rows:
        target = float(r["target_ms"])
        met = float(r["p95_ms"]) < target and r["errors"] == "0"
        disturbed = ", disturbed" if r["disturbed"] == "yes" else ""
        print(f"| {r['page']} | {r['backend']} | {r['encoding']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} "
              f"| {r['req_per_s']} | < {target:.0f} ms | {'yes' if met else '**no**'} | {r['errors']} "
              f"| {int(r['bytes']) / 1024:.0f} KiB | {r['reporting'].replace('/', ' / ')} | {r['load1']} "
              f"| {r['busy_pct']} % ({r['other_pct']} %{disturbed}) |")
        key = (kind_of(r["page"]), r["backend"])
        ok, worst = verdicts.get(key, (True, 0.0))
        verdicts[key] = (ok and met, max(worst, float(r["p95_ms"])))
    print()
    for (kind, backend), (ok, worst) in verdicts.items():
        print(f"- {TARGETS[kind]}, {backend}: {'met' if ok else '**not met**'} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()

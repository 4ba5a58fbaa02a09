#!/usr/bin/env python3
"""Turns measure.py's TSV rows into the Markdown table of docs/benchmarks.md, with the issue's
targets: p95 under 50 ms for the directory and the consultation list, under 200 ms for the
statistics of a 年度. A target is judged on the sequential rows (one request at a time); the
rows with concurrent clients show how requests queue on the machine's cores and get no verdict.

    python3 bench/scale/report.py rows-sqlite.tsv rows-postgres.tsv
"""

import csv
import sys


def target_of(page):
    return 200.0 if page.startswith("stats") else 50.0


def main():
    rows = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            rows.extend(csv.DictReader(f, delimiter="\t"))
    print("| page | backend | clients | p50 ms | p95 ms | max ms | req/s | target p95 | met | errors "
          "| load1 at start | CPU busy (other) | results shown |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for r in rows:
        t = target_of(r["page"])
        p95 = float(r["p95_ms"])
        if r["mode"] == "seq":
            clients, target = "1 (sequential)", f"< {t:.0f} ms"
            met = "yes" if p95 < t and r["errors"] == "0" else "**no**"
        else:
            clients, target, met = r["mode"].replace("conc", " concurrent"), "—", "—"
        print(f"| {r['page']} | {r['backend']} | {clients} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} "
              f"| {r['req_per_s']} | {target} | {met} | {r['errors']} | {r['load1']} "
              f"| {r['busy_pct']} % ({r.get('other_pct', '?')} %{', disturbed' if r.get('disturbed') == 'yes' else ''}) "
              f"| {r['results'].replace('/', ' / ')} |")


if __name__ == "__main__":
    main()

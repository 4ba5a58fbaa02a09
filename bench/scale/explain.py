#!/usr/bin/env python3
"""Query plans and timings of the SQL the measured pages run on the big tables, as the Rust code
builds it (crates/store/src/resources.rs, consultations.rs, consultation_stats.rs; copied here,
so re-check after changing those files). Prints Markdown.

SQLite: EXPLAIN QUERY PLAN, and the median of 5 runs through Python's sqlite3 (its SQLite may be
older than the one bundled into the binary: the version is printed). PostgreSQL: PREPARE and
EXPLAIN (ANALYZE, BUFFERS) EXECUTE, as sqlx runs prepared statements.

    python3 bench/scale/explain.py --database-url sqlite:///tmp/x/tsunagu.sqlite3 [--only REGEX]
"""

import argparse
import datetime as dt
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import JST, Postgres, fiscal_year, open_db  # noqa: E402
from textnorm import normalize_for_search  # noqa: E402

# --- resources.rs ----------------------------------------------------------------------------
CATEGORY_SELECT = """SELECT c.id, c.code, c.name, c.sort_order, c.retired_at,
    (SELECT COUNT(*) FROM resources r WHERE r.category_id = c.id AND r.retired_at IS NULL) AS resource_count
    FROM resource_categories c"""
ROW_SELECT = """SELECT r.id, r.provider_name, r.name, c.name AS category_name, m.name AS municipality_name,
    r.phone, r.hours, r.availability, r.availability_confirmed_on, r.age_min, r.age_max, r.is_public, r.retired_at,
    r.last_verified_on, r.search_text
    FROM resources r
    JOIN resource_categories c ON c.id = r.category_id
    LEFT JOIN municipalities m ON m.code6 = r.municipality_code6"""
RANK = "CASE r.availability WHEN 'available' THEN 0 WHEN 'limited' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END"
# search_range: with a keyword, first up to ENOUGH ids in no order (fewer: they are all the
# matches, and the page is read by id); else the count, then the page in index order
# (ORDER_INDEXED) when there are at least ENOUGH matches, or the few matches materialised and
# sorted (ORDER).
ENOUGH = 10 * 20
ORDER = f" ORDER BY {RANK}, r.search_text, r.id"
ORDER_INDEXED = f" ORDER BY {RANK}, substr(r.search_text, 1, 64), r.search_text, r.id"
STAFF = " WHERE 1 = 1 AND r.retired_at IS NULL"
PUBLIC = " WHERE 1 = 1 AND r.is_public = 1 AND r.retired_at IS NULL"
TWO_CLICK = (
    " AND (r.municipality_code6 IN (SELECT am.municipality_code6 FROM area_municipalities am WHERE am.area_id = $1)"
    " OR EXISTS (SELECT 1 FROM resource_service_areas sa JOIN area_municipalities am ON am.municipality_code6 = sa.municipality_code6"
    " WHERE sa.resource_id = r.id AND am.area_id = $1))"
    " AND r.category_id = $2"
    " AND EXISTS (SELECT 1 FROM resource_care_types rc WHERE rc.resource_id = r.id AND rc.care_type_code = $3)"
)

# --- consultations.rs -----------------------------------------------------------------------
COUNT_FROM = "SELECT COUNT(*) FROM consultations c WHERE 1 = 1"
SUMMARY_SELECT = """SELECT c.id, c.receipt_no, c.received_at, c.received_on, c.channel, c.requester_type, m.name AS municipality_name,
    c.child_age_band, c.question, c.status, h.display_name AS handled_by_name, c.follow_up_on, c.source
    FROM consultations c
    LEFT JOIN municipalities m ON m.code6 = c.child_municipality_code6
    LEFT JOIN users h ON h.id = c.handled_by"""
LIST_ORDER = " ORDER BY c.received_at DESC, c.id DESC LIMIT 50 OFFSET 0"


def contains(kind, column, param):
    """resources::contains: LIKE on SQLite, strpos on PostgreSQL."""
    return f" AND {column} LIKE {param} ESCAPE '\\'" if kind == "sqlite" else f" AND strpos({column}, {param}) > 0"


def term_value(kind, term):
    if kind == "sqlite":
        esc = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{esc}%"
    return term

# --- consultation_stats.rs -------------------------------------------------------------------
IN_PERIOD = "c.received_on >= $1 AND c.received_on <= $2"


def term_grams(term):
    """tsunagu_domain::text::term_grams: the term if one character, else its pairs (at most 12)."""
    if len(term) < 2:
        return [term] if term else []
    grams = sorted({term[i:i + 2] for i in range(len(term) - 1)})
    if len(grams) > 12:
        step = len(grams) / 12
        grams = [grams[int(i * step)] for i in range(12)]
    return grams


INDEXED = {"consultations": ("c", "consultation_grams", "consultation_search"),
           "resources": ("r", "resource_grams", "resource_search")}


def index_from(kind, table):
    """search_index::lookup: the tables read, the indexed one under its alias."""
    alias, grams, keys = INDEXED[table]
    if kind == "sqlite":
        return f"{grams} JOIN {keys} k ON k.seq = {grams}.rowid JOIN {table} {alias} ON {alias}.id = k.row_id"
    return f"{table} {alias}"


def index_lookup(kind, param, table):
    """search_index::lookup: the condition that the keyword index may hold the terms."""
    alias, grams, _ = INDEXED[table]
    if kind == "sqlite":
        return f"{grams} MATCH {param}"
    return f"search_grams({alias}.search_text) @> CAST({param} AS TEXT[])"


def index_query(kind, keyword):
    """The grams of a keyword as consultation_index::lookup binds them (FTS5 or array)."""
    grams = sorted({g for t in normalize_for_search(keyword).split(" ") for g in term_grams(t)})
    if kind == "sqlite":
        wide = lambda g: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and not c.isalnum() else c for c in g)  # noqa: E731
        return " AND ".join(f'"{wide(g)}"' for g in grams)
    return "{" + ",".join('"' + g.replace("\\", "\\\\").replace('"', '\\"') + '"' for g in grams) + "}"


def stats_queries():
    col = lambda c: f"SELECT c.{c} AS code, COUNT(*) AS n FROM consultations c WHERE {IN_PERIOD} GROUP BY c.{c}"  # noqa: E731
    return [
        ("stats: by month, with the totals and minutes",
         "SELECT substr(c.received_on, 1, 7) AS code, COUNT(*) AS n, CAST(COALESCE(SUM(c.minutes_spent), 0) AS BIGINT) AS minutes, "
         f"COUNT(c.minutes_spent) AS with_minutes FROM consultations c WHERE {IN_PERIOD} GROUP BY substr(c.received_on, 1, 7)"),
        ("stats: by topic, and without",
         f"SELECT t.topic AS code, COUNT(*) AS n FROM consultations c LEFT JOIN consultation_topics t ON t.consultation_id = c.id WHERE {IN_PERIOD} GROUP BY t.topic"),
        ("stats: by care type, and without",
         f"SELECT t.care_type_code AS code, COUNT(*) AS n FROM consultations c LEFT JOIN consultation_care_types t ON t.consultation_id = c.id WHERE {IN_PERIOD} GROUP BY t.care_type_code"),
        ("stats: by requester type", col("requester_type")),
        ("stats: by channel", col("channel")),
        ("stats: by age band", col("child_age_band")),
        ("stats: by status", col("status")),
        ("stats: by municipality", col("child_municipality_code6")),
    ]


def queries(db):
    kind = db.kind
    area = db.query("SELECT id FROM areas WHERE prefecture_code = '03' ORDER BY sort_order LIMIT 1")[0][0]
    cat = db.query("SELECT id FROM resource_categories WHERE code = 'home_nursing'")[0][0]
    coord = db.query("SELECT id FROM users WHERE login_id = 'coordinator'")[0][0]
    today = dt.datetime.now(JST).date()
    fy = fiscal_year(today) - 1  # the last full 年度: the most rows a 年度 has
    fy_from, fy_to = f"{fy}-04-01", f"{fy + 1}-03-31"
    kw = [term_value(kind, normalize_for_search("ステーション"))]
    one_term = contains(kind, "r.search_text", "$1")
    rare = [term_value(kind, t) for t in normalize_for_search("ひまわり 盛岡").split(" ")]
    two_terms = one_term + contains(kind, "r.search_text", "$2")
    rare_ids = [r[0] for r in db.query(
        f"SELECT r.id FROM resources r{STAFF}"
        + "".join(f" AND r.search_text LIKE '%{t}%'" for t in normalize_for_search("ひまわり 盛岡").split(" "))
        + f" LIMIT {ENOUGH}")]
    by_ids = " WHERE r.id IN (" + ", ".join(f"${i}" for i in range(1, len(rare_ids) + 1)) + ")"
    # The list filtered by a topic, a care type or both reads those rows newest first
    # (consultations.rs, by_code); an area is bound as its municipalities.
    last_area = db.query("SELECT id FROM areas WHERE prefecture_code = '03' ORDER BY sort_order DESC LIMIT 1")[0][0]
    area_codes = [r[0] for r in db.query(
        f"SELECT municipality_code6 FROM area_municipalities WHERE area_id = '{last_area}' ORDER BY municipality_code6")]
    in_area = ", ".join(f"${i}" for i in range(2, len(area_codes) + 2))
    small = db.query(
        "SELECT m.code6 FROM municipalities m LEFT JOIN consultations c ON c.child_municipality_code6 = m.code6 "
        "WHERE m.prefecture_code = '03' GROUP BY m.code6 ORDER BY COUNT(c.id), m.code6 LIMIT 1")[0][0]
    by_code = "ORDER BY k.received_at DESC, k.consultation_id DESC LIMIT 1001"
    c_kw = contains(kind, "c.search_text", "$1")
    ckw = [term_value(kind, normalize_for_search("ショートステイ"))]
    crare = [term_value(kind, normalize_for_search("R1-20191"))]
    q = [
        ("resources: categories with counts (every search page)", CATEGORY_SELECT + " WHERE c.retired_at IS NULL ORDER BY c.sort_order, c.name", []),
        ("resources: count, no filter", "SELECT COUNT(*) FROM resources r" + STAFF, []),
        ("resources: page, no filter (index order)", ROW_SELECT + STAFF + ORDER_INDEXED + " LIMIT 20 OFFSET 0", []),
        ("resources: keyword index, up to 200 ids (many: stops early)",
         f"SELECT r.id FROM {index_from(kind, 'resources')} WHERE {index_lookup(kind, '$1', 'resources')} LIMIT {ENOUGH}",
         [index_query(kind, 'ステーション')]),
        ("resources: count, keyword (among the index's answer)",
         f"SELECT COUNT(*) FROM {index_from(kind, 'resources')}{STAFF}{one_term} AND {index_lookup(kind, '$2', 'resources')}",
         kw + [index_query(kind, 'ステーション')]),
        ("resources: page, keyword (index order)", ROW_SELECT + STAFF + one_term + ORDER_INDEXED + " LIMIT 20 OFFSET 0", kw),
        ("resources: keyword index, two keywords (fewer than 200: all the candidates)",
         f"SELECT r.id FROM {index_from(kind, 'resources')} WHERE {index_lookup(kind, '$1', 'resources')} LIMIT {ENOUGH}",
         [index_query(kind, 'ひまわり 盛岡')]),
        ("resources: two keywords among the candidates", f"SELECT r.id FROM resources r{STAFF}{two_terms}", rare),
        ("resources: page, two keywords (by id)", ROW_SELECT + by_ids + ORDER + " LIMIT 20 OFFSET 0", rare_ids),
        ("resources: count, area + category + care", "SELECT COUNT(*) FROM resources r" + STAFF + TWO_CLICK, [area, cat, "ventilator"]),
        ("resources: page, area + category + care (index order)", ROW_SELECT + STAFF + TWO_CLICK + ORDER_INDEXED + " LIMIT 20 OFFSET 0", [area, cat, "ventilator"]),
        ("resources: page, area + category + care (few: materialised)",
         f"WITH matches AS MATERIALIZED ({ROW_SELECT}{STAFF}{TWO_CLICK}) SELECT * FROM matches r{ORDER} LIMIT 20 OFFSET 0", [area, cat, "ventilator"]),
        ("directory: count, no filter", "SELECT COUNT(*) FROM resources r" + PUBLIC, []),
        ("directory: page, no filter (index order)", ROW_SELECT + PUBLIC + ORDER_INDEXED + " LIMIT 20 OFFSET 0", []),
        ("directory: count, keyword (among the index's answer)",
         f"SELECT COUNT(*) FROM {index_from(kind, 'resources')}{PUBLIC}{one_term} AND {index_lookup(kind, '$2', 'resources')}",
         kw + [index_query(kind, 'ステーション')]),
        ("directory: page, keyword (index order)", ROW_SELECT + PUBLIC + one_term + ORDER_INDEXED + " LIMIT 20 OFFSET 0", kw),
        ("consultations: count mine (tab)", COUNT_FROM + " AND c.handled_by = $1 AND c.status <> 'closed'", [coord]),
        ("consultations: count due (tab)", COUNT_FROM + " AND c.follow_up_on <= $1 AND c.status <> 'closed'", [today.isoformat()]),
        ("consultations: count received (tab)", COUNT_FROM + " AND c.status = $1", ["received"]),
        ("consultations: page, all", SUMMARY_SELECT + " WHERE 1 = 1 " + LIST_ORDER.strip(), []),
        ("consultations: count, all (the page is full)", COUNT_FROM, []),
        ("consultations: keyword, a sample of the newest 1,000 (one in ten or more: a common word)",
         f"SELECT COUNT(*) FROM (SELECT * FROM consultations ORDER BY received_at DESC, id DESC LIMIT 1000) c WHERE 1 = 1{c_kw}",
         ckw),
        ("consultations: keyword, common: up to 1,001 among the newest 10,000",
         f"SELECT c.id FROM (SELECT * FROM consultations ORDER BY received_at DESC, id DESC LIMIT 10000) c WHERE 1 = 1{c_kw} LIMIT 1001",
         ckw),
        ("consultations: keyword, rare: up to 1,001 matches through the index",
         f"SELECT c.id FROM {index_from(kind, 'consultations')} WHERE 1 = 1{c_kw} AND {index_lookup(kind, '$2', 'consultations')} LIMIT 1001",
         crare + [index_query(kind, 'R1-20191')]),
        ("consultations: topic + care type, up to 1,001 newest first (their pairs' rows)",
         f"SELECT k.consultation_id FROM consultation_topic_care_types k WHERE k.topic = $1 AND k.care_type_code = $2 {by_code}",
         ["disaster", "ventilator"]),
        ("consultations: topic + area, up to 1,001 newest first (the topic's rows)",
         f"SELECT k.consultation_id FROM consultation_topics k WHERE k.topic = $1 AND k.child_municipality_code6 IN ({in_area}) {by_code}",
         ["disaster"] + area_codes),
        ("consultations: care type + municipality, up to 1,001 newest first (the care type's rows)",
         f"SELECT k.consultation_id FROM consultation_care_types k WHERE k.care_type_code = $1 AND k.child_municipality_code6 = $2 {by_code}",
         ["ventilator", small]),
        ("consultations: care type + status open, up to 1,001 newest first (the care type's rows)",
         f"SELECT k.consultation_id FROM consultation_care_types k WHERE k.care_type_code = $1 AND k.status <> 'closed' {by_code}",
         ["suction"]),
    ]
    for label, sql in stats_queries():
        q.append((f"{label} (年度 {fy})", sql, [fy_from, fy_to]))
    since = dt.datetime(fy, 4, 1, tzinfo=JST).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    until = dt.datetime(fy + 1, 4, 1, tzinfo=JST).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    q.append((f"stats: referrals sent (年度 {fy})", "SELECT COUNT(*) FROM referrals WHERE sent_at >= $1 AND sent_at < $2", [since, until]))
    return q


def sqlite_report(db, qs):
    conn = db.conn
    print(f"### SQLite query plans (Python's SQLite {sqlite3.sqlite_version}; statistics: "
          f"{'yes' if conn.execute('SELECT count(*) FROM sqlite_master WHERE name = ?', ('sqlite_stat1',)).fetchone()[0] else 'none (no ANALYZE, as in production)'})\n")
    for label, sql, params in qs:
        s = re.sub(r"\$(\d+)", r"?\1", sql)
        try:
            plan = conn.execute("EXPLAIN QUERY PLAN " + s, params).fetchall()
        except sqlite3.Error as e:
            # The keyword index is FTS5 with contentless_delete (SQLite 3.43 and later).
            print(f"**{label}** — not explained by this SQLite: {e}\n")
            continue
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            rows = conn.execute(s, params).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
        print(f"**{label}** — median {statistics.median(times):.1f} ms, {len(rows)} rows\n")
        print("```sql\n" + " ".join(sql.split()) + "\n```")
        if params:
            print(f"parameters: {params}\n")
        print("```")
        depth = {0: 0}
        for pid, parent, _, detail in plan:
            d = depth.get(parent, 0) + 1
            depth[pid] = d
            print("  " * (d - 1) + detail)
        print("```\n")


def pg_report(db, qs):
    print("### PostgreSQL query plans (EXPLAIN (ANALYZE, BUFFERS) of the prepared statement)\n")
    for i, (label, sql, params) in enumerate(qs):
        lit = ", ".join("'" + p.replace("'", "''") + "'" for p in params)
        script = (
            f"PREPARE q AS {sql};\n"
            + f"EXECUTE q{'(' + lit + ')' if params else ''};\n"  # warm the cache once
            + f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE q{'(' + lit + ')' if params else ''};\n"
        )
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", db.url],
                             input=script, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"**{label}** — failed: {out.stderr.strip()}\n")
            continue
        lines = out.stdout.strip().split("\n")
        plan_start = next((k for k, l in enumerate(lines) if "(cost=" in l), 0)
        plan = lines[plan_start:]
        exec_ms = next((l.split(":")[1].strip() for l in plan if l.startswith("Execution Time")), "?")
        print(f"**{label}** — execution {exec_ms}\n")
        print("```sql\n" + " ".join(sql.split()) + "\n```")
        if params:
            print(f"parameters: {params}\n")
        print("```\n" + "\n".join(plan) + "\n```\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--only", help="regex on the labels")
    a = ap.parse_args()
    db = open_db(a.database_url)
    qs = [x for x in queries(db) if not a.only or re.search(a.only, x[0])]
    if isinstance(db, Postgres):
        pg_report(db, qs)
    else:
        sqlite_report(db, qs)


if __name__ == "__main__":
    main()

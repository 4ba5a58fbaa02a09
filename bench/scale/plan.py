#!/usr/bin/env python3
"""Writes the measurement plan (see measure.py) for one database: the typical URLs of the
directory, the consultation desk and the statistics, with the ids (areas, categories) of that
database. Keywords are words the scale data and real entries contain, from common to rare, in
the spellings people type (katakana, half-width katakana, two words).

    python3 bench/scale/plan.py --database-url sqlite:///tmp/x/tsunagu.sqlite3 > plan.tsv
"""

import argparse
import datetime as dt
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import JST, fiscal_year, open_db  # noqa: E402

RESOURCES_RX = r"社会資源（(\d+件以上|\d+)件?）"
CONSULTATIONS_RX = r"相談記録（(\d+件以上|\d+)件?）"
STATS_RX = r'card-figure">([\d,]+)<small>件'

KEYWORDS = ["ステーション", "人工呼吸器", "ひまわり 盛岡", "ﾊｰﾓﾆｰ"]
CONSULTATION_KEYWORDS = ["ショートステイ", "吸引", "佐藤 花子", "停電"]


def q(path, **params):
    pairs = []
    for k, v in params.items():
        for x in v if isinstance(v, list) else [v]:
            pairs.append((k, x))
    return path + "?" + urllib.parse.urlencode(pairs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--prefecture", default="03")
    ap.add_argument("--with-stats", action="store_true", help="include /consultations/stats")
    a = ap.parse_args()
    db = open_db(a.database_url)
    areas = dict((name, aid) for aid, name in db.query(
        f"SELECT id, name FROM areas WHERE prefecture_code = '{a.prefecture}' ORDER BY sort_order"))
    cats = dict(db.query("SELECT code, id FROM resource_categories WHERE code IS NOT NULL"))
    area_names = list(areas)
    if len(area_names) < 4:
        sys.exit("the prefecture needs at least 4 areas (圏域) for the plan")
    two_click = [
        (area_names[0], "home_nursing"),
        (area_names[1], "short_stay_medical"),
        (area_names[2], "after_school_day"),
        (area_names[3], "home_nursing"),
    ]
    receipt = db.query(
        "SELECT receipt_no FROM consultations ORDER BY received_at LIMIT 1 OFFSET "
        "(SELECT COUNT(*) / 3 FROM consultations)")
    fy = fiscal_year(dt.datetime.now(JST).date())
    staff = [r[0] for r in db.query(
        "SELECT id FROM users WHERE login_id IN ('coordinator', 'pref') ORDER BY login_id")]
    # The prefecture's municipality with the fewest consultations: a filter with few matches.
    small = db.query(
        f"SELECT m.code6 FROM municipalities m LEFT JOIN consultations c ON c.child_municipality_code6 = m.code6 "
        f"WHERE m.prefecture_code = '{a.prefecture}' GROUP BY m.code6 ORDER BY COUNT(c.id), m.code6 LIMIT 1")

    plan = [
        ("resources (no filter)", RESOURCES_RX, ["/resources"]),
        ("resources ?q= keyword", RESOURCES_RX, [q("/resources", q=k) for k in KEYWORDS]),
        ("resources ?area=&category=&care=ventilator", RESOURCES_RX,
         [q("/resources", area=areas[an], category=cats[c], care="ventilator") for an, c in two_click]),
        ("directory (no filter, public)", RESOURCES_RX, ["/directory"]),
        ("directory ?q= keyword (public)", RESOURCES_RX, [q("/directory", q=k) for k in KEYWORDS]),
        ("consultations (tab すべて)", CONSULTATIONS_RX, ["/consultations"]),
        ("consultations ?q= keyword", CONSULTATIONS_RX,
         [q("/consultations", q=k) for k in CONSULTATION_KEYWORDS + ([receipt[0][0]] if receipt else [])]),
        ("consultations, one filter (area, municipality, 担当者, status, topic, care type, 年度)", CONSULTATIONS_RX,
         [q("/consultations", area=areas[area_names[0]]), q("/consultations", area=areas[area_names[-1]])]
         + [q("/consultations", municipality=m[0]) for m in small]
         + [q("/consultations", handled_by=u) for u in staff]
         + [q("/consultations", status="open"), q("/consultations", topic="disaster"),
            q("/consultations", care_type="ventilator"),
            q("/consultations", **{"from": f"{fy - 3}-04-01", "to": f"{fy - 2}-03-31"})]),
        ("consultations, two filters (topic + care type, topic + area, care type + municipality)", CONSULTATIONS_RX,
         [q("/consultations", topic="disaster", care_type="ventilator"),
          q("/consultations", topic="disaster", area=areas[area_names[-1]])]
         + [q("/consultations", care_type="ventilator", municipality=m[0]) for m in small]),
    ]
    if a.with_stats:
        plan.append((f"stats ?fy={fy} (current 年度)", STATS_RX, [q("/consultations/stats", fy=str(fy))]))
        plan.append((f"stats ?fy={fy - 1} (last full 年度)", STATS_RX, [q("/consultations/stats", fy=str(fy - 1))]))
    for label, rx, urls in plan:
        print("\t".join([label, rx] + urls))


if __name__ == "__main__":
    main()

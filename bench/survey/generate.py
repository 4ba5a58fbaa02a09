#!/usr/bin/env python3
"""Survey data for the roll-up benchmark of issue 4: the standard survey (医療的ケア児等の実態調査)
answered and approved by every municipality of the country (1,747) in each of 10 年度, written
straight into a database that `tsunagu demo` (or `tsunagu migrate`) created.

Standard library only (Python 3.11). Reuses the database access of bench/scale/generate.py:
SQLite through the sqlite3 module, PostgreSQL through `psql` (COPY ... FROM STDIN), so no driver.

    python3 bench/survey/generate.py --database-url sqlite:///tmp/x/tsunagu.sqlite3
    python3 bench/survey/generate.py --database-url postgres://postgres@127.0.0.1:5432/bench

What it writes, as the application would have:

- survey_definitions: the standard definition (family `standard`, version 1) for every
  prefecture that has none, with the body of the seeded one of `--source-prefecture` (03).
- survey_rounds: one round per prefecture and 年度, with that prefecture's newest standard
  definition, as of 1 April, open from 1 May, due 30 June, issued by a center coordinator.
- survey_responses: one per municipality (`kind = 'municipality'`: cities, towns, villages and
  Tokyo's special wards; not the wards of designated cities) and round, approved, with answers
  that pass the definition's rules: the age × place grid adds up to the total, every care type
  is at most the total, nursery + kindergarten at most the children aged 0-5, schools at most
  those aged 6-19, the nurse counts within theirs; yes/no, multiple choice flags, texts, and a
  note (`note.total`) where the total moved by more than the item's warning threshold.
  Keys are those of `Definition::fields()`; the JSON is written as serde_json writes a
  BTreeMap (sorted keys, no spaces, non-ASCII as is).
- no response events and no audit entries: the pages measured do not read them.
- planner statistics: ANALYZE on PostgreSQL (autovacuum would run it), none on SQLite (the
  application never runs it), unless `--analyze` says otherwise.

The 年度: `--years` (10) consecutive ones ending the year before the earliest 年度 that already
has a standard round (the demo's), or the last completed 年度 when there is none; `--first-year`
overrides. A municipality that already has a response of the family in a 年度 is left alone
(the application allows one per municipality, family and 年度).

Figures: the national number of children follows the published estimates (about 10,000 in
2010, 20,000 from 2019), shared out by prefecture population and within a prefecture by the
kind and size of the municipality, with Poisson noise per 年度. Deterministic for a --seed.
"""

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import time

# bench/scale keeps its compiled files under version control: leave them alone.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scale"))
from generate import IWATE_POPULATION, open_db, ts_text, uuid7  # noqa: E402

JST = dt.timezone(dt.timedelta(hours=9))
FAMILY = "standard"


def log(msg):
    print(f"[survey-generate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The definition's fields (a port of tsunagu_domain::survey::Definition::fields)


def fields_of(body):
    """[(key, item key, kind)] with kind one of count, yes_no, single, flag, short_text,
    long_text, date, in the order of the form."""
    out = []
    for s in body["sections"]:
        for i in s["items"]:
            k, t = i["key"], i["kind"]
            typ = t["type"]
            if typ == "count":
                out.append((k, k, "count"))
            elif typ == "grid":
                for r in t["rows"]:
                    for c in t["columns"]:
                        out.append((f"{k}.{r['key']}.{c['key']}", k, "count"))
            elif typ == "care_types":
                for c in t["types"]:
                    out.append((f"{k}.{c['key']}", k, "count"))
            elif typ == "yes_no":
                out.append((k, k, "yes_no"))
            elif typ == "single":
                out.append((k, k, "single"))
            elif typ == "multiple":
                for c in t["choices"]:
                    out.append((f"{k}.{c['key']}", k, "flag"))
            elif typ == "short_text":
                out.append((k, k, "short_text"))
            elif typ == "long_text":
                out.append((k, k, "long_text"))
                if t.get("publishable"):
                    out.append((f"{k}.publishable", k, "flag"))
            elif typ == "date":
                out.append((k, k, "date"))
            else:
                sys.exit(f"unknown item kind {typ!r} in the definition")
    return out


def item_of(body, key):
    for s in body["sections"]:
        for i in s["items"]:
            if i["key"] == key:
                return i
    return None


# ---------------------------------------------------------------------------------------------
# How many children, where

# National number of children needing daily medical care (published estimates, rounded);
# other years continue the nearest trend.
NATIONAL = {2010: 9987, 2011: 10702, 2012: 11478, 2013: 13056, 2014: 13584, 2015: 14886,
            2016: 17078, 2017: 18272, 2018: 19712, 2019: 20155, 2020: 19238, 2021: 20180}


def national(fy):
    if fy in NATIONAL:
        return NATIONAL[fy]
    if fy > 2021:
        return NATIONAL[2021] * 1.02 ** (fy - 2021)
    return NATIONAL[2010] * 0.95 ** (2010 - fy)


# Population by prefecture (2020 census, 10,000 persons), for sharing out the national figure.
PREFECTURE_POPULATION = {
    "01": 522, "02": 124, "03": 121, "04": 230, "05": 96, "06": 107, "07": 183, "08": 287,
    "09": 193, "10": 194, "11": 734, "12": 628, "13": 1405, "14": 924, "15": 220, "16": 103,
    "17": 113, "18": 77, "19": 81, "20": 205, "21": 198, "22": 363, "23": 754, "24": 177,
    "25": 141, "26": 258, "27": 884, "28": 547, "29": 132, "30": 92, "31": 55, "32": 67,
    "33": 189, "34": 280, "35": 134, "36": 72, "37": 95, "38": 133, "39": 69, "40": 514,
    "41": 81, "42": 131, "43": 174, "44": 112, "45": 107, "46": 159, "47": 147,
}


def municipality_weight(rng, name, prefecture, designated):
    """Relative size within the prefecture: Iwate's from its population (in thousands),
    elsewhere from the kind of municipality, with some spread."""
    if prefecture == "03" and name in IWATE_POPULATION:
        return float(IWATE_POPULATION[name])
    if designated:
        base = 600.0
    elif name.endswith("区"):
        base = 300.0
    elif name.endswith("市"):
        base = 70.0
    elif name.endswith("町"):
        base = 12.0
    else:
        base = 3.0
    return base * rng.lognormvariate(0.0, 0.6)


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def binomial(rng, n, p):
    return sum(1 for _ in range(n) if rng.random() < p)


def multinomial(rng, n, weights):
    total = sum(weights)
    out = [0] * len(weights)
    for _ in range(n):
        r = rng.random() * total
        for i, w in enumerate(weights):
            if r < w:
                out[i] += 1
                break
            r -= w
        else:
            out[-1] += 1
    return out


AGE_WEIGHTS = {"a0_2": 22, "a3_5": 18, "a6_11": 28, "a12_14": 14, "a15_17": 12, "a18_19": 6}
PLACE_WEIGHTS = {"home": 86, "hospital": 9, "facility": 5}
# Share of the children who need each care type (a child may need several).
CARE_SHARE = {
    "ventilator": 0.22, "tracheostomy": 0.2, "nasopharyngeal_airway": 0.02, "oxygen": 0.3,
    "suction": 0.45, "nebulizer": 0.18, "tube_feeding": 0.48, "feeding_pump": 0.08,
    "central_venous": 0.05, "subcutaneous_injection": 0.06, "subcutaneous_pump": 0.02,
    "blood_glucose": 0.06, "dialysis": 0.01, "intermittent_catheterisation": 0.07,
    "continuous_catheterisation": 0.02, "ostomy": 0.03, "disimpaction": 0.05, "enema": 0.1,
    "seizure": 0.15,
}
NEEDS = [
    "医療型短期入所の受け入れ先が圏域内に少なく、家族のレスパイトが十分に確保できていない。",
    "保育所での受け入れを希望する家庭が増えているが、看護師の確保が難しい。",
    "通学時の移動支援と学校での看護師配置について、教育委員会との調整が課題となっている。",
    "小児に対応できる訪問看護事業所が限られ、夜間の対応に不安があるとの声が寄せられている。",
    "災害時の電源確保と個別避難計画の作成を進める必要がある。",
    "成人期への移行にあたり、日中活動の場と医療機関の確保が課題である。",
]
PRACTICES = [
    "保健師が退院前から病院の多職種カンファレンスに参加し、在宅移行を切れ目なく支援している。",
    "人工呼吸器を使用する児童の世帯に非常用電源の購入費を助成し、個別避難計画を全件作成した。",
    "市立保育所に看護師を配置し、医療的ケア児の受け入れを始めた。",
    "協議の場で医療・福祉・教育の担当者が事例を共有し、入学前の調整を前年度から始めている。",
    "コーディネーターが家族向けの相談会を年4回開き、先輩保護者との交流の場を設けている。",
]


def answers_for(rng, body, fields, total):
    """One municipality's answers with `total` children, consistent with the standard rules."""
    a = {}
    grid = item_of(body, "age_place")
    ages = [r["key"] for r in grid["kind"]["rows"]] if grid else []
    places = [c["key"] for c in grid["kind"]["columns"]] if grid else []
    by_age = {}
    if grid:
        counts = multinomial(rng, total, [AGE_WEIGHTS.get(x, 10) for x in ages])
        for age, n in zip(ages, counts):
            by_age[age] = n
            for place, m in zip(places, multinomial(rng, n, [PLACE_WEIGHTS.get(p, 5) for p in places])):
                a[f"age_place.{age}.{place}"] = str(m)
    young = sum(by_age.get(x, 0) for x in ("a0_2", "a3_5"))
    older = sum(n for x, n in by_age.items() if x not in ("a0_2", "a3_5"))
    nursery = binomial(rng, young, 0.2)
    kindergarten = binomial(rng, young - nursery, 0.08)
    school_special = binomial(rng, older, 0.55)
    school_regular = binomial(rng, older - school_special, 0.18)
    known = {
        "total": total,
        "nursery": nursery,
        "nursery_nurse": binomial(rng, nursery, 0.6),
        "kindergarten": kindergarten,
        "school_regular": school_regular,
        "school_special": school_special,
        "school_nurse": binomial(rng, school_regular + school_special, 0.5),
        "svc_home_nursing": binomial(rng, total, 0.55),
        "svc_day_service": binomial(rng, total, 0.45),
        "svc_short_stay": binomial(rng, total, 0.12),
        "svc_home_help": binomial(rng, total, 0.15),
        # Kept within the total so that the warning rule needs no note.
        "coordinators": min(total, rng.choice([0, 1, 1, 1, 2, 2, 3, 5])),
        "short_stay_providers": poisson(rng, total / 40),
        "home_nursing_agencies": poisson(rng, 0.5 + total / 8),
        "home_visit_hospitals": poisson(rng, 0.3 + total / 15),
        "nurseries_with_nurse": poisson(rng, total / 20),
    }
    council = rng.random() < 0.8
    for key, item, kind in fields:
        if key in a:
            continue
        if kind == "count":
            if key in known:
                a[key] = str(known[key])
            elif item == "care":
                a[key] = str(binomial(rng, total, CARE_SHARE.get(key.split(".", 1)[1], 0.05)))
            else:
                a[key] = str(poisson(rng, 1.0))
        elif kind == "yes_no":
            a[key] = "yes" if (council if key == "council" else rng.random() < 0.5) else "no"
        elif kind == "flag":
            if key.endswith(".publishable"):
                if a.get(item) and rng.random() < 0.6:
                    a[key] = "1"
            elif rng.random() < 0.35:
                a[key] = "1"
        elif kind == "long_text":
            pool = PRACTICES if key == "practice" else NEEDS
            if rng.random() < 0.55:
                a[key] = "".join(rng.sample(pool, rng.randint(1, 3)))
        # single, short_text and date items are not in the standard definition; left blank
    return a


# ---------------------------------------------------------------------------------------------
# The 年度


def era_year_label(fy):
    """令和元年度 / 平成30年度, as the application titles its rounds."""
    if fy >= 2019:
        n = fy - 2018
        return f"令和{'元' if n == 1 else n}年度"
    if fy >= 1989:
        n = fy - 1988
        return f"平成{'元' if n == 1 else n}年度"
    return f"{fy}年度"


def jst(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=JST)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--years", type=int, default=10, help="number of 年度 (default 10)")
    ap.add_argument("--first-year", type=int, help="first 年度 (default: see above)")
    ap.add_argument("--source-prefecture", default="03",
                    help="prefecture whose seeded standard definition is copied (default 03)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--print-years", action="store_true", help="print the 年度 it would write, and exit")
    ap.add_argument("--analyze", choices=["auto", "yes", "no"], default="auto",
                    help="update the planner statistics afterwards: auto = PostgreSQL yes (autovacuum would), "
                         "SQLite no (the application never runs ANALYZE, so a production file has none)")
    a = ap.parse_args()

    db = open_db(a.database_url)
    rng = random.Random(a.seed)

    existing_years = sorted(int(y) for (y,) in db.query(
        "SELECT DISTINCT r.fiscal_year FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id "
        f"WHERE d.family = '{FAMILY}'"))
    if a.first_year is not None:
        first = a.first_year
    else:
        today = dt.datetime.now(JST).date()
        current = today.year if today.month >= 4 else today.year - 1
        last = (existing_years[0] - 1) if existing_years else current - 1
        first = last - a.years + 1
    years = list(range(first, first + a.years))
    if a.print_years:
        print(" ".join(str(y) for y in years))
        return

    prefectures = sorted(c for (c,) in db.query("SELECT code FROM prefectures"))
    munis = [(c6, c5, p, n) for c6, c5, p, n in db.query(
        "SELECT code6, code5, prefecture_code, name FROM municipalities "
        "WHERE kind = 'municipality' AND retired_on IS NULL ORDER BY code6")]
    designated = {p for (p,) in db.query(
        "SELECT DISTINCT parent_code6 FROM municipalities WHERE kind = 'ward' AND parent_code6 IS NOT NULL")}
    defs = {}
    for pid, pref, body in db.query(
            "SELECT d.id, d.prefecture_code, d.body FROM survey_definitions d "
            f"WHERE d.family = '{FAMILY}' AND d.version = (SELECT MAX(v.version) FROM survey_definitions v "
            "WHERE v.prefecture_code = d.prefecture_code AND v.family = d.family)"):
        defs[pref] = (pid, body)
    if a.source_prefecture not in defs:
        sys.exit(f"no standard definition in prefecture {a.source_prefecture}: start the server once "
                 "(`tsunagu demo` or `tsunagu migrate`) so that it seeds one")
    source_body = defs[a.source_prefecture][1]
    source = json.loads(source_body)
    coordinators = [u for (u,) in db.query(
        "SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id "
        "WHERE r.role = 'center_coordinator' AND u.disabled_at IS NULL ORDER BY u.login_id")]
    if not coordinators:
        sys.exit("no user with the role center_coordinator: load the demo (`tsunagu demo`) or add one")
    coordinator = coordinators[0]
    taken = {(c6, int(fy)) for c6, fy in db.query(
        "SELECT s.municipality_code6, r.fiscal_year FROM survey_responses s "
        "JOIN survey_rounds r ON r.id = s.round_id JOIN survey_definitions d ON d.id = r.definition_id "
        f"WHERE d.family = '{FAMILY}'")}
    log(f"{len(munis)} municipalities in {len(prefectures)} prefectures; 年度 {years[0]}-{years[-1]}"
        + (f" (the database already has rounds in {', '.join(map(str, existing_years))})" if existing_years else ""))

    # Definitions for the prefectures without one, created just before the first round.
    new_defs = []
    created = jst(years[0], 3, 1)
    for pref in prefectures:
        if pref not in defs:
            pid = uuid7(rng, int(created.timestamp() * 1000))
            defs[pref] = (pid, source_body)
            new_defs.append((pid, FAMILY, 1, pref, source["title"], source_body, 0, coordinator,
                             ts_text(created), ts_text(created)))
    fields = {pref: fields_of(json.loads(body)) for pref, (_, body) in defs.items()}
    bodies = {pref: json.loads(body) for pref, (_, body) in defs.items()}

    # Each municipality's share of its prefecture's children.
    weights = {}
    for c6, _, pref, name in munis:
        weights[c6] = municipality_weight(rng, name, pref, c6 in designated)
    pref_weight = {}
    for c6, _, pref, _ in munis:
        pref_weight[pref] = pref_weight.get(pref, 0.0) + weights[c6]
    people = sum(PREFECTURE_POPULATION.get(p, 100) for p in prefectures)

    rounds, responses = [], []
    last_total = {}
    skipped = 0
    for fy in years:
        nat = national(fy)
        for pref in prefectures:
            members = [m for m in munis if m[2] == pref and (m[0], fy) not in taken]
            skipped += sum(1 for m in munis if m[2] == pref and (m[0], fy) in taken)
            if not members:
                continue
            opened = jst(fy, 5, 1)
            rid = uuid7(rng, int(opened.timestamp() * 1000))
            rounds.append((rid, defs[pref][0], pref, fy, f"{era_year_label(fy)} 医療的ケア児等の実態調査",
                           f"{fy}-04-01", f"{fy}-05-01", f"{fy}-06-30", "", coordinator, ts_text(opened)))
            body, flds = bodies[pref], fields[pref]
            share = PREFECTURE_POPULATION.get(pref, 100) / people
            change = item_of(body, "total")
            pct = change.get("change_warning_pct") if change else None
            for c6, _, _, _ in members:
                expected = nat * share * weights[c6] / pref_weight[pref]
                total = poisson(rng, expected)
                ans = answers_for(rng, body, flds, total)
                before = last_total.get(c6)
                if pct and before is not None and abs(total - before) >= 3 and abs(total - before) * 100 > before * pct:
                    ans["note.total"] = "転入・転出や新たな把握により増減しました。"
                last_total[c6] = total
                submitted = jst(fy, 6, rng.randint(1, 30), rng.randint(9, 17), rng.randint(0, 59))
                approved = submitted + dt.timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 6))
                text = json.dumps(ans, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
                responses.append((uuid7(rng, int(opened.timestamp() * 1000)), rid, c6, "approved", text, 0,
                                  ts_text(submitted), None, ts_text(approved), coordinator,
                                  ts_text(approved), coordinator, 3))
    if skipped:
        log(f"left alone {skipped} municipality-年度 pairs that already have a response")

    t0 = time.time()
    db.begin()
    n_defs = db.copy("survey_definitions",
                     ["id", "family", "version", "prefecture_code", "title", "body", "retired", "created_by",
                      "created_at", "updated_at"], new_defs)
    n_rounds = db.copy("survey_rounds",
                       ["id", "definition_id", "prefecture_code", "fiscal_year", "title", "as_of", "opens_on",
                        "due_on", "note", "created_by", "created_at"], rounds)
    n_resp = db.copy("survey_responses",
                     ["id", "round_id", "municipality_code6", "status", "answers", "reopened", "submitted_at",
                      "submitted_by", "approved_at", "approved_by", "updated_at", "updated_by", "revision"],
                     responses)
    db.commit()
    if a.analyze == "yes" or (a.analyze == "auto" and db.kind == "postgres"):
        db.analyze()
        log("planner statistics updated (ANALYZE)")
    db.close()
    size = sum(len(r[4].encode("utf-8")) for r in responses)
    log(f"wrote {n_defs} definitions, {n_rounds} rounds, {n_resp} approved responses "
        f"(answers {size / max(1, n_resp):.0f} bytes on average) in {time.time() - t0:.1f} s")
    print(" ".join(str(y) for y in years))


if __name__ == "__main__":
    main()

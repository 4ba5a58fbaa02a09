#!/usr/bin/env python3
"""Scale data for Tsunagu benchmarks: resources (社会資源) and consultations (相談記録) at the
size of issue 3 (50,000 resources, 200,000 consultations over 10 年度), written straight into a
database that `tsunagu migrate` or `tsunagu demo` created.

Standard library only (Python 3.11). SQLite is written with the sqlite3 module; PostgreSQL
through `psql` (COPY ... FROM STDIN in CSV, fed by this script), so no driver is needed.

    python3 bench/scale/generate.py --database-url sqlite:///tmp/x/tsunagu.sqlite3
    python3 bench/scale/generate.py --database-url postgres://postgres@127.0.0.1:5432/bench
    python3 bench/scale/generate.py --database-url ... --check-normalisation   (no writes)

What it writes, consistent with the schema and with what the application itself would write:

- resources: categories from `resource_categories` (seeded codes), located in municipalities of
  the deployment's prefecture (default 03, Iwate; a share of `--local-share`) and of the whole
  country; service areas (own municipality and neighbours, or a whole 圏域 in the prefecture);
  care types from `care_types`; availability confirmed by a real user; `search_text` computed
  as `resources::search_text_of` does (textnorm.py is a port of `normalize_for_search`).
- consultations: JST working days over `--years` years up to now, `received_on` the JST date,
  `fiscal_year` its 年度, receipt numbers per 年度 continuing `consultation_counters` (so they
  stay unique next to the demo's), counters updated; children's municipalities in the
  prefecture weighted by population; topics, care types, timeline entries, introduced
  resources, referrals to the municipal offices (`organisations` of kind municipal_office);
  handled by the staff users (`center_coordinator`, `prefecture_officer`); `search_text` as
  `consultations::search_text` computes it.
- no audit entries: the application writes one per change, but the pages measured do not read
  them, and a chain of 250,000 invented entries would only slow the load.

Deterministic for a given --seed and --today.
"""

import argparse
import datetime as dt
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from textnorm import normalize_for_search  # noqa: E402

JST = dt.timezone(dt.timedelta(hours=9))


def log(msg):
    print(f"[generate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Databases


class Sqlite:
    kind = "sqlite"

    def __init__(self, url):
        path = url
        for p in ("sqlite://", "sqlite:"):
            if path.startswith(p):
                path = path[len(p):]
                break
        path = path.split("?", 1)[0]
        if not os.path.isfile(path):
            sys.exit(f"no SQLite database at {path}: create it with `tsunagu migrate` or `tsunagu demo` first")
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA busy_timeout = 10000")

    def query(self, sql):
        return [tuple(r) for r in self.conn.execute(sql).fetchall()]

    def begin(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def copy(self, table, columns, rows):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        n = 0

        def counted():
            nonlocal n
            for r in rows:
                n += 1
                yield r

        self.conn.executemany(sql, counted())
        return n

    def execute(self, sql, params=()):
        self.conn.execute(sql.replace("$1", "?").replace("$2", "?"), params)

    def commit(self):
        self.conn.execute("COMMIT")

    def analyze(self):
        self.conn.execute("ANALYZE")

    def close(self):
        self.conn.close()


def _csv_field(v):
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    return '"' + v.replace('"', '""') + '"'


def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("'", "''") + "'"


class Postgres:
    """Reads with `psql -c`; writes one transaction through one `psql` fed on stdin."""

    kind = "postgres"

    def __init__(self, url):
        self.url = url
        self.proc = None
        self.query("SELECT 1")

    def query(self, sql):
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows = []
        for line in out.split("\n"):
            if line == "":
                continue
            rows.append(tuple(None if f == "" else f for f in line.split("\x1f")))
        return rows

    def begin(self):
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        self.proc.stdin.write("BEGIN;\n")

    def copy(self, table, columns, rows):
        w = self.proc.stdin
        w.write(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv);\n")
        n = 0
        buf = []
        for r in rows:
            buf.append(",".join(_csv_field(v) for v in r))
            n += 1
            if len(buf) >= 5000:
                w.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            w.write("\n".join(buf) + "\n")
        w.write("\\.\n")
        return n

    def execute(self, sql, params=()):
        for i, p in enumerate(params, start=1):
            sql = sql.replace(f"${i}", _sql_literal(p))
        self.proc.stdin.write(sql + ";\n")

    def commit(self):
        self.proc.stdin.write("COMMIT;\n")
        self.proc.stdin.close()
        rc = self.proc.wait()
        self.proc = None
        if rc != 0:
            sys.exit(f"psql failed ({rc}); nothing was written")

    def analyze(self):
        subprocess.run(["psql", "-X", "-q", self.url, "-c", "VACUUM ANALYZE"], check=True)

    def close(self):
        pass


def open_db(url):
    if url.startswith("postgres://") or url.startswith("postgresql://"):
        return Postgres(url)
    return Sqlite(url)


# ---------------------------------------------------------------------------------------------
# Ids, times


def uuid7(rng, ms):
    """A UUID v7 for the instant `ms` (Unix milliseconds): ids sort by creation, as new_id()."""
    rand_a = rng.getrandbits(12)
    rand_b = rng.getrandbits(62)
    n = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=n))


def ts_text(t):
    """clock::format: fixed-width UTC text, `2026-01-02T03:04:05.123456Z`."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ms_of(t):
    return int(t.timestamp() * 1000)


def fiscal_year(d):
    return d.year if d.month >= 4 else d.year - 1


def receipt_no(fy, n):
    """consultation::format_receipt_no for 平成 and 令和 年度 (R8-0001, H30-0123, R8-10000)."""
    if fy >= 2019:
        return f"R{fy - 2018}-{n:04d}"
    if fy >= 1989:
        return f"H{fy - 1988}-{n:04d}"
    raise ValueError(f"年度 {fy} is before 平成; the generator only writes 平成 and 令和")


def weighted(rng, items):
    """items: [(value, weight)]"""
    total = sum(w for _, w in items)
    r = rng.random() * total
    for v, w in items:
        if r < w:
            return v
        r -= w
    return items[-1][0]


# ---------------------------------------------------------------------------------------------
# Vocabulary

IWATE_POPULATION = {
    "盛岡市": 285, "宮古市": 48, "大船渡市": 34, "花巻市": 93, "北上市": 92, "久慈市": 33,
    "遠野市": 25, "一関市": 111, "陸前高田市": 18, "釜石市": 30, "二戸市": 25, "八幡平市": 24,
    "奥州市": 112, "滝沢市": 55, "雫石町": 15, "葛巻町": 6, "岩手町": 12, "紫波町": 32,
    "矢巾町": 27, "西和賀町": 5, "金ケ崎町": 15, "平泉町": 7, "住田町": 5, "大槌町": 11,
    "山田町": 14, "岩泉町": 9, "田野畑村": 3, "普代村": 3, "軽米町": 9, "野田村": 4,
    "九戸村": 5, "洋野町": 15, "一戸町": 11,
}

# category code -> (weight, [(name pattern, weight)], (care count weights for 0..n), ages)
CATEGORIES = {
    "home_nursing": (15, [("{b}訪問看護ステーション", 6), ("訪問看護ステーション{b}", 3), ("{b}ナースステーション", 1)], [5, 5, 10, 15, 20, 20, 15, 10], (0, 18)),
    "home_medical": (5, [("{b}在宅クリニック", 3), ("{b}訪問診療所", 2)], [5, 5, 10, 20, 20, 20, 20], (0, None)),
    "home_rehab": (4, [("{b}訪問リハビリテーション", 1)], [40, 30, 20, 10], (0, 18)),
    "short_stay_medical": (3, [("{b}病院 医療型短期入所", 2), ("{b}療育センター 短期入所", 1)], [0, 5, 5, 10, 20, 25, 20, 15], (0, 20)),
    "short_stay_welfare": (5, [("ショートステイ{b}", 2), ("{b}短期入所事業所", 1)], [40, 25, 20, 15], (3, 18)),
    "child_development": (12, [("{b}児童発達支援センター", 2), ("こどもデイ{b}", 2), ("{b}キッズルーム", 1)], [45, 25, 15, 10, 5], (0, 6)),
    "medical_child_development": (2, [("{b}医療型児童発達支援センター", 1)], [0, 10, 20, 30, 20, 20], (0, 6)),
    "after_school_day": (15, [("放課後等デイサービス{b}", 3), ("{b}キッズクラブ", 2), ("{b}スクール", 1)], [50, 25, 15, 10], (6, 18)),
    "home_help": (8, [("{b}ヘルパーステーション", 2), ("ホームヘルプ{b}", 1)], [50, 25, 15, 10], (0, None)),
    "consultation_support": (8, [("{b}相談支援事業所", 3), ("相談支援センター{b}", 1)], [90, 10], (None, None)),
    "nursery": (8, [("{b}保育園", 3), ("{b}こども園", 2)], [70, 20, 10], (0, 6)),
    "school": (3, [("{b}特別支援学校", 2), ("{b}小学校", 1)], [50, 20, 15, 15], (6, 18)),
    "hospital": (4, [("{b}病院", 2), ("{b}小児科クリニック", 2)], [10, 10, 10, 20, 25, 25], (0, None)),
    "pharmacy": (3, [("{b}薬局", 3), ("{b}ファーマシー", 1)], [80, 20], (None, None)),
    "medical_supplies": (1, [("{b}メディカル", 1), ("{b}医療機器", 1)], [60, 20, 20], (None, None)),
    "respite": (1, [("レスパイトハウス{b}", 1)], [10, 20, 30, 40], (0, 18)),
    "coordinator": (1, [("{b} 医療的ケア児等コーディネーター", 1)], [100], (None, None)),
    "other": (1, [("{b}家族会", 1), ("{b}ボランティアの会", 1)], [100], (None, None)),
}

DESCRIPTIONS = {
    "short_stay_medical": "医療的ケアが必要なお子さんの短期入所（ショートステイ）を行います。初回は事前の面談と主治医の情報提供書が必要です。",
    "short_stay_welfare": "福祉型の短期入所です。看護職員がいる時間帯に医療的ケアに対応します。",
    "home_nursing": "小児の訪問看護に対応します。医療的ケアの手技の確認、入浴介助、体調管理を行います。",
    "home_medical": "在宅で療養するお子さんへの定期的な訪問診療と、緊急時の往診を行います。",
    "home_rehab": "理学療法士・作業療法士がご自宅を訪問し、姿勢や呼吸のリハビリを行います。",
    "child_development": "未就学のお子さんの発達支援を行います。医療的ケアは看護師が対応します。",
    "medical_child_development": "未就学のお子さんの発達支援を行います。医療的ケアは看護師が対応します。",
    "after_school_day": "就学しているお子さんの放課後と長期休暇の居場所です。",
    "home_help": "居宅介護・重度訪問介護を行います。",
    "consultation_support": "障害児支援利用計画の作成と、福祉サービスの利用の相談に応じます。",
    "nursery": "医療的ケアが必要なお子さんの受け入れについて、入所前に面談と主治医の意見書で相談します。",
    "school": "医療的ケアが必要な児童生徒が在籍しています。入学・転入の前に学校と教育委員会で相談します。",
    "hospital": "小児の外来・入院に対応します。",
    "pharmacy": "在宅訪問に対応する薬局です。",
    "medical_supplies": "在宅で使う医療機器・衛生材料を扱います。",
    "respite": "ご家族の休息のための一時的な預かりです。",
    "coordinator": "医療的ケア児等コーディネーターが、医療・福祉・教育の支援をつなぎます。",
    "other": "同じような経験をもつ家族どうしの交流と情報交換の場です。",
}

HOURS = {
    "home_nursing": "月〜金 9:00〜17:00（緊急時は24時間連絡可）",
    "home_medical": "訪問診療 月〜金、往診は24時間",
    "child_development": "月〜金 9:30〜15:00",
    "after_school_day": "平日 放課後〜18:00、長期休暇 9:00〜17:00",
    "nursery": "7:30〜18:30（土曜は短縮）",
    "pharmacy": "月〜土 9:00〜18:00",
}

EXTRA_SENTENCES = [
    "送迎があります。", "駐車場があります。", "土曜日も営業しています。", "見学を随時受け付けています。",
    "きょうだい児の同伴もご相談ください。", "理学療法士が在籍しています。", "看護師が常駐しています。",
    "医療機関と連携しています。", "日中一時支援も行っています。", "入浴サービスがあります。",
    "ＮＩＣＵ退院後の在宅移行を支援します。", "夜間の対応は要相談です。", "ｽﾀｯﾌ募集中。", "",
]

BRANDS = [
    "ひまわり", "あおぞら", "さくら", "つばさ", "ひだまり", "なのはな", "すずらん", "わかば", "こもれび",
    "はばたき", "きらり", "にじいろ", "ほほえみ", "やまびこ", "せせらぎ", "たんぽぽ", "どんぐり", "おひさま",
    "コスモス", "オリーブ", "ハーモニー", "スマイル", "リーフ", "ステップ", "ポプラ", "クローバー",
    "ドリーム", "ファミリア", "ウィズ", "ルピナス", "アトリエ", "ノーブル", "ｶﾞｰﾃﾞﾝ", "ﾌﾛｰﾗ",
    "みちのく", "北上川", "岩手山", "南部", "陸中", "早池峰", "中央", "青葉", "若葉", "緑が丘",
    "桜台", "東", "西", "みなみ", "きた", "杜の", "星の", "森の", "虹の", "風の",
]
CORPS = [
    ("社会福祉法人", "{b}会", 4), ("医療法人社団", "{b}会", 3), ("医療法人", "{b}会", 3),
    ("株式会社", "{b}ケア", 4), ("株式会社", "{b}メディカル", 2), ("合同会社", "{b}", 2),
    ("特定非営利活動法人", "{b}ネット", 2), ("一般社団法人", "{b}の会", 1), ("社会医療法人", "{b}会", 1),
]
TOWNS = ["本町", "中央通", "駅前", "緑町", "旭町", "栄町", "大通", "新町", "東町", "西町", "若園町", "上ノ橋町"]

CARE_WEIGHTS = {
    "suction": 25, "tube_feeding": 25, "oxygen": 15, "tracheostomy": 15, "ventilator": 12,
    "seizure": 8, "nebulizer": 5, "feeding_pump": 5, "intermittent_catheterisation": 5,
    "blood_glucose": 3, "central_venous": 3, "ostomy": 2,
}

INTERNAL_NOTES = [
    "【内部メモ】受け入れ調整は地域連携室が窓口。", "【内部メモ】夜間の緊急受け入れは原則不可。",
    "【内部メモ】管理者が変わったので次回確認。", "【内部メモ】看護師の退職により受入れ縮小の可能性。",
]

# Consultations: (topic, [(question, advice)]) as in demo_consultations.rs.
TEXTS = {
    "medical": [
        ("人工呼吸器を使っている子のショートステイ（短期入所）先を探している。家族の休息のため月に数日預けたい。",
         "医療型短期入所を実施している事業所を紹介し、空き状況の確認方法と受給者証の申請先を説明した。"),
        ("NICUを退院予定。在宅での吸引と経管栄養に不安があり、訪問看護を利用したい。",
         "小児に対応する訪問看護ステーションを紹介。退院前カンファレンスへの参加を病院に依頼するよう助言した。"),
        ("気管切開の子のカニューレ交換を近くの医療機関で受けられないか。",
         "在宅医療に対応する医療機関を紹介し、主治医から紹介状を出してもらうよう助言した。"),
    ],
    "welfare": [
        ("吸引に対応できる放課後等デイサービスを知りたい。",
         "看護師が配置されている放課後等デイサービスを紹介し、見学の申込み方法を伝えた。"),
        ("児童発達支援を利用したいが、胃ろうからの注入に対応してもらえるか不安。",
         "医療的ケアに対応する児童発達支援事業所を紹介。相談支援専門員と一緒に見学することを勧めた。"),
        ("居宅介護（ホームヘルプ）で入浴の介助を頼めるか。",
         "居宅介護の支給申請の流れを説明し、市町村の障がい福祉の窓口につないだ。"),
    ],
    "childcare_education": [
        ("来年度、保育所に入所させたい。経管栄養があっても受け入れてもらえるか。",
         "市町村の保育担当に看護師配置の状況を確認するよう助言し、受入れ実績のある園の情報を伝えた。"),
        ("小学校入学にあたり、学校での導尿を誰が行うのか知りたい。",
         "教育委員会の就学相談と学校看護師の配置について説明し、早めの相談を勧めた。"),
    ],
    "work_family": [
        ("母親の復職を考えている。医療的ケアのある子を預けられる先がなく困っている。",
         "日中一時支援と医療型短期入所の利用を提案し、きょうだい児の預け先も含めて整理した。"),
        ("きょうだい児の行事の日だけ見守りを頼める先がほしい。",
         "レスパイト目的で使える訪問看護の長時間利用と、家族会の情報を伝えた。"),
    ],
    "disaster": [
        ("停電のとき人工呼吸器と吸引器のバッテリーが何時間もつか不安。",
         "外部バッテリーと発電機の準備、電力会社への登録、個別避難計画の作成を市町村に相談するよう助言した。"),
        ("災害時の避難先として病院に行けるのか知りたい。",
         "市町村の個別避難計画の担当につなぎ、福祉避難所と医療機関の役割を説明した。"),
    ],
    "financial": [
        ("医療費の助成と特別児童扶養手当の手続きを知りたい。",
         "小児慢性特定疾病医療費助成と手当の申請窓口を説明した。"),
        ("吸引器やパルスオキシメーターの購入に補助はあるか。",
         "日常生活用具給付事業の対象品目と申請先（市町村）を案内した。"),
    ],
    "procedures": [
        ("障害福祉サービスの受給者証の申請方法が分からない。",
         "市町村の窓口での申請の流れと、相談支援事業所によるサービス等利用計画の作成を説明した。"),
        ("医療的ケア判定スコアの書類は誰に書いてもらうのか。",
         "主治医に判定スコア表の記入を依頼するよう伝え、市町村の窓口を案内した。"),
    ],
    "transition": [
        ("18歳を過ぎたあとの医療と福祉サービスがどう変わるのか知りたい。",
         "成人期の医療機関への移行と、生活介護などの障害福祉サービスについて説明した。"),
    ],
    "other": [
        ("同じような子どもを育てている家族と話したい。",
         "家族交流会の日程と、地域の家族会の連絡先を伝えた。"),
    ],
}
QUESTION_DETAILS = [
    "", "", "", "父親から電話。", "母親から電話。", "祖母からの相談。", "主治医から勧められて連絡した。",
    "転居してきたばかり。", "来月退院予定。", "前回の相談の続き。", "きょうだいが２人いる。",
    "夜間の対応が難しい。", "ｼｮｰﾄｽﾃｲの利用は初めて。", "就学を控えている。",
]
TOPIC_WEIGHTS = [
    ("medical", 30), ("welfare", 30), ("childcare_education", 18), ("work_family", 10), ("disaster", 8),
    ("financial", 10), ("procedures", 15), ("transition", 5), ("other", 4),
]
TOPIC_ORDER = ["medical", "welfare", "childcare_education", "work_family", "disaster", "financial",
               "procedures", "transition", "other"]
CHANNELS = [("phone", 55), ("visit", 10), ("home_visit", 8), ("email", 12), ("online", 10), ("other", 5)]
REQUESTERS = [("family", 45), ("municipality", 15), ("coordinator", 15), ("medical", 10), ("school", 8),
              ("provider", 5), ("other", 2)]
AGE_BANDS = [("0-2", 25), ("3-5", 24), ("6-11", 25), ("12-14", 10), ("15-17", 8), ("18-19", 4), ("20+", 2),
             ("unknown", 2)]
SURNAMES = ["佐藤", "高橋", "千葉", "佐々木", "菊池", "及川", "阿部", "鈴木", "小野寺", "伊藤", "吉田", "工藤",
            "村上", "藤原", "熊谷", "畠山", "中村", "小原", "昆", "八重樫"]
GIVEN = ["花子", "由美", "恵", "直子", "真理", "陽子", "健一", "誠", "大輔", "翔太", "愛", "美咲", "さくら",
         "ゆうこ", "ミキ", "アヤ"]
ENTRY_TEXTS = [
    "家族に電話で状況を確認した。紹介した事業所へ見学の予約が取れたとのこと。",
    "事業所から受入れ可能との連絡あり。家族へ伝えた。",
    "市町村の担当者と情報を共有した。次回の支援会議で検討予定。",
    "受給者証の申請が済んだと家族から連絡があった。",
    "主治医の意見書の準備に時間がかかるため、来月に再度確認する。",
    "見学の結果、利用を開始することになった。",
]
OUTCOMES = [
    "家族に連絡し、障害福祉サービスの申請を受け付けた。",
    "保健師が家庭訪問を行い、今後の支援について確認した。",
    "個別避難計画の作成に着手した。",
    "保育所の入所調整を開始した。",
    "相談支援事業所につなぎ、サービス等利用計画の作成を依頼した。",
]
REFERRAL_NOTE = "ご家族の了解のもと、地域での継続的な支援をお願いします。これまでの経過は概要のとおりです。"

RESOURCE_COLUMNS = [
    "id", "external_id", "category_id", "provider_name", "name", "description", "municipality_code6",
    "postal_code", "address", "phone", "fax", "email", "website", "hours", "age_min", "age_max",
    "eligibility_note", "fees_note", "capacity_note", "availability", "availability_confirmed_on",
    "availability_confirmed_by", "internal_note", "direct_line", "is_public", "last_verified_on",
    "search_text", "retired_at", "created_at", "updated_at",
]
CONSULTATION_COLUMNS = [
    "id", "receipt_no", "fiscal_year", "received_at", "received_on", "channel", "requester_type",
    "requester_name", "requester_contact", "requester_organisation", "child_municipality_code6",
    "child_age_band", "question", "advice", "follow_up_on", "minutes_spent", "handled_by", "status",
    "source", "consent_given", "consent_on", "consent_method", "search_text", "created_by", "created_at",
    "updated_at",
]
REFERRAL_COLUMNS = [
    "id", "consultation_id", "to_organisation_id", "note", "with_personal_details", "status", "sent_at",
    "sent_by", "acknowledged_at", "outcome", "outcome_at",
]


# ---------------------------------------------------------------------------------------------
# Reference data


class Refs:
    def __init__(self, db, prefecture):
        self.prefecture = prefecture
        self.categories = {}  # code -> (id, name)
        for cid, code, name in db.query(
            "SELECT id, code, name FROM resource_categories WHERE code IS NOT NULL AND retired_at IS NULL"
        ):
            self.categories[code] = (cid, name)
        missing = [c for c in CATEGORIES if c not in self.categories]
        if missing:
            sys.exit(f"resource_categories lacks the seeded codes {missing}: run `tsunagu migrate` first")
        self.pref_names = dict(db.query("SELECT code, name FROM prefectures"))
        self.munis = {}  # code6 -> (name, prefecture_code)
        self.by_pref = {}
        for code6, name, pref in db.query(
            "SELECT code6, name, prefecture_code FROM municipalities WHERE retired_on IS NULL ORDER BY code6"
        ):
            self.munis[code6] = (name, pref)
            self.by_pref.setdefault(pref, []).append(code6)
        if prefecture not in self.by_pref:
            sys.exit(f"no municipalities of prefecture {prefecture}: reference data missing")
        self.local = [
            c for (c,) in db.query(
                f"SELECT code6 FROM municipalities WHERE prefecture_code = '{prefecture}' "
                "AND kind = 'municipality' AND retired_on IS NULL ORDER BY code6"
            )
        ]
        self.local_weights = [IWATE_POPULATION.get(self.munis[c][0], 10) for c in self.local]
        self.others = [c for c in self.munis if self.munis[c][1] != prefecture]
        self.areas = {}  # area id -> [code6]
        self.area_of = {}
        for area_id, code6 in db.query(
            "SELECT am.area_id, am.municipality_code6 FROM area_municipalities am "
            f"JOIN areas a ON a.id = am.area_id WHERE a.prefecture_code = '{prefecture}' "
            "ORDER BY a.sort_order, am.municipality_code6"
        ):
            self.areas.setdefault(area_id, []).append(code6)
            self.area_of.setdefault(code6, area_id)
        self.care = [c for (c,) in db.query("SELECT code FROM care_types WHERE retired_at IS NULL ORDER BY sort_order, code")]
        self.care_names = dict(db.query("SELECT code, name FROM care_types"))
        self.care_weighted = [(c, CARE_WEIGHTS.get(c, 1)) for c in self.care]
        self.staff = {}
        for uid, login, role in db.query(
            "SELECT u.id, u.login_id, r.role FROM users u JOIN user_roles r ON r.user_id = u.id "
            "WHERE r.role IN ('center_coordinator', 'prefecture_officer') AND u.disabled_at IS NULL ORDER BY u.login_id"
        ):
            self.staff.setdefault(role, []).append(uid)
        if not self.staff.get("center_coordinator"):
            sys.exit("no user with the role center_coordinator: load the demo (`tsunagu demo`) or add one")
        self.offices = dict(
            db.query(
                "SELECT municipality_code6, id FROM organisations WHERE kind = 'municipal_office' "
                "AND retired_at IS NULL AND municipality_code6 IS NOT NULL"
            )
        )
        self.counters = {int(fy): int(n) for fy, n in db.query("SELECT fiscal_year, last_number FROM consultation_counters")}


# ---------------------------------------------------------------------------------------------
# Resources


def gen_resources(rng, refs, n, local_share, today, now):
    cat_items = [(code, spec[0]) for code, spec in CATEGORIES.items()]
    coordinators = refs.staff["center_coordinator"]
    resources, areas, cares, local_ids = [], [], [], []
    for i in range(n):
        code = weighted(rng, cat_items)
        weight, patterns, care_counts, ages = CATEGORIES[code]
        cat_id, cat_name = refs.categories[code]
        local = rng.random() < local_share
        if local:
            muni = weighted(rng, list(zip(refs.local, refs.local_weights)))
        else:
            muni = rng.choice(refs.others)
        muni_name, pref = refs.munis[muni]
        brand = rng.choice(BRANDS)
        name = weighted(rng, patterns).format(b=brand)
        if rng.random() < 0.35:
            name = f"{name} {muni_name}"
        corp, corp_name, _ = weighted(rng, [((c, p, w), w) for c, p, w in CORPS])
        provider = corp + corp_name.format(b=rng.choice(BRANDS))
        k = weighted(rng, list(enumerate(care_counts)))
        chosen = []
        for _ in range(k * 2):
            if len(chosen) >= k:
                break
            c = weighted(rng, refs.care_weighted)
            if c not in chosen:
                chosen.append(c)
        chosen.sort(key=refs.care.index)
        description = DESCRIPTIONS.get(code, "")
        if chosen:
            short = [refs.care_names[c].split("（")[0] for c in chosen]
            description += "対応できる医療的ケア：" + "、".join(short) + "。"
        description += rng.choice(EXTRA_SENTENCES)
        address = f"{refs.pref_names.get(pref, '')}{muni_name}{rng.choice(TOWNS)}{rng.randint(1, 30)}-{rng.randint(1, 40)}"
        if rng.random() < 0.5:
            address += f"-{rng.randint(1, 20)}"
        created = now - dt.timedelta(days=rng.uniform(1, 5 * 365))
        rid = uuid7(rng, ms_of(created))
        updated = created + dt.timedelta(days=rng.uniform(0, (now - created).days))
        availability = weighted(rng, [("available", 30), ("limited", 25), ("full", 15), ("unknown", 30)])
        confirmed_on = confirmed_by = None
        if availability != "unknown":
            confirmed_on = (today - dt.timedelta(days=rng.randint(0, 120))).isoformat()
            confirmed_by = rng.choice(coordinators)
        verified = None
        if rng.random() < 0.85:
            verified = (today - dt.timedelta(days=rng.randint(0, 3 * 365))).isoformat()
        retired_at = ts_text(updated) if rng.random() < 0.03 else None
        age_min, age_max = ages
        phone = f"0{rng.randint(11, 99)}-00-{rng.randint(0, 9999):04d}"
        search = normalize_for_search(" ".join([name, provider, description, address, cat_name, muni_name]))
        resources.append((
            rid, f"scale-{i + 1:06d}" if rng.random() < 0.5 else None, cat_id, provider, name, description, muni,
            f"{rng.randint(0, 999):03d}-{rng.randint(0, 9999):04d}", address, phone,
            phone if rng.random() < 0.6 else "", "", "", HOURS.get(code, "平日 9:00〜17:00"),
            age_min, age_max, "", "", "定員 {}名".format(rng.randint(1, 20)) if rng.random() < 0.3 else "",
            availability, confirmed_on, confirmed_by,
            rng.choice(INTERNAL_NOTES) if rng.random() < 0.2 else "",
            f"0{rng.randint(11, 99)}-00-{rng.randint(0, 9999):04d}" if rng.random() < 0.1 else "",
            0 if rng.random() < 0.08 else 1, verified, search, retired_at, ts_text(created), ts_text(updated),
        ))
        # Service area: the whole 圏域 for some local resources, else the municipality and neighbours.
        served = {muni}
        if local and muni in refs.area_of and rng.random() < 0.4:
            served.update(refs.areas[refs.area_of[muni]])
        else:
            same = refs.by_pref[pref]
            j = same.index(muni)
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                served.add(same[max(0, min(len(same) - 1, j + rng.randint(-3, 3)))])
        for m in sorted(served):
            areas.append((rid, m))
        for c in chosen:
            note = "夜間は要相談" if rng.random() < 0.1 else ""
            cares.append((rid, c, note))
        if local and retired_at is None:
            local_ids.append(rid)
    return resources, areas, cares, local_ids


# ---------------------------------------------------------------------------------------------
# Consultations


def working_days(first, last):
    d, out = first, []
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def gen_consultations(rng, refs, n, years, today, now, resource_ids, sink_consultations):
    """Streams consultation rows into `sink_consultations` (a generator consumer); returns the child
    rows and the counters."""
    first = today.replace(year=today.year - years) + dt.timedelta(days=1)
    days = working_days(first, today)
    instants = []
    for _ in range(n):
        d = rng.choice(days)
        t = dt.datetime(d.year, d.month, d.day, rng.randint(9, 16), rng.randint(0, 59), rng.randint(0, 59), tzinfo=JST)
        if t > now:
            t = now - dt.timedelta(minutes=rng.randint(5, 120))
        instants.append(t)
    instants.sort()
    coordinator = refs.staff["center_coordinator"][0]
    pref_officer = (refs.staff.get("prefecture_officer") or [None])[0]
    local_weighted = list(zip(refs.local, refs.local_weights))
    counters = dict(refs.counters)
    children = {"topics": [], "care": [], "pairs": [], "entries": [], "resources": [], "referrals": []}

    def rows():
        for at in instants:
            on = at.astimezone(JST).date()
            fy = fiscal_year(on)
            counters[fy] = counters.get(fy, 0) + 1
            rno = receipt_no(fy, counters[fy])
            age_days = (today - on).days
            cid = uuid7(rng, ms_of(at))
            requester = weighted(rng, REQUESTERS)
            r = rng.random()
            muni = None if r < 0.07 else (rng.choice(refs.others) if r < 0.09 else weighted(rng, local_weighted))
            topics = []
            for _ in range(1 + weighted(rng, [(0, 55), (1, 35), (2, 10)])):
                t = weighted(rng, TOPIC_WEIGHTS)
                if t not in topics:
                    topics.append(t)
            topics.sort(key=TOPIC_ORDER.index)
            cares = []
            for _ in range(weighted(rng, [(0, 15), (1, 45), (2, 30), (3, 10)])):
                c = weighted(rng, refs.care_weighted)
                if c not in cares:
                    cares.append(c)
            question, advice = rng.choice(TEXTS[topics[0]])
            detail = rng.choice(QUESTION_DETAILS)
            if detail:
                question = question + detail
            name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
            muni_name = refs.munis[muni][0] if muni else ""
            organisation = {
                "municipality": f"{muni_name} 障がい福祉担当" if muni else "",
                "coordinator": "相談支援事業所（スケール）",
                "medical": "小児科病棟（スケール）",
                "school": "保育所・学校（スケール）",
                "provider": "訪問看護ステーション（スケール）",
            }.get(requester, "")
            follow_up = None
            if age_days > 60:
                if rng.random() < 0.97:
                    status = "closed"
                else:
                    status = "awaiting_follow_up"
                    follow_up = (today + dt.timedelta(days=rng.randint(-10, 19))).isoformat()
            else:
                status = weighted(rng, [("received", 8), ("in_progress", 37), ("awaiting_follow_up", 25), ("closed", 30)])
                if status == "in_progress" and rng.random() < 0.4:
                    follow_up = (today + dt.timedelta(days=rng.randint(-5, 15))).isoformat()
                elif status == "awaiting_follow_up":
                    follow_up = (on + dt.timedelta(days=rng.randint(7, 46))).isoformat()
            handled = weighted(rng, [(coordinator, 80), (pref_officer, 12), (None, 8)])
            if status == "received":
                handled = None
            source = "public_form" if status == "received" and rng.random() < 0.3 else "desk"
            consent = requester == "family" and rng.random() < 0.45
            if status == "received":
                advice = ""
            if not (requester == "family" or rng.random() < 0.5):
                name = ""
            at_text = ts_text(at)
            search = normalize_for_search(" ".join([rno, name, organisation, question, advice]))
            yield (
                cid, rno, fy, at_text, on.isoformat(), weighted(rng, CHANNELS), requester, name,
                f"090-0000-{rng.randint(0, 9999):04d}", organisation, muni, weighted(rng, AGE_BANDS),
                question, advice, follow_up, 10 + 5 * rng.randint(0, 16) if rng.random() < 0.9 else None,
                handled, status, source, 1 if consent else 0, on.isoformat() if consent else None,
                ("oral_phone" if rng.random() < 0.7 else "written") if consent else "", search,
                (handled or coordinator) if source == "desk" else None, at_text, at_text,
            )
            # The consultation's date, municipality, status and 担当者 go with its codes (migration 10).
            for t in topics:
                children["topics"].append((cid, t, at_text, muni, status, handled))
            for c in cares:
                children["care"].append((cid, c, at_text, muni, status, handled))
            for t in topics:
                for c in cares:
                    children["pairs"].append((cid, t, c, at_text, muni, status, handled))
            if status == "received":
                continue
            if rng.random() < 0.25:
                when = at
                for _ in range(1 + rng.randint(0, 2)):
                    when = when + dt.timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 300))
                    if when > now:
                        break
                    children["entries"].append((uuid7(rng, ms_of(when)), cid, ts_text(when), handled, rng.choice(ENTRY_TEXTS)))
            if resource_ids and rng.random() < 0.2:
                picked = {rng.choice(resource_ids) for _ in range(rng.randint(1, 2))}
                for rid in sorted(picked):
                    children["resources"].append((cid, rid))
            office = refs.offices.get(muni) if muni else None
            if office and rng.random() < 0.12:
                sent = at + dt.timedelta(days=rng.randint(0, 2), minutes=rng.randint(30, 300))
                if sent < now:
                    days_since = (now - sent).days
                    if days_since > 14:
                        st = weighted(rng, [("closed", 70), ("acknowledged", 20), ("sent", 10)])
                    else:
                        st = weighted(rng, [("sent", 40), ("acknowledged", 50), ("closed", 10)])
                    ack = min(sent + dt.timedelta(hours=rng.randint(1, 48)), now)
                    done = min(ack + dt.timedelta(days=rng.randint(1, 10)), now)
                    children["referrals"].append((
                        uuid7(rng, ms_of(sent)), cid, office, REFERRAL_NOTE, 1 if consent else 0, st, ts_text(sent),
                        handled or coordinator, ts_text(ack) if st != "sent" else None,
                        rng.choice(OUTCOMES) if st == "closed" else "", ts_text(done) if st == "closed" else None,
                    ))

    count = sink_consultations(rows())
    return count, children, counters


# ---------------------------------------------------------------------------------------------
# Checking the port of normalize_for_search against what the application wrote


def check_normalisation(db):
    bad = 0
    rows = db.query(
        "SELECT r.name, r.provider_name, r.description, r.address, c.name, COALESCE(m.name, ''), r.search_text "
        "FROM resources r JOIN resource_categories c ON c.id = r.category_id "
        "LEFT JOIN municipalities m ON m.code6 = r.municipality_code6 WHERE r.external_id IS NULL OR r.external_id NOT LIKE 'scale-%'"
    )
    for *parts, stored in rows:
        parts = [p or "" for p in parts]
        got = normalize_for_search(" ".join(p.strip() for p in parts))
        if got != (stored or ""):
            bad += 1
            if bad <= 5:
                log(f"resource key differs:\n  app:    {stored!r}\n  python: {got!r}")
    crow = db.query(
        "SELECT receipt_no, requester_name, requester_organisation, question, advice, search_text FROM consultations "
        "WHERE requester_organisation NOT LIKE '%スケール%'"
    )
    for *parts, stored in crow:
        got = normalize_for_search(" ".join(p or "" for p in parts))
        if got != (stored or ""):
            bad += 1
            if bad <= 10:
                log(f"consultation key differs:\n  app:    {stored!r}\n  python: {got!r}")
    log(f"normalisation check: {len(rows)} resource and {len(crow)} consultation keys written by the application, {bad} differ")
    return bad == 0 and (len(rows) + len(crow)) > 0


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True, help="sqlite://PATH, a bare .sqlite3 path, or postgres://…")
    ap.add_argument("--resources", type=int, default=50_000, help="resources to add (default 50000)")
    ap.add_argument("--consultations", type=int, default=200_000, help="consultations to add (default 200000)")
    ap.add_argument("--years", type=int, default=10, help="consultations are spread over this many years up to now")
    ap.add_argument("--prefecture", default="03", help="the deployment's prefecture code (default 03, Iwate)")
    ap.add_argument("--local-share", type=float, default=0.3,
                    help="share of resources located in the prefecture; the rest across the country (default 0.3)")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--today", help="JST date to count back from (default: today in Japan)")
    ap.add_argument("--analyze", choices=["auto", "yes", "no"], default="auto",
                    help="update planner statistics after loading: auto = PostgreSQL yes (autovacuum would soon), "
                         "SQLite no (the application never runs ANALYZE, so a production file has none)")
    ap.add_argument("--check-normalisation", action="store_true",
                    help="only compare textnorm.py with the search keys the application wrote, and exit")
    a = ap.parse_args()

    db = open_db(a.database_url)
    if a.check_normalisation:
        sys.exit(0 if check_normalisation(db) else 1)

    now = dt.datetime.now(dt.timezone.utc)
    if a.today:
        today = dt.date.fromisoformat(a.today)
        now = dt.datetime(today.year, today.month, today.day, 18, 0, tzinfo=JST)
    else:
        today = now.astimezone(JST).date()
    rng = random.Random(a.seed)
    refs = Refs(db, a.prefecture)
    log(f"{db.kind}: {len(refs.munis)} municipalities ({len(refs.local)} in prefecture {a.prefecture}), "
        f"{len(refs.areas)} areas, {len(refs.care)} care types, {sum(len(v) for v in refs.staff.values())} staff, "
        f"{len(refs.offices)} municipal offices; counters {refs.counters}")

    t0 = time.time()
    resources, areas, cares, local_ids = gen_resources(rng, refs, a.resources, a.local_share, today, now)
    log(f"generated {len(resources)} resources, {len(areas)} service-area rows, {len(cares)} care rows "
        f"({time.time() - t0:.1f} s)")

    db.begin()
    db.copy("resources", RESOURCE_COLUMNS, resources)
    db.copy("resource_service_areas", ["resource_id", "municipality_code6"], areas)
    db.copy("resource_care_types", ["resource_id", "care_type_code", "note"], cares)
    del resources, areas, cares
    t1 = time.time()
    n, children, counters = gen_consultations(
        rng, refs, a.consultations, a.years, today, now, local_ids,
        lambda rows: db.copy("consultations", CONSULTATION_COLUMNS, rows),
    )
    log(f"generated {n} consultations, {len(children['topics'])} topics, {len(children['care'])} care rows, "
        f"{len(children['entries'])} entries, {len(children['resources'])} introduced resources, "
        f"{len(children['referrals'])} referrals ({time.time() - t1:.1f} s)")
    db.copy("consultation_topics", ["consultation_id", "topic", "received_at", "child_municipality_code6", "status", "handled_by"],
            children["topics"])
    db.copy("consultation_care_types", ["consultation_id", "care_type_code", "received_at", "child_municipality_code6", "status", "handled_by"],
            children["care"])
    db.copy("consultation_topic_care_types",
            ["consultation_id", "topic", "care_type_code", "received_at", "child_municipality_code6", "status", "handled_by"],
            children["pairs"])
    db.copy("consultation_entries", ["id", "consultation_id", "at", "author_id", "body"], children["entries"])
    db.copy("consultation_resources", ["consultation_id", "resource_id"], children["resources"])
    db.copy("referrals", REFERRAL_COLUMNS, children["referrals"])
    for fy, last in sorted(counters.items()):
        db.execute(
            "INSERT INTO consultation_counters (fiscal_year, last_number) VALUES ($1, $2) "
            "ON CONFLICT (fiscal_year) DO UPDATE SET last_number = excluded.last_number",
            (fy, last),
        )
    db.commit()
    log(f"committed ({time.time() - t0:.1f} s in all); 年度 counters now {dict(sorted(counters.items()))}")
    if a.analyze == "yes" or (a.analyze == "auto" and db.kind == "postgres"):
        db.analyze()
        log("planner statistics updated (ANALYZE)")
    db.close()


if __name__ == "__main__":
    main()

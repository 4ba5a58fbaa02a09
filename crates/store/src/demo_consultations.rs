//! Demo consultations (相談記録のデモデータ): a year of invented consultations, so that the
//! lists, searches and (later) statistics show something real. Deterministic: the same pseudo-
//! random sequence every time, relative to the day the demo is loaded.
//!
//! Mixes are plausible, not measured: phone calls dominate, families ask most, municipalities
//! are weighted by population, and most consultations older than two months are closed. Some
//! have a timeline, some were referred to their municipal office (with and without consent,
//! some acknowledged with an outcome), some introduce resources from the demo directory, and a
//! few public requests wait in 受付. Every name and contact is invented.

use std::collections::BTreeMap;

use sqlx::Row;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};
use tsunagu_domain::consultation::{self as rules, Code, Status, Topic};
use tsunagu_domain::text::normalize_for_search;
use tsunagu_domain::wareki::{JST, fiscal_year, today_jst};

use crate::audit::{self, AuditCtx, Event};
use crate::demo_rng::Lcg;
use crate::search_index::{self, Indexed};
use crate::{Result, Tx, clock, new_id};

/// How many desk consultations the demo year holds.
pub const DEMO_CONSULTATIONS: usize = 360;
/// Public requests waiting in 受付.
const DEMO_PUBLIC_REQUESTS: usize = 4;

/// Approximate populations (thousands) of Iwate's municipalities, to weight where demo
/// consultations come from. Other prefectures get equal weights.
const IWATE_POPULATION: &[(&str, u64)] = &[
    ("盛岡市", 285),
    ("宮古市", 48),
    ("大船渡市", 34),
    ("花巻市", 93),
    ("北上市", 92),
    ("久慈市", 33),
    ("遠野市", 25),
    ("一関市", 111),
    ("陸前高田市", 18),
    ("釜石市", 30),
    ("二戸市", 25),
    ("八幡平市", 24),
    ("奥州市", 112),
    ("滝沢市", 55),
    ("雫石町", 15),
    ("葛巻町", 6),
    ("岩手町", 12),
    ("紫波町", 32),
    ("矢巾町", 27),
    ("西和賀町", 5),
    ("金ケ崎町", 15),
    ("平泉町", 7),
    ("住田町", 5),
    ("大槌町", 11),
    ("山田町", 14),
    ("岩泉町", 9),
    ("田野畑村", 3),
    ("普代村", 3),
    ("軽米町", 9),
    ("野田村", 4),
    ("九戸村", 5),
    ("洋野町", 15),
    ("一戸町", 11),
];

/// (code, weight) of each list.
const CHANNELS: &[(&str, u64)] = &[
    ("phone", 55),
    ("visit", 10),
    ("home_visit", 8),
    ("email", 12),
    ("online", 10),
    ("other", 5),
];
const REQUESTERS: &[(&str, u64)] = &[
    ("family", 45),
    ("municipality", 15),
    ("coordinator", 15),
    ("medical", 10),
    ("school", 8),
    ("provider", 5),
    ("other", 2),
];
const AGE_BANDS: &[(&str, u64)] = &[
    ("0-2", 25),
    ("3-5", 24),
    ("6-11", 25),
    ("12-14", 10),
    ("15-17", 8),
    ("18-19", 4),
    ("20+", 2),
    ("unknown", 2),
];
const CARE: &[(&str, u64)] = &[
    ("suction", 25),
    ("tube_feeding", 25),
    ("oxygen", 15),
    ("tracheostomy", 15),
    ("ventilator", 12),
    ("seizure", 8),
    ("nebulizer", 5),
    ("feeding_pump", 5),
    ("intermittent_catheterisation", 5),
    ("blood_glucose", 3),
    ("central_venous", 3),
    ("ostomy", 2),
];

/// Questions and the advice given, by topic, as coordinators would write them.
const TEXTS: &[(&str, &[(&str, &str)])] = &[
    (
        "medical",
        &[
            (
                "人工呼吸器を使っている子のショートステイ（短期入所）先を探している。家族の休息のため月に数日預けたい。",
                "医療型短期入所を実施している事業所を紹介し、空き状況の確認方法と受給者証の申請先を説明した。",
            ),
            (
                "NICUを退院予定。在宅での吸引と経管栄養に不安があり、訪問看護を利用したい。",
                "小児に対応する訪問看護ステーションを紹介。退院前カンファレンスへの参加を病院に依頼するよう助言した。",
            ),
            (
                "気管切開の子のカニューレ交換を近くの医療機関で受けられないか。",
                "在宅医療に対応する医療機関を紹介し、主治医から紹介状を出してもらうよう助言した。",
            ),
        ],
    ),
    (
        "welfare",
        &[
            (
                "吸引に対応できる放課後等デイサービスを知りたい。",
                "看護師が配置されている放課後等デイサービスを紹介し、見学の申込み方法を伝えた。",
            ),
            (
                "児童発達支援を利用したいが、胃ろうからの注入に対応してもらえるか不安。",
                "医療的ケアに対応する児童発達支援事業所を紹介。相談支援専門員と一緒に見学することを勧めた。",
            ),
            (
                "居宅介護（ホームヘルプ）で入浴の介助を頼めるか。",
                "居宅介護の支給申請の流れを説明し、市町村の障がい福祉の窓口につないだ。",
            ),
        ],
    ),
    (
        "childcare_education",
        &[
            (
                "来年度、保育所に入所させたい。経管栄養があっても受け入れてもらえるか。",
                "市町村の保育担当に看護師配置の状況を確認するよう助言し、受入れ実績のある園の情報を伝えた。",
            ),
            (
                "小学校入学にあたり、学校での導尿を誰が行うのか知りたい。",
                "教育委員会の就学相談と学校看護師の配置について説明し、早めの相談を勧めた。",
            ),
        ],
    ),
    (
        "work_family",
        &[
            (
                "母親の復職を考えている。医療的ケアのある子を預けられる先がなく困っている。",
                "日中一時支援と医療型短期入所の利用を提案し、きょうだい児の預け先も含めて整理した。",
            ),
            (
                "きょうだい児の行事の日だけ見守りを頼める先がほしい。",
                "レスパイト目的で使える訪問看護の長時間利用と、家族会の情報を伝えた。",
            ),
        ],
    ),
    (
        "disaster",
        &[
            (
                "停電のとき人工呼吸器と吸引器のバッテリーが何時間もつか不安。",
                "外部バッテリーと発電機の準備、電力会社への登録、個別避難計画の作成を市町村に相談するよう助言した。",
            ),
            (
                "災害時の避難先として病院に行けるのか知りたい。",
                "市町村の個別避難計画の担当につなぎ、福祉避難所と医療機関の役割を説明した。",
            ),
        ],
    ),
    (
        "financial",
        &[
            (
                "医療費の助成と特別児童扶養手当の手続きを知りたい。",
                "小児慢性特定疾病医療費助成と手当の申請窓口を説明した。",
            ),
            (
                "吸引器やパルスオキシメーターの購入に補助はあるか。",
                "日常生活用具給付事業の対象品目と申請先（市町村）を案内した。",
            ),
        ],
    ),
    (
        "procedures",
        &[
            (
                "障害福祉サービスの受給者証の申請方法が分からない。",
                "市町村の窓口での申請の流れと、相談支援事業所によるサービス等利用計画の作成を説明した。",
            ),
            (
                "医療的ケア判定スコアの書類は誰に書いてもらうのか。",
                "主治医に判定スコア表の記入を依頼するよう伝え、市町村の窓口を案内した。",
            ),
        ],
    ),
    (
        "transition",
        &[(
            "18歳を過ぎたあとの医療と福祉サービスがどう変わるのか知りたい。",
            "成人期の医療機関への移行と、生活介護などの障害福祉サービスについて説明した。",
        )],
    ),
    (
        "other",
        &[(
            "同じような子どもを育てている家族と話したい。",
            "家族交流会の日程と、地域の家族会の連絡先を伝えた。",
        )],
    ),
];

const TOPIC_WEIGHTS: &[(&str, u64)] = &[
    ("medical", 30),
    ("welfare", 30),
    ("childcare_education", 18),
    ("work_family", 10),
    ("disaster", 8),
    ("financial", 10),
    ("procedures", 15),
    ("transition", 5),
    ("other", 4),
];

const SURNAMES: &[&str] = &[
    "佐藤",
    "高橋",
    "千葉",
    "佐々木",
    "菊池",
    "及川",
    "阿部",
    "鈴木",
    "小野寺",
    "伊藤",
    "吉田",
    "工藤",
    "村上",
    "藤原",
    "熊谷",
];
const GIVEN: &[&str] = &[
    "花子", "由美", "恵", "直子", "真理", "陽子", "健一", "誠", "大輔", "翔太", "愛", "美咲",
];

const ENTRY_TEXTS: &[&str] = &[
    "家族に電話で状況を確認した。紹介した事業所へ見学の予約が取れたとのこと。",
    "事業所から受入れ可能との連絡あり。家族へ伝えた。",
    "市町村の担当者と情報を共有した。次回の支援会議で検討予定。",
    "受給者証の申請が済んだと家族から連絡があった。",
    "主治医の意見書の準備に時間がかかるため、来月に再度確認する。",
    "見学の結果、利用を開始することになった。",
];

const OUTCOMES: &[&str] = &[
    "家族に連絡し、障害福祉サービスの申請を受け付けた。",
    "保健師が家庭訪問を行い、今後の支援について確認した。",
    "個別避難計画の作成に着手した。",
    "保育所の入所調整を開始した。",
    "相談支援事業所につなぎ、サービス等利用計画の作成を依頼した。",
];

struct Planned {
    at: OffsetDateTime,
    on: Date,
    channel: &'static str,
    requester_type: &'static str,
    name: String,
    contact: String,
    organisation: String,
    municipality: Option<(String, String)>,
    age_band: &'static str,
    topics: Vec<&'static str>,
    care: Vec<String>,
    question: String,
    advice: String,
    status: &'static str,
    follow_up_on: Option<Date>,
    minutes: Option<i64>,
    handled_by: Option<String>,
    source: &'static str,
    consent: Option<(Date, &'static str)>,
}

fn weighted_code(rng: &mut Lcg, list: &[(&'static str, u64)]) -> &'static str {
    let weights: Vec<u64> = list.iter().map(|(_, w)| *w).collect();
    list[rng.weighted(&weights)].0
}

fn at_on(date: Date, hour: u8, minute: u8) -> OffsetDateTime {
    let time = Time::from_hms(hour, minute, 0).unwrap_or(Time::MIDNIGHT);
    PrimitiveDateTime::new(date, time).assume_offset(JST)
}

/// Loads the demo consultations inside the demo's transaction. Returns how many it created.
pub async fn load(tx: &mut Tx, ctx: &AuditCtx, prefecture_code: &str) -> Result<usize> {
    let mut munis: Vec<(String, String)> = Vec::new();
    for r in sqlx::query(
        "SELECT code6, name FROM municipalities WHERE prefecture_code = $1 AND kind = 'municipality' AND retired_on IS NULL ORDER BY code6",
    )
    .bind(prefecture_code)
    .fetch_all(tx.conn())
    .await?
    {
        munis.push((r.try_get("code6")?, r.try_get("name")?));
    }
    if munis.is_empty() {
        return Ok(0);
    }
    let weights: Vec<u64> = munis
        .iter()
        .map(|(_, name)| {
            IWATE_POPULATION
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| *p)
                .unwrap_or(10)
        })
        .collect();
    let care_codes: Vec<String> =
        sqlx::query_scalar("SELECT code FROM care_types WHERE retired_at IS NULL")
            .fetch_all(tx.conn())
            .await?;
    let care: Vec<(&'static str, u64)> = CARE
        .iter()
        .copied()
        .filter(|(c, _)| care_codes.iter().any(|k| k == c))
        .collect();
    let coordinator: Option<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE login_id = 'coordinator'")
            .fetch_optional(tx.conn())
            .await?;
    let pref: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE login_id = 'pref'")
        .fetch_optional(tx.conn())
        .await?;
    let mut offices: BTreeMap<String, String> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT id, municipality_code6 FROM organisations WHERE kind = 'municipal_office' AND retired_at IS NULL AND municipality_code6 IS NOT NULL",
    )
    .fetch_all(tx.conn())
    .await?
    {
        offices.insert(r.try_get("municipality_code6")?, r.try_get("id")?);
    }
    let resource_ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM resources WHERE retired_at IS NULL ORDER BY id")
            .fetch_all(tx.conn())
            .await?;

    let now = clock::now();
    let today = today_jst(now);
    let mut rng = Lcg(0x7473_756e_6167_7521);
    let mut planned: Vec<Planned> = Vec::with_capacity(DEMO_CONSULTATIONS + DEMO_PUBLIC_REQUESTS);

    for _ in 0..DEMO_CONSULTATIONS {
        // A working day within the last year; today only in the morning hours already past.
        let mut on = today - Duration::days(rng.below(365) as i64);
        while matches!(
            on.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            on = on.previous_day().unwrap_or(on);
        }
        let mut at = at_on(on, 9 + rng.below(8) as u8, (rng.below(12) * 5) as u8);
        if at > now {
            at = now - Duration::minutes(30 + rng.below(120) as i64);
        }
        let on = rules::jst_date(at);
        let age_days = (today - on).whole_days();
        let requester_type = weighted_code(&mut rng, REQUESTERS);
        let muni_index = if rng.chance(7) {
            None
        } else {
            Some(rng.weighted(&weights))
        };
        let municipality = muni_index.map(|i| munis[i].clone());
        let mut topics: Vec<&'static str> = Vec::new();
        for _ in 0..(1 + rng.weighted(&[55, 35, 10])) {
            let t = weighted_code(&mut rng, TOPIC_WEIGHTS);
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        topics.sort_by_key(|t| {
            Topic::from_code(t)
                .and_then(|x| Topic::ALL.iter().position(|y| *y == x))
                .unwrap_or(usize::MAX)
        });
        let mut cares: Vec<String> = Vec::new();
        if !care.is_empty() {
            for _ in 0..rng.weighted(&[15, 45, 30, 10]) {
                let c = weighted_code(&mut rng, &care).to_string();
                if !cares.contains(&c) {
                    cares.push(c);
                }
            }
        }
        let texts = TEXTS
            .iter()
            .find(|(t, _)| *t == topics[0])
            .map(|(_, v)| *v)
            .unwrap_or(TEXTS[0].1);
        let (question, advice) = *rng.pick(texts);
        let name = format!("{} {}", rng.pick(SURNAMES), rng.pick(GIVEN));
        let contact = format!("090-0000-{:04}", rng.below(10_000));
        let organisation = match (requester_type, &municipality) {
            ("municipality", Some((_, m))) => format!("{m} 障がい福祉担当"),
            ("coordinator", _) => "相談支援事業所（デモ）".to_string(),
            ("medical", _) => "小児科病棟（デモ）".to_string(),
            ("school", _) => "保育所・学校（デモ）".to_string(),
            ("provider", _) => "訪問看護ステーション（デモ）".to_string(),
            _ => String::new(),
        };
        let (status, follow_up_on) = if age_days > 60 {
            if rng.chance(93) {
                (Status::Closed, None)
            } else {
                (
                    Status::AwaitingFollowUp,
                    Some(today + Duration::days(rng.below(30) as i64 - 10)),
                )
            }
        } else {
            match rng.weighted(&[8, 37, 25, 30]) {
                0 => (Status::Received, None),
                1 => (
                    Status::InProgress,
                    rng.chance(40)
                        .then(|| today + Duration::days(rng.below(21) as i64 - 5)),
                ),
                2 => (
                    Status::AwaitingFollowUp,
                    Some(on + Duration::days(7 + rng.below(40) as i64)),
                ),
                _ => (Status::Closed, None),
            }
        };
        let handled_by = match rng.weighted(&[80, 12, 8]) {
            0 => coordinator.clone(),
            1 => pref.clone(),
            _ => None,
        }
        .filter(|_| status != Status::Received);
        let consent = (requester_type == "family" && rng.chance(45)).then(|| {
            (
                on,
                if rng.chance(70) {
                    "oral_phone"
                } else {
                    "written"
                },
            )
        });
        planned.push(Planned {
            at,
            on,
            channel: weighted_code(&mut rng, CHANNELS),
            requester_type,
            name: if requester_type == "family" || rng.chance(50) {
                name
            } else {
                String::new()
            },
            contact,
            organisation,
            municipality,
            age_band: weighted_code(&mut rng, AGE_BANDS),
            topics,
            care: cares,
            question: question.to_string(),
            advice: if status == Status::Received {
                String::new()
            } else {
                advice.to_string()
            },
            status: status.code(),
            follow_up_on,
            minutes: Some(10 + (rng.below(17) * 5) as i64),
            handled_by,
            source: "desk",
            consent,
        });
    }
    for i in 0..DEMO_PUBLIC_REQUESTS {
        let at = now - Duration::hours(3 + (i as i64) * 19);
        let muni = munis[rng.weighted(&weights)].clone();
        planned.push(Planned {
            at,
            on: rules::jst_date(at),
            channel: "online",
            requester_type: "family",
            name: format!("{} {}", rng.pick(SURNAMES), rng.pick(GIVEN)),
            contact: format!("090-0000-{:04}", rng.below(10_000)),
            organisation: String::new(),
            municipality: Some(muni),
            age_band: "unknown",
            topics: Vec::new(),
            care: Vec::new(),
            question: [
                "子どもが胃ろうを造設して退院しました。通える保育所があるか相談したいです。",
                "夜間の吸引で家族が眠れません。訪問看護を増やせるのか知りたいです。",
                "停電に備えて何を準備すればよいか教えてください。",
                "4月から小学校に入学します。学校でのケアについて相談したいです。",
            ][i % 4]
                .to_string(),
            advice: String::new(),
            status: Status::Received.code(),
            follow_up_on: None,
            minutes: None,
            handled_by: None,
            source: "public_form",
            consent: None,
        });
    }
    planned.sort_by_key(|p| p.at);

    let mut counters: BTreeMap<i32, i64> = BTreeMap::new();
    let mut referrals = 0usize;
    let mut entries = 0usize;
    for p in &planned {
        let fy = fiscal_year(p.on);
        let n = counters.entry(fy).or_insert(0);
        *n += 1;
        let receipt_no = rules::format_receipt_no(fy, *n);
        let id = new_id();
        let at_text = clock::format(p.at);
        let search = normalize_for_search(
            &[
                receipt_no.as_str(),
                &p.name,
                &p.organisation,
                &p.question,
                &p.advice,
            ]
            .join(" "),
        );
        sqlx::query(
            "INSERT INTO consultations (id, receipt_no, fiscal_year, received_at, received_on, channel, requester_type,
                requester_name, requester_contact, requester_organisation, child_municipality_code6, child_age_band,
                question, advice, follow_up_on, minutes_spent, handled_by, status, source, consent_given, consent_on,
                consent_method, search_text, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $25)",
        )
        .bind(&id)
        .bind(&receipt_no)
        .bind(i64::from(fy))
        .bind(&at_text)
        .bind(p.on.to_string())
        .bind(p.channel)
        .bind(p.requester_type)
        .bind(&p.name)
        .bind(&p.contact)
        .bind(&p.organisation)
        .bind(p.municipality.as_ref().map(|(c, _)| c.clone()))
        .bind(p.age_band)
        .bind(&p.question)
        .bind(&p.advice)
        .bind(p.follow_up_on.map(|d| d.to_string()))
        .bind(p.minutes)
        .bind(p.handled_by.clone())
        .bind(p.status)
        .bind(p.source)
        .bind(i64::from(p.consent.is_some()))
        .bind(p.consent.map(|(d, _)| d.to_string()))
        .bind(p.consent.map(|(_, m)| m).unwrap_or(""))
        .bind(&search)
        .bind(if p.source == "desk" {
            p.handled_by.clone().or_else(|| coordinator.clone())
        } else {
            None
        })
        .bind(&at_text)
        .execute(tx.conn())
        .await?;
        search_index::store(tx, Indexed::Consultations, &id, &search).await?;
        crate::consultations::set_codes(tx, &id, &p.topics, &p.care).await?;
        if p.source != "desk" {
            continue;
        }
        // A timeline for some.
        if p.status != Status::Received.code() && rng.chance(35) {
            let mut when = p.at;
            for _ in 0..(1 + rng.below(3)) {
                when += Duration::days(1 + rng.below(14) as i64)
                    + Duration::minutes(rng.below(300) as i64);
                if when > now {
                    break;
                }
                sqlx::query(
                    "INSERT INTO consultation_entries (id, consultation_id, at, author_id, body) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(new_id())
                .bind(&id)
                .bind(clock::format(when))
                .bind(p.handled_by.clone())
                .bind(*rng.pick(ENTRY_TEXTS))
                .execute(tx.conn())
                .await?;
                entries += 1;
            }
        }
        // Resources introduced, when the demo directory has some.
        if !resource_ids.is_empty() && p.status != Status::Received.code() && rng.chance(30) {
            let mut chosen: Vec<&String> = Vec::new();
            for _ in 0..(1 + rng.below(2)) {
                let r = rng.pick(&resource_ids);
                if !chosen.contains(&r) {
                    chosen.push(r);
                }
            }
            for r in chosen {
                sqlx::query(
                    "INSERT INTO consultation_resources (consultation_id, resource_id) VALUES ($1, $2)",
                )
                .bind(&id)
                .bind(r)
                .execute(tx.conn())
                .await?;
            }
        }
        // A referral to the municipal office of the child's municipality for some.
        let office = p
            .municipality
            .as_ref()
            .and_then(|(code, _)| offices.get(code));
        if let Some(office) = office
            && p.status != Status::Received.code()
            && rng.chance(16)
        {
            // Sent during working hours, the same day or within the next two days.
            let sent_on = p.on + Duration::days(rng.below(3) as i64);
            let sent = at_on(sent_on, 9 + rng.below(8) as u8, (rng.below(12) * 5) as u8)
                .max(p.at + Duration::minutes(30));
            if sent < now {
                let days = (now - sent).whole_days();
                let (status, ack, outcome) = if days > 14 {
                    match rng.weighted(&[70, 20, 10]) {
                        0 => ("closed", true, true),
                        1 => ("acknowledged", true, false),
                        _ => ("sent", false, false),
                    }
                } else {
                    match rng.weighted(&[40, 50, 10]) {
                        0 => ("sent", false, false),
                        1 => ("acknowledged", true, false),
                        _ => ("closed", true, true),
                    }
                };
                let ack_at = (sent + Duration::hours(1 + rng.below(48) as i64)).min(now);
                let outcome_at = (ack_at + Duration::days(1 + rng.below(10) as i64)).min(now);
                sqlx::query(
                    "INSERT INTO referrals (id, consultation_id, to_organisation_id, note, with_personal_details, status, sent_at, sent_by,
                        acknowledged_at, outcome, outcome_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(new_id())
                .bind(&id)
                .bind(office)
                .bind("ご家族の了解のもと、地域での継続的な支援をお願いします。これまでの経過は概要のとおりです。")
                .bind(i64::from(rules::referral_carries_personal_details(p.consent.is_some())))
                .bind(status)
                .bind(clock::format(sent))
                .bind(p.handled_by.clone().or_else(|| coordinator.clone()))
                .bind(ack.then(|| clock::format(ack_at)))
                .bind(if outcome { *rng.pick(OUTCOMES) } else { "" })
                .bind(outcome.then(|| clock::format(outcome_at)))
                .execute(tx.conn())
                .await?;
                referrals += 1;
            }
        }
    }
    for (fy, n) in &counters {
        sqlx::query(
            "INSERT INTO consultation_counters (fiscal_year, last_number) VALUES ($1, $2)
             ON CONFLICT (fiscal_year) DO UPDATE SET last_number = $2",
        )
        .bind(i64::from(*fy))
        .bind(*n)
        .execute(tx.conn())
        .await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new("consultation.demo_load", "consultation", "").detail(format!(
            "demo: {} consultations ({} public requests), {} timeline entries, {} referrals",
            planned.len(),
            DEMO_PUBLIC_REQUESTS,
            entries,
            referrals
        )),
    )
    .await?;
    Ok(planned.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_weighted() {
        let mut a = Lcg(1);
        let mut b = Lcg(1);
        for _ in 0..100 {
            assert_eq!(a.next(), b.next());
        }
        let mut rng = Lcg(42);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[rng.weighted(&[90, 10])] += 1;
        }
        assert!(counts[0] > 8_500 && counts[1] > 700, "{counts:?}");
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn every_demo_code_is_a_known_code() {
        for (c, _) in CHANNELS {
            assert!(rules::Channel::from_code(c).is_some(), "{c}");
        }
        for (c, _) in REQUESTERS {
            assert!(rules::RequesterType::from_code(c).is_some(), "{c}");
        }
        for (c, _) in AGE_BANDS {
            assert!(rules::AgeBand::from_code(c).is_some(), "{c}");
        }
        for (c, _) in TOPIC_WEIGHTS {
            assert!(Topic::from_code(c).is_some(), "{c}");
            assert!(TEXTS.iter().any(|(t, _)| t == c), "texts for {c}");
        }
        for (c, _) in CARE {
            assert!(
                tsunagu_domain::care::SEED.iter().any(|s| s.code == *c),
                "{c}"
            );
        }
    }
}

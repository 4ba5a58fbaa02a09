//! Consultation statistics: counts for a 年度 by month, topic, requester, channel, area,
//! municipality and care type, as a page, an xlsx workbook and CSV; bad dates; who may see them.
//!
//! The consultations are inserted straight into the database in 平成22年度 and 平成23年度
//! (2010–2011), years the demo data never reaches, so the counts are exact.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use crate::both;
use crate::support::*;

/// One consultation to insert.
struct Seed {
    on: &'static str,
    channel: &'static str,
    requester: &'static str,
    municipality: Option<&'static str>,
    age: &'static str,
    minutes: Option<i64>,
    status: &'static str,
    topics: &'static [&'static str],
    care: &'static [&'static str],
}

const SEEDS: &[Seed] = &[
    // 平成21年度: just before the period.
    Seed {
        on: "2010-03-31",
        channel: "phone",
        requester: "family",
        municipality: Some("032018"),
        age: "0-2",
        minutes: Some(500),
        status: "closed",
        topics: &["medical"],
        care: &["ventilator"],
    },
    // 平成22年度: six consultations.
    Seed {
        on: "2010-04-05",
        channel: "phone",
        requester: "family",
        municipality: Some("032018"), // 盛岡市, 盛岡圏域
        age: "0-2",
        minutes: Some(30),
        status: "closed",
        topics: &["medical", "welfare"],
        care: &["ventilator", "tracheostomy"],
    },
    Seed {
        on: "2010-04-20",
        channel: "visit",
        requester: "family",
        municipality: Some("032166"), // 滝沢市, 盛岡圏域
        age: "3-5",
        minutes: Some(45),
        status: "closed",
        topics: &["medical"],
        care: &["ventilator"],
    },
    Seed {
        on: "2010-06-10",
        channel: "phone",
        requester: "municipality",
        municipality: Some("033014"), // 雫石町, 盛岡圏域
        age: "unknown",
        minutes: None,
        status: "in_progress",
        topics: &["welfare", "procedures"],
        care: &[],
    },
    Seed {
        on: "2010-09-30",
        channel: "email",
        requester: "medical",
        municipality: Some("032026"), // 宮古市, 宮古圏域
        age: "6-11",
        minutes: Some(60),
        status: "closed",
        topics: &["medical"],
        care: &["suction"],
    },
    Seed {
        on: "2011-01-15",
        channel: "online",
        requester: "family",
        municipality: Some("022012"), // 青森市: another prefecture
        age: "12-14",
        minutes: None,
        status: "closed",
        topics: &["other"],
        care: &[],
    },
    Seed {
        on: "2011-03-31",
        channel: "phone",
        requester: "school",
        municipality: None,
        age: "6-11",
        minutes: Some(15),
        status: "received",
        topics: &["childcare_education"],
        care: &["tracheostomy"],
    },
    // 平成23年度: just after the period.
    Seed {
        on: "2011-04-01",
        channel: "visit",
        requester: "family",
        municipality: Some("032018"),
        age: "0-2",
        minutes: Some(500),
        status: "closed",
        topics: &["medical", "welfare"],
        care: &["ventilator"],
    },
];

/// Inserts the seeds and two referrals (one sent in 平成22年度, one in 平成23年度).
async fn seed(app: &TestApp) {
    let now = tsunagu_store::clock::now_text();
    let mut first = None;
    for (i, s) in SEEDS.iter().enumerate() {
        let id = tsunagu_store::new_id();
        let year: i64 = s.on[..4].parse().expect("year");
        let fy = if &s.on[5..7] >= "04" { year } else { year - 1 };
        sqlx::query(
            "INSERT INTO consultations (id, receipt_no, fiscal_year, received_at, received_on, channel, requester_type,
                child_municipality_code6, child_age_band, minutes_spent, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(&id)
        .bind(format!("STATS-{i:04}"))
        .bind(fy)
        .bind(format!("{}T01:00:00.000000Z", s.on))
        .bind(s.on)
        .bind(s.channel)
        .bind(s.requester)
        .bind(s.municipality)
        .bind(s.age)
        .bind(s.minutes)
        .bind(s.status)
        .bind(&now)
        .execute(app.db.pool())
        .await
        .expect("consultation");
        for t in s.topics {
            sqlx::query(
                "INSERT INTO consultation_topics (consultation_id, topic, received_at, child_municipality_code6, status, handled_by)
                 SELECT id, $2, received_at, child_municipality_code6, status, handled_by FROM consultations WHERE id = $1",
            )
                .bind(&id)
                .bind(*t)
                .execute(app.db.pool())
                .await
                .expect("topic");
        }
        for c in s.care {
            sqlx::query(
                "INSERT INTO consultation_care_types (consultation_id, care_type_code, received_at, child_municipality_code6, status, handled_by)
                 SELECT id, $2, received_at, child_municipality_code6, status, handled_by FROM consultations WHERE id = $1",
            )
            .bind(&id)
            .bind(*c)
            .execute(app.db.pool())
            .await
            .expect("care type");
        }
        if first.is_none() {
            first = Some(id);
        }
    }
    let consultation = first.expect("seeded");
    let org: String = sqlx::query_scalar("SELECT id FROM organisations ORDER BY name LIMIT 1")
        .fetch_one(app.db.pool())
        .await
        .expect("an organisation");
    // 2010-04-06 10:00 JST, and 2011-04-01 09:00 JST (the next 年度).
    for sent_at in ["2010-04-06T01:00:00.000000Z", "2011-04-01T00:00:00.000000Z"] {
        sqlx::query(
            "INSERT INTO referrals (id, consultation_id, to_organisation_id, status, sent_at) VALUES ($1, $2, $3, 'sent', $4)",
        )
        .bind(tsunagu_store::new_id())
        .bind(&consultation)
        .bind(&org)
        .bind(sent_at)
        .execute(app.db.pool())
        .await
        .expect("referral");
    }
}

/// The count in the row labelled `label` of the table of section `id`.
fn count_in(body: &str, id: &str, label: &str) -> i64 {
    let start = body
        .find(&format!("id=\"stats-{id}\""))
        .unwrap_or_else(|| panic!("section {id} in the page"));
    let section = &body[start..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    let marker = format!("<th scope=\"row\">{label}</th><td class=\"num\">");
    let at = section
        .find(&marker)
        .unwrap_or_else(|| panic!("row {label} in section {id}:\n{section}"))
        + marker.len();
    let rest = &section[at..];
    rest[..rest.find('<').expect("end of cell")]
        .replace(',', "")
        .parse()
        .expect("a number")
}

/// The notes under the table of section `id`.
fn section_of<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body.find(&format!("id=\"stats-{id}\"")).expect("section");
    let section = &body[start..];
    &section[..section.find("</section>").unwrap_or(section.len())]
}

async fn download(c: &Client, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body").to_vec();
    (status, headers, bytes)
}

fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook");
    let range = book.worksheet_range(name).expect("the sheet");
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|d| match d {
                    Data::Float(f) => format!("{}", *f as i64),
                    Data::Int(i) => i.to_string(),
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn value_in(rows: &[Vec<String>], label: &str) -> String {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(label))
        .and_then(|r| r.get(1).cloned())
        .unwrap_or_else(|| panic!("row {label} in {rows:?}"))
}

both!(a_fiscal_year_is_counted_per_dimension, |app| {
    seed(&app).await;
    let mut c = app.signed_in("coordinator").await;
    let page = c.get("/consultations/stats?fy=2010").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("集計期間：平成22年度（2010年度）：平成22年4月1日〜平成23年3月31日");
    // The select keeps a 年度 older than the ten it offers.
    page.assert_contains("<option value=\"2010\" selected>平成22年度（2010年度）</option>");
    // Only the statistics entry of the menu is current.
    page.assert_contains("<a href=\"/consultations/stats\" aria-current=\"page\">");
    assert!(
        !page
            .body
            .contains("<a href=\"/consultations\" aria-current=\"page\">")
    );

    // Six consultations, 150 minutes over four of them, one referral sent in the 年度.
    page.assert_contains("<p class=\"card-figure\">6<small>件</small></p>");
    page.assert_contains("<p class=\"card-figure\">2時間30分</p>");
    page.assert_contains("所要時間を記録した4件の合計");
    page.assert_contains("<p class=\"card-figure\">1<small>件</small></p>");

    // By month, every month of the 年度 including the empty ones.
    let b = &page.body;
    assert_eq!(count_in(b, "month", "平成22年4月"), 2);
    assert_eq!(count_in(b, "month", "平成22年5月"), 0);
    assert_eq!(count_in(b, "month", "平成22年6月"), 1);
    assert_eq!(count_in(b, "month", "平成22年9月"), 1);
    assert_eq!(count_in(b, "month", "平成23年1月"), 1);
    assert_eq!(count_in(b, "month", "平成23年3月"), 1);
    assert_eq!(
        section_of(b, "month")
            .matches("<th scope=\"row\">平成")
            .count(),
        12
    );
    assert!(section_of(b, "month").contains("<th scope=\"row\">合計</th><td class=\"num\">6</td>"));

    // By topic: once per topic, so the column does not add up to six, and says so.
    assert_eq!(count_in(b, "topic", "医療・医療的ケア"), 3);
    assert_eq!(count_in(b, "topic", "福祉サービス"), 2);
    assert_eq!(count_in(b, "topic", "制度・手続き"), 1);
    assert_eq!(count_in(b, "topic", "災害・緊急時"), 0);
    assert!(section_of(b, "topic").contains("複数選択のため合計は相談件数と一致しません"));
    assert!(!section_of(b, "topic").contains(">合計<"));

    assert_eq!(count_in(b, "requester", "本人・家族"), 3);
    assert_eq!(count_in(b, "requester", "市町村"), 1);
    assert_eq!(count_in(b, "requester", "保育所・学校"), 1);
    assert_eq!(count_in(b, "channel", "電話"), 3);
    assert_eq!(count_in(b, "channel", "来所"), 1);
    assert_eq!(count_in(b, "channel", "オンライン"), 1);
    assert_eq!(count_in(b, "channel", "訪問"), 0);

    // By area: 盛岡市, 滝沢市 and 雫石町 are 盛岡圏域; 青森市 is outside; one has none.
    assert_eq!(count_in(b, "area", "盛岡圏域"), 3);
    assert_eq!(count_in(b, "area", "宮古圏域"), 1);
    assert_eq!(count_in(b, "area", "県外・その他"), 1);
    assert_eq!(count_in(b, "area", "市町村不明"), 1);
    assert!(section_of(b, "area").contains("<th scope=\"row\">合計</th><td class=\"num\">6</td>"));
    assert_eq!(count_in(b, "municipality", "盛岡市"), 1);
    assert_eq!(count_in(b, "municipality", "雫石町"), 1);
    assert_eq!(count_in(b, "municipality", "花巻市"), 0);
    assert_eq!(count_in(b, "municipality", "青森県青森市"), 1);

    // By care type, with the consultations that record none.
    assert_eq!(
        count_in(
            b,
            "care",
            "人工呼吸器の管理（NPPV、ネーザルハイフロー、排痰補助装置を含む）"
        ),
        2
    );
    assert_eq!(count_in(b, "care", "気管切開の管理"), 2);
    assert!(section_of(b, "care").contains("医療的ケアの記録がない相談：2件"));

    assert_eq!(count_in(b, "age", "6〜11歳（小学生）"), 2);
    assert_eq!(count_in(b, "status", "完了"), 4);
    assert_eq!(count_in(b, "status", "対応中"), 1);
    assert_eq!(count_in(b, "status", "受付"), 1);

    // Tables with their charts; the page offers printing and downloads of this 年度.
    assert!(section_of(b, "area").contains("<svg"));
    assert!(section_of(b, "area").contains("盛岡圏域 3件"));
    page.assert_contains("role=\"region\" aria-label=\"圏域別の表\"");
    page.assert_contains("data-print");
    page.assert_contains("href=\"/consultations/stats.xlsx?fy=2010\"");
    page.assert_contains("href=\"/consultations/stats.csv?fy=2010&#38;enc=sjis\"");

    // The next 年度 holds only the consultation of 1 April and the later referral.
    let next = c.get("/consultations/stats?fy=2011").await;
    assert_eq!(count_in(&next.body, "month", "平成23年4月"), 1);
    assert_eq!(count_in(&next.body, "area", "盛岡圏域"), 1);

    // The same 年度 typed as a period, in 和暦, gives the same figures.
    let custom = c
        .get("/consultations/stats?from=%E5%B9%B3%E6%88%9022%E5%B9%B44%E6%9C%881%E6%97%A5&to=H23.3.31")
        .await;
    assert_eq!(custom.status, 200, "{}", custom.body);
    assert_eq!(count_in(&custom.body, "area", "盛岡圏域"), 3);
    custom.assert_contains("value=\"平成22年4月1日\"");
    custom.assert_contains("href=\"/consultations/stats.xlsx?from=2010-04-01&#38;to=2011-03-31\"");
});

both!(downloads_carry_the_same_numbers_and_are_audited, |app| {
    seed(&app).await;
    let c = app.signed_in("pref").await;

    let (status, headers, bytes) = download(&c, "/consultations/stats.xlsx?fy=2010").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"consultation-stats-20100401-20110331.xlsx\"")
    );
    let overview = tsunagu_web::xlsx::read_first_sheet(
        &bytes,
        &tsunagu_domain::csv_import::TableLimits::IMPORT,
    )
    .expect("a workbook");
    assert_eq!(overview[0], ["項目", "値"]);
    assert_eq!(value_in(&overview, "相談件数"), "6");
    assert_eq!(value_in(&overview, "所要時間の合計（分）"), "150");
    assert_eq!(value_in(&overview, "つなぎ（連絡）の件数"), "1");
    let months = sheet(&bytes, "月別");
    assert_eq!(months[0], ["月", "件数"]);
    assert_eq!(months.len(), 1 + 12 + 1, "header, twelve months, 合計");
    assert_eq!(value_in(&months, "平成22年4月"), "2");
    assert_eq!(value_in(&months, "平成22年5月"), "0");
    assert_eq!(value_in(&months, "合計"), "6");
    let areas = sheet(&bytes, "圏域別");
    assert_eq!(value_in(&areas, "盛岡圏域"), "3");
    assert_eq!(value_in(&areas, "市町村不明"), "1");
    let topics = sheet(&bytes, "相談の分類");
    assert_eq!(value_in(&topics, "医療・医療的ケア"), "3");
    assert!(!topics.iter().any(|r| r[0] == "合計"));
    // Numbers are numbers, so that Excel can sum them.
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.clone())).expect("a workbook");
    let range = book.worksheet_range("圏域別").expect("sheet");
    assert!(matches!(range.get((1, 1)), Some(Data::Float(_))));

    let (status, headers, bytes) = download(
        &c,
        "/consultations/stats.csv?from=2010-04-01&to=2011-03-31&enc=sjis",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=Shift_JIS")
    );
    assert_eq!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"consultation-stats-20100401-20110331.csv\"")
    );
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!had_errors);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "区分,項目,件数");
    for line in [
        "概要,相談件数,6",
        "月別,平成22年4月,2",
        "月別,平成22年5月,0",
        "相談の分類,医療・医療的ケア,3",
        "圏域別,盛岡圏域,3",
        "圏域別,県外・その他,1",
        "市町村別,青森県青森市,1",
        "受付方法,電話,3",
    ] {
        assert!(lines.contains(&line), "{line} in\n{text}");
    }

    let (status, _, bytes) = download(&c, "/consultations/stats.csv?fy=2010&enc=utf8").await;
    assert_eq!(status, 200);
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");

    let exports: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'consultation_stats.export' ORDER BY seq",
    )
    .fetch_all(app.db.pool())
    .await
    .expect("audit");
    assert_eq!(exports.len(), 3);
    assert!(exports.iter().all(|d| d.contains("2010-04-01〜2011-03-31")));
    assert!(exports[0].contains("xlsx"));
    assert!(exports[1].contains("Shift_JIS"));
});

both!(bad_dates_are_shown_next_to_the_fields, |app| {
    let mut c = app.signed_in("coordinator").await;
    let page = c
        .get("/consultations/stats?from=2010-02-30&to=%E3%81%82%E3%81%97%E3%81%9F")
        .await;
    assert_eq!(page.status, 422);
    page.assert_contains(
        "<p class=\"error-text\" id=\"from-error\">期間の開始日：存在しない日付です</p>",
    );
    page.assert_contains("id=\"to-error\">期間の終了日：日付は 2022-09-15 または 令和4年9月15日 の形で入力してください");
    page.assert_contains("value=\"2010-02-30\"");
    page.assert_contains("value=\"あした\"");
    page.assert_contains("error-summary");
    assert!(
        !page.body.contains("stats.xlsx"),
        "no download for a period not understood"
    );

    let reversed = c
        .get("/consultations/stats?from=2011-04-01&to=2010-04-01")
        .await;
    assert_eq!(reversed.status, 422);
    reversed.assert_contains("期間の終了日は開始日と同じか、それより後の日付にしてください");

    let (status, _, _) =
        download(&c, "/consultations/stats.csv?from=2010-02-30&to=2010-03-31").await;
    assert_eq!(status, 400);
});

both!(only_the_center_and_the_prefecture_see_statistics, |app| {
    for login in ["municipal", "viewer", "hospital"] {
        let mut c = app.signed_in(login).await;
        for path in [
            "/consultations/stats",
            "/consultations/stats.xlsx?fy=2010",
            "/consultations/stats.csv?fy=2010",
        ] {
            let page = c.get(path).await;
            assert_eq!(page.status, 403, "{login} {path}");
        }
        let home = c.get("/").await;
        assert!(
            !home.body.contains("href=\"/consultations/stats\""),
            "{login} menu"
        );
    }
    let mut anonymous = app.client();
    let page = anonymous.get("/consultations/stats").await;
    assert!(page.status == 303 || page.status == 401, "{}", page.status);

    let mut pref = app.signed_in("pref").await;
    let page = pref.get("/consultations/stats").await;
    assert_eq!(page.status, 200);
    page.assert_contains("href=\"/consultations/stats\"");
});

//! The public statistics page and the good-practices list: only approved answers are
//! published, small counts and their complements are hidden, zeros stay, and what is printed
//! cannot be solved back; publishable good practices reach every signed-in organisation.

use std::collections::BTreeMap;

use tsunagu_domain::survey::ItemKind;
use tsunagu_store::Row;
use tsunagu_store::audit::AuditCtx;
use tsunagu_store::surveys::{self, Decision, RoundInput, Saving};

use crate::both;
use crate::support::*;

/// A 年度 the demo data does not use.
const YEAR: i64 = 2011;

/// One municipality's answers: (age band, place) → count, the first care type's count, and a
/// good practice with whether it may be published.
struct Reply {
    code5: &'static str,
    grid: &'static [(&'static str, &'static str, u64)],
    care: u64,
    practice: Option<(&'static str, bool)>,
    approve: bool,
}

const AGES: [&str; 6] = ["a0_2", "a3_5", "a6_11", "a12_14", "a15_17", "a18_19"];

/// Four areas with one municipality each. 奥州市 (胆江) has 3 children aged 0–2, the one small
/// count; 花巻市 has nobody aged 15–17 and 宮古市 nobody aged 18–19. 二戸市 submitted a large
/// count that is never approved.
const REPLIES: &[Reply] = &[
    Reply {
        code5: "03201", // 盛岡市
        grid: &[
            ("a0_2", "home", 12),
            ("a3_5", "home", 15),
            ("a6_11", "home", 18),
            ("a6_11", "hospital", 12),
            ("a12_14", "home", 14),
            ("a15_17", "home", 11),
            ("a18_19", "home", 10),
        ],
        care: 40,
        practice: Some(("訪問看護師が保育所を巡回して助言する取組を始めました", true)),
        approve: true,
    },
    Reply {
        code5: "03205", // 花巻市
        grid: &[
            ("a0_2", "home", 11),
            ("a3_5", "home", 13),
            ("a6_11", "home", 20),
            ("a12_14", "home", 12),
            ("a18_19", "home", 10),
        ],
        care: 30,
        practice: Some(("非公開の取組メモ", false)),
        approve: true,
    },
    Reply {
        code5: "03215", // 奥州市
        grid: &[
            ("a0_2", "home", 3),
            ("a3_5", "home", 14),
            ("a6_11", "home", 25),
            ("a12_14", "home", 12),
            ("a15_17", "facility", 16),
            ("a18_19", "home", 11),
        ],
        care: 35,
        practice: None,
        approve: true,
    },
    Reply {
        code5: "03202", // 宮古市
        grid: &[
            ("a0_2", "home", 8),
            ("a0_2", "hospital", 2),
            ("a3_5", "home", 12),
            ("a6_11", "home", 18),
            ("a12_14", "home", 15),
            ("a15_17", "home", 13),
        ],
        care: 33,
        practice: Some(("災害時の個別避難計画を全員分作成しました", true)),
        approve: true,
    },
    Reply {
        code5: "03213", // 二戸市: submitted, not approved
        grid: &[("a0_2", "home", 4321)],
        care: 4321,
        practice: Some(("承認前の取組", true)),
        approve: false,
    },
];

/// The approved children per area row of the age table, in the areas' order.
const AREA_TOTALS: [u64; 4] = [92, 66, 81, 68];

async fn code6(app: &TestApp, code5: &str) -> String {
    sqlx::query_scalar("SELECT code6 FROM municipalities WHERE code5 = $1")
        .bind(code5)
        .fetch_one(app.db.pool())
        .await
        .expect("municipality")
}

/// Issues the 年度's round with the standard definition, answers, submits and approves as
/// `REPLIES` says, straight through the store.
async fn publish_year(app: &TestApp) {
    let def = surveys::definitions(&app.db, "03")
        .await
        .expect("definitions")
        .into_iter()
        .find(|d| d.family == "standard")
        .expect("standard definition");
    let stored = surveys::definition(&app.db, "03", &def.id)
        .await
        .expect("definition");
    let care = stored
        .definition
        .items()
        .find_map(|(_, i)| match &i.kind {
            ItemKind::CareTypes { types } => Some((i.key.clone(), types[0].key.clone())),
            _ => None,
        })
        .expect("care types");
    let mut codes = Vec::new();
    for r in REPLIES {
        codes.push(code6(app, r.code5).await);
    }
    let ctx = AuditCtx::system("test");
    let mut tx = app.db.begin().await.expect("begin");
    let round = surveys::create_round(
        &mut tx,
        &ctx,
        "03",
        &RoundInput {
            definition_id: def.id.clone(),
            fiscal_year: YEAR,
            title: "平成23年度 医療的ケア児等の実態調査".into(),
            as_of: "2011-04-01".into(),
            opens_on: "2011-05-01".into(),
            due_on: "2011-06-30".into(),
            note: String::new(),
            municipalities: codes.clone(),
        },
    )
    .await
    .expect("round");
    tx.commit().await.expect("commit");

    for (r, code6) in REPLIES.iter().zip(&codes) {
        let row = sqlx::query(
            "SELECT id, revision FROM survey_responses WHERE round_id = $1 AND municipality_code6 = $2",
        )
        .bind(&round)
        .bind(code6)
        .fetch_one(app.db.pool())
        .await
        .expect("response");
        let id: String = row.try_get("id").expect("id");
        let revision: i64 = row.try_get("revision").expect("revision");
        let mut answers: BTreeMap<String, String> = BTreeMap::new();
        let mut total = 0;
        for age in AGES {
            for place in ["home", "hospital", "facility"] {
                let n = r
                    .grid
                    .iter()
                    .find(|(a, p, _)| *a == age && *p == place)
                    .map_or(0, |(_, _, n)| *n);
                total += n;
                answers.insert(format!("age_place.{age}.{place}"), n.to_string());
            }
        }
        answers.insert("total".into(), total.to_string());
        answers.insert(format!("{}.{}", care.0, care.1), r.care.to_string());
        if let Some((text, publishable)) = r.practice {
            answers.insert("practice".into(), text.into());
            if publishable {
                answers.insert("practice.publishable".into(), "1".into());
            }
        }
        let mut tx = app.db.begin().await.expect("begin");
        surveys::save_answers(&mut tx, &ctx, &id, revision, &answers, Saving::Submit)
            .await
            .expect("submit");
        if r.approve {
            surveys::decide(&mut tx, &ctx, &id, Decision::Approve, "")
                .await
                .expect("approve");
        }
        tx.commit().await.expect("commit");
    }
}

/// Takes 二戸市's response, still under review, out of the round (as if it had not been asked),
/// so that the 年度 is complete and published.
async fn drop_unapproved(app: &TestApp) {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM survey_responses WHERE status <> 'approved'")
            .fetch_all(app.db.pool())
            .await
            .expect("unapproved");
    for id in ids {
        let round_year: i64 = sqlx::query_scalar(
            "SELECT r.fiscal_year FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id WHERE s.id = $1",
        )
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .expect("year");
        if round_year != YEAR {
            continue;
        }
        sqlx::query("DELETE FROM survey_response_events WHERE response_id = $1")
            .bind(&id)
            .execute(app.db.pool())
            .await
            .expect("events");
        sqlx::query("DELETE FROM survey_responses WHERE id = $1")
            .bind(&id)
            .execute(app.db.pool())
            .await
            .expect("response");
    }
}

/// What a reader sees in one published cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Value(u64),
    Small,
    Hidden,
}

/// One row of a published table: its label and its cells.
type Line = (String, Vec<Seen>);

fn seen(text: &str) -> Seen {
    match text {
        "1〜9" => Seen::Small,
        "秘匿" => Seen::Hidden,
        t => Seen::Value(
            t.replace(',', "")
                .parse()
                .unwrap_or_else(|_| panic!("not a published count: {t:?}")),
        ),
    }
}

/// The table `id` of the page as (row label, cells) for the body rows and the 県計 row; with
/// row totals, each row's last cell is its total.
fn parse_table(body: &str, id: &str) -> (Vec<Line>, Line) {
    let (rows, foot) = parse_rows(body, id);
    (rows, foot.expect("県計 row"))
}

/// The table `id` as its body rows and, if it has one, its foot row.
fn parse_rows(body: &str, id: &str) -> (Vec<Line>, Option<Line>) {
    let start = body
        .find(&format!("id=\"table-{id}\""))
        .unwrap_or_else(|| panic!("table {id} on the page"));
    let end = body[start..].find("</table>").expect("end of table") + start;
    let table = &body[start..end];
    let row = |tr: &str| -> Line {
        let label_start = tr.find("<th scope=\"row\">").expect("row header") + 16;
        let label_end = tr[label_start..].find("</th>").expect("end of header") + label_start;
        let cells = tr
            .split("<td")
            .skip(1)
            .map(|td| {
                let open = td.find('>').expect("cell") + 1;
                let close = td.find("</td>").expect("end of cell");
                seen(td[open..close].trim())
            })
            .collect();
        (tr[label_start..label_end].to_string(), cells)
    };
    let (rows, foot) = match table.split_once("<tfoot>") {
        Some((rows, foot)) => (rows, Some(foot)),
        None => (table, None),
    };
    let body_rows = rows
        .split("<tbody>")
        .nth(1)
        .expect("body")
        .split("<tr>")
        .skip(1)
        .map(row)
        .collect();
    (body_rows, foot.map(row))
}

/// Every value each unknown of a published rows × columns table with row totals, column totals
/// and a grand total can take, by exhaustive search: the cells in row order, then the row
/// totals, the column totals and the grand total. A reader knows the printed numbers, that
/// 「1〜9」 is 1 to 9, that 「秘匿」 is above 9 (the table prints ranges) and that the sums hold.
fn possible_values(rows: &[Line], foot: &Line) -> Vec<Vec<u64>> {
    let width = foot.1.len() - 1;
    let mut entries: Vec<Seen> = Vec::new();
    for (_, cells) in rows {
        entries.extend(&cells[..width]);
    }
    let row_total = |r: usize| rows.len() * width + r;
    let column_total = |c: usize| rows.len() * (width + 1) + c;
    let grand = rows.len() * (width + 1) + width;
    entries.extend(rows.iter().map(|(_, cells)| cells[width]));
    entries.extend(&foot.1);
    let mut equations: Vec<(Vec<usize>, usize)> = Vec::new();
    for r in 0..rows.len() {
        equations.push(((0..width).map(|c| r * width + c).collect(), row_total(r)));
    }
    for c in 0..width {
        equations.push((
            (0..rows.len()).map(|r| r * width + c).collect(),
            column_total(c),
        ));
    }
    equations.push(((0..rows.len()).map(row_total).collect(), grand));
    let cap = match entries[grand] {
        Seen::Value(v) => v,
        _ => 2000,
    };
    let ranges: Vec<(u64, u64)> = entries
        .iter()
        .map(|e| match e {
            Seen::Value(v) => (*v, *v),
            Seen::Small => (1, 9),
            Seen::Hidden => (10, cap),
        })
        .collect();

    fn search(
        at: usize,
        assigned: &mut Vec<Option<u64>>,
        ranges: &[(u64, u64)],
        equations: &[(Vec<usize>, usize)],
        found: &mut Vec<Vec<u64>>,
    ) {
        if at == ranges.len() {
            found.push(assigned.iter().map(|v| v.unwrap_or(0)).collect());
            return;
        }
        let (least, greatest) = ranges[at];
        for v in least..=greatest {
            assigned[at] = Some(v);
            let consistent = equations.iter().all(|(parts, total)| {
                let known: Vec<u64> = parts.iter().filter_map(|&p| assigned[p]).collect();
                match assigned[*total] {
                    Some(t) if known.len() == parts.len() => known.iter().sum::<u64>() == t,
                    Some(t) => known.iter().sum::<u64>() <= t,
                    None => true,
                }
            });
            if consistent {
                search(at + 1, assigned, ranges, equations, found);
            }
        }
        assigned[at] = None;
    }
    // Totals first, so partial sums prune the cells.
    let order: Vec<usize> = (rows.len() * width..entries.len())
        .chain(0..rows.len() * width)
        .collect();
    let ordered: Vec<(u64, u64)> = order.iter().map(|&e| ranges[e]).collect();
    let position = |e: usize| order.iter().position(|&o| o == e).unwrap_or(e);
    let ordered_equations: Vec<(Vec<usize>, usize)> = equations
        .iter()
        .map(|(parts, total)| {
            (
                parts.iter().map(|&p| position(p)).collect(),
                position(*total),
            )
        })
        .collect();
    let mut found = Vec::new();
    let mut assigned = vec![None; ordered.len()];
    search(0, &mut assigned, &ordered, &ordered_equations, &mut found);
    // Back in table order.
    found
        .into_iter()
        .map(|solution| (0..entries.len()).map(|e| solution[position(e)]).collect())
        .collect()
}

both!(
    the_public_page_shows_approved_figures_with_small_counts_hidden,
    |app| {
        publish_year(&app).await;
        let mut anon = app.client();
        // Not published while a response is still under review: each approval would change
        // the tables, and comparing versions would give the new municipality's figures away.
        assert_eq!(anon.get("/statistics/2011").await.status, 404);
        drop_unapproved(&app).await;
        let page = anon.get("/statistics/2011").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains("平成23年度");
        page.assert_contains("平成23年4月1日現在");
        page.assert_contains("4市町村中 4市町村");
        page.assert_contains("承認した回答だけを集計");
        page.assert_contains("「1〜9」");
        // The unapproved response counts nowhere.
        assert!(!page.body.contains("4,321") && !page.body.contains("4321"));
        assert!(!page.body.contains("承認前の取組"));

        let (rows, foot) = parse_table(&page.body, "age");
        let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["盛岡圏域", "岩手中部圏域", "胆江圏域", "宮古圏域"]);
        // 胆江's 3 children aged 0–2 show as a range, and something else in its row and column
        // is hidden with it; the zeros of 岩手中部 (15–17) and 宮古 (18–19) stay.
        assert_eq!(rows[2].1[0], Seen::Small);
        assert!(rows[2].1[1..6].contains(&Seen::Hidden));
        assert!(rows.iter().any(|(_, cells)| cells[0] == Seen::Hidden));
        assert_eq!(rows[1].1[4], Seen::Value(0));
        assert_eq!(rows[3].1[5], Seen::Value(0));
        for ((_, cells), total) in rows.iter().zip(AREA_TOTALS) {
            assert_eq!(cells[6], Seen::Value(total));
        }
        assert_eq!(foot.0, "県計");
        assert_eq!(foot.1[6], Seen::Value(307));
        // Every shown count is the true one.
        assert_eq!(rows[0].1[2], Seen::Value(30));
        assert_eq!(foot.1[2], Seen::Value(93));

        // Where the children live, by area, with the same totals; care types without row totals.
        let (living, living_foot) = parse_table(&page.body, "living");
        assert_eq!(living.len(), 4);
        assert_eq!(living[3].1[1], Seen::Small);
        assert_eq!(living_foot.1[3], Seen::Value(307));
        // Care types run down the page, the areas across, the prefecture's count last.
        let (care, care_foot) = parse_rows(&page.body, "care");
        assert!(care_foot.is_none());
        assert!(care[0].0.starts_with("人工呼吸器"), "{}", care[0].0);
        assert_eq!(care[0].1, [40, 30, 35, 33, 138].map(Seen::Value).to_vec());
        assert!(
            care[1..]
                .iter()
                .all(|(_, cells)| cells.iter().all(|c| *c == Seen::Value(0)))
        );

        // The newest 年度 is the default; the list offers 2011; unknown years are not found.
        let index = anon.get("/statistics").await;
        assert_eq!(index.status, 200);
        index.assert_contains("href=\"/statistics/2011\"");
        assert_eq!(anon.get("/statistics/2010").await.status, 404);
        assert_eq!(anon.get("/statistics/heisei").await.status, 404);

        // The CSV file holds the published tables, suppressed the same way.
        let resp = anon
            .http
            .get(format!("{}/statistics/2011/tables.csv", anon.base))
            .send()
            .await
            .expect("csv");
        assert_eq!(resp.status().as_u16(), 200);
        let bytes = resp.bytes().await.expect("bytes");
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("年齢別の人数（圏域別）,胆江圏域,0〜2歳,1〜9"),
            "{text}"
        );
        assert!(text.contains("秘匿"));
        assert!(!text.contains("4321") && !text.contains("4,321"));
    }
);

both!(the_published_age_table_cannot_be_solved_back, |app| {
    publish_year(&app).await;
    drop_unapproved(&app).await;
    let mut anon = app.client();
    let page = anon.get("/statistics/2011").await;
    let (rows, foot) = parse_table(&page.body, "age");
    let solutions = possible_values(&rows, &foot);
    // The true table is among them.
    let truth: Vec<u64> = vec![
        12, 15, 30, 14, 11, 10, //
        11, 13, 20, 12, 0, 10, //
        3, 14, 25, 12, 16, 11, //
        10, 12, 18, 15, 13, 0, //
        92, 66, 81, 68, //
        36, 54, 93, 53, 40, 31, 307,
    ];
    assert!(solutions.contains(&truth));
    let hidden: Vec<usize> = rows
        .iter()
        .flat_map(|(_, cells)| cells[..6].iter())
        .chain(rows.iter().map(|(_, cells)| &cells[6]))
        .chain(foot.1.iter())
        .enumerate()
        .filter(|(_, s)| !matches!(s, Seen::Value(_)))
        .map(|(i, _)| i)
        .collect();
    assert!(hidden.len() >= 2);
    for entry in hidden {
        let mut values: Vec<u64> = solutions.iter().map(|s| s[entry]).collect();
        values.sort_unstable();
        values.dedup();
        assert!(
            values.len() >= 2,
            "hidden entry {entry} can only be {values:?}"
        );
    }
});

both!(
    publishable_good_practices_reach_every_signed_in_organisation,
    |app| {
        publish_year(&app).await;
        let mut hospital = app.signed_in("hospital").await;
        let page = hospital.get("/surveys/good-practices").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains("好事例集");
        page.assert_contains("平成23年度");
        page.assert_contains("訪問看護師が保育所を巡回して助言する取組を始めました");
        page.assert_contains("盛岡市");
        page.assert_contains("災害時の個別避難計画を全員分作成しました");
        page.assert_contains("宮古市");
        // Not ticked as publishable, or not approved: not listed.
        assert!(!page.body.contains("非公開の取組メモ"));
        assert!(!page.body.contains("承認前の取組"));

        // Filtered by area: 宮古 only.
        let areas = tsunagu_store::geo::areas(&app.db, "03")
            .await
            .expect("areas");
        let miyako = areas
            .iter()
            .find(|a| a.name == "宮古圏域")
            .expect("宮古圏域");
        let page = hospital
            .get(&format!(
                "/surveys/good-practices?fy=2011&area={}",
                miyako.id
            ))
            .await;
        assert_eq!(page.status, 200);
        page.assert_contains("災害時の個別避難計画を全員分作成しました");
        assert!(!page.body.contains("訪問看護師が保育所を巡回して"));
        // A 年度 that is not offered is explained, the choice kept.
        let page = hospital.get("/surveys/good-practices?fy=R3").await;
        assert_eq!(page.status, 422);
        page.assert_contains("年度は一覧から選んでください");

        // Anonymous visitors are sent to sign in.
        let mut anon = app.client();
        let page = anon.get("/surveys/good-practices").await;
        assert_eq!(page.status, 303);
        assert!(page.location.starts_with("/login"), "{}", page.location);
    }
);

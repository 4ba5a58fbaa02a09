//! The survey roll-up and map: approved answers summed for the prefecture, by area and by
//! municipality with their completeness and last year's figures, the choropleth map with its
//! credit, the trend, every count item (care types never summed, grids with their totals), the
//! national view, live updates on approval, and who may see it.
//!
//! Rounds are issued straight through the store in 平成22年度 and 平成23年度 (2010–2011), years
//! the demo data never reaches, so the sums are exact.

use tsunagu_store::audit::AuditCtx;
use tsunagu_store::surveys::{self, Decision, RoundInput, STANDARD_FAMILY, Saving};

use crate::both;
use crate::support::*;

const MORIOKA: &str = "032018"; // 盛岡市, 盛岡圏域
const MIYAKO: &str = "032026"; // 宮古市, 宮古圏域
const OFUNATO: &str = "032034"; // 大船渡市, 気仙圏域

const CREDIT: &str = "出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成";

async fn issue(app: &TestApp, year: i64) -> String {
    let definition_id = surveys::definitions(&app.db, "03")
        .await
        .expect("definitions")
        .into_iter()
        .find(|d| d.family == STANDARD_FAMILY)
        .expect("the standard definition is seeded")
        .id;
    let mut tx = app.db.begin().await.expect("begin");
    let id = surveys::create_round(
        &mut tx,
        &AuditCtx::system("test"),
        "03",
        &RoundInput {
            definition_id,
            fiscal_year: year,
            title: format!("医療的ケア児等の実態調査（{year}年度）"),
            as_of: format!("{year}-04-01"),
            opens_on: format!("{year}-05-01"),
            due_on: format!("{year}-06-30"),
            note: String::new(),
            municipalities: vec![MORIOKA.into(), MIYAKO.into(), OFUNATO.into()],
        },
    )
    .await
    .expect("create round");
    tx.commit().await.expect("commit");
    id
}

/// The response of `code6` to the round.
async fn response_id(app: &TestApp, round_id: &str, code6: &str) -> String {
    surveys::board(&app.db, round_id)
        .await
        .expect("board")
        .into_iter()
        .find(|l| l.municipality_code6 == code6)
        .expect("the municipality was asked")
        .id
}

async fn submit(app: &TestApp, round_id: &str, code6: &str, answers: &[(&str, &str)]) -> String {
    let id = response_id(app, round_id, code6).await;
    let answers = answers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut tx = app.db.begin().await.expect("begin");
    surveys::save_answers(
        &mut tx,
        &AuditCtx::system("test"),
        &id,
        0,
        &answers,
        Saving::Submit,
    )
    .await
    .expect("submit");
    tx.commit().await.expect("commit");
    id
}

async fn approve(app: &TestApp, response_id: &str) {
    let mut tx = app.db.begin().await.expect("begin");
    surveys::decide(
        &mut tx,
        &AuditCtx::system("test"),
        response_id,
        Decision::Approve,
        "",
    )
    .await
    .expect("approve");
    tx.commit().await.expect("commit");
}

/// 2010: 盛岡市 10 and 宮古市 4 approved. 2011: 盛岡市 12 and 宮古市 5 approved, 大船渡市 3
/// submitted and waiting (its id is returned). Care types only in 2011; the age × place grid
/// in both.
async fn seed(app: &TestApp) -> (String, String) {
    let r2010 = issue(app, 2010).await;
    let id = submit(
        app,
        &r2010,
        MORIOKA,
        &[("total", "10"), ("age_place.a0_2.home", "10")],
    )
    .await;
    approve(app, &id).await;
    let id = submit(
        app,
        &r2010,
        MIYAKO,
        &[("total", "4"), ("age_place.a0_2.home", "4")],
    )
    .await;
    approve(app, &id).await;

    let r2011 = issue(app, 2011).await;
    let id = submit(
        app,
        &r2011,
        MORIOKA,
        &[
            ("total", "12"),
            ("age_place.a0_2.home", "5"),
            ("age_place.a3_5.home", "4"),
            ("age_place.a6_11.hospital", "3"),
            ("care.ventilator", "4"),
            ("care.tracheostomy", "3"),
        ],
    )
    .await;
    approve(app, &id).await;
    let id = submit(
        app,
        &r2011,
        MIYAKO,
        &[
            ("total", "５"),
            ("age_place.a0_2.home", "2"),
            ("age_place.a6_11.home", "3"),
            ("care.ventilator", "2"),
            ("care.tracheostomy", "1"),
        ],
    )
    .await;
    approve(app, &id).await;
    let waiting = submit(
        app,
        &r2011,
        OFUNATO,
        &[
            ("total", "3"),
            ("age_place.a0_2.facility", "3"),
            ("care.ventilator", "3"),
        ],
    )
    .await;
    (r2011, waiting)
}

/// The text of the table row whose header cell is `header`, up to its end.
fn row<'a>(body: &'a str, header: &str) -> &'a str {
    let marker = format!("<th scope=\"row\">{header}</th>");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {header:?} in:\n{body}"));
    let rest = &body[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// The row whose header cell links `label` (to the map of that item).
fn linked_row<'a>(body: &'a str, label: &str) -> &'a str {
    let marker = format!("\">{label}</a></th>");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{body}"));
    let rest = &body[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// The table with the given id.
fn table<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id:?} in:\n{body}"));
    let rest = &body[start..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
}

fn cells(row: &str) -> Vec<&str> {
    row.split("<td")
        .skip(1)
        .filter_map(|c| {
            let text = &c[c.find('>')? + 1..];
            Some(&text[..text.find("</td>")?])
        })
        .collect()
}

both!(the_prefecture_area_and_municipality_figures_add_up, |app| {
    seed(&app).await;
    let mut c = app.signed_in("coordinator").await;
    let page = c.get("/surveys/results?year=2011&field=total").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    // The prefecture: 12 + 5 of the three municipalities asked; last year 10 + 4.
    page.assert_contains("<p class=\"card-figure\">17<small>人</small></p>");
    page.assert_contains("報告 2 / 3 市町村");
    page.assert_contains("<p class=\"card-figure\">14</p>");
    page.assert_contains("<p class=\"card-figure\">+3（+21.4%）</p>");
    // By area, with the completeness of each figure.
    assert_eq!(
        cells(row(body, "盛岡圏域")),
        ["12", "1 / 1 市町村", "10", "+2（+20.0%）"]
    );
    assert_eq!(
        cells(row(body, "宮古圏域")),
        ["5", "1 / 1 市町村", "4", "+1（+25.0%）"]
    );
    assert_eq!(
        cells(row(body, "気仙圏域")),
        ["－", "0 / 1 市町村", "－", "－"]
    );
    assert_eq!(
        cells(row(body, "岩手県全体")),
        ["17", "2 / 3 市町村", "14", "+3（+21.4%）"]
    );
    // The table beside the map.
    assert_eq!(cells(row(body, "盛岡市")), ["盛岡圏域", "12", "10"]);
    assert_eq!(
        cells(row(body, "大船渡市")),
        ["気仙圏域", "<span class=\"muted\">未報告</span>", "－"]
    );
    // The map: each municipality with its area and value, areas outlined, the credit under it.
    page.assert_contains("<title>盛岡市（盛岡圏域）: 12 人</title>");
    page.assert_contains("<title>宮古市（宮古圏域）: 5 人</title>");
    page.assert_contains("<title>大船渡市（気仙圏域）: 未報告</title>");
    page.assert_contains("<path id=\"map-edge\"");
    page.assert_contains(&format!(
        "<figcaption class=\"map-credit\">{CREDIT}</figcaption>"
    ));
    // The trend over the 年度.
    assert_eq!(
        cells(row(body, "平成22年度（2010年度）")),
        ["14", "2 / 3 市町村", "－"]
    );
    assert_eq!(
        cells(row(body, "平成23年度（2011年度）")),
        ["17", "2 / 3 市町村", "+3（+21.4%）"]
    );
    page.assert_contains("2010年度 14人、2011年度 17人");
    // The picker offers every count: grid cells and care types too.
    page.assert_contains("<option value=\"age_place.a0_2.home\">");
    page.assert_contains("<option value=\"care.ventilator\">");
    page.assert_contains("<option value=\"total\" selected>");
});

both!(care_types_are_never_summed_and_grids_have_totals, |app| {
    seed(&app).await;
    let mut c = app.signed_in("pref").await;
    let page = c.get("/surveys/results?year=2011").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let care = table(&page.body, "care-care");
    assert_eq!(
        cells(linked_row(
            care,
            "人工呼吸器の管理（NPPV、ネーザルハイフロー、排痰補助装置を含む）"
        )),
        ["6", "2 / 3 市町村", "－", "－"]
    );
    assert_eq!(
        cells(linked_row(care, "気管切開の管理")),
        ["4", "2 / 3 市町村", "－", "－"]
    );
    // Each links to its map.
    assert!(care.contains("field=care.ventilator#map"), "{care}");
    // 6 + 4 appears nowhere: no total row, no 計 column.
    assert!(!care.contains("<tfoot") && !care.contains("計") && !care.contains(">10<"));
    page.assert_contains("種別ごとの人数は合計しません");
    // The grid adds up by row and column.
    let grid = table(&page.body, "grid-age_place");
    assert_eq!(cells(row(grid, "0〜2歳")), ["7", "－", "－", "7"]);
    assert_eq!(cells(row(grid, "6〜11歳")), ["3", "3", "－", "6"]);
    assert_eq!(cells(row(grid, "計")), ["14", "3", "－", "17"]);
    assert!(grid.contains("報告 2 / 3 市町村"));
    page.assert_contains("前年度の計：14");

    // A grid cell on the map.
    let page = c
        .get("/surveys/results?year=2011&field=age_place.a0_2.home")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("<p class=\"card-figure\">7<small>人</small></p>");
    page.assert_contains("<title>盛岡市（盛岡圏域）: 5 人</title>");
});

both!(an_approval_changes_the_figures_at_once, |app| {
    let (round_id, waiting) = seed(&app).await;
    let mut c = app.signed_in("coordinator").await;
    // Coming from the round's board: its 年度 and family.
    let page = c.get(&format!("/surveys/results?round={round_id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("<option value=\"2011\" selected>");
    page.assert_contains("<p class=\"card-figure\">17<small>人</small></p>");
    page.assert_contains(&format!(
        "<input type=\"hidden\" name=\"round\" value=\"{round_id}\">"
    ));

    approve(&app, &waiting).await;
    let page = c.get(&format!("/surveys/results?round={round_id}")).await;
    page.assert_contains("<p class=\"card-figure\">20<small>人</small></p>");
    page.assert_contains("報告 3 / 3 市町村");
    // Three municipalities now against two last year: the raw change, and the like-for-like
    // one of 盛岡市 and 宮古市 (17 against 14).
    page.assert_contains("<p class=\"card-figure\">+6（+42.9%）</p>");
    page.assert_contains("両年度とも報告した2市町村で比べると +3（+21.4%）");
    page.assert_contains("<title>大船渡市（気仙圏域）: 3 人</title>");
    assert_eq!(
        cells(row(&page.body, "気仙圏域")),
        ["3", "1 / 1 市町村", "－", "－"]
    );
    // Its care types count too, still per type.
    let care = table(&page.body, "care-care");
    assert!(care.contains(">9<"), "{care}");
});

both!(the_national_view_compares_prefectures, |app| {
    seed(&app).await;
    let mut c = app.signed_in("pref").await;
    let page = c
        .get("/surveys/results/national?year=2011&field=total")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        cells(row(&page.body, "岩手県")),
        ["17", "2 / 3 市町村", "14", "+3（+21.4%）"]
    );
    assert_eq!(
        cells(row(&page.body, "宮城県")),
        ["－", "0 / 0 市町村", "－", "－"]
    );
    page.assert_contains("<title>岩手県: 17 人</title>");
    page.assert_contains(&format!(
        "<figcaption class=\"map-credit\">{CREDIT}</figcaption>"
    ));

    let page = c
        .get("/surveys/results/national?year=2011&field=total&by=municipality")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("<title>岩手県盛岡市: 12 人</title>");
    page.assert_contains("<title>岩手県大船渡市: 未報告</title>");
    assert_eq!(cells(row(&page.body, "盛岡市")), ["12", "10"]);
});

both!(bad_choices_are_explained_and_others_may_not_look, |app| {
    seed(&app).await;
    let mut c = app.signed_in("coordinator").await;
    let page = c.get("/surveys/results?year=abc").await;
    assert_eq!(page.status, 422);
    page.assert_contains("年度は一覧から選んでください");
    let page = c.get("/surveys/results?year=2011&field=nothing").await;
    assert_eq!(page.status, 422);
    page.assert_contains("項目は一覧から選んでください");
    let page = c.get("/surveys/results?year=1999").await;
    assert_eq!(page.status, 200);
    page.assert_contains("平成11年度（1999年度）の調査はありません。");
    let page = c.get("/surveys/results/national?by=county").await;
    assert_eq!(page.status, 422);
    page.assert_contains("地図の塗り分けは一覧から選んでください");
    let page = c.get("/surveys/results?round=no-such-round").await;
    assert_eq!(page.status, 404);

    // The menu leads to the surveys.
    page_has_menu(&mut c).await;

    let mut m = app.signed_in("municipal").await;
    for path in [
        "/surveys/results?year=2011",
        "/surveys/results/national?year=2011",
    ] {
        let page = m.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("card-figure"));
    }
});

async fn page_has_menu(c: &mut Client) {
    let page = c.get("/surveys/results?year=2011").await;
    page.assert_contains("href=\"/surveys\"");
    page.assert_contains("状況把握調査");
}

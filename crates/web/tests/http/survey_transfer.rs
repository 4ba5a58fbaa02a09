//! The survey in Excel and CSV: a municipal officer downloads the form, fills it in offline and
//! uploads it (values land as a draft; a bad value names its row and changes nothing; a file
//! that is not the form is refused with a message); nobody reaches another municipality's
//! form; the center exports a round as xlsx (one row per municipality) and CSV in Shift_JIS.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use tsunagu_store::Row;

use crate::both;
use crate::support::*;

const MORIOKA: &str = "032018";
const MIYAKO: &str = "032026";
const BOUNDARY: &str = "----tsunagu-survey-7c1e";

async fn stored_answers(app: &TestApp, id: &str) -> (String, String) {
    let r = sqlx::query("SELECT answers, status FROM survey_responses WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .expect("response");
    (
        r.try_get("answers").expect("answers"),
        r.try_get("status").expect("status"),
    )
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.db.pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
}

/// The raw response of a GET: status, headers, bytes.
async fn download(c: &Client, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.expect("body").to_vec())
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Posts the upload form of response `id`: the revision and the file, CSRF token in the query.
async fn upload(c: &Client, id: &str, revision: &str, bytes: &[u8]) -> Page {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"revision\"\r\n\r\n{revision}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"回答.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let resp = c
        .http
        .post(format!(
            "{}/surveys/responses/{id}/upload?csrf_token={}",
            c.base, c.csrf
        ))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let location = header(&headers, "location");
    Page {
        status,
        location,
        body: resp.text().await.unwrap_or_default(),
        headers,
    }
}

fn workbook(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook")
}

/// A sheet's cells at their places (row 0 = row 1 of the sheet, column 0 = A).
fn cells(bytes: &[u8], sheet: &str) -> Vec<Vec<Data>> {
    let range = workbook(bytes).worksheet_range(sheet).expect("sheet");
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut out = vec![Vec::new(); top as usize];
    for row in range.rows() {
        let mut r = vec![Data::Empty; left as usize];
        r.extend(row.iter().cloned());
        out.push(r);
    }
    out
}

fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::Float(f) => format!("{f}"),
        other => other.to_string(),
    }
}

/// The form's header row and its 回答 column.
fn table(rows: &[Vec<Data>]) -> (usize, usize) {
    rows.iter()
        .enumerate()
        .find_map(|(n, r)| {
            (r.first().map(text).as_deref() == Some("キー"))
                .then(|| r.iter().position(|c| text(c) == "回答"))
                .flatten()
                .map(|c| (n, c))
        })
        .expect("the form's table")
}

/// The sheet row number (as Excel shows it) of the field `key`.
fn row_of(form: &[u8], key: &str) -> usize {
    cells(form, "回答")
        .iter()
        .position(|r| r.first().map(text).as_deref() == Some(key))
        .map(|n| n + 1)
        .unwrap_or_else(|| panic!("no row for {key}"))
}

/// The downloaded form filled in as a person would in Excel: a new workbook with every cell of
/// the form where it was, and `values` typed into the 回答 column of their keys' rows.
fn fill(form: &[u8], values: &[(&str, &str)]) -> Vec<u8> {
    let rows = cells(form, "回答");
    let (_, value_col) = table(&rows);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("回答").expect("name");
    for (r, row) in rows.iter().enumerate() {
        let key = row.first().map(text).unwrap_or_default();
        for (c, cell) in row.iter().enumerate() {
            let typed = (c == value_col)
                .then(|| values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
                .flatten();
            let (r, c) = (r as u32, c as u16);
            match (typed, cell) {
                (Some(v), _) => match v.parse::<f64>() {
                    Ok(n) => ws.write_number(r, c, n).map(|_| ()),
                    Err(_) => ws.write_string(r, c, v).map(|_| ()),
                },
                (None, Data::Float(n)) => ws.write_number(r, c, *n).map(|_| ()),
                (None, Data::Empty) => Ok(()),
                (None, other) => ws.write_string(r, c, other.to_string()).map(|_| ()),
            }
            .expect("write");
        }
    }
    wb.save_to_buffer().expect("save")
}

/// A consistent response for the sheet, as people write it: はい, ○.
async fn sheet_values(app: &TestApp) -> Vec<(String, String)> {
    // The care types the seeded definition asks about.
    let standard = tsunagu_store::surveys::definitions(&app.db, "03")
        .await
        .expect("definitions")
        .into_iter()
        .find(|d| d.family == "standard")
        .expect("standard definition");
    let care: Vec<String> = tsunagu_store::surveys::definition(&app.db, "03", &standard.id)
        .await
        .expect("definition")
        .definition
        .fields()
        .into_iter()
        .filter_map(|f| f.key.strip_prefix("care.").map(str::to_string))
        .collect();
    assert!(!care.is_empty());
    let mut v: Vec<(String, String)> = Vec::new();
    for age in ["a0_2", "a3_5", "a6_11", "a12_14", "a15_17", "a18_19"] {
        for place in ["home", "hospital", "facility"] {
            let n = match (age, place) {
                ("a0_2", "home") => "3",
                ("a3_5", "home") => "2",
                ("a6_11", "home") => "4",
                ("a6_11", "hospital") => "1",
                _ => "0",
            };
            v.push((format!("age_place.{age}.{place}"), n.into()));
        }
    }
    for (i, c) in care.iter().enumerate() {
        v.push((
            format!("care.{c}"),
            if i % 2 == 0 { "6" } else { "0" }.into(),
        ));
    }
    for (k, x) in [
        ("total", "10"),
        ("nursery", "2"),
        ("kindergarten", "1"),
        ("school_regular", "1"),
        ("school_special", "3"),
        ("council", "はい"),
        ("coordinators", "2"),
        ("measures.respite", "○"),
        ("measures.transport", "1"),
        ("practice", "保育所に看護師を派遣しています"),
        ("practice.publishable", "○"),
    ] {
        v.push((k.into(), x.into()));
    }
    v
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, x)| (k.as_str(), x.as_str())).collect()
}

both!(a_form_filled_in_offline_comes_back_as_a_draft, |app| {
    let mut coordinator = app.signed_in("coordinator").await;
    let round = issue_survey_round(&app, &mut coordinator, "", 30).await;
    let id = survey_response_id(&app, &round, MORIOKA).await;
    let mut municipal = app.signed_in("municipal").await;
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rev = survey_revision(&page.body);

    // The form: one sheet, the instructions, the municipality, a row per field.
    let (status, headers, form) =
        download(&municipal, &format!("/surveys/responses/{id}/form.xlsx")).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").contains("spreadsheetml"));
    let cd = header(&headers, "content-disposition");
    assert!(
        cd.contains("filename*=UTF-8''") && cd.contains("%E7%9B%9B%E5%B2%A1%E5%B8%82"),
        "UTF-8 file name with 盛岡市: {cd}"
    );
    assert_eq!(workbook(&form).sheet_names(), ["回答"]);
    let all: Vec<String> = cells(&form, "回答").iter().flatten().map(text).collect();
    for expected in [
        "盛岡市（032018）",
        "医療的ケア児の総数",
        "年齢別・居場所別の人数 0〜2歳 在宅",
        "total",
        "「はい」か「いいえ」",
    ] {
        assert!(
            all.iter().any(|c| c.contains(expected)),
            "form lacks {expected}"
        );
    }
    assert!(all.iter().any(|c| c.contains("0 を入力")), "says 0 if none");

    // Filled in and uploaded: a draft with the values, in the history.
    let values = sheet_values(&app).await;
    let filled = fill(&form, &pairs(&values));
    let p = upload(&municipal, &id, &rev, &filled).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location, format!("/surveys/responses/{id}"));
    let page = municipal.get(&p.location).await;
    page.assert_contains("下書きとして取り込みました");
    page.assert_contains("入力中");
    page.assert_contains("id=\"f-total\" name=\"total\" type=\"text\" inputmode=\"numeric\" class=\"input-count\" value=\"10\"");
    page.assert_contains("value=\"yes\" checked");
    page.assert_contains("保育所に看護師を派遣しています");
    page.assert_contains("Excel から取り込み");
    let (answers, status) = stored_answers(&app, &id).await;
    assert_eq!(status, "draft");
    for expected in [
        "\"total\":\"10\"",
        "\"council\":\"yes\"",
        "\"measures.respite\":\"1\"",
        "\"measures.transport\":\"1\"",
        "\"practice.publishable\":\"1\"",
    ] {
        assert!(answers.contains(expected), "{expected} in {answers}");
    }
    assert!(!answers.contains("measures.supplies"), "{answers}");
    assert_eq!(audit_count(&app, "survey_response.upload").await, 1);

    // Downloaded again, the form holds the answers: counts as numbers, はい, ○.
    let (_, _, again) = download(&municipal, &format!("/surveys/responses/{id}/form.xlsx")).await;
    let rows = cells(&again, "回答");
    let (_, value_col) = table(&rows);
    let value = |key: &str| {
        rows.iter()
            .find(|r| r.first().map(text).as_deref() == Some(key))
            .and_then(|r| r.get(value_col).cloned())
            .unwrap_or(Data::Empty)
    };
    assert_eq!(value("total"), Data::Float(10.0));
    assert_eq!(value("council"), Data::String("はい".into()));
    assert_eq!(value("measures.respite"), Data::String("○".into()));
    assert_eq!(value("measures.supplies"), Data::Empty);

    // The uploaded draft passes the submission check as it is.
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    let rev = survey_revision(&page.body);
    let mut form: Vec<(String, String)> = values
        .iter()
        .map(|(k, v)| {
            let v = match v.as_str() {
                "はい" => "yes",
                "○" => "1",
                other => other,
            };
            (k.clone(), v.to_string())
        })
        .collect();
    form.push(("revision".into(), rev));
    form.push(("intent".into(), "submit".into()));
    let p = municipal
        .post(&format!("/surveys/responses/{id}"), &pairs(&form))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // Submitted: an upload no longer changes it.
    let p = upload(&municipal, &id, "0", &filled).await;
    assert_eq!(p.status, 409);
    p.assert_contains("提出済みまたは承認済みのため");
    assert_eq!(stored_answers(&app, &id).await.1, "submitted");
});

both!(a_bad_value_names_its_row_and_changes_nothing, |app| {
    let mut coordinator = app.signed_in("coordinator").await;
    let round = issue_survey_round(&app, &mut coordinator, "", 30).await;
    let id = survey_response_id(&app, &round, MORIOKA).await;
    let mut municipal = app.signed_in("municipal").await;
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    let rev = survey_revision(&page.body);
    let (_, _, form) = download(&municipal, &format!("/surveys/responses/{id}/form.xlsx")).await;

    // A first upload stores 5.
    let p = upload(&municipal, &id, &rev, &fill(&form, &[("total", "5")])).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let before = stored_answers(&app, &id).await;
    assert!(before.0.contains("\"total\":\"5\""), "{}", before.0);
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    let rev = survey_revision(&page.body);

    // A word in a count and an unknown yes/no: both rows named, nothing stored.
    let bad = fill(&form, &[("total", "たくさん"), ("council", "たぶん")]);
    let p = upload(&municipal, &id, &rev, &bad).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.assert_contains(&format!(
        "{}行目（医療的ケア児の総数）：",
        row_of(&form, "total")
    ));
    p.assert_contains(&format!(
        "{}行目（医療的ケア児の支援に関する協議の場を設置している）：",
        row_of(&form, "council")
    ));
    p.assert_contains("取り込んでいません");
    p.assert_contains("value=\"たくさん\"");
    assert_eq!(stored_answers(&app, &id).await, before);

    // Files that are not the form: a clear message, nothing lost.
    let p = upload(&municipal, &id, &rev, "番号,値\r\n1,2\r\n".as_bytes()).await;
    assert_eq!(p.status, 422);
    p.assert_contains("Excel ファイル（.xlsx）ではありません");
    p.assert_contains("value=\"5\"");
    let mut other = rust_xlsxwriter::Workbook::new();
    other
        .add_worksheet()
        .set_name("Sheet1")
        .expect("name")
        .write_string(0, 0, "total")
        .expect("write");
    let p = upload(
        &municipal,
        &id,
        &rev,
        &other.save_to_buffer().expect("save"),
    )
    .await;
    assert_eq!(p.status, 422);
    p.assert_contains("「回答」という名前のワークシートがありません");
    let p = upload(&municipal, &id, &rev, b"").await;
    assert_eq!(p.status, 422);
    p.assert_contains("取り込む Excel ファイルを選んでください");
    assert_eq!(stored_answers(&app, &id).await, before);

    // Another municipality's form is refused even when the center hands it over.
    let miyako = survey_response_id(&app, &round, MIYAKO).await;
    let (status, _, miyako_form) = download(
        &coordinator,
        &format!("/surveys/responses/{miyako}/form.xlsx"),
    )
    .await;
    assert_eq!(status, 200);
    let p = upload(
        &municipal,
        &id,
        &rev,
        &fill(&miyako_form, &[("total", "7")]),
    )
    .await;
    assert_eq!(p.status, 422);
    p.assert_contains("別の回答");
    assert_eq!(stored_answers(&app, &id).await, before);

    // Rows with keys the survey does not have are left out and reported.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("回答").expect("name");
    for (c, h) in ["キー", "設問", "回答"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("write");
    }
    ws.write_string(1, 0, "total").expect("write");
    ws.write_number(1, 2, 6.0).expect("write");
    ws.write_string(2, 0, "no_such_item").expect("write");
    ws.write_string(2, 2, "1").expect("write");
    let p = upload(&municipal, &id, &rev, &wb.save_to_buffer().expect("save")).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = municipal.get(&p.location).await;
    page.assert_contains("3行目（no_such_item）");
    let after = stored_answers(&app, &id).await.0;
    assert!(after.contains("\"total\":\"6\""), "{after}");
    assert!(!after.contains("no_such_item"), "{after}");
});

both!(
    an_officer_never_reaches_another_municipality_s_form,
    |app| {
        let mut coordinator = app.signed_in("coordinator").await;
        let round = issue_survey_round(&app, &mut coordinator, "", 30).await;
        let miyako = survey_response_id(&app, &round, MIYAKO).await;
        let municipal = app.signed_in("municipal").await;
        let (status, _, _) = download(
            &municipal,
            &format!("/surveys/responses/{miyako}/form.xlsx"),
        )
        .await;
        assert_eq!(status, 404);
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().set_name("回答").expect("name");
        let p = upload(
            &municipal,
            &miyako,
            "0",
            &wb.save_to_buffer().expect("save"),
        )
        .await;
        assert_eq!(p.status, 404);
        assert_eq!(stored_answers(&app, &miyako).await.1, "not_started");
        // Nor the center's exports.
        let (status, _, _) =
            download(&municipal, &format!("/surveys/rounds/{round}/export.csv")).await;
        assert_eq!(status, 403);
        let (status, _, _) =
            download(&municipal, &format!("/surveys/rounds/{round}/export.xlsx")).await;
        assert_eq!(status, 403);
    }
);

both!(a_round_exports_one_row_per_municipality, |app| {
    let mut coordinator = app.signed_in("coordinator").await;
    let round = issue_survey_round(&app, &mut coordinator, "", 30).await;
    let id = survey_response_id(&app, &round, MORIOKA).await;
    let mut municipal = app.signed_in("municipal").await;
    let page = municipal.get(&format!("/surveys/responses/{id}")).await;
    let rev = survey_revision(&page.body);
    let (_, _, form) = download(&municipal, &format!("/surveys/responses/{id}/form.xlsx")).await;
    let p = upload(
        &municipal,
        &id,
        &rev,
        &fill(&form, &[("total", "12"), ("council", "いいえ")]),
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // CSV in Shift_JIS: Japanese headers and names, one line per municipality.
    let (status, headers, body) = download(
        &coordinator,
        &format!("/surveys/rounds/{round}/export.csv?encoding=sjis"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").contains("Shift_JIS"));
    assert!(header(&headers, "content-disposition").contains("filename*=UTF-8''"));
    assert!(!body.starts_with(b"\xEF\xBB\xBF"));
    let (csv, _, malformed) = encoding_rs::SHIFT_JIS.decode(&body);
    assert!(!malformed);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("市町村コード,市町村名,圏域,状態"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("医療的ケア児の総数"));
    assert!(
        lines[0].contains("年齢別・居場所別の人数 0～2歳 在宅"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("032018,盛岡市,"), "{}", lines[1]);
    assert!(
        lines[1].contains(",入力中,") && lines[1].contains(",12,") && lines[1].contains(",いいえ,")
    );
    assert!(lines[2].starts_with("032026,宮古市,"), "{}", lines[2]);
    assert!(lines[2].contains(",未着手,"));

    // UTF-8 with a BOM by default.
    let (_, headers, body) =
        download(&coordinator, &format!("/surveys/rounds/{round}/export.csv")).await;
    assert!(header(&headers, "content-type").contains("utf-8"));
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    assert!(String::from_utf8_lossy(&body).contains("医療的ケア児の総数"));

    // xlsx: a status sheet and a sheet per section, a row per municipality, numbers as numbers.
    let (status, headers, body) = download(
        &coordinator,
        &format!("/surveys/rounds/{round}/export.xlsx"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").contains("spreadsheetml"));
    let names = workbook(&body).sheet_names();
    assert_eq!(names.len(), 7, "{names:?}");
    assert_eq!(names[0], "回答状況");
    assert_eq!(names[1], "1 医療的ケア児の人数");
    let status_rows = cells(&body, "回答状況");
    assert_eq!(status_rows.len(), 3);
    assert_eq!(text(&status_rows[1][0]), MORIOKA);
    assert_eq!(text(&status_rows[1][3]), "入力中");
    assert_eq!(text(&status_rows[2][1]), "宮古市");
    let children = cells(&body, "1 医療的ケア児の人数");
    assert_eq!(children.len(), 3);
    let total_col = children[0]
        .iter()
        .position(|c| text(c) == "医療的ケア児の総数")
        .expect("total column");
    assert_eq!(children[1][total_col], Data::Float(12.0));
    assert_eq!(
        children[2].get(total_col).cloned().unwrap_or(Data::Empty),
        Data::Empty
    );
    let system = cells(&body, "4 市町村の体制");
    assert!(system[1].contains(&Data::String("いいえ".into())));

    assert_eq!(audit_count(&app, "survey_round.export").await, 3);
});

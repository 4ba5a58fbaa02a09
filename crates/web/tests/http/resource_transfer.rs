//! Importing and exporting the resource directory: export → import changes nothing (UTF-8,
//! Shift_JIS with its edge characters, Excel), a file with bad rows is previewed with each
//! row's errors and imports nothing, the commit checks again, re-importing updates instead of
//! duplicating, the HSDS 3.0 JSON is valid and public-only, and only managers may do any of it.

use serde_json::Value;
use tsunagu_store::audit::AuditCtx;
use tsunagu_store::resource_transfer as transfer;
use tsunagu_store::resources::{self, CareTypeNote, ResourceInput, Viewer};
use tsunagu_store::{Db, Row};

use crate::both;
use crate::support::*;

const BOUNDARY: &str = "----tsunagu-test-7d9f3a";

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
    let body = resp.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

/// Uploads `bytes` as the form's file (multipart, CSRF token in the query string).
async fn upload(c: &Client, filename: &str, bytes: &[u8]) -> Page {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let resp = c
        .http
        .post(format!("{}/resources/import?csrf_token={}", c.base, c.csrf))
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
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Page {
        status,
        location,
        body: resp.text().await.unwrap_or_default(),
        headers,
    }
}

/// Uploads and opens the preview; returns the upload id and the preview page.
async fn preview(c: &mut Client, filename: &str, bytes: &[u8]) -> (String, Page) {
    let up = upload(c, filename, bytes).await;
    assert_eq!(up.status, 303, "upload refused: {}", up.body);
    let id = up
        .location
        .strip_prefix("/resources/import/")
        .expect("preview url")
        .to_string();
    let page = c.get(&up.location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (id, page)
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no hidden {name}"));
    body[start..start + body[start..].find('"').expect("quote")].to_string()
}

/// Posts the commit form of a preview (with the sha256 the preview carried, or `sha`).
async fn commit(c: &mut Client, id: &str, sha: &str) -> Page {
    c.post(
        &format!("/resources/import/{id}/commit"),
        &[("sha256", sha)],
    )
    .await
}

const COMMIT_BUTTON: &str = ">取り込む</button>";

async fn count(db: &Db) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM resources")
        .fetch_one(db.pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
}

async fn audit_count(db: &Db, action: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(db.pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
}

/// Every resource as stored, ids, timestamps and all.
async fn snapshot(db: &Db) -> Value {
    serde_json::to_value(transfer::stored(db).await.expect("stored")).expect("json")
}

async fn category(db: &Db, code: &str) -> String {
    resources::category_by_code(db, code)
        .await
        .expect("category")
        .expect("exists")
        .id
}

/// The header row of the file layout, as CSV.
fn header_line() -> String {
    transfer::headers().join(",")
}

/// A CSV line with `cells` put in their columns (by header), the rest empty.
fn line(cells: &[(&str, &str)]) -> String {
    transfer::headers()
        .iter()
        .map(|h| {
            cells
                .iter()
                .find(|(k, _)| k == h)
                .map(|(_, v)| {
                    if v.contains([',', '"', '\n']) {
                        format!("\"{}\"", v.replace('"', "\"\""))
                    } else {
                        v.to_string()
                    }
                })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn csv(lines: &[String]) -> String {
    let mut s = header_line();
    s.push_str("\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s
}

both!(a_utf8_export_imports_back_unchanged, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let exports_before = audit_count(&app.db, "resource.export").await;
    let (status, headers, bytes) = download(&coord, "/resources/export.csv?enc=utf8").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment; filename=\"resources-"))
    );
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = std::str::from_utf8(&bytes[3..]).expect("utf-8");
    assert!(text.starts_with(&format!("{}\r\n", header_line())));
    assert_eq!(
        audit_count(&app.db, "resource.export").await,
        exports_before + 1
    );
    // Internal fields are in the manager's export; retired entries are not.
    let r01 = resources::find_by_external_id(&app.db, "demo-r01")
        .await
        .expect("find")
        .expect("r01");
    let stored = resources::get(
        &app.db,
        Viewer::Staff {
            internals: true,
            manage: true,
        },
        &r01,
    )
    .await
    .expect("get");
    assert!(text.contains(&stored.internal_note));
    assert!(
        !text.contains("demo-r09"),
        "retired entries are not exported"
    );
    let current = transfer::export_list(
        &app.db,
        Viewer::Staff {
            internals: true,
            manage: true,
        },
    )
    .await
    .expect("list")
    .len();

    let before = snapshot(&app.db).await;
    let n = count(&app.db).await;
    let (id, page) = preview(&mut coord, "resources.csv", &bytes).await;
    page.assert_contains("CSV（UTF-8・BOM付き）");
    page.assert_contains(&format!(
        "{current}行（新規 0件・更新 0件・変更なし {current}件・エラー 0行）"
    ));
    page.assert_contains("登録・更新する行はありません");
    assert!(!page.body.contains(COMMIT_BUTTON));
    // Committing anyway changes nothing at all.
    let sha = hidden_sha(&app, &id).await;
    let done = commit(&mut coord, &id, &sha).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(count(&app.db).await, n);
    assert_eq!(snapshot(&app.db).await, before);
});

/// The stored SHA-256 of an upload (the preview shows it only with a commit button).
async fn hidden_sha(app: &TestApp, id: &str) -> String {
    sqlx::query("SELECT sha256 FROM resource_imports WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .expect("upload")
        .try_get("sha256")
        .expect("sha")
}

both!(shift_jis_round_trips_the_edge_characters, |app| {
    let nursing = category(&app.db, "home_nursing").await;
    let input = ResourceInput {
        external_id: Some("sjis-1".into()),
        category_id: nursing,
        provider_name: "髙橋会（デモ）".into(),
        name: "髙橋〜訪問看護①".into(),
        description: "受付 9:00〜17:00 ‖ 祝日¬営業 ① 髙".into(),
        hours: "平日〜土曜".into(),
        internal_note: "=内部‖メモ〜".into(),
        care_types: vec![CareTypeNote {
            code: "ventilator".into(),
            note: "夜間〜早朝は要相談、週末不可".into(),
        }],
        service_area: vec!["032018".into()],
        is_public: true,
        ..ResourceInput::default()
    };
    let mut tx = app.db.begin().await.expect("tx");
    let rid = resources::save(&mut tx, &AuditCtx::system("test"), None, &input)
        .await
        .expect("save");
    tx.commit().await.expect("commit");

    let mut coord = app.signed_in("coordinator").await;
    let (status, headers, bytes) = download(&coord, "/resources/export.csv?enc=sjis").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=Shift_JIS")
    );
    assert!(
        !bytes.windows(2).any(|w| w == b"&#"),
        "no character references"
    );
    let (decoded, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(&bytes);
    assert!(!had_errors, "the export is valid Shift_JIS");
    // 〜 is written as 0x8160 and reads back as ～; the others read back as themselves or
    // their Shift_JIS form.
    assert!(decoded.contains("髙橋\u{FF5E}訪問看護①"), "{decoded}");
    assert!(decoded.contains("受付 9:00\u{FF5E}17:00 \u{2225} 祝日\u{FFE2}営業 ① 髙"));
    assert!(decoded.contains("'=内部"), "formula neutralised");

    let before = snapshot(&app.db).await;
    let (_, page) = preview(&mut coord, "sjis.csv", &bytes).await;
    page.assert_contains("CSV（Shift_JIS）");
    page.assert_contains("エラー 0行");
    page.assert_contains("新規 0件・更新 0件");
    // Importing the file as it is keeps every character the records had.
    let text = decoded.replace("\r\n", "\n");
    // Change one cell of that row only (the phone); the other cells must keep 〜.
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("sjis-1,") {
                let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
                let phone = transfer::headers()
                    .iter()
                    .position(|h| *h == "電話番号")
                    .expect("phone column");
                cells[phone] = "019-000-4321".into();
                cells.join(",")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let edited_bytes = tsunagu_domain::csv_import::encode_shift_jis(&edited);
    let (id, page) = preview(&mut coord, "sjis-edited.csv", &edited_bytes).await;
    page.assert_contains("新規 0件・更新 1件");
    page.assert_contains("変わる列：電話番号");
    page.assert_contains(COMMIT_BUTTON);
    let done = commit(&mut coord, &id, &hidden(&page.body, "sha256")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = resources::get(
        &app.db,
        Viewer::Staff {
            internals: true,
            manage: true,
        },
        &rid,
    )
    .await
    .expect("get");
    assert_eq!(after.phone, "019-000-4321");
    assert_eq!(after.name, input.name);
    assert_eq!(after.provider_name, input.provider_name);
    assert_eq!(after.description, input.description);
    assert_eq!(after.hours, input.hours);
    assert_eq!(after.internal_note, input.internal_note);
    assert_eq!(after.care_types[0].note, "夜間〜早朝は要相談、週末不可");
    // Nothing else changed.
    let mut expected = before;
    let mut now = snapshot(&app.db).await;
    for v in [&mut expected, &mut now] {
        for s in v.as_array_mut().expect("array") {
            if s["id"] == Value::String(rid.clone()) {
                s["input"]["phone"] = Value::Null;
                s["updated_at"] = Value::Null;
            }
        }
    }
    assert_eq!(now, expected);
});

both!(a_shift_jis_file_with_two_bad_rows_imports_nothing, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let file = csv(&[
        line(&[
            ("外部ID", "bad-0"),
            ("種別", "訪問看護"),
            ("事業者名", "正しい法人（デモ）"),
            ("サービス名", "正しい〜事業所"),
            ("公開", "公開"),
        ]),
        line(&[
            ("外部ID", "bad-1"),
            ("種別", "空飛ぶ施設"),
            ("事業者名", "髙橋会（デモ）"),
            ("サービス名", "①番館"),
        ]),
        line(&[
            ("外部ID", "bad-2"),
            ("種別", "訪問看護"),
            ("事業者名", "法人（デモ）"),
            ("サービス名", "年齢が逆"),
            ("電話番号", "12-34"),
            ("対象年齢（下限）", "10"),
            ("対象年齢（上限）", "3"),
        ]),
    ]);
    let bytes = tsunagu_domain::csv_import::encode_shift_jis(&file);
    assert!(std::str::from_utf8(&bytes).is_err(), "really Shift_JIS");
    let n = count(&app.db).await;
    let before = snapshot(&app.db).await;
    let (id, page) = preview(&mut coord, "bad.csv", &bytes).await;
    page.assert_contains("CSV（Shift_JIS）");
    page.assert_contains("エラーのある行が2行あります");
    page.assert_contains("<th scope=\"col\">エラー</th>");
    page.assert_contains("種別：「空飛ぶ施設」という種別はありません");
    page.assert_contains("電話番号：");
    page.assert_contains("対象年齢（上限）：");
    page.assert_contains("①番館");
    // A new record keeps what Shift_JIS decoding gives: 0x8160 is ～ (U+FF5E).
    page.assert_contains("正しい\u{FF5E}事業所");
    assert!(!page.body.contains(COMMIT_BUTTON), "no commit button");
    // Posting the commit anyway is refused, and nothing is imported.
    let refused = commit(&mut coord, &id, &hidden_sha(&app, &id).await).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("何も取り込んでいません");
    refused.assert_contains("種別：「空飛ぶ施設」という種別はありません");
    assert_eq!(count(&app.db).await, n);
    assert_eq!(snapshot(&app.db).await, before);
    assert_eq!(audit_count(&app.db, "resource.import").await, 0);
});

both!(the_commit_checks_every_row_again, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let r01 = resources::find_by_external_id(&app.db, "demo-r01")
        .await
        .expect("find")
        .expect("r01");
    let file = csv(&[
        line(&[
            ("外部ID", "again-1"),
            ("種別", "訪問看護"),
            ("事業者名", "法人（デモ）"),
            ("サービス名", "新しい事業所A"),
        ]),
        line(&[
            ("外部ID", "again-2"),
            ("種別", "訪問看護"),
            ("事業者名", "法人（デモ）"),
            ("サービス名", "新しい事業所B"),
        ]),
    ]);
    // And an update of a demo resource: only its phone (the columns left out are kept).
    let update = "外部ID,電話番号\r\ndemo-r01,019-000-9999\r\n";
    let n = count(&app.db).await;
    let (id, page) = preview(&mut coord, "new.csv", file.as_bytes()).await;
    page.assert_contains("新規 2件");
    page.assert_contains(COMMIT_BUTTON);
    let (id2, page2) = preview(&mut coord, "update.csv", update.as_bytes()).await;
    page2.assert_contains("更新 1件");
    page2.assert_contains("ファイルにない列");
    // After the preview the category is renamed: the file's category no longer exists.
    let nursing = category(&app.db, "home_nursing").await;
    let mut tx = app.db.begin().await.expect("tx");
    resources::rename_category(
        &mut tx,
        &AuditCtx::system("test"),
        &nursing,
        "訪問看護（改称）",
    )
    .await
    .expect("rename");
    tx.commit().await.expect("commit");
    let before = snapshot(&app.db).await;
    let refused = commit(&mut coord, &id, &hidden(&page.body, "sha256")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("エラーのある行ができました");
    refused.assert_contains("「訪問看護」という種別はありません");
    assert!(!refused.body.contains(COMMIT_BUTTON));
    assert_eq!(count(&app.db).await, n);
    assert_eq!(snapshot(&app.db).await, before);
    // A forged hash is refused too.
    let forged = commit(&mut coord, &id2, "0000").await;
    assert_eq!(forged.status, 422);
    forged.assert_contains("確認したファイルと違います");
    assert_ne!(
        resources::get(
            &app.db,
            Viewer::Staff {
                internals: true,
                manage: true
            },
            &r01
        )
        .await
        .expect("get")
        .phone,
        "019-000-9999"
    );
    // The update file is still fine and goes in, keeping the columns it lacks.
    let old = resources::get(
        &app.db,
        Viewer::Staff {
            internals: true,
            manage: true,
        },
        &r01,
    )
    .await
    .expect("get");
    let ok = commit(&mut coord, &id2, &hidden(&page2.body, "sha256")).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let new = resources::get(
        &app.db,
        Viewer::Staff {
            internals: true,
            manage: true,
        },
        &r01,
    )
    .await
    .expect("get");
    assert_eq!(new.phone, "019-000-9999");
    assert_eq!(new.internal_note, old.internal_note);
    assert_eq!(new.name, old.name);
});

both!(re_importing_updates_instead_of_duplicating, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let n = count(&app.db).await;
    let first = csv(&[
        line(&[
            ("外部ID", "imp-1"),
            ("種別", "訪問看護"),
            ("事業者名", "取込法人（デモ）"),
            ("サービス名", "取込ステーション1"),
            ("電話番号", "019-000-1111"),
            ("空き状況", "空きあり"),
            (
                "対応できる医療的ケア",
                "人工呼吸器の管理:夜間は要相談、週末不可;suction",
            ),
            ("サービス提供地域", "032018、03206"),
            ("市町村コード", "32018"),
            ("公開", "公開"),
            ("最終確認日", "2026/4/1"),
        ]),
        line(&[
            ("外部ID", "imp-2"),
            ("種別", "訪問看護"),
            ("事業者名", "取込法人（デモ）"),
            ("サービス名", "=取込ステーション2"),
        ]),
        line(&[
            ("種別", "訪問看護"),
            ("事業者名", "取込法人（デモ）"),
            ("サービス名", "外部IDのない事業所"),
        ]),
    ]);
    let (id, page) = preview(&mut coord, "first.csv", first.as_bytes()).await;
    page.assert_contains("新規 3件");
    page.assert_contains("外部IDを割り当てます");
    let sha = hidden(&page.body, "sha256");
    let done = commit(&mut coord, &id, &sha).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, "/resources");
    assert_eq!(count(&app.db).await, n + 3);
    assert_eq!(audit_count(&app.db, "resource.import").await, 1);
    // The same upload cannot be committed twice.
    let twice = commit(&mut coord, &id, &sha).await;
    assert_eq!(twice.status, 409, "{}", twice.body);
    twice.assert_contains("すでに取り込みました");
    assert_eq!(count(&app.db).await, n + 3);

    let staff = Viewer::Staff {
        internals: true,
        manage: true,
    };
    let id1 = resources::find_by_external_id(&app.db, "imp-1")
        .await
        .expect("find")
        .expect("imp-1");
    let r = resources::get(&app.db, staff, &id1).await.expect("get");
    assert_eq!(r.availability, resources::Availability::Available);
    assert_eq!(r.municipality_code6.as_deref(), Some("032018"));
    assert_eq!(
        r.service_area
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>(),
        ["032018", "032069"]
    );
    let vent = r
        .care_types
        .iter()
        .find(|c| c.code == "ventilator")
        .expect("ventilator");
    assert_eq!(vent.note, "夜間は要相談、週末不可");
    assert!(r.care_types.iter().any(|c| c.code == "suction"));
    assert_eq!(r.last_verified_on.as_deref(), Some("2026-04-01"));
    assert!(r.is_public);
    let id2 = resources::find_by_external_id(&app.db, "imp-2")
        .await
        .expect("find")
        .expect("imp-2");
    let r2 = resources::get(&app.db, staff, &id2).await.expect("get");
    assert_eq!(r2.name, "=取込ステーション2");
    assert!(!r2.is_public, "an empty 公開 is 非公開");

    // The same rows again, one changed: an update, not a duplicate.
    let second = first.replace("019-000-1111", "019-000-2222");
    let second: String = second
        .lines()
        .filter(|l| !l.contains("外部IDのない事業所"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let (id, page) = preview(&mut coord, "second.csv", second.as_bytes()).await;
    page.assert_contains("新規 0件・更新 1件・変更なし 1件");
    page.assert_contains("変わる列：電話番号");
    let done = commit(&mut coord, &id, &hidden(&page.body, "sha256")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(count(&app.db).await, n + 3);
    let r = resources::get(&app.db, staff, &id1).await.expect("get");
    assert_eq!(r.phone, "019-000-2222");
    // The history shows the import's change like any edit.
    let history = resources::history(&app.db, &id1).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.action == "resource.update" && h.changes.iter().any(|c| c.field == "phone"))
    );
});

both!(an_excel_export_imports_back_unchanged, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let (status, headers, bytes) = download(&coord, "/resources/export.xlsx").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let rows = tsunagu_web::xlsx::read_first_sheet(
        &bytes,
        &tsunagu_domain::csv_import::TableLimits::IMPORT,
    )
    .expect("workbook");
    assert_eq!(rows[0], transfer::headers());
    // Codes keep their leading zero.
    assert!(
        rows.iter().skip(1).any(|r| r[5] == "032018"),
        "{:?}",
        rows[1]
    );
    let before = snapshot(&app.db).await;
    let (id, page) = preview(&mut coord, "resources.xlsx", &bytes).await;
    page.assert_contains("Excel（.xlsx）");
    page.assert_contains("新規 0件・更新 0件");
    page.assert_contains("エラー 0行");
    let done = commit(&mut coord, &id, &hidden_sha(&app, &id).await).await;
    assert_eq!(done.status, 303);
    assert_eq!(snapshot(&app.db).await, before);

    // A workbook someone typed: a new row, numbers as numbers.
    let book = tsunagu_web::xlsx::write(&[tsunagu_web::xlsx::Sheet {
        name: "一覧",
        headers: vec![
            "外部ID".into(),
            "種別".into(),
            "事業者名".into(),
            "サービス名".into(),
            "対象年齢（上限）".into(),
            "市町村コード".into(),
        ],
        rows: vec![vec![
            tsunagu_web::xlsx::Cell::from("xl-1"),
            tsunagu_web::xlsx::Cell::from("訪問看護"),
            tsunagu_web::xlsx::Cell::from("表計算法人（デモ）"),
            tsunagu_web::xlsx::Cell::from("エクセル事業所"),
            tsunagu_web::xlsx::Cell::from(18),
            tsunagu_web::xlsx::Cell::Number(32018.0),
        ]],
    }])
    .expect("write");
    let (id, page) = preview(&mut coord, "typed.xlsx", &book).await;
    page.assert_contains("新規 1件");
    let done = commit(&mut coord, &id, &hidden(&page.body, "sha256")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let rid = resources::find_by_external_id(&app.db, "xl-1")
        .await
        .expect("find")
        .expect("xl-1");
    let r = resources::get(
        &app.db,
        Viewer::Staff {
            internals: true,
            manage: true,
        },
        &rid,
    )
    .await
    .expect("get");
    assert_eq!(r.age_max, Some(18));
    assert_eq!(r.municipality_code6.as_deref(), Some("032018"));
});

both!(files_that_cannot_be_read_are_refused_on_the_form, |app| {
    let coord = app.signed_in("coordinator").await;
    for (name, bytes, message) in [
        ("empty.csv", &b""[..], "ファイルが空です"),
        ("binary.csv", &b"\x82\xA0\x82\xFF\xFF\x00"[..], "文字コード"),
        (
            "old.xls",
            &b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..],
            "（.xls）は読めません",
        ),
        ("other.csv", &b"name,age\r\nx,1\r\n"[..], "見出し"),
        ("broken.xlsx", &b"PK\x03\x04garbage"[..], "Excelファイル"),
    ] {
        let p = upload(&coord, name, bytes).await;
        assert_eq!(p.status, 422, "{name}: {}", p.body);
        p.assert_contains(message);
        p.assert_contains("aria-invalid=\"true\"");
    }
    // Without the token in the URL the upload is refused as a cross-site request.
    let resp = coord
        .http
        .post(format!("{}/resources/import", coord.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(format!("--{BOUNDARY}--\r\n"))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 403);
});

both!(only_managers_import_and_export, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let page = coord.get("/resources").await;
    page.assert_contains("href=\"/resources/import\"");
    let form = coord.get("/resources/import").await;
    assert_eq!(form.status, 200);
    form.assert_contains("<label for=\"file\">ファイル");
    form.assert_contains(">確認する</button>");
    form.assert_contains("enctype=\"multipart/form-data\"");
    form.assert_contains("対応できる医療的ケア");
    let (id, _) = preview(
        &mut coord,
        "x.csv",
        csv(&[line(&[
            ("種別", "訪問看護"),
            ("事業者名", "a"),
            ("サービス名", "b"),
        ])])
        .as_bytes(),
    )
    .await;
    for login in ["municipal", "viewer", "hospital"] {
        let mut c = app.signed_in(login).await;
        for path in [
            "/resources/import",
            "/resources/export.csv?enc=utf8",
            "/resources/export.csv?enc=sjis",
            "/resources/export.xlsx",
            &format!("/resources/import/{id}"),
        ] {
            assert_eq!(c.get(path).await.status, 403, "{login} {path}");
        }
        let up = upload(&c, "x.csv", b"a,b\r\n").await;
        assert_eq!(up.status, 403, "{login}");
        let post = commit(&mut c, &id, "x").await;
        assert_eq!(post.status, 403, "{login}");
        assert!(!c.get("/resources").await.body.contains("/resources/import"));
    }
    // Another manager cannot open someone else's upload.
    let mut pref = app.signed_in("pref").await;
    assert_eq!(
        pref.get(&format!("/resources/import/{id}")).await.status,
        404
    );
    let anon = app.client();
    let (status, _, _) = download(&anon, "/resources/export.csv").await;
    assert_eq!(status, 303, "anonymous users are sent to sign in");
});

// ---------------------------------------------------------------------------------------------
// HSDS 3.0

/// Checks `v` against a JSON Schema of the kind HSDS publishes: `type`, `required`,
/// `properties` (no others allowed), `items`, `enum`, `format` (uuid, date-time, email, uri).
fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let ty = schema.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        Some("string") => v.is_string(),
        Some("number") => v.is_number(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("boolean") => v.is_boolean(),
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        _ => true,
    };
    if !type_ok {
        errors.push(format!("{path}: expected {ty:?}, found {v}"));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{path}: {v} is not one of {options:?}"));
    }
    if let (Some(format), Some(s)) = (schema.get("format").and_then(Value::as_str), v.as_str())
        && !format_ok(format, s)
    {
        errors.push(format!("{path}: {s:?} is not a {format}"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(r) {
                errors.push(format!("{path}: missing required {r}"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, val, &format!("{path}.{k}"), errors),
                None => errors.push(format!("{path}: {k} is not in the schema")),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(items, x, &format!("{path}[{i}]"), errors);
        }
    }
}

fn format_ok(format: &str, s: &str) -> bool {
    match format {
        "uuid" => {
            s.len() == 36
                && s.char_indices().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        }
        "date-time" => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        }
        "email" => s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
        "uri" => s.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty() && !rest.is_empty() && !s.contains(' ')
        }),
        _ => true,
    }
}

fn service_schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/hsds/service.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("schema")
}

#[test]
fn the_schema_check_finds_what_is_wrong() {
    let schema = service_schema();
    let mut errors = Vec::new();
    let bad = serde_json::json!({
        "id": "not-a-uuid",
        "status": "open",
        "minimum_age": "3",
        "phones": [{"id": "00000000-0000-8000-8000-000000000000"}],
        "colour": "blue",
    });
    check(&schema, &bad, "service", &mut errors);
    let text = errors.join("\n");
    for expected in [
        "service.id: \"not-a-uuid\" is not a uuid",
        "missing required name",
        "service.status",
        "service.minimum_age: expected",
        "service.phones[0]: missing required number",
        "colour is not in the schema",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

both!(the_hsds_export_is_valid_and_public_only, |app| {
    let anon = app.client();
    let (status, headers, bytes) = download(&anon, "/directory/hsds.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8")
    );
    let body = String::from_utf8(bytes).expect("utf-8");
    let doc: Value = serde_json::from_str(&body).expect("json");
    let services = doc.as_array().expect("an array of services");
    let public = transfer::export_list(&app.db, Viewer::Public)
        .await
        .expect("list");
    assert_eq!(services.len(), public.len());
    assert!(services.len() > 30);
    // No internal text of any resource, and no entry that is not public.
    for s in transfer::stored(&app.db).await.expect("stored") {
        for secret in [&s.input.internal_note, &s.input.direct_line] {
            if !secret.is_empty() {
                assert!(!body.contains(secret.as_str()), "leaked: {secret}");
            }
        }
        if !s.input.is_public || s.retired {
            assert!(!body.contains(&s.id), "{} is not public", s.id);
        }
    }
    let schema = service_schema();
    let mut errors = Vec::new();
    for (i, svc) in services.iter().enumerate() {
        check(&schema, svc, &format!("service[{i}]"), &mut errors);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // What a consumer looks for: organization, address, areas, care types.
    let r01 = resources::find_by_external_id(&app.db, "demo-r01")
        .await
        .expect("find")
        .expect("r01");
    let svc = services
        .iter()
        .find(|s| s["id"] == Value::String(r01.clone()))
        .expect("r01 in the export");
    assert!(
        svc["organization"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    let address = &svc["service_at_locations"][0]["location"]["addresses"][0];
    assert_eq!(address["country"], "JP");
    assert_eq!(address["city"], "盛岡市");
    assert_eq!(address["state_province"], "岩手県");
    assert!(
        svc["service_areas"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    let care: Vec<&Value> = svc["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .filter(|a| a["taxonomy_term"]["taxonomy"] == "tsunagu-care-type")
        .collect();
    assert!(
        care.iter()
            .any(|a| a["taxonomy_term"]["code"] == "ventilator")
    );
    assert!(svc["phones"].as_array().is_some_and(|p| !p.is_empty()));
});

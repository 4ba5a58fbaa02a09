//! The survey definition editor (調査票の管理): the center builds definitions in the browser, and
//! a version used by a round never changes under it.

use tsunagu_store::audit::AuditCtx;
use tsunagu_store::surveys::{self, RoundInput, STANDARD_FAMILY};

use crate::both;
use crate::support::*;

async fn standard_id(app: &TestApp) -> String {
    surveys::definitions(&app.db, "03")
        .await
        .expect("definitions")
        .into_iter()
        .find(|d| d.family == STANDARD_FAMILY)
        .map(|d| d.id)
        .expect("the standard definition is seeded")
}

/// The id in `/surveys/definitions/{id}/…`.
fn id_in(location: &str) -> String {
    location
        .trim_start_matches("/surveys/definitions/")
        .split(['/', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Copies the standard definition as `title` and returns the new definition's id.
async fn copy_standard(app: &TestApp, c: &mut Client, title: &str) -> String {
    let from = standard_id(app).await;
    c.get("/surveys/definitions").await;
    let made = c
        .post("/surveys/definitions", &[("title", title), ("from", &from)])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert!(made.location.ends_with("/edit"), "{}", made.location);
    id_in(&made.location)
}

both!(the_standard_definition_lists_its_sections, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let list = coord.get("/surveys/definitions").await;
    assert_eq!(list.status, 200);
    list.assert_contains("医療的ケア児等の実態調査");
    list.assert_contains("標準");
    list.assert_contains("新しい調査票を作る");

    let id = standard_id(&app).await;
    let page = coord.get(&format!("/surveys/definitions/{id}")).await;
    assert_eq!(page.status, 200);
    for section in [
        "1 医療的ケア児の人数",
        "2 通園・通学の状況",
        "3 利用しているサービス",
        "4 市町村の体制",
        "5 地域の社会資源（国報告様式の供給量）",
        "6 ニーズ・課題と取組",
    ] {
        page.assert_contains(section);
    }
    page.assert_contains("年齢別・居場所別の人数");
    page.assert_contains("医療的ケアの種別ごとの数");
    page.assert_contains(
        "エラー: age_place = total | 年齢別・居場所別の人数の合計が総数と一致しません",
    );
    page.assert_contains("回答画面の見本");
    page.assert_contains("版の履歴");
    page.assert_contains("凍結");
    // The standard definition stays: it makes figures comparable.
    assert!(!page.body.contains("この調査票の使用を終了する"));
});

both!(a_coordinator_adds_an_item_and_a_rule_to_a_copy, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let id = copy_standard(&app, &mut coord, "岩手県 医療的ケア児等の実態調査").await;
    let edit = coord.get(&format!("/surveys/definitions/{id}/edit")).await;
    assert_eq!(edit.status, 200);
    edit.assert_contains("をコピーして「岩手県 医療的ケア児等の実態調査」を作りました");
    edit.assert_contains("4 市町村の体制");

    let form = coord
        .get(&format!(
            "/surveys/definitions/{id}/sections/system/items/new"
        ))
        .await;
    assert_eq!(form.status, 200);
    form.assert_contains("設問を追加（4 市町村の体制）");
    // A bad key and too few choices come back with what was typed.
    let bad = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/system/items/new"),
            &[
                ("label", "協議の場の開催方法"),
                ("key", "Council Way"),
                ("kind", "single"),
                ("section", "system"),
                ("choices", "単独で開催"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    bad.assert_contains("設問キーは半角英小文字・数字・_ で、英字で始めてください");
    bad.assert_contains("選択肢を二つ以上、1行に一つずつ入力してください");
    bad.assert_contains("value=\"Council Way\"");
    bad.assert_contains("単独で開催</textarea>");

    let added = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/system/items/new"),
            &[
                ("label", "協議の場の開催回数"),
                ("key", "council_meetings"),
                ("kind", "count"),
                ("section", "system"),
                ("flags", "required"),
                ("unit", "回"),
                ("help", "前年度の開催回数"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(
        added.location,
        format!("/surveys/definitions/{id}/edit#item-council_meetings"),
        "an unused version is changed in place"
    );
    let after = coord.get(&added.location).await;
    after.assert_contains("設問「協議の場の開催回数」を追加しました（第1版に保存しました）");
    after.assert_contains("council_meetings");

    // Choices written as labels only get keys.
    let choice = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/system/items/new"),
            &[
                ("label", "協議の場の形"),
                ("key", ""),
                ("kind", "single"),
                ("section", "system"),
                ("choices", "single: 単独で設置\n圏域で共同設置"),
            ],
        )
        .await;
    assert_eq!(choice.status, 303, "{}", choice.body);

    let rules = coord.get(&format!("/surveys/definitions/{id}/rules")).await;
    assert_eq!(rules.status, 200);
    rules.assert_contains("council_meetings");
    let text = surveys::definition(&app.db, "03", &id)
        .await
        .expect("definition")
        .definition
        .rules
        .iter()
        .map(|r| r.to_line())
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!(
        "{text}\n\n警告: council_meetings <= coordinators + total | 協議の場の開催回数が多すぎないか確認してください"
    );
    let saved = coord
        .post(
            &format!("/surveys/definitions/{id}/rules"),
            &[("rules", text.as_str())],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location, format!("/surveys/definitions/{id}"));
    let view = coord.get(&saved.location).await;
    view.assert_contains("検証ルール8件を保存しました（第1版に保存しました）");
    view.assert_contains("協議の場の開催回数");
    view.assert_contains(
        "警告: council_meetings &#60;= coordinators + total | 協議の場の開催回数が多すぎないか確認してください",
    );
    view.assert_contains("圏域で共同設置 <code>opt1</code>");

    let stored = surveys::definition(&app.db, "03", &id)
        .await
        .expect("definition");
    assert_eq!(stored.version, 1);
    let item = stored
        .definition
        .item("council_meetings")
        .expect("the item is saved");
    assert!(item.required);
    assert_eq!(item.unit, "回");
    assert_eq!(stored.definition.rules.len(), 8);
    assert!(stored.definition.check().is_ok());
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_definition.update' AND record_id = $1",
    )
    .bind(&id)
    .fetch_one(app.db.pool())
    .await
    .expect("audit");
    assert_eq!(audited, 3);

    // A rule that uses the item keeps it from being deleted.
    let refused = coord
        .post(
            &format!("/surveys/definitions/{id}/items/council_meetings/delete"),
            &[],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("検証ルール8行目");
    refused.assert_contains("設問キー「council_meetings」は調査票にありません");

    // A copy that is not wanted is retired, with an audit entry, and can come back.
    let retired = coord
        .post(&format!("/surveys/definitions/{id}/retire"), &[])
        .await;
    assert_eq!(retired.status, 303);
    let list = coord.get("/surveys/definitions").await;
    list.assert_contains("の使用を終了しました");
    list.assert_contains("使用を終了した調査票");
    assert!(
        !surveys::definitions(&app.db, "03")
            .await
            .expect("definitions")
            .iter()
            .any(|d| d.id == id),
        "a retired definition is not offered for new rounds"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_definition.retire' AND record_id = $1",
    )
    .bind(&id)
    .fetch_one(app.db.pool())
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    assert_eq!(
        coord
            .get(&format!("/surveys/definitions/{id}/edit"))
            .await
            .status,
        409
    );
    let back = coord
        .post(&format!("/surveys/definitions/{id}/reinstate"), &[])
        .await;
    assert_eq!(back.status, 303);
    assert_eq!(
        coord
            .get(&format!("/surveys/definitions/{id}/edit"))
            .await
            .status,
        200
    );
});

both!(
    a_bad_rule_line_is_shown_with_its_line_number_and_kept,
    |app| {
        let mut coord = app.signed_in("coordinator").await;
        let id = copy_standard(&app, &mut coord, "規則の確認用").await;
        coord.get(&format!("/surveys/definitions/{id}/rules")).await;
        let typed = "エラー: nursery_nurse <= nursery | 看護師配置は保育所以下\n\nエラー: nosuch = total | 存在しない設問\n警告: total >= coordinators";
        let bad = coord
            .post(
                &format!("/surveys/definitions/{id}/rules"),
                &[("rules", typed)],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        bad.assert_contains("3行目：設問キー「nosuch」は調査票にありません");
        bad.assert_contains("4行目：「|」のあとにメッセージを書いてください");
        assert!(!bad.body.contains("1行目："), "a good line has no message");
        bad.assert_contains(
        "エラー: nursery_nurse &#60;= nursery | 看護師配置は保育所以下\n\nエラー: nosuch = total | 存在しない設問\n警告: total &#62;= coordinators</textarea>",
    );
        let stored = surveys::definition(&app.db, "03", &id)
            .await
            .expect("definition");
        assert_eq!(stored.definition.rules.len(), 7, "nothing was saved");

        // Care types are never summed: the rule must say per type.
        let summed = coord
            .post(
                &format!("/surveys/definitions/{id}/rules"),
                &[("rules", "エラー: care <= total | 種別の合計")],
            )
            .await;
        assert_eq!(summed.status, 422);
        summed.assert_contains("1行目：医療的ケアの種別は合計できません");
    }
);

both!(
    a_definition_used_by_a_round_gets_a_new_version_on_edit,
    |app| {
        let mut coord = app.signed_in("coordinator").await;
        let id = copy_standard(&app, &mut coord, "凍結の確認用").await;
        let mut tx = app.db.begin().await.expect("begin");
        let round_id = surveys::create_round(
            &mut tx,
            &AuditCtx::system("test"),
            "03",
            &RoundInput {
                definition_id: id.clone(),
                fiscal_year: 2026,
                title: "凍結の確認用調査".into(),
                as_of: "2026-04-01".into(),
                opens_on: "2026-04-01".into(),
                due_on: "2099-06-30".into(),
                note: String::new(),
                municipalities: vec!["032018".into()],
            },
        )
        .await
        .expect("round");
        tx.commit().await.expect("commit");

        let edit = coord.get(&format!("/surveys/definitions/{id}/edit")).await;
        assert_eq!(edit.status, 200);
        edit.assert_contains("1件の調査で使われているため、内容を変えられません");
        // Saving without a change makes no version.
        let same = coord
            .post(
                &format!("/surveys/definitions/{id}/title"),
                &[
                    ("title", "凍結の確認用"),
                    (
                        "description",
                        "各年度4月1日現在の状況をご回答ください。該当がない場合は 0 を入力してください。",
                    ),
                ],
            )
            .await;
        assert_eq!(same.status, 303, "{}", same.body);
        assert_eq!(id_in(&same.location), id);
        coord
            .get(&same.location)
            .await
            .assert_contains("変更がなかったため、保存していません");
        let item = coord
            .get(&format!("/surveys/definitions/{id}/items/nursery"))
            .await;
        assert_eq!(item.status, 200);
        item.assert_contains("value=\"保育所に通う児童\"");
        let saved = coord
            .post(
                &format!("/surveys/definitions/{id}/items/nursery"),
                &[
                    ("label", "保育所・認可外保育施設に通う児童"),
                    ("key", "nursery"),
                    ("kind", "count"),
                    ("section", "belonging"),
                    ("flags", "required"),
                    ("unit", "人"),
                ],
            )
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let new_id = id_in(&saved.location);
        assert_ne!(new_id, id, "the used version is not changed");
        let after = coord.get(&saved.location).await;
        after.assert_contains(
            "第1版は調査で使われているため変更せず、新しい第2版として保存しました",
        );
        after.assert_contains("第2版");

        let old = surveys::definition(&app.db, "03", &id)
            .await
            .expect("old version");
        assert_eq!(
            old.definition.item("nursery").map(|i| i.label.as_str()),
            Some("保育所に通う児童")
        );
        let new = surveys::definition(&app.db, "03", &new_id)
            .await
            .expect("new version");
        assert_eq!(new.version, 2);
        assert_eq!(new.family, old.family);
        assert_eq!(
            new.definition.item("nursery").map(|i| i.label.as_str()),
            Some("保育所・認可外保育施設に通う児童")
        );
        let round = surveys::round(&app.db, "03", &round_id)
            .await
            .expect("round");
        assert_eq!(round.definition_id, id, "the round keeps its version");

        // The round's response form still asks the old question.
        let line = surveys::board(&app.db, &round_id)
            .await
            .expect("board")
            .into_iter()
            .next()
            .expect("a response");
        let response = coord.get(&format!("/surveys/responses/{}", line.id)).await;
        assert_eq!(response.status, 200);
        response.assert_contains("保育所に通う児童");
        assert!(!response.body.contains("保育所・認可外保育施設に通う児童"));

        // The old version says it is history and names its round; it cannot be edited any more.
        let view_old = coord.get(&format!("/surveys/definitions/{id}")).await;
        view_old.assert_contains("これは過去の版です");
        view_old.assert_contains("凍結の確認用調査");
        let stale = coord
            .get(&format!("/surveys/definitions/{id}/items/nursery"))
            .await;
        assert_eq!(stale.status, 409);
        stale.assert_contains("最新の第2版を開いて操作してください");

        // The next change goes into the new, unused version.
        coord
            .get(&format!("/surveys/definitions/{new_id}/edit"))
            .await;
        let renamed = coord
            .post(
                &format!("/surveys/definitions/{new_id}/sections/belonging"),
                &[("title", "2 通園・通学と保育")],
            )
            .await;
        assert_eq!(renamed.status, 303, "{}", renamed.body);
        assert_eq!(id_in(&renamed.location), new_id);
        coord
            .get(&renamed.location)
            .await
            .assert_contains("（第2版に保存しました）");
    }
);

both!(an_empty_definition_is_built_section_by_section, |app| {
    let mut coord = app.signed_in("coordinator").await;
    coord.get("/surveys/definitions").await;
    let empty = coord
        .post("/surveys/definitions", &[("title", ""), ("from", "")])
        .await;
    assert_eq!(empty.status, 422);
    empty.assert_contains("調査票の名前を入力してください");
    let made = coord
        .post(
            "/surveys/definitions",
            &[("title", "在宅レスパイトの利用状況"), ("from", "")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let id = id_in(&made.location);
    let edit = coord.get(&made.location).await;
    edit.assert_contains("「在宅レスパイトの利用状況」を作りました");
    edit.assert_contains("1 （章の見出し）");

    let blank = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/s1"),
            &[("title", " ")],
        )
        .await;
    assert_eq!(blank.status, 422);
    blank.assert_contains("章の見出しを入力してください");
    let added = coord
        .post(
            &format!("/surveys/definitions/{id}/sections"),
            &[("new_section", "2 家族の状況")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let moved = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/s2/move"),
            &[("to", "up")],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    let item = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/s2/items/new"),
            &[
                ("label", "レスパイト事業を実施している"),
                ("key", "respite"),
                ("kind", "yes_no"),
                ("section", "s2"),
                ("unit", "人"),
            ],
        )
        .await;
    assert_eq!(item.status, 303, "{}", item.body);
    let deleted = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/s1/delete"),
            &[],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let last = coord
        .post(
            &format!("/surveys/definitions/{id}/sections/s2/delete"),
            &[],
        )
        .await;
    assert_eq!(last.status, 422, "the last section stays");
    last.assert_contains("章を一つ以上作ってください");

    let def = surveys::definition(&app.db, "03", &id)
        .await
        .expect("definition")
        .definition;
    assert_eq!(def.sections.len(), 1);
    assert_eq!(def.sections[0].title, "2 家族の状況");
    let respite = def.item("respite").expect("item");
    assert_eq!(respite.unit, "", "a yes/no item has no unit");
    let view = coord.get(&format!("/surveys/definitions/{id}")).await;
    view.assert_contains("○ はい　○ いいえ");
});

both!(a_municipal_officer_cannot_open_the_definitions, |app| {
    let id = standard_id(&app).await;
    let mut muni = app.signed_in("municipal").await;
    assert_eq!(muni.get("/surveys/definitions").await.status, 403);
    assert_eq!(
        muni.get(&format!("/surveys/definitions/{id}")).await.status,
        403
    );
    assert_eq!(
        muni.get(&format!("/surveys/definitions/{id}/edit"))
            .await
            .status,
        403
    );
    let posted = muni
        .post(
            "/surveys/definitions",
            &[("title", "市の調査票"), ("from", id.as_str())],
        )
        .await;
    assert_eq!(posted.status, 403);
    let posted = muni
        .post(
            &format!("/surveys/definitions/{id}/rules"),
            &[("rules", "")],
        )
        .await;
    assert_eq!(posted.status, 403);
});

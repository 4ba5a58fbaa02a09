//! The care-type code list is data the prefecture corrects.

use crate::both;

both!(the_prefecture_corrects_the_care_type_list, |app| {
    let mut coord = app.signed_in("coordinator").await;
    let list = coord.get("/care-types").await;
    assert_eq!(list.status, 200);
    list.assert_contains("人工呼吸器の管理");
    list.assert_contains("電源が必要");
    assert!(!list.body.contains("/care-types/new"));
    assert_eq!(coord.get("/care-types/enema/edit").await.status, 403);

    let mut pref = app.signed_in("pref").await;
    pref.get("/care-types/enema/edit").await;
    let bad = pref
        .post(
            "/care-types/enema/edit",
            &[
                ("number", "13(3)"),
                ("name", "排便管理（浣腸）"),
                ("base_score", "三"),
                ("supervision_scores", "x"),
                ("sort_order", "180"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("基本スコアは0から50までの数字で入力してください");
    bad.assert_contains("value=\"三\"");
    let ok = pref
        .post(
            "/care-types/enema/edit",
            &[
                ("number", "13(3)"),
                ("name", "排便管理（浣腸）"),
                ("base_score", "4"),
                ("supervision_scores", ""),
                ("sort_order", "180"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let stored = tsunagu_store::care_types::get(&app.db, "enema")
        .await
        .expect("get");
    assert_eq!(stored.base_score, 4);
    assert!(!stored.unconfirmed, "the box was left unticked");
    let entry: Option<String> = sqlx::query_scalar(
        "SELECT old_values FROM audit_log WHERE action = 'care_type.update' AND record_id = 'enema'",
    )
    .fetch_optional(app.db.pool())
    .await
    .expect("audit");
    assert!(entry.unwrap_or_default().contains("\"base_score\":3"));

    pref.get("/care-types/new").await;
    let added = pref
        .post(
            "/care-types/new",
            &[
                ("code", "home_oxygen_concentrator"),
                ("number", "4-2"),
                ("name", "在宅酸素濃縮器"),
                ("base_score", "0"),
                ("sort_order", "45"),
                ("flags", "power"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let retired = pref
        .post("/care-types/home_oxygen_concentrator/retire", &[])
        .await;
    assert_eq!(retired.status, 303);
    let active = tsunagu_store::care_types::list(&app.db, false)
        .await
        .expect("list");
    assert!(!active.iter().any(|c| c.code == "home_oxygen_concentrator"));
});

//! The shell: error pages, security headers, health, role matrix editing rights.

use crate::both;

both!(
    error_pages_are_japanese_and_api_errors_are_problem_json,
    |app| {
        let mut c = app.signed_in("viewer").await;
        let nf = c.get("/no/such/page").await;
        assert_eq!(nf.status, 404);
        nf.assert_contains("ページが見つかりません");
        nf.assert_contains("お問い合わせの際は次の番号をお伝えください");
        let api = c
            .http
            .get(format!("{}/api/v1/nothing", c.base))
            .send()
            .await
            .expect("get");
        assert_eq!(api.status().as_u16(), 404);
        assert_eq!(
            api.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let forbidden = c.get("/admin/audit").await;
        assert_eq!(forbidden.status, 403);
        forbidden.assert_contains("このページを表示する権限がありません");
    }
);

both!(pages_carry_security_headers, |app| {
    let mut c = app.signed_in("coordinator").await;
    let p = c.get("/").await;
    let h = |name: &str| {
        p.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(h("content-security-policy").contains("default-src 'self'"));
    assert!(!h("content-security-policy").contains("unsafe-inline"));
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("cache-control"), "no-store");
    assert!(!h("referrer-policy").is_empty());
    assert!(!h("x-request-id").is_empty());
    assert!(p.body.contains("<html lang=\"ja\">"));
    assert!(!p.body.contains("<script>"), "no inline script");
    assert!(!p.body.contains("style=\""), "no inline style");
});

both!(health_and_readiness, |app| {
    let mut c = app.client();
    let h = c.get("/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (200, "ok"));
    let r = c.get("/readyz").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ready"));
});

both!(oversized_bodies_get_a_japanese_413, |app| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server answers from the declared length, before any body arrives.
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3000000\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("送信されたデータが大きすぎます"), "{text}");
});

both!(
    only_the_prefecture_edits_the_matrix_and_everyone_reads_it,
    |app| {
        for login in [
            "admin",
            "coordinator",
            "municipal",
            "hospital",
            "trainer",
            "viewer",
        ] {
            let mut c = app.signed_in(login).await;
            let view = c.get("/matrix").await;
            assert_eq!(view.status, 200, "{login}");
            view.assert_contains("県コーディネーター");
            view.assert_contains("支援センター運営統括");
            assert!(
                !view.body.contains("href=\"/matrix/edit\""),
                "{login} sees no edit link"
            );
            assert_eq!(c.get("/matrix/edit").await.status, 403, "{login}");
        }
        let mut pref = app.signed_in("pref").await;
        pref.get("/matrix/edit").await;
        let added = pref
            .post(
                "/matrix/participants",
                &[("label", "岩手県立療育センター"), ("organisation_id", "")],
            )
            .await;
        assert_eq!(added.status, 303);
        let view = pref.get("/matrix").await;
        view.assert_contains("岩手県立療育センター");
        let empty = pref
            .post(
                "/matrix/participants",
                &[("label", "  "), ("organisation_id", "")],
            )
            .await;
        assert_eq!(empty.status, 422);
        empty.assert_contains("表示名を入力してください");
    }
);

both!(navigation_differs_by_role, |app| {
    let mut admin = app.signed_in("admin").await;
    let a = admin.get("/").await;
    a.assert_contains("href=\"/admin/users\"");
    a.assert_contains("href=\"/admin/audit\"");
    let mut coord = app.signed_in("coordinator").await;
    let c = coord.get("/").await;
    assert!(!c.body.contains("href=\"/admin/users\""));
    assert!(!c.body.contains("href=\"/admin/audit\""));
    c.assert_contains("href=\"/matrix\"");
});

both!(a_method_a_path_does_not_have_is_405_with_allow, |app| {
    let c = app.client();
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/healthz", "GET, HEAD"),
        (reqwest::Method::DELETE, "/login", "GET, HEAD, POST"),
        (reqwest::Method::GET, "/surveys/rounds", "POST"),
    ] {
        let resp = c
            .http
            .request(method.clone(), format!("{}{path}", c.base))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 405, "{method} {path}");
        let got = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert_eq!(got, allow, "{method} {path}");
        let body = resp.text().await.unwrap_or_default();
        assert!(
            body.contains("この操作はできません"),
            "{method} {path}: {body}"
        );
    }
});

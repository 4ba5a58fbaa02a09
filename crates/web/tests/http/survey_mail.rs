//! Survey reminders by e-mail, through the outbox: with a mail relay configured, a reminder also
//! reaches the municipal office's address; when the relay is down, the in-app notices still go
//! out, the message waits in the outbox with the relay's answer, and it goes out once the relay
//! is back.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::both;
use crate::support::*;

const OFFICE_MAIL: &str = "hoken@city.morioka.example.lg.jp";

/// One message as the relay received it.
#[derive(Debug, Clone, Default)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A relay that accepts everything and keeps what it was given.
async fn fake_relay() -> (String, Arc<Mutex<Vec<Received>>>) {
    fake_relay_on(TcpListener::bind("127.0.0.1:0").await.expect("bind"))
}

fn fake_relay_on(listener: TcpListener) -> (String, Arc<Mutex<Vec<Received>>>) {
    let addr = listener.local_addr().expect("addr");
    let inbox: Arc<Mutex<Vec<Received>>> = Arc::default();
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 relay.test ESMTP\r\n").await;
                let mut current = Received::default();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-relay.test\r\n250 8BITMIME\r\n"
                    } else if let Some(rcpt) = line.strip_prefix("RCPT TO:") {
                        current
                            .rcpt
                            .push(rcpt.trim_matches(|c| c == '<' || c == '>').to_string());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        let _ = write.write_all(b"354 go ahead\r\n").await;
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            current.data.push_str(&l);
                            current.data.push('\n');
                        }
                        kept.lock()
                            .expect("inbox")
                            .push(std::mem::take(&mut current));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (format!("smtp://{addr}"), inbox)
}

fn decode_base64(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes() {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The subject (decoded from its encoded words) and the body (decoded from base64).
fn subject_and_body(data: &str) -> (String, String) {
    let (head, body) = data.split_once("\n\n").expect("header and body");
    let mut subject = String::new();
    let mut in_subject = false;
    for line in head.lines() {
        if line.starts_with("Subject: ") {
            in_subject = true;
        } else if !line.starts_with(' ') {
            in_subject = false;
        }
        if in_subject {
            let line = line.replace("=?utf-8?b?", "=?UTF-8?B?");
            for word in line.split("=?UTF-8?B?").skip(1) {
                subject.push_str(&decode_base64(word.split("?=").next().unwrap_or("")));
            }
        }
    }
    (subject, decode_base64(body))
}

fn mail_config(smtp_url: String) -> tsunagu_web::WebConfig {
    tsunagu_web::WebConfig {
        smtp_url,
        mail_from: "tsunagu@pref.example.lg.jp".into(),
        public_base_url: "https://tsunagu.pref.example.lg.jp/".into(),
        ..test_config()
    }
}

/// Waits (at most 20 s) until `done` holds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 20 s");
}

/// The reminder to 盛岡市's office in the outbox (the demo has messages of its own).
async fn outbox_row(app: &TestApp) -> (String, i64, String) {
    sqlx::query_as("SELECT status, attempts, last_error FROM mail_outbox WHERE recipients LIKE $1")
        .bind(format!("%{OFFICE_MAIL}%"))
        .fetch_one(app.db.pool())
        .await
        .expect("the reminder in the outbox")
}

async fn give_morioka_office_an_address(app: &TestApp) {
    sqlx::query("UPDATE organisations SET email = $1 WHERE name = '盛岡市役所'")
        .bind(OFFICE_MAIL)
        .execute(app.db.pool())
        .await
        .expect("office address");
}

/// The due date of a round `days` from today, as the e-mail writes it (令和…年…月…日).
fn due_label(days: i64) -> String {
    let due = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    tsunagu_domain::wareki::format_wareki_date(due)
}

both!(a_reminder_is_also_sent_by_mail_to_the_office, |app| {
    let (url, inbox) = fake_relay().await;
    let app = spawn_with(app.backend, mail_config(url)).await;
    give_morioka_office_an_address(&app).await;
    let mut coordinator = app.signed_in("coordinator").await;
    let round = issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 30).await;
    let board = remind_round(&mut coordinator, &round).await;
    board.assert_contains("2市町村に督促のお知らせを送りました");
    board.assert_contains("あわせて1市町村に督促メールを送ります");
    // 宮古市役所 has no address in the demo data.
    board.assert_contains("1市町村はメールアドレスが登録されていない");

    let kept = inbox.clone();
    eventually("the reminder reaching the relay", async || {
        kept.lock()
            .expect("inbox")
            .iter()
            .any(|m| m.rcpt.iter().any(|r| r == OFFICE_MAIL))
    })
    .await;
    let received = inbox.lock().expect("inbox").clone();
    let to_office: Vec<&Received> = received
        .iter()
        .filter(|m| m.rcpt.iter().any(|r| r == OFFICE_MAIL))
        .collect();
    assert_eq!(to_office.len(), 1, "{received:?}");
    let (subject, body) = subject_and_body(&to_office[0].data);
    let due = due_label(30);
    assert!(subject.contains("【督促】平成22年度 試験調査"), "{subject}");
    assert!(subject.contains(&due), "{subject}");
    assert!(body.contains("盛岡市 ご担当者様"), "{body}");
    assert!(body.contains("平成22年度 試験調査"), "{body}");
    assert!(body.contains(&format!("提出期限：{due}")), "{body}");
    let id = survey_response_id(&app, &round, "032018").await;
    // The link is absolute, from the public base URL.
    assert!(
        body.contains(&format!(
            "https://tsunagu.pref.example.lg.jp/surveys/responses/{id}"
        )),
        "{body}"
    );
    let data = to_office[0].data.to_ascii_lowercase();
    assert!(data.contains("from: =?utf-8?b?"), "{data}");
    assert!(
        data.contains("content-type: text/plain; charset=utf-8"),
        "{data}"
    );

    eventually("the message marked sent", async || {
        outbox_row(&app).await.0 == "sent"
    })
    .await;
    // The administrator sees it among the sent, and the audit log has it queued and sent.
    let mut admin = app.signed_in("admin").await;
    let page = admin.get("/admin/mail").await;
    assert_eq!(page.status, 200);
    page.assert_contains("【督促】平成22年度 試験調査");
    page.assert_contains(OFFICE_MAIL);
    let log = admin.get("/admin/audit?record_type=mail").await;
    log.assert_contains("メールの送信待ちへの追加");
    log.assert_contains("メールの送信<br>");
    // Nobody else sees the outbox.
    assert_eq!(coordinator.get("/admin/mail").await.status, 403);
});

both!(
    a_relay_that_is_down_loses_nothing_and_the_mail_goes_out_when_it_is_back,
    |app| {
        // A port nothing listens on for now.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = closed.local_addr().expect("addr");
        drop(closed);
        let app = spawn_with(app.backend, mail_config(format!("smtp://{addr}"))).await;
        give_morioka_office_an_address(&app).await;
        let mut coordinator = app.signed_in("coordinator").await;
        let round =
            issue_survey_round(&app, &mut coordinator, "期限までにご回答ください", 30).await;
        let board = remind_round(&mut coordinator, &round).await;
        board.assert_contains("2市町村に督促のお知らせを送りました");
        let mut municipal = app.signed_in("municipal").await;
        let home = municipal.get("/").await;
        home.assert_contains("【督促】平成22年度 試験調査");

        // The first attempt fails; the message waits with the relay's answer.
        eventually("a failed attempt", async || outbox_row(&app).await.1 >= 1).await;
        let (status, _, error) = outbox_row(&app).await;
        assert_eq!(status, "pending");
        assert!(
            error.contains("メールサーバーに送れませんでした"),
            "{error}"
        );
        let mut admin = app.signed_in("admin").await;
        let page = admin.get("/admin/mail").await;
        page.assert_contains("送信待ち");
        page.assert_contains("メールサーバーに送れませんでした");
        page.assert_contains("今すぐ送り直す");

        // The relay comes back; the administrator sends it again now rather than waiting.
        let (_, inbox) = fake_relay_on(TcpListener::bind(addr).await.expect("rebind"));
        let mail_id: String =
            sqlx::query_scalar("SELECT id FROM mail_outbox WHERE recipients LIKE $1")
                .bind(format!("%{OFFICE_MAIL}%"))
                .fetch_one(app.db.pool())
                .await
                .expect("id");
        let p = admin
            .post(&format!("/admin/mail/{mail_id}/resend"), &[])
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let kept = inbox.clone();
        eventually("the message reaching the relay", async || {
            kept.lock()
                .expect("inbox")
                .iter()
                .any(|m| m.rcpt.iter().any(|r| r == OFFICE_MAIL))
        })
        .await;
        eventually("the message marked sent", async || {
            outbox_row(&app).await.0 == "sent"
        })
        .await;
        // A sent message is not sent again, and the administrator is told why.
        let again = admin
            .post(&format!("/admin/mail/{mail_id}/resend"), &[])
            .await;
        assert_eq!(again.status, 409);
        again.assert_contains("このメールは送信済みです");
        assert_eq!(outbox_row(&app).await.0, "sent");
    }
);

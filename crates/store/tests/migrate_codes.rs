//! Upgrading to schema version 10 keeps every consultation's topics and care types and copies
//! the consultation's date, municipality, status and 担当者 to them, and pairs them, so the
//! lists filtered by them find what was there before. On SQLite, and on PostgreSQL when
//! TSUNAGU_TEST_POSTGRES_URL is set.

mod support;

use support::{Dir, PgDatabase};
use tsunagu_store::{Db, DbOptions, Row, migrate, reference};

/// Two consultations written as a release with schema 9 wrote them, then the upgrade.
async fn upgrade_keeps_the_codes(url: String) {
    let db = Db::connect(&DbOptions {
        url,
        max_connections: 2,
    })
    .await
    .expect("open")
    .with_audit_keys(tsunagu_store::audit::AuditKeys::ephemeral().expect("keys"));
    // Schema 9, with the audit MAC column of 11 that today's reference loader writes.
    migrate::run_versions(&db, |v| v <= 9 || v == 11)
        .await
        .expect("migrate to 9");
    reference::seed_if_empty(&db, "03").await.expect("seed");
    for (id, at, municipality, status, topics, care) in [
        (
            "c-1",
            "2024-05-10T01:00:00Z",
            Some("032018"),
            "in_progress",
            &["disaster", "medical"][..],
            &["ventilator", "suction"][..],
        ),
        (
            "c-2",
            "2025-01-07T02:30:00Z",
            None,
            "closed",
            &["welfare"][..],
            &[][..],
        ),
    ] {
        sqlx::query(
            "INSERT INTO consultations (id, receipt_no, fiscal_year, received_at, received_on, channel, requester_type,
                child_municipality_code6, question, status, search_text, created_at, updated_at)
             VALUES ($1, $1, 2024, $2, '2024-05-10', 'phone', 'family', $3, '移行の試験', $4, '', $2, $2)",
        )
        .bind(id)
        .bind(at)
        .bind(municipality)
        .bind(status)
        .execute(db.pool())
        .await
        .expect("consultation");
        for t in topics {
            sqlx::query("INSERT INTO consultation_topics (consultation_id, topic) VALUES ($1, $2)")
                .bind(id)
                .bind(*t)
                .execute(db.pool())
                .await
                .expect("topic");
        }
        for c in care {
            sqlx::query(
                "INSERT INTO consultation_care_types (consultation_id, care_type_code) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(*c)
            .execute(db.pool())
            .await
            .expect("care type");
        }
    }

    // 10 and the outbox (12) after it.
    assert_eq!(migrate::run(&db).await.expect("upgrade"), 2);

    let rows = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query(sql)
                .fetch_all(db.pool())
                .await
                .expect("read")
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<Option<String>, _>(i)
                                .expect("text")
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        rows("SELECT consultation_id, topic, received_at, child_municipality_code6, status FROM consultation_topics ORDER BY consultation_id, topic").await,
        [
            "c-1 disaster 2024-05-10T01:00:00Z 032018 in_progress",
            "c-1 medical 2024-05-10T01:00:00Z 032018 in_progress",
            "c-2 welfare 2025-01-07T02:30:00Z  closed",
        ]
    );
    assert_eq!(
        rows("SELECT consultation_id, care_type_code, received_at, child_municipality_code6, status FROM consultation_care_types ORDER BY consultation_id, care_type_code").await,
        [
            "c-1 suction 2024-05-10T01:00:00Z 032018 in_progress",
            "c-1 ventilator 2024-05-10T01:00:00Z 032018 in_progress",
        ]
    );
    assert_eq!(
        rows("SELECT consultation_id, topic, care_type_code FROM consultation_topic_care_types ORDER BY topic, care_type_code").await,
        [
            "c-1 disaster suction",
            "c-1 disaster ventilator",
            "c-1 medical suction",
            "c-1 medical ventilator",
        ]
    );
    db.close().await;
}

#[tokio::test]
async fn upgrading_to_schema_10_keeps_the_codes_on_sqlite() {
    let dir = Dir::new("tsunagu-migrate-codes");
    upgrade_keeps_the_codes(dir.sqlite_url()).await;
}

#[tokio::test]
async fn upgrading_to_schema_10_keeps_the_codes_on_postgres() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    upgrade_keeps_the_codes(pg.url.clone()).await;
    pg.drop().await;
}

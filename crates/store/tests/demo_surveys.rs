//! The survey demo data as loaded: every response passes the checks it would meet in the
//! application, the past three 年度 are approved everywhere, and the current round is in
//! progress with 盛岡市 left for a visitor to fill in. On SQLite, and on PostgreSQL when
//! TSUNAGU_TEST_POSTGRES_URL is set.

use std::collections::BTreeMap;

use tsunagu_domain::survey::{Answers, CheckMode, Definition, check};
use tsunagu_domain::wareki::{fiscal_year, today_jst};
use tsunagu_store::audit::{self, Verification};
use tsunagu_store::{Db, DbOptions, Row, demo, migrate, reference};

mod support;

use support::{Dir, PgDatabase};

const MORIOKA: &str = "032018";

async fn load(url: String) -> Db {
    let db = Db::connect(&DbOptions {
        url,
        max_connections: 2,
    })
    .await
    .expect("open")
    .with_audit_keys(tsunagu_store::audit::AuditKeys::ephemeral().expect("keys"));
    migrate::run(&db).await.expect("migrate");
    reference::seed_if_empty(&db, "03").await.expect("seed");
    let logins = demo::load(&db, "03", "demo-password").await.expect("demo");
    assert!(!logins.is_empty());
    db
}

struct Loaded {
    fiscal_year: i64,
    code6: String,
    status: String,
    answers: Answers,
    definition: Definition,
}

async fn assert_plausible_and_valid(db: &Db) {
    let rows = sqlx::query(
        "SELECT r.fiscal_year, s.municipality_code6, s.status, s.answers, s.submitted_at, s.approved_at, d.body
         FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id JOIN survey_definitions d ON d.id = r.definition_id
         ORDER BY r.fiscal_year, s.municipality_code6",
    )
    .fetch_all(db.pool())
    .await
    .expect("responses");
    let current = i64::from(fiscal_year(today_jst(time::OffsetDateTime::now_utc())));
    let mut loaded = Vec::new();
    for r in &rows {
        let fy: i64 = r.try_get("fiscal_year").expect("fiscal_year");
        let status: String = r.try_get("status").expect("status");
        if fy < current {
            assert_eq!(status, "approved");
            // Submitted in June (or a few days late, in July) and approved in July.
            let submitted: String = r.try_get("submitted_at").expect("submitted_at");
            let approved: String = r.try_get("approved_at").expect("approved_at");
            assert!(
                submitted.starts_with(&format!("{fy}-06"))
                    || submitted.starts_with(&format!("{fy}-07")),
                "{submitted}"
            );
            assert!(approved.starts_with(&format!("{fy}-07")), "{approved}");
            assert!(approved > submitted);
        }
        loaded.push(Loaded {
            fiscal_year: fy,
            code6: r.try_get("municipality_code6").expect("code6"),
            status,
            answers: serde_json::from_str(&r.try_get::<String, _>("answers").expect("answers"))
                .expect("answers json"),
            definition: serde_json::from_str(&r.try_get::<String, _>("body").expect("body"))
                .expect("definition json"),
        });
    }
    let mut per_year: BTreeMap<i64, BTreeMap<String, usize>> = BTreeMap::new();
    for l in &loaded {
        *per_year
            .entry(l.fiscal_year)
            .or_default()
            .entry(l.status.clone())
            .or_default() += 1;
    }
    let years: Vec<i64> = per_year.keys().copied().collect();
    assert_eq!(years, vec![current - 3, current - 2, current - 1, current]);
    for fy in &years[..3] {
        assert_eq!(per_year[fy].get("approved"), Some(&33), "{fy}");
    }
    let now = &per_year[&current];
    for (status, n) in [
        ("approved", 12),
        ("submitted", 6),
        ("returned", 2),
        ("draft", 6),
        ("not_started", 7),
    ] {
        assert_eq!(now.get(status), Some(&n), "{status}");
    }

    let approved: BTreeMap<(i64, &str), &Answers> = loaded
        .iter()
        .filter(|l| l.status == "approved")
        .map(|l| ((l.fiscal_year, l.code6.as_str()), &l.answers))
        .collect();
    let mut warned = 0;
    for l in &loaded {
        let last = approved
            .get(&(l.fiscal_year - 1, l.code6.as_str()))
            .copied();
        let mode = match l.status.as_str() {
            "not_started" => {
                assert!(l.answers.is_empty());
                continue;
            }
            "draft" => CheckMode::Draft,
            _ => CheckMode::Submit,
        };
        if l.status == "draft" {
            assert!(l.answers.contains_key("total"), "a draft is partly filled");
        }
        let c = check(&l.definition, &l.answers, last, mode);
        assert_eq!(
            c.errors,
            vec![],
            "{} {} {}",
            l.fiscal_year,
            l.code6,
            l.status
        );
        assert_eq!(c.unexplained(&l.answers).count(), 0, "{}", l.code6);
        if l.fiscal_year == current && !c.warnings.is_empty() {
            warned += 1;
        }
    }
    assert!(
        warned > 0,
        "a current response shows a warning with its reason"
    );
    let morioka = loaded
        .iter()
        .find(|l| l.fiscal_year == current && l.code6 == MORIOKA)
        .expect("盛岡市 is asked");
    assert_eq!(morioka.status, "not_started");

    let first: u64 = loaded
        .iter()
        .filter(|l| l.fiscal_year == current - 3)
        .filter_map(|l| l.answers.get("total")?.parse::<u64>().ok())
        .sum();
    assert!(
        (185..=225).contains(&first),
        "about 1 % of the nation: {first}"
    );

    // Returned responses say why; the good-practices list has entries; one reminder notice.
    let comments: Vec<String> = sqlx::query_scalar(
        "SELECT e.comment FROM survey_response_events e JOIN survey_responses s ON s.id = e.response_id
         WHERE s.status = 'returned' AND e.kind = 'returned'",
    )
    .fetch_all(db.pool())
    .await
    .expect("events");
    assert_eq!(comments.len(), 2);
    assert!(comments.iter().all(|c| !c.is_empty()));
    let practices = tsunagu_store::surveys::good_practices(db, "03")
        .await
        .expect("good practices");
    assert!(practices.len() >= 10, "{}", practices.len());
    let notices: Vec<String> = sqlx::query_scalar(
        "SELECT n.title FROM notices n JOIN organisations o ON o.id = n.organisation_id WHERE o.municipality_code6 = $1",
    )
    .bind(MORIOKA)
    .fetch_all(db.pool())
    .await
    .expect("notices");
    assert_eq!(notices.len(), 1);
    assert!(notices[0].starts_with("【督促】"));
    assert!(matches!(
        audit::verify(db, &[]).await.expect("verify"),
        Verification::Intact { .. }
    ));
}

#[tokio::test]
async fn the_demo_survey_data_is_valid_and_plausible_on_sqlite() {
    let dir = Dir::new("tsunagu-demo-surveys");
    let db = load(dir.sqlite_url()).await;
    assert_plausible_and_valid(&db).await;
    db.close().await;
}

#[tokio::test]
async fn the_demo_survey_data_is_valid_and_plausible_on_postgres() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let db = load(pg.url.clone()).await;
    assert_plausible_and_valid(&db).await;
    db.close().await;
    pg.drop().await;
}

//! Every list and read by id is scoped in the store by the one policy: an actor whom the
//! policy allows nothing gets no rows, whatever the rows are, while one who may gets them. On
//! SQLite, and on PostgreSQL when TSUNAGU_TEST_POSTGRES_URL is set.

mod support;

use support::{Dir, PgDatabase};
use tsunagu_domain::policy::Actor;
use tsunagu_domain::roles::Role;
use tsunagu_store::audit::{self, AuditCtx, AuditKeys};
use tsunagu_store::consultations::{self, Filter, InboxFilter, PageReq, PublicRequest};
use tsunagu_store::outbox::{self, NewMail};
use tsunagu_store::{Db, DbOptions, StoreError, accounts, migrate, orgs, reference, surveys};

/// A database with one of each kind of row the lists read: an organisation and an account, a
/// consultation, a message in the outbox, and audit entries.
async fn with_one_of_each(url: String) -> (Db, String, String) {
    let db = Db::connect(&DbOptions {
        url,
        max_connections: 2,
    })
    .await
    .expect("open")
    .with_audit_keys(AuditKeys::ephemeral().expect("keys"));
    migrate::run(&db).await.expect("migrate");
    reference::seed_if_empty(&db, "03").await.expect("seed");
    let ctx = AuditCtx::system("test");
    let mut tx = db.begin().await.expect("tx");
    let org = orgs::create(
        &mut tx,
        &ctx,
        &orgs::OrgInput {
            kind: "hospital".into(),
            name: "試験病院".into(),
            municipality_code6: Some("032018".into()),
            address: String::new(),
            phone: String::new(),
            email: String::new(),
        },
    )
    .await
    .expect("organisation");
    accounts::create(
        &mut tx,
        &ctx,
        &accounts::UserInput {
            login_id: "nurse".into(),
            display_name: "試験 看護師".into(),
            email: String::new(),
            organisation_id: org.clone(),
            roles: vec![Role::HospitalStaff],
        },
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        false,
    )
    .await
    .expect("account");
    consultations::create_public_request(
        &mut tx,
        &ctx,
        &PublicRequest {
            name: "公開 花子".into(),
            contact: "090-0000-0001".into(),
            municipality_code6: Some("032018".into()),
            question: "胃ろうの子が通える保育所".into(),
        },
    )
    .await
    .expect("consultation");
    outbox::enqueue(
        &mut tx,
        &ctx,
        &NewMail {
            kind: "survey_reminder",
            record_type: "survey_response".into(),
            record_id: "r-1".into(),
            to: vec!["hoken@city.example.lg.jp".into()],
            subject: "督促".into(),
            body: "本文".into(),
        },
    )
    .await
    .expect("mail");
    tx.commit().await.expect("commit");
    let consultation: String = sqlx::query_scalar("SELECT id FROM consultations")
        .fetch_one(db.pool())
        .await
        .expect("id");
    (db, org, consultation)
}

fn actor(role: Role, organisation_id: &str) -> Actor {
    Actor {
        user_id: "u-test".into(),
        organisation_id: organisation_id.into(),
        municipality_code6: Some("032018".into()),
        roles: vec![role],
    }
}

async fn nothing_without_an_allowed_scope(url: String) {
    let (db, hospital, consultation) = with_one_of_each(url).await;
    let page = PageReq {
        page: 1,
        per_page: 50,
    };
    let consultations_of = async |a: &Actor| {
        consultations::list(&db, a, &Filter::default(), page)
            .await
            .expect("list")
            .rows
            .len()
    };
    let audit_of = async |a: &Actor| {
        audit::list(&db, a, &audit::Filter::default(), 100)
            .await
            .expect("audit")
            .len()
    };
    let accounts_of = async |a: &Actor| {
        accounts::list(&db, a, &accounts::Filter::default())
            .await
            .expect("accounts")
            .len()
    };
    let mail_of = async |a: &Actor| outbox::list(&db, a, 100).await.expect("mail").0.len();

    let viewer = actor(Role::Viewer, &hospital);
    let nurse = actor(Role::HospitalStaff, &hospital);
    let municipal = actor(Role::MunicipalOfficer, "org-city");
    for nobody in [&viewer, &nurse, &municipal] {
        assert_eq!(consultations_of(nobody).await, 0, "{:?}", nobody.roles);
        assert!(matches!(
            consultations::get(&db, nobody, &consultation).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            consultations::my_open(&db, nobody, 10)
                .await
                .expect("mine")
                .is_empty()
        );
        assert_eq!(audit_of(nobody).await, 0);
        assert_eq!(accounts_of(nobody).await, 0);
        assert_eq!(mail_of(nobody).await, 0);
    }
    // A viewer handles no referrals and answers no survey.
    assert!(
        consultations::inbox(&db, &viewer, &InboxFilter::default())
            .await
            .expect("inbox")
            .is_empty()
    );
    assert!(
        surveys::inbox(&db, &viewer)
            .await
            .expect("survey inbox")
            .is_empty()
    );
    // An organisation sees only itself in the organisation list; the center sees all.
    let own = orgs::list(&db, &nurse, &orgs::Filter::default())
        .await
        .expect("orgs");
    assert!(own.iter().all(|o| o.id == hospital) && !own.is_empty());

    // Those the policy allows see the same rows, so the checks above can fail.
    let coordinator = actor(Role::CenterCoordinator, "org-center");
    assert_eq!(consultations_of(&coordinator).await, 1);
    assert!(
        consultations::get(&db, &coordinator, &consultation)
            .await
            .is_ok()
    );
    let admin = actor(Role::SystemAdmin, "org-center");
    assert!(audit_of(&admin).await > 0);
    assert!(accounts_of(&admin).await > 0);
    assert_eq!(mail_of(&admin).await, 1);
    db.close().await;
}

#[tokio::test]
async fn nothing_without_an_allowed_scope_on_sqlite() {
    let dir = Dir::new("tsunagu-scoping");
    nothing_without_an_allowed_scope(dir.sqlite_url()).await;
}

#[tokio::test]
async fn nothing_without_an_allowed_scope_on_postgres() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    nothing_without_an_allowed_scope(pg.url.clone()).await;
    pg.drop().await;
}

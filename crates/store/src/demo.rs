//! Demo data: the organisations of Iwate's center and one account per role, so that a person
//! can try every page. Only loaded into a database that has no accounts yet.

use tsunagu_domain::roles::{OrgKind, Role};

use crate::accounts::{self, UserInput};
use crate::audit::AuditCtx;
use crate::orgs::{self, OrgInput};
use crate::{Db, Result, Tx, geo};

/// One demo login, as printed at start.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub login_id: &'static str,
    pub role: Role,
    pub organisation: String,
}

struct DemoOrg {
    kind: OrgKind,
    name: &'static str,
    municipality_code6: &'static str,
    address: &'static str,
    phone: &'static str,
}

const ORGS: [DemoOrg; 5] = [
    DemoOrg {
        kind: OrgKind::PrefecturalOffice,
        name: "岩手県 保健福祉部 障がい保健福祉課",
        municipality_code6: "032018",
        address: "岩手県盛岡市内丸10-1",
        phone: "019-000-0001",
    },
    DemoOrg {
        kind: OrgKind::SupportCenter,
        name: "みちのく療育園メディカルセンター",
        municipality_code6: "033227",
        address: "岩手県紫波郡矢巾町（デモ）",
        phone: "019-000-0002",
    },
    DemoOrg {
        kind: OrgKind::TrainingBody,
        name: "岩手県社会福祉事業団",
        municipality_code6: "032018",
        address: "岩手県盛岡市（デモ）",
        phone: "019-000-0003",
    },
    DemoOrg {
        kind: OrgKind::Hospital,
        name: "岩手医科大学附属病院",
        municipality_code6: "033227",
        address: "岩手県紫波郡矢巾町（デモ）",
        phone: "019-000-0004",
    },
    DemoOrg {
        kind: OrgKind::Hospital,
        name: "岩手県立中部病院",
        municipality_code6: "032069",
        address: "岩手県北上市（デモ）",
        phone: "0197-00-0005",
    },
];

/// The office name of a municipality: 盛岡市 → 盛岡市役所, 雫石町 → 雫石町役場.
pub fn office_name(municipality: &str) -> String {
    if municipality.ends_with('市') {
        format!("{municipality}役所")
    } else {
        format!("{municipality}役場")
    }
}

/// Loads the demo organisations and accounts. Returns the logins, or an empty list when the
/// database already has accounts.
pub async fn load(db: &Db, prefecture_code: &str, password: &str) -> Result<Vec<DemoLogin>> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?;
    if existing > 0 {
        return Ok(Vec::new());
    }
    let ctx = AuditCtx::system("demo");
    let hash = accounts::password::hash(password.to_string()).await?;
    let munis = geo::municipalities(db, prefecture_code, false).await?;
    let mut tx = db.begin().await?;
    let mut ids = Vec::new();
    for o in &ORGS {
        let id = orgs::create(
            &mut tx,
            &ctx,
            &OrgInput {
                kind: o.kind.code().into(),
                name: o.name.into(),
                municipality_code6: Some(o.municipality_code6.into()),
                address: o.address.into(),
                phone: o.phone.into(),
                email: String::new(),
            },
        )
        .await?;
        ids.push(id);
    }
    let mut morioka_office = None;
    for m in munis.iter().filter(|m| m.kind == "municipality") {
        let id = orgs::create(
            &mut tx,
            &ctx,
            &OrgInput {
                kind: OrgKind::MunicipalOffice.code().into(),
                name: office_name(&m.name),
                municipality_code6: Some(m.code6.clone()),
                address: String::new(),
                phone: String::new(),
                email: String::new(),
            },
        )
        .await?;
        if m.code6 == "032018" {
            morioka_office = Some(id);
        }
    }
    let pref = ids[0].clone();
    let center = ids[1].clone();
    let training = ids[2].clone();
    let hospital = ids[3].clone();
    let municipal = morioka_office.unwrap_or_else(|| pref.clone());
    let people: [(&'static str, &str, Role, &String); 7] = [
        ("admin", "管理 一郎", Role::SystemAdmin, &pref),
        ("pref", "県庁 花子", Role::PrefectureOfficer, &pref),
        (
            "coordinator",
            "支援 さくら",
            Role::CenterCoordinator,
            &center,
        ),
        ("municipal", "盛岡 次郎", Role::MunicipalOfficer, &municipal),
        ("hospital", "医療 みどり", Role::HospitalStaff, &hospital),
        ("trainer", "研修 健太", Role::TrainingStaff, &training),
        ("viewer", "閲覧 はるか", Role::Viewer, &pref),
    ];
    let mut logins = Vec::new();
    for (login, name, role, org) in people {
        accounts::create(
            &mut tx,
            &ctx,
            &UserInput {
                login_id: login.into(),
                display_name: name.into(),
                email: String::new(),
                organisation_id: org.clone(),
                roles: vec![role],
            },
            &hash,
            false,
        )
        .await?;
        let org_name =
            sqlx::query_scalar::<_, String>("SELECT name FROM organisations WHERE id = $1")
                .bind(org)
                .fetch_one(tx.conn())
                .await?;
        logins.push(DemoLogin {
            login_id: login,
            role,
            organisation: org_name,
        });
    }
    // Link the matrix columns to the organisations they stand for.
    for (label, org) in [
        ("みちのく療育園", &center),
        ("県社会福祉事業団", &training),
        ("医大ほかNICU", &hospital),
        ("県", &pref),
    ] {
        sqlx::query("UPDATE matrix_participants SET organisation_id = $1 WHERE label = $2")
            .bind(org)
            .bind(label)
            .execute(tx.conn())
            .await?;
    }
    // The resource directory: a window per municipality and the demo resources.
    crate::demo_resources::load(&mut tx, &ctx, prefecture_code).await?;
    // A year of consultations (after the directory, so that they can introduce resources).
    crate::demo_consultations::load(&mut tx, &ctx, prefecture_code).await?;
    crate::demo_surveys::load(&mut tx, &ctx, prefecture_code).await?;
    demo_mail(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok(logins)
}

/// Two reminders of this 年度's round in the outbox, so that メール送信 has something to show:
/// one sent last week, one that the relay refused until the retries ran out.
async fn demo_mail(tx: &mut Tx, ctx: &AuditCtx) -> Result<()> {
    let open: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.id, m.name FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id
         JOIN municipalities m ON m.code6 = s.municipality_code6
         WHERE s.status IN ('not_started', 'draft') ORDER BY r.fiscal_year DESC, m.code6 LIMIT 2",
    )
    .fetch_all(tx.conn())
    .await?;
    let week_ago = crate::clock::format(crate::clock::now() - time::Duration::days(7));
    for (i, (response, municipality)) in open.iter().enumerate() {
        let id = crate::outbox::enqueue(
            tx,
            ctx,
            &crate::outbox::NewMail {
                kind: "survey_reminder",
                record_type: "survey_response".into(),
                record_id: response.clone(),
                to: vec![format!("hoken{}@city.example.lg.jp", i + 1)],
                subject: "【督促】状況把握調査（デモ）".into(),
                body: format!(
                    "{municipality} ご担当者様\n\n状況把握調査の提出期限が近づいています。\n"
                ),
            },
        )
        .await?;
        let (status, error, sent_at) = if i == 0 {
            ("sent", "", Some(week_ago.clone()))
        } else {
            (
                "failed",
                "メールサーバーに送れませんでした: Connection refused (os error 111)",
                None,
            )
        };
        sqlx::query(
            "UPDATE mail_outbox SET status = $1, attempts = $2, last_error = $3, sent_at = $4, created_at = $5 WHERE id = $6",
        )
        .bind(status)
        .bind(if i == 0 { 1i64 } else { 10 })
        .bind(error)
        .bind(sent_at)
        .bind(&week_ago)
        .bind(&id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

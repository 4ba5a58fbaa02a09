//! The regional situation survey (状況把握調査): versioned definitions, rounds issued for a 年度,
//! municipalities' responses with their history, reminders, and approved answers for the
//! roll-up.

use serde::Serialize;
use sqlx::Row;
use time::Date;
use tsunagu_domain::policy::{self, Action, Actor};
use tsunagu_domain::survey::{Answers, Choice, Definition, ResponseStatus, standard_definition};

use crate::audit::{self, AuditCtx, Event};
use crate::sql::{Owners, Where};
use crate::{Db, Result, StoreError, Tx, clock, new_id};

/// The family of the seeded standard definition, the same in every prefecture so that
/// national figures can be put side by side.
pub const STANDARD_FAMILY: &str = "standard";

/// A stored version of a definition.
#[derive(Debug, Clone)]
pub struct StoredDefinition {
    pub id: String,
    pub family: String,
    pub version: i64,
    pub title: String,
    pub definition: Definition,
    /// Rounds issued with this version; a used version never changes.
    pub rounds: i64,
    pub updated_at: String,
}

/// The newest version of each definition, for the list.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionSummary {
    pub id: String,
    pub family: String,
    pub version: i64,
    pub title: String,
    pub rounds: i64,
    pub updated_at: String,
}

fn parse_definition(body: &str) -> Result<Definition> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Other(format!("survey definition is not readable: {e}")))
}

/// Seeds the standard definition (医療的ケア児等の実態調査) for `prefecture_code` when it has
/// none, with the care types of the code list.
pub async fn seed_standard_if_missing(db: &Db, prefecture_code: &str) -> Result<()> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM survey_definitions WHERE prefecture_code = $1 AND family = $2",
    )
    .bind(prefecture_code)
    .bind(STANDARD_FAMILY)
    .fetch_one(db.pool())
    .await?;
    if n > 0 {
        return Ok(());
    }
    let types: Vec<Choice> = crate::care_types::list(db, false)
        .await?
        .into_iter()
        .map(|c| Choice {
            key: c.code,
            label: c.name,
        })
        .collect();
    let def = standard_definition(&types);
    let mut tx = db.begin().await?;
    insert_definition(
        &mut tx,
        &AuditCtx::system("seed"),
        prefecture_code,
        STANDARD_FAMILY,
        1,
        &def,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_definition(
    tx: &mut Tx,
    ctx: &AuditCtx,
    prefecture_code: &str,
    family: &str,
    version: i64,
    def: &Definition,
) -> Result<String> {
    let id = new_id();
    let now = clock::now_text();
    let body = serde_json::to_string(def).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "INSERT INTO survey_definitions (id, family, version, prefecture_code, title, body, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(family)
    .bind(version)
    .bind(prefecture_code)
    .bind(&def.title)
    .bind(&body)
    .bind(ctx.actor_user_id.clone())
    .bind(&now)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("survey_definition.create", "survey_definition", &id)
            .new_values(def)
            .detail(format!("{} 第{version}版", def.title)),
    )
    .await?;
    Ok(id)
}

/// The newest version of every definition of the prefecture in use.
pub async fn definitions(db: &Db, prefecture_code: &str) -> Result<Vec<DefinitionSummary>> {
    newest_versions(db, prefecture_code, false).await
}

/// The newest version of each definition, in use or (`retired`) retired.
pub(crate) async fn newest_versions(
    db: &Db,
    prefecture_code: &str,
    retired: bool,
) -> Result<Vec<DefinitionSummary>> {
    let rows = sqlx::query(
        "SELECT d.id, d.family, d.version, d.title, d.updated_at,
            (SELECT COUNT(*) FROM survey_rounds r WHERE r.definition_id = d.id) AS rounds
         FROM survey_definitions d
         WHERE d.prefecture_code = $1 AND (d.retired <> 0) = ($2 <> 0)
           AND d.version = (SELECT MAX(v.version) FROM survey_definitions v WHERE v.prefecture_code = d.prefecture_code AND v.family = d.family)
         ORDER BY d.title, d.family",
    )
    .bind(prefecture_code)
    .bind(i64::from(retired))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DefinitionSummary {
                id: r.try_get("id")?,
                family: r.try_get("family")?,
                version: r.try_get("version")?,
                title: r.try_get("title")?,
                rounds: r.try_get("rounds")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

pub async fn definition(db: &Db, prefecture_code: &str, id: &str) -> Result<StoredDefinition> {
    let r = sqlx::query(
        "SELECT d.id, d.family, d.version, d.title, d.body, d.updated_at,
            (SELECT COUNT(*) FROM survey_rounds r WHERE r.definition_id = d.id) AS rounds
         FROM survey_definitions d WHERE d.id = $1 AND d.prefecture_code = $2",
    )
    .bind(id)
    .bind(prefecture_code)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(StoredDefinition {
        id: r.try_get("id")?,
        family: r.try_get("family")?,
        version: r.try_get("version")?,
        title: r.try_get("title")?,
        definition: parse_definition(&r.try_get::<String, _>("body")?)?,
        rounds: r.try_get("rounds")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Saves `def`: a new definition when `base` is None; otherwise a change of the version `base`,
/// made in place while no round uses it and as the family's next version once one does.
/// Returns the id of the version that holds `def`.
pub async fn save_definition(
    tx: &mut Tx,
    ctx: &AuditCtx,
    prefecture_code: &str,
    base: Option<&str>,
    def: &Definition,
) -> Result<String> {
    let Some(base) = base else {
        return insert_definition(tx, ctx, prefecture_code, &new_id(), 1, def).await;
    };
    let row = sqlx::query(
        "SELECT d.family, d.body, (SELECT COUNT(*) FROM survey_rounds r WHERE r.definition_id = d.id) AS rounds
         FROM survey_definitions d WHERE d.id = $1 AND d.prefecture_code = $2",
    )
    .bind(base)
    .bind(prefecture_code)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    let family: String = row.try_get("family")?;
    let rounds: i64 = row.try_get("rounds")?;
    let old = parse_definition(&row.try_get::<String, _>("body")?)?;
    if rounds > 0 {
        let newest: i64 = sqlx::query_scalar(
            "SELECT MAX(version) FROM survey_definitions WHERE prefecture_code = $1 AND family = $2",
        )
        .bind(prefecture_code)
        .bind(&family)
        .fetch_one(tx.conn())
        .await?;
        return insert_definition(tx, ctx, prefecture_code, &family, newest + 1, def).await;
    }
    let body = serde_json::to_string(def).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "UPDATE survey_definitions SET title = $1, body = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(&def.title)
    .bind(&body)
    .bind(clock::now_text())
    .bind(base)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("survey_definition.update", "survey_definition", base)
            .old(&old)
            .new_values(def),
    )
    .await?;
    Ok(base.to_string())
}

/// A round of the survey (調査の実施回).
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub id: String,
    pub definition_id: String,
    pub family: String,
    pub prefecture_code: String,
    pub fiscal_year: i64,
    pub title: String,
    pub as_of: String,
    pub opens_on: String,
    pub due_on: String,
    pub note: String,
}

impl Round {
    pub fn opens(&self) -> Option<Date> {
        parse_date(&self.opens_on)
    }
    pub fn due(&self) -> Option<Date> {
        parse_date(&self.due_on)
    }
}

pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

const ROUND_SELECT: &str = "SELECT r.id, r.definition_id, d.family, r.prefecture_code, r.fiscal_year, r.title, r.as_of, r.opens_on, r.due_on, r.note
    FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id";

fn round_from_row(r: &sqlx::any::AnyRow) -> Result<Round> {
    Ok(Round {
        id: r.try_get("id")?,
        definition_id: r.try_get("definition_id")?,
        family: r.try_get("family")?,
        prefecture_code: r.try_get("prefecture_code")?,
        fiscal_year: r.try_get("fiscal_year")?,
        title: r.try_get("title")?,
        as_of: r.try_get("as_of")?,
        opens_on: r.try_get("opens_on")?,
        due_on: r.try_get("due_on")?,
        note: r.try_get("note")?,
    })
}

/// What the center enters to issue a round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundInput {
    pub definition_id: String,
    pub fiscal_year: i64,
    pub title: String,
    pub as_of: String,
    pub opens_on: String,
    pub due_on: String,
    pub note: String,
    /// The municipalities asked to respond (6-digit codes).
    pub municipalities: Vec<String>,
}

/// Issues a round: one response per municipality, not started.
pub async fn create_round(
    tx: &mut Tx,
    ctx: &AuditCtx,
    prefecture_code: &str,
    input: &RoundInput,
) -> Result<String> {
    let ok: Option<String> = sqlx::query_scalar(
        "SELECT id FROM survey_definitions WHERE id = $1 AND prefecture_code = $2",
    )
    .bind(&input.definition_id)
    .bind(prefecture_code)
    .fetch_optional(tx.conn())
    .await?;
    if ok.is_none() {
        return Err(StoreError::Invalid("調査票を選んでください".into()));
    }
    // One response per municipality, definition family and 年度: the roll-up counts each
    // municipality once.
    for code6 in &input.municipalities {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT m.name FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id
             JOIN survey_definitions d ON d.id = r.definition_id JOIN municipalities m ON m.code6 = s.municipality_code6
             WHERE s.municipality_code6 = $1 AND r.fiscal_year = $2
               AND d.family = (SELECT family FROM survey_definitions WHERE id = $3)",
        )
        .bind(code6)
        .bind(input.fiscal_year)
        .bind(&input.definition_id)
        .fetch_optional(tx.conn())
        .await?;
        if let Some(name) = taken {
            return Err(StoreError::Invalid(format!(
                "{name}には、この調査票の同じ年度の調査がすでに発出されています。年度を確かめてください"
            )));
        }
    }
    let id = new_id();
    let now = clock::now_text();
    sqlx::query(
        "INSERT INTO survey_rounds (id, definition_id, prefecture_code, fiscal_year, title, as_of, opens_on, due_on, note, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(&input.definition_id)
    .bind(prefecture_code)
    .bind(input.fiscal_year)
    .bind(&input.title)
    .bind(&input.as_of)
    .bind(&input.opens_on)
    .bind(&input.due_on)
    .bind(&input.note)
    .bind(ctx.actor_user_id.clone())
    .bind(&now)
    .execute(tx.conn())
    .await?;
    for code6 in &input.municipalities {
        let inside: Option<String> = sqlx::query_scalar(
            "SELECT code6 FROM municipalities WHERE code6 = $1 AND prefecture_code = $2",
        )
        .bind(code6)
        .bind(prefecture_code)
        .fetch_optional(tx.conn())
        .await?;
        if inside.is_none() {
            return Err(StoreError::Invalid(format!(
                "市町村コード {code6} はこの都道府県にありません"
            )));
        }
        sqlx::query(
            "INSERT INTO survey_responses (id, round_id, municipality_code6, status, answers, updated_at) VALUES ($1, $2, $3, $4, '{}', $5)",
        )
        .bind(new_id())
        .bind(&id)
        .bind(code6)
        .bind(ResponseStatus::NotStarted.code())
        .bind(&now)
        .execute(tx.conn())
        .await?;
    }
    audit::append(
        tx,
        ctx,
        Event::new("survey_round.create", "survey_round", &id).new_values(input),
    )
    .await?;
    Ok(id)
}

pub async fn round(db: &Db, prefecture_code: &str, id: &str) -> Result<Round> {
    let sql = format!("{ROUND_SELECT} WHERE r.id = $1 AND r.prefecture_code = $2");
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(prefecture_code)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    round_from_row(&row)
}

/// A round with how many responses are in each state.
#[derive(Debug, Clone, Serialize)]
pub struct RoundSummary {
    pub round: Round,
    pub total: i64,
    pub submitted: i64,
    pub approved: i64,
    pub returned: i64,
    pub open: i64,
}

pub async fn rounds(db: &Db, prefecture_code: &str) -> Result<Vec<RoundSummary>> {
    let sql = format!(
        "{ROUND_SELECT} WHERE r.prefecture_code = $1 ORDER BY r.fiscal_year DESC, r.created_at DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(prefecture_code)
        .fetch_all(db.pool())
        .await?;
    let counts = sqlx::query(
        "SELECT s.round_id, s.status, COUNT(*) AS n FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id
         WHERE r.prefecture_code = $1 GROUP BY s.round_id, s.status",
    )
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let round = round_from_row(r)?;
        let mut s = RoundSummary {
            round,
            total: 0,
            submitted: 0,
            approved: 0,
            returned: 0,
            open: 0,
        };
        for c in &counts {
            let rid: String = c.try_get("round_id")?;
            if rid != s.round.id {
                continue;
            }
            let n: i64 = c.try_get("n")?;
            let status: String = c.try_get("status")?;
            s.total += n;
            match ResponseStatus::from_code(&status) {
                Some(ResponseStatus::Submitted) => s.submitted += n,
                Some(ResponseStatus::Approved) => s.approved += n,
                Some(ResponseStatus::Returned) => {
                    s.returned += n;
                    s.open += n
                }
                _ => s.open += n,
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// One line of a round's status board, or of a municipality's inbox.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseLine {
    pub id: String,
    pub round_id: String,
    pub round_title: String,
    pub fiscal_year: i64,
    pub opens_on: String,
    pub due_on: String,
    pub municipality_code6: String,
    pub municipality_name: String,
    pub area_name: Option<String>,
    pub status: ResponseStatus,
    pub reopened: bool,
    pub submitted_at: Option<String>,
    pub approved_at: Option<String>,
    pub updated_at: String,
}

impl ResponseLine {
    /// Submitted after the deadline, or still open past it.
    pub fn is_late(&self, today: Date) -> bool {
        let Some(due) = parse_date(&self.due_on) else {
            return false;
        };
        match &self.submitted_at {
            Some(at) => at.get(..10).and_then(parse_date).is_some_and(|d| d > due),
            None => self.status.is_open() && today > due,
        }
    }
}

const LINE_SELECT: &str = "SELECT s.id, s.round_id, r.title AS round_title, r.fiscal_year, r.opens_on, r.due_on, s.municipality_code6,
    m.name AS municipality_name,
    (SELECT a.name FROM area_municipalities am JOIN areas a ON a.id = am.area_id WHERE am.municipality_code6 = m.code6 ORDER BY a.sort_order LIMIT 1) AS area_name,
    s.status, s.reopened, s.submitted_at, s.approved_at, s.updated_at
    FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id JOIN municipalities m ON m.code6 = s.municipality_code6";

fn line_from_row(r: &sqlx::any::AnyRow) -> Result<ResponseLine> {
    let status: String = r.try_get("status")?;
    Ok(ResponseLine {
        id: r.try_get("id")?,
        round_id: r.try_get("round_id")?,
        round_title: r.try_get("round_title")?,
        fiscal_year: r.try_get("fiscal_year")?,
        opens_on: r.try_get("opens_on")?,
        due_on: r.try_get("due_on")?,
        municipality_code6: r.try_get("municipality_code6")?,
        municipality_name: r.try_get("municipality_name")?,
        area_name: r.try_get("area_name")?,
        status: ResponseStatus::from_code(&status).unwrap_or(ResponseStatus::Draft),
        reopened: r.try_get::<i64, _>("reopened")? != 0,
        submitted_at: r.try_get("submitted_at")?,
        approved_at: r.try_get("approved_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Every municipality's response to a round, by municipality code.
pub async fn board(db: &Db, round_id: &str) -> Result<Vec<ResponseLine>> {
    let sql = format!("{LINE_SELECT} WHERE s.round_id = $1 ORDER BY s.municipality_code6");
    let rows = sqlx::query(&sql)
        .bind(round_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(line_from_row).collect()
}

/// The column that carries a response's owner (alias `s`).
const RESPONSE_OWNERS: Owners = Owners {
    municipality: Some("s.municipality_code6"),
    ..Owners::CENTER_ONLY
};

/// The responses `actor` may see in their inbox: their municipality's (for municipal
/// officers), newest round first.
pub async fn inbox(db: &Db, actor: &Actor) -> Result<Vec<ResponseLine>> {
    // The inbox is a municipality's own: the center's rounds are on their boards.
    if !policy::is_for_own_municipality(actor, Action::RespondToSurvey) {
        return Ok(Vec::new());
    }
    let w = Where::scoped(actor, Action::RespondToSurvey, RESPONSE_OWNERS);
    let sql = format!(
        "{LINE_SELECT} WHERE 1 = 1{} ORDER BY r.fiscal_year DESC, r.due_on DESC",
        w.sql()
    );
    let rows = w.query(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(line_from_row).collect()
}

/// A response with its round and definition.
#[derive(Debug, Clone)]
pub struct Response {
    pub line: ResponseLine,
    pub round: Round,
    pub definition: Definition,
    pub answers: Answers,
    pub revision: i64,
}

/// The response `id`, if `actor` may see it (else `NotFound`, like one that does not exist).
pub async fn response(db: &Db, actor: &Actor, id: &str) -> Result<Response> {
    let mut w = Where::scoped(actor, Action::ViewSurveys, RESPONSE_OWNERS);
    if w.allows_nothing() {
        return Err(StoreError::NotFound);
    }
    w.and_text("s.id = ?", id);
    let mut conn = db.pool().acquire().await?;
    let sql = format!("{LINE_SELECT} WHERE 1 = 1{}", w.sql());
    let row = w
        .query(&sql)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let line = line_from_row(&row)?;
    let r = sqlx::query(
        "SELECT s.answers, s.revision, d.body FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id
         JOIN survey_definitions d ON d.id = r.definition_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let sql = format!("{ROUND_SELECT} WHERE r.id = $1");
    let round = round_from_row(
        &sqlx::query(&sql)
            .bind(&line.round_id)
            .fetch_one(&mut *conn)
            .await?,
    )?;
    Ok(Response {
        answers: parse_answers(&r.try_get::<String, _>("answers")?),
        revision: r.try_get("revision")?,
        definition: parse_definition(&r.try_get::<String, _>("body")?)?,
        round,
        line,
    })
}

fn parse_answers(s: &str) -> Answers {
    serde_json::from_str(s).unwrap_or_default()
}

/// The municipality's approved answers of the newest earlier 年度 of the same definition family
/// (shown beside the fields and used for change warnings).
pub async fn last_year(db: &Db, round: &Round, code6: &str) -> Result<Option<(i64, Answers)>> {
    let row = sqlx::query(
        "SELECT r.fiscal_year, s.answers FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id
         JOIN survey_definitions d ON d.id = r.definition_id
         WHERE s.municipality_code6 = $1 AND s.status = 'approved' AND d.family = $2 AND r.prefecture_code = $3 AND r.fiscal_year < $4
         ORDER BY r.fiscal_year DESC LIMIT 1",
    )
    .bind(code6)
    .bind(&round.family)
    .bind(&round.prefecture_code)
    .bind(round.fiscal_year)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(r) => Ok(Some((
            r.try_get("fiscal_year")?,
            parse_answers(&r.try_get::<String, _>("answers")?),
        ))),
        None => Ok(None),
    }
}

/// Something that happened to a response.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseEvent {
    pub at: String,
    pub user_name: Option<String>,
    pub kind: String,
    pub comment: String,
}

impl ResponseEvent {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "saved" => "一時保存",
            "submitted" => "提出",
            "returned" => "差し戻し",
            "approved" => "承認",
            "unlocked" => "承認の解除",
            "reopened" => "期限後の再入力を許可",
            "reminded" => "督促",
            "uploaded" => "Excel から取り込み",
            _ => "更新",
        }
    }
}

pub async fn events(db: &Db, response_id: &str) -> Result<Vec<ResponseEvent>> {
    let rows = sqlx::query(
        "SELECT e.at, u.display_name, e.kind, e.comment FROM survey_response_events e LEFT JOIN users u ON u.id = e.user_id
         WHERE e.response_id = $1 ORDER BY e.at DESC, e.id DESC",
    )
    .bind(response_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ResponseEvent {
                at: r.try_get("at")?,
                user_name: r.try_get("display_name")?,
                kind: r.try_get("kind")?,
                comment: r.try_get("comment")?,
            })
        })
        .collect()
}

async fn add_event(
    tx: &mut Tx,
    ctx: &AuditCtx,
    response_id: &str,
    kind: &str,
    comment: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO survey_response_events (id, response_id, at, user_id, kind, comment) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(response_id)
    .bind(clock::now_text())
    .bind(ctx.actor_user_id.clone())
    .bind(kind)
    .bind(comment)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct State<'a> {
    status: &'a str,
    reopened: bool,
}

/// The state and answers of a response inside a write transaction.
struct Current {
    status: ResponseStatus,
    reopened: bool,
    answers: Answers,
    revision: i64,
}

async fn current(tx: &mut Tx, id: &str) -> Result<Current> {
    let r = sqlx::query(
        "SELECT status, reopened, answers, revision FROM survey_responses WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    let status: String = r.try_get("status")?;
    Ok(Current {
        status: ResponseStatus::from_code(&status).unwrap_or(ResponseStatus::Draft),
        reopened: r.try_get::<i64, _>("reopened")? != 0,
        answers: parse_answers(&r.try_get::<String, _>("answers")?),
        revision: r.try_get("revision")?,
    })
}

/// Only the answers that differ, for the audit log: field → value.
fn changed(old: &Answers, new: &Answers) -> (Answers, Answers) {
    let mut before = Answers::new();
    let mut after = Answers::new();
    for k in old.keys().chain(new.keys()) {
        let (o, n) = (old.get(k), new.get(k));
        if o.map(|s| s.trim()) != n.map(|s| s.trim()) {
            before.insert(k.clone(), o.cloned().unwrap_or_default());
            after.insert(k.clone(), n.cloned().unwrap_or_default());
        }
    }
    (before, after)
}

/// How a write to the answers came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saving {
    /// A draft saved from the form.
    Draft,
    /// Answers taken from an uploaded xlsx sheet (kept as a draft).
    Upload,
    /// Answers submitted for review.
    Submit,
}

/// Writes `answers` to the response if it is still at `revision` (else `Conflict`: somebody
/// saved in between) and open; a submission also moves it to 提出済み. Returns the new revision.
pub async fn save_answers(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    revision: i64,
    answers: &Answers,
    saving: Saving,
) -> Result<i64> {
    let cur = current(tx, id).await?;
    if !cur.status.is_open() {
        return Err(StoreError::Conflict(format!(
            "この回答は「{}」のため変更できません",
            cur.status.label()
        )));
    }
    if cur.revision != revision {
        return Err(StoreError::Conflict(
            "この回答は、画面を開いたあとに別の人が保存しています。入力内容はこのまま残っていますので、もう一度開き直して内容を確かめてから保存してください"
                .into(),
        ));
    }
    let answers: Answers = answers
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    let body = serde_json::to_string(&answers).map_err(|e| StoreError::Other(e.to_string()))?;
    let (status, kind, action) = match saving {
        Saving::Draft => (
            if cur.status == ResponseStatus::Returned {
                ResponseStatus::Returned
            } else {
                ResponseStatus::Draft
            },
            "saved",
            "survey_response.save",
        ),
        Saving::Upload => (
            if cur.status == ResponseStatus::Returned {
                ResponseStatus::Returned
            } else {
                ResponseStatus::Draft
            },
            "uploaded",
            "survey_response.upload",
        ),
        Saving::Submit => (
            ResponseStatus::Submitted,
            "submitted",
            "survey_response.submit",
        ),
    };
    let now = clock::now_text();
    let submitted = saving == Saving::Submit;
    let n = sqlx::query(
        "UPDATE survey_responses SET answers = $1, status = $2, updated_at = $3, updated_by = $4, revision = revision + 1,
            submitted_at = CASE WHEN $5 = 1 THEN $3 ELSE submitted_at END,
            submitted_by = CASE WHEN $5 = 1 THEN $4 ELSE submitted_by END
         WHERE id = $6 AND revision = $7",
    )
    .bind(&body)
    .bind(status.code())
    .bind(&now)
    .bind(ctx.actor_user_id.clone())
    .bind(i64::from(submitted))
    .bind(id)
    .bind(revision)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict(
            "この回答は別の人が同時に保存しました。開き直してください".into(),
        ));
    }
    // Drafts are saved often; the history shows the submission and uploads, the audit log all.
    if saving != Saving::Draft || cur.status == ResponseStatus::NotStarted {
        add_event(tx, ctx, id, kind, "").await?;
    }
    let (before, after) = changed(&cur.answers, &answers);
    audit::append(
        tx,
        ctx,
        Event::new(action, "survey_response", id)
            .old(&serde_json::json!({"status": cur.status.code(), "answers": before}))
            .new_values(&serde_json::json!({"status": status.code(), "answers": after})),
    )
    .await?;
    Ok(revision + 1)
}

/// A review decision of the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 承認: the answers are locked and count in the roll-up.
    Approve,
    /// 差し戻し with a comment: the municipality corrects and submits again.
    Return,
    /// 承認の解除 with a reason: back to 差し戻し so it can be corrected.
    Unlock,
    /// Let the municipality edit after the deadline.
    Reopen,
}

/// Applies a review decision. `comment` is required for returning and unlocking.
pub async fn decide(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    decision: Decision,
    comment: &str,
) -> Result<()> {
    let cur = current(tx, id).await?;
    let comment = comment.trim();
    let (from_ok, to, reopened, kind, action) = match decision {
        Decision::Approve => (
            cur.status == ResponseStatus::Submitted,
            ResponseStatus::Approved,
            false,
            "approved",
            "survey_response.approve",
        ),
        Decision::Return => (
            cur.status == ResponseStatus::Submitted,
            ResponseStatus::Returned,
            true,
            "returned",
            "survey_response.return",
        ),
        Decision::Unlock => (
            cur.status == ResponseStatus::Approved,
            ResponseStatus::Returned,
            true,
            "unlocked",
            "survey_response.unlock",
        ),
        Decision::Reopen => (
            cur.status.is_open(),
            cur.status,
            true,
            "reopened",
            "survey_response.reopen",
        ),
    };
    if !from_ok {
        return Err(StoreError::Conflict(format!(
            "「{}」の回答にはこの操作はできません",
            cur.status.label()
        )));
    }
    if matches!(decision, Decision::Return | Decision::Unlock) && comment.is_empty() {
        return Err(StoreError::Invalid(match decision {
            Decision::Unlock => "承認を解除する理由を入力してください".into(),
            _ => "差し戻す理由（市町村へのコメント）を入力してください".into(),
        }));
    }
    if comment.chars().count() > 2000 {
        return Err(StoreError::Invalid(
            "コメントは2000文字以内で入力してください".into(),
        ));
    }
    let now = clock::now_text();
    sqlx::query(
        "UPDATE survey_responses SET status = $1, reopened = $2, updated_at = $3, updated_by = $4, revision = revision + 1,
            approved_at = CASE WHEN $5 = 1 THEN $3 ELSE NULL END,
            approved_by = CASE WHEN $5 = 1 THEN $4 ELSE NULL END
         WHERE id = $6",
    )
    .bind(to.code())
    .bind(i64::from(reopened))
    .bind(&now)
    .bind(ctx.actor_user_id.clone())
    .bind(i64::from(decision == Decision::Approve))
    .bind(id)
    .execute(tx.conn())
    .await?;
    add_event(tx, ctx, id, kind, comment).await?;
    audit::append(
        tx,
        ctx,
        Event::new(action, "survey_response", id)
            .old(&State {
                status: cur.status.code(),
                reopened: cur.reopened,
            })
            .new_values(&State {
                status: to.code(),
                reopened,
            })
            .detail(comment.to_string()),
    )
    .await?;
    Ok(())
}

/// Sends an in-app notice (お知らせ) to the municipal offices of every municipality whose
/// response to the round is still open. Returns how many responses were reminded.
pub async fn remind(tx: &mut Tx, ctx: &AuditCtx, round: &Round, message: &str) -> Result<usize> {
    let rows = sqlx::query(
        "SELECT s.id, s.municipality_code6 FROM survey_responses s WHERE s.round_id = $1 AND s.status IN ('not_started', 'draft', 'returned')",
    )
    .bind(&round.id)
    .fetch_all(tx.conn())
    .await?;
    let now = clock::now_text();
    let title = format!("【督促】{}（{}まで）", round.title, round.due_on);
    let mut n = 0;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let code6: String = r.try_get("municipality_code6")?;
        let orgs: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM organisations WHERE municipality_code6 = $1 AND kind = 'municipal_office' AND retired_at IS NULL",
        )
        .bind(&code6)
        .fetch_all(tx.conn())
        .await?;
        for org in &orgs {
            sqlx::query(
                "INSERT INTO notices (id, organisation_id, title, body, link, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new_id())
            .bind(org)
            .bind(&title)
            .bind(message)
            .bind(format!("/surveys/responses/{id}"))
            .bind(ctx.actor_user_id.clone())
            .bind(&now)
            .execute(tx.conn())
            .await?;
        }
        add_event(tx, ctx, &id, "reminded", message).await?;
        n += 1;
    }
    audit::append(
        tx,
        ctx,
        Event::new("survey_round.remind", "survey_round", &round.id)
            .detail(format!("{n} 市町村に督促: {message}")),
    )
    .await?;
    Ok(n)
}

/// Where a reminder e-mail (督促メール) for one open response goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderRecipient {
    pub response_id: String,
    pub municipality_name: String,
    pub email: String,
}

/// The e-mail addresses that reminders of the round reach: those of the municipal offices whose
/// response is still open, and of their active users; each address once per municipality,
/// ordered by municipality.
pub async fn reminder_recipients(db: &Db, round_id: &str) -> Result<Vec<ReminderRecipient>> {
    let rows = sqlx::query(
        "SELECT s.id AS response_id, s.municipality_code6 AS code6, m.name AS municipality_name, o.email AS email
         FROM survey_responses s
         JOIN municipalities m ON m.code6 = s.municipality_code6
         JOIN organisations o ON o.municipality_code6 = s.municipality_code6 AND o.kind = 'municipal_office' AND o.retired_at IS NULL
         WHERE s.round_id = $1 AND s.status IN ('not_started', 'draft', 'returned') AND o.email <> ''
         UNION ALL
         SELECT s.id, s.municipality_code6, m.name, u.email
         FROM survey_responses s
         JOIN municipalities m ON m.code6 = s.municipality_code6
         JOIN organisations o ON o.municipality_code6 = s.municipality_code6 AND o.kind = 'municipal_office' AND o.retired_at IS NULL
         JOIN users u ON u.organisation_id = o.id AND u.disabled_at IS NULL
         WHERE s.round_id = $1 AND s.status IN ('not_started', 'draft', 'returned') AND u.email <> ''
         ORDER BY 2, 4",
    )
    .bind(round_id)
    .fetch_all(db.pool())
    .await?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for r in &rows {
        let response_id: String = r.try_get("response_id")?;
        let email: String = r.try_get("email")?;
        let email = email.trim().to_string();
        // One address typed with different capitals is one mailbox in practice.
        if email.is_empty() || !seen.insert((response_id.clone(), email.to_lowercase())) {
            continue;
        }
        out.push(ReminderRecipient {
            response_id,
            municipality_name: r.try_get("municipality_name")?,
            email,
        });
    }
    Ok(out)
}

/// An in-app notice to an organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub id: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub created_at: String,
    pub read: bool,
}

/// The newest notices of the organisation.
pub async fn notices(db: &Db, organisation_id: &str, limit: i64) -> Result<Vec<Notice>> {
    let rows = sqlx::query(
        "SELECT id, title, body, link, created_at, read_at FROM notices WHERE organisation_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(organisation_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Notice {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                link: r.try_get("link")?,
                created_at: r.try_get("created_at")?,
                read: r.try_get::<Option<String>, _>("read_at")?.is_some(),
            })
        })
        .collect()
}

/// Approved answers of one 年度 for a definition family: per municipality, with its prefecture
/// and 5-digit code. `prefecture_code` None means the whole country.
#[derive(Debug, Clone)]
pub struct ApprovedAnswers {
    pub code6: String,
    pub code5: String,
    pub prefecture_code: String,
    pub answers: Answers,
}

pub async fn approved(
    db: &Db,
    family: &str,
    fiscal_year: i64,
    prefecture_code: Option<&str>,
) -> Result<Vec<ApprovedAnswers>> {
    let rows = sqlx::query(
        "SELECT s.municipality_code6, m.code5, r.prefecture_code, s.answers
         FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id
         JOIN survey_responses s ON s.round_id = r.id JOIN municipalities m ON m.code6 = s.municipality_code6
         WHERE r.fiscal_year = $1 AND d.family = $2 AND s.status = 'approved' AND ($3 = '' OR r.prefecture_code = $3)
         ORDER BY s.municipality_code6",
    )
    .bind(fiscal_year)
    .bind(family)
    .bind(prefecture_code.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ApprovedAnswers {
                code6: r.try_get("municipality_code6")?,
                code5: r.try_get("code5")?,
                prefecture_code: r.try_get("prefecture_code")?,
                answers: parse_answers(&r.try_get::<String, _>("answers")?),
            })
        })
        .collect()
}

/// The 年度 that have a round of the family, newest first.
pub async fn years(db: &Db, family: &str, prefecture_code: Option<&str>) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT r.fiscal_year FROM survey_rounds r JOIN survey_definitions d ON d.id = r.definition_id
         WHERE d.family = $1 AND ($2 = '' OR r.prefecture_code = $2) ORDER BY r.fiscal_year DESC",
    )
    .bind(family)
    .bind(prefecture_code.unwrap_or(""))
    .fetch_all(db.pool())
    .await?)
}

/// A good practice a municipality agreed to share (好事例).
#[derive(Debug, Clone, Serialize)]
pub struct GoodPractice {
    pub fiscal_year: i64,
    pub municipality_name: String,
    pub area_name: Option<String>,
    pub text: String,
}

/// Publishable long-text answers of approved responses, newest 年度 first. `item` is the key of
/// the long-text item whose `publishable` box was ticked.
pub async fn good_practices(db: &Db, prefecture_code: &str) -> Result<Vec<GoodPractice>> {
    let rows = sqlx::query(
        "SELECT r.fiscal_year, m.name, d.body, s.answers,
            (SELECT a.name FROM area_municipalities am JOIN areas a ON a.id = am.area_id WHERE am.municipality_code6 = m.code6 ORDER BY a.sort_order LIMIT 1) AS area_name
         FROM survey_responses s JOIN survey_rounds r ON r.id = s.round_id JOIN survey_definitions d ON d.id = r.definition_id
         JOIN municipalities m ON m.code6 = s.municipality_code6
         WHERE r.prefecture_code = $1 AND s.status = 'approved'
         ORDER BY r.fiscal_year DESC, m.code6",
    )
    .bind(prefecture_code)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let def = parse_definition(&r.try_get::<String, _>("body")?)?;
        let answers = parse_answers(&r.try_get::<String, _>("answers")?);
        for (_, item) in def.items() {
            if !matches!(
                item.kind,
                tsunagu_domain::survey::ItemKind::LongText { publishable: true }
            ) {
                continue;
            }
            let publish = answers
                .get(&format!("{}.publishable", item.key))
                .is_some_and(|v| v == "1");
            let text = answers.get(&item.key).map(|s| s.trim()).unwrap_or("");
            if publish && !text.is_empty() {
                out.push(GoodPractice {
                    fiscal_year: r.try_get("fiscal_year")?,
                    municipality_name: r.try_get("name")?,
                    area_name: r.try_get("area_name")?,
                    text: text.to_string(),
                });
            }
        }
    }
    Ok(out)
}

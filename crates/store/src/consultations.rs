//! The consultation desk (相談支援): consultation records (相談記録) with their timeline (経過),
//! the resources introduced, the requester's consent, and referrals (つなぎ先への依頼) to local
//! windows and organisations.
//!
//! Who sees what is decided by `policy::scope` and turned into WHERE clauses here: the list of
//! consultations by `ViewConsultations`, the referral inbox by `HandleReferrals`. A referral
//! carries the requester's name and contact only when consent was recorded when it was sent;
//! without it, the query does not even read them.

use serde::Serialize;
use sqlx::Row;
use time::Date;
use tsunagu_domain::consultation::{
    self as rules, AgeBand, Channel, Code, ConsentMethod, ReferralStatus, RequesterType, Source,
    Status, Topic,
};
use tsunagu_domain::policy::{Action, Actor};
use tsunagu_domain::text::normalize_for_search;
use tsunagu_domain::wareki::{JST, fiscal_year};

use crate::audit::{self, AuditCtx, Event, escape_like};
use crate::resources::keyword_terms;
use crate::search_index::Indexed;
use crate::sql::{Bind, Owners, Where, placeholders};
use crate::{Backend, Db, Result, StoreError, Tx, clock, new_id, resources, search_index};

// ---------------------------------------------------------------------------------------------
// Records

/// What a coordinator enters for a consultation (相談記録). Codes are those of
/// `tsunagu_domain::consultation`; `received_at` is UTC text (`clock::format`), dates are
/// `YYYY-MM-DD`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConsultationInput {
    pub received_at: String,
    pub channel: String,
    pub requester_type: String,
    pub requester_name: String,
    pub requester_contact: String,
    pub requester_organisation: String,
    pub child_municipality_code6: Option<String>,
    pub child_age_band: String,
    pub care_types: Vec<String>,
    pub topics: Vec<String>,
    pub question: String,
    pub advice: String,
    pub follow_up_on: Option<String>,
    pub minutes_spent: Option<i64>,
    pub handled_by: Option<String>,
    pub status: String,
}

/// A consultation as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Consultation {
    pub id: String,
    pub receipt_no: String,
    pub fiscal_year: i64,
    pub received_at: String,
    pub received_on: String,
    pub channel: String,
    pub requester_type: String,
    pub requester_name: String,
    pub requester_contact: String,
    pub requester_organisation: String,
    pub child_municipality_code6: Option<String>,
    pub municipality_name: Option<String>,
    pub area_name: Option<String>,
    pub child_age_band: String,
    pub question: String,
    pub advice: String,
    pub follow_up_on: Option<String>,
    pub minutes_spent: Option<i64>,
    pub handled_by: Option<String>,
    pub handled_by_name: Option<String>,
    pub status: String,
    pub source: String,
    pub consent_given: bool,
    pub consent_on: Option<String>,
    pub consent_method: String,
    pub created_by_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub topics: Vec<String>,
    /// (code, name) in list order.
    pub care_types: Vec<(String, String)>,
}

impl Consultation {
    pub fn channel_label(&self) -> String {
        Channel::label_of(&self.channel)
    }
    pub fn requester_type_label(&self) -> String {
        RequesterType::label_of(&self.requester_type)
    }
    pub fn age_band_label(&self) -> String {
        AgeBand::label_of(&self.child_age_band)
    }
    pub fn status_label(&self) -> String {
        Status::label_of(&self.status)
    }
    pub fn status_css(&self) -> &'static str {
        Status::from_code(&self.status)
            .map(Status::css)
            .unwrap_or("status-muted")
    }
    pub fn source_label(&self) -> String {
        Source::label_of(&self.source)
    }
    pub fn consent_method_label(&self) -> String {
        ConsentMethod::label_of(&self.consent_method)
    }
    pub fn topic_labels(&self) -> Vec<String> {
        self.topics.iter().map(|t| Topic::label_of(t)).collect()
    }
    pub fn is_closed(&self) -> bool {
        self.status == Status::Closed.code()
    }

    /// The record as its input, to compare and to fill the edit form.
    pub fn to_input(&self) -> ConsultationInput {
        ConsultationInput {
            received_at: self.received_at.clone(),
            channel: self.channel.clone(),
            requester_type: self.requester_type.clone(),
            requester_name: self.requester_name.clone(),
            requester_contact: self.requester_contact.clone(),
            requester_organisation: self.requester_organisation.clone(),
            child_municipality_code6: self.child_municipality_code6.clone(),
            child_age_band: self.child_age_band.clone(),
            care_types: self.care_types.iter().map(|(c, _)| c.clone()).collect(),
            topics: self.topics.clone(),
            question: self.question.clone(),
            advice: self.advice.clone(),
            follow_up_on: self.follow_up_on.clone(),
            minutes_spent: self.minutes_spent,
            handled_by: self.handled_by.clone(),
            status: self.status.clone(),
        }
    }
}

/// One row of a consultation list. Lists show no name or contact of the requester.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub receipt_no: String,
    pub received_at: String,
    pub received_on: String,
    pub channel: String,
    pub requester_type: String,
    pub municipality_name: Option<String>,
    pub child_age_band: String,
    pub question: String,
    pub status: String,
    pub handled_by_name: Option<String>,
    pub follow_up_on: Option<String>,
    pub source: String,
    pub topics: Vec<String>,
}

impl Summary {
    pub fn channel_label(&self) -> String {
        Channel::label_of(&self.channel)
    }
    pub fn requester_type_label(&self) -> String {
        RequesterType::label_of(&self.requester_type)
    }
    pub fn status_label(&self) -> String {
        Status::label_of(&self.status)
    }
    pub fn status_css(&self) -> &'static str {
        Status::from_code(&self.status)
            .map(Status::css)
            .unwrap_or("status-muted")
    }
    pub fn topic_labels(&self) -> Vec<String> {
        self.topics.iter().map(|t| Topic::label_of(t)).collect()
    }
    pub fn question_excerpt(&self) -> String {
        rules::excerpt(&self.question, 60)
    }
    pub fn from_public_form(&self) -> bool {
        self.source == Source::PublicForm.code()
    }
}

/// A dated addition to a consultation (追記).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub at: String,
    pub author_name: Option<String>,
    pub body: String,
}

/// A resource introduced to the requester (紹介した社会資源).
#[derive(Debug, Clone, Serialize)]
pub struct AttachedResource {
    pub id: String,
    pub name: String,
    pub provider_name: String,
    pub category_name: String,
    pub municipality_name: Option<String>,
    pub phone: String,
    pub retired: bool,
}

// ---------------------------------------------------------------------------------------------
// SQL building

/// The consultations `actor` may read: a consultation carries the requester's name and
/// contact, and nothing here knows a consent rule for narrower scopes, so only the whole
/// center reads them; an organisation sees one only through its referrals (`inbox`,
/// `referral_for`).
fn readable(actor: &Actor) -> Where {
    Where::scoped(actor, Action::ViewConsultations, Owners::CENTER_ONLY)
}

/// The referrals (alias `r`) `actor` may handle: its organisation's, or all for the center.
fn handled(actor: &Actor) -> Where {
    Where::scoped(
        actor,
        Action::HandleReferrals,
        Owners {
            organisation: Some("r.to_organisation_id"),
            ..Owners::CENTER_ONLY
        },
    )
}

/// What the keyword search looks through.
fn search_text(input: &ConsultationInput, receipt_no: &str) -> String {
    normalize_for_search(
        &[
            receipt_no,
            &input.requester_name,
            &input.requester_organisation,
            &input.question,
            &input.advice,
        ]
        .join(" "),
    )
}

fn map_fk(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::Invalid(
            "選ばれた市町村・医療的ケア・担当者のいずれかが登録されていません。画面を開き直してください"
                .into(),
        ),
        _ => StoreError::Db(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading consultations

const SELECT: &str = "SELECT c.id, c.receipt_no, c.fiscal_year, c.received_at, c.received_on, c.channel, c.requester_type,
    c.requester_name, c.requester_contact, c.requester_organisation, c.child_municipality_code6, m.name AS municipality_name,
    (SELECT a.name FROM area_municipalities am JOIN areas a ON a.id = am.area_id WHERE am.municipality_code6 = c.child_municipality_code6 ORDER BY a.sort_order LIMIT 1) AS area_name,
    c.child_age_band, c.question, c.advice, c.follow_up_on, c.minutes_spent, c.handled_by, h.display_name AS handled_by_name,
    c.status, c.source, c.consent_given, c.consent_on, c.consent_method, cb.display_name AS created_by_name, c.created_at, c.updated_at
    FROM consultations c
    LEFT JOIN municipalities m ON m.code6 = c.child_municipality_code6
    LEFT JOIN users h ON h.id = c.handled_by
    LEFT JOIN users cb ON cb.id = c.created_by";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Consultation> {
    let consent: i64 = r.try_get("consent_given")?;
    Ok(Consultation {
        id: r.try_get("id")?,
        receipt_no: r.try_get("receipt_no")?,
        fiscal_year: r.try_get("fiscal_year")?,
        received_at: r.try_get("received_at")?,
        received_on: r.try_get("received_on")?,
        channel: r.try_get("channel")?,
        requester_type: r.try_get("requester_type")?,
        requester_name: r.try_get("requester_name")?,
        requester_contact: r.try_get("requester_contact")?,
        requester_organisation: r.try_get("requester_organisation")?,
        child_municipality_code6: r.try_get("child_municipality_code6")?,
        municipality_name: r.try_get("municipality_name")?,
        area_name: r.try_get("area_name")?,
        child_age_band: r.try_get("child_age_band")?,
        question: r.try_get("question")?,
        advice: r.try_get("advice")?,
        follow_up_on: r.try_get("follow_up_on")?,
        minutes_spent: r.try_get("minutes_spent")?,
        handled_by: r.try_get("handled_by")?,
        handled_by_name: r.try_get("handled_by_name")?,
        status: r.try_get("status")?,
        source: r.try_get("source")?,
        consent_given: consent != 0,
        consent_on: r.try_get("consent_on")?,
        consent_method: r.try_get("consent_method")?,
        created_by_name: r.try_get("created_by_name")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        topics: Vec::new(),
        care_types: Vec::new(),
    })
}

async fn load_codes(conn: &mut sqlx::AnyConnection, c: &mut Consultation) -> Result<()> {
    let topics: Vec<String> =
        sqlx::query_scalar("SELECT topic FROM consultation_topics WHERE consultation_id = $1")
            .bind(&c.id)
            .fetch_all(&mut *conn)
            .await?;
    let mut topics: Vec<String> = topics;
    topics.sort_by_key(|t| {
        Topic::from_code(t)
            .and_then(|x| Topic::ALL.iter().position(|y| *y == x))
            .unwrap_or(usize::MAX)
    });
    c.topics = topics;
    let rows = sqlx::query(
        "SELECT ct.code, ct.name FROM consultation_care_types cc JOIN care_types ct ON ct.code = cc.care_type_code
         WHERE cc.consultation_id = $1 ORDER BY ct.sort_order, ct.code",
    )
    .bind(&c.id)
    .fetch_all(&mut *conn)
    .await?;
    c.care_types = rows
        .iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
        .collect::<Result<_>>()?;
    Ok(())
}

/// The consultation `id`, if `actor` may see it (else `NotFound`, like one that does not exist).
pub async fn get(db: &Db, actor: &Actor, id: &str) -> Result<Consultation> {
    let mut w = readable(actor);
    if w.allows_nothing() {
        return Err(StoreError::NotFound);
    }
    w.and_text("c.id = ?", id);
    let sql = format!("{SELECT} WHERE 1 = 1{}", w.sql());
    let mut conn = db.pool().acquire().await?;
    let row = w
        .query(&sql)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut c = from_row(&row)?;
    load_codes(&mut conn, &mut c).await?;
    Ok(c)
}

async fn get_in_tx(tx: &mut Tx, id: &str) -> Result<Consultation> {
    let sql = format!("{SELECT} WHERE c.id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut c = from_row(&row)?;
    load_codes(tx.conn(), &mut c).await?;
    Ok(c)
}

/// Search conditions of the consultation list. Empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Words looked for in the receipt number, requester, question and advice (all must occur).
    pub keyword: String,
    /// Received on or after this JST date (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Received on or before this JST date.
    pub to: Option<String>,
    pub municipality_code6: String,
    pub area_id: String,
    pub topic: String,
    pub care_type: String,
    /// A status code, or `open` for every status but 完了.
    pub status: String,
    pub handled_by: String,
    pub source: String,
}

/// Which page of a list.
#[derive(Debug, Clone, Copy)]
pub struct PageReq {
    /// From 1.
    pub page: i64,
    pub per_page: i64,
}

impl Default for PageReq {
    fn default() -> Self {
        PageReq {
            page: 1,
            per_page: 50,
        }
    }
}

/// One page of a list and the number of rows in all pages.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub rows: Vec<T>,
    pub total: i64,
    /// `total` is only a lower bound: there are more (a keyword found in too many to count).
    pub more: bool,
}

const COUNT_FROM: &str = "SELECT COUNT(*) FROM consultations c WHERE 1 = 1";

/// A search reads its page in date order, down the index, when there are at least this many
/// matches per row up to the end of the page (and more than a count shows; see [`list`]).
const DENSE_MATCHES: i64 = 10;

/// How many of the newest consultations a keyword search samples to tell a common word
/// (see [`list`]), and how many it then reads for one before it asks the index.
const RECENT_SAMPLE: i64 = 1_000;
const RECENT_FIRST: i64 = 10_000;

/// The most ids a page is read by (each a bound value; SQLite takes 32,766).
const MAX_IDS: i64 = 10_000;

const SUMMARY_SELECT: &str = "SELECT c.id, c.receipt_no, c.received_at, c.received_on, c.channel, c.requester_type, m.name AS municipality_name,
    c.child_age_band, c.question, c.status, h.display_name AS handled_by_name, c.follow_up_on, c.source
    FROM consultations c
    LEFT JOIN municipalities m ON m.code6 = c.child_municipality_code6
    LEFT JOIN users h ON h.id = c.handled_by";

fn summary_from_row(r: &sqlx::any::AnyRow) -> Result<Summary> {
    Ok(Summary {
        id: r.try_get("id")?,
        receipt_no: r.try_get("receipt_no")?,
        received_at: r.try_get("received_at")?,
        received_on: r.try_get("received_on")?,
        channel: r.try_get("channel")?,
        requester_type: r.try_get("requester_type")?,
        municipality_name: r.try_get("municipality_name")?,
        child_age_band: r.try_get("child_age_band")?,
        question: r.try_get("question")?,
        status: r.try_get("status")?,
        handled_by_name: r.try_get("handled_by_name")?,
        follow_up_on: r.try_get("follow_up_on")?,
        source: r.try_get("source")?,
        topics: Vec::new(),
    })
}

/// How a list reads the consultations that match its filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Through the filters' own indexes, to find whether there are only a few matches.
    ByFilter,
    /// Newest first down the date index, or by id. SQLite, which has no statistics, would
    /// otherwise read every match of an equality filter through its index and sort them all
    /// (a 担当者 has most consultations), so there its filter columns are written `+c.col`,
    /// which SQLite does not look up in an index.
    InDateOrder,
}

fn apply_filter(backend: Backend, f: &Filter, w: &mut Where, reading: Reading) {
    let col = |name: &str| {
        if backend == Backend::Sqlite && reading == Reading::InDateOrder {
            format!("+c.{name}")
        } else {
            format!("c.{name}")
        }
    };
    for term in keyword_terms(&f.keyword) {
        let (cond, value) = resources::contains(backend, "c.search_text", "?", &term);
        w.and_text(&cond, value);
    }
    // In date order the period is also a range of `received_at` (from the start of its first
    // JST day to the start of the day after its last), so the walk down that index starts and
    // stops where the period does.
    let bound =
        |day: &str, after: bool| day_start(day, after).filter(|_| reading == Reading::InDateOrder);
    if let Some(from) = &f.from {
        w.and_text("c.received_on >= ?", from.clone());
        if let Some(at) = bound(from, false) {
            w.and_text("c.received_at >= ?", at);
        }
    }
    if let Some(to) = &f.to {
        w.and_text("c.received_on <= ?", to.clone());
        if let Some(at) = bound(to, true) {
            w.and_text("c.received_at < ?", at);
        }
    }
    if !f.municipality_code6.is_empty() {
        w.and_text(
            &format!("{} = ?", col("child_municipality_code6")),
            f.municipality_code6.clone(),
        );
    }
    if !f.area_id.is_empty() {
        w.and_text(
            &format!(
                "{} IN (SELECT municipality_code6 FROM area_municipalities WHERE area_id = ?)",
                col("child_municipality_code6")
            ),
            f.area_id.clone(),
        );
    }
    // Only beside a keyword: without one a topic or care type leads (`by_code`).
    if !f.topic.is_empty() {
        w.and_text(
            "EXISTS (SELECT 1 FROM consultation_topics x WHERE x.consultation_id = c.id AND x.topic = ?)",
            f.topic.clone(),
        );
    }
    if !f.care_type.is_empty() {
        w.and_text(
            "EXISTS (SELECT 1 FROM consultation_care_types x WHERE x.consultation_id = c.id AND x.care_type_code = ?)",
            f.care_type.clone(),
        );
    }
    own_columns(f, w, col);
}

/// The filters on the consultation row's own columns besides municipality and period.
fn own_columns(f: &Filter, w: &mut Where, col: impl Fn(&str) -> String) {
    status_filter(f, w, &col("status"));
    if !f.handled_by.is_empty() {
        w.and_text(&format!("{} = ?", col("handled_by")), f.handled_by.clone());
    }
    if !f.source.is_empty() {
        w.and_text(&format!("{} = ?", col("source")), f.source.clone());
    }
}

/// The status filter on `column`: one status, or `open` for every status but 完了.
fn status_filter(f: &Filter, w: &mut Where, column: &str) {
    if f.status == "open" {
        w.raw(&format!("{column} <> 'closed'"));
    } else if !f.status.is_empty() {
        w.and_text(&format!("{column} = ?"), f.status.clone());
    }
}

/// The start of JST day `day` (or of the day after it) as stored in `received_at`.
fn day_start(day: &str, after: bool) -> Option<String> {
    resources::parse_iso_date(day)
        .and_then(|d| if after { d.next_day() } else { Some(d) })
        .map(|d| clock::format(d.midnight().assume_offset(JST)))
}

/// Without a keyword, a topic or care type filter (or the pair of both) leads: those rows carry
/// the consultation's date, municipality, status and 担当者 (migration 10), so the list reads
/// them newest first down their index and checks the other filters on the entry; only the
/// source is read from the consultation row. `FROM` and the conditions; the code's row is `k`.
/// An area is given as its municipalities (`area_codes`), which PostgreSQL can estimate,
/// unlike a subquery.
fn by_code(f: &Filter, area_codes: &[String]) -> Option<(String, Where)> {
    let mut w = Where::default();
    let table = match (f.topic.is_empty(), f.care_type.is_empty()) {
        (false, false) => {
            w.and_text("k.topic = ?", f.topic.clone());
            w.and_text("k.care_type_code = ?", f.care_type.clone());
            "consultation_topic_care_types"
        }
        (false, true) => {
            w.and_text("k.topic = ?", f.topic.clone());
            "consultation_topics"
        }
        (true, false) => {
            w.and_text("k.care_type_code = ?", f.care_type.clone());
            "consultation_care_types"
        }
        (true, true) => return None,
    };
    if !f.municipality_code6.is_empty() {
        w.and_text(
            "k.child_municipality_code6 = ?",
            f.municipality_code6.clone(),
        );
    }
    if !f.area_id.is_empty() {
        w.and_in("k.child_municipality_code6", area_codes);
    }
    // A condition on the consultation row itself (the source, or a period that is not a date)
    // makes it read too.
    let mut on_row = false;
    for (day, after) in [(&f.from, false), (&f.to, true)] {
        let Some(day) = day else { continue };
        match (day_start(day, after), after) {
            (Some(at), false) => w.and_text("k.received_at >= ?", at),
            (Some(at), true) => w.and_text("k.received_at < ?", at),
            // Not a date: compared as given, like the list without a code.
            (None, false) => {
                on_row = true;
                w.and_text("c.received_on >= ?", day.clone());
            }
            (None, true) => {
                on_row = true;
                w.and_text("c.received_on <= ?", day.clone());
            }
        }
    }
    status_filter(f, &mut w, "k.status");
    if !f.handled_by.is_empty() {
        w.and_text("k.handled_by = ?", f.handled_by.clone());
    }
    if !f.source.is_empty() {
        on_row = true;
        w.and_text("c.source = ?", f.source.clone());
    }
    let from = if on_row {
        // The code's rows lead; the consultation is read by its key.
        w.raw("c.id = k.consultation_id");
        format!("{table} k CROSS JOIN consultations c")
    } else {
        format!("{table} k")
    };
    Some((from, w))
}

async fn summaries(db: &Db, w: &Where, order_limit: &str) -> Result<Vec<Summary>> {
    let sql = format!("{SUMMARY_SELECT} WHERE 1 = 1{} {order_limit}", w.sql());
    let mut conn = db.pool().acquire().await?;
    let rows = w.query(&sql).fetch_all(&mut *conn).await?;
    let mut out: Vec<Summary> = rows.iter().map(summary_from_row).collect::<Result<_>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<String> = out.iter().map(|s| s.id.clone()).collect();
    let sql = format!(
        "SELECT consultation_id, topic FROM consultation_topics WHERE consultation_id IN ({})",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id.clone());
    }
    let topic_rows = q.fetch_all(&mut *conn).await?;
    for r in &topic_rows {
        let cid: String = r.try_get("consultation_id")?;
        let topic: String = r.try_get("topic")?;
        if let Some(s) = out.iter_mut().find(|s| s.id == cid) {
            s.topics.push(topic);
        }
    }
    for s in &mut out {
        s.topics.sort_by_key(|t| {
            Topic::from_code(t)
                .and_then(|x| Topic::ALL.iter().position(|y| *y == x))
                .unwrap_or(usize::MAX)
        });
    }
    Ok(out)
}

/// Consultations `actor` may see that match `filter`, newest first, one page.
pub async fn list(
    db: &Db,
    actor: &Actor,
    filter: &Filter,
    page: PageReq,
) -> Result<Listing<Summary>> {
    let mut w = readable(actor);
    if w.allows_nothing() {
        return Ok(Listing {
            rows: Vec::new(),
            total: 0,
            more: false,
        });
    }
    apply_filter(db.backend(), filter, &mut w, Reading::ByFilter);
    let mut in_order = Where::default();
    apply_filter(db.backend(), filter, &mut in_order, Reading::InDateOrder);
    let per_page = page.per_page.clamp(1, 500);
    let offset = (page.page.max(1) - 1).saturating_mul(per_page);
    let order_limit =
        format!("ORDER BY c.received_at DESC, c.id DESC LIMIT {per_page} OFFSET {offset}");
    let lookup = search_index::lookup(
        db.backend(),
        Indexed::Consultations,
        &keyword_terms(&filter.keyword),
    );
    // Matches first, through the keyword index or the filters' own indexes, at least one more
    // than a count shows. Fewer than asked for are all there are: the page is read among them,
    // by id, and they are counted. More are dense enough to be met soon down the date index,
    // below, and are "1000件以上" without counting them all.
    let probe = offset
        .saturating_add(per_page)
        .saturating_mul(DENSE_MATCHES)
        .clamp(search_index::COUNT_UP_TO + 1, MAX_IDS);
    if lookup.is_none() && (!filter.topic.is_empty() || !filter.care_type.is_empty()) {
        let area_codes = if filter.area_id.is_empty() {
            Vec::new()
        } else {
            sqlx::query_scalar(
                "SELECT municipality_code6 FROM area_municipalities WHERE area_id = $1",
            )
            .bind(&filter.area_id)
            .fetch_all(db.pool())
            .await?
        };
        if let Some((from, coded)) = by_code(filter, &area_codes) {
            return list_by_code(db, &from, &coded, offset, per_page).await;
        }
    }
    if lookup.is_some() && offset.saturating_add(per_page) <= search_index::COUNT_UP_TO {
        // A common word is met soon among the newest consultations, sooner than the index
        // (PostgreSQL's reads every entry of a gram) finds them. When one in ten of the
        // newest `RECENT_SAMPLE` holds it, up to `RECENT_FIRST` are read newest first, and
        // when they hold more matches than a count shows, those give the page.
        let newest = |window: i64| {
            format!(
                "(SELECT * FROM consultations ORDER BY received_at DESC, id DESC LIMIT {window}) c WHERE 1 = 1{}",
                in_order.sql()
            )
        };
        let sampled = in_order
            .number(
                db,
                &format!("SELECT COUNT(*) FROM {}", newest(RECENT_SAMPLE)),
            )
            .await?;
        let recent = if sampled.saturating_mul(10) >= RECENT_SAMPLE {
            in_order
                .ids(
                    db,
                    &format!(
                        "SELECT c.id FROM {} LIMIT {}",
                        newest(RECENT_FIRST),
                        search_index::COUNT_UP_TO + 1
                    ),
                )
                .await?
        } else {
            Vec::new()
        };
        if i64::try_from(recent.len()).unwrap_or(i64::MAX) > search_index::COUNT_UP_TO {
            return Ok(Listing {
                rows: page_of(db, recent, offset, per_page).await?,
                total: search_index::COUNT_UP_TO,
                more: true,
            });
        }
    }
    let found = match &lookup {
        Some(lookup) => {
            // The index offers, the conditions on the row decide: one reading for both.
            let mut by_index = in_order.clone();
            by_index.param(Bind::Text(lookup.query.clone()));
            let sql = format!(
                "SELECT c.id FROM {} WHERE 1 = 1{} AND {} LIMIT {probe}",
                lookup.from,
                in_order.sql(),
                lookup.condition_at(by_index.bind_count())
            );
            Some(by_index.ids(db, &sql).await?)
        }
        None if !w.sql().is_empty() => Some(
            w.ids(
                db,
                &format!(
                    "SELECT c.id FROM consultations c WHERE 1 = 1{} LIMIT {probe}",
                    w.sql()
                ),
            )
            .await?,
        ),
        None => None,
    };
    if let Some(ids) = &found
        && i64::try_from(ids.len()).unwrap_or(i64::MAX) < probe
    {
        let total = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        let rows = if ids.is_empty() {
            Vec::new()
        } else {
            let by_id = Where::ids_in("c.id", ids);
            summaries(db, &by_id, &order_limit).await?
        };
        return Ok(Listing {
            rows,
            total,
            more: false,
        });
    }
    // Newest first through the index `consultations_received_at` (migration 0006).
    let rows = summaries(db, &in_order, &order_limit).await?;
    if found.is_none() || page_ends_list(rows.len(), offset, per_page) {
        return listing(db, &in_order, rows, offset, per_page).await;
    }
    Ok(Listing {
        rows,
        total: search_index::COUNT_UP_TO,
        more: true,
    })
}

/// One page of the consultations read through a topic or care type's rows (`by_code`): the
/// first `COUNT_UP_TO + 1` matches newest first, which give the page and the count, or for a
/// page past them, the page and a count that stops there.
async fn list_by_code(
    db: &Db,
    from: &str,
    w: &Where,
    offset: i64,
    per_page: i64,
) -> Result<Listing<Summary>> {
    let ids_sql = format!(
        "SELECT k.consultation_id FROM {from} WHERE 1 = 1{} ORDER BY k.received_at DESC, k.consultation_id DESC",
        w.sql()
    );
    let first = search_index::COUNT_UP_TO + 1;
    let (rows, found) = if offset.saturating_add(per_page) <= first {
        let all = w.ids(db, &format!("{ids_sql} LIMIT {first}")).await?;
        let found = i64::try_from(all.len()).unwrap_or(i64::MAX);
        (page_of(db, all, offset, per_page).await?, found)
    } else {
        let page = w
            .ids(db, &format!("{ids_sql} LIMIT {per_page} OFFSET {offset}"))
            .await?;
        let found = w
            .number(
                db,
                &format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE 1 = 1{} LIMIT {first}) capped",
                    w.sql()
                ),
            )
            .await?;
        (page_of(db, page, 0, per_page).await?, found)
    };
    Ok(Listing {
        rows,
        total: found.min(search_index::COUNT_UP_TO),
        more: found > search_index::COUNT_UP_TO,
    })
}

/// The summaries of one page of `ids`, which are newest first: `per_page` from `offset`.
async fn page_of(db: &Db, ids: Vec<String>, offset: i64, per_page: i64) -> Result<Vec<Summary>> {
    let page: Vec<String> = ids
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .collect();
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let shown = Where::ids_in("c.id", &page);
    summaries(db, &shown, "ORDER BY c.received_at DESC, c.id DESC").await
}

/// Whether a page of `shown` rows is the last one: a page that is not full ends the list (and
/// so gives the count), unless it is empty past the first page.
fn page_ends_list(shown: usize, offset: i64, per_page: i64) -> bool {
    let shown = i64::try_from(shown).unwrap_or(i64::MAX);
    shown < per_page && (shown > 0 || offset == 0)
}

/// The page `rows` of the consultations matching `w`, with their count.
async fn listing(
    db: &Db,
    w: &Where,
    rows: Vec<Summary>,
    offset: i64,
    per_page: i64,
) -> Result<Listing<Summary>> {
    let total = if page_ends_list(rows.len(), offset, per_page) {
        offset.saturating_add(i64::try_from(rows.len()).unwrap_or(i64::MAX))
    } else {
        w.count(db, COUNT_FROM).await?
    };
    Ok(Listing {
        rows,
        total,
        more: false,
    })
}

/// The actor's own consultations that are not closed (自分の対応中), those with the nearest
/// follow-up first.
pub async fn my_open(db: &Db, actor: &Actor, limit: i64) -> Result<Vec<Summary>> {
    let mut w = readable(actor);
    if w.allows_nothing() {
        return Ok(Vec::new());
    }
    w.and_text("c.handled_by = ?", actor.user_id.clone());
    w.raw("c.status <> 'closed'");
    summaries(
        db,
        &w,
        &format!(
            "ORDER BY CASE WHEN c.follow_up_on IS NULL THEN 1 ELSE 0 END, c.follow_up_on, c.received_at DESC LIMIT {}",
            limit.clamp(1, 1000)
        ),
    )
    .await
}

/// Consultations not closed whose follow-up date is `today` or earlier (今日までのフォロー),
/// the most overdue first.
pub async fn follow_ups_due(
    db: &Db,
    actor: &Actor,
    today: Date,
    limit: i64,
) -> Result<Vec<Summary>> {
    let mut w = readable(actor);
    if w.allows_nothing() {
        return Ok(Vec::new());
    }
    w.and_text("c.follow_up_on <= ?", today.to_string());
    w.raw("c.status <> 'closed'");
    summaries(
        db,
        &w,
        &format!(
            "ORDER BY c.follow_up_on, c.received_at LIMIT {}",
            limit.clamp(1, 1000)
        ),
    )
    .await
}

/// The sizes of the desk's work lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// The actor's own consultations not closed (`my_open`).
    pub mine: i64,
    /// Follow-ups due today or overdue (`follow_ups_due`).
    pub due: i64,
    /// Consultations still in 受付, public requests among them.
    pub received: i64,
}

/// How many rows `my_open`, `follow_ups_due` and the 受付 list would give without a limit.
pub async fn counts(db: &Db, actor: &Actor, today: Date) -> Result<Counts> {
    let all = readable(actor);
    if all.allows_nothing() {
        return Ok(Counts::default());
    }
    let mut mine = all.clone();
    mine.and_text("c.handled_by = ?", actor.user_id.clone());
    mine.raw("c.status <> 'closed'");
    let mut due = all.clone();
    due.and_text("c.follow_up_on <= ?", today.to_string());
    due.raw("c.status <> 'closed'");
    let mut received = all;
    received.and_text("c.status = ?", Status::Received.code());
    Ok(Counts {
        mine: mine.count(db, COUNT_FROM).await?,
        due: due.count(db, COUNT_FROM).await?,
        received: received.count(db, COUNT_FROM).await?,
    })
}

/// The timeline of a consultation, oldest first.
pub async fn entries(db: &Db, consultation_id: &str) -> Result<Vec<Entry>> {
    let rows = sqlx::query(
        "SELECT e.id, e.at, u.display_name AS author_name, e.body FROM consultation_entries e
         LEFT JOIN users u ON u.id = e.author_id WHERE e.consultation_id = $1 ORDER BY e.at, e.id",
    )
    .bind(consultation_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                author_name: r.try_get("author_name")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

/// The resources introduced in a consultation.
pub async fn attached_resources(db: &Db, consultation_id: &str) -> Result<Vec<AttachedResource>> {
    let rows = sqlx::query(
        "SELECT r.id, r.name, r.provider_name, rc.name AS category_name, m.name AS municipality_name, r.phone, r.retired_at
         FROM consultation_resources cr JOIN resources r ON r.id = cr.resource_id
         JOIN resource_categories rc ON rc.id = r.category_id
         LEFT JOIN municipalities m ON m.code6 = r.municipality_code6
         WHERE cr.consultation_id = $1 ORDER BY rc.sort_order, r.name",
    )
    .bind(consultation_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let retired: Option<String> = r.try_get("retired_at")?;
            Ok(AttachedResource {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                provider_name: r.try_get("provider_name")?,
                category_name: r.try_get("category_name")?,
                municipality_name: r.try_get("municipality_name")?,
                phone: r.try_get("phone")?,
                retired: retired.is_some(),
            })
        })
        .collect()
}

/// A person who can handle consultations (担当者): center coordinators and prefecture officers.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub id: String,
    pub display_name: String,
    pub organisation_name: String,
}

/// The accounts that may be chosen as 担当 (enabled, with a role that records consultations).
pub async fn staff(db: &Db) -> Result<Vec<Staff>> {
    let rows = sqlx::query(
        "SELECT u.id, u.display_name, o.name AS organisation_name FROM users u
         JOIN organisations o ON o.id = u.organisation_id
         WHERE u.disabled_at IS NULL
           AND u.id IN (SELECT user_id FROM user_roles WHERE role IN ('center_coordinator', 'prefecture_officer'))
         ORDER BY o.name, u.display_name, u.id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Staff {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                organisation_name: r.try_get("organisation_name")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Writing consultations

/// Takes the next receipt number of 年度 `fy` inside the write transaction.
async fn next_receipt_no(tx: &mut Tx, fy: i32) -> Result<String> {
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO consultation_counters (fiscal_year, last_number) VALUES ($1, 1)
         ON CONFLICT (fiscal_year) DO UPDATE SET last_number = consultation_counters.last_number + 1
         RETURNING last_number",
    )
    .bind(i64::from(fy))
    .fetch_one(tx.conn())
    .await?;
    Ok(rules::format_receipt_no(fy, n))
}

/// The JST date and 年度 of a stored instant.
fn received_on(received_at: &str) -> Result<(String, i32)> {
    let at = clock::parse(received_at)
        .ok_or_else(|| StoreError::Invalid("受付日時の形式が正しくありません".into()))?;
    let date = rules::jst_date(at);
    Ok((date.to_string(), fiscal_year(date)))
}

/// The tables of a consultation's topics, care types and their pairs (migration 10).
const CODE_TABLES: [&str; 3] = [
    "consultation_topics",
    "consultation_care_types",
    "consultation_topic_care_types",
];

/// Copies consultation `id`'s new status to its code rows (see [`set_codes`]).
async fn set_code_status(tx: &mut Tx, id: &str, status: &str) -> Result<()> {
    for table in CODE_TABLES {
        sqlx::query(&format!(
            "UPDATE {table} SET status = $1 WHERE consultation_id = $2"
        ))
        .bind(status)
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Replaces consultation `id`'s topics and care types, and their pairs. Each row copies the
/// consultation's date of receipt, municipality, status and 担当者 (for the list's indexes,
/// migration 10), so it is written after the consultation row.
pub(crate) async fn set_codes(
    tx: &mut Tx,
    id: &str,
    topics: &[impl AsRef<str>],
    care_types: &[impl AsRef<str>],
) -> Result<()> {
    for table in CODE_TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE consultation_id = $1"))
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    let topics: Vec<&str> = topics.iter().map(AsRef::as_ref).collect();
    let care_types: Vec<&str> = care_types.iter().map(AsRef::as_ref).collect();
    for (table, column, codes) in [
        ("consultation_topics", "topic", &topics),
        ("consultation_care_types", "care_type_code", &care_types),
    ] {
        for code in codes {
            sqlx::query(&format!(
                "INSERT INTO {table} (consultation_id, {column}, received_at, child_municipality_code6, status, handled_by)
                 SELECT id, $2, received_at, child_municipality_code6, status, handled_by FROM consultations WHERE id = $1"
            ))
            .bind(id)
            .bind(*code)
            .execute(tx.conn())
            .await
            .map_err(map_fk)?;
        }
    }
    sqlx::query(
        "INSERT INTO consultation_topic_care_types (consultation_id, topic, care_type_code, received_at, child_municipality_code6, status, handled_by)
         SELECT t.consultation_id, t.topic, x.care_type_code, t.received_at, t.child_municipality_code6, t.status, t.handled_by
         FROM consultation_topics t JOIN consultation_care_types x ON x.consultation_id = t.consultation_id
         WHERE t.consultation_id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn insert(
    tx: &mut Tx,
    ctx: &AuditCtx,
    input: &ConsultationInput,
    created_by: Option<&str>,
    source: Source,
    audit_action: &str,
) -> Result<(String, String)> {
    let (on, fy) = received_on(&input.received_at)?;
    let receipt_no = next_receipt_no(tx, fy).await?;
    let id = new_id();
    let now = clock::now_text();
    let search = search_text(input, &receipt_no);
    sqlx::query(
        "INSERT INTO consultations (id, receipt_no, fiscal_year, received_at, received_on, channel, requester_type,
            requester_name, requester_contact, requester_organisation, child_municipality_code6, child_age_band,
            question, advice, follow_up_on, minutes_spent, handled_by, status, source, search_text, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)",
    )
    .bind(&id)
    .bind(&receipt_no)
    .bind(i64::from(fy))
    .bind(&input.received_at)
    .bind(&on)
    .bind(&input.channel)
    .bind(&input.requester_type)
    .bind(&input.requester_name)
    .bind(&input.requester_contact)
    .bind(&input.requester_organisation)
    .bind(input.child_municipality_code6.clone())
    .bind(&input.child_age_band)
    .bind(&input.question)
    .bind(&input.advice)
    .bind(input.follow_up_on.clone())
    .bind(input.minutes_spent)
    .bind(input.handled_by.clone())
    .bind(&input.status)
    .bind(source.code())
    .bind(&search)
    .bind(created_by.map(str::to_string))
    .bind(&now)
    .execute(tx.conn())
    .await
    .map_err(map_fk)?;
    search_index::store(tx, Indexed::Consultations, &id, &search).await?;
    set_codes(tx, &id, &input.topics, &input.care_types).await?;
    audit::append(
        tx,
        ctx,
        Event::new(audit_action, "consultation", &id)
            .new_values(input)
            .detail(format!("受付番号 {receipt_no}")),
    )
    .await?;
    Ok((id, receipt_no))
}

/// Records a consultation taken at the desk; returns its id and receipt number (受付番号).
pub async fn create(
    tx: &mut Tx,
    ctx: &AuditCtx,
    input: &ConsultationInput,
    created_by: Option<&str>,
) -> Result<(String, String)> {
    insert(
        tx,
        ctx,
        input,
        created_by,
        Source::Desk,
        "consultation.create",
    )
    .await
}

/// Changes a consultation; the audit entry holds the old and new values. The receipt number
/// stays (it is the record's name); the 年度 follows the date of receipt.
pub async fn update(
    tx: &mut Tx,
    ctx: &AuditCtx,
    id: &str,
    input: &ConsultationInput,
) -> Result<()> {
    let current = get_in_tx(tx, id).await?;
    let old = current.to_input();
    if &old == input {
        return Ok(());
    }
    let (on, fy) = received_on(&input.received_at)?;
    let search = search_text(input, &current.receipt_no);
    sqlx::query(
        "UPDATE consultations SET fiscal_year = $1, received_at = $2, received_on = $3, channel = $4, requester_type = $5,
            requester_name = $6, requester_contact = $7, requester_organisation = $8, child_municipality_code6 = $9,
            child_age_band = $10, question = $11, advice = $12, follow_up_on = $13, minutes_spent = $14, handled_by = $15,
            status = $16, search_text = $17, updated_at = $18
         WHERE id = $19",
    )
    .bind(i64::from(fy))
    .bind(&input.received_at)
    .bind(&on)
    .bind(&input.channel)
    .bind(&input.requester_type)
    .bind(&input.requester_name)
    .bind(&input.requester_contact)
    .bind(&input.requester_organisation)
    .bind(input.child_municipality_code6.clone())
    .bind(&input.child_age_band)
    .bind(&input.question)
    .bind(&input.advice)
    .bind(input.follow_up_on.clone())
    .bind(input.minutes_spent)
    .bind(input.handled_by.clone())
    .bind(&input.status)
    .bind(&search)
    .bind(clock::now_text())
    .bind(id)
    .execute(tx.conn())
    .await
    .map_err(map_fk)?;
    search_index::store(tx, Indexed::Consultations, id, &search).await?;
    set_codes(tx, id, &input.topics, &input.care_types).await?;
    audit::append(
        tx,
        ctx,
        Event::new("consultation.update", "consultation", id)
            .old(&old)
            .new_values(input),
    )
    .await?;
    Ok(())
}

/// Status and follow-up date changed together with a timeline entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Progress {
    pub status: String,
    pub follow_up_on: Option<String>,
}

/// Adds a dated entry to the timeline (追記) and, when given, moves the status and follow-up
/// date on; both are audited. Returns the entry's id.
pub async fn add_entry(
    tx: &mut Tx,
    ctx: &AuditCtx,
    consultation_id: &str,
    author_id: Option<&str>,
    body: &str,
    progress: Option<&Progress>,
) -> Result<String> {
    let row = sqlx::query("SELECT status, follow_up_on FROM consultations WHERE id = $1")
        .bind(consultation_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let old = Progress {
        status: row.try_get("status")?,
        follow_up_on: row.try_get("follow_up_on")?,
    };
    let id = new_id();
    let now = clock::now_text();
    sqlx::query(
        "INSERT INTO consultation_entries (id, consultation_id, at, author_id, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(consultation_id)
    .bind(&now)
    .bind(author_id.map(str::to_string))
    .bind(body)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("consultation.entry_add", "consultation", consultation_id)
            .new_values(&serde_json::json!({ "entry_id": id, "at": now, "body": body })),
    )
    .await?;
    match progress.filter(|p| **p != old) {
        Some(p) => {
            sqlx::query(
                "UPDATE consultations SET status = $1, follow_up_on = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(&p.status)
            .bind(p.follow_up_on.clone())
            .bind(&now)
            .bind(consultation_id)
            .execute(tx.conn())
            .await?;
            set_code_status(tx, consultation_id, &p.status).await?;
            audit::append(
                tx,
                ctx,
                Event::new("consultation.update", "consultation", consultation_id)
                    .old(&old)
                    .new_values(p),
            )
            .await?;
        }
        None => {
            sqlx::query("UPDATE consultations SET updated_at = $1 WHERE id = $2")
                .bind(&now)
                .bind(consultation_id)
                .execute(tx.conn())
                .await?;
        }
    }
    Ok(id)
}

/// Records that `ctx`'s user looked at a consultation with its personal details.
pub async fn record_view(tx: &mut Tx, ctx: &AuditCtx, consultation_id: &str) -> Result<()> {
    audit::append(
        tx,
        ctx,
        Event::new("consultation.view", "consultation", consultation_id),
    )
    .await?;
    Ok(())
}

/// Attaches a resource introduced to the requester. Returns false when it was already attached.
pub async fn attach_resource(
    tx: &mut Tx,
    ctx: &AuditCtx,
    consultation_id: &str,
    resource_id: &str,
) -> Result<bool> {
    let row = sqlx::query("SELECT name, retired_at FROM resources WHERE id = $1")
        .bind(resource_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let retired: Option<String> = row.try_get("retired_at")?;
    let name: String = row.try_get("name")?;
    if retired.is_some() {
        return Err(StoreError::Invalid(format!(
            "「{name}」は掲載を終了しているため、紹介先に追加できません"
        )));
    }
    let n = sqlx::query(
        "INSERT INTO consultation_resources (consultation_id, resource_id) VALUES ($1, $2)
         ON CONFLICT (consultation_id, resource_id) DO NOTHING",
    )
    .bind(consultation_id)
    .bind(resource_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    audit::append(
        tx,
        ctx,
        Event::new(
            "consultation.resource_attach",
            "consultation",
            consultation_id,
        )
        .new_values(&serde_json::json!({ "resource_id": resource_id, "name": name })),
    )
    .await?;
    Ok(true)
}

/// Removes a resource from a consultation. Returns false when it was not attached.
pub async fn detach_resource(
    tx: &mut Tx,
    ctx: &AuditCtx,
    consultation_id: &str,
    resource_id: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "DELETE FROM consultation_resources WHERE consultation_id = $1 AND resource_id = $2",
    )
    .bind(consultation_id)
    .bind(resource_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    audit::append(
        tx,
        ctx,
        Event::new(
            "consultation.resource_detach",
            "consultation",
            consultation_id,
        )
        .old(&serde_json::json!({ "resource_id": resource_id })),
    )
    .await?;
    Ok(true)
}

/// The requester's consent to pass their details on with a referral (同意).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConsentInput {
    pub given: bool,
    /// `YYYY-MM-DD`, when given.
    pub on: Option<String>,
    /// A `ConsentMethod` code, when given.
    pub method: String,
}

/// Records consent (or its absence or withdrawal). Withdrawing it also takes the personal
/// details off every referral already sent for this consultation.
pub async fn record_consent(
    tx: &mut Tx,
    ctx: &AuditCtx,
    consultation_id: &str,
    input: &ConsentInput,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT consent_given, consent_on, consent_method FROM consultations WHERE id = $1",
    )
    .bind(consultation_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(StoreError::NotFound)?;
    let given: i64 = row.try_get("consent_given")?;
    let old = ConsentInput {
        given: given != 0,
        on: row.try_get("consent_on")?,
        method: row.try_get("consent_method")?,
    };
    let new = if input.given {
        input.clone()
    } else {
        ConsentInput {
            given: false,
            on: None,
            method: String::new(),
        }
    };
    if old == new {
        return Ok(());
    }
    sqlx::query(
        "UPDATE consultations SET consent_given = $1, consent_on = $2, consent_method = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(i64::from(new.given))
    .bind(new.on.clone())
    .bind(&new.method)
    .bind(clock::now_text())
    .bind(consultation_id)
    .execute(tx.conn())
    .await?;
    let mut detail = String::new();
    if !new.given {
        let n = sqlx::query(
            "UPDATE referrals SET with_personal_details = 0 WHERE consultation_id = $1 AND with_personal_details = 1",
        )
        .bind(consultation_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n > 0 {
            detail = format!("送付済みの依頼{n}件から氏名・連絡先を外しました");
        }
    }
    audit::append(
        tx,
        ctx,
        Event::new("consultation.consent", "consultation", consultation_id)
            .old(&old)
            .new_values(&new)
            .detail(detail),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The public request form (相談申込み)

/// What a member of the public sends without signing in.
#[derive(Debug, Clone, Serialize)]
pub struct PublicRequest {
    pub name: String,
    pub contact: String,
    pub municipality_code6: Option<String>,
    pub question: String,
}

/// The audit actions that count towards the per-address limit of the public form.
const PUBLIC_ACTIONS: [&str; 2] = [
    "consultation.public_request",
    "consultation.public_request_discarded",
];

/// How many public requests (kept or discarded) came from `client_ip` since `since` (UTC text).
/// Read inside the write transaction, so two requests cannot both slip under the limit.
pub async fn public_requests_since(tx: &mut Tx, client_ip: &str, since: &str) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ($1, $2) AND client_ip = $3 AND at >= $4",
    )
    .bind(PUBLIC_ACTIONS[0])
    .bind(PUBLIC_ACTIONS[1])
    .bind(client_ip)
    .bind(since)
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Files a public request as a consultation in state 受付 for the coordinators' inbox; returns
/// the receipt number, the only thing the sender is shown.
pub async fn create_public_request(
    tx: &mut Tx,
    ctx: &AuditCtx,
    request: &PublicRequest,
) -> Result<String> {
    let input = ConsultationInput {
        received_at: clock::now_text(),
        channel: Channel::Online.code().into(),
        requester_type: RequesterType::Family.code().into(),
        requester_name: request.name.clone(),
        requester_contact: request.contact.clone(),
        requester_organisation: String::new(),
        child_municipality_code6: request.municipality_code6.clone(),
        child_age_band: AgeBand::Unknown.code().into(),
        care_types: Vec::new(),
        topics: Vec::new(),
        question: request.question.clone(),
        advice: String::new(),
        follow_up_on: None,
        minutes_spent: None,
        handled_by: None,
        status: Status::Received.code().into(),
    };
    let (_, receipt_no) =
        insert(tx, ctx, &input, None, Source::PublicForm, PUBLIC_ACTIONS[0]).await?;
    Ok(receipt_no)
}

/// Notes a request that filled the hidden field only robots see; nothing else is kept.
pub async fn record_discarded_public_request(tx: &mut Tx, ctx: &AuditCtx) -> Result<()> {
    audit::append(
        tx,
        ctx,
        Event::new(PUBLIC_ACTIONS[1], "consultation", "")
            .detail("hidden field filled: discarded as automated"),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Referrals (つなぎ先への依頼)

/// A referral as the consultation page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralRow {
    pub id: String,
    pub to_organisation_id: String,
    pub to_organisation_name: String,
    pub note: String,
    pub with_personal_details: bool,
    pub status: String,
    pub sent_at: String,
    pub sent_by_name: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by_name: Option<String>,
    pub outcome: String,
    pub outcome_at: Option<String>,
    pub outcome_by_name: Option<String>,
}

impl ReferralRow {
    pub fn status_label(&self) -> String {
        ReferralStatus::label_of(&self.status)
    }
    pub fn status_css(&self) -> &'static str {
        ReferralStatus::from_code(&self.status)
            .map(ReferralStatus::css)
            .unwrap_or("status-muted")
    }
}

const REFERRAL_SELECT: &str = "SELECT r.id, r.to_organisation_id, o.name AS to_organisation_name, r.note, r.with_personal_details, r.status,
    r.sent_at, su.display_name AS sent_by_name, r.acknowledged_at, au.display_name AS acknowledged_by_name,
    r.outcome, r.outcome_at, ou.display_name AS outcome_by_name
    FROM referrals r JOIN organisations o ON o.id = r.to_organisation_id
    LEFT JOIN users su ON su.id = r.sent_by
    LEFT JOIN users au ON au.id = r.acknowledged_by
    LEFT JOIN users ou ON ou.id = r.outcome_by";

fn referral_row(r: &sqlx::any::AnyRow) -> Result<ReferralRow> {
    let with: i64 = r.try_get("with_personal_details")?;
    Ok(ReferralRow {
        id: r.try_get("id")?,
        to_organisation_id: r.try_get("to_organisation_id")?,
        to_organisation_name: r.try_get("to_organisation_name")?,
        note: r.try_get("note")?,
        with_personal_details: with != 0,
        status: r.try_get("status")?,
        sent_at: r.try_get("sent_at")?,
        sent_by_name: r.try_get("sent_by_name")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
        acknowledged_by_name: r.try_get("acknowledged_by_name")?,
        outcome: r.try_get("outcome")?,
        outcome_at: r.try_get("outcome_at")?,
        outcome_by_name: r.try_get("outcome_by_name")?,
    })
}

/// The referrals of a consultation, oldest first.
pub async fn referrals_of(db: &Db, consultation_id: &str) -> Result<Vec<ReferralRow>> {
    let rows = sqlx::query(&format!(
        "{REFERRAL_SELECT} WHERE r.consultation_id = $1 ORDER BY r.sent_at, r.id"
    ))
    .bind(consultation_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(referral_row).collect()
}

/// Refers a consultation to an organisation with a note. Whether the requester's name and
/// contact go with it is fixed now, from the consent recorded on the consultation; nobody
/// chooses it. Returns the referral's id.
pub async fn refer(
    tx: &mut Tx,
    ctx: &AuditCtx,
    consultation_id: &str,
    to_organisation_id: &str,
    note: &str,
    sent_by: Option<&str>,
) -> Result<String> {
    let consent: i64 = sqlx::query_scalar("SELECT consent_given FROM consultations WHERE id = $1")
        .bind(consultation_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let with_details = rules::referral_carries_personal_details(consent != 0);
    let org = sqlx::query("SELECT name, retired_at FROM organisations WHERE id = $1")
        .bind(to_organisation_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::Invalid("依頼先を一覧から選んでください".into()))?;
    let retired: Option<String> = org.try_get("retired_at")?;
    let org_name: String = org.try_get("name")?;
    if retired.is_some() {
        return Err(StoreError::Invalid(format!(
            "「{org_name}」は廃止されているため、依頼できません"
        )));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO referrals (id, consultation_id, to_organisation_id, note, with_personal_details, status, sent_at, sent_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(consultation_id)
    .bind(to_organisation_id)
    .bind(note)
    .bind(i64::from(with_details))
    .bind(ReferralStatus::Sent.code())
    .bind(clock::now_text())
    .bind(sent_by.map(str::to_string))
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("referral.create", "referral", &id).new_values(&serde_json::json!({
            "consultation_id": consultation_id,
            "to_organisation_id": to_organisation_id,
            "to_organisation_name": org_name,
            "note": note,
            "with_personal_details": with_details,
        })),
    )
    .await?;
    Ok(id)
}

/// The requester's details that go with a referral under consent.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalDetails {
    pub name: String,
    pub contact: String,
}

/// A referral with the summary of its consultation, as the receiving organisation reads it.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralDetail {
    pub referral: ReferralRow,
    pub consultation_id: String,
    pub receipt_no: String,
    pub received_on: String,
    pub requester_type: String,
    pub requester_organisation: String,
    pub municipality_name: Option<String>,
    pub child_age_band: String,
    pub question: String,
    pub topics: Vec<String>,
    pub care_type_names: Vec<String>,
    pub sent_by_organisation_name: Option<String>,
    /// Only read from the database when the referral was sent with consent.
    pub personal: Option<PersonalDetails>,
}

impl ReferralDetail {
    pub fn age_band_label(&self) -> String {
        AgeBand::label_of(&self.child_age_band)
    }
    pub fn requester_type_label(&self) -> String {
        RequesterType::label_of(&self.requester_type)
    }
    pub fn topic_labels(&self) -> Vec<String> {
        self.topics.iter().map(|t| Topic::label_of(t)).collect()
    }
}

/// The referral `id` with its consultation's summary, if `actor` may handle it (else
/// `NotFound`, like one that does not exist). The requester's name and contact are read only
/// when the referral carries them (consent).
pub async fn referral_for(db: &Db, actor: &Actor, id: &str) -> Result<ReferralDetail> {
    let mut w = handled(actor);
    if w.allows_nothing() {
        return Err(StoreError::NotFound);
    }
    w.and_text("r.id = ?", id);
    let mut conn = db.pool().acquire().await?;
    let sql = format!("{REFERRAL_SELECT} WHERE 1 = 1{}", w.sql());
    let row = w
        .query(&sql)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let referral = referral_row(&row)?;
    let c = sqlx::query(
        "SELECT c.id, c.receipt_no, c.received_on, c.requester_type, c.requester_organisation, m.name AS municipality_name,
            c.child_age_band, c.question, so.name AS sent_by_organisation_name,
            CASE WHEN r.with_personal_details = 1 THEN c.requester_name ELSE '' END AS requester_name,
            CASE WHEN r.with_personal_details = 1 THEN c.requester_contact ELSE '' END AS requester_contact
         FROM referrals r JOIN consultations c ON c.id = r.consultation_id
         LEFT JOIN municipalities m ON m.code6 = c.child_municipality_code6
         LEFT JOIN users su ON su.id = r.sent_by
         LEFT JOIN organisations so ON so.id = su.organisation_id
         WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let consultation_id: String = c.try_get("id")?;
    let topics: Vec<String> =
        sqlx::query_scalar("SELECT topic FROM consultation_topics WHERE consultation_id = $1")
            .bind(&consultation_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut topics = topics;
    topics.sort_by_key(|t| {
        Topic::from_code(t)
            .and_then(|x| Topic::ALL.iter().position(|y| *y == x))
            .unwrap_or(usize::MAX)
    });
    let care_type_names: Vec<String> = sqlx::query_scalar(
        "SELECT ct.name FROM consultation_care_types cc JOIN care_types ct ON ct.code = cc.care_type_code
         WHERE cc.consultation_id = $1 ORDER BY ct.sort_order, ct.code",
    )
    .bind(&consultation_id)
    .fetch_all(&mut *conn)
    .await?;
    let personal = if referral.with_personal_details {
        Some(PersonalDetails {
            name: c.try_get("requester_name")?,
            contact: c.try_get("requester_contact")?,
        })
    } else {
        None
    };
    Ok(ReferralDetail {
        referral,
        consultation_id,
        receipt_no: c.try_get("receipt_no")?,
        received_on: c.try_get("received_on")?,
        requester_type: c.try_get("requester_type")?,
        requester_organisation: c.try_get("requester_organisation")?,
        municipality_name: c.try_get("municipality_name")?,
        child_age_band: c.try_get("child_age_band")?,
        question: c.try_get("question")?,
        topics,
        care_type_names,
        sent_by_organisation_name: c.try_get("sent_by_organisation_name")?,
        personal,
    })
}

/// A row of the referral inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxRow {
    pub id: String,
    pub receipt_no: String,
    pub sent_at: String,
    pub to_organisation_name: String,
    pub municipality_name: Option<String>,
    pub child_age_band: String,
    pub question: String,
    pub status: String,
    pub with_personal_details: bool,
}

impl InboxRow {
    pub fn status_label(&self) -> String {
        ReferralStatus::label_of(&self.status)
    }
    pub fn status_css(&self) -> &'static str {
        ReferralStatus::from_code(&self.status)
            .map(ReferralStatus::css)
            .unwrap_or("status-muted")
    }
    pub fn age_band_label(&self) -> String {
        AgeBand::label_of(&self.child_age_band)
    }
    pub fn question_excerpt(&self) -> String {
        rules::excerpt(&self.question, 50)
    }
}

/// Conditions of the inbox.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// A referral status code, or `open` for those without an outcome.
    pub status: String,
}

/// Referrals `actor` may handle (an organisation's own; all for the center), newest first.
pub async fn inbox(db: &Db, actor: &Actor, filter: &InboxFilter) -> Result<Vec<InboxRow>> {
    let mut w = handled(actor);
    if w.allows_nothing() {
        return Ok(Vec::new());
    }
    if filter.status == "open" {
        w.raw("r.status <> 'closed'");
    } else if !filter.status.is_empty() {
        w.and_text("r.status = ?", filter.status.clone());
    }
    let sql = format!(
        "SELECT r.id, c.receipt_no, r.sent_at, o.name AS to_organisation_name, m.name AS municipality_name,
            c.child_age_band, c.question, r.status, r.with_personal_details
         FROM referrals r JOIN consultations c ON c.id = r.consultation_id
         JOIN organisations o ON o.id = r.to_organisation_id
         LEFT JOIN municipalities m ON m.code6 = c.child_municipality_code6
         WHERE 1 = 1{} ORDER BY r.sent_at DESC, r.id DESC LIMIT 500",
        w.sql()
    );
    let rows = w.query(&sql).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let with: i64 = r.try_get("with_personal_details")?;
            Ok(InboxRow {
                id: r.try_get("id")?,
                receipt_no: r.try_get("receipt_no")?,
                sent_at: r.try_get("sent_at")?,
                to_organisation_name: r.try_get("to_organisation_name")?,
                municipality_name: r.try_get("municipality_name")?,
                child_age_band: r.try_get("child_age_band")?,
                question: r.try_get("question")?,
                status: r.try_get("status")?,
                with_personal_details: with != 0,
            })
        })
        .collect()
}

/// Records that `ctx`'s user opened a referral; `with_personal_details` says whether the
/// requester's name and contact were on the page.
pub async fn record_referral_view(
    tx: &mut Tx,
    ctx: &AuditCtx,
    referral_id: &str,
    with_personal_details: bool,
) -> Result<()> {
    audit::append(
        tx,
        ctx,
        Event::new("referral.view", "referral", referral_id).detail(if with_personal_details {
            "氏名・連絡先を含めて表示"
        } else {
            "概要のみ表示（氏名・連絡先なし）"
        }),
    )
    .await?;
    Ok(())
}

#[derive(Serialize, PartialEq, Eq)]
struct ReferralState {
    status: String,
    outcome: String,
}

async fn referral_state(tx: &mut Tx, id: &str) -> Result<ReferralState> {
    let row = sqlx::query("SELECT status, outcome FROM referrals WHERE id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(ReferralState {
        status: row.try_get("status")?,
        outcome: row.try_get("outcome")?,
    })
}

/// The receiving organisation confirms it has the referral (受領). Returns false when it was
/// already acknowledged.
pub async fn acknowledge(
    tx: &mut Tx,
    ctx: &AuditCtx,
    referral_id: &str,
    by: Option<&str>,
) -> Result<bool> {
    let old = referral_state(tx, referral_id).await?;
    if old.status != ReferralStatus::Sent.code() {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE referrals SET status = $1, acknowledged_at = $2, acknowledged_by = $3 WHERE id = $4",
    )
    .bind(ReferralStatus::Acknowledged.code())
    .bind(clock::now_text())
    .bind(by.map(str::to_string))
    .bind(referral_id)
    .execute(tx.conn())
    .await?;
    let new = ReferralState {
        status: ReferralStatus::Acknowledged.code().into(),
        outcome: old.outcome.clone(),
    };
    audit::append(
        tx,
        ctx,
        Event::new("referral.acknowledge", "referral", referral_id)
            .old(&old)
            .new_values(&new),
    )
    .await?;
    Ok(true)
}

/// The receiving organisation records what it did (対応結果); a referral not yet acknowledged
/// is acknowledged at the same time.
pub async fn record_outcome(
    tx: &mut Tx,
    ctx: &AuditCtx,
    referral_id: &str,
    outcome: &str,
    by: Option<&str>,
) -> Result<()> {
    let old = referral_state(tx, referral_id).await?;
    let new = ReferralState {
        status: ReferralStatus::Closed.code().into(),
        outcome: outcome.to_string(),
    };
    if old == new {
        return Ok(());
    }
    let now = clock::now_text();
    sqlx::query(
        "UPDATE referrals SET status = $1, outcome = $2, outcome_at = $3, outcome_by = $4,
            acknowledged_at = COALESCE(acknowledged_at, $3), acknowledged_by = COALESCE(acknowledged_by, $4)
         WHERE id = $5",
    )
    .bind(&new.status)
    .bind(outcome)
    .bind(&now)
    .bind(by.map(str::to_string))
    .bind(referral_id)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        ctx,
        Event::new("referral.outcome", "referral", referral_id)
            .old(&old)
            .new_values(&new),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Picking resources from the directory (社会資源の紹介)

/// Conditions of the resource picker. Empty means any; every care type listed must be taken.
#[derive(Debug, Clone, Default)]
pub struct PickerFilter {
    pub keyword: String,
    pub area_id: String,
    pub category_id: String,
    pub care_types: Vec<String>,
}

/// A resource as the picker lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ResourcePick {
    pub id: String,
    pub name: String,
    pub provider_name: String,
    pub category_name: String,
    pub municipality_name: Option<String>,
    pub availability: String,
    pub care_type_names: Vec<String>,
}

impl ResourcePick {
    /// 空き状況 in words.
    pub fn availability_label(&self) -> &'static str {
        match self.availability.as_str() {
            "available" => "空きあり",
            "limited" => "空きわずか",
            "full" => "空きなし",
            _ => "空き状況不明",
        }
    }
}

/// Categories of the directory for the picker's select: (id, name).
pub async fn resource_categories(db: &Db) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT id, name FROM resource_categories WHERE retired_at IS NULL ORDER BY sort_order, name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}

/// Current resources matching `filter`, by category and name, at most `limit`. A resource
/// matches an area when it is located in, or serves, one of the area's municipalities.
pub async fn pick_resources(
    db: &Db,
    filter: &PickerFilter,
    limit: i64,
) -> Result<Vec<ResourcePick>> {
    let mut w = Where::default();
    w.raw("r.retired_at IS NULL");
    for term in keyword_terms(&filter.keyword) {
        let pattern = format!("%{}%", escape_like(&term));
        w.and_text(
            "(r.search_text LIKE ? ESCAPE '\\' OR r.name LIKE ? ESCAPE '\\' OR r.provider_name LIKE ? ESCAPE '\\')",
            pattern,
        );
    }
    if !filter.area_id.is_empty() {
        w.and_text(
            "(r.municipality_code6 IN (SELECT municipality_code6 FROM area_municipalities WHERE area_id = ?)
              OR r.id IN (SELECT rsa.resource_id FROM resource_service_areas rsa
                          JOIN area_municipalities am ON am.municipality_code6 = rsa.municipality_code6
                          WHERE am.area_id = ?))",
            filter.area_id.clone(),
        );
    }
    if !filter.category_id.is_empty() {
        w.and_text("r.category_id = ?", filter.category_id.clone());
    }
    for code in &filter.care_types {
        w.and_text(
            "r.id IN (SELECT resource_id FROM resource_care_types WHERE care_type_code = ?)",
            code.clone(),
        );
    }
    let sql = format!(
        "SELECT r.id, r.name, r.provider_name, rc.name AS category_name, m.name AS municipality_name, r.availability
         FROM resources r JOIN resource_categories rc ON rc.id = r.category_id
         LEFT JOIN municipalities m ON m.code6 = r.municipality_code6
         WHERE 1 = 1{} ORDER BY rc.sort_order, rc.name, r.name, r.id LIMIT {}",
        w.sql(),
        limit.clamp(1, 500)
    );
    let mut conn = db.pool().acquire().await?;
    let rows = w.query(&sql).fetch_all(&mut *conn).await?;
    let mut out: Vec<ResourcePick> = rows
        .iter()
        .map(|r| {
            Ok(ResourcePick {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                provider_name: r.try_get("provider_name")?,
                category_name: r.try_get("category_name")?,
                municipality_name: r.try_get("municipality_name")?,
                availability: r.try_get("availability")?,
                care_type_names: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT rct.resource_id, ct.name FROM resource_care_types rct JOIN care_types ct ON ct.code = rct.care_type_code
         WHERE rct.resource_id IN ({}) ORDER BY ct.sort_order, ct.code",
        placeholders(1, out.len())
    );
    let mut q = sqlx::query(&sql);
    for p in &out {
        q = q.bind(p.id.clone());
    }
    for r in q.fetch_all(&mut *conn).await? {
        let rid: String = r.try_get("resource_id")?;
        let name: String = r.try_get("name")?;
        if let Some(p) = out.iter_mut().find(|p| p.id == rid) {
            p.care_type_names.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_covers_receipt_requester_question_and_advice() {
        let input = ConsultationInput {
            received_at: String::new(),
            channel: "phone".into(),
            requester_type: "family".into(),
            requester_name: "岩手 花子".into(),
            requester_contact: "019-000-0000".into(),
            requester_organisation: "ｻﾝﾌﾟﾙ保育園".into(),
            child_municipality_code6: None,
            child_age_band: "unknown".into(),
            care_types: vec![],
            topics: vec![],
            question: "ショートステイを探している".into(),
            advice: "短期入所を紹介".into(),
            follow_up_on: None,
            minutes_spent: None,
            handled_by: None,
            status: "received".into(),
        };
        let s = search_text(&input, "R8-0001");
        for part in [
            "r8-0001",
            "岩手 花子",
            "さんぷる保育園",
            "しょーとすてい",
            "短期入所",
        ] {
            assert!(s.contains(part), "{part} in {s}");
        }
        assert!(
            !s.contains("019-000-0000"),
            "contact details are not searched"
        );
    }
}

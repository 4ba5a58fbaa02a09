//! The consultation desk (相談記録): the intake form a coordinator fills during a phone call,
//! the list with "my open consultations", follow-ups due and search, the record page with its
//! timeline (追記), the resources introduced, the requester's consent and the referrals to local
//! windows.
//!
//! Every view of a consultation page, which shows the requester's name and contact, is audited
//! (`consultation.view`); lists show no name or contact.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::OffsetDateTime;
use tsunagu_domain::consultation::{
    self as rules, AgeBand, Channel, Code, ConsentMethod, RequesterType, Status, Topic,
};
use tsunagu_domain::policy::{Action, Target, can};
use tsunagu_domain::roles::OrgKind;
use tsunagu_domain::validation::{FieldErrors, optional_text, required_text};
use tsunagu_domain::wareki::{format_jst_datetime, format_wareki_date, parse_date_ja, today_jst};
use tsunagu_store::care_types::{self, CareType};
use tsunagu_store::consultations::{
    self as store, AttachedResource, ConsentInput, Consultation, ConsultationInput, PageReq,
    PickerFilter, Progress, ReferralRow, ResourcePick, Staff, Summary,
};
use tsunagu_store::geo::{self, Area, Municipality};
use tsunagu_store::orgs::{self, Organisation};
use tsunagu_store::{StoreError, clock};

use super::render_status;
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/consultations", Action::ViewConsultations, list)
        .get("/consultations/new", Action::RecordConsultations, new_page)
        .post(
            "/consultations/new",
            Action::RecordConsultations,
            new_submit,
        )
        .get("/consultations/{id}", Action::ViewConsultations, detail)
        .get(
            "/consultations/{id}/edit",
            Action::RecordConsultations,
            edit_page,
        )
        .post(
            "/consultations/{id}/edit",
            Action::RecordConsultations,
            edit_submit,
        )
        .post(
            "/consultations/{id}/entries",
            Action::RecordConsultations,
            add_entry,
        )
        .post(
            "/consultations/{id}/consent",
            Action::RecordConsultations,
            record_consent,
        )
        .get(
            "/consultations/{id}/resources",
            Action::RecordConsultations,
            picker,
        )
        .post(
            "/consultations/{id}/resources",
            Action::RecordConsultations,
            attach,
        )
        .post(
            "/consultations/{id}/resources/{rid}/detach",
            Action::RecordConsultations,
            detach,
        )
        .get(
            "/consultations/{id}/refer",
            Action::RecordConsultations,
            refer_page,
        )
        .post(
            "/consultations/{id}/refer",
            Action::RecordConsultations,
            refer_submit,
        )
}

// ---------------------------------------------------------------------------------------------
// Display helpers (shared with the referral pages)

/// `2026-11-24` → `令和8年11月24日`; anything else as it is.
pub(super) fn date_label(ymd: &str) -> String {
    parse_date_ja(ymd)
        .map(format_wareki_date)
        .unwrap_or_else(|_| ymd.to_string())
}

/// A stored UTC instant in JST: `令和8年11月24日 13:20`.
pub(super) fn instant_label(utc: &str) -> String {
    match clock::parse(utc) {
        Some(t) => {
            let jst = format_jst_datetime(t);
            let date = rules::jst_date(t);
            format!(
                "{} {}",
                format_wareki_date(date),
                jst.get(11..).unwrap_or_default()
            )
        }
        None => utc.to_string(),
    }
}

/// The JST date of a stored instant, for `<time datetime>`.
pub(super) fn instant_iso_date(utc: &str) -> String {
    clock::parse(utc)
        .map(|t| rules::jst_date(t).to_string())
        .unwrap_or_default()
}

/// Loads the consultation `id` if the actor may see it (404 otherwise).
async fn load(st: &AppState, ctx: &Ctx, id: &str) -> Result<Consultation, AppError> {
    let actor = ctx.require_actor()?;
    Ok(store::get(&st.db, &actor, id).await?)
}

fn municipality_choices(munis: &[Municipality], selected: &str, none_label: &str) -> Vec<Choice> {
    let mut out = vec![Choice::new("", none_label, selected.is_empty())];
    out.extend(
        munis
            .iter()
            .map(|m| Choice::new(&m.code6, &m.name, m.code6 == selected)),
    );
    out
}

fn code_choices<C: Code>(selected: &str, first: Option<&str>) -> Vec<Choice> {
    let mut out = Vec::new();
    if let Some(label) = first {
        out.push(Choice::new("", label, selected.is_empty()));
    }
    out.extend(
        C::ALL
            .iter()
            .map(|c| Choice::new(c.code(), c.label(), c.code() == selected)),
    );
    out
}

// ---------------------------------------------------------------------------------------------
// List, my open consultations, follow-ups due, search

struct Row {
    id: String,
    receipt_no: String,
    received_on: String,
    received_label: String,
    requester_type: String,
    municipality: String,
    topics: Vec<String>,
    question: String,
    handler: String,
    status_label: String,
    status_css: &'static str,
    follow_up_on: String,
    follow_up_label: String,
    overdue: bool,
    public_form: bool,
}

impl Row {
    fn of(s: &Summary, today: &str) -> Row {
        let follow = s.follow_up_on.clone().unwrap_or_default();
        Row {
            id: s.id.clone(),
            receipt_no: s.receipt_no.clone(),
            received_on: s.received_on.clone(),
            received_label: date_label(&s.received_on),
            requester_type: s.requester_type_label(),
            municipality: s.municipality_name.clone().unwrap_or_default(),
            topics: s.topic_labels(),
            question: s.question_excerpt(),
            handler: s.handled_by_name.clone().unwrap_or_default(),
            status_label: s.status_label(),
            status_css: s.status_css(),
            follow_up_label: if follow.is_empty() {
                String::new()
            } else {
                date_label(&follow)
            },
            overdue: !follow.is_empty() && follow.as_str() < today && s.status != "closed",
            follow_up_on: follow,
            public_form: s.from_public_form(),
        }
    }
}

struct Pager {
    prev: Option<String>,
    next: Option<String>,
    info: String,
}

#[derive(Template)]
#[template(path = "consultations/list.html")]
struct ListPage {
    layout: Layout,
    view: &'static str,
    mine_count: i64,
    due_count: i64,
    received_count: i64,
    rows: Vec<Row>,
    caption: String,
    empty_message: &'static str,
    keyword: String,
    from: String,
    to: String,
    from_error: Option<String>,
    to_error: Option<String>,
    errors: Vec<(String, String)>,
    municipalities: Vec<Choice>,
    areas: Vec<Choice>,
    topics: Vec<Choice>,
    care_types: Vec<Choice>,
    statuses: Vec<Choice>,
    handlers: Vec<Choice>,
    filtered: bool,
    pager: Option<Pager>,
    can_record: bool,
}

const PER_PAGE: i64 = 50;

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let view = match q.get("view") {
        "mine" => "mine",
        "due" => "due",
        "received" => "received",
        _ => "all",
    };
    let now = clock::now();
    let today = today_jst(now);
    let today_text = today.to_string();
    let counts = store::counts(&st.db, &actor, today).await?;

    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    let areas = geo::areas(&st.db, &st.cfg.prefecture_code).await?;
    let cares = care_types::list(&st.db, true).await?;
    let staff = store::staff(&st.db).await?;

    let keyword: String = q.get("q").trim().chars().take(100).collect();
    let from: String = q.get("from").trim().chars().take(30).collect();
    let to: String = q.get("to").trim().chars().take(30).collect();
    let mut errors = FieldErrors::new();
    let from_date = match rules::parse_optional_date(&from) {
        Ok(d) => d,
        Err(e) => {
            errors.add("from", e.to_string());
            None
        }
    };
    let to_date = match rules::parse_optional_date(&to) {
        Ok(d) => d,
        Err(e) => {
            errors.add("to", e.to_string());
            None
        }
    };
    if let (Some(f), Some(t)) = (from_date, to_date)
        && f > t
    {
        errors.add("to", "終了日は開始日より後の日付にしてください");
    }
    let pick = |name: &str, ok: &dyn Fn(&str) -> bool| -> String {
        let v = q.get(name).trim();
        if ok(v) { v.to_string() } else { String::new() }
    };
    let municipality = pick("municipality", &|v| munis.iter().any(|m| m.code6 == v));
    let area = pick("area", &|v| areas.iter().any(|a| a.id == v));
    let topic = pick("topic", &|v| Topic::from_code(v).is_some());
    let care_type = pick("care_type", &|v| cares.iter().any(|c| c.code == v));
    let status = pick("status", &|v| v == "open" || Status::from_code(v).is_some());
    let handled_by = pick("handled_by", &|v| staff.iter().any(|s| s.id == v));
    let page_no: i64 = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);

    let filtered = !keyword.is_empty()
        || !from.is_empty()
        || !to.is_empty()
        || !municipality.is_empty()
        || !area.is_empty()
        || !topic.is_empty()
        || !care_type.is_empty()
        || !status.is_empty()
        || !handled_by.is_empty();

    let (rows, caption, empty_message, pager) = match view {
        "mine" => {
            let rows = store::my_open(&st.db, &actor, 500).await?;
            let caption = format!("自分が担当する対応中の相談（{}件）", rows.len());
            (
                rows,
                caption,
                "担当している対応中の相談はありません。",
                None,
            )
        }
        "due" => {
            let rows = store::follow_ups_due(&st.db, &actor, today, 500).await?;
            let caption = format!(
                "{}までにフォローする相談（{}件）",
                format_wareki_date(today),
                rows.len()
            );
            (
                rows,
                caption,
                "今日までにフォローする相談はありません。",
                None,
            )
        }
        "received" => {
            let filter = store::Filter {
                status: Status::Received.code().to_string(),
                ..store::Filter::default()
            };
            let listing = store::list(
                &st.db,
                &actor,
                &filter,
                PageReq {
                    page: 1,
                    per_page: 500,
                },
            )
            .await?;
            let caption = format!(
                "受付のまま対応を始めていない相談（{}件、相談申込みフォームからの申込みを含む）",
                listing.total
            );
            (
                listing.rows,
                caption,
                "受付のままの相談はありません。",
                None,
            )
        }
        _ => {
            let filter = store::Filter {
                keyword: keyword.clone(),
                from: from_date.map(|d| d.to_string()),
                to: to_date.map(|d| d.to_string()),
                municipality_code6: municipality.clone(),
                area_id: area.clone(),
                topic: topic.clone(),
                care_type: care_type.clone(),
                status: status.clone(),
                handled_by: handled_by.clone(),
                source: String::new(),
            };
            let listing = store::list(
                &st.db,
                &actor,
                &filter,
                PageReq {
                    page: page_no,
                    per_page: PER_PAGE,
                },
            )
            .await?;
            let first = (page_no - 1) * PER_PAGE + 1;
            let last = first + listing.rows.len() as i64 - 1;
            let link = |p: i64| {
                let p = p.to_string();
                format!(
                    "/consultations?{}",
                    query_string(&[
                        ("q", &keyword),
                        ("from", &from),
                        ("to", &to),
                        ("municipality", &municipality),
                        ("area", &area),
                        ("topic", &topic),
                        ("care_type", &care_type),
                        ("status", &status),
                        ("handled_by", &handled_by),
                        ("page", &p),
                    ])
                )
            };
            let count = super::resources::count_label(listing.total, listing.more);
            let pager = (listing.total > PER_PAGE || listing.more).then(|| Pager {
                prev: (page_no > 1).then(|| link(page_no - 1)),
                next: (last < listing.total || listing.more).then(|| link(page_no + 1)),
                info: format!("{count}中 {}–{}件", first, last.max(first)),
            });
            let caption = if filtered {
                format!("条件に合う相談記録（{count}）")
            } else {
                format!("相談記録（{count}）")
            };
            (
                listing.rows,
                caption,
                "条件に合う相談記録はありません。",
                pager,
            )
        }
    };

    let mut area_choices = vec![Choice::new("", "すべて", area.is_empty())];
    area_choices.extend(
        areas
            .iter()
            .map(|a| Choice::new(&a.id, &a.name, a.id == area)),
    );
    let mut care_choices = vec![Choice::new("", "すべて", care_type.is_empty())];
    care_choices.extend(
        cares
            .iter()
            .map(|c| Choice::new(&c.code, &c.name, c.code == care_type)),
    );
    let mut status_choices = vec![
        Choice::new("", "すべて", status.is_empty()),
        Choice::new(
            "open",
            "完了以外（受付・対応中・フォロー待ち）",
            status == "open",
        ),
    ];
    status_choices.extend(code_choices::<Status>(&status, None));
    let mut handler_choices = vec![Choice::new("", "すべて", handled_by.is_empty())];
    handler_choices.extend(
        staff
            .iter()
            .map(|s| Choice::new(&s.id, &s.display_name, s.id == handled_by)),
    );
    let status_code = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status_code,
        &ListPage {
            layout: Layout::new(&st, &ctx, "相談記録"),
            view,
            mine_count: counts.mine,
            due_count: counts.due,
            received_count: counts.received,
            rows: rows.iter().map(|s| Row::of(s, &today_text)).collect(),
            caption,
            empty_message,
            from_error: errors.get("from").map(str::to_string),
            to_error: errors.get("to").map(str::to_string),
            errors: summary(&errors),
            keyword,
            from,
            to,
            municipalities: municipality_choices(&munis, &municipality, "すべて"),
            areas: area_choices,
            topics: code_choices::<Topic>(&topic, Some("すべて")),
            care_types: care_choices,
            statuses: status_choices,
            handlers: handler_choices,
            filtered,
            pager,
            can_record: can(Some(&actor), Action::RecordConsultations, Target::Any),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The intake form (new and edit)

/// A group of radio buttons.
pub(super) struct Radios {
    pub name: &'static str,
    pub label: String,
    pub required: bool,
    pub hint: String,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

impl Radios {
    fn new<C: Code>(
        name: &'static str,
        label: &str,
        selected: &str,
        errors: &FieldErrors,
    ) -> Radios {
        Radios {
            name,
            label: label.to_string(),
            required: true,
            hint: String::new(),
            choices: code_choices::<C>(selected, None),
            error: errors.get(name).map(str::to_string),
        }
    }

    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.hint.is_empty() {
            ids.push(format!("{}-hint", self.name));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.name));
        }
        ids.join(" ")
    }
}

/// One control of the intake form.
enum Part {
    Field(Field),
    Radios(Radios),
}

/// A titled part of the intake form.
struct Section {
    title: &'static str,
    parts: Vec<Part>,
}

#[derive(Template)]
#[template(path = "consultations/form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    lead: String,
    action: String,
    cancel_href: String,
    submit_label: &'static str,
    errors: Vec<(String, String)>,
    sections: Vec<Section>,
}

/// The form as typed: every value kept as text so that bad input comes back unchanged.
#[derive(Debug, Clone, Default)]
struct Typed {
    received_at: String,
    channel: String,
    requester_type: String,
    requester_name: String,
    requester_contact: String,
    requester_organisation: String,
    municipality: String,
    age_band: String,
    care_types: Vec<String>,
    topics: Vec<String>,
    question: String,
    advice: String,
    follow_up_on: String,
    minutes_spent: String,
    handled_by: String,
    status: String,
}

impl Typed {
    fn from_form(f: &FormData) -> Typed {
        let text = |n: &str| f.get(n).to_string();
        Typed {
            received_at: text("received_at"),
            channel: text("channel"),
            requester_type: text("requester_type"),
            requester_name: text("requester_name"),
            requester_contact: text("requester_contact"),
            requester_organisation: text("requester_organisation"),
            municipality: text("child_municipality"),
            age_band: text("child_age_band"),
            care_types: f.all("care_types").iter().map(|s| s.to_string()).collect(),
            topics: f.all("topics").iter().map(|s| s.to_string()).collect(),
            question: text("question"),
            advice: text("advice"),
            follow_up_on: text("follow_up_on"),
            minutes_spent: text("minutes_spent"),
            handled_by: text("handled_by"),
            status: text("status"),
        }
    }

    fn from_stored(c: &Consultation) -> Typed {
        Typed {
            received_at: clock::parse(&c.received_at)
                .map(format_jst_datetime)
                .unwrap_or_default(),
            channel: c.channel.clone(),
            requester_type: c.requester_type.clone(),
            requester_name: c.requester_name.clone(),
            requester_contact: c.requester_contact.clone(),
            requester_organisation: c.requester_organisation.clone(),
            municipality: c.child_municipality_code6.clone().unwrap_or_default(),
            age_band: c.child_age_band.clone(),
            care_types: c.care_types.iter().map(|(code, _)| code.clone()).collect(),
            topics: c.topics.clone(),
            question: c.question.clone(),
            advice: c.advice.clone(),
            follow_up_on: c.follow_up_on.clone().unwrap_or_default(),
            minutes_spent: c.minutes_spent.map(|m| m.to_string()).unwrap_or_default(),
            handled_by: c.handled_by.clone().unwrap_or_default(),
            status: c.status.clone(),
        }
    }

    fn defaults(now: OffsetDateTime, me: &str, staff: &[Staff]) -> Typed {
        Typed {
            received_at: format_jst_datetime(now),
            channel: Channel::Phone.code().into(),
            age_band: AgeBand::Unknown.code().into(),
            handled_by: if staff.iter().any(|s| s.id == me) {
                me.to_string()
            } else {
                String::new()
            },
            status: Status::InProgress.code().into(),
            ..Typed::default()
        }
    }
}

/// What the form offers: the prefecture's municipalities, the care types, the staff, and for an
/// edit the record as stored (whose retired choices stay valid).
struct Lists<'a> {
    munis: &'a [Municipality],
    cares: &'a [CareType],
    staff: &'a [Staff],
    current: Option<&'a Consultation>,
}

const MAX_LONG_TEXT: usize = 4000;

fn validate(t: &Typed, now: OffsetDateTime, l: &Lists) -> Result<ConsultationInput, FieldErrors> {
    let mut e = FieldErrors::new();
    let received_at = if t.received_at.trim().is_empty() {
        e.add("received_at", "受付日時を入力してください");
        String::new()
    } else {
        let stored = l
            .current
            .map(|c| (Typed::from_stored(c).received_at, c.received_at.clone()));
        match stored {
            // Unchanged on the form: keep the stored instant with its seconds.
            Some((shown, exact)) if shown == t.received_at.trim() => exact,
            _ => match rules::parse_received_at(&t.received_at, now) {
                Ok(at) => clock::format(at),
                Err(err) => {
                    e.add("received_at", err.to_string());
                    String::new()
                }
            },
        }
    };
    if Channel::from_code(&t.channel).is_none() {
        e.add("channel", "受付方法を選んでください");
    }
    if RequesterType::from_code(&t.requester_type).is_none() {
        e.add("requester_type", "相談者の種別を選んでください");
    }
    let requester_name = optional_text(
        &mut e,
        "requester_name",
        "相談者の氏名",
        &t.requester_name,
        100,
    );
    let requester_contact = optional_text(
        &mut e,
        "requester_contact",
        "連絡先",
        &t.requester_contact,
        200,
    );
    let requester_organisation = optional_text(
        &mut e,
        "requester_organisation",
        "所属・機関名",
        &t.requester_organisation,
        100,
    );
    let municipality = t.municipality.trim();
    let current_muni = l
        .current
        .and_then(|c| c.child_municipality_code6.as_deref())
        .unwrap_or("");
    let child_municipality_code6 = if municipality.is_empty() {
        None
    } else {
        if municipality != current_muni && !l.munis.iter().any(|m| m.code6 == municipality) {
            e.add("child_municipality", "市町村を一覧から選んでください");
        }
        Some(municipality.to_string())
    };
    let age_band = if t.age_band.trim().is_empty() {
        AgeBand::Unknown
    } else {
        AgeBand::from_code(&t.age_band).unwrap_or_else(|| {
            e.add("child_age_band", "年齢を一覧から選んでください");
            AgeBand::Unknown
        })
    };
    let mut care_types: Vec<String> = Vec::new();
    for code in &t.care_types {
        let code = code.trim();
        let known = l.cares.iter().any(|c| c.code == code && !c.retired)
            || l.current
                .is_some_and(|c| c.care_types.iter().any(|(k, _)| k == code));
        if !known {
            e.add("care_types", "医療的ケアを一覧から選んでください");
        } else if !care_types.iter().any(|c| c == code) {
            care_types.push(code.to_string());
        }
    }
    let topic_values: Vec<&str> = t.topics.iter().map(String::as_str).collect();
    let topics = match rules::parse_codes::<Topic>(&topic_values) {
        Ok(v) if v.is_empty() => {
            e.add("topics", "相談の分類を1つ以上選んでください");
            Vec::new()
        }
        Ok(v) => v.iter().map(|t| t.code().to_string()).collect(),
        Err(msg) => {
            e.add("topics", msg);
            Vec::new()
        }
    };
    let question = required_text(&mut e, "question", "相談内容", &t.question, MAX_LONG_TEXT);
    let advice = optional_text(&mut e, "advice", "助言・対応内容", &t.advice, MAX_LONG_TEXT);
    let follow_up = match rules::parse_optional_date(&t.follow_up_on) {
        Ok(d) => d,
        Err(err) => {
            e.add("follow_up_on", err.to_string());
            None
        }
    };
    let minutes_spent = rules::parse_minutes(&t.minutes_spent).unwrap_or_else(|msg| {
        e.add("minutes_spent", msg);
        None
    });
    let handled_by = t.handled_by.trim();
    let handled_by = if handled_by.is_empty() {
        None
    } else {
        let current = l.current.and_then(|c| c.handled_by.as_deref());
        if current != Some(handled_by) && !l.staff.iter().any(|s| s.id == handled_by) {
            e.add("handled_by", "担当者を一覧から選んでください");
        }
        Some(handled_by.to_string())
    };
    let status = match Status::from_code(&t.status) {
        Some(s) => {
            if let Some(problem) = rules::status_problem(s, follow_up) {
                e.add("follow_up_on", problem);
            }
            s
        }
        None => {
            e.add("status", "対応状況を選んでください");
            Status::Received
        }
    };
    e.into_result()?;
    Ok(ConsultationInput {
        received_at,
        channel: t.channel.trim().to_string(),
        requester_type: t.requester_type.trim().to_string(),
        requester_name,
        requester_contact,
        requester_organisation,
        child_municipality_code6,
        child_age_band: age_band.code().to_string(),
        care_types,
        topics,
        question,
        advice,
        follow_up_on: follow_up.map(|d| d.to_string()),
        minutes_spent,
        handled_by,
        status: status.code().to_string(),
    })
}

fn sections(t: &Typed, l: &Lists, e: &FieldErrors) -> Vec<Section> {
    let mut staff_choices = vec![Choice::new("", "未定", t.handled_by.is_empty())];
    staff_choices.extend(l.staff.iter().map(|s| {
        Choice::new(
            &s.id,
            format!("{}（{}）", s.display_name, s.organisation_name),
            s.id == t.handled_by,
        )
    }));
    if let Some(c) = l.current
        && let Some(h) = &c.handled_by
        && !l.staff.iter().any(|s| &s.id == h)
    {
        staff_choices.push(Choice::new(
            h,
            format!(
                "{}（現在は担当できない利用者）",
                c.handled_by_name.clone().unwrap_or_default()
            ),
            *h == t.handled_by,
        ));
    }
    let mut munis = municipality_choices(l.munis, &t.municipality, "不明・指定しない");
    if let Some(c) = l.current
        && let Some(code) = &c.child_municipality_code6
        && !l.munis.iter().any(|m| &m.code6 == code)
    {
        munis.push(Choice::new(
            code,
            format!(
                "{}（廃止された市町村）",
                c.municipality_name.clone().unwrap_or_else(|| code.clone())
            ),
            *code == t.municipality,
        ));
    }
    let mut cares: Vec<Choice> = l
        .cares
        .iter()
        .filter(|c| !c.retired || t.care_types.contains(&c.code))
        .map(|c| {
            let label = if c.retired {
                format!("{}（使用終了）", c.name)
            } else {
                c.name.clone()
            };
            Choice::new(&c.code, label, t.care_types.contains(&c.code))
        })
        .collect();
    if let Some(c) = l.current {
        for (code, name) in &c.care_types {
            if !cares.iter().any(|x| &x.value == code) {
                cares.push(Choice::new(code, name, t.care_types.contains(code)));
            }
        }
    }
    let topics: Vec<Choice> = Topic::ALL
        .iter()
        .map(|x| Choice::new(x.code(), x.label(), t.topics.iter().any(|s| s == x.code())))
        .collect();
    vec![
        Section {
            title: "受付",
            parts: vec![
                Part::Field(
                    Field::new("received_at", "受付日時", "text")
                        .value(&t.received_at)
                        .required()
                        .hint("例：2026-04-01 13:20（日付だけでも入力できます。令和8年4月1日 も可）")
                        .errors(e),
                ),
                Part::Radios(Radios::new::<Channel>("channel", "受付方法", &t.channel, e)),
                Part::Field(
                    Field::new("handled_by", "担当者", "select")
                        .choices(staff_choices)
                        .errors(e),
                ),
                Part::Radios(Radios::new::<Status>("status", "対応状況", &t.status, e)),
            ],
        },
        Section {
            title: "相談者",
            parts: vec![
                Part::Radios(Radios::new::<RequesterType>(
                    "requester_type",
                    "相談者の種別",
                    &t.requester_type,
                    e,
                )),
                Part::Field(
                    Field::new("requester_name", "相談者の氏名", "text")
                        .value(&t.requester_name)
                        .hint("個人情報です。つなぎ先には、ご本人の同意を記録した場合だけ伝わります。")
                        .errors(e),
                ),
                Part::Field(
                    Field::new("requester_contact", "連絡先（電話番号・メールなど）", "text")
                        .value(&t.requester_contact)
                        .errors(e),
                ),
                Part::Field(
                    Field::new("requester_organisation", "所属・機関名", "text")
                        .value(&t.requester_organisation)
                        .hint("市町村・医療機関・事業所などからの相談の場合")
                        .errors(e),
                ),
            ],
        },
        Section {
            title: "お子さん",
            parts: vec![
                Part::Field(
                    Field::new("child_municipality", "お住まいの市町村", "select")
                        .choices(munis)
                        .errors(e),
                ),
                Part::Field(
                    Field::new("child_age_band", "年齢", "select")
                        .choices(code_choices::<AgeBand>(&t.age_band, None))
                        .errors(e),
                ),
                Part::Field(
                    Field::new("care_types", "必要な医療的ケア", "checkboxes")
                        .choices(cares)
                        .hint("当てはまるものをすべて選んでください")
                        .errors(e),
                ),
            ],
        },
        Section {
            title: "相談内容",
            parts: vec![
                Part::Field(
                    Field::new("topics", "相談の分類", "checkboxes")
                        .choices(topics)
                        .required()
                        .hint("当てはまるものをすべて選んでください")
                        .errors(e),
                ),
                Part::Field(
                    Field::new("question", "相談内容", "textarea")
                        .value(&t.question)
                        .required()
                        .errors(e),
                ),
                Part::Field(
                    Field::new("advice", "助言・対応内容", "textarea")
                        .value(&t.advice)
                        .errors(e),
                ),
            ],
        },
        Section {
            title: "フォロー",
            parts: vec![
                Part::Field(
                    Field::new("follow_up_on", "フォロー予定日", "text")
                        .value(&t.follow_up_on)
                        .hint("例：2026-12-01 または 令和8年12月1日。フォロー待ちにする場合は必須です")
                        .errors(e),
                ),
                Part::Field(
                    Field::new("minutes_spent", "所要時間（分）", "text")
                        .value(&t.minutes_spent)
                        .inputmode("numeric")
                        .hint("例：30")
                        .errors(e),
                ),
            ],
        },
    ]
}

struct FormContext {
    heading: String,
    lead: String,
    action: String,
    cancel_href: String,
    submit_label: &'static str,
}

fn new_context() -> FormContext {
    FormContext {
        heading: "新しい相談を記録".into(),
        lead: "電話を受けながら入力できるよう、必須は受付日時・受付方法・相談者の種別・相談の分類・相談内容だけです。紹介する社会資源とつなぎ先は、保存した後で追加します。".into(),
        action: "/consultations/new".into(),
        cancel_href: "/consultations".into(),
        submit_label: "記録する",
    }
}

fn edit_context(c: &Consultation) -> FormContext {
    FormContext {
        heading: format!("相談記録 {} の編集", c.receipt_no),
        lead: "変更した内容は、変更前の値とともに監査ログに残ります。".into(),
        action: format!("/consultations/{}/edit", c.id),
        cancel_href: format!("/consultations/{}", c.id),
        submit_label: "保存する",
    }
}

fn form_page(
    st: &AppState,
    ctx: &Ctx,
    fc: FormContext,
    typed: &Typed,
    lists: &Lists,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &FormPage {
            layout: Layout::new(st, ctx, fc.heading.clone()),
            heading: fc.heading,
            lead: fc.lead,
            action: fc.action,
            cancel_href: fc.cancel_href,
            submit_label: fc.submit_label,
            errors: summary(errors),
            sections: sections(typed, lists, errors),
        },
    )
}

/// A store refusal the user can fix, as a message on the form.
fn store_error_to_field(e: StoreError, field: &str) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::new();
    match e {
        StoreError::Invalid(m) | StoreError::Conflict(m) => errors.add(field, m),
        other => return Err(other.into()),
    }
    Ok(errors)
}

struct Loaded {
    munis: Vec<Municipality>,
    cares: Vec<CareType>,
    staff: Vec<Staff>,
}

async fn load_lists(st: &AppState) -> Result<Loaded, AppError> {
    Ok(Loaded {
        munis: geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?,
        cares: care_types::list(&st.db, true).await?,
        staff: store::staff(&st.db).await?,
    })
}

async fn new_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let loaded = load_lists(&st).await?;
    let typed = Typed::defaults(clock::now(), &actor.user_id, &loaded.staff);
    let lists = Lists {
        munis: &loaded.munis,
        cares: &loaded.cares,
        staff: &loaded.staff,
        current: None,
    };
    form_page(
        &st,
        &ctx,
        new_context(),
        &typed,
        &lists,
        &FieldErrors::new(),
    )
}

async fn new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let loaded = load_lists(&st).await?;
    let lists = Lists {
        munis: &loaded.munis,
        cares: &loaded.cares,
        staff: &loaded.staff,
        current: None,
    };
    let typed = Typed::from_form(&form);
    let errors = match validate(&typed, clock::now(), &lists) {
        Ok(input) => {
            let mut tx = st.db.begin().await?;
            match store::create(&mut tx, &ctx.audit(), &input, Some(&actor.user_id)).await {
                Ok((id, receipt_no)) => {
                    tx.commit().await?;
                    return Ok(redirect_with_flash(
                        &st,
                        &format!("/consultations/{id}"),
                        "success",
                        &format!("受付番号 {receipt_no} で相談を記録しました。"),
                    ));
                }
                Err(e) => store_error_to_field(e, "question")?,
            }
        }
        Err(e) => e,
    };
    form_page(&st, &ctx, new_context(), &typed, &lists, &errors)
}

async fn edit_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let loaded = load_lists(&st).await?;
    let lists = Lists {
        munis: &loaded.munis,
        cares: &loaded.cares,
        staff: &loaded.staff,
        current: Some(&c),
    };
    // The form shows the requester's details: a view of personal data.
    let mut tx = st.db.begin().await?;
    store::record_view(&mut tx, &ctx.audit(), &c.id).await?;
    tx.commit().await?;
    form_page(
        &st,
        &ctx,
        edit_context(&c),
        &Typed::from_stored(&c),
        &lists,
        &FieldErrors::new(),
    )
}

async fn edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let loaded = load_lists(&st).await?;
    let lists = Lists {
        munis: &loaded.munis,
        cares: &loaded.cares,
        staff: &loaded.staff,
        current: Some(&c),
    };
    let typed = Typed::from_form(&form);
    let errors = match validate(&typed, clock::now(), &lists) {
        Ok(input) => {
            let mut tx = st.db.begin().await?;
            match store::update(&mut tx, &ctx.audit(), &c.id, &input).await {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(redirect_with_flash(
                        &st,
                        &format!("/consultations/{}", c.id),
                        "success",
                        "相談記録を保存しました。",
                    ));
                }
                Err(e) => store_error_to_field(e, "question")?,
            }
        }
        Err(e) => e,
    };
    form_page(&st, &ctx, edit_context(&c), &typed, &lists, &errors)
}

// ---------------------------------------------------------------------------------------------
// The record page: timeline, resources, consent, referrals

struct EntryView {
    at_iso: String,
    at_label: String,
    author: String,
    body: String,
}

struct ReferralView {
    id: String,
    to: String,
    note: String,
    with_personal_details: bool,
    status_label: String,
    status_css: &'static str,
    sent_label: String,
    sent_by: String,
    acknowledged_label: String,
    outcome: String,
    outcome_label: String,
}

impl ReferralView {
    fn of(r: &ReferralRow) -> ReferralView {
        ReferralView {
            id: r.id.clone(),
            to: r.to_organisation_name.clone(),
            note: r.note.clone(),
            with_personal_details: r.with_personal_details,
            status_label: r.status_label(),
            status_css: r.status_css(),
            sent_label: instant_label(&r.sent_at),
            sent_by: r.sent_by_name.clone().unwrap_or_default(),
            acknowledged_label: r
                .acknowledged_at
                .as_deref()
                .map(instant_label)
                .unwrap_or_default(),
            outcome: r.outcome.clone(),
            outcome_label: r
                .outcome_at
                .as_deref()
                .map(instant_label)
                .unwrap_or_default(),
        }
    }
}

/// The timeline form as typed.
#[derive(Default)]
struct EntryForm {
    body: String,
    status: Vec<Choice>,
    follow_up_on: String,
    errors: FieldErrors,
}

/// The consent form as typed.
#[derive(Default)]
struct ConsentForm {
    given: String,
    on: String,
    methods: Vec<Choice>,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "consultations/detail.html")]
struct DetailPage {
    layout: Layout,
    c: Consultation,
    received_label: String,
    follow_up_label: String,
    overdue: bool,
    consent_on_label: String,
    topic_labels: Vec<String>,
    entries: Vec<EntryView>,
    resources: Vec<AttachedResource>,
    referrals: Vec<ReferralView>,
    entry: EntryForm,
    entry_errors: Vec<(String, String)>,
    consent: ConsentForm,
    consent_errors: Vec<(String, String)>,
    can_record: bool,
}

impl DetailPage {
    fn entry_error(&self, field: &str) -> Option<String> {
        self.entry.errors.get(field).map(str::to_string)
    }
    fn consent_error(&self, field: &str) -> Option<String> {
        self.consent.errors.get(field).map(str::to_string)
    }
}

fn entry_form_for(c: &Consultation) -> EntryForm {
    EntryForm {
        body: String::new(),
        status: code_choices::<Status>(&c.status, None),
        follow_up_on: c.follow_up_on.clone().unwrap_or_default(),
        errors: FieldErrors::new(),
    }
}

fn consent_form_for(c: &Consultation) -> ConsentForm {
    ConsentForm {
        given: if c.consent_given { "yes" } else { "no" }.into(),
        on: c.consent_on.clone().unwrap_or_default(),
        methods: code_choices::<ConsentMethod>(&c.consent_method, Some("選択してください")),
        errors: FieldErrors::new(),
    }
}

/// Renders the record page and audits the view (it shows the requester's name and contact).
async fn detail_page(
    st: &AppState,
    ctx: &Ctx,
    c: Consultation,
    entry: EntryForm,
    consent: ConsentForm,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let entries = store::entries(&st.db, &c.id).await?;
    let resources = store::attached_resources(&st.db, &c.id).await?;
    let referrals = store::referrals_of(&st.db, &c.id).await?;
    let mut tx = st.db.begin().await?;
    store::record_view(&mut tx, &ctx.audit(), &c.id).await?;
    tx.commit().await?;
    let today = today_jst(clock::now()).to_string();
    let status = if entry.errors.is_empty() && consent.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let follow = c.follow_up_on.clone().unwrap_or_default();
    render_status(
        status,
        &DetailPage {
            layout: Layout::new(st, ctx, format!("相談記録 {}", c.receipt_no)),
            received_label: instant_label(&c.received_at),
            follow_up_label: if follow.is_empty() {
                String::new()
            } else {
                date_label(&follow)
            },
            overdue: !follow.is_empty() && follow < today && !c.is_closed(),
            consent_on_label: c.consent_on.as_deref().map(date_label).unwrap_or_default(),
            topic_labels: c.topic_labels(),
            entries: entries
                .iter()
                .map(|e| EntryView {
                    at_iso: instant_iso_date(&e.at),
                    at_label: instant_label(&e.at),
                    author: e.author_name.clone().unwrap_or_default(),
                    body: e.body.clone(),
                })
                .collect(),
            resources,
            referrals: referrals.iter().map(ReferralView::of).collect(),
            entry_errors: summary(&entry.errors),
            entry,
            consent_errors: summary(&consent.errors),
            consent,
            can_record: can(Some(&actor), Action::RecordConsultations, Target::Any),
            c,
        },
    )
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let entry = entry_form_for(&c);
    let consent = consent_form_for(&c);
    detail_page(&st, &ctx, c, entry, consent).await
}

async fn add_entry(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let c = load(&st, &ctx, &id).await?;
    let mut errors = FieldErrors::new();
    let body = required_text(
        &mut errors,
        "entry_body",
        "経過の内容",
        form.get("entry_body"),
        MAX_LONG_TEXT,
    );
    let status = Status::from_code(form.get("entry_status"));
    if status.is_none() {
        errors.add("entry_status", "対応状況を選んでください");
    }
    let follow_up = match rules::parse_optional_date(form.get("entry_follow_up_on")) {
        Ok(d) => d,
        Err(e) => {
            errors.add("entry_follow_up_on", e.to_string());
            None
        }
    };
    if let Some(s) = status
        && let Some(problem) = rules::status_problem(s, follow_up)
    {
        errors.add("entry_follow_up_on", problem);
    }
    if let (true, Some(s)) = (errors.is_empty(), status) {
        let progress = Progress {
            status: s.code().to_string(),
            follow_up_on: follow_up.map(|d| d.to_string()),
        };
        let mut tx = st.db.begin().await?;
        store::add_entry(
            &mut tx,
            &ctx.audit(),
            &c.id,
            Some(&actor.user_id),
            &body,
            Some(&progress),
        )
        .await?;
        tx.commit().await?;
        return Ok(redirect_with_flash(
            &st,
            &format!("/consultations/{}#timeline", c.id),
            "success",
            "経過を追記しました。",
        ));
    }
    let entry = EntryForm {
        body: form.get("entry_body").to_string(),
        status: code_choices::<Status>(form.get("entry_status"), None),
        follow_up_on: form.get("entry_follow_up_on").to_string(),
        errors,
    };
    let consent = consent_form_for(&c);
    detail_page(&st, &ctx, c, entry, consent).await
}

async fn record_consent(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let mut errors = FieldErrors::new();
    let given = match form.get("consent_given") {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            errors.add("consent_given", "同意の有無を選んでください");
            None
        }
    };
    let on = match rules::parse_optional_date(form.get("consent_on")) {
        Ok(d) => d,
        Err(e) => {
            errors.add("consent_on", e.to_string());
            None
        }
    };
    let method = ConsentMethod::from_code(form.get("consent_method"));
    if given == Some(true) {
        // A date that could not be read already has its message; the first message wins.
        for (field, msg) in rules::check_consent(true, on, method, today_jst(clock::now())) {
            errors.add(field, msg);
        }
    }
    if let (true, Some(given)) = (errors.is_empty(), given) {
        let input = ConsentInput {
            given,
            on: on.filter(|_| given).map(|d| d.to_string()),
            method: method
                .filter(|_| given)
                .map(|m| m.code().to_string())
                .unwrap_or_default(),
        };
        let mut tx = st.db.begin().await?;
        store::record_consent(&mut tx, &ctx.audit(), &c.id, &input).await?;
        tx.commit().await?;
        let msg = if given {
            "同意を記録しました。これから送る依頼には、氏名・連絡先も含まれます。"
        } else {
            "同意なしとして記録しました。依頼には氏名・連絡先は含まれません。"
        };
        return Ok(redirect_with_flash(
            &st,
            &format!("/consultations/{}#consent", c.id),
            "success",
            msg,
        ));
    }
    let consent = ConsentForm {
        given: form.get("consent_given").to_string(),
        on: form.get("consent_on").to_string(),
        methods: code_choices::<ConsentMethod>(
            form.get("consent_method"),
            Some("選択してください"),
        ),
        errors,
    };
    let entry = entry_form_for(&c);
    detail_page(&st, &ctx, c, entry, consent).await
}

// ---------------------------------------------------------------------------------------------
// Picking resources from the directory

#[derive(Template)]
#[template(path = "consultations/resources.html")]
struct PickerPage {
    layout: Layout,
    c: Consultation,
    keyword: String,
    areas: Vec<Choice>,
    categories: Vec<Choice>,
    care_types: Vec<Choice>,
    searched: bool,
    results: Vec<ResourcePick>,
    attached_ids: Vec<String>,
    suggest_href: String,
    hidden: Vec<(String, String)>,
    errors: Vec<(String, String)>,
    directory_empty: bool,
}

impl PickerPage {
    fn is_attached(&self, id: &str) -> bool {
        self.attached_ids.iter().any(|a| a == id)
    }
}

const PICKER_LIMIT: i64 = 100;

async fn picker_page(
    st: &AppState,
    ctx: &Ctx,
    c: Consultation,
    q: &FormData,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let areas = geo::areas(&st.db, &st.cfg.prefecture_code).await?;
    let categories = store::resource_categories(&st.db).await?;
    let cares = care_types::list(&st.db, false).await?;
    let keyword: String = q.get("q").trim().chars().take(100).collect();
    let area = q.get("area").trim().to_string();
    let area = if areas.iter().any(|a| a.id == area) {
        area
    } else {
        String::new()
    };
    let category = q.get("category").trim().to_string();
    let category = if categories.iter().any(|(id, _)| *id == category) {
        category
    } else {
        String::new()
    };
    let picked: Vec<String> = q
        .all("care_types")
        .iter()
        .filter(|code| cares.iter().any(|c| c.code == **code))
        .map(|s| s.to_string())
        .collect();
    let searched = q.has("q") || q.has("area") || q.has("category") || q.has("care_types");
    let results = if searched {
        store::pick_resources(
            &st.db,
            &PickerFilter {
                keyword: keyword.clone(),
                area_id: area.clone(),
                category_id: category.clone(),
                care_types: picked.clone(),
            },
            PICKER_LIMIT,
        )
        .await?
    } else {
        Vec::new()
    };
    let attached_ids = store::attached_resources(&st.db, &c.id)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut area_choices = vec![Choice::new("", "すべての圏域", area.is_empty())];
    area_choices.extend(
        areas
            .iter()
            .map(|a| Choice::new(&a.id, &a.name, a.id == area)),
    );
    let mut category_choices = vec![Choice::new("", "すべての種類", category.is_empty())];
    category_choices.extend(
        categories
            .iter()
            .map(|(id, name)| Choice::new(id, name, *id == category)),
    );
    let care_choices = cares
        .iter()
        .map(|x| Choice::new(&x.code, &x.name, picked.contains(&x.code)))
        .collect();
    // A link that searches with this consultation's area and kinds of care.
    let child_area: Option<&Area> = c
        .child_municipality_code6
        .as_deref()
        .and_then(|code| areas.iter().find(|a| a.has(code)));
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = child_area {
        pairs.push(("area", &a.id));
    }
    for (code, _) in &c.care_types {
        pairs.push(("care_types", code));
    }
    let suggest_href = if pairs.is_empty() {
        String::new()
    } else {
        format!("/consultations/{}/resources?{}", c.id, query_string(&pairs))
    };
    let mut hidden = vec![
        ("q".to_string(), keyword.clone()),
        ("area".to_string(), area.clone()),
        ("category".to_string(), category.clone()),
    ];
    hidden.extend(picked.iter().map(|p| ("care_types".to_string(), p.clone())));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &PickerPage {
            layout: Layout::new(st, ctx, format!("社会資源の紹介（{}）", c.receipt_no)),
            directory_empty: categories.is_empty(),
            c,
            keyword,
            areas: area_choices,
            categories: category_choices,
            care_types: care_choices,
            searched,
            results,
            attached_ids,
            suggest_href,
            hidden,
            errors: summary(errors),
        },
    )
}

async fn picker(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    picker_page(&st, &ctx, c, &q, &FieldErrors::new()).await
}

async fn attach(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let chosen: Vec<&str> = form
        .all("resource")
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut errors = FieldErrors::new();
    if chosen.is_empty() {
        errors.add("results", "紹介先に追加する社会資源を選んでください");
        return picker_page(&st, &ctx, c, &form, &errors).await;
    }
    let mut tx = st.db.begin().await?;
    let mut added = 0;
    for rid in &chosen {
        match store::attach_resource(&mut tx, &ctx.audit(), &c.id, rid).await {
            Ok(true) => added += 1,
            Ok(false) => {}
            Err(StoreError::NotFound) => {
                errors.add(
                    "results",
                    "選ばれた社会資源が見つかりません。検索し直してください",
                );
            }
            Err(StoreError::Invalid(m)) => errors.add("results", m),
            Err(e) => return Err(e.into()),
        }
    }
    if !errors.is_empty() {
        drop(tx);
        return picker_page(&st, &ctx, c, &form, &errors).await;
    }
    tx.commit().await?;
    let msg = if added == 0 {
        "選んだ社会資源はすでに紹介先に入っています。".to_string()
    } else {
        format!("{added}件の社会資源を紹介先に追加しました。")
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/consultations/{}#resources", c.id),
        "success",
        &msg,
    ))
}

async fn detach(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    let mut tx = st.db.begin().await?;
    let removed = store::detach_resource(&mut tx, &ctx.audit(), &c.id, &rid).await?;
    tx.commit().await?;
    let (kind, msg) = if removed {
        ("success", "紹介先から外しました。")
    } else {
        ("info", "この社会資源は紹介先に入っていません。")
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/consultations/{}#resources", c.id),
        kind,
        msg,
    ))
}

// ---------------------------------------------------------------------------------------------
// Referring to a local window or organisation

/// Organisations of one kind, for an `<optgroup>`.
struct OrgGroup {
    label: &'static str,
    orgs: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "consultations/refer.html")]
struct ReferPage {
    layout: Layout,
    c: Consultation,
    consent_on_label: String,
    groups: Vec<OrgGroup>,
    note: String,
    org_error: Option<String>,
    note_error: Option<String>,
    errors: Vec<(String, String)>,
}

/// Organisations one may refer to, municipal offices first, then by kind; the selected one is
/// marked.
fn org_groups(all: &[Organisation], selected: &str) -> Vec<OrgGroup> {
    let mut kinds: Vec<OrgKind> = vec![OrgKind::MunicipalOffice];
    kinds.extend(
        OrgKind::ALL
            .into_iter()
            .filter(|k| *k != OrgKind::MunicipalOffice),
    );
    kinds
        .into_iter()
        .map(|k| OrgGroup {
            label: k.label(),
            orgs: all
                .iter()
                .filter(|o| o.kind == k.code() && o.retired_at.is_none())
                .map(|o| Choice::new(&o.id, &o.name, o.id == selected))
                .collect(),
        })
        .filter(|g| !g.orgs.is_empty())
        .collect()
}

async fn refer_form(
    st: &AppState,
    ctx: &Ctx,
    c: Consultation,
    selected: &str,
    note: &str,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let all = orgs::list(&st.db, &actor, &orgs::Filter::default()).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &ReferPage {
            layout: Layout::new(st, ctx, format!("つなぎ先への依頼（{}）", c.receipt_no)),
            consent_on_label: c.consent_on.as_deref().map(date_label).unwrap_or_default(),
            groups: org_groups(&all, selected),
            note: note.to_string(),
            org_error: errors.get("to_organisation").map(str::to_string),
            note_error: errors.get("note").map(str::to_string),
            errors: summary(errors),
            c,
        },
    )
}

async fn refer_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = load(&st, &ctx, &id).await?;
    // The office of the child's municipality is the usual first window.
    let suggested = match &c.child_municipality_code6 {
        Some(code) => orgs::municipal_office(&st.db, code)
            .await?
            .map(|o| o.id)
            .unwrap_or_default(),
        None => String::new(),
    };
    refer_form(&st, &ctx, c, &suggested, "", &FieldErrors::new()).await
}

async fn refer_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let c = load(&st, &ctx, &id).await?;
    let mut errors = FieldErrors::new();
    let to = form.get("to_organisation").trim().to_string();
    let target_org = if to.is_empty() {
        errors.add("to_organisation", "依頼先を選んでください");
        None
    } else {
        match orgs::get(&st.db, &to).await {
            Ok(o) if o.retired_at.is_none() => Some(o),
            Ok(_) | Err(StoreError::NotFound) => {
                errors.add("to_organisation", "依頼先を一覧から選んでください");
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let note = required_text(
        &mut errors,
        "note",
        "依頼の内容",
        form.get("note"),
        MAX_LONG_TEXT,
    );
    if let (true, Some(org)) = (errors.is_empty(), &target_org) {
        let mut tx = st.db.begin().await?;
        match store::refer(
            &mut tx,
            &ctx.audit(),
            &c.id,
            &org.id,
            &note,
            Some(&actor.user_id),
        )
        .await
        {
            Ok(_) => {
                tx.commit().await?;
                let how = if c.consent_given {
                    "ご本人の同意があるため、氏名・連絡先も伝わります。"
                } else {
                    "同意が記録されていないため、氏名・連絡先は伝わりません。"
                };
                return Ok(redirect_with_flash(
                    &st,
                    &format!("/consultations/{}#referrals", c.id),
                    "success",
                    &format!("{}へ依頼しました。{how}", org.name),
                ));
            }
            Err(StoreError::Invalid(m)) => errors.add("to_organisation", m),
            Err(e) => return Err(e.into()),
        }
    }
    refer_form(&st, &ctx, c, &to, form.get("note"), &errors).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn muni(code6: &str, name: &str) -> Municipality {
        Municipality {
            code6: code6.into(),
            code5: code6.get(..5).unwrap_or_default().into(),
            prefecture_code: "03".into(),
            kind: "municipality".into(),
            name: name.into(),
            kana: String::new(),
            parent_code6: None,
            retired_on: None,
            note: String::new(),
            area_name: None,
        }
    }

    fn care(code: &str) -> CareType {
        CareType {
            code: code.into(),
            number: "1".into(),
            name: code.into(),
            base_score: 1,
            supervision_scores: String::new(),
            power_dependent: false,
            unconfirmed: false,
            sort_order: 1,
            retired: false,
        }
    }

    fn typed() -> Typed {
        Typed {
            received_at: "2026-11-24 13:20".into(),
            channel: "phone".into(),
            requester_type: "family".into(),
            requester_name: "岩手 花子".into(),
            municipality: "032018".into(),
            age_band: "3-5".into(),
            care_types: vec!["ventilator".into()],
            topics: vec!["welfare".into(), "medical".into()],
            question: "短期入所先を探しています".into(),
            status: "in_progress".into(),
            ..Typed::default()
        }
    }

    #[test]
    fn a_complete_intake_becomes_an_input() {
        let munis = [muni("032018", "盛岡市")];
        let cares = [care("ventilator")];
        let lists = Lists {
            munis: &munis,
            cares: &cares,
            staff: &[],
            current: None,
        };
        let input = validate(&typed(), datetime!(2026-11-24 06:00 UTC), &lists).expect("valid");
        assert_eq!(input.received_at, "2026-11-24T04:20:00.000000Z");
        assert_eq!(input.topics, ["medical", "welfare"]);
        assert_eq!(input.child_municipality_code6.as_deref(), Some("032018"));
        assert_eq!(input.follow_up_on, None);
    }

    #[test]
    fn bad_intake_gets_a_message_per_field() {
        let munis = [muni("032018", "盛岡市")];
        let cares = [care("ventilator")];
        let lists = Lists {
            munis: &munis,
            cares: &cares,
            staff: &[],
            current: None,
        };
        let t = Typed {
            received_at: "昨日".into(),
            channel: "fax".into(),
            requester_type: String::new(),
            municipality: "999999".into(),
            care_types: vec!["telepathy".into()],
            topics: vec![],
            question: " ".into(),
            follow_up_on: "12/1".into(),
            minutes_spent: "たくさん".into(),
            handled_by: "nobody".into(),
            status: "awaiting_follow_up".into(),
            ..Typed::default()
        };
        let errors = validate(&t, datetime!(2026-11-24 06:00 UTC), &lists).expect_err("invalid");
        for f in [
            "received_at",
            "channel",
            "requester_type",
            "child_municipality",
            "care_types",
            "topics",
            "question",
            "follow_up_on",
            "minutes_spent",
            "handled_by",
        ] {
            assert!(errors.get(f).is_some(), "{f}");
        }
    }

    #[test]
    fn awaiting_follow_up_without_a_date_is_refused() {
        let munis = [muni("032018", "盛岡市")];
        let lists = Lists {
            munis: &munis,
            cares: &[],
            staff: &[],
            current: None,
        };
        let t = Typed {
            care_types: vec![],
            status: "awaiting_follow_up".into(),
            ..typed()
        };
        let errors = validate(&t, datetime!(2026-11-24 06:00 UTC), &lists).expect_err("invalid");
        assert!(errors.get("follow_up_on").is_some());
    }

    #[test]
    fn municipal_offices_come_first_in_the_referral_choices() {
        let org = |id: &str, kind: &str, name: &str| Organisation {
            id: id.into(),
            kind: kind.into(),
            name: name.into(),
            municipality_code6: None,
            municipality_name: None,
            address: String::new(),
            phone: String::new(),
            email: String::new(),
            retired_at: None,
        };
        let mut retired = org("x", "municipal_office", "廃止町役場");
        retired.retired_at = Some("2020-01-01T00:00:00.000000Z".into());
        let all = [
            org("h", "hospital", "岩手医科大学附属病院"),
            org("m", "municipal_office", "盛岡市役所"),
            retired,
        ];
        let groups = org_groups(&all, "m");
        assert_eq!(groups[0].label, "市町村");
        assert_eq!(groups[0].orgs.len(), 1);
        assert!(groups[0].orgs[0].selected);
        assert_eq!(groups[1].label, "医療機関");
    }

    #[test]
    fn instants_are_shown_in_japan_time_and_wareki() {
        assert_eq!(
            instant_label("2026-11-24T04:20:00.000000Z"),
            "令和8年11月24日 13:20"
        );
        assert_eq!(
            instant_iso_date("2026-11-23T15:00:00.000000Z"),
            "2026-11-24"
        );
        assert_eq!(date_label("2026-12-01"), "令和8年12月1日");
    }
}

//! The public consultation request form (相談の申込み), open without signing in. A request
//! arrives in the coordinators' list as a consultation in state 受付; the sender sees only its
//! receipt number.
//!
//! Robots are kept out by a hidden field people never fill (a request that fills it is
//! discarded, with a neutral answer) and by a limit per client address counted from the audit
//! log. Nothing the sender typed is lost when the form comes back with a message.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use time::Duration;
use tsunagu_domain::policy::Action;
use tsunagu_domain::validation::{FieldErrors, required_text};
use tsunagu_store::clock;
use tsunagu_store::consultations::{self as store, PublicRequest};
use tsunagu_store::geo::{self, Municipality};

use super::render_status;
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/consult", Action::Public, form_page)
        .post("/consult", Action::Public, submit)
}

/// Requests one client address may send per window.
pub const MAX_REQUESTS_PER_WINDOW: i64 = 5;
const WINDOW_MINUTES: i64 = 60;

/// The hidden field only robots fill.
const HONEYPOT: &str = "website";

#[derive(Template)]
#[template(path = "public/consult.html")]
struct FormPage {
    layout: Layout,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
    limited: Option<String>,
    honeypot: &'static str,
}

#[derive(Template)]
#[template(path = "public/receipt.html")]
struct ReceiptPage {
    layout: Layout,
    receipt_no: Option<String>,
}

#[derive(Default)]
struct Typed {
    name: String,
    contact: String,
    municipality: String,
    question: String,
}

fn fields(t: &Typed, munis: &[Municipality], e: &FieldErrors) -> Vec<Field> {
    let mut choices = vec![Choice::new(
        "",
        "わからない・県外・答えたくない",
        t.municipality.is_empty(),
    )];
    choices.extend(
        munis
            .iter()
            .map(|m| Choice::new(&m.code6, &m.name, m.code6 == t.municipality)),
    );
    vec![
        Field::new("name", "お名前", "text")
            .value(&t.name)
            .required()
            .autocomplete("name")
            .errors(e),
        Field::new("contact", "ご連絡先（電話番号またはメールアドレス）", "text")
            .value(&t.contact)
            .required()
            .hint("支援センターから折り返しご連絡するために使います。連絡してよい時間帯があれば書き添えてください。")
            .errors(e),
        Field::new("municipality", "お住まいの市町村", "select")
            .choices(choices)
            .errors(e),
        Field::new("question", "ご相談の内容", "textarea")
            .value(&t.question)
            .required()
            .hint("お子さんの年齢や、必要な医療的ケア、困っていることなどをお書きください（4000文字以内）。")
            .errors(e),
    ]
}

fn show_form(
    st: &AppState,
    ctx: &Ctx,
    typed: &Typed,
    munis: &[Municipality],
    errors: &FieldErrors,
    limited: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    render_status(
        status,
        &FormPage {
            layout: Layout::new(st, ctx, "相談の申込み"),
            fields: fields(typed, munis, errors),
            errors: summary(errors),
            limited,
            honeypot: HONEYPOT,
        },
    )
}

async fn form_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    show_form(
        &st,
        &ctx,
        &Typed::default(),
        &munis,
        &FieldErrors::new(),
        None,
        StatusCode::OK,
    )
}

fn validate(t: &Typed, munis: &[Municipality]) -> Result<PublicRequest, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = required_text(&mut e, "name", "お名前", &t.name, 100);
    let contact = required_text(&mut e, "contact", "ご連絡先", &t.contact, 200);
    let municipality = t.municipality.trim();
    let municipality_code6 = if municipality.is_empty() {
        None
    } else if munis.iter().any(|m| m.code6 == municipality) {
        Some(municipality.to_string())
    } else {
        e.add("municipality", "市町村を一覧から選んでください");
        None
    };
    let question = required_text(&mut e, "question", "ご相談の内容", &t.question, 4000);
    e.into_result()?;
    Ok(PublicRequest {
        name,
        contact,
        municipality_code6,
        question,
    })
}

async fn submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let munis = geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?;
    let typed = Typed {
        name: form.get("name").to_string(),
        contact: form.get("contact").to_string(),
        municipality: form.get("municipality").to_string(),
        question: form.get("question").to_string(),
    };
    let checked = validate(&typed, &munis);
    let since = clock::format(clock::now() - Duration::minutes(WINDOW_MINUTES));
    let mut tx = st.db.begin().await?;
    if store::public_requests_since(&mut tx, &ctx.client_ip, &since).await?
        >= MAX_REQUESTS_PER_WINDOW
    {
        drop(tx);
        return show_form(
            &st,
            &ctx,
            &typed,
            &munis,
            &FieldErrors::new(),
            Some(
                "この端末からの申込みが続いたため、しばらく受け付けられません。1時間ほど待ってから、もう一度送信してください。お急ぎの場合は、支援センターへお電話ください。"
                    .to_string(),
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    if !form.get(HONEYPOT).trim().is_empty() {
        store::record_discarded_public_request(&mut tx, &ctx.audit()).await?;
        tx.commit().await?;
        return render_status(
            StatusCode::OK,
            &ReceiptPage {
                layout: Layout::new(&st, &ctx, "相談の申込み"),
                receipt_no: None,
            },
        );
    }
    let request = match checked {
        Ok(r) => r,
        Err(errors) => {
            drop(tx);
            return show_form(
                &st,
                &ctx,
                &typed,
                &munis,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let receipt_no = store::create_public_request(&mut tx, &ctx.audit(), &request).await?;
    tx.commit().await?;
    render_status(
        StatusCode::OK,
        &ReceiptPage {
            layout: Layout::new(&st, &ctx, "相談の申込み"),
            receipt_no: Some(receipt_no),
        },
    )
}

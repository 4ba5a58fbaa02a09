//! The pages, one module per capability, and the route table that declares each route's
//! action.

mod account;
mod api;
mod audit;
mod auth;
mod care_types;
mod consultation_stats;
mod consultations;
mod geo;
mod health;
mod home;
mod mail_outbox;
mod matrix;
mod orgs;
mod public_consult;
mod public_statistics;
mod referrals;
mod resource_transfer;
mod resources;
mod survey_definitions;
mod survey_results;
mod survey_transfer;
mod surveys;
mod users;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use tsunagu_domain::policy::Action;

use crate::AppState;
use crate::ctx::{Ctx, CtxSlot};
use crate::error::{AppError, ErrorInfo, Rendered, describe};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes() -> AppRouter {
    let r = AppRouter::default()
        .get(
            "/static/{*path}",
            Action::Public,
            crate::static_files::serve,
        )
        .get("/healthz", Action::Public, health::healthz)
        .get("/readyz", Action::Public, health::readyz);
    let r = auth::routes(r);
    let r = account::routes(r);
    let r = home::routes(r);
    let r = matrix::routes(r);
    let r = orgs::routes(r);
    let r = users::routes(r);
    let r = mail_outbox::routes(r);
    let r = geo::routes(r);
    let r = care_types::routes(r);
    let r = resources::routes(r);
    let r = resource_transfer::routes(r);
    let r = consultation_stats::routes(r);
    let r = consultations::routes(r);
    let r = referrals::routes(r);
    let r = public_consult::routes(r);
    let r = public_statistics::routes(r);
    let r = surveys::routes(r);
    let r = survey_definitions::routes(r);
    let r = survey_transfer::routes(r);
    let r = survey_results::routes(r);
    let r = audit::routes(r);
    api::routes(r)
}

/// Renders a page with status 200.
pub fn render<T: Template>(t: &T) -> Result<Response, AppError> {
    render_status(StatusCode::OK, t)
}

/// Renders a complete page with `status` (a form shown again with errors uses 422).
pub fn render_status<T: Template>(status: StatusCode, t: &T) -> Result<Response, AppError> {
    let html = t.render()?;
    let mut resp = (status, Html(html)).into_response();
    resp.extensions_mut().insert(Rendered);
    Ok(resp)
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: String,
    message: String,
    request_id: String,
}

/// Turns every error response that is not already a page into a Japanese error page, or into
/// `application/problem+json` under `/api/`.
pub async fn render_errors(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = CtxSlot::default();
    req.extensions_mut().insert(slot.clone());
    let is_api = req.uri().path().starts_with("/api/");
    let path = req.uri().path().to_string();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 || resp.extensions().get::<Rendered>().is_some() {
        return resp;
    }
    let info = resp.extensions().get::<ErrorInfo>().cloned();
    let (heading, default_message) = describe(status);
    let message = info
        .and_then(|i| i.message)
        .unwrap_or_else(|| default_message.to_string());
    let mut out = if is_api {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": heading,
            "status": status.as_u16(),
            "detail": message,
            "request_id": request_id,
        });
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    } else {
        let ctx = slot
            .0
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_else(|| Ctx {
                request_id: request_id.clone(),
                client_ip: String::new(),
                user_agent: String::new(),
                path,
                session: None,
                csrf_token: String::new(),
                flash: None,
            });
        let page = ErrorPage {
            layout: Layout::new(&st, &ctx, heading),
            status: status.as_u16(),
            heading: heading.to_string(),
            message,
            request_id,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, heading).into_response(),
        }
    };
    for (name, value) in resp.headers() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

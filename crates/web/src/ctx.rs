//! The request context: who is asking (session), from where, in which request; and the
//! middleware that establishes it, checks CSRF and asks the policy whether the route's action
//! is allowed before any handler runs.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, HOST, ORIGIN, SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use time::Duration;
use tsunagu_domain::policy::{Action, Actor, Target, can};
use tsunagu_store::accounts::{self, Session, Stage};
use tsunagu_store::audit::AuditCtx;
use tsunagu_store::clock;

use crate::AppState;
use crate::error::AppError;
use crate::forms::FormData;
use crate::layout::Flash;

/// What every handler knows about the request.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub request_id: String,
    pub client_ip: String,
    pub user_agent: String,
    pub path: String,
    pub session: Option<Arc<Session>>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
}

impl Ctx {
    /// The actor, when fully signed in (a session waiting for its second factor is not).
    pub fn actor(&self) -> Option<Actor> {
        self.session
            .as_ref()
            .filter(|s| s.stage == Stage::Active)
            .map(|s| s.actor())
    }

    pub fn fully_signed_in(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.stage == Stage::Active)
    }

    /// The actor, or an error when not signed in (routes already ensure one exists).
    pub fn require_actor(&self) -> Result<Actor, AppError> {
        self.actor().ok_or(AppError::Forbidden)
    }

    pub fn session(&self) -> Result<&Session, AppError> {
        self.session.as_deref().ok_or(AppError::Forbidden)
    }

    /// Asks the policy about a specific target; refuses with 404 so that a record one may not
    /// see is indistinguishable from one that does not exist.
    pub fn authorize(&self, action: Action, target: Target<'_>) -> Result<(), AppError> {
        if can(self.actor().as_ref(), action, target) {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub fn audit(&self) -> AuditCtx {
        let (user_id, login, org) = match &self.session {
            Some(s) => (
                Some(s.user.id.clone()),
                s.user.login_id.clone(),
                Some(s.user.organisation_id.clone()),
            ),
            None => (None, "anonymous".to_string(), None),
        };
        AuditCtx {
            actor_user_id: user_id,
            actor_login: login,
            actor_org_id: org,
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| AppError::Internal("request context missing".into()))
    }
}

/// Lets the error renderer, which runs outside this middleware, see the context.
#[derive(Clone, Default)]
pub struct CtxSlot(pub Arc<Mutex<Option<Ctx>>>);

pub fn cookie<'a>(req_cookies: &'a str, name: &str) -> Option<&'a str> {
    req_cookies.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

fn client_ip(req: &Request, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(xff) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(last) = xff.rsplit(',').next()
    {
        let ip = last.trim();
        if !ip.is_empty() {
            return ip.chars().take(64).collect();
        }
    }
    req.extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Paths a session that must first change its password may open.
const PASSWORD_GATE: &[&str] = &["/account/password", "/logout"];
/// Paths a session that must first enrol two-factor sign-in may open.
const TOTP_GATE: &[&str] = &["/account/totp", "/account/totp/enable", "/logout"];
/// Paths a session waiting for its second factor may open.
const SECOND_FACTOR_GATE: &[&str] = &["/login/totp", "/logout"];

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
}

fn cookie_attrs(st: &AppState) -> &'static str {
    if st.cfg.https {
        "; Path=/; HttpOnly; Secure"
    } else {
        "; Path=/; HttpOnly"
    }
}

/// A redirect that sets the flash message shown on the next page.
pub fn redirect_with_flash(st: &AppState, to: &str, kind: &str, message: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    let encoded: String = percent_encoding::utf8_percent_encode(
        &format!("{kind}:{message}"),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    set_cookie(
        &mut resp,
        format!(
            "tsunagu_flash={encoded}{}; SameSite=Lax; Max-Age=60",
            cookie_attrs(st)
        ),
    );
    resp
}

/// Sets the session cookie.
pub fn set_session_cookie(st: &AppState, resp: &mut Response, token: &str) {
    set_cookie(
        resp,
        format!(
            "{}={token}{}; SameSite=Lax",
            st.cfg.session_cookie(),
            cookie_attrs(st)
        ),
    );
}

pub fn clear_session_cookie(st: &AppState, resp: &mut Response) {
    set_cookie(
        resp,
        format!(
            "{}={}; SameSite=Lax; Max-Age=0",
            st.cfg.session_cookie(),
            cookie_attrs(st)
        ),
    );
}

fn parse_flash(raw: &str) -> Option<Flash> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    let (kind, message) = decoded.split_once(':')?;
    let kind = match kind {
        "success" | "error" | "info" | "warning" => kind,
        _ => return None,
    };
    Some(Flash {
        kind: kind.to_string(),
        message: message.chars().take(500).collect(),
    })
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cross-site request, judged from the headers browsers send: Sec-Fetch-Site, else Origin.
fn cross_site(req: &Request) -> bool {
    if let Some(site) = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    if let Some(origin) = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = req
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
        return origin == "null" || origin_host != host;
    }
    false
}

/// `405 Method Not Allowed` with the `Allow` header listing `methods`.
fn method_not_allowed(methods: &[axum::http::Method]) -> Response {
    let allow = methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut resp = StatusCode::METHOD_NOT_ALLOWED.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(axum::http::header::ALLOW, v);
    }
    resp
}

/// Establishes the context and enforces sessions, CSRF and the route's declared action.
pub async fn context(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match context_inner(st, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn context_inner(st: AppState, mut req: Request, next: Next) -> Result<Response, AppError> {
    let path = req.uri().path().to_string();
    if path.starts_with("/static/") {
        // Embedded assets: no session needed, and none loaded.
        return Ok(next.run(req).await);
    }
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let action = match &matched {
        Some(m) => match st.registry.action(req.method(), m) {
            Some(a) => Some(a),
            // The path exists but not with this method: 405 with the methods it has, before
            // any session is loaded or handler runs.
            None => return Ok(method_not_allowed(&st.registry.methods(m))),
        },
        // No route matched: the 404 page, which anybody may see.
        None => None,
    };
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let client_ip = client_ip(&req, st.cfg.trust_proxy);
    let user_agent = req
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let cookies = req
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");

    let now = clock::now();
    let mut session = None;
    let mut session_ended = false;
    // Why a presented session is gone: it timed out, or it was ended elsewhere (sign-out on
    // another device, an administrator's action).
    let mut timed_out = false;
    if let Some(token) = cookie(&cookies, st.cfg.session_cookie()) {
        match accounts::load_session(&st.db, token).await? {
            Some(s) => {
                let idle_limit = Duration::minutes(st.cfg.session_idle_minutes);
                let last_seen = clock::parse(&s.last_seen_at).unwrap_or(now);
                let expires = clock::parse(&s.expires_at).unwrap_or(now);
                let created = clock::parse(&s.created_at).unwrap_or(now);
                let stale = now - last_seen > idle_limit
                    || now >= expires
                    || (s.stage == Stage::SecondFactor && now - created > Duration::minutes(5));
                if stale {
                    let mut tx = st.db.begin().await?;
                    accounts::end_session(&mut tx, &s.id_hash).await?;
                    tsunagu_store::audit::append(
                        &mut tx,
                        &AuditCtx {
                            actor_user_id: Some(s.user.id.clone()),
                            actor_login: s.user.login_id.clone(),
                            actor_org_id: Some(s.user.organisation_id.clone()),
                            client_ip: client_ip.clone(),
                            request_id: request_id.clone(),
                        },
                        tsunagu_store::audit::Event::new(
                            "auth.session_expired",
                            "user",
                            &s.user.id,
                        ),
                    )
                    .await?;
                    tx.commit().await?;
                    session_ended = true;
                    timed_out = true;
                } else {
                    if now - last_seen > Duration::seconds(60) {
                        accounts::touch_session(&st.db, &s.id_hash).await?;
                    }
                    session = Some(Arc::new(s));
                }
            }
            None => session_ended = true,
        }
    }

    let anon_csrf = cookie(&cookies, st.cfg.csrf_cookie())
        .filter(|t| t.len() >= 32)
        .map(str::to_string);
    let mut new_anon_csrf = None;
    let csrf_token = match (&session, &anon_csrf) {
        (Some(s), _) => s.csrf_token.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => {
            let t = tsunagu_store::random_token()?;
            new_anon_csrf = Some(t.clone());
            t
        }
    };
    let flash = cookie(&cookies, "tsunagu_flash").and_then(parse_flash);
    let had_flash = cookie(&cookies, "tsunagu_flash").is_some();

    let ctx = Ctx {
        request_id,
        client_ip,
        user_agent,
        path: path.clone(),
        session: session.clone(),
        csrf_token: csrf_token.clone(),
        flash,
    };
    if let Some(slot) = req.extensions().get::<CtxSlot>()
        && let Ok(mut guard) = slot.0.lock()
    {
        *guard = Some(ctx.clone());
    }

    let is_api = path.starts_with("/api/");
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);

    // CSRF: same-site only, and the synchronizer token of the session (or, before sign-in,
    // of the double-submit cookie) in a header or the form body.
    if unsafe_method {
        if cross_site(&req) {
            return Err(AppError::Csrf);
        }
        let header_token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let expected = match (&session, &anon_csrf) {
            (Some(s), _) => Some(s.csrf_token.clone()),
            (None, t) => t.clone(),
        };
        let supplied = match header_token {
            Some(t) => Some(t),
            None => {
                let is_form = req
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
                if is_form {
                    let (parts, body) = req.into_parts();
                    let bytes = axum::body::to_bytes(body, st.cfg.max_body_bytes)
                        .await
                        .map_err(|_| AppError::TooLarge)?;
                    let token = FormData::parse(&bytes).get("csrf_token").to_string();
                    req = Request::from_parts(parts, Body::from(bytes));
                    Some(token)
                } else {
                    req.uri()
                        .query()
                        .map(FormData::parse_str)
                        .map(|q| q.get("csrf_token").to_string())
                }
            }
        };
        match (expected, supplied) {
            (Some(e), Some(s)) if !e.is_empty() && constant_time_eq(&e, &s) => {}
            _ => return Err(AppError::Csrf),
        }
    }

    // Sessions part-way through sign-in may only finish it.
    if let Some(s) = &session {
        let gate: Option<(&[&str], &str)> = if s.stage == Stage::SecondFactor {
            Some((SECOND_FACTOR_GATE, "/login/totp"))
        } else if s.user.must_change_password {
            Some((PASSWORD_GATE, "/account/password"))
        } else if st.cfg.requires_2fa(&s.user.roles) && !s.user.totp_enabled {
            Some((TOTP_GATE, "/account/totp"))
        } else {
            None
        };
        if let Some((allowed, home)) = gate
            && action != Some(Action::Public)
            && !allowed.contains(&path.as_str())
            && !path.starts_with("/static/")
        {
            return Ok(Redirect::to(home).into_response());
        }
    }

    if let Some(action) = action
        && action != Action::Public
    {
        let actor = ctx.actor();
        if actor.is_none() && !gate_allows(&session, &path) {
            if is_api {
                return Err(AppError::Unauthenticated);
            }
            let mut resp = if req.method() == Method::GET {
                let next_q: String = percent_encoding::utf8_percent_encode(
                    req.uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/"),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                let reason = match (session_ended, timed_out) {
                    (true, true) => "&expired=1",
                    (true, false) => "&ended=1",
                    _ => "",
                };
                Redirect::to(&format!("/login?next={next_q}{reason}")).into_response()
            } else {
                Redirect::to("/login").into_response()
            };
            if session_ended {
                clear_session_cookie(&st, &mut resp);
            }
            return Ok(resp);
        }
        if actor.is_some() && !can(actor.as_ref(), action, Target::Any) {
            return Err(AppError::Forbidden);
        }
    }

    req.extensions_mut().insert(ctx);
    let mut resp = next.run(req).await;
    if let Some(t) = new_anon_csrf {
        set_cookie(
            &mut resp,
            format!(
                "{}={t}{}; SameSite=Strict",
                st.cfg.csrf_cookie(),
                cookie_attrs(&st)
            ),
        );
    }
    if had_flash
        && !resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.starts_with("tsunagu_flash=")))
        && resp.status() != StatusCode::SEE_OTHER
    {
        set_cookie(
            &mut resp,
            format!(
                "tsunagu_flash={}; SameSite=Lax; Max-Age=0",
                cookie_attrs(&st)
            ),
        );
    }
    if session_ended && session.is_none() {
        clear_session_cookie(&st, &mut resp);
    }
    Ok(resp)
}

/// A session in a gate (second factor, password change, enrolment) may use the gate's pages
/// even though its actor is not yet fully signed in.
fn gate_allows(session: &Option<Arc<Session>>, path: &str) -> bool {
    match session {
        Some(s) if s.stage == Stage::SecondFactor => SECOND_FACTOR_GATE.contains(&path),
        _ => false,
    }
}

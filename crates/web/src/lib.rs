//! Tsunagu's web application: Japanese HTML pages, a small JSON API, and the middleware that
//! makes every request pass through one authorization policy.

pub mod charts;
pub mod config;
mod csv_export;
pub mod ctx;
pub mod error;
pub mod forms;
pub mod layout;
pub mod mail;
mod pages;
pub mod routes;
mod security;
mod static_files;
pub mod xlsx;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request, StatusCode};
use axum::middleware::from_fn_with_state;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tsunagu_store::Db;
use tsunagu_store::matrix::Matrix;

pub use config::WebConfig;
pub use routes::{Registry, RouteSpec};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub cfg: Arc<WebConfig>,
    pub registry: Arc<Registry>,
    /// Wakes the mail worker after a change put messages in the outbox.
    pub mail_wake: Arc<tokio::sync::Notify>,
    matrix_cache: Arc<tokio::sync::RwLock<Option<CachedMatrix>>>,
}

/// The role matrix and when it was read.
type CachedMatrix = (std::time::Instant, Arc<Matrix>);

/// How long a cached role matrix is trusted. Edits through this server replace it at once;
/// the limit only matters when several servers share one PostgreSQL database.
const MATRIX_CACHE_TTL: Duration = Duration::from_secs(30);

/// Responses smaller than this go out uncompressed: they fit in a packet or two either way.
const COMPRESS_MIN_BYTES: u16 = 1024;

impl AppState {
    /// The role matrix, shown on many pages and changed rarely: kept in memory.
    pub async fn matrix(&self) -> Result<Arc<Matrix>, error::AppError> {
        if let Some((at, m)) = self.matrix_cache.read().await.as_ref()
            && at.elapsed() < MATRIX_CACHE_TTL
        {
            return Ok(m.clone());
        }
        let fresh = Arc::new(tsunagu_store::matrix::load(&self.db).await?);
        *self.matrix_cache.write().await = Some((std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// Forgets the cached matrix after a change.
    pub async fn matrix_changed(&self) {
        *self.matrix_cache.write().await = None;
    }
}

#[derive(Clone, Copy)]
struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().to_string();
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// The whole application with its middleware, and the route registry (for tests and docs).
/// With a mail relay configured it also starts the mail worker (on the current Tokio runtime),
/// which sends what the outbox holds, that of earlier runs included.
pub fn app(db: Db, cfg: WebConfig) -> (Router, Arc<Registry>) {
    let (router, registry) = pages::routes().finish();
    let registry = Arc::new(registry);
    let timeout = Duration::from_secs(cfg.request_timeout_secs.max(1));
    let max_body = cfg.max_body_bytes;
    let mail_wake = Arc::new(tokio::sync::Notify::new());
    match mail::Mailer::from_config(&cfg) {
        Ok(Some(mailer)) => {
            tokio::spawn(mail::worker(db.clone(), mailer, mail_wake.clone()));
        }
        Ok(None) => {}
        // The settings are checked at start; this only logs what slipped past.
        Err(e) => tracing::error!(error = %e, "mail relay not usable: e-mail stays in the outbox"),
    }
    let state = AppState {
        db,
        cfg: Arc::new(cfg),
        registry: registry.clone(),
        mail_wake,
        matrix_cache: Arc::default(),
    };
    let request_id = HeaderName::from_static("x-request-id");
    let router = router
        .fallback(pages::not_found)
        .layer(from_fn_with_state(state.clone(), ctx::context))
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(from_fn_with_state(state.clone(), pages::render_errors))
        .layer(from_fn_with_state(state.clone(), security::headers))
        // gzip at its fastest level: compressing the home page takes about a third of the CPU
        // of the default level, for 3.5 KB instead of 2.8 KB; on a local network the CPU matters.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_MIN_BYTES))),
        )
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<axum::body::Body>| {
                // The path only: query strings may carry personal data.
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state);
    (router, registry)
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

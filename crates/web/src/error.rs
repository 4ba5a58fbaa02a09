//! Errors of the web layer. A handler returns `AppError`; the error renderer turns it into a
//! Japanese page (HTML) or `application/problem+json` (under `/api/`), with the request id and
//! without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tsunagu_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("csrf")]
    Csrf,
    #[error("too large")]
    TooLarge,
    #[error("too many requests")]
    TooMany(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("internal: {0}")]
    Internal(String),
    /// The store failed (the database, a file); the cause is kept and logged with its chain.
    #[error("store")]
    Store(#[source] StoreError),
    #[error("template")]
    Template(#[from] askama::Error),
}

/// `e` and every cause under it, joined by `: `, for one log line (a cause whose words its
/// error already says is not said twice).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_keeps_every_cause_once() {
        let io = std::io::Error::other("disk full");
        let e = AppError::Store(StoreError::Db(sqlx::Error::Io(io)));
        let line = chain(&e);
        assert!(line.starts_with("store: database error: "), "{line}");
        assert!(line.contains("disk full"), "{line}");
        assert_eq!(line.matches("disk full").count(), 1, "{line}");
    }
}

/// What the renderer needs to know about an error response. Responses without it whose status
/// is 400 or more (a timeout, a body too large, a panic) are rendered from their status alone.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub message: Option<String>,
}

/// Marks a response that is already a complete page (a form shown again with its errors).
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(m) => AppError::BadRequest(m),
            // PostgreSQL refuses NUL in text (22021). Forms refuse it next to the field first;
            // this catches a search term or a parameter that no form checks.
            StoreError::Db(sqlx_error) if is_character_not_in_repertoire(&sqlx_error) => {
                AppError::BadRequest(
                    "使えない文字（制御文字）が含まれています。入力した文字を確認してください"
                        .into(),
                )
            }
            other => AppError::Store(other),
        }
    }
}

fn is_character_not_in_repertoire(e: &tsunagu_store::SqlxError) -> bool {
    matches!(e, tsunagu_store::SqlxError::Database(d) if d.code().as_deref() == Some("22021"))
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Internal(_) | AppError::Store(_) | AppError::Template(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            // Logged once, here, inside the request's span (which carries its id).
            AppError::Internal(_) | AppError::Store(_) | AppError::Template(_) => {
                tracing::error!(error = %chain(&self), "internal error");
                None
            }
            AppError::Csrf => Some(
                "フォームの有効期限が切れたか、不正な送信の可能性があるため、処理を中止しました。ページを開き直してから、もう一度お試しください。".to_string(),
            ),
            AppError::BadRequest(m) | AppError::TooMany(m) | AppError::Conflict(m) => {
                Some(m.clone())
            }
            _ => None,
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(ErrorInfo { message });
        resp
    }
}

/// Heading and message for an error status, in Japanese.
pub fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "リクエストの内容に誤りがあります",
            "入力内容を確認して、もう一度お試しください。",
        ),
        401 => (
            "ログインが必要です",
            "ログインしてから、もう一度お試しください。",
        ),
        403 => (
            "このページを表示する権限がありません",
            "必要な場合は、システム管理者に権限の付与を依頼してください。",
        ),
        404 => (
            "ページが見つかりません",
            "URLが正しいか確認してください。削除されたか、閲覧できない情報の可能性があります。",
        ),
        405 => (
            "この操作はできません",
            "画面のボタンやリンクから操作してください。",
        ),
        408 | 504 => (
            "処理に時間がかかりすぎています",
            "しばらくしてから、もう一度お試しください。",
        ),
        409 => ("他の情報と重複しています", "入力内容を確認してください。"),
        413 => (
            "送信されたデータが大きすぎます",
            "ファイルを分けるなど、小さくしてから送信してください。",
        ),
        422 => (
            "入力内容に誤りがあります",
            "入力内容を確認して、もう一度お試しください。",
        ),
        429 => (
            "操作の回数が多すぎます",
            "しばらく時間をおいてから、もう一度お試しください。",
        ),
        _ => (
            "システムでエラーが発生しました",
            "ご不便をおかけしています。しばらくしてからもう一度お試しください。続く場合はシステム管理者に連絡してください。",
        ),
    }
}

//! Tsunagu storage: one schema on embedded SQLite and on PostgreSQL, one repository module per
//! capability, and the audit chain.
//!
//! The same SQL runs on both backends through sqlx's `Any` driver: `$1` placeholders (SQLite
//! accepts them too), TEXT for ids and instants (UTC, fixed-width ISO 8601 so that text order is
//! time order), BIGINT for numbers and flags. Backend-specific SQL lives behind `match backend`.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod care_types;
pub mod consultation_stats;
pub mod consultations;
pub mod demo;
pub mod demo_consultations;
pub mod demo_resources;
mod demo_rng;
pub mod demo_surveys;
pub mod geo;
pub mod matrix;
pub mod migrate;
pub mod orgs;
pub mod outbox;
pub mod reference;
pub mod resource_transfer;
pub mod resources;
pub mod search_index;
pub mod sql;
pub mod survey_definitions;
pub mod survey_results;
pub mod surveys;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx::Error as SqlxError;
pub use sqlx::Row;

/// Which database the deployment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule was broken; the message is for the user, in Japanese.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Turns a unique-constraint violation into a conflict with `message`; other errors pass.
    pub fn unique_as(self, message: &str) -> StoreError {
        match &self {
            StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                StoreError::Conflict(message.to_string())
            }
            _ => self,
        }
    }
}

/// The database: a connection pool, which backend it is, and (on SQLite) the one-writer lock.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer; taking this lock before BEGIN keeps two write transactions
    /// from both reading and then failing to upgrade. PostgreSQL serialises in the database.
    write_lock: Arc<Mutex<()>>,
    url: String,
    /// The keys that sign audit entries; without them nothing can be written.
    audit_keys: Option<Arc<audit::AuditKeys>>,
}

/// Settings for opening the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    pub max_connections: u32,
}

impl Db {
    /// Opens the database at `url` (`sqlite://path` or `postgres://…`).
    pub async fn connect(opts: &DbOptions) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let url = normalise_url(&opts.url)?;
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(
                "TSUNAGU_DATABASE_URL は sqlite:// または postgres:// で始めてください".into(),
            ));
        };
        let connect_opts = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        // A read-only file (checking a backup) cannot switch its journal mode.
        let read_only = url.contains("mode=ro");
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        let pragmas: &[&str] = if read_only {
                            &["PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 10000"]
                        } else {
                            &[
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = FULL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 10000",
                            ]
                        };
                        for pragma in pragmas {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect_opts)
            .await?;
        Ok(Db {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            url,
            audit_keys: None,
        })
    }

    /// The database with the keys its audit entries are signed and checked with.
    pub fn with_audit_keys(mut self, keys: audit::AuditKeys) -> Db {
        self.audit_keys = Some(Arc::new(keys));
        self
    }

    /// The audit keys; an error when none were given, so that no entry is ever written
    /// unsigned.
    pub fn audit_keys(&self) -> Result<&audit::AuditKeys> {
        self.audit_keys.as_deref().ok_or_else(no_audit_keys)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The database URL with any password removed, for display.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The SQLite file path, when the backend is SQLite.
    pub fn sqlite_path(&self) -> Option<String> {
        match self.backend {
            Backend::Sqlite => Some(sqlite_path_of(&self.url)),
            Backend::Postgres => None,
        }
    }

    /// Starts a write transaction. Everything a request changes, and its audit entries, go into
    /// one of these and commit together.
    pub async fn begin(&self) -> Result<Tx> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        let inner = self.pool.begin().await?;
        Ok(Tx {
            inner,
            backend: self.backend,
            audit_keys: self.audit_keys.clone(),
            audited: false,
            _guard: guard,
        })
    }

    /// Answers whether the database can be reached (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A write transaction.
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    audit_keys: Option<Arc<audit::AuditKeys>>,
    /// Whether an audit entry was added: [`Tx::commit`] refuses otherwise.
    audited: bool,
    _guard: Option<OwnedMutexGuard<()>>,
}

/// What [`Tx::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The change and its audit entries are stored.
    Change,
    /// No audit entry was added, so nothing was stored.
    Nothing,
}

fn no_audit_keys() -> StoreError {
    StoreError::Other("the audit keys were not loaded: nothing can be written".into())
}

impl Tx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn audit_keys(&self) -> Result<&audit::AuditKeys> {
        self.audit_keys.as_deref().ok_or_else(no_audit_keys)
    }

    /// Records that the transaction holds an audit entry (done by `audit::append`).
    pub(crate) fn mark_audited(&mut self) {
        self.audited = true;
    }

    /// Commits the change and its audit entries. A transaction that added no audit entry is
    /// rolled back instead, whatever it wrote: no change without its entry. (A save that
    /// changed nothing, and so wrote no entry, loses nothing by that.)
    pub async fn commit(self) -> Result<Committed> {
        if !self.audited {
            self.inner.rollback().await?;
            tracing::debug!("transaction without an audit entry rolled back");
            return Ok(Committed::Nothing);
        }
        self.inner.commit().await?;
        Ok(Committed::Change)
    }

    /// Commits bookkeeping that is nobody's change to a record and so has no audit entry of
    /// its own: schema migrations, session timestamps, a mail lease. `why` says which, at the
    /// call site.
    pub async fn commit_bookkeeping(self, why: &'static str) -> Result<()> {
        tracing::trace!(why, "bookkeeping committed");
        self.inner.commit().await?;
        Ok(())
    }
}

/// Accepts `sqlite:path`, `sqlite://path` and bare paths ending in `.sqlite3`/`.db`; makes sure
/// SQLite creates the file when missing.
fn normalise_url(url: &str) -> Result<String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(StoreError::Invalid(
            "データベースのURLが設定されていません".into(),
        ));
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Ok(url.to_string());
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if !url.contains("://") {
        url
    } else {
        return Ok(url.to_string());
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, q.to_string()),
        None => (path, String::new()),
    };
    let query = if query.contains("mode=") {
        query
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

fn sqlite_path_of(url: &str) -> String {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest).to_string()
}

/// Removes the password from a database URL.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or("");
        if userinfo.contains(':') {
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

/// Opens one plain connection (for tools such as backup that work outside the pool).
pub async fn connect_one(url: &str) -> Result<AnyConnection> {
    sqlx::any::install_default_drivers();
    let url = normalise_url(url)?;
    Ok(AnyConnection::connect(&url).await?)
}

/// Time, stored as fixed-width UTC text.
pub mod clock {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;

    pub fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// `2026-11-24T04:20:19.123456Z`: same width always, so text order is time order.
    pub fn format(t: OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        t.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
    }

    pub fn now_text() -> String {
        format(now())
    }

    pub fn parse(s: &str) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(s, &Rfc3339).ok()
    }
}

/// A new external id: UUID v7, so ids sort by creation and reveal no count.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Other(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// A random token for URLs and cookies (base64url, no padding).
pub fn random_token() -> Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(base64url(&bytes))
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_normalised_to_create_the_file() {
        assert_eq!(
            normalise_url("sqlite://data/t.sqlite3").ok(),
            Some("sqlite://data/t.sqlite3?mode=rwc".into())
        );
        assert_eq!(
            normalise_url("t.sqlite3").ok(),
            Some("sqlite://t.sqlite3?mode=rwc".into())
        );
        assert_eq!(
            normalise_url("sqlite:x.db?mode=ro").ok(),
            Some("sqlite://x.db?mode=ro".into())
        );
        assert!(normalise_url("  ").is_err());
        assert_eq!(
            sqlite_path_of("sqlite:///tmp/a.sqlite3?mode=rwc"),
            "/tmp/a.sqlite3"
        );
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://tsunagu:s3cret@db:5432/tsunagu"),
            "postgres://tsunagu:***@db:5432/tsunagu"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn instants_have_fixed_width() {
        let t = time::macros::datetime!(2026-01-02 03:04:05.5 UTC);
        assert_eq!(clock::format(t), "2026-01-02T03:04:05.500000Z");
        assert_eq!(clock::parse("2026-01-02T03:04:05.500000Z"), Some(t));
    }

    #[test]
    fn tokens_are_long_and_url_safe() {
        let t = random_token().expect("random");
        assert_eq!(t.len(), 43);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
    }
}

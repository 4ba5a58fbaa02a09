//! Test harness: `spawn(backend)` gives a running app with the demo data loaded.

use std::net::SocketAddr;

use tsunagu_store::{Db, DbOptions};
use tsunagu_web::WebConfig;

pub const PASSWORD: &str = "tsunagu-demo-2026";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `body` once per backend available; PostgreSQL only when its URL is set.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::support::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::spawn($crate::support::Backend::Sqlite).await;
                run(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::support::postgres_available() {
                    return;
                }
                let app = $crate::support::spawn($crate::support::Backend::Postgres).await;
                run(app).await;
            }
        }
    };
}

/// Whether TSUNAGU_TEST_POSTGRES_URL is set. When it is not, says so once, straight to the
/// terminal: the test harness hides what passing tests print, so the PostgreSQL variants
/// would otherwise pass in silence.
pub fn postgres_available() -> bool {
    if std::env::var_os("TSUNAGU_TEST_POSTGRES_URL").is_some() {
        return true;
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "TSUNAGU_TEST_POSTGRES_URL is not set: the PostgreSQL variants of the HTTP tests are not run"
        );
    });
    false
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    pub backend: Backend,
    _dir: Option<TempDir>,
}

/// A folder removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn fresh_postgres() -> String {
    let base = std::env::var("TSUNAGU_TEST_POSTGRES_URL").expect("TSUNAGU_TEST_POSTGRES_URL");
    let name = format!("tsunagu_t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = tsunagu_store::connect_one(&base)
        .await
        .expect("connect to PostgreSQL");
    drop_stale_databases(&mut conn).await;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    let (_, query) = base
        .split_once('?')
        .map(|(a, q)| (a, format!("?{q}")))
        .unwrap_or((&base, String::new()));
    format!("{prefix}/{name}{query}")
}

/// Drops test databases left by earlier runs (older than an hour, judged by the UUID v7
/// timestamp in their name), so the server does not fill up. Ones still in use are skipped.
async fn drop_stale_databases(conn: &mut sqlx::AnyConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::TEXT FROM pg_database WHERE datname LIKE 'tsunagu_t_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    for name in names {
        let Some(ms) = name
            .strip_prefix("tsunagu_t_")
            .and_then(|hex| hex.get(..12))
            .and_then(|h| i64::from_str_radix(h, 16).ok())
        else {
            continue;
        };
        if now_ms - ms > 3_600_000 {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut *conn)
                .await;
        }
    }
}

pub fn test_config() -> WebConfig {
    WebConfig {
        demo_mode: false,
        // Most tests sign in with a password only; 2FA enforcement has its own tests.
        require_2fa_roles: Vec::new(),
        ..WebConfig::default()
    }
}

pub async fn spawn(backend: Backend) -> TestApp {
    spawn_with(backend, test_config()).await
}

pub async fn spawn_with(backend: Backend, cfg: WebConfig) -> TestApp {
    let (url, dir) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("tsunagu-test-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            (
                format!("sqlite://{}", dir.join("t.sqlite3").display()),
                Some(TempDir(dir)),
            )
        }
        Backend::Postgres => (fresh_postgres().await, None),
    };
    let db = Db::connect(&DbOptions {
        url,
        max_connections: 5,
    })
    .await
    .expect("open database")
    .with_audit_keys(tsunagu_store::audit::AuditKeys::ephemeral().expect("audit keys"));
    tsunagu_store::migrate::run(&db).await.expect("migrate");
    tsunagu_store::reference::seed_if_empty(&db, "03")
        .await
        .expect("reference data");
    tsunagu_store::demo::load(&db, "03", PASSWORD)
        .await
        .expect("demo data");
    let (router, _) = tsunagu_web::app(db.clone(), cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tsunagu_web::serve(listener, router, std::future::pending()));
    TestApp {
        addr,
        db,
        backend,
        _dir: dir,
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    pub fn assert_contains(&self, text: &str) {
        assert!(
            self.body.contains(text),
            "expected the page to contain {text:?}; status {}; body:\n{}",
            self.status,
            self.body
        );
    }
}

pub fn meta_csrf(body: &str) -> Option<String> {
    let marker = "name=\"csrf-token\" content=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

impl TestApp {
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: format!("http://{}", self.addr),
            csrf: String::new(),
        }
    }

    /// A client signed in as `login` with the demo password.
    pub async fn signed_in(&self, login: &str) -> Client {
        let mut c = self.client();
        let p = c.login(login, PASSWORD).await;
        assert_eq!(p.status, 303, "sign-in of {login} failed: {}", p.body);
        c.refresh_csrf().await;
        c
    }
}

impl Client {
    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.text().await.unwrap_or_default();
        Page {
            status,
            location,
            body,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let page = Self::page(resp).await;
        if let Some(t) = meta_csrf(&page.body).filter(|t| !t.is_empty()) {
            self.csrf = t;
        }
        page
    }

    /// Posts a form with the current CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf.clone();
        all.push(("csrf_token", &token));
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields` (no token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .expect("POST");
        Self::page(resp).await
    }

    pub async fn refresh_csrf(&mut self) {
        self.get("/account").await;
    }

    pub async fn login(&mut self, login: &str, password: &str) -> Page {
        self.get("/login").await;
        self.post("/login", &[("login_id", login), ("password", password)])
            .await
    }
}

/// Issues a round of the standard survey for 平成22年度 (a year the demo never uses) to 盛岡市
/// and 宮古市 as `coordinator`, open from yesterday for `due_in_days`, with `note` for the
/// municipalities; returns the round id.
pub async fn issue_survey_round(
    app: &TestApp,
    coordinator: &mut Client,
    note: &str,
    due_in_days: i64,
) -> String {
    let def = tsunagu_store::surveys::definitions(&app.db, "03")
        .await
        .expect("definitions")
        .into_iter()
        .find(|d| d.family == "standard")
        .expect("standard definition")
        .id;
    let today = time::OffsetDateTime::now_utc().date();
    let opens = (today - time::Duration::days(1)).to_string();
    let due = (today + time::Duration::days(due_in_days)).to_string();
    let p = coordinator
        .post(
            "/surveys/rounds",
            &[
                ("definition_id", &def),
                ("fiscal_year", "2010"),
                ("title", "平成22年度 試験調査"),
                ("as_of", "2010-04-01"),
                ("opens_on", &opens),
                ("due_on", &due),
                ("note", note),
                ("municipalities", "032018"),
                ("municipalities", "032026"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    p.location
        .strip_prefix("/surveys/rounds/")
        .expect("redirect to the board")
        .to_string()
}

/// Sends the round's reminder with its default message as `coordinator`; returns the round's
/// board as it shows after, with the outcome in its message.
pub async fn remind_round(coordinator: &mut Client, round: &str) -> Page {
    let p = coordinator
        .post(
            &format!("/surveys/rounds/{round}/remind"),
            &[("message", "")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    coordinator.get(&format!("/surveys/rounds/{round}")).await
}

/// The id of `code6`'s response to `round`.
pub async fn survey_response_id(app: &TestApp, round: &str, code6: &str) -> String {
    use tsunagu_store::Row;
    sqlx::query("SELECT id FROM survey_responses WHERE round_id = $1 AND municipality_code6 = $2")
        .bind(round)
        .bind(code6)
        .fetch_one(app.db.pool())
        .await
        .expect("response")
        .try_get("id")
        .expect("id")
}

/// The revision a survey response form was rendered at (its hidden `revision` field).
pub fn survey_revision(body: &str) -> String {
    let marker = "name=\"revision\" value=\"";
    let start = body.find(marker).expect("revision field") + marker.len();
    let end = body[start..].find('"').expect("end") + start;
    body[start..end].to_string()
}

/// `s` encoded for a URL's query.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The TOTP secret shown on the enrolment page.
pub fn secret_from(body: &str) -> Vec<u8> {
    let marker = "id=\"totp-secret\">";
    let start = body.find(marker).expect("secret shown") + marker.len();
    let end = body[start..].find('<').expect("end") + start;
    tsunagu_domain::totp::base32_decode(&body[start..end]).expect("base32")
}

/// The code an authenticator shows `offset_steps` steps of 30 s from now.
pub fn code_at(secret: &[u8], offset_steps: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    tsunagu_domain::totp::totp_code(secret, now + offset_steps * 30, 30, 6)
}

/// Enrols `c`'s account in two-factor sign-in; returns the secret.
pub async fn enrol_totp(c: &mut Client) -> Vec<u8> {
    let page = c.get("/account/totp").await;
    let secret = secret_from(&page.body);
    let enabled = c
        .post("/account/totp/enable", &[("code", &code_at(&secret, 0))])
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    secret
}

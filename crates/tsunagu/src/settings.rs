//! Settings: defaults, then `tsunagu.toml`, then `TSUNAGU_*` environment variables.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tsunagu_domain::roles::Role;
use tsunagu_web::WebConfig;

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `sqlite://tsunagu.sqlite3` (default) or `postgres://user:pass@host/db`.
    pub database_url: String,
    pub db_max_connections: u32,
    pub bind: String,
    pub center_name: String,
    pub prefecture_code: String,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// Role codes whose holders must use two-factor sign-in.
    pub require_2fa_roles: Vec<String>,
    pub https: bool,
    pub trust_proxy: bool,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub login_failures_per_ip: i64,
    /// Resources not verified for this many months are listed for review.
    pub resource_review_months: i64,
    /// Counts from 1 to this are suppressed on the public statistics page.
    pub suppression_threshold: u64,
    /// The mail relay: `smtp://host:port`, `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://user:pass@host:465`; empty sends no e-mail.
    pub smtp_url: String,
    /// The sender address of that e-mail.
    pub mail_from: String,
    /// Where users reach Tsunagu (links in e-mail start with it); required with a relay.
    pub public_base_url: String,
    /// The audit key file (監査ログの鍵), created at first start; relative to the settings
    /// file's folder (or the current folder).
    pub audit_key_file: String,
    /// The audit checkpoint file, appended to while the server runs; relative like the key.
    pub audit_checkpoint_file: String,
    /// `text` or `json`.
    pub log_format: String,
    pub log_level: String,
    pub demo_password: String,
    #[serde(skip)]
    pub demo_mode: bool,
    /// The folder relative file settings are read from: the settings file's, else the current.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        let web = WebConfig::default();
        Settings {
            database_url: "sqlite://tsunagu.sqlite3".into(),
            db_max_connections: 8,
            bind: "127.0.0.1:8080".into(),
            center_name: web.center_name,
            prefecture_code: web.prefecture_code,
            session_idle_minutes: web.session_idle_minutes,
            session_absolute_hours: web.session_absolute_hours,
            require_2fa_roles: web
                .require_2fa_roles
                .iter()
                .map(|r| r.code().to_string())
                .collect(),
            https: false,
            trust_proxy: false,
            max_body_bytes: web.max_body_bytes,
            request_timeout_secs: web.request_timeout_secs,
            login_failures_per_ip: web.login_failures_per_ip,
            resource_review_months: web.resource_review_months,
            suppression_threshold: web.suppression_threshold,
            smtp_url: web.smtp_url,
            mail_from: web.mail_from,
            public_base_url: web.public_base_url,
            audit_key_file: "tsunagu-audit.key".into(),
            audit_checkpoint_file: "tsunagu-audit.checkpoints".into(),
            log_format: "text".into(),
            log_level: "info".into(),
            demo_password: "tsunagu-demo-2026".into(),
            demo_mode: false,
            base_dir: PathBuf::from("."),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &tsunagu_store::redact_url(&self.database_url),
            )
            .field("db_max_connections", &self.db_max_connections)
            .field("bind", &self.bind)
            .field("center_name", &self.center_name)
            .field("prefecture_code", &self.prefecture_code)
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_absolute_hours", &self.session_absolute_hours)
            .field("require_2fa_roles", &self.require_2fa_roles)
            .field("https", &self.https)
            .field("trust_proxy", &self.trust_proxy)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("login_failures_per_ip", &self.login_failures_per_ip)
            .field("resource_review_months", &self.resource_review_months)
            .field("suppression_threshold", &self.suppression_threshold)
            .field("smtp_url", &tsunagu_store::redact_url(&self.smtp_url))
            .field("mail_from", &self.mail_from)
            .field("public_base_url", &self.public_base_url)
            .field("audit_key_file", &self.audit_key_path())
            .field("audit_checkpoint_file", &self.audit_checkpoint_path())
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("demo_password", &"***")
            .finish()
    }
}

impl Settings {
    pub fn load(file: Option<&Path>) -> Result<Settings, String> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(f) => {
                if !f.is_file() {
                    return Err(format!("{} が見つかりません", f.display()));
                }
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file("tsunagu.toml")),
        }
        let mut s: Settings = fig
            .merge(Env::prefixed("TSUNAGU_").split("__"))
            .extract()
            .map_err(|e| e.to_string())?;
        s.base_dir = file
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        for r in &s.require_2fa_roles {
            if Role::from_code(r).is_none() {
                return Err(format!("require_2fa_roles: 役割「{r}」はありません"));
            }
        }
        if tsunagu_domain::geo::parse_prefecture_code(&s.prefecture_code).is_err() {
            return Err(format!(
                "prefecture_code「{}」は都道府県コード（01〜47）ではありません",
                s.prefecture_code
            ));
        }
        if !s.smtp_url.trim().is_empty() {
            // A mistyped relay should stop the server at start, not surface at the first reminder.
            tsunagu_web::mail::check_relay_url(s.smtp_url.trim())
                .map_err(|e| format!("smtp_url: {e}"))?;
            if s.mail_from.trim().is_empty() {
                return Err(
                    "smtp_url を指定したときは mail_from（送信元のメールアドレス）も指定してください"
                        .into(),
                );
            }
            tsunagu_web::mail::check_address(s.mail_from.trim())
                .map_err(|e| format!("mail_from: {e}"))?;
            let base = s.public_base_url.trim();
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(
                    "smtp_url を指定したときは public_base_url（利用者が開く Tsunagu のアドレス、例: https://tsunagu.pref.example.lg.jp）も指定してください。メールの中のリンクに使います"
                        .into(),
                );
            }
        }
        Ok(s)
    }

    /// A file setting resolved against [`Settings::base_dir`].
    fn resolve(&self, file: &str) -> PathBuf {
        let p = Path::new(file);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn audit_key_path(&self) -> PathBuf {
        self.resolve(&self.audit_key_file)
    }

    pub fn audit_checkpoint_path(&self) -> PathBuf {
        self.resolve(&self.audit_checkpoint_file)
    }

    pub fn web_config(&self, prefecture_name: String) -> WebConfig {
        WebConfig {
            center_name: self.center_name.clone(),
            prefecture_code: self.prefecture_code.clone(),
            prefecture_name,
            session_idle_minutes: self.session_idle_minutes.max(1),
            session_absolute_hours: self.session_absolute_hours.max(1),
            require_2fa_roles: self
                .require_2fa_roles
                .iter()
                .filter_map(|r| Role::from_code(r))
                .collect(),
            demo_mode: self.demo_mode,
            https: self.https,
            trust_proxy: self.trust_proxy,
            max_body_bytes: self.max_body_bytes.max(64 * 1024),
            request_timeout_secs: self.request_timeout_secs,
            login_failures_per_ip: self.login_failures_per_ip.max(1),
            resource_review_months: self.resource_review_months.clamp(1, 120),
            // 0 would publish every small count; a threshold is never switched off.
            suppression_threshold: self.suppression_threshold.clamp(1, 999),
            smtp_url: self.smtp_url.trim().to_string(),
            mail_from: self.mail_from.trim().to_string(),
            public_base_url: self.public_base_url.trim().to_string(),
        }
    }
}

pub fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    if settings.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}

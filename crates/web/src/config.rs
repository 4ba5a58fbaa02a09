//! Settings the web layer needs. The binary fills them from defaults, `tsunagu.toml` and
//! `TSUNAGU_*` variables.

use tsunagu_domain::roles::Role;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The center's name, shown in the header (e.g. 岩手県医療的ケア児支援センター).
    pub center_name: String,
    /// The deployment's prefecture (2-digit code) and its name.
    pub prefecture_code: String,
    pub prefecture_name: String,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// A session ends this many hours after sign-in, whatever happens.
    pub session_absolute_hours: i64,
    /// Holders of these roles must use two-factor sign-in.
    pub require_2fa_roles: Vec<Role>,
    /// Demo mode: says so on every page.
    pub demo_mode: bool,
    /// Served over TLS (directly or behind a TLS-terminating proxy): secure cookies and HSTS.
    pub https: bool,
    /// Take the client address from the last `X-Forwarded-For` hop (only behind a proxy).
    pub trust_proxy: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// A request taking longer than this is answered with a timeout page.
    pub request_timeout_secs: u64,
    /// Failed sign-ins allowed from one client address per 15 minutes.
    pub login_failures_per_ip: i64,
    /// Resources not verified for this many months are listed for review (社会資源の確認).
    pub resource_review_months: i64,
    /// Counts from 1 to this are not printed on the public statistics page (小さな数の秘匿,
    /// shown as 「1〜9」).
    pub suppression_threshold: u64,
    /// The mail relay, e.g. `smtp://mail.example.lg.jp:25`, `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`; empty sends no e-mail.
    pub smtp_url: String,
    /// The sender address of that e-mail.
    pub mail_from: String,
    /// Where users reach Tsunagu, e.g. `https://tsunagu.pref.example.lg.jp`: links in e-mail
    /// start with it. Required with a mail relay.
    pub public_base_url: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            center_name: "岩手県医療的ケア児支援センター".into(),
            prefecture_code: "03".into(),
            prefecture_name: "岩手県".into(),
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            require_2fa_roles: Role::ALL
                .into_iter()
                .filter(|r| r.sees_personal_data())
                .collect(),
            demo_mode: false,
            https: false,
            trust_proxy: false,
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            login_failures_per_ip: 50,
            resource_review_months: 12,
            suppression_threshold: 9,
            smtp_url: String::new(),
            mail_from: String::new(),
            public_base_url: String::new(),
        }
    }
}

impl WebConfig {
    /// The absolute address of `path` (which starts with `/`) for a link in e-mail.
    pub fn public_url(&self, path: &str) -> String {
        format!("{}{path}", self.public_base_url.trim_end_matches('/'))
    }

    pub fn session_cookie(&self) -> &'static str {
        // The __Host- prefix requires Secure, which browsers only keep over TLS.
        if self.https {
            "__Host-tsunagu_session"
        } else {
            "tsunagu_session"
        }
    }

    pub fn csrf_cookie(&self) -> &'static str {
        if self.https {
            "__Host-tsunagu_csrf"
        } else {
            "tsunagu_csrf"
        }
    }

    pub fn requires_2fa(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.require_2fa_roles.contains(r))
    }
}

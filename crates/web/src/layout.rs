//! The page shell every template extends (`templates/base.html`).

use tsunagu_domain::policy::{Action, Target, can};

use crate::AppState;
use crate::ctx::Ctx;

pub struct Layout {
    pub title: String,
    pub center_name: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavItem>,
    pub csrf_token: String,
    pub demo_notice: Option<String>,
    pub flash: Option<Flash>,
}

pub struct UserBadge {
    pub display_name: String,
    pub org_name: String,
    pub role_labels: String,
}

pub struct NavItem {
    pub href: String,
    pub label: String,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

/// The main menu: each entry is shown to those the policy lets do its action.
const MENU: &[(&str, &str, Action)] = &[
    ("/", "ホーム", Action::ViewHome),
    ("/consultations", "相談記録", Action::ViewConsultations),
    (
        "/consultations/stats",
        "相談の統計",
        Action::ViewConsultationStats,
    ),
    ("/surveys", "状況把握調査", Action::ViewSurveys),
    ("/referrals", "受け付けた依頼", Action::HandleReferrals),
    ("/matrix", "役割分担", Action::ViewMatrix),
    ("/resources", "社会資源", Action::ViewResources),
    ("/windows", "相談窓口", Action::ViewResources),
    ("/orgs", "関係機関", Action::ViewOrganisations),
    ("/areas", "圏域・市町村", Action::ViewGeography),
    ("/care-types", "医療的ケアの種別", Action::ViewCareTypes),
    ("/admin/users", "利用者管理", Action::ManageUsers),
    ("/admin/audit", "監査ログ", Action::ViewAuditLog),
    ("/admin/mail", "メール送信", Action::ManageMail),
    ("/account", "アカウント設定", Action::ManageOwnAccount),
];

impl Layout {
    pub fn new(st: &AppState, ctx: &Ctx, title: impl Into<String>) -> Layout {
        let actor = ctx.actor();
        let full = ctx.fully_signed_in();
        let path = ctx.path.as_str();
        let nav = if full {
            let matches = |href: &str| {
                if href == "/" {
                    path == "/"
                } else {
                    path == href || path.starts_with(&format!("{href}/"))
                }
            };
            // The most specific entry is the current one (相談の統計 within 相談記録).
            let shown: Vec<_> = MENU
                .iter()
                .filter(|(_, _, action)| can(actor.as_ref(), *action, Target::Any))
                .collect();
            let current = shown
                .iter()
                .map(|(href, _, _)| *href)
                .filter(|href| matches(href))
                .max_by_key(|href| href.len());
            shown
                .into_iter()
                .map(|(href, label, _)| NavItem {
                    href: (*href).to_string(),
                    label: (*label).to_string(),
                    current: Some(*href) == current,
                })
                .collect()
        } else {
            Vec::new()
        };
        let user = ctx.session.as_ref().filter(|_| full).map(|s| UserBadge {
            display_name: s.user.display_name.clone(),
            org_name: s.user.organisation_name.clone(),
            role_labels: s.user.role_labels(),
        });
        Layout {
            title: title.into(),
            center_name: st.cfg.center_name.clone(),
            user,
            nav,
            csrf_token: ctx.csrf_token.clone(),
            demo_notice: st.cfg.demo_mode.then(|| {
                "デモ環境です。表示されている情報はすべて架空のものです。二要素認証の必須化を緩和しています。実際の個人情報を入力しないでください。".to_string()
            }),
            flash: ctx.flash.clone(),
        }
    }
}

//! The home page (ホーム): who you are, what your role lets you do, and the role matrix.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use tsunagu_domain::policy::{self, Action, Target, can};
use tsunagu_store::surveys;

use super::matrix::MatrixTable;
use super::render;
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/", Action::ViewHome, home)
}

/// A shortcut on the home page to something the user's role allows.
struct Shortcut {
    href: &'static str,
    title: &'static str,
    text: &'static str,
}

const SHORTCUTS: &[(&str, &str, &str, Action)] = &[
    (
        "/consultations/new",
        "相談を受け付ける",
        "電話や来所の相談を、その場で記録します。",
        Action::RecordConsultations,
    ),
    (
        "/consultations",
        "相談記録",
        "自分が対応中の相談、今日までのフォロー、受付のままの申込みを確認します。",
        Action::ViewConsultations,
    ),
    (
        "/referrals",
        "受け付けた依頼",
        "支援センターからつながれた相談を確認し、受付と対応結果を記録します。",
        Action::HandleReferrals,
    ),
    (
        "/surveys",
        "状況把握調査",
        "市町村の医療的ケア児の状況を調査します。発出、回答、確認・承認、集計と地図。",
        Action::ViewSurveys,
    ),
    (
        "/resources",
        "社会資源を探す",
        "対応できる医療的ケア、地域、空き状況で、事業所や窓口を探します。",
        Action::ViewResources,
    ),
    (
        "/windows",
        "市町村の相談窓口",
        "圏域ごとの市町村の相談窓口の一覧です。",
        Action::ViewResources,
    ),
    (
        "/matrix/edit",
        "役割分担を編集する",
        "支援センターの機能ごとに、主担当と連携・サポートの機関を設定します。",
        Action::EditMatrix,
    ),
    (
        "/orgs",
        "関係機関",
        "県、支援センター、研修実施機関、医療機関、市町村の連絡先です。",
        Action::ViewOrganisations,
    ),
    (
        "/areas",
        "圏域・市町村",
        "圏域と、それぞれに属する市町村の一覧です。",
        Action::ViewGeography,
    ),
    (
        "/admin/users",
        "利用者管理",
        "アカウントの作成、役割の変更、無効化、パスワードの再発行を行います。",
        Action::ManageUsers,
    ),
    (
        "/admin/audit",
        "監査ログ",
        "誰が、いつ、何を見て何を変えたかの記録です。CSVで出力できます。",
        Action::ViewAuditLog,
    ),
    (
        "/admin/mail",
        "メール送信",
        "督促などのメールの送信待ちと、送れなかったメールを確認し、送り直します。",
        Action::ManageMail,
    ),
    (
        "/account",
        "アカウント設定",
        "パスワードの変更と二要素認証の設定を行います。",
        Action::ManageOwnAccount,
    ),
];

#[derive(Template)]
#[template(path = "home/home.html")]
struct HomePage {
    layout: Layout,
    display_name: String,
    organisation: String,
    roles: String,
    totp_missing: bool,
    shortcuts: Vec<Shortcut>,
    matrix: MatrixTable,
    notices: Vec<NoticeView>,
}

/// An in-app notice (お知らせ) to the user's organisation, such as a survey reminder.
struct NoticeView {
    title: String,
    body: String,
    link: String,
    at: String,
}

async fn home(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let s = ctx.session()?;
    let shortcuts = SHORTCUTS
        .iter()
        .filter(|(_, _, _, a)| can(Some(&actor), *a, Target::Any))
        .map(|(href, title, text, _)| Shortcut { href, title, text })
        .collect();
    let matrix = MatrixTable::load(&st).await?;
    // Notices go to municipal offices; other home pages skip the query.
    let notices = if policy::is_for_own_municipality(&actor, Action::RespondToSurvey) {
        surveys::notices(&st.db, &actor.organisation_id, 5)
            .await?
            .into_iter()
            .map(|n| NoticeView {
                at: super::consultations::instant_label(&n.created_at),
                title: n.title,
                body: n.body,
                link: n.link,
            })
            .collect()
    } else {
        Vec::new()
    };
    render(&HomePage {
        notices,
        layout: Layout::new(&st, &ctx, "ホーム"),
        display_name: s.user.display_name.clone(),
        organisation: s.user.organisation_name.clone(),
        roles: s.user.role_labels(),
        totp_missing: !s.user.totp_enabled,
        shortcuts,
        matrix,
    })
}

//! The audit log (監査ログ) for system administrators: browse with filters, newest first, and
//! export as CSV. The export is itself recorded.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::{Date, PrimitiveDateTime, Time};
use tsunagu_domain::policy::Action;
use tsunagu_domain::validation::FieldErrors;
use tsunagu_domain::wareki::{JST, format_jst_datetime, parse_date_ja, today_jst};
use tsunagu_store::audit::{self, Entry, Event};
use tsunagu_store::clock;

use super::render_status;
use crate::AppState;
use crate::csv_export::{Encoding, to_csv_bytes};
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::forms::{Choice, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/admin/audit", Action::ViewAuditLog, list).get(
        "/admin/audit.csv",
        Action::ViewAuditLog,
        export_csv,
    )
}

/// Entries per page.
const PAGE_SIZE: usize = 100;
/// The most entries one CSV file holds.
const EXPORT_LIMIT: i64 = 100_000;

/// Japanese names of the actions the application records.
const ACTION_LABELS: &[(&str, &str)] = &[
    ("mail.queued", "メールの送信待ちへの追加"),
    ("mail.sent", "メールの送信"),
    ("mail.retry", "メールの送信失敗（再送予定）"),
    ("mail.failed", "メールの送信失敗（再送終了）"),
    ("mail.resend", "メールの再送"),
    ("audit.sealed", "署名のない監査ログの封印"),
    ("audit.key_rotated", "監査ログの鍵の交換"),
    ("auth.login", "ログイン"),
    ("auth.logout", "ログアウト"),
    ("auth.login_failed", "ログイン失敗"),
    ("auth.lockout", "アカウントロック"),
    ("auth.login_locked", "ロック中のログイン試行"),
    ("auth.totp_enable", "二要素認証の設定"),
    ("auth.totp_disable", "二要素認証の解除"),
    ("auth.totp_failed", "確認コードの誤り"),
    ("auth.session_expired", "時間切れログアウト"),
    ("auth.password_ok", "パスワード確認"),
    ("auth.ip_limited", "端末からの試行制限"),
    ("auth.recovery_codes_regenerate", "リカバリーコード再発行"),
    ("auth.reauth", "本人の再確認"),
    ("auth.reauth_failed", "本人の再確認の失敗"),
    ("user.create", "利用者の登録"),
    ("user.update", "利用者情報の変更"),
    ("user.disable", "利用者の無効化"),
    ("user.enable", "利用者の有効化"),
    ("user.password_reset", "パスワードの再発行"),
    ("user.password_change", "パスワードの変更"),
    ("user.view", "利用者情報の閲覧"),
    ("user.unlock", "ロックの解除"),
    ("organisation.create", "関係機関の登録"),
    ("organisation.update", "関係機関の変更"),
    ("organisation.retire", "関係機関の廃止"),
    ("organisation.reinstate", "関係機関の利用再開"),
    ("area.create", "圏域の追加"),
    ("area.update", "圏域の変更"),
    ("area.delete", "圏域の削除"),
    ("municipality.create", "市町村の追加"),
    ("municipality.update", "市町村の変更"),
    ("matrix.update", "役割分担の変更"),
    ("matrix.participant_add", "役割分担の機関の追加"),
    ("matrix.participant_update", "役割分担の機関の変更"),
    ("matrix.participant_remove", "役割分担の機関の削除"),
    ("reference.load", "参照データの読み込み"),
    ("audit.export", "監査ログの出力"),
    ("user.totp_reset", "二要素認証のリセット"),
    ("care_type.seed", "医療的ケア種別の読み込み"),
    ("care_type.create", "医療的ケア種別の追加"),
    ("care_type.update", "医療的ケア種別の変更"),
    ("care_type.retire", "医療的ケア種別の使用終了"),
    ("care_type.reinstate", "医療的ケア種別の再開"),
    ("resource.create", "社会資源の登録"),
    ("resource.update", "社会資源の変更"),
    ("resource.retire", "社会資源の掲載終了"),
    ("resource.reinstate", "社会資源の掲載再開"),
    ("resource.availability", "空き状況の更新"),
    ("resource.verify", "社会資源の内容確認"),
    ("resource.import_upload", "社会資源ファイルの読み込み"),
    ("resource.import", "社会資源の一括取り込み"),
    ("resource.export", "社会資源の出力"),
    ("resource_category.seed", "社会資源の種別の読み込み"),
    ("resource_category.create", "社会資源の種別の追加"),
    ("resource_category.update", "社会資源の種別の変更"),
    ("resource_category.reorder", "社会資源の種別の並べ替え"),
    ("resource_category.retire", "社会資源の種別の使用終了"),
    ("resource_category.reinstate", "社会資源の種別の再開"),
    ("consultation.create", "相談の受付"),
    ("consultation.update", "相談記録の変更"),
    ("consultation.view", "相談記録の閲覧"),
    ("consultation.entry_add", "相談記録への追記"),
    ("consultation.consent", "同意の記録"),
    ("consultation.resource_attach", "紹介した社会資源の追加"),
    ("consultation.resource_detach", "紹介した社会資源の削除"),
    ("consultation.public_request", "相談申込み（ウェブ）"),
    (
        "consultation.public_request_discarded",
        "相談申込みの破棄（自動送信の疑い）",
    ),
    ("consultation.demo_load", "デモ相談データの読み込み"),
    ("consultation_stats.export", "相談統計の出力"),
    ("referral.create", "つなぎ先への依頼"),
    ("referral.view", "依頼の閲覧"),
    ("referral.acknowledge", "依頼の受付"),
    ("referral.outcome", "依頼の対応結果"),
    ("survey_definition.create", "調査票の作成"),
    ("survey_definition.update", "調査票の変更"),
    ("survey_round.create", "調査の発出"),
    ("survey_round.remind", "調査の督促"),
    ("survey_round.remind_mail", "調査の督促メール送信"),
    ("survey_round.export", "調査結果の出力"),
    ("survey_response.save", "回答の一時保存"),
    ("survey_response.upload", "回答の Excel 取り込み"),
    ("survey_response.submit", "回答の提出"),
    ("survey_response.approve", "回答の承認"),
    ("survey_response.return", "回答の差し戻し"),
    ("survey_response.unlock", "回答の承認解除"),
    ("survey_response.reopen", "期限後の入力許可"),
    ("survey_response.form_download", "回答様式のダウンロード"),
];

/// Names for actions without their own entry, by prefix.
const ACTION_GROUPS: &[(&str, &str)] = &[
    ("auth.", "ログイン関係"),
    ("user.", "利用者の操作"),
    ("organisation.", "関係機関の操作"),
    ("area.", "圏域の操作"),
    ("municipality.", "市町村の操作"),
    ("matrix.", "役割分担の操作"),
    ("reference.", "参照データの操作"),
    ("audit.", "監査ログの操作"),
    ("care_type.", "医療的ケア種別の操作"),
    ("resource_category.", "社会資源の種別の操作"),
    ("resource.", "社会資源の操作"),
    ("consultation_stats.", "相談統計の操作"),
    ("consultation.", "相談記録の操作"),
    ("referral.", "依頼の操作"),
    ("survey_definition.", "調査票の操作"),
    ("survey_round.", "調査の操作"),
    ("survey_response.", "調査回答の操作"),
    ("mail.", "メールの送信"),
    ("audit.", "監査ログの保護"),
];

/// The Japanese name of an action code, if it is one the application knows.
fn action_label(code: &str) -> Option<&'static str> {
    ACTION_LABELS
        .iter()
        .find(|(c, _)| *c == code)
        .or_else(|| ACTION_GROUPS.iter().find(|(p, _)| code.starts_with(p)))
        .map(|(_, l)| *l)
}

/// The Japanese name of a record type.
fn record_type_label(code: &str) -> &str {
    match code {
        "user" => "利用者",
        "organisation" => "関係機関",
        "area" => "圏域",
        "municipality" => "市町村",
        "matrix_cell" => "役割分担",
        "matrix_participant" => "役割分担の機関",
        "client" => "端末",
        "reference" => "参照データ",
        "audit_log" => "監査ログ",
        "audit_key" => "監査ログの鍵",
        "mail" => "メール",
        other => other,
    }
}

/// Record types offered in the filter.
const RECORD_TYPES: &[&str] = &[
    "user",
    "organisation",
    "area",
    "municipality",
    "matrix_cell",
    "matrix_participant",
    "client",
    "reference",
    "audit_log",
    "audit_key",
    "mail",
];

fn record_type_choices(selected: &str) -> Vec<Choice> {
    let mut out = vec![Choice::new("", "すべて", selected.is_empty())];
    out.extend(
        RECORD_TYPES
            .iter()
            .map(|c| Choice::new(*c, record_type_label(c), *c == selected)),
    );
    if !selected.is_empty() && !RECORD_TYPES.contains(&selected) {
        out.push(Choice::new(selected, selected, true));
    }
    out
}

/// The Japanese name of a field in old/new values.
fn field_label(key: &str) -> &str {
    match key {
        "name" => "名称",
        "kind" => "種別",
        "municipality_code6" => "市町村コード",
        "municipality_codes" => "市町村",
        "address" => "住所",
        "phone" => "電話番号",
        "email" => "メールアドレス",
        "login_id" => "ログインID",
        "display_name" => "氏名",
        "organisation_id" => "所属機関ID",
        "roles" => "役割",
        "sort_order" => "表示順",
        "kana" => "よみがな",
        "retired_on" => "廃止日",
        "note" => "備考",
        "label" => "表示名",
        "mark" => "区分",
        "locked_until" => "ロック期限",
        other => other,
    }
}

/// One changed value: (field, before, after). An empty side did not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    field: String,
    old: Option<String>,
    new: Option<String>,
}

fn show_value(v: &Value) -> String {
    let s = match v {
        Value::Null => "（なし）".to_string(),
        Value::String(s) if s.is_empty() => "（空欄）".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "はい".to_string(),
        Value::Bool(false) => "いいえ".to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.is_empty() => "（なし）".to_string(),
        Value::Array(items) => items.iter().map(show_value).collect::<Vec<_>>().join("、"),
        Value::Object(_) => v.to_string(),
    };
    if s.chars().count() > 200 {
        let mut cut: String = s.chars().take(200).collect();
        cut.push('…');
        cut
    } else {
        s
    }
}

/// What changed between the old and new values of an entry: for objects, the fields whose
/// values differ (in key order); otherwise the whole values.
fn changes(old: Option<&str>, new: Option<&str>) -> Vec<Change> {
    let parse = |s: Option<&str>| {
        s.map(|s| serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.to_string())))
    };
    let (old, new) = (parse(old), parse(new));
    match (&old, &new) {
        (None, None) => Vec::new(),
        (Some(Value::Object(_)) | None, Some(Value::Object(_)) | None) => {
            let empty = serde_json::Map::new();
            let o = old.as_ref().and_then(Value::as_object).unwrap_or(&empty);
            let n = new.as_ref().and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| o.get(*k) != n.get(*k))
                // A field created or removed empty says nothing.
                .filter(|k| {
                    let (a, b) = (o.get(*k), n.get(*k));
                    !(a.is_none() && b.is_some_and(Value::is_null)
                        || b.is_none() && a.is_some_and(Value::is_null))
                })
                .map(|k| Change {
                    field: field_label(k).to_string(),
                    old: o.get(k).map(show_value),
                    new: n.get(k).map(show_value),
                })
                .collect()
        }
        _ => vec![Change {
            field: String::new(),
            old: old.as_ref().map(show_value),
            new: new.as_ref().map(show_value),
        }],
    }
}

/// A change as one line of text: `名称：旧 → 新`.
fn change_text(c: &Change) -> String {
    let prefix = if c.field.is_empty() {
        String::new()
    } else {
        format!("{}：", c.field)
    };
    match (&c.old, &c.new) {
        (Some(o), Some(n)) => format!("{prefix}{o} → {n}"),
        (None, Some(n)) => format!("{prefix}{n}"),
        (Some(o), None) => format!("{prefix}{o}（削除）"),
        (None, None) => prefix,
    }
}

// ---------------------------------------------------------------------------------------------
// Filters

/// The filter form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FilterForm {
    actor: String,
    action: String,
    record_type: String,
    record_id: String,
    from: String,
    to: String,
}

impl FilterForm {
    fn parse(q: &FormData) -> FilterForm {
        let field = |name: &str| q.get(name).trim().chars().take(100).collect::<String>();
        FilterForm {
            actor: field("actor"),
            action: field("action"),
            record_type: field("record_type"),
            record_id: field("record_id"),
            from: field("from"),
            to: field("to"),
        }
    }

    fn is_empty(&self) -> bool {
        *self == FilterForm::default()
    }

    /// The filter as query-string pairs (for paging and CSV links), without empty ones.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("actor", self.actor.as_str()),
            ("action", self.action.as_str()),
            ("record_type", self.record_type.as_str()),
            ("record_id", self.record_id.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }

    /// A short description, for the export's audit entry.
    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if parts.is_empty() {
            "条件なし".to_string()
        } else {
            parts.join(" ")
        }
    }

    /// The store filter, or the messages for the fields that could not be read.
    fn to_filter(&self) -> Result<audit::Filter, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut date = |field: &str, label: &str, value: &str| -> Option<Date> {
            if value.is_empty() {
                return None;
            }
            match parse_date_ja(value) {
                Ok(d) => Some(d),
                Err(err) => {
                    e.add(field, format!("{label}：{err}"));
                    None
                }
            }
        };
        let from = date("from", "期間の開始日", &self.from);
        let to = date("to", "期間の終了日", &self.to);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            e.add(
                "to",
                "期間の終了日は開始日と同じか、それより後の日付にしてください",
            );
        }
        e.clone().into_result()?;
        Ok(audit::Filter {
            actor_login: self.actor.clone(),
            action_prefix: self.action.clone(),
            record_type: self.record_type.clone(),
            record_id: self.record_id.clone(),
            from: from.map(jst_day_start),
            until: to.and_then(|d| d.next_day()).map(jst_day_start),
            before_seq: None,
        })
    }
}

/// The instant a JST day starts, as stored UTC text: 2026-04-01 → 2026-03-31T15:00:00Z.
fn jst_day_start(d: Date) -> String {
    clock::format(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(JST))
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

// ---------------------------------------------------------------------------------------------
// Browse

struct Row {
    seq: i64,
    at: String,
    at_jst: String,
    actor_login: String,
    action: String,
    action_label: Option<&'static str>,
    record_type_label: String,
    record_id: String,
    record_href: Option<String>,
    changes: Vec<String>,
    detail: String,
    client_ip: String,
    request_id: String,
}

impl Row {
    fn from_entry(e: Entry) -> Row {
        let record_href = match e.record_type.as_str() {
            _ if e.record_id.is_empty() => None,
            "user" => Some(format!("/admin/users/{}", e.record_id)),
            "organisation" => Some(format!("/orgs/{}", e.record_id)),
            "municipality" => Some(format!("/municipalities/{}/edit", e.record_id)),
            _ => None,
        };
        Row {
            seq: e.seq,
            at_jst: clock::parse(&e.at)
                .map(format_jst_datetime)
                .unwrap_or_else(|| e.at.clone()),
            at: e.at,
            actor_login: e.actor_login,
            action_label: action_label(&e.action),
            action: e.action,
            record_type_label: record_type_label(&e.record_type).to_string(),
            record_id: e.record_id,
            record_href,
            changes: changes(e.old_values.as_deref(), e.new_values.as_deref())
                .iter()
                .map(change_text)
                .collect(),
            detail: e.detail,
            client_ip: e.client_ip,
            request_id: e.request_id,
        }
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct ListPage {
    layout: Layout,
    filter: FilterForm,
    record_types: Vec<Choice>,
    filtered: bool,
    rows: Vec<Row>,
    /// `145〜46`: the numbers of the first and last row shown.
    seq_range: String,
    paged: bool,
    older_href: Option<String>,
    newest_href: String,
    csv_href: String,
    csv_sjis_href: String,
    errors: Vec<(String, String)>,
    from_error: Option<String>,
    to_error: Option<String>,
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let form = FilterForm::parse(&q);
    let before = q
        .get("before")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0);
    let pairs = form.pairs();
    let link = |extra: &[(&str, &str)]| {
        let mut all = pairs.clone();
        all.extend_from_slice(extra);
        let qs = query_string(&all);
        if qs.is_empty() {
            String::new()
        } else {
            format!("?{qs}")
        }
    };
    let newest_href = format!("/admin/audit{}", link(&[]));
    let csv_href = format!("/admin/audit.csv{}", link(&[]));
    let csv_sjis_href = format!("/admin/audit.csv{}", link(&[("enc", "sjis")]));
    let (rows, older_href, errors, status) = match form.to_filter() {
        Ok(mut filter) => {
            filter.before_seq = before;
            let mut entries = audit::list(&st.db, &actor, &filter, PAGE_SIZE as i64 + 1).await?;
            let more = entries.len() > PAGE_SIZE;
            entries.truncate(PAGE_SIZE);
            let older = match entries.last() {
                Some(last) if more => {
                    let seq = last.seq.to_string();
                    Some(format!("/admin/audit{}", link(&[("before", &seq)])))
                }
                _ => None,
            };
            let rows = entries.into_iter().map(Row::from_entry).collect();
            (rows, older, FieldErrors::new(), StatusCode::OK)
        }
        Err(errors) => (Vec::new(), None, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let seq_range = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) if a.seq != b.seq => format!("{}〜{}", a.seq, b.seq),
        (Some(a), _) => a.seq.to_string(),
        _ => String::new(),
    };
    render_status(
        status,
        &ListPage {
            seq_range,
            layout: Layout::new(&st, &ctx, "監査ログ"),
            record_types: record_type_choices(&form.record_type),
            filtered: !form.is_empty(),
            paged: before.is_some(),
            rows,
            older_href,
            newest_href,
            csv_href,
            csv_sjis_href,
            from_error: errors.get("from").map(str::to_string),
            to_error: errors.get("to").map(str::to_string),
            errors: summary(&errors),
            filter: form,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Export

const CSV_HEADERS: &[&str] = &[
    "番号",
    "日時（日本時間）",
    "日時（UTC）",
    "操作者",
    "操作者の所属機関ID",
    "操作",
    "操作コード",
    "対象種別",
    "対象ID",
    "変更前",
    "変更後",
    "詳細",
    "端末",
    "リクエストID",
];

fn csv_row(e: Entry) -> Vec<String> {
    vec![
        e.seq.to_string(),
        clock::parse(&e.at)
            .map(format_jst_datetime)
            .unwrap_or_default(),
        e.at.clone(),
        e.actor_login,
        e.actor_org_id.unwrap_or_default(),
        action_label(&e.action).unwrap_or("").to_string(),
        e.action,
        record_type_label(&e.record_type).to_string(),
        e.record_id,
        e.old_values.unwrap_or_default(),
        e.new_values.unwrap_or_default(),
        e.detail,
        e.client_ip,
        e.request_id,
    ]
}

async fn export_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let q = FormData::parse_str(query.as_deref().unwrap_or(""));
    let form = FilterForm::parse(&q);
    let enc = Encoding::from_param(q.get("enc"));
    let filter = form.to_filter().map_err(|errors| {
        AppError::BadRequest(
            errors
                .iter()
                .map(|(_, m)| m.to_string())
                .collect::<Vec<_>>()
                .join("。"),
        )
    })?;
    // The export is recorded first, in its own transaction, whatever happens next.
    audit::record(
        &st.db,
        &ctx.audit(),
        Event::new("audit.export", "audit_log", "").detail(format!(
            "{}（{}）",
            form.describe(),
            match enc {
                Encoding::Utf8Bom => "UTF-8",
                Encoding::ShiftJis => "Shift_JIS",
            }
        )),
    )
    .await?;
    let entries = audit::list(&st.db, &actor, &filter, EXPORT_LIMIT).await?;
    let rows: Vec<Vec<String>> = entries.into_iter().map(csv_row).collect();
    let body = to_csv_bytes(CSV_HEADERS, &rows, enc);
    let today = today_jst(clock::now());
    let filename = format!(
        "audit-{:04}{:02}{:02}.csv",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(enc.content_type()));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_actions_have_japanese_names() {
        assert_eq!(action_label("auth.login"), Some("ログイン"));
        assert_eq!(action_label("auth.lockout"), Some("アカウントロック"));
        assert_eq!(action_label("user.unlock"), Some("ロックの解除"));
        assert_eq!(action_label("audit.export"), Some("監査ログの出力"));
        assert_eq!(action_label("matrix.something_new"), Some("役割分担の操作"));
        assert_eq!(action_label("unknown.thing"), None);
    }

    #[test]
    fn changes_list_only_fields_that_differ() {
        let c = changes(
            Some(r#"{"name":"旧","phone":"019-000-0000","roles":["viewer"]}"#),
            Some(r#"{"name":"新","phone":"019-000-0000","roles":["viewer","system_admin"]}"#),
        );
        let text: Vec<String> = c.iter().map(change_text).collect();
        assert_eq!(
            text,
            vec!["名称：旧 → 新", "役割：viewer → viewer、system_admin"]
        );
    }

    #[test]
    fn creations_and_deletions_show_one_side() {
        let created: Vec<String> = changes(None, Some(r#"{"name":"盛岡圏域","retired_on":null}"#))
            .iter()
            .map(change_text)
            .collect();
        assert_eq!(created, vec!["名称：盛岡圏域"]);
        let deleted: Vec<String> = changes(Some(r#"{"name":"盛岡圏域"}"#), None)
            .iter()
            .map(change_text)
            .collect();
        assert_eq!(deleted, vec!["名称：盛岡圏域（削除）"]);
        assert!(changes(None, None).is_empty());
        let plain: Vec<String> = changes(Some("\"◎\""), Some("\"○\""))
            .iter()
            .map(change_text)
            .collect();
        assert_eq!(plain, vec!["◎ → ○"]);
    }

    #[test]
    fn jst_dates_become_utc_bounds() {
        let form = FilterForm {
            from: "2026-04-01".into(),
            to: "令和8年4月30日".into(),
            ..FilterForm::default()
        };
        let f = form.to_filter().unwrap_or_default();
        assert_eq!(f.from.as_deref(), Some("2026-03-31T15:00:00.000000Z"));
        assert_eq!(f.until.as_deref(), Some("2026-04-30T15:00:00.000000Z"));
    }

    #[test]
    fn bad_or_reversed_dates_are_reported_per_field() {
        let form = FilterForm {
            from: "2026-02-30".into(),
            to: "someday".into(),
            ..FilterForm::default()
        };
        let errors = form.to_filter().err().unwrap_or_default();
        assert!(errors.get("from").is_some());
        assert!(errors.get("to").is_some());
        let form = FilterForm {
            from: "2026-05-01".into(),
            to: "2026-04-01".into(),
            ..FilterForm::default()
        };
        let errors = form.to_filter().err().unwrap_or_default();
        assert!(errors.get("to").is_some());
    }

    #[test]
    fn filters_round_trip_through_the_query_string() {
        let form = FilterForm {
            actor: "admin".into(),
            action: "user.".into(),
            ..FilterForm::default()
        };
        let qs = query_string(&form.pairs());
        assert_eq!(qs, "actor=admin&action=user.");
        assert_eq!(FilterForm::parse(&FormData::parse_str(&qs)), form);
        assert_eq!(form.describe(), "actor=admin action=user.");
        assert_eq!(FilterForm::default().describe(), "条件なし");
    }
}

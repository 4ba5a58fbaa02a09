//! The survey definition editor (調査票の管理): the center or the prefecture builds a
//! definition's sections, items and validation rules in the browser, with plain forms that work
//! without JavaScript. A version used by a round never changes: a change to it is saved as the
//! definition's next version, and the page says which of the two happened.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::policy::Action;
use tsunagu_domain::survey::{self as sv, Definition, Item, ItemKind, Rule, Section};
use tsunagu_domain::text::fold_width_str;
use tsunagu_domain::validation::{FieldErrors, optional_text, required_text};
use tsunagu_domain::wareki::format_fiscal_year;
use tsunagu_store::survey_definitions::{self as defs, RoundUse, Version};
use tsunagu_store::surveys::{self as store, DefinitionSummary, STANDARD_FAMILY, StoredDefinition};
use tsunagu_store::{StoreError, care_types};

use super::consultations::instant_label;
use super::render_status;
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    let m = Action::ManageSurveys;
    r.get("/surveys/definitions", m, list)
        .post("/surveys/definitions", m, create)
        .get("/surveys/definitions/{id}", m, view)
        .get("/surveys/definitions/{id}/edit", m, structure)
        .post("/surveys/definitions/{id}/title", m, save_title)
        .post("/surveys/definitions/{id}/sections", m, add_section)
        .post(
            "/surveys/definitions/{id}/sections/{key}",
            m,
            rename_section,
        )
        .post(
            "/surveys/definitions/{id}/sections/{key}/move",
            m,
            move_section,
        )
        .post(
            "/surveys/definitions/{id}/sections/{key}/delete",
            m,
            delete_section,
        )
        .get(
            "/surveys/definitions/{id}/sections/{key}/items/new",
            m,
            new_item,
        )
        .post(
            "/surveys/definitions/{id}/sections/{key}/items/new",
            m,
            create_item,
        )
        .get("/surveys/definitions/{id}/items/{key}", m, edit_item)
        .post("/surveys/definitions/{id}/items/{key}", m, save_item)
        .post("/surveys/definitions/{id}/items/{key}/move", m, move_item)
        .post(
            "/surveys/definitions/{id}/items/{key}/delete",
            m,
            delete_item,
        )
        .get("/surveys/definitions/{id}/rules", m, rules_page)
        .post("/surveys/definitions/{id}/rules", m, save_rules)
        .post("/surveys/definitions/{id}/retire", m, retire)
        .post("/surveys/definitions/{id}/reinstate", m, reinstate)
}

fn status_for(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// Splits `errors` into the messages shown at their fields and the summary at the top of the
/// page. Entries keyed `anchor#n` are problems of the definition as a whole: listed in the
/// summary, linking to `anchor`, and shown at no field.
fn split_errors(errors: &FieldErrors) -> (FieldErrors, Vec<(String, String)>) {
    let mut fields = FieldErrors::new();
    let mut all = Vec::new();
    for (f, m) in errors.iter() {
        match f.split_once('#') {
            Some((anchor, _)) => all.push((anchor.to_string(), m.to_string())),
            None => {
                fields.add(f, m);
                all.push((f.to_string(), m.to_string()));
            }
        }
    }
    (fields, all)
}

/// Every item type, in the order of the type select.
fn all_kinds() -> [ItemKind; 9] {
    [
        ItemKind::Count,
        ItemKind::Grid {
            rows: vec![],
            columns: vec![],
        },
        ItemKind::CareTypes { types: vec![] },
        ItemKind::YesNo,
        ItemKind::Single { choices: vec![] },
        ItemKind::Multiple { choices: vec![] },
        ItemKind::ShortText,
        ItemKind::LongText { publishable: false },
        ItemKind::Date,
    ]
}

/// `prefix` followed by the smallest number that makes a key not in `taken`.
fn next_key(prefix: &str, taken: &[String]) -> String {
    (1..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| !taken.contains(k))
        .unwrap_or_default()
}

/// What is wrong with a definition as a whole: [`Definition::check`], and every rule that no
/// longer fits the items (an item removed, a row renamed, a count turned into text).
fn problems(def: &Definition) -> Vec<String> {
    let mut out = def.check().err().unwrap_or_default();
    for (n, rule) in def.rules.iter().enumerate() {
        let line = rule.to_line();
        if let Err(e) = Rule::parse_line(&line, def) {
            out.push(format!(
                "検証ルール{}行目「{line}」がこの変更で使えなくなります（{e}）。先に検証ルールを直してください",
                n + 1
            ));
        }
    }
    out
}

/// The stored version to change, if it can be changed here: only the newest version of a
/// definition in use is edited (older versions are history).
async fn editable(st: &AppState, id: &str) -> Result<StoredDefinition, AppError> {
    let d = store::definition(&st.db, &st.cfg.prefecture_code, id).await?;
    let versions = defs::versions(&st.db, &st.cfg.prefecture_code, &d.family).await?;
    if let Some(newest) = versions.last()
        && newest.id != d.id
    {
        return Err(AppError::Conflict(format!(
            "第{}版は過去の版のため変更できません。調査票の一覧から最新の第{}版を開いて操作してください。",
            d.version, newest.version
        )));
    }
    if versions.iter().any(|v| v.retired) {
        return Err(AppError::Conflict(
            "使用を終了した調査票は変更できません。調査票の一覧で再開してから変更してください。"
                .into(),
        ));
    }
    Ok(d)
}

/// Saves `def` as a change of `base` and sends the user to `next` of the version that holds it,
/// saying whether `base` was changed or, being used by a round, left as it was.
async fn save(
    st: &AppState,
    ctx: &Ctx,
    base: &StoredDefinition,
    def: &Definition,
    done: &str,
    next: impl FnOnce(&str) -> String,
) -> Result<Response, AppError> {
    if *def == base.definition {
        // Nothing to keep; above all, no new version of a used definition for nothing.
        return Ok(redirect_with_flash(
            st,
            &next(&base.id),
            "info",
            "変更がなかったため、保存していません。",
        ));
    }
    let mut tx = st.db.begin().await?;
    let id = store::save_definition(
        &mut tx,
        &ctx.audit(),
        &st.cfg.prefecture_code,
        Some(&base.id),
        def,
    )
    .await
    .map_err(|e| {
        // Two people saving a used version at once would both make the same next version.
        e.unique_as("ほかの人が同時にこの調査票を変更しました。調査票の一覧から開き直して、もう一度操作してください。")
    })?;
    tx.commit().await?;
    if id == base.id {
        return Ok(redirect_with_flash(
            st,
            &next(&id),
            "success",
            &format!("{done}（第{}版に保存しました）", base.version),
        ));
    }
    let saved = store::definition(&st.db, &st.cfg.prefecture_code, &id).await?;
    Ok(redirect_with_flash(
        st,
        &next(&id),
        "info",
        &format!(
            "{done}。第{old}版は調査で使われているため変更せず、新しい第{new}版として保存しました。発出済みの調査は第{old}版のままです。第{new}版は、調査の発出に使うまで続けて直せます。",
            old = base.version,
            new = saved.version
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// What the pages show of a definition

struct ItemView {
    key: String,
    label: String,
    kind: &'static str,
    kind_label: &'static str,
    required: bool,
    help: String,
    unit: String,
    change_warning: String,
    rows: Vec<sv::Choice>,
    columns: Vec<sv::Choice>,
    /// The options of a choice, or the care types of a care-type item.
    choices: Vec<sv::Choice>,
    publishable: bool,
}

impl ItemView {
    fn of(i: &Item) -> ItemView {
        let (rows, columns, choices, publishable) = match &i.kind {
            ItemKind::Grid { rows, columns } => (rows.clone(), columns.clone(), vec![], false),
            ItemKind::CareTypes { types } => (vec![], vec![], types.clone(), false),
            ItemKind::Single { choices } | ItemKind::Multiple { choices } => {
                (vec![], vec![], choices.clone(), false)
            }
            ItemKind::LongText { publishable } => (vec![], vec![], vec![], *publishable),
            _ => (vec![], vec![], vec![], false),
        };
        ItemView {
            key: i.key.clone(),
            label: i.label.clone(),
            kind: i.kind.code(),
            kind_label: i.kind.label(),
            required: i.required,
            help: i.help.clone(),
            unit: i.unit.clone(),
            change_warning: i
                .change_warning_pct
                .map(|p| format!("前年度から{p}%以上変わったら理由を求める"))
                .unwrap_or_default(),
            rows,
            columns,
            choices,
            publishable,
        }
    }
}

struct SectionView {
    key: String,
    title: String,
    items: Vec<ItemView>,
}

fn section_views(def: &Definition) -> Vec<SectionView> {
    def.sections
        .iter()
        .map(|s| SectionView {
            key: s.key.clone(),
            title: s.title.clone(),
            items: s.items.iter().map(ItemView::of).collect(),
        })
        .collect()
}

struct RoundView {
    id: String,
    /// The round's title, with its 年度 when the title does not say it.
    title: String,
}

impl RoundView {
    fn of(r: &RoundUse) -> RoundView {
        let year = format_fiscal_year(r.fiscal_year as i32);
        RoundView {
            id: r.id.clone(),
            title: if r.title.contains(&year) {
                r.title.clone()
            } else {
                format!("{}（{year}）", r.title)
            },
        }
    }
}

/// The banner of the editing pages when the version is used by rounds.
fn frozen_note(d: &StoredDefinition) -> String {
    if d.rounds > 0 {
        format!(
            "この版（第{v}版）は{n}件の調査で使われているため、内容を変えられません。ここで保存すると新しい第{next}版が作られ、発出済みの調査は第{v}版のまま残ります。",
            v = d.version,
            n = d.rounds,
            next = d.version + 1
        )
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------------------------------------
// The list, and creating a definition

struct SummaryView {
    id: String,
    title: String,
    version: i64,
    rounds: i64,
    updated_label: String,
    standard: bool,
}

impl SummaryView {
    fn of(d: &DefinitionSummary) -> SummaryView {
        SummaryView {
            id: d.id.clone(),
            title: d.title.clone(),
            version: d.version,
            rounds: d.rounds,
            updated_label: instant_label(&d.updated_at),
            standard: d.family == STANDARD_FAMILY,
        }
    }
}

#[derive(Template)]
#[template(path = "survey_definitions/list.html")]
struct ListPage {
    layout: Layout,
    active: Vec<SummaryView>,
    retired: Vec<SummaryView>,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

async fn list_page(
    st: &AppState,
    ctx: &Ctx,
    form: &FormData,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let pref = &st.cfg.prefecture_code;
    let active = store::definitions(&st.db, pref).await?;
    let retired = defs::retired(&st.db, pref).await?;
    // A new definition starts from the standard one unless the user chose otherwise.
    let from = if form.has("from") {
        form.get("from").to_string()
    } else {
        active
            .iter()
            .find(|d| d.family == STANDARD_FAMILY)
            .map(|d| d.id.clone())
            .unwrap_or_default()
    };
    let mut templates = vec![Choice::new("", "空の調査票から作る", from.is_empty())];
    templates.extend(active.iter().map(|d| {
        Choice::new(
            d.id.clone(),
            format!("「{}」第{}版をコピーする", d.title, d.version),
            d.id == from,
        )
    }));
    let fields = vec![
        Field::new("title", "新しい調査票の名前", "text")
            .required()
            .value(form.get("title"))
            .errors(errors),
        Field::new("from", "ひな形", "select")
            .hint("標準の調査票をコピーすると、章・設問・検証ルールを引き継いで直せます")
            .choices(templates)
            .errors(errors),
    ];
    render_status(
        status_for(errors),
        &ListPage {
            layout: Layout::new(st, ctx, "調査票の管理"),
            active: active.iter().map(SummaryView::of).collect(),
            retired: retired.iter().map(SummaryView::of).collect(),
            fields,
            errors: summary(errors),
        },
    )
}

async fn list(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    list_page(&st, &ctx, &FormData::default(), &FieldErrors::new()).await
}

async fn create(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let pref = &st.cfg.prefecture_code;
    let mut errors = FieldErrors::new();
    let title = required_text(&mut errors, "title", "調査票の名前", form.get("title"), 100);
    let from = form.get("from").trim();
    let base = if from.is_empty() {
        None
    } else {
        match store::definition(&st.db, pref, from).await {
            Ok(d) => Some(d),
            Err(StoreError::NotFound) => {
                errors.add("from", "ひな形が見つかりません。選び直してください");
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    if !errors.is_empty() {
        return list_page(&st, &ctx, &form, &errors).await;
    }
    let def = match &base {
        Some(b) => Definition {
            title: title.clone(),
            ..b.definition.clone()
        },
        None => Definition {
            title: title.clone(),
            description: String::new(),
            sections: vec![Section {
                key: "s1".into(),
                title: "1 （章の見出し）".into(),
                items: vec![],
            }],
            rules: vec![],
        },
    };
    let mut tx = st.db.begin().await?;
    let id = store::save_definition(&mut tx, &ctx.audit(), pref, None, &def).await?;
    tx.commit().await?;
    let message = match &base {
        Some(b) => format!(
            "「{}」第{}版をコピーして「{title}」を作りました。必要なところを直してください。",
            b.title, b.version
        ),
        None => format!("「{title}」を作りました。章の見出しを直し、設問を追加してください。"),
    };
    Ok(redirect_with_flash(
        &st,
        &format!("/surveys/definitions/{id}/edit"),
        "success",
        &message,
    ))
}

async fn set_retired(
    st: AppState,
    ctx: Ctx,
    id: String,
    retired: bool,
) -> Result<Response, AppError> {
    let d = store::definition(&st.db, &st.cfg.prefecture_code, &id).await?;
    let mut tx = st.db.begin().await?;
    defs::set_retired(
        &mut tx,
        &ctx.audit(),
        &st.cfg.prefecture_code,
        &d.family,
        retired,
    )
    .await?;
    tx.commit().await?;
    let message = if retired {
        format!(
            "「{}」の使用を終了しました。新しい調査の発出には使えません（発出済みの調査はそのまま続けられます）。",
            d.title
        )
    } else {
        format!("「{}」を再開しました。調査の発出に使えます。", d.title)
    };
    Ok(redirect_with_flash(
        &st,
        "/surveys/definitions",
        "success",
        &message,
    ))
}

async fn retire(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_retired(st, ctx, id, true).await
}

async fn reinstate(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_retired(st, ctx, id, false).await
}

// ---------------------------------------------------------------------------------------------
// One version, read-only

struct VersionView {
    id: String,
    version: i64,
    title: String,
    rounds: i64,
    updated_label: String,
    current: bool,
}

impl VersionView {
    fn of(v: &Version, current: &str) -> VersionView {
        VersionView {
            id: v.id.clone(),
            version: v.version,
            title: v.title.clone(),
            rounds: v.rounds,
            updated_label: instant_label(&v.updated_at),
            current: v.id == current,
        }
    }
}

#[derive(Template)]
#[template(path = "survey_definitions/view.html")]
struct ViewPage {
    layout: Layout,
    id: String,
    title: String,
    version: i64,
    description: String,
    updated_label: String,
    sections: Vec<SectionView>,
    rules: Vec<String>,
    versions: Vec<VersionView>,
    rounds: Vec<RoundView>,
    /// The newest version, when this is an older one: (id, version).
    newer: Option<(String, i64)>,
    retired: bool,
    standard: bool,
    copy_title: String,
}

async fn view(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let pref = &st.cfg.prefecture_code;
    let d = store::definition(&st.db, pref, &id).await?;
    let versions = defs::versions(&st.db, pref, &d.family).await?;
    let rounds = defs::rounds_using(&st.db, pref, &d.id).await?;
    let newer = versions
        .last()
        .filter(|v| v.id != d.id)
        .map(|v| (v.id.clone(), v.version));
    let copy_title = format!(
        "{}（コピー）",
        d.definition.title.chars().take(94).collect::<String>()
    );
    render_status(
        StatusCode::OK,
        &ViewPage {
            layout: Layout::new(&st, &ctx, format!("{} 第{}版", d.title, d.version)),
            id: d.id.clone(),
            title: d.definition.title.clone(),
            version: d.version,
            description: d.definition.description.clone(),
            updated_label: instant_label(&d.updated_at),
            sections: section_views(&d.definition),
            rules: d.definition.rules.iter().map(Rule::to_line).collect(),
            versions: versions.iter().map(|v| VersionView::of(v, &d.id)).collect(),
            rounds: rounds.iter().map(RoundView::of).collect(),
            newer,
            retired: versions.iter().any(|v| v.retired),
            standard: d.family == STANDARD_FAMILY,
            copy_title,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Editing the structure: name, sections and the order of items

struct ItemRow {
    item: ItemView,
    up: bool,
    down: bool,
}

struct SectionEdit {
    key: String,
    title: String,
    /// The title shown in the rename box (as typed, after a failed rename).
    title_value: String,
    error: Option<String>,
    items: Vec<ItemRow>,
    up: bool,
    down: bool,
}

#[derive(Template)]
#[template(path = "survey_definitions/structure.html")]
struct StructurePage {
    layout: Layout,
    id: String,
    version: i64,
    frozen: String,
    errors: Vec<(String, String)>,
    head_fields: Vec<Field>,
    sections: Vec<SectionEdit>,
    new_section: Vec<Field>,
    rule_count: usize,
}

/// What was typed in the structure page's forms, kept when one of them fails.
#[derive(Default)]
struct StructureTyped {
    title: Option<String>,
    description: Option<String>,
    new_section: String,
    /// A section's title as typed in its rename box.
    rename: Option<(String, String)>,
}

fn structure_page(
    st: &AppState,
    ctx: &Ctx,
    d: &StoredDefinition,
    typed: &StructureTyped,
    all_errors: &FieldErrors,
) -> Result<Response, AppError> {
    let (errors, summary_lines) = split_errors(all_errors);
    let errors = &errors;
    let def = &d.definition;
    let head_fields = vec![
        Field::new("title", "調査票の名前", "text")
            .required()
            .value(typed.title.clone().unwrap_or_else(|| def.title.clone()))
            .errors(errors),
        Field::new("description", "回答する市町村への説明", "textarea")
            .hint("回答画面の先頭に表示されます")
            .value(
                typed
                    .description
                    .clone()
                    .unwrap_or_else(|| def.description.clone()),
            )
            .errors(errors),
    ];
    let n_sections = def.sections.len();
    let sections = def
        .sections
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let n_items = s.items.len();
            let field_id = format!("section-{}", s.key);
            SectionEdit {
                key: s.key.clone(),
                title: s.title.clone(),
                title_value: typed
                    .rename
                    .as_ref()
                    .filter(|(k, _)| *k == s.key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| s.title.clone()),
                error: errors.get(&field_id).map(str::to_string),
                items: s
                    .items
                    .iter()
                    .enumerate()
                    .map(|(ii, i)| ItemRow {
                        item: ItemView::of(i),
                        up: si > 0 || ii > 0,
                        down: si + 1 < n_sections || ii + 1 < n_items,
                    })
                    .collect(),
                up: si > 0,
                down: si + 1 < n_sections,
            }
        })
        .collect();
    render_status(
        status_for(all_errors),
        &StructurePage {
            layout: Layout::new(st, ctx, format!("{}の編集", def.title)),
            id: d.id.clone(),
            version: d.version,
            frozen: frozen_note(d),
            errors: summary_lines,
            head_fields,
            sections,
            new_section: vec![
                Field::new("new_section", "新しい章の見出し", "text")
                    .hint("例：7 災害への備え")
                    .value(&typed.new_section)
                    .errors(errors),
            ],
            rule_count: def.rules.len(),
        },
    )
}

/// Shows the structure page again with `problems` of a change that was not saved, each linking
/// to the part of the page (`anchor`) the change was made from.
fn refused(
    st: &AppState,
    ctx: &Ctx,
    d: &StoredDefinition,
    anchor: &str,
    problems: Vec<String>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    for (n, p) in problems.into_iter().enumerate() {
        errors.add(&format!("{anchor}#{n}"), p);
    }
    structure_page(st, ctx, d, &StructureTyped::default(), &errors)
}

async fn structure(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    structure_page(
        &st,
        &ctx,
        &d,
        &StructureTyped::default(),
        &FieldErrors::new(),
    )
}

async fn save_title(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let mut errors = FieldErrors::new();
    let title = required_text(&mut errors, "title", "調査票の名前", form.get("title"), 100);
    let description = optional_text(
        &mut errors,
        "description",
        "説明",
        form.get("description"),
        2000,
    );
    let typed = StructureTyped {
        title: Some(form.get("title").to_string()),
        description: Some(form.get("description").to_string()),
        ..StructureTyped::default()
    };
    if !errors.is_empty() {
        return structure_page(&st, &ctx, &d, &typed, &errors);
    }
    let def = Definition {
        title,
        description,
        ..d.definition.clone()
    };
    save(
        &st,
        &ctx,
        &d,
        &def,
        "名前と説明を変更しました",
        |id| format!("/surveys/definitions/{id}/edit"),
    )
    .await
}

async fn add_section(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let mut errors = FieldErrors::new();
    let title = required_text(
        &mut errors,
        "new_section",
        "章の見出し",
        form.get("new_section"),
        100,
    );
    if !errors.is_empty() {
        let typed = StructureTyped {
            new_section: form.get("new_section").to_string(),
            ..StructureTyped::default()
        };
        return structure_page(&st, &ctx, &d, &typed, &errors);
    }
    let mut def = d.definition.clone();
    let taken: Vec<String> = def.sections.iter().map(|s| s.key.clone()).collect();
    let key = next_key("s", &taken);
    def.sections.push(Section {
        key: key.clone(),
        title: title.clone(),
        items: vec![],
    });
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!("章「{title}」を追加しました"),
        |id| format!("/surveys/definitions/{id}/edit#section-{key}"),
    )
    .await
}

fn section_index(def: &Definition, key: &str) -> Result<usize, AppError> {
    def.sections
        .iter()
        .position(|s| s.key == key)
        .ok_or(AppError::NotFound)
}

async fn rename_section(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let si = section_index(&d.definition, &key)?;
    let field_id = format!("section-{key}");
    let mut errors = FieldErrors::new();
    let title = required_text(&mut errors, &field_id, "章の見出し", form.get("title"), 100);
    if !errors.is_empty() {
        let typed = StructureTyped {
            rename: Some((key, form.get("title").to_string())),
            ..StructureTyped::default()
        };
        return structure_page(&st, &ctx, &d, &typed, &errors);
    }
    let mut def = d.definition.clone();
    def.sections[si].title = title.clone();
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!("章の見出しを「{title}」にしました"),
        |id| format!("/surveys/definitions/{id}/edit#section-{key}"),
    )
    .await
}

async fn move_section(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let si = section_index(&d.definition, &key)?;
    let mut def = d.definition.clone();
    let to = match form.get("to") {
        "up" if si > 0 => si - 1,
        "down" if si + 1 < def.sections.len() => si + 1,
        _ => return Err(AppError::BadRequest("この章はこれ以上動かせません".into())),
    };
    def.sections.swap(si, to);
    let title = def.sections[to].title.clone();
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!("章「{title}」を移動しました"),
        |id| format!("/surveys/definitions/{id}/edit#section-{key}"),
    )
    .await
}

async fn delete_section(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let si = section_index(&d.definition, &key)?;
    let mut def = d.definition.clone();
    let removed = def.sections.remove(si);
    let found = problems(&def);
    if !found.is_empty() {
        return refused(&st, &ctx, &d, &format!("section-{key}"), found);
    }
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!(
            "章「{}」と設問{}件を削除しました",
            removed.title,
            removed.items.len()
        ),
        |id| format!("/surveys/definitions/{id}/edit"),
    )
    .await
}

/// Where an item is: (section index, item index).
fn item_position(def: &Definition, key: &str) -> Result<(usize, usize), AppError> {
    def.sections
        .iter()
        .enumerate()
        .find_map(|(si, s)| s.items.iter().position(|i| i.key == key).map(|ii| (si, ii)))
        .ok_or(AppError::NotFound)
}

async fn move_item(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let (si, ii) = item_position(&d.definition, &key)?;
    let mut def = d.definition.clone();
    // At the edge of a section an item moves on into the neighbouring section.
    match form.get("to") {
        "up" if ii > 0 => def.sections[si].items.swap(ii, ii - 1),
        "up" if si > 0 => {
            let item = def.sections[si].items.remove(ii);
            def.sections[si - 1].items.push(item);
        }
        "down" if ii + 1 < def.sections[si].items.len() => def.sections[si].items.swap(ii, ii + 1),
        "down" if si + 1 < def.sections.len() => {
            let item = def.sections[si].items.remove(ii);
            def.sections[si + 1].items.insert(0, item);
        }
        _ => {
            return Err(AppError::BadRequest(
                "この設問はこれ以上動かせません".into(),
            ));
        }
    }
    let label = d.definition.sections[si].items[ii].label.clone();
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!("設問「{label}」を移動しました"),
        |id| format!("/surveys/definitions/{id}/edit#item-{key}"),
    )
    .await
}

async fn delete_item(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let (si, ii) = item_position(&d.definition, &key)?;
    let mut def = d.definition.clone();
    let removed = def.sections[si].items.remove(ii);
    let found = problems(&def);
    if !found.is_empty() {
        return refused(&st, &ctx, &d, &format!("item-{key}"), found);
    }
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!("設問「{}」を削除しました", removed.label),
        |id| format!("/surveys/definitions/{id}/edit"),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// One item

/// The item form as typed; every value kept as text so that bad input comes back unchanged.
struct ItemTyped {
    label: String,
    key: String,
    kind: String,
    section: String,
    required: bool,
    help: String,
    unit: String,
    change_warning: String,
    choices: String,
    rows: String,
    columns: String,
    publishable: bool,
}

/// Choices one per line, as `key: label`.
fn choice_lines(choices: &[sv::Choice]) -> String {
    choices
        .iter()
        .map(|c| format!("{}: {}", c.key, c.label))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ItemTyped {
    fn blank(section: &str) -> ItemTyped {
        ItemTyped {
            label: String::new(),
            key: String::new(),
            kind: "count".into(),
            section: section.into(),
            required: false,
            help: String::new(),
            unit: "人".into(),
            change_warning: String::new(),
            choices: String::new(),
            rows: String::new(),
            columns: String::new(),
            publishable: false,
        }
    }

    fn of(section: &str, i: &Item) -> ItemTyped {
        let mut t = ItemTyped {
            label: i.label.clone(),
            key: i.key.clone(),
            kind: i.kind.code().into(),
            section: section.into(),
            required: i.required,
            help: i.help.clone(),
            unit: i.unit.clone(),
            change_warning: i
                .change_warning_pct
                .map(|p| p.to_string())
                .unwrap_or_default(),
            ..ItemTyped::blank(section)
        };
        match &i.kind {
            ItemKind::Grid { rows, columns } => {
                t.rows = choice_lines(rows);
                t.columns = choice_lines(columns);
            }
            ItemKind::Single { choices } | ItemKind::Multiple { choices } => {
                t.choices = choice_lines(choices);
            }
            ItemKind::LongText { publishable } => t.publishable = *publishable,
            _ => {}
        }
        t
    }

    fn from_form(f: &FormData) -> ItemTyped {
        let flags = f.all("flags");
        ItemTyped {
            label: f.get("label").to_string(),
            key: f.get("key").to_string(),
            kind: f.get("kind").to_string(),
            section: f.get("section").to_string(),
            required: flags.contains(&"required"),
            help: f.get("help").to_string(),
            unit: f.get("unit").to_string(),
            change_warning: f.get("change_warning").to_string(),
            choices: f.get("choices").to_string(),
            rows: f.get("rows").to_string(),
            columns: f.get("columns").to_string(),
            publishable: f.all("long_text").contains(&"publishable"),
        }
    }
}

/// Parses choices, rows or columns written one per line, as `key: label` or just a label. A
/// label without a key keeps the key it had in `old` (so retyping a line does not break rules
/// or last year's answers), or gets `prefix` and a number.
fn parse_choices(
    text: &str,
    what: &str,
    prefix: &str,
    old: &[sv::Choice],
) -> Result<Vec<sv::Choice>, String> {
    let mut parsed: Vec<(usize, Option<String>, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let split = line
            .split_once([':', '：'])
            .map(|(k, l)| (fold_width_str(k.trim()), l.trim()))
            .filter(|(k, _)| sv::valid_key(k));
        let (key, label) = match split {
            Some((k, l)) => (Some(k), l.to_string()),
            None => (None, line.to_string()),
        };
        if label.is_empty() {
            return Err(format!("{what}の{}行目：名前を入力してください", n + 1));
        }
        if label.chars().count() > 100 {
            return Err(format!(
                "{what}の{}行目：名前は100文字以内にしてください",
                n + 1
            ));
        }
        parsed.push((n + 1, key, label));
    }
    let mut taken: Vec<String> = parsed.iter().filter_map(|(_, k, _)| k.clone()).collect();
    let mut out: Vec<sv::Choice> = Vec::new();
    for (n, key, label) in parsed {
        let key = match key {
            Some(k) => k,
            None => {
                let k = old
                    .iter()
                    .find(|c| c.label == label && !taken.contains(&c.key))
                    .map(|c| c.key.clone())
                    .unwrap_or_else(|| next_key(prefix, &taken));
                taken.push(k.clone());
                k
            }
        };
        if out.iter().any(|c| c.key == key) {
            return Err(format!("{what}の{n}行目：キー「{key}」が重複しています"));
        }
        if out.iter().any(|c| c.label == label) {
            return Err(format!("{what}の{n}行目：「{label}」が重複しています"));
        }
        out.push(sv::Choice { key, label });
    }
    Ok(out)
}

/// [`parse_choices`] with its message put on `field`.
fn choice_field(
    e: &mut FieldErrors,
    field: &str,
    what: &str,
    prefix: &str,
    text: &str,
    old: &[sv::Choice],
) -> Vec<sv::Choice> {
    parse_choices(text, what, prefix, old).unwrap_or_else(|m| {
        e.add(field, m);
        vec![]
    })
}

/// The care types an item takes when saved: the active entries of the code list.
async fn active_care_types(st: &AppState) -> Result<Vec<sv::Choice>, AppError> {
    Ok(care_types::list(&st.db, false)
        .await?
        .into_iter()
        .map(|c| sv::Choice {
            key: c.code,
            label: c.name,
        })
        .collect())
}

/// Checks the typed item and returns the definition with it in place of `old_key` (or added to
/// its section), with rules following a renamed key.
fn apply_item(
    def: &Definition,
    old_key: Option<&str>,
    typed: &ItemTyped,
    care: &[sv::Choice],
) -> Result<(Definition, Item), FieldErrors> {
    let mut e = FieldErrors::new();
    let label = required_text(&mut e, "label", "設問文", &typed.label, 200);
    let old_item = old_key.and_then(|k| def.item(k));
    let mut key = fold_width_str(typed.key.trim());
    if key.is_empty() {
        key = match old_key {
            Some(k) => k.to_string(),
            None => {
                let taken: Vec<String> = def.items().map(|(_, i)| i.key.clone()).collect();
                next_key("q", &taken)
            }
        };
    }
    if !sv::valid_key(&key) {
        e.add(
            "key",
            "設問キーは半角英小文字・数字・_ で、英字で始めてください（40文字以内。例：day_service）",
        );
    } else if let Some((_, other)) = def
        .items()
        .find(|(_, i)| i.key == key && Some(i.key.as_str()) != old_key)
    {
        e.add(
            "key",
            format!("設問キー「{key}」は設問「{}」で使われています", other.label),
        );
    }
    let help = optional_text(&mut e, "help", "説明", &typed.help, 500);
    let unit = optional_text(&mut e, "unit", "単位", &typed.unit, 20);
    let change_warning_pct = match fold_width_str(typed.change_warning.trim()).as_str() {
        "" => None,
        v => match v.trim_end_matches('%').parse::<u32>() {
            Ok(p) if (1..=1000).contains(&p) => Some(p),
            _ => {
                e.add(
                    "change_warning",
                    "前年度との差の警告は1から1000までの数字（%）で入力するか、空欄にしてください",
                );
                None
            }
        },
    };
    let old_kind = old_item.map(|i| &i.kind);
    let old_choices: &[sv::Choice] = match old_kind {
        Some(ItemKind::Single { choices } | ItemKind::Multiple { choices }) => choices,
        _ => &[],
    };
    let (old_rows, old_columns): (&[sv::Choice], &[sv::Choice]) = match old_kind {
        Some(ItemKind::Grid { rows, columns }) => (rows, columns),
        _ => (&[], &[]),
    };
    let kind = match typed.kind.as_str() {
        "count" => ItemKind::Count,
        "grid" => {
            let rows = choice_field(&mut e, "rows", "表の行", "row", &typed.rows, old_rows);
            let columns = choice_field(
                &mut e,
                "columns",
                "表の列",
                "col",
                &typed.columns,
                old_columns,
            );
            ItemKind::Grid { rows, columns }
        }
        "care_types" => ItemKind::CareTypes {
            types: care.to_vec(),
        },
        "yes_no" => ItemKind::YesNo,
        "single" | "multiple" => {
            let choices = choice_field(
                &mut e,
                "choices",
                "選択肢",
                "opt",
                &typed.choices,
                old_choices,
            );
            if typed.kind == "single" {
                ItemKind::Single { choices }
            } else {
                ItemKind::Multiple { choices }
            }
        }
        "short_text" => ItemKind::ShortText,
        "long_text" => ItemKind::LongText {
            publishable: typed.publishable,
        },
        "date" => ItemKind::Date,
        _ => {
            e.add("kind", "設問の種類を選んでください");
            ItemKind::Count
        }
    };
    match &kind {
        ItemKind::Grid { rows, columns } => {
            if rows.is_empty() && e.get("rows").is_none() {
                e.add("rows", "表の行を一つ以上、1行に一つずつ入力してください");
            }
            if columns.is_empty() && e.get("columns").is_none() {
                e.add("columns", "表の列を一つ以上、1行に一つずつ入力してください");
            }
        }
        ItemKind::Single { choices } | ItemKind::Multiple { choices }
            if choices.len() < 2 && e.get("choices").is_none() =>
        {
            e.add("choices", "選択肢を二つ以上、1行に一つずつ入力してください");
        }
        ItemKind::CareTypes { types } if types.is_empty() => {
            e.add(
                "kind",
                "医療的ケアの種別の一覧に使用中の種別がありません。先に種別を登録してください",
            );
        }
        _ => {}
    }
    let Some(target) = def.sections.iter().position(|s| s.key == typed.section) else {
        e.add("section", "章を選んでください");
        return Err(e);
    };
    if !e.is_empty() {
        return Err(e);
    }
    let numeric = kind.is_numeric();
    let item = Item {
        key: key.clone(),
        label,
        kind,
        required: typed.required,
        help,
        unit: if numeric { unit } else { String::new() },
        change_warning_pct: if numeric { change_warning_pct } else { None },
    };
    let mut out = def.clone();
    let mut place = None;
    if let Some(old) = old_key {
        for (si, s) in out.sections.iter_mut().enumerate() {
            if let Some(ii) = s.items.iter().position(|i| i.key == old) {
                s.items.remove(ii);
                place = Some((si, ii));
            }
        }
        if old != key {
            for rule in &mut out.rules {
                for r in rule.left.iter_mut().chain(rule.right.iter_mut()) {
                    if r.item == old {
                        r.item = key.clone();
                    }
                }
            }
        }
    }
    match place {
        Some((si, ii)) if si == target => out.sections[target].items.insert(ii, item.clone()),
        _ => out.sections[target].items.push(item.clone()),
    }
    let found = problems(&out);
    if !found.is_empty() {
        for (n, p) in found.into_iter().enumerate() {
            e.add(&format!("kind#{n}"), p);
        }
        return Err(e);
    }
    Ok((out, item))
}

#[derive(Template)]
#[template(path = "survey_definitions/item.html")]
struct ItemPage {
    layout: Layout,
    heading: String,
    action: String,
    back: String,
    frozen: String,
    errors: Vec<(String, String)>,
    basic: Vec<Field>,
    numeric: Vec<Field>,
    grid: Vec<Field>,
    choice: Vec<Field>,
    long_text: Vec<Field>,
    care: Vec<String>,
    /// How the saved care types differ from the code list, when the item has some.
    care_changes: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn item_page(
    st: &AppState,
    ctx: &Ctx,
    d: &StoredDefinition,
    heading: String,
    action: String,
    typed: &ItemTyped,
    saved_care: Option<&[sv::Choice]>,
    care: &[sv::Choice],
    all_errors: &FieldErrors,
) -> Result<Response, AppError> {
    let (plain, summary_lines) = split_errors(all_errors);
    let kinds = all_kinds()
        .iter()
        .map(|k| Choice::new(k.code(), k.label(), k.code() == typed.kind))
        .collect();
    let sections = d
        .definition
        .sections
        .iter()
        .map(|s| Choice::new(s.key.clone(), s.title.clone(), s.key == typed.section))
        .collect();
    let basic = vec![
        Field::new("label", "設問文", "text")
            .required()
            .value(&typed.label)
            .errors(&plain),
        Field::new("key", "設問キー", "text")
            .value(&typed.key)
            .hint("集計・検証ルール・Excel の様式で使う名前です。半角英小文字・数字・_（例：day_service）。空欄なら自動で付けます。発出済みの版と変えると前年度との比較がつながりません")
            .errors(&plain),
        Field::new("kind", "種類", "select")
            .required()
            .choices(kinds)
            .errors(&plain),
        Field::new("section", "章", "select")
            .required()
            .choices(sections)
            .errors(&plain),
        Field::new("flags", "必須", "checkboxes")
            .choices(vec![Choice::new(
                "required",
                "必須にする（未入力では提出できません）",
                typed.required,
            )])
            .errors(&plain),
        Field::new("help", "説明（回答者への補足）", "textarea")
            .value(&typed.help)
            .errors(&plain),
    ];
    let numeric = vec![
        Field::new("unit", "単位", "text")
            .value(&typed.unit)
            .hint("例：人、か所")
            .errors(&plain),
        Field::new("change_warning", "前年度との差の警告（%）", "text")
            .value(&typed.change_warning)
            .inputmode("numeric")
            .hint("前年度の回答からこの割合以上（かつ3以上）変わると、理由の記入を求めます。空欄なら求めません")
            .errors(&plain),
    ];
    let lines_hint =
        "1行に一つ。「キー: 名前」（例：home: 在宅）か、名前だけ（キーは自動で付けます）";
    let grid = vec![
        Field::new("rows", "表の行", "textarea")
            .value(&typed.rows)
            .hint(lines_hint)
            .errors(&plain),
        Field::new("columns", "表の列", "textarea")
            .value(&typed.columns)
            .hint(lines_hint)
            .errors(&plain),
    ];
    let choice = vec![
        Field::new("choices", "選択肢", "textarea")
            .value(&typed.choices)
            .hint(lines_hint)
            .errors(&plain),
    ];
    let long_text = vec![
        Field::new("long_text", "公開", "checkboxes")
            .choices(vec![Choice::new(
                "publishable",
                "「公開してよい」の欄を付ける（好事例集に載せられる回答）",
                typed.publishable,
            )])
            .errors(&plain),
    ];
    let care_changes = saved_care
        .map(|saved| {
            let mut out: Vec<String> = care
                .iter()
                .filter(|c| !saved.iter().any(|s| s.key == c.key))
                .map(|c| format!("追加される種別：{}", c.label))
                .collect();
            out.extend(
                saved
                    .iter()
                    .filter(|s| !care.iter().any(|c| c.key == s.key))
                    .map(|s| format!("外れる種別（使用終了）：{}", s.label)),
            );
            out
        })
        .unwrap_or_default();
    render_status(
        status_for(all_errors),
        &ItemPage {
            layout: Layout::new(st, ctx, heading.clone()),
            heading,
            action,
            back: format!("/surveys/definitions/{}/edit", d.id),
            frozen: frozen_note(d),
            errors: summary_lines,
            basic,
            numeric,
            grid,
            choice,
            long_text,
            care: care.iter().map(|c| c.label.clone()).collect(),
            care_changes,
        },
    )
}

async fn new_item(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let si = section_index(&d.definition, &key)?;
    let care = active_care_types(&st).await?;
    item_page(
        &st,
        &ctx,
        &d,
        format!("設問を追加（{}）", d.definition.sections[si].title),
        format!("/surveys/definitions/{}/sections/{key}/items/new", d.id),
        &ItemTyped::blank(&key),
        None,
        &care,
        &FieldErrors::new(),
    )
}

async fn create_item(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let si = section_index(&d.definition, &key)?;
    let care = active_care_types(&st).await?;
    let typed = ItemTyped::from_form(&form);
    match apply_item(&d.definition, None, &typed, &care) {
        Ok((def, item)) => {
            save(
                &st,
                &ctx,
                &d,
                &def,
                &format!("設問「{}」を追加しました", item.label),
                |id| format!("/surveys/definitions/{id}/edit#item-{}", item.key),
            )
            .await
        }
        Err(errors) => item_page(
            &st,
            &ctx,
            &d,
            format!("設問を追加（{}）", d.definition.sections[si].title),
            format!("/surveys/definitions/{}/sections/{key}/items/new", d.id),
            &typed,
            None,
            &care,
            &errors,
        ),
    }
}

async fn edit_item(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let (si, ii) = item_position(&d.definition, &key)?;
    let section = &d.definition.sections[si];
    let item = &section.items[ii];
    let care = active_care_types(&st).await?;
    let saved_care = match &item.kind {
        ItemKind::CareTypes { types } => Some(types.as_slice()),
        _ => None,
    };
    item_page(
        &st,
        &ctx,
        &d,
        format!("設問を編集（{}）", item.label),
        format!("/surveys/definitions/{}/items/{key}", d.id),
        &ItemTyped::of(&section.key, item),
        saved_care,
        &care,
        &FieldErrors::new(),
    )
}

async fn save_item(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let (si, ii) = item_position(&d.definition, &key)?;
    let old = &d.definition.sections[si].items[ii];
    let care = active_care_types(&st).await?;
    let typed = ItemTyped::from_form(&form);
    match apply_item(&d.definition, Some(&key), &typed, &care) {
        Ok((def, item)) => {
            save(
                &st,
                &ctx,
                &d,
                &def,
                &format!("設問「{}」を保存しました", item.label),
                |id| format!("/surveys/definitions/{id}/edit#item-{}", item.key),
            )
            .await
        }
        Err(errors) => {
            let saved_care = match &old.kind {
                ItemKind::CareTypes { types } => Some(types.as_slice()),
                _ => None,
            };
            item_page(
                &st,
                &ctx,
                &d,
                format!("設問を編集（{}）", old.label),
                format!("/surveys/definitions/{}/items/{key}", d.id),
                &typed,
                saved_care,
                &care,
                &errors,
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation rules

/// A numeric item and how rules refer to it, for the reference beside the rules box.
struct RefView {
    key: String,
    label: String,
    kind_label: &'static str,
    how: Vec<String>,
}

fn ref_views(def: &Definition) -> Vec<RefView> {
    let keys = |c: &[sv::Choice]| {
        c.iter()
            .map(|c| format!("{}（{}）", c.key, c.label))
            .collect::<Vec<_>>()
            .join("、")
    };
    def.items()
        .filter(|(_, i)| i.kind.is_numeric())
        .map(|(_, i)| {
            let how = match &i.kind {
                ItemKind::Grid { rows, columns } => vec![
                    format!("{}：表全体の合計", i.key),
                    format!("{}[行,行;列]：一部の合計（* はすべて）", i.key),
                    format!("行：{}", keys(rows)),
                    format!("列：{}", keys(columns)),
                ],
                ItemKind::CareTypes { types } => vec![
                    format!("{}[*]：種別ごとに一つずつ比べる（合計はしません）", i.key),
                    format!("{}[種別]：一つの種別", i.key),
                    format!("種別：{}", keys(types)),
                ],
                _ => vec![format!("{}：この数", i.key)],
            };
            RefView {
                key: i.key.clone(),
                label: i.label.clone(),
                kind_label: i.kind.label(),
                how,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "survey_definitions/rules.html")]
struct RulesPage {
    layout: Layout,
    id: String,
    frozen: String,
    text: String,
    /// (line number, message)
    line_errors: Vec<(usize, String)>,
    problems: Vec<String>,
    refs: Vec<RefView>,
}

fn rules_view(
    st: &AppState,
    ctx: &Ctx,
    d: &StoredDefinition,
    text: String,
    line_errors: Vec<(usize, String)>,
    problems: Vec<String>,
) -> Result<Response, AppError> {
    let status = if line_errors.is_empty() && problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &RulesPage {
            layout: Layout::new(st, ctx, format!("{}の検証ルール", d.title)),
            id: d.id.clone(),
            frozen: frozen_note(d),
            text,
            line_errors,
            problems,
            refs: ref_views(&d.definition),
        },
    )
}

async fn rules_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let text = d
        .definition
        .rules
        .iter()
        .map(Rule::to_line)
        .collect::<Vec<_>>()
        .join("\n");
    rules_view(&st, &ctx, &d, text, vec![], vec![])
}

async fn save_rules(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let d = editable(&st, &id).await?;
    let text = form.get("rules").to_string();
    let mut rules = Vec::new();
    let mut line_errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Rule::parse_line(line, &d.definition) {
            Ok(r) => rules.push(r),
            Err(e) => line_errors.push((n + 1, e)),
        }
    }
    if rules.len() > 200 {
        line_errors.push((0, "検証ルールは200行までにしてください".into()));
    }
    if !line_errors.is_empty() {
        return rules_view(&st, &ctx, &d, text, line_errors, vec![]);
    }
    let def = Definition {
        rules,
        ..d.definition.clone()
    };
    let found = problems(&def);
    if !found.is_empty() {
        return rules_view(&st, &ctx, &d, text, vec![], found);
    }
    let n = def.rules.len();
    save(
        &st,
        &ctx,
        &d,
        &def,
        &format!("検証ルール{n}件を保存しました"),
        |id| format!("/surveys/definitions/{id}"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_domain::survey::standard_definition;

    fn care() -> Vec<sv::Choice> {
        vec![
            sv::Choice::new("ventilator", "人工呼吸器"),
            sv::Choice::new("suction", "吸引"),
        ]
    }

    #[test]
    fn choices_take_written_keys_keep_old_ones_and_get_new_ones() {
        let old = vec![sv::Choice::new("home", "在宅")];
        let c = parse_choices("在宅\nhospital： 入院\n\n施設入所", "表の列", "col", &old)
            .expect("parsed");
        let keys: Vec<&str> = c.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["home", "hospital", "col1"]);
        assert_eq!(c[1].label, "入院");
    }

    #[test]
    fn a_duplicate_choice_is_refused_with_its_line() {
        assert_eq!(
            parse_choices("a: 在宅\n\na: 入院", "選択肢", "opt", &[]),
            Err("選択肢の3行目：キー「a」が重複しています".to_string())
        );
        assert_eq!(
            parse_choices("在宅\n在宅", "選択肢", "opt", &[]),
            Err("選択肢の2行目：「在宅」が重複しています".to_string())
        );
    }

    #[test]
    fn renaming_an_item_key_carries_the_rules_along() {
        let def = standard_definition(&care());
        let mut typed = ItemTyped::of("children", def.item("total").expect("total"));
        typed.key = "children_total".into();
        let (out, _) = apply_item(&def, Some("total"), &typed, &care()).expect("saved");
        assert!(out.item("total").is_none());
        assert_eq!(out.sections[0].items[0].key, "children_total");
        assert!(out.rules.iter().any(|r| {
            r.to_line()
                .starts_with("エラー: age_place = children_total |")
        }));
    }

    #[test]
    fn an_item_used_by_rules_cannot_stop_being_a_count() {
        let def = standard_definition(&care());
        let mut typed = ItemTyped::of("belonging", def.item("nursery").expect("nursery"));
        typed.kind = "short_text".into();
        let e = apply_item(&def, Some("nursery"), &typed, &care()).expect_err("refused");
        assert!(
            e.iter()
                .any(|(_, m)| m.contains("「nursery」は数の設問ではありません"))
        );
    }

    #[test]
    fn removing_a_grid_row_that_a_rule_names_is_refused() {
        let def = standard_definition(&care());
        let mut typed = ItemTyped::of("children", def.item("age_place").expect("grid"));
        typed.rows = typed.rows.replace("a0_2: 0〜2歳\n", "");
        let e = apply_item(&def, Some("age_place"), &typed, &care()).expect_err("refused");
        assert!(
            e.iter()
                .any(|(_, m)| m.contains("「age_place」に行・列「a0_2」はありません"))
        );
    }
}

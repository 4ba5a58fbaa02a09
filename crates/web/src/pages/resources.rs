//! The resource directory (社会資源): search and read when signed in, the same search for the
//! public without signing in (public fields only, printable), the municipal consultation
//! windows by area, and for coordinators and the prefecture: registering, editing, retiring,
//! availability, verification, the review list and the category taxonomy.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tsunagu_domain::policy::{Action, Target};
use tsunagu_domain::text::fold_width_str;
use tsunagu_domain::validation::FieldErrors;
use tsunagu_store::StoreError;
use tsunagu_store::care_types::{self, CareType};
use tsunagu_store::geo::{self, Area, Municipality};
use tsunagu_store::resources::{
    self, Availability, CareTypeNote, Category, HistoryEntry, PAGE_SIZE, PRINT_LIMIT, Resource,
    ResourceInput, ResourceRow, SearchQuery, Viewer, WindowGroup,
};

use super::{render, render_status};
use crate::AppState;
use crate::ctx::{Ctx, redirect_with_flash};
use crate::error::AppError;
use crate::forms::{Choice, Field, FormData, summary};
use crate::layout::Layout;
use crate::routes::AppRouter;

pub fn routes(r: AppRouter) -> AppRouter {
    r.get("/resources", Action::ViewResources, list)
        .get("/resources/new", Action::ManageResources, new_page)
        .post("/resources/new", Action::ManageResources, new_submit)
        .get("/resources/review", Action::ManageResources, review)
        .get(
            "/resources/categories",
            Action::ManageResources,
            categories_page,
        )
        .post(
            "/resources/categories",
            Action::ManageResources,
            category_add,
        )
        .post(
            "/resources/categories/{id}/rename",
            Action::ManageResources,
            category_rename,
        )
        .post(
            "/resources/categories/{id}/up",
            Action::ManageResources,
            category_up,
        )
        .post(
            "/resources/categories/{id}/down",
            Action::ManageResources,
            category_down,
        )
        .post(
            "/resources/categories/{id}/retire",
            Action::ManageResources,
            category_retire,
        )
        .post(
            "/resources/categories/{id}/reinstate",
            Action::ManageResources,
            category_reinstate,
        )
        .get("/resources/{id}", Action::ViewResources, detail)
        .get("/resources/{id}/edit", Action::ManageResources, edit_page)
        .post("/resources/{id}/edit", Action::ManageResources, edit_submit)
        .post("/resources/{id}/retire", Action::ManageResources, retire)
        .post(
            "/resources/{id}/reinstate",
            Action::ManageResources,
            reinstate,
        )
        .post(
            "/resources/{id}/availability",
            Action::ManageResources,
            availability,
        )
        .post(
            "/resources/{id}/verified",
            Action::ManageResources,
            verified,
        )
        .get("/windows", Action::ViewResources, windows)
        .get("/directory", Action::Public, directory)
        .get("/directory/windows", Action::Public, directory_windows)
        .get("/directory/{id}", Action::Public, directory_detail)
}

// ---------------------------------------------------------------------------------------------
// Reference lists

/// The lists the search form and the edit form choose from.
struct Refs {
    categories: Vec<Category>,
    areas: Vec<Area>,
    munis: Vec<Municipality>,
    /// Current care types, in the code list's order.
    care: Vec<CareType>,
    /// Short labels of every care type, retired ones included.
    short: HashMap<String, String>,
}

async fn refs(st: &AppState) -> Result<Refs, AppError> {
    let all_care = care_types::list(&st.db, true).await?;
    Ok(Refs {
        categories: resources::categories(&st.db, false).await?,
        areas: geo::areas(&st.db, &st.cfg.prefecture_code).await?,
        munis: geo::municipalities(&st.db, &st.cfg.prefecture_code, false).await?,
        short: short_labels(&all_care),
        care: all_care.into_iter().filter(|c| !c.retired).collect(),
    })
}

impl Refs {
    fn short(&self, code: &str, name: &str) -> String {
        self.short
            .get(code)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }
}

/// Tag-sized care-type names: the part before the parenthesis (人工呼吸器の管理), unless
/// another kind shares it (経管栄養 has two); then the parenthesis is kept, cut at a colon and
/// to its first item: 経管栄養（経鼻胃管など）, 導尿（持続的導尿）.
fn short_labels(list: &[CareType]) -> HashMap<String, String> {
    let prefix = |n: &str| n.split('（').next().unwrap_or(n).trim().to_string();
    list.iter()
        .map(|c| {
            let p = prefix(&c.name);
            let shared = list.iter().filter(|o| prefix(&o.name) == p).count() > 1;
            let label = match c.name.split_once('（') {
                _ if p.is_empty() => c.name.clone(),
                Some((_, rest)) if shared => {
                    let inner = rest.trim_end_matches('）');
                    let inner = inner.split('：').next().unwrap_or(inner);
                    match inner.split_once('・') {
                        Some((first, _)) => format!("{p}（{first}など）"),
                        None => format!("{p}（{inner}）"),
                    }
                }
                _ => p,
            };
            (c.code.clone(), label)
        })
        .collect()
}

/// A stored date in 和暦, or a word when there is none.
fn date_or(stored: Option<&str>, none: &str) -> String {
    stored
        .map(resources::wareki)
        .unwrap_or_else(|| none.to_string())
}

/// "この機能の主担当：…" for the pages of function 1 (consultation), from the role matrix.
async fn consultation_lead(st: &AppState) -> Result<String, AppError> {
    let leads = st.matrix().await?.leads("consultation");
    Ok(if leads.is_empty() {
        String::new()
    } else {
        format!("この機能の主担当：{}", leads.join("、"))
    })
}

// ---------------------------------------------------------------------------------------------
// Search parameters and links

/// Availability filter values of the search form.
const AVAILABILITY_FILTERS: [(&str, &str); 6] = [
    ("", "すべて"),
    ("open", "空きあり・空きわずか"),
    ("available", "空きあり"),
    ("limited", "空きわずか"),
    ("full", "空きなし"),
    ("unknown", "不明"),
];

fn availability_filter(v: &str) -> Vec<Availability> {
    match v {
        "open" => vec![Availability::Available, Availability::Limited],
        other => Availability::from_code(other).into_iter().collect(),
    }
}

/// Searches people often make: a category (by its stable code) and kinds of care. They keep
/// the area and municipality already chosen, so an area and one of these is two clicks.
const QUICK_SEARCHES: [(&str, &[&str]); 6] = [
    ("short_stay_medical", &["ventilator"]),
    ("home_nursing", &["ventilator"]),
    ("nursery", &["tube_feeding"]),
    ("medical_child_development", &[]),
    ("respite", &[]),
    ("consultation_support", &[]),
];

/// The search as given in the URL (checked against the lists; unknown values are dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Params {
    q: String,
    municipality: String,
    area: String,
    category: String,
    care: Vec<String>,
    age: String,
    availability: String,
    retired: bool,
}

impl Params {
    /// Reads the query string; returns the parameters and a message for a bad age.
    fn parse(raw: &str, refs: &Refs, manage: bool) -> (Params, Option<String>) {
        let f = FormData::parse_str(raw);
        let keep = |v: &str, ok: bool| if ok { v.to_string() } else { String::new() };
        let municipality = f.get("municipality").trim();
        let area = f.get("area").trim();
        let category = f.get("category").trim();
        let availability = f.get("availability").trim();
        let mut care: Vec<String> = f
            .all("care")
            .into_iter()
            .map(str::trim)
            .filter(|c| refs.care.iter().any(|x| x.code == *c))
            .map(str::to_string)
            .collect();
        care.sort_by_key(|c| refs.care.iter().position(|x| x.code == *c));
        care.dedup();
        let age = fold_width_str(f.get("age").trim());
        let age_error = (!age.is_empty() && parse_age(&age).is_none())
            .then(|| "年齢は0から99までの数字で入力してください".to_string());
        (
            Params {
                q: f.get("q").trim().chars().take(100).collect(),
                municipality: keep(
                    municipality,
                    refs.munis.iter().any(|m| m.code6 == municipality),
                ),
                area: keep(area, refs.areas.iter().any(|a| a.id == area)),
                category: keep(category, refs.categories.iter().any(|c| c.id == category)),
                care,
                age,
                availability: keep(
                    availability,
                    AVAILABILITY_FILTERS
                        .iter()
                        .any(|(v, _)| !v.is_empty() && *v == availability),
                ),
                retired: manage && f.get("retired") == "1",
            },
            age_error,
        )
    }

    fn query(&self) -> SearchQuery {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        SearchQuery {
            keyword: self.q.clone(),
            municipality_code6: some(&self.municipality),
            area_id: some(&self.area),
            category_id: some(&self.category),
            care_types: self.care.clone(),
            age: parse_age(&self.age),
            availability: availability_filter(&self.availability),
            include_retired: self.retired,
        }
    }

    fn is_empty(&self) -> bool {
        *self == Params::default()
    }

    /// `?q=…&area=…` (empty values left out), with a page number or the print flag.
    fn href(&self, base: &str, page: Option<i64>, print: bool) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("area", &self.area),
            ("municipality", &self.municipality),
            ("category", &self.category),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        for c in &self.care {
            s.append_pair("care", c);
        }
        for (k, v) in [("age", &self.age), ("availability", &self.availability)] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if self.retired {
            s.append_pair("retired", "1");
        }
        if let Some(p) = page.filter(|p| *p > 1) {
            s.append_pair("page", &p.to_string());
        }
        if print {
            s.append_pair("print", "1");
        }
        let q = s.finish();
        if q.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{q}")
        }
    }
}

fn parse_age(s: &str) -> Option<i64> {
    fold_width_str(s.trim())
        .parse::<i64>()
        .ok()
        .filter(|a| (0..=99).contains(a))
}

struct Link {
    href: String,
    label: String,
    current: bool,
}

struct PageLink {
    href: String,
    label: String,
    current: bool,
}

struct Pager {
    prev: Option<String>,
    next: Option<String>,
    pages: Vec<PageLink>,
    info: String,
}

/// Pages of `total` results, or of at least `total` when `more` (a common keyword is counted up
/// to a point): then the pages go on past the last one counted.
fn pager(params: &Params, base: &str, page: i64, total: i64, more: bool) -> Option<Pager> {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(if more { page + 1 } else { 0 });
    if pages <= 1 {
        return None;
    }
    let first = (page - 1) * PAGE_SIZE + 1;
    let last = if more {
        page * PAGE_SIZE
    } else {
        (page * PAGE_SIZE).min(total)
    };
    let shown: Vec<i64> = (1..=pages)
        .filter(|p| *p == 1 || *p == pages || (*p - page).abs() <= 3)
        .collect();
    Some(Pager {
        prev: (page > 1).then(|| params.href(base, Some(page - 1), false)),
        next: (page < pages).then(|| params.href(base, Some(page + 1), false)),
        pages: shown
            .into_iter()
            .map(|p| PageLink {
                href: params.href(base, Some(p), false),
                label: p.to_string(),
                current: p == page,
            })
            .collect(),
        info: format!("{}中 {first}–{last}件", count_label(total, more)),
    })
}

/// "12件", or "1000件以上" when the count stopped there.
pub(super) fn count_label(total: i64, more: bool) -> String {
    if more {
        format!("{total}件以上")
    } else {
        format!("{total}件")
    }
}

// ---------------------------------------------------------------------------------------------
// Search pages

struct RowView {
    href: String,
    name: String,
    provider: String,
    category: String,
    municipality: String,
    care: Vec<String>,
    availability: Availability,
    confirmed: String,
    age: String,
    phone: String,
    is_public: bool,
    retired: bool,
}

impl RowView {
    fn of(r: &ResourceRow, detail_base: &str, refs: &Refs) -> RowView {
        RowView {
            href: format!("{detail_base}/{}", r.id),
            name: r.name.clone(),
            provider: r.provider_name.clone(),
            category: r.category_name.clone(),
            municipality: r.municipality_name.clone().unwrap_or_default(),
            care: r
                .care_types
                .iter()
                .map(|(code, name)| refs.short(code, name))
                .collect(),
            availability: r.availability,
            confirmed: r
                .availability_confirmed_on
                .as_deref()
                .map(resources::wareki)
                .unwrap_or_default(),
            age: r.age_label(),
            phone: r.phone.clone(),
            is_public: r.is_public,
            retired: r.retired,
        }
    }
}

/// Everything the search form and its results show (shared by `/resources` and
/// `/directory`).
struct SearchView {
    base: &'static str,
    params: Params,
    age_error: Option<String>,
    areas: Vec<Choice>,
    munis: Vec<Choice>,
    categories: Vec<Choice>,
    care: Vec<Choice>,
    availabilities: Vec<Choice>,
    area_links: Vec<Link>,
    quick_links: Vec<Link>,
    rows: Vec<RowView>,
    /// "12件", or "1000件以上" for a common keyword.
    count: String,
    pager: Option<Pager>,
    print_all: bool,
    print_limit: i64,
    print_href: String,
    pages_href: String,
    clear_href: String,
    conditions: String,
    show_retired_option: bool,
    staff: bool,
}

async fn search_view(
    st: &AppState,
    viewer: Viewer,
    raw: &str,
    base: &'static str,
) -> Result<SearchView, AppError> {
    let refs = refs(st).await?;
    let (params, age_error) = Params::parse(raw, &refs, viewer.manages());
    let f = FormData::parse_str(raw);
    let print_all = f.get("print") == "1";
    let page = f
        .get("page")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let query = params.query();
    let found = if print_all {
        resources::search_range(&st.db, viewer, &query, 0, PRINT_LIMIT).await?
    } else {
        resources::search(&st.db, viewer, &query, page).await?
    };
    let mut conditions = Vec::new();
    if !params.q.is_empty() {
        conditions.push(format!("「{}」", params.q));
    }
    let mut areas = vec![Choice::new("", "すべての圏域", params.area.is_empty())];
    for a in &refs.areas {
        if a.id == params.area {
            conditions.push(a.name.clone());
        }
        areas.push(Choice::new(&a.id, &a.name, a.id == params.area));
    }
    let mut munis = vec![Choice::new(
        "",
        "すべての市町村",
        params.municipality.is_empty(),
    )];
    for m in &refs.munis {
        if m.code6 == params.municipality {
            conditions.push(m.name.clone());
        }
        munis.push(Choice::new(
            &m.code6,
            &m.name,
            m.code6 == params.municipality,
        ));
    }
    let mut categories = vec![Choice::new("", "すべての種別", params.category.is_empty())];
    for c in &refs.categories {
        if c.id == params.category {
            conditions.push(c.name.clone());
        }
        categories.push(Choice::new(&c.id, &c.name, c.id == params.category));
    }
    let care: Vec<Choice> = refs
        .care
        .iter()
        .map(|c| {
            let on = params.care.contains(&c.code);
            let label = refs.short(&c.code, &c.name);
            if on {
                conditions.push(label.clone());
            }
            Choice::new(&c.code, label, on)
        })
        .collect();
    if let Some(age) = parse_age(&params.age) {
        conditions.push(format!("{age}歳"));
    }
    let availabilities = AVAILABILITY_FILTERS
        .iter()
        .map(|(v, l)| {
            if !v.is_empty() && *v == params.availability {
                conditions.push(format!("空き状況：{l}"));
            }
            Choice::new(*v, *l, *v == params.availability)
        })
        .collect();
    let mut area_links = vec![Link {
        href: Params {
            area: String::new(),
            ..params.clone()
        }
        .href(base, None, false),
        label: "すべての圏域".into(),
        current: params.area.is_empty(),
    }];
    for a in &refs.areas {
        area_links.push(Link {
            href: Params {
                area: a.id.clone(),
                municipality: String::new(),
                ..params.clone()
            }
            .href(base, None, false),
            label: a.name.clone(),
            current: a.id == params.area,
        });
    }
    let mut quick_links = Vec::new();
    for (code, care_codes) in QUICK_SEARCHES {
        let Some(cat) = refs
            .categories
            .iter()
            .find(|c| c.code.as_deref() == Some(code))
        else {
            continue;
        };
        let care: Vec<String> = care_codes
            .iter()
            .filter(|c| refs.care.iter().any(|x| x.code == **c))
            .map(|c| c.to_string())
            .collect();
        let label = if care.is_empty() {
            cat.name.clone()
        } else {
            let names: Vec<String> = care.iter().map(|c| refs.short(c, c)).collect();
            format!("{}に対応する{}", names.join("・"), cat.name)
        };
        let p = Params {
            category: cat.id.clone(),
            care,
            ..params.clone()
        };
        quick_links.push(Link {
            current: p.category == params.category && p.care == params.care,
            href: p.href(base, None, false),
            label,
        });
    }
    let detail_base = if base == "/directory" {
        "/directory"
    } else {
        "/resources"
    };
    Ok(SearchView {
        base,
        pager: if print_all {
            None
        } else {
            pager(&params, base, page, found.total, found.more)
        },
        print_href: params.href(base, None, true),
        pages_href: params.href(base, None, false),
        print_limit: PRINT_LIMIT,
        clear_href: base.to_string(),
        rows: found
            .rows
            .iter()
            .map(|r| RowView::of(r, detail_base, &refs))
            .collect(),
        count: count_label(found.total, found.more),
        print_all,
        conditions: conditions.join("・"),
        show_retired_option: viewer.manages(),
        staff: !viewer.is_public(),
        age_error,
        areas,
        munis,
        categories,
        care,
        availabilities,
        area_links,
        quick_links,
        params,
    })
}

#[derive(Template)]
#[template(path = "resources/list.html")]
struct ListPage {
    layout: Layout,
    view: SearchView,
    lead: String,
    can_manage: bool,
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let viewer = Viewer::of(Some(&actor));
    let view = search_view(&st, viewer, query.as_deref().unwrap_or(""), "/resources").await?;
    render(&ListPage {
        layout: Layout::new(&st, &ctx, "社会資源"),
        lead: consultation_lead(&st).await?,
        can_manage: viewer.manages(),
        view,
    })
}

#[derive(Template)]
#[template(path = "resources/directory.html")]
struct DirectoryPage {
    layout: Layout,
    view: SearchView,
    printed_on: String,
    signed_in: bool,
}

async fn directory(
    State(st): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let view = search_view(
        &st,
        Viewer::Public,
        query.as_deref().unwrap_or(""),
        "/directory",
    )
    .await?;
    render(&DirectoryPage {
        layout: Layout::new(&st, &ctx, "社会資源を探す"),
        printed_on: resources::wareki(&resources::today()),
        signed_in: ctx.fully_signed_in(),
        view,
    })
}

// ---------------------------------------------------------------------------------------------
// Detail

/// (area or municipality names) of a service area: whole areas by name, the rest one by one.
fn summarize_service_area(areas: &[Area], served: &[(String, String)]) -> Vec<String> {
    let codes: HashSet<&str> = served.iter().map(|(c, _)| c.as_str()).collect();
    let mut covered: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for a in areas {
        if !a.municipalities.is_empty()
            && a.municipalities
                .iter()
                .all(|(c, _)| codes.contains(c.as_str()))
        {
            out.push(format!("{}（全域）", a.name));
            covered.extend(a.municipalities.iter().map(|(c, _)| c.as_str()));
        }
    }
    out.extend(
        served
            .iter()
            .filter(|(c, _)| !covered.contains(c.as_str()))
            .map(|(_, n)| n.clone()),
    );
    out
}

/// What the detail pages show besides the record itself.
struct DetailView {
    r: Resource,
    area_summary: Vec<String>,
    confirmed: String,
    last_verified: String,
    website_ok: bool,
    care: Vec<(String, String)>,
}

async fn detail_view(st: &AppState, r: Resource) -> Result<DetailView, AppError> {
    let areas = geo::areas(&st.db, &st.cfg.prefecture_code).await?;
    let mut confirmed = date_or(r.availability_confirmed_on.as_deref(), "");
    if !confirmed.is_empty() {
        confirmed = match &r.availability_confirmed_by_name {
            Some(n) => format!("{confirmed}確認（{n}）"),
            None => format!("{confirmed}確認"),
        };
    }
    Ok(DetailView {
        area_summary: summarize_service_area(&areas, &r.service_area),
        confirmed,
        last_verified: date_or(r.last_verified_on.as_deref(), "未確認"),
        website_ok: r.website.starts_with("https://") || r.website.starts_with("http://"),
        care: r
            .care_types
            .iter()
            .map(|c| (c.name.clone(), c.note.clone()))
            .collect(),
        r,
    })
}

#[derive(Template)]
#[template(path = "resources/detail.html")]
struct DetailPage {
    layout: Layout,
    d: DetailView,
    internals: bool,
    can_manage: bool,
    availabilities: Vec<Choice>,
    history: Vec<HistoryEntry>,
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    ctx.authorize(Action::ViewResources, Target::Any)?;
    let viewer = Viewer::of(Some(&actor));
    let r = resources::get(&st.db, viewer, &id).await?;
    let history = if viewer.manages() {
        resources::history(&st.db, &r.id).await?
    } else {
        Vec::new()
    };
    let availabilities = Availability::ALL
        .into_iter()
        .map(|a| Choice::new(a.code(), a.label(), a == r.availability))
        .collect();
    render(&DetailPage {
        layout: Layout::new(&st, &ctx, r.name.clone()),
        internals: viewer.sees_internals(),
        can_manage: viewer.manages(),
        availabilities,
        history,
        d: detail_view(&st, r).await?,
    })
}

#[derive(Template)]
#[template(path = "resources/directory_detail.html")]
struct DirectoryDetailPage {
    layout: Layout,
    d: DetailView,
    internals: bool,
}

async fn directory_detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let r = resources::get(&st.db, Viewer::Public, &id).await?;
    render(&DirectoryDetailPage {
        layout: Layout::new(&st, &ctx, r.name.clone()),
        internals: false,
        d: detail_view(&st, r).await?,
    })
}

// ---------------------------------------------------------------------------------------------
// Windows

#[derive(Template)]
#[template(path = "resources/windows.html")]
struct WindowsPage {
    layout: Layout,
    groups: Vec<WindowGroup>,
    detail_base: &'static str,
    internals: bool,
    staff: bool,
    lead: String,
    prefecture_name: String,
}

async fn windows(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let actor = ctx.require_actor()?;
    let viewer = Viewer::of(Some(&actor));
    render(&WindowsPage {
        layout: Layout::new(&st, &ctx, "市町村の相談窓口"),
        groups: resources::windows(&st.db, viewer, &st.cfg.prefecture_code).await?,
        detail_base: "/resources",
        internals: viewer.sees_internals(),
        staff: true,
        lead: consultation_lead(&st).await?,
        prefecture_name: st.cfg.prefecture_name.clone(),
    })
}

async fn directory_windows(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    render(&WindowsPage {
        layout: Layout::new(&st, &ctx, "市町村の相談窓口"),
        groups: resources::windows(&st.db, Viewer::Public, &st.cfg.prefecture_code).await?,
        detail_base: "/directory",
        internals: false,
        staff: false,
        lead: String::new(),
        prefecture_name: st.cfg.prefecture_name.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Form (new and edit)

/// The order fields appear in the form (and their messages in the error summary).
const FORM_ORDER: [&str; 24] = [
    "category",
    "provider_name",
    "name",
    "description",
    "municipality",
    "postal_code",
    "address",
    "phone",
    "fax",
    "email",
    "website",
    "hours",
    "age_min",
    "age_max",
    "eligibility_note",
    "fees_note",
    "capacity_note",
    "availability",
    "served",
    "care",
    "internal_note",
    "direct_line",
    "external_id",
    "last_verified_on",
];

fn in_form_order(errors: FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for f in FORM_ORDER {
        if let Some(m) = errors.get(f) {
            out.add(f, m);
        }
    }
    for (f, m) in errors.iter() {
        out.add(f, m);
    }
    out
}

/// The form as typed: every value kept as text so that bad input comes back unchanged.
#[derive(Debug, Clone, Default)]
struct Typed {
    category: String,
    provider_name: String,
    name: String,
    description: String,
    municipality: String,
    postal_code: String,
    address: String,
    phone: String,
    fax: String,
    email: String,
    website: String,
    hours: String,
    age_min: String,
    age_max: String,
    eligibility_note: String,
    fees_note: String,
    capacity_note: String,
    availability: String,
    served: Vec<String>,
    areas: Vec<String>,
    care: Vec<String>,
    care_notes: HashMap<String, String>,
    internal_note: String,
    direct_line: String,
    external_id: String,
    is_public: bool,
    verified_now: bool,
}

impl Typed {
    fn from_form(f: &FormData) -> Typed {
        let g = |k: &str| f.get(k).to_string();
        let care_notes =
            f.0.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("care_note_")
                        .map(|code| (code.to_string(), v.clone()))
                })
                .collect();
        Typed {
            category: g("category"),
            provider_name: g("provider_name"),
            name: g("name"),
            description: g("description"),
            municipality: g("municipality"),
            postal_code: g("postal_code"),
            address: g("address"),
            phone: g("phone"),
            fax: g("fax"),
            email: g("email"),
            website: g("website"),
            hours: g("hours"),
            age_min: g("age_min"),
            age_max: g("age_max"),
            eligibility_note: g("eligibility_note"),
            fees_note: g("fees_note"),
            capacity_note: g("capacity_note"),
            availability: g("availability"),
            served: f.all("served").into_iter().map(str::to_string).collect(),
            areas: f.all("area").into_iter().map(str::to_string).collect(),
            care: f.all("care").into_iter().map(str::to_string).collect(),
            care_notes,
            internal_note: g("internal_note"),
            direct_line: g("direct_line"),
            external_id: g("external_id"),
            is_public: f.get("is_public") == "1",
            verified_now: f.get("verified_now") == "1",
        }
    }

    fn from_resource(r: &Resource) -> Typed {
        let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        Typed {
            category: r.category_id.clone(),
            provider_name: r.provider_name.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            municipality: r.municipality_code6.clone().unwrap_or_default(),
            postal_code: r.postal_code.clone(),
            address: r.address.clone(),
            phone: r.phone.clone(),
            fax: r.fax.clone(),
            email: r.email.clone(),
            website: r.website.clone(),
            hours: r.hours.clone(),
            age_min: opt(r.age_min),
            age_max: opt(r.age_max),
            eligibility_note: r.eligibility_note.clone(),
            fees_note: r.fees_note.clone(),
            capacity_note: r.capacity_note.clone(),
            availability: r.availability.code().to_string(),
            served: r.service_area.iter().map(|(c, _)| c.clone()).collect(),
            areas: Vec::new(),
            care: r.care_types.iter().map(|c| c.code.clone()).collect(),
            care_notes: r
                .care_types
                .iter()
                .map(|c| (c.code.clone(), c.note.clone()))
                .collect(),
            internal_note: r.internal_note.clone(),
            direct_line: r.direct_line.clone(),
            external_id: r.external_id.clone().unwrap_or_default(),
            is_public: r.is_public,
            verified_now: false,
        }
    }

    /// Turns what was typed into an input; `existing` is the resource being edited (its
    /// retired category, merged-away municipality or retired care types stay choosable).
    fn to_input(&self, refs: &Refs, existing: Option<&Resource>) -> (ResourceInput, FieldErrors) {
        let mut e = FieldErrors::new();
        let category = self.category.trim();
        if !category.is_empty()
            && !refs.categories.iter().any(|c| c.id == category)
            && existing.is_none_or(|r| r.category_id != category)
        {
            e.add("category", "種別を一覧から選んでください");
        }
        let municipality = self.municipality.trim();
        let muni_ok = |code: &str| {
            refs.munis.iter().any(|m| m.code6 == code)
                || existing.is_some_and(|r| {
                    r.municipality_code6.as_deref() == Some(code)
                        || r.service_area.iter().any(|(c, _)| c == code)
                })
        };
        if !municipality.is_empty() && !muni_ok(municipality) {
            e.add("municipality", "市町村を一覧から選んでください");
        }
        let mut served: Vec<String> = Vec::new();
        for code in &self.served {
            if muni_ok(code) {
                served.push(code.clone());
            } else {
                e.add("served", "サービス提供地域は一覧から選んでください");
            }
        }
        for area in &self.areas {
            match refs.areas.iter().find(|a| a.id == *area) {
                Some(a) => served.extend(a.municipalities.iter().map(|(c, _)| c.clone())),
                None => e.add("served", "サービス提供地域は一覧から選んでください"),
            }
        }
        let mut care = Vec::new();
        for code in &self.care {
            let known = refs.care.iter().any(|c| c.code == *code)
                || existing.is_some_and(|r| r.care_types.iter().any(|c| c.code == *code));
            if !known {
                e.add("care", "医療的ケアの種別は一覧から選んでください");
                continue;
            }
            care.push(CareTypeNote {
                code: code.clone(),
                note: self.care_notes.get(code).cloned().unwrap_or_default(),
            });
        }
        if self
            .care_notes
            .iter()
            .any(|(code, note)| !note.trim().is_empty() && !self.care.contains(code))
        {
            e.add(
                "care",
                "補足を書いた医療的ケアには、チェックも入れてください",
            );
        }
        let mut age = |field: &str, v: &str| -> Option<i64> {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            let parsed = parse_age(v);
            if parsed.is_none() {
                e.add(field, "対象年齢は0から99までの数字で入力してください");
            }
            parsed
        };
        let age_min = age("age_min", &self.age_min);
        let age_max = age("age_max", &self.age_max);
        if existing.is_none() && Availability::from_code(&self.availability).is_none() {
            e.add("availability", "空き状況を一覧から選んでください");
        }
        let last_verified_on = match existing {
            Some(r) if !self.verified_now => r.last_verified_on.clone(),
            _ => Some(resources::today()),
        };
        let input = ResourceInput {
            external_id: Some(self.external_id.trim().to_string()).filter(|s| !s.is_empty()),
            category_id: category.to_string(),
            provider_name: self.provider_name.trim().to_string(),
            name: self.name.trim().to_string(),
            description: self.description.trim().to_string(),
            municipality_code6: Some(municipality.to_string()).filter(|s| !s.is_empty()),
            postal_code: fold_width_str(self.postal_code.trim()),
            address: self.address.trim().to_string(),
            phone: fold_width_str(self.phone.trim()),
            fax: fold_width_str(self.fax.trim()),
            email: fold_width_str(self.email.trim()),
            website: self.website.trim().to_string(),
            hours: self.hours.trim().to_string(),
            age_min,
            age_max,
            eligibility_note: self.eligibility_note.trim().to_string(),
            fees_note: self.fees_note.trim().to_string(),
            capacity_note: self.capacity_note.trim().to_string(),
            service_area: served,
            care_types: care,
            internal_note: self.internal_note.trim().to_string(),
            direct_line: fold_width_str(self.direct_line.trim()),
            is_public: self.is_public,
            last_verified_on,
        }
        .normalised();
        for (f, m) in resources::validate(&input).iter() {
            e.add(f, m);
        }
        (input, in_form_order(e))
    }
}

struct AreaGroup {
    id: String,
    name: String,
    checked: bool,
    municipalities: Vec<Choice>,
}

struct CareRow {
    code: String,
    name: String,
    short: String,
    checked: bool,
    note: String,
}

#[derive(Template)]
#[template(path = "resources/form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    action: String,
    cancel_href: String,
    submit_label: String,
    errors: Vec<(String, String)>,
    basic: Vec<Field>,
    contact: Vec<Field>,
    ages: Vec<Field>,
    terms: Vec<Field>,
    internal: Vec<Field>,
    publish: Vec<Field>,
    area_groups: Vec<AreaGroup>,
    served_error: Option<String>,
    care: Vec<CareRow>,
    care_error: Option<String>,
}

fn build_form(
    layout: Layout,
    t: &Typed,
    refs: &Refs,
    existing: Option<&Resource>,
    errors: &FieldErrors,
) -> FormPage {
    let text = |name: &'static str, label: &str, value: &str| {
        Field::new(name, label, "text").value(value).errors(errors)
    };
    let mut cats = vec![Choice::new("", "選んでください", t.category.is_empty())];
    cats.extend(
        refs.categories
            .iter()
            .map(|c| Choice::new(&c.id, &c.name, c.id == t.category)),
    );
    if let Some(r) = existing
        && !refs.categories.iter().any(|c| c.id == r.category_id)
    {
        cats.push(Choice::new(
            &r.category_id,
            format!("{}（使用終了）", r.category_name),
            r.category_id == t.category,
        ));
    }
    let mut munis = vec![Choice::new("", "指定なし", t.municipality.is_empty())];
    munis.extend(
        refs.munis
            .iter()
            .map(|m| Choice::new(&m.code6, &m.name, m.code6 == t.municipality)),
    );
    if let Some(r) = existing
        && let Some(code) = &r.municipality_code6
        && !refs.munis.iter().any(|m| &m.code6 == code)
    {
        munis.push(Choice::new(
            code,
            format!(
                "{}（廃止された市町村）",
                r.municipality_name.clone().unwrap_or_else(|| code.clone())
            ),
            *code == t.municipality,
        ));
    }
    let basic = vec![
        Field::new("category", "種別", "select")
            .required()
            .choices(cats)
            .errors(errors),
        text("provider_name", "運営法人・団体名", &t.provider_name)
            .required()
            .hint("例：社会福祉法人〇〇会、〇〇市")
            .autocomplete("organization"),
        text("name", "事業所・サービスの名称", &t.name)
            .required()
            .hint("例：〇〇訪問看護ステーション、保健福祉部 障がい福祉課"),
        Field::new("description", "説明", "textarea")
            .value(&t.description)
            .hint("一般向けにも表示されます")
            .errors(errors),
    ];
    let contact = vec![
        Field::new("municipality", "所在する市町村", "select")
            .choices(munis)
            .errors(errors),
        text("postal_code", "郵便番号", &t.postal_code)
            .hint("例：020-0023")
            .inputmode("numeric")
            .autocomplete("postal-code"),
        text("address", "住所", &t.address).autocomplete("street-address"),
        Field::new("phone", "電話番号", "tel")
            .value(&t.phone)
            .hint("例：019-629-5446")
            .inputmode("tel")
            .errors(errors),
        Field::new("fax", "FAX番号", "tel")
            .value(&t.fax)
            .inputmode("tel")
            .errors(errors),
        Field::new("email", "メールアドレス", "email")
            .value(&t.email)
            .errors(errors),
        Field::new("website", "ウェブサイト", "url")
            .value(&t.website)
            .hint("https:// で始まるアドレス")
            .errors(errors),
        text("hours", "開所・受付時間", &t.hours).hint("例：平日 8:30〜17:15"),
    ];
    let ages = vec![
        text("age_min", "対象年齢（下限・歳）", &t.age_min).inputmode("numeric"),
        text("age_max", "対象年齢（上限・歳）", &t.age_max).inputmode("numeric"),
    ];
    let mut terms = vec![
        Field::new("eligibility_note", "利用の条件", "textarea")
            .value(&t.eligibility_note)
            .hint("例：受給者証が必要、初回は面談あり")
            .errors(errors),
        Field::new("fees_note", "費用", "textarea")
            .value(&t.fees_note)
            .errors(errors),
        Field::new("capacity_note", "定員・受け入れ", "textarea")
            .value(&t.capacity_note)
            .hint("例：医療型 4床、医療的ケア児 2名まで")
            .errors(errors),
    ];
    if existing.is_none() {
        terms.push(
            Field::new("availability", "空き状況", "select")
                .choices(
                    Availability::ALL
                        .into_iter()
                        .map(|a| Choice::new(a.code(), a.label(), a.code() == t.availability))
                        .collect(),
                )
                .hint("「不明」以外を選ぶと、今日あなたが確認したものとして記録します")
                .errors(errors),
        );
    }
    let internal = vec![
        Field::new("internal_note", "内部メモ", "textarea")
            .value(&t.internal_note)
            .hint("受け入れ調整のこつ、担当者など。一般には表示されません")
            .errors(errors),
        Field::new("direct_line", "直通電話", "tel")
            .value(&t.direct_line)
            .hint("関係機関向けの直通番号。一般には表示されません")
            .inputmode("tel")
            .errors(errors),
    ];
    let mut publish = vec![
        Field::new("is_public", "一般公開", "checkboxes")
            .choices(vec![Choice::new(
                "1",
                "ログインしなくても見られる社会資源マップに掲載する",
                t.is_public,
            )])
            .hint("公開しても、内部メモと直通電話は表示されません")
            .errors(errors),
    ];
    if let Some(r) = existing {
        publish.push(
            Field::new("verified_now", "内容の確認", "checkboxes")
                .choices(vec![Choice::new(
                    "1",
                    "事業所に確認した内容で保存する（最終確認日を今日にする）",
                    t.verified_now,
                )])
                .hint(format!(
                    "最終確認日：{}",
                    date_or(r.last_verified_on.as_deref(), "未確認")
                ))
                .errors(errors),
        );
    }
    publish.push(
        text("external_id", "外部ID", &t.external_id)
            .hint("取り込んだファイルの識別子。通常は空欄のままにします"),
    );
    let selected: HashSet<&str> = t.served.iter().map(String::as_str).collect();
    let mut area_groups: Vec<AreaGroup> = refs
        .areas
        .iter()
        .map(|a| AreaGroup {
            id: a.id.clone(),
            name: a.name.clone(),
            checked: t.areas.contains(&a.id),
            municipalities: a
                .municipalities
                .iter()
                .map(|(c, n)| Choice::new(c, n, selected.contains(c.as_str())))
                .collect(),
        })
        .collect();
    let mut others: Vec<Choice> = refs
        .munis
        .iter()
        .filter(|m| !refs.areas.iter().any(|a| a.has(&m.code6)))
        .map(|m| Choice::new(&m.code6, &m.name, selected.contains(m.code6.as_str())))
        .collect();
    if let Some(r) = existing {
        for (c, n) in &r.service_area {
            if !refs.munis.iter().any(|m| &m.code6 == c) {
                others.push(Choice::new(
                    c,
                    format!("{n}（廃止された市町村）"),
                    selected.contains(c.as_str()),
                ));
            }
        }
    }
    if !others.is_empty() {
        area_groups.push(AreaGroup {
            id: String::new(),
            name: "圏域に属さない市町村".into(),
            checked: false,
            municipalities: others,
        });
    }
    let mut care: Vec<CareRow> = refs
        .care
        .iter()
        .map(|c| CareRow {
            code: c.code.clone(),
            name: c.name.clone(),
            short: refs.short(&c.code, &c.name),
            checked: t.care.contains(&c.code),
            note: t.care_notes.get(&c.code).cloned().unwrap_or_default(),
        })
        .collect();
    if let Some(r) = existing {
        for c in &r.care_types {
            if !refs.care.iter().any(|x| x.code == c.code) {
                care.push(CareRow {
                    code: c.code.clone(),
                    name: format!("{}（使用終了）", c.name),
                    short: refs.short(&c.code, &c.name),
                    checked: t.care.contains(&c.code),
                    note: t.care_notes.get(&c.code).cloned().unwrap_or_default(),
                });
            }
        }
    }
    let (heading, action, cancel_href, submit_label) = match existing {
        Some(r) => (
            format!("{}の編集", r.name),
            format!("/resources/{}/edit", r.id),
            format!("/resources/{}", r.id),
            "保存する",
        ),
        None => (
            "社会資源の登録".to_string(),
            "/resources/new".to_string(),
            "/resources".to_string(),
            "登録する",
        ),
    };
    FormPage {
        layout,
        heading,
        action,
        cancel_href,
        submit_label: submit_label.to_string(),
        errors: summary(errors),
        basic,
        contact,
        ages,
        terms,
        internal,
        publish,
        area_groups,
        served_error: errors.get("served").map(str::to_string),
        care,
        care_error: errors.get("care").map(str::to_string),
    }
}

/// A store refusal the user can fix, as a message on the field it concerns.
fn store_error_to_field(e: StoreError) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::new();
    match e {
        StoreError::Conflict(m) => errors.add("external_id", m),
        StoreError::Invalid(m) => {
            let field = if m.contains("医療的ケア") {
                "care"
            } else if m.contains("市町村") {
                "municipality"
            } else if m.contains("種別") {
                "category"
            } else {
                "name"
            };
            errors.add(field, m);
        }
        other => return Err(other.into()),
    }
    Ok(errors)
}

async fn form_response(
    st: &AppState,
    ctx: &Ctx,
    typed: &Typed,
    existing: Option<&Resource>,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let refs = refs(st).await?;
    let title = match existing {
        Some(r) => format!("{}の編集", r.name),
        None => "社会資源の登録".to_string(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = build_form(Layout::new(st, ctx, title), typed, &refs, existing, errors);
    render_status(status, &page)
}

/// The resource being managed, with its internal fields (managers see them).
async fn managed(st: &AppState, ctx: &Ctx, id: &str) -> Result<Resource, AppError> {
    let actor = ctx.require_actor()?;
    ctx.authorize(Action::ManageResources, Target::Any)?;
    Ok(resources::get(&st.db, Viewer::of(Some(&actor)), id).await?)
}

async fn new_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let typed = Typed {
        is_public: true,
        availability: Availability::Unknown.code().to_string(),
        ..Typed::default()
    };
    form_response(&st, &ctx, &typed, None, &FieldErrors::new()).await
}

async fn new_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    ctx.require_actor()?;
    let typed = Typed::from_form(&form);
    let refs = refs(&st).await?;
    let (input, errors) = typed.to_input(&refs, None);
    let errors = if errors.is_empty() {
        let mut tx = st.db.begin().await?;
        match resources::save(&mut tx, &ctx.audit(), None, &input).await {
            Ok(id) => {
                let availability = Availability::from_code(&typed.availability).unwrap_or_default();
                if availability != Availability::Unknown {
                    resources::set_availability(&mut tx, &ctx.audit(), &id, availability).await?;
                }
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    &format!("/resources/{id}"),
                    "success",
                    &format!("「{}」を登録しました。", input.name),
                ));
            }
            Err(e) => store_error_to_field(e)?,
        }
    } else {
        errors
    };
    form_response(&st, &ctx, &typed, None, &errors).await
}

async fn edit_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let r = managed(&st, &ctx, &id).await?;
    form_response(
        &st,
        &ctx,
        &Typed::from_resource(&r),
        Some(&r),
        &FieldErrors::new(),
    )
    .await
}

async fn edit_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let r = managed(&st, &ctx, &id).await?;
    let typed = Typed::from_form(&form);
    let refs = refs(&st).await?;
    let (input, errors) = typed.to_input(&refs, Some(&r));
    let errors = if errors.is_empty() {
        let mut tx = st.db.begin().await?;
        match resources::save(&mut tx, &ctx.audit(), Some(&r.id), &input).await {
            Ok(_) => {
                tx.commit().await?;
                return Ok(redirect_with_flash(
                    &st,
                    &format!("/resources/{}", r.id),
                    "success",
                    &format!("「{}」を保存しました。", input.name),
                ));
            }
            Err(e) => store_error_to_field(e)?,
        }
    } else {
        errors
    };
    form_response(&st, &ctx, &typed, Some(&r), &errors).await
}

// ---------------------------------------------------------------------------------------------
// Retire, availability, verification

async fn set_retired(
    st: AppState,
    ctx: Ctx,
    id: String,
    retired: bool,
) -> Result<Response, AppError> {
    let r = managed(&st, &ctx, &id).await?;
    let mut tx = st.db.begin().await?;
    let changed = if retired {
        resources::retire(&mut tx, &ctx.audit(), &r.id).await?
    } else {
        resources::reinstate(&mut tx, &ctx.audit(), &r.id).await?
    };
    tx.commit().await?;
    let back = format!("/resources/{}", r.id);
    let (kind, msg) = match (changed, retired) {
        (true, true) => (
            "success",
            format!(
                "「{}」の掲載を終了しました。検索と一般向けのページには表示されません。",
                r.name
            ),
        ),
        (true, false) => ("success", format!("「{}」の掲載を再開しました。", r.name)),
        (false, true) => ("info", "この社会資源はすでに掲載を終了しています。".into()),
        (false, false) => ("info", "この社会資源はすでに掲載中です。".into()),
    };
    Ok(redirect_with_flash(&st, &back, kind, &msg))
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

async fn availability(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let r = managed(&st, &ctx, &id).await?;
    let back = format!("/resources/{}", r.id);
    let Some(a) = Availability::from_code(form.get("availability")) else {
        return Ok(redirect_with_flash(
            &st,
            &back,
            "error",
            "空き状況を一覧から選んでください。",
        ));
    };
    let mut tx = st.db.begin().await?;
    resources::set_availability(&mut tx, &ctx.audit(), &r.id, a).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        &back,
        "success",
        &format!(
            "空き状況を「{}」として記録しました（{}確認）。",
            a.label(),
            resources::wareki(&resources::today())
        ),
    ))
}

async fn verified(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let r = managed(&st, &ctx, &id).await?;
    let mut tx = st.db.begin().await?;
    resources::mark_verified(&mut tx, &ctx.audit(), &r.id).await?;
    tx.commit().await?;
    // Only two places to go back to: never a URL from the form.
    let back = if form.get("return_to") == "review" {
        "/resources/review".to_string()
    } else {
        format!("/resources/{}", r.id)
    };
    Ok(redirect_with_flash(
        &st,
        &back,
        "success",
        &format!(
            "「{}」を確認済みにしました（最終確認日：{}）。",
            r.name,
            resources::wareki(&resources::today())
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Review list

struct ReviewRow {
    row: RowView,
    id: String,
    last_verified: String,
}

#[derive(Template)]
#[template(path = "resources/review.html")]
struct ReviewPage {
    layout: Layout,
    months: i64,
    cutoff: String,
    rows: Vec<ReviewRow>,
}

async fn review(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require_actor()?;
    let months = st.cfg.resource_review_months.max(1);
    let refs = refs(&st).await?;
    let rows = resources::due_for_review(&st.db, months).await?;
    let today = tsunagu_domain::wareki::today_jst(tsunagu_store::clock::now());
    let cutoff = resources::iso_date(resources::review_cutoff(today, months));
    render(&ReviewPage {
        layout: Layout::new(&st, &ctx, "確認が必要な社会資源"),
        months,
        cutoff: resources::wareki(&cutoff),
        rows: rows
            .iter()
            .map(|r| ReviewRow {
                id: r.id.clone(),
                last_verified: date_or(r.last_verified_on.as_deref(), "未確認"),
                row: RowView::of(r, "/resources", &refs),
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Categories

struct CategoryRow {
    c: Category,
    typed: String,
    error: Option<String>,
    first: bool,
    last: bool,
}

#[derive(Template)]
#[template(path = "resources/categories.html")]
struct CategoriesPage {
    layout: Layout,
    rows: Vec<CategoryRow>,
    add_name: String,
    add_error: Option<String>,
    errors: Vec<(String, String)>,
}

/// The categories page; `failed` is (category id or "" for the add form, typed, message).
async fn categories_response(
    st: &AppState,
    ctx: &Ctx,
    failed: Option<(&str, &str, String)>,
) -> Result<Response, AppError> {
    let all = resources::categories(&st.db, true).await?;
    let n = all.len();
    let rows = all
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (typed, error) = match &failed {
                Some((id, typed, msg)) if *id == c.id => (typed.to_string(), Some(msg.clone())),
                _ => (c.name.clone(), None),
            };
            CategoryRow {
                c,
                typed,
                error,
                first: i == 0,
                last: i + 1 == n,
            }
        })
        .collect();
    let errors = match &failed {
        Some(("", _, msg)) => vec![("new-name".to_string(), msg.clone())],
        Some((id, _, msg)) => vec![(format!("name-{id}"), msg.clone())],
        None => Vec::new(),
    };
    let (add_name, add_error, status) = match failed {
        Some(("", typed, msg)) => (
            typed.to_string(),
            Some(msg),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Some(_) => (String::new(), None, StatusCode::UNPROCESSABLE_ENTITY),
        None => (String::new(), None, StatusCode::OK),
    };
    render_status(
        status,
        &CategoriesPage {
            layout: Layout::new(st, ctx, "社会資源の種別"),
            rows,
            add_name,
            add_error,
            errors,
        },
    )
}

async fn categories_page(State(st): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    categories_response(&st, &ctx, None).await
}

fn category_message(e: StoreError) -> Result<String, AppError> {
    match e {
        StoreError::Conflict(m) | StoreError::Invalid(m) => Ok(m),
        other => Err(other.into()),
    }
}

async fn category_add(
    State(st): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let name = form.get("name").trim().to_string();
    let mut tx = st.db.begin().await?;
    match resources::add_category(&mut tx, &ctx.audit(), &name).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(redirect_with_flash(
                &st,
                "/resources/categories",
                "success",
                &format!("種別「{name}」を追加しました。"),
            ))
        }
        Err(e) => {
            let msg = category_message(e)?;
            drop(tx);
            categories_response(&st, &ctx, Some(("", &name, msg))).await
        }
    }
}

async fn category_rename(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let c = resources::category(&st.db, &id).await?;
    let name = form.get("name").trim().to_string();
    let mut tx = st.db.begin().await?;
    match resources::rename_category(&mut tx, &ctx.audit(), &c.id, &name).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(redirect_with_flash(
                &st,
                "/resources/categories",
                "success",
                &format!("種別「{}」の名前を「{name}」にしました。", c.name),
            ))
        }
        Err(e) => {
            let msg = category_message(e)?;
            drop(tx);
            categories_response(&st, &ctx, Some((&c.id, &name, msg))).await
        }
    }
}

async fn category_move(st: AppState, ctx: Ctx, id: String, up: bool) -> Result<Response, AppError> {
    let c = resources::category(&st.db, &id).await?;
    let mut tx = st.db.begin().await?;
    resources::move_category(&mut tx, &ctx.audit(), &c.id, up).await?;
    tx.commit().await?;
    Ok(redirect_with_flash(
        &st,
        "/resources/categories",
        "success",
        &format!(
            "種別「{}」を{}へ移動しました。",
            c.name,
            if up { "上" } else { "下" }
        ),
    ))
}

async fn category_up(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    category_move(st, ctx, id, true).await
}

async fn category_down(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    category_move(st, ctx, id, false).await
}

async fn category_set_retired(
    st: AppState,
    ctx: Ctx,
    id: String,
    retired: bool,
) -> Result<Response, AppError> {
    let c = resources::category(&st.db, &id).await?;
    let mut tx = st.db.begin().await?;
    resources::set_category_retired(&mut tx, &ctx.audit(), &c.id, retired).await?;
    tx.commit().await?;
    let msg = if retired {
        format!(
            "種別「{}」の使用を終了しました。登録済みの社会資源はこの種別のまま残ります。",
            c.name
        )
    } else {
        format!("種別「{}」を再び使えるようにしました。", c.name)
    };
    Ok(redirect_with_flash(
        &st,
        "/resources/categories",
        "success",
        &msg,
    ))
}

async fn category_retire(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    category_set_retired(st, ctx, id, true).await
}

async fn category_reinstate(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    category_set_retired(st, ctx, id, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(code: &str, name: &str) -> CareType {
        CareType {
            code: code.into(),
            number: String::new(),
            name: name.into(),
            base_score: 0,
            supervision_scores: String::new(),
            power_dependent: false,
            unconfirmed: false,
            sort_order: 0,
            retired: false,
        }
    }

    fn area(id: &str, name: &str, munis: &[(&str, &str)]) -> Area {
        Area {
            id: id.into(),
            name: name.into(),
            kind: String::new(),
            sort_order: 0,
            municipalities: munis
                .iter()
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .collect(),
        }
    }

    fn refs_for_test() -> Refs {
        let care = vec![
            ct("ventilator", "人工呼吸器の管理（NPPVを含む）"),
            ct("tube_feeding", "経管栄養（経鼻胃管・胃瘻・腸瘻）"),
            ct("catheter", "導尿（持続的導尿：留置カテーテル・膀胱瘻）"),
            ct("catheter_i", "導尿（間欠的導尿）"),
            ct("feeding_pump", "経管栄養（持続経管注入ポンプ使用）"),
        ];
        Refs {
            categories: Vec::new(),
            areas: vec![area(
                "a-kamaishi",
                "釜石圏域",
                &[("032115", "釜石市"), ("034614", "大槌町")],
            )],
            munis: Vec::new(),
            short: short_labels(&care),
            care,
        }
    }

    #[test]
    fn care_tags_are_short_unless_ambiguous() {
        let refs = refs_for_test();
        assert_eq!(refs.short("ventilator", ""), "人工呼吸器の管理");
        assert_eq!(refs.short("tube_feeding", ""), "経管栄養（経鼻胃管など）");
        assert_eq!(
            refs.short("feeding_pump", ""),
            "経管栄養（持続経管注入ポンプ使用）"
        );
        assert_eq!(refs.short("catheter", ""), "導尿（持続的導尿）");
        assert_eq!(refs.short("catheter_i", ""), "導尿（間欠的導尿）");
        assert_eq!(refs.short("unknown", "名前"), "名前");
    }

    #[test]
    fn search_urls_keep_every_filter_and_drop_unknown_values() {
        let refs = refs_for_test();
        let (p, err) = Params::parse(
            "q=%E3%81%B2&area=a-kamaishi&area=x&care=ventilator&care=nope&age=%EF%BC%93&availability=open&retired=1",
            &refs,
            false,
        );
        assert!(err.is_none());
        assert_eq!(p.area, "a-kamaishi");
        assert_eq!(p.care, ["ventilator"]);
        assert_eq!(p.age, "3");
        assert!(!p.retired, "only managers may include retired entries");
        let q = p.query();
        assert_eq!(q.age, Some(3));
        assert_eq!(
            q.availability,
            [Availability::Available, Availability::Limited]
        );
        assert_eq!(
            p.href("/resources", Some(2), false),
            "/resources?q=%E3%81%B2&area=a-kamaishi&care=ventilator&age=3&availability=open&page=2"
        );
        assert_eq!(
            Params::default().href("/directory", Some(1), false),
            "/directory"
        );
        let (_, err) = Params::parse("age=abc", &refs, true);
        assert!(err.is_some());
    }

    #[test]
    fn whole_areas_are_named_once() {
        let areas = [area(
            "a",
            "釜石圏域",
            &[("032115", "釜石市"), ("034614", "大槌町")],
        )];
        let served = vec![
            ("032026".to_string(), "宮古市".to_string()),
            ("032115".to_string(), "釜石市".to_string()),
            ("034614".to_string(), "大槌町".to_string()),
        ];
        assert_eq!(
            summarize_service_area(&areas, &served),
            ["釜石圏域（全域）", "宮古市"]
        );
        assert_eq!(
            summarize_service_area(&areas, &served[..2]),
            ["宮古市", "釜石市"]
        );
    }

    #[test]
    fn typed_form_expands_areas_and_reports_each_problem() {
        let refs = refs_for_test();
        let form = FormData::parse_str(
            "category=&provider_name=A&name=B&age_min=10&age_max=3&phone=12&area=a-kamaishi&care_note_ventilator=%E5%A4%9C%E9%96%93&availability=unknown",
        );
        let typed = Typed::from_form(&form);
        let (input, errors) = typed.to_input(&refs, None);
        assert_eq!(input.service_area, ["032115", "034614"]);
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["category", "phone", "age_max", "care"]);
        assert_eq!(
            typed.care_notes.get("ventilator").map(String::as_str),
            Some("夜間")
        );
    }
}

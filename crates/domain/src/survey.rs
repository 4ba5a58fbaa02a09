//! The regional situation survey (状況把握調査): survey definitions (調査票) with their items and
//! validation rules, the answers of one municipality, response states, and the roll-up of
//! approved answers.
//!
//! Answers are kept as the text the user typed, one entry per field, so a draft keeps whatever
//! was entered (even "12a") and the same flat list serves the form, the xlsx sheet, the exports
//! and the roll-up. Values are parsed when they are validated or counted.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::text::fold_width_str;

/// A survey definition: titled sections of items, and rules between items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub sections: Vec<Section>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub key: String,
    pub title: String,
    pub items: Vec<Item>,
}

/// One question of a survey (設問).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    pub label: String,
    pub kind: ItemKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub help: String,
    /// 単位, e.g. 人 or か所.
    #[serde(default)]
    pub unit: String,
    /// Warn when a count differs from last year's by more than this many percent (and by at
    /// least 3), asking for a comment.
    #[serde(default)]
    pub change_warning_pct: Option<u32>,
}

/// A labelled option of a choice, or a row or column of a grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub key: String,
    pub label: String,
}

impl Choice {
    pub fn new(key: &str, label: &str) -> Choice {
        Choice {
            key: key.into(),
            label: label.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemKind {
    /// A number of people or places.
    Count,
    /// Counts in rows × columns (e.g. age band × where the child lives). Rows and columns add up.
    Grid {
        rows: Vec<Choice>,
        columns: Vec<Choice>,
    },
    /// A count per care type of the code list (医療的ケアの種別). A child may need several care
    /// types, so these counts are never added together.
    CareTypes {
        types: Vec<Choice>,
    },
    YesNo,
    Single {
        choices: Vec<Choice>,
    },
    Multiple {
        choices: Vec<Choice>,
    },
    ShortText,
    /// Long text. With `publishable`, the municipality may mark it for the good-practices list.
    LongText {
        #[serde(default)]
        publishable: bool,
    },
    Date,
}

impl ItemKind {
    pub fn code(&self) -> &'static str {
        match self {
            ItemKind::Count => "count",
            ItemKind::Grid { .. } => "grid",
            ItemKind::CareTypes { .. } => "care_types",
            ItemKind::YesNo => "yes_no",
            ItemKind::Single { .. } => "single",
            ItemKind::Multiple { .. } => "multiple",
            ItemKind::ShortText => "short_text",
            ItemKind::LongText { .. } => "long_text",
            ItemKind::Date => "date",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            ItemKind::Count => "数",
            ItemKind::Grid { .. } => "表（行×列の数）",
            ItemKind::CareTypes { .. } => "医療的ケアの種別ごとの数",
            ItemKind::YesNo => "はい／いいえ",
            ItemKind::Single { .. } => "単一選択",
            ItemKind::Multiple { .. } => "複数選択",
            ItemKind::ShortText => "短い文章",
            ItemKind::LongText { .. } => "長い文章",
            ItemKind::Date => "日付",
        }
    }

    /// Whether the item's fields are counts that can be rolled up.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            ItemKind::Count | ItemKind::Grid { .. } | ItemKind::CareTypes { .. }
        )
    }
}

/// How serious a broken rule is: errors block submission, warnings ask for a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// A comparison between items, with the message shown when it does not hold (検証ルール).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub severity: Severity,
    pub left: Vec<Ref>,
    pub op: Op,
    pub right: Vec<Ref>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }

    fn holds(self, l: u64, r: u64) -> bool {
        match self {
            Op::Eq => l == r,
            Op::Le => l <= r,
            Op::Ge => l >= r,
        }
    }
}

/// A reference to counts of an item: a count; a grid, or some of its rows and columns (summed);
/// or, for care types, each care type in turn (`each`), never their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    pub item: String,
    #[serde(default)]
    pub rows: Vec<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub each: bool,
}

impl Ref {
    fn text(&self) -> String {
        if self.each {
            return format!("{}[*]", self.item);
        }
        if self.rows.is_empty() && self.columns.is_empty() {
            return self.item.clone();
        }
        let part = |v: &[String]| {
            if v.is_empty() {
                "*".to_string()
            } else {
                v.join(",")
            }
        };
        format!(
            "{}[{};{}]",
            self.item,
            part(&self.rows),
            part(&self.columns)
        )
    }
}

impl Rule {
    /// The rule as one line of text, as edited in the definition editor:
    /// `エラー: age_place = total | 年齢別の合計が総数と一致しません`.
    pub fn to_line(&self) -> String {
        let side = |v: &[Ref]| v.iter().map(Ref::text).collect::<Vec<_>>().join(" + ");
        format!(
            "{}: {} {} {} | {}",
            match self.severity {
                Severity::Error => "エラー",
                Severity::Warning => "警告",
            },
            side(&self.left),
            self.op.text(),
            side(&self.right),
            self.message
        )
    }

    /// Parses one line written as [`Rule::to_line`] does, checking the references against
    /// `def`. Messages are in Japanese, for the editor.
    pub fn parse_line(line: &str, def: &Definition) -> Result<Rule, String> {
        let line = line.trim();
        let (head, message) = line
            .split_once('|')
            .ok_or("「|」のあとにメッセージを書いてください")?;
        let message = message.trim().to_string();
        if message.is_empty() {
            return Err("「|」のあとにメッセージを書いてください".into());
        }
        let (sev, expr) = head
            .split_once([':', '：'])
            .ok_or("先頭に「エラー:」か「警告:」を書いてください")?;
        let severity = match sev.trim() {
            "エラー" | "error" => Severity::Error,
            "警告" | "warning" => Severity::Warning,
            other => return Err(format!("「{other}」は「エラー」か「警告」にしてください")),
        };
        let expr = fold_width_str(expr);
        let (op, pos, len) = ["<=", ">=", "="]
            .iter()
            .find_map(|o| expr.find(o).map(|p| (*o, p, o.len())))
            .ok_or("「=」「<=」「>=」のどれかで左右を比べてください")?;
        let op = match op {
            "<=" => Op::Le,
            ">=" => Op::Ge,
            _ => Op::Eq,
        };
        let left = parse_side(&expr[..pos], def)?;
        let right = parse_side(&expr[pos + len..], def)?;
        if left.iter().chain(&right).filter(|r| r.each).count() > 1 {
            return Err("[*] は一つの式に一つまでです".into());
        }
        Ok(Rule {
            severity,
            left,
            op,
            right,
            message,
        })
    }
}

fn parse_side(s: &str, def: &Definition) -> Result<Vec<Ref>, String> {
    let mut out = Vec::new();
    for term in s.split('+') {
        let term = term.trim();
        if term.is_empty() {
            return Err("式に空の項があります".into());
        }
        let (name, sel) = match term.split_once('[') {
            Some((n, rest)) => (
                n.trim(),
                Some(
                    rest.strip_suffix(']')
                        .ok_or(format!("「{term}」の ] がありません"))?,
                ),
            ),
            None => (term, None),
        };
        let item = def
            .item(name)
            .ok_or(format!("設問キー「{name}」は調査票にありません"))?;
        let mut r = Ref {
            item: name.to_string(),
            rows: vec![],
            columns: vec![],
            each: false,
        };
        match (&item.kind, sel) {
            (ItemKind::Count, None) | (ItemKind::Grid { .. }, None) => {}
            (ItemKind::CareTypes { .. }, Some("*")) => r.each = true,
            (ItemKind::CareTypes { types }, Some(code)) => {
                let code = code.trim();
                if !types.iter().any(|t| t.key == code) {
                    return Err(format!("「{name}」に種別「{code}」はありません"));
                }
                r.rows = vec![code.to_string()];
            }
            (ItemKind::CareTypes { .. }, None) => {
                return Err(format!(
                    "医療的ケアの種別は合計できません。「{name}[*]」（種別ごと）か「{name}[種別コード]」と書いてください"
                ));
            }
            (ItemKind::Grid { rows, columns }, Some(sel)) => {
                let (rs, cs) = sel.split_once(';').unwrap_or((sel, "*"));
                r.rows = parse_keys(rs, rows, name)?;
                r.columns = parse_keys(cs, columns, name)?;
            }
            _ => return Err(format!("「{name}」は数の設問ではありません")),
        }
        out.push(r);
    }
    Ok(out)
}

fn parse_keys(s: &str, allowed: &[Choice], item: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    if s == "*" || s.is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|k| {
            let k = k.trim();
            if allowed.iter().any(|c| c.key == k) {
                Ok(k.to_string())
            } else {
                Err(format!("「{item}」に行・列「{k}」はありません"))
            }
        })
        .collect()
}

/// What kind of input one field is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    Count,
    YesNo,
    Single(Vec<Choice>),
    /// One checkbox of a multiple choice ("1" when ticked).
    Flag,
    ShortText,
    LongText,
    Date,
}

/// One input of a response: a count, one grid cell, one care type, one checkbox…
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Key in the answers: `item`, `item.row.column`, `item.care_code`, `item.choice`,
    /// `item.publishable`.
    pub key: String,
    pub item: String,
    pub section: String,
    /// Full label, e.g. 「年齢別・居場所別の人数 0〜2歳 在宅」.
    pub label: String,
    pub kind: FieldKind,
    pub unit: String,
}

impl Definition {
    pub fn items(&self) -> impl Iterator<Item = (&Section, &Item)> {
        self.sections
            .iter()
            .flat_map(|s| s.items.iter().map(move |i| (s, i)))
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.items().map(|(_, i)| i).find(|i| i.key == key)
    }

    /// Every input of a response, in form order.
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        for (s, i) in self.items() {
            let f = |key: String, label: String, kind: FieldKind| Field {
                key,
                item: i.key.clone(),
                section: s.key.clone(),
                label,
                kind,
                unit: i.unit.clone(),
            };
            match &i.kind {
                ItemKind::Count => out.push(f(i.key.clone(), i.label.clone(), FieldKind::Count)),
                ItemKind::Grid { rows, columns } => {
                    for r in rows {
                        for c in columns {
                            out.push(f(
                                grid_key(&i.key, &r.key, &c.key),
                                format!("{} {} {}", i.label, r.label, c.label),
                                FieldKind::Count,
                            ));
                        }
                    }
                }
                ItemKind::CareTypes { types } => {
                    for t in types {
                        out.push(f(
                            format!("{}.{}", i.key, t.key),
                            format!("{} {}", i.label, t.label),
                            FieldKind::Count,
                        ));
                    }
                }
                ItemKind::YesNo => out.push(f(i.key.clone(), i.label.clone(), FieldKind::YesNo)),
                ItemKind::Single { choices } => out.push(f(
                    i.key.clone(),
                    i.label.clone(),
                    FieldKind::Single(choices.clone()),
                )),
                ItemKind::Multiple { choices } => {
                    for c in choices {
                        out.push(f(
                            format!("{}.{}", i.key, c.key),
                            format!("{} {}", i.label, c.label),
                            FieldKind::Flag,
                        ));
                    }
                }
                ItemKind::ShortText => {
                    out.push(f(i.key.clone(), i.label.clone(), FieldKind::ShortText))
                }
                ItemKind::LongText { publishable } => {
                    out.push(f(i.key.clone(), i.label.clone(), FieldKind::LongText));
                    if *publishable {
                        out.push(f(
                            format!("{}.publishable", i.key),
                            format!("{} 公開してよい", i.label),
                            FieldKind::Flag,
                        ));
                    }
                }
                ItemKind::Date => out.push(f(i.key.clone(), i.label.clone(), FieldKind::Date)),
            }
        }
        out
    }

    /// Checks the definition itself: unique keys, at least one section and item, choices for
    /// choice items, grids with rows and columns.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.title.trim().is_empty() {
            problems.push("調査票の名前を入力してください".to_string());
        }
        if self.sections.is_empty() {
            problems.push("章を一つ以上作ってください".to_string());
        }
        let mut keys = BTreeSet::new();
        for s in &self.sections {
            if s.title.trim().is_empty() {
                problems.push(format!("章「{}」の見出しを入力してください", s.key));
            }
            for i in &s.items {
                if !valid_key(&i.key) {
                    problems.push(format!(
                        "設問キー「{}」は半角英小文字・数字・_ で、英字で始めてください",
                        i.key
                    ));
                }
                if !keys.insert(i.key.clone()) {
                    problems.push(format!("設問キー「{}」が重複しています", i.key));
                }
                if i.label.trim().is_empty() {
                    problems.push(format!("設問「{}」の文言を入力してください", i.key));
                }
                let choices: &[Choice] = match &i.kind {
                    ItemKind::Single { choices } | ItemKind::Multiple { choices } => choices,
                    ItemKind::Grid { rows, columns } => {
                        if rows.is_empty() || columns.is_empty() {
                            problems.push(format!("表「{}」に行と列を入れてください", i.label));
                        }
                        &[]
                    }
                    _ => &[],
                };
                if matches!(i.kind, ItemKind::Single { .. } | ItemKind::Multiple { .. })
                    && choices.len() < 2
                {
                    problems.push(format!("「{}」に選択肢を二つ以上入れてください", i.label));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Keys of items, choices, rows and columns: 半角英小文字, digits and `_`, starting with a
/// letter, at most 40 characters.
pub fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && k.len() <= 40
}

pub fn grid_key(item: &str, row: &str, column: &str) -> String {
    format!("{item}.{row}.{column}")
}

/// The answers of one municipality: field key → the text as entered.
pub type Answers = BTreeMap<String, String>;

/// A value that is not a count (not a whole number of at most nine digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotACount;

/// Parses a count as people type it: full-width digits, commas, spaces. Empty is `Ok(None)`.
pub fn parse_count(s: &str) -> Result<Option<u64>, NotACount> {
    let v: String = fold_width_str(s.trim())
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() > 9 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(NotACount);
    }
    v.parse::<u64>().map(Some).map_err(|_| NotACount)
}

/// One problem with a response, tied to the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The field the message belongs to (the first field of the rule's left side).
    pub field: String,
    pub message: String,
    /// For warnings: the answers key where the municipality explains the value.
    pub note_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Check {
    /// Warnings without the explanation their note field asks for.
    pub fn unexplained<'a>(&'a self, answers: &'a Answers) -> impl Iterator<Item = &'a Finding> {
        self.warnings.iter().filter(|w| {
            w.note_key
                .as_ref()
                .is_some_and(|k| answers.get(k).is_none_or(|v| v.trim().is_empty()))
        })
    }

    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn warning_for(&self, field: &str) -> Option<&Finding> {
        self.warnings.iter().find(|e| e.field == field)
    }
}

/// When a check runs: saving a draft reports only malformed values; submitting also requires
/// the required items and applies the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    Draft,
    Submit,
}

/// Checks `answers` against `def` (and last year's approved answers, for change warnings).
pub fn check(
    def: &Definition,
    answers: &Answers,
    last_year: Option<&Answers>,
    mode: CheckMode,
) -> Check {
    let mut out = Check::default();
    let fields = def.fields();
    for f in &fields {
        let v = answers.get(&f.key).map(|s| s.trim()).unwrap_or("");
        if v.is_empty() {
            continue;
        }
        let bad = match &f.kind {
            FieldKind::Count => parse_count(v)
                .err()
                .map(|_| format!("{}は0以上の整数（半角数字）で入力してください", f.label)),
            FieldKind::YesNo => (!matches!(v, "yes" | "no"))
                .then(|| format!("{}は「はい」か「いいえ」を選んでください", f.label)),
            FieldKind::Single(choices) => (!choices.iter().any(|c| c.key == v))
                .then(|| format!("{}は選択肢から選んでください", f.label)),
            FieldKind::Flag => (v != "1").then(|| format!("{}の値が正しくありません", f.label)),
            FieldKind::ShortText => (v.chars().count() > 200)
                .then(|| format!("{}は200文字以内で入力してください", f.label))
                .or_else(|| crate::validation::control_characters(&f.label, v, false)),
            FieldKind::LongText => (v.chars().count() > 4000)
                .then(|| format!("{}は4000文字以内で入力してください", f.label))
                .or_else(|| crate::validation::control_characters(&f.label, v, true)),
            FieldKind::Date => crate::wareki::parse_date_ja(v).err().map(|_| {
                format!(
                    "{}は 2026-04-01 や 令和8年4月1日 の形で入力してください",
                    f.label
                )
            }),
        };
        if let Some(message) = bad {
            out.errors.push(Finding {
                field: f.key.clone(),
                message,
                note_key: None,
            });
        }
    }
    if mode == CheckMode::Draft {
        return out;
    }
    for (_, item) in def.items() {
        if !item.required {
            continue;
        }
        let item_fields: Vec<&Field> = fields
            .iter()
            .filter(|f| f.item == item.key && !f.key.ends_with(".publishable"))
            .collect();
        let answered = match item.kind {
            // A multiple choice is answered when at least one box is ticked.
            ItemKind::Multiple { .. } => item_fields
                .iter()
                .any(|f| answers.get(&f.key).is_some_and(|v| !v.trim().is_empty())),
            _ => item_fields
                .iter()
                .all(|f| answers.get(&f.key).is_some_and(|v| !v.trim().is_empty())),
        };
        if !answered {
            let first = item_fields
                .iter()
                .find(|f| answers.get(&f.key).is_none_or(|v| v.trim().is_empty()))
                .or(item_fields.first());
            if let Some(f) = first {
                out.errors.push(Finding {
                    field: f.key.clone(),
                    message: format!("{}は必須です。入力してください（該当なしは 0）", item.label),
                    note_key: None,
                });
            }
        }
    }
    if !out.errors.is_empty() {
        // Rules compare values; with malformed or missing ones their messages would mislead.
        return out;
    }
    let value =
        |key: &str| -> Option<u64> { answers.get(key).and_then(|v| parse_count(v).ok().flatten()) };
    for (n, rule) in def.rules.iter().enumerate() {
        // A rule with `each` is checked once per care type.
        let each = rule.left.iter().chain(&rule.right).find(|r| r.each);
        let variants: Vec<Option<String>> = match each.and_then(|r| def.item(&r.item)) {
            Some(Item {
                kind: ItemKind::CareTypes { types },
                ..
            }) => types.iter().map(|t| Some(t.key.clone())).collect(),
            _ => vec![None],
        };
        for code in variants {
            let sum = |side: &[Ref]| -> Option<u64> {
                let mut total = 0u64;
                for r in side {
                    for key in ref_keys(def, r, code.as_deref()) {
                        total += value(&key)?;
                    }
                }
                Some(total)
            };
            let (Some(l), Some(r)) = (sum(&rule.left), sum(&rule.right)) else {
                continue;
            };
            if rule.op.holds(l, r) {
                continue;
            }
            let field = rule
                .left
                .first()
                .and_then(|r| ref_keys(def, r, code.as_deref()).into_iter().next())
                .unwrap_or_default();
            let label = code
                .as_ref()
                .and_then(|c| {
                    fields
                        .iter()
                        .find(|f| f.key == field)
                        .map(|f| format!("（{}：{}）", f.label, c))
                })
                .unwrap_or_default();
            let message = format!(
                "{}{}（{} {} {}）",
                rule.message,
                label,
                l,
                rule.op.text(),
                r
            );
            match rule.severity {
                Severity::Error => out.errors.push(Finding {
                    field,
                    message,
                    note_key: None,
                }),
                Severity::Warning => out.warnings.push(Finding {
                    note_key: Some(format!(
                        "note.rule{}{}",
                        n + 1,
                        code.map(|c| format!(".{c}")).unwrap_or_default()
                    )),
                    field,
                    message,
                }),
            }
        }
    }
    if let Some(last) = last_year {
        for f in fields.iter().filter(|f| f.kind == FieldKind::Count) {
            let Some(pct) = def.item(&f.item).and_then(|i| i.change_warning_pct) else {
                continue;
            };
            let (Some(now), Some(before)) = (
                value(&f.key),
                last.get(&f.key).and_then(|v| parse_count(v).ok().flatten()),
            ) else {
                continue;
            };
            let diff = now.abs_diff(before);
            if diff >= 3 && diff * 100 > before * u64::from(pct) {
                out.warnings.push(Finding {
                    field: f.key.clone(),
                    message: format!(
                        "{}が前年度（{}）から{}%以上変わっています（今回 {}）。理由を記入してください",
                        f.label, before, pct, now
                    ),
                    note_key: Some(format!("note.{}", f.key)),
                });
            }
        }
    }
    out
}

/// The answer keys a reference adds up (for `each`, the care type `code`).
fn ref_keys(def: &Definition, r: &Ref, code: Option<&str>) -> Vec<String> {
    let Some(item) = def.item(&r.item) else {
        return vec![];
    };
    match &item.kind {
        ItemKind::Count => vec![item.key.clone()],
        ItemKind::Grid { rows, columns } => {
            let pick = |sel: &[String], all: &[Choice]| -> Vec<String> {
                if sel.is_empty() {
                    all.iter().map(|c| c.key.clone()).collect()
                } else {
                    sel.to_vec()
                }
            };
            let mut out = Vec::new();
            for row in pick(&r.rows, rows) {
                for col in pick(&r.columns, columns) {
                    out.push(grid_key(&item.key, &row, &col));
                }
            }
            out
        }
        ItemKind::CareTypes { .. } => {
            if r.each {
                code.map(|c| vec![format!("{}.{c}", item.key)])
                    .unwrap_or_default()
            } else {
                r.rows.iter().map(|c| format!("{}.{c}", item.key)).collect()
            }
        }
        _ => vec![],
    }
}

/// The state of a municipality's response (回答の状態).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    NotStarted,
    Draft,
    Submitted,
    Returned,
    Approved,
}

impl ResponseStatus {
    pub const ALL: [ResponseStatus; 5] = [
        ResponseStatus::NotStarted,
        ResponseStatus::Draft,
        ResponseStatus::Submitted,
        ResponseStatus::Returned,
        ResponseStatus::Approved,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ResponseStatus::NotStarted => "not_started",
            ResponseStatus::Draft => "draft",
            ResponseStatus::Submitted => "submitted",
            ResponseStatus::Returned => "returned",
            ResponseStatus::Approved => "approved",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ResponseStatus::NotStarted => "未着手",
            ResponseStatus::Draft => "入力中",
            ResponseStatus::Submitted => "提出済み",
            ResponseStatus::Returned => "差し戻し",
            ResponseStatus::Approved => "承認済み",
        }
    }

    pub fn from_code(s: &str) -> Option<ResponseStatus> {
        Self::ALL.into_iter().find(|x| x.code() == s)
    }

    /// Whether the answers can still change (by the municipality within the window, or by the
    /// center).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ResponseStatus::NotStarted | ResponseStatus::Draft | ResponseStatus::Returned
        )
    }
}

/// Totals of numeric fields over a set of approved answers: the sum and how many municipalities
/// gave a value (the completeness of that figure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Total {
    pub sum: u64,
    pub reporting: u32,
}

/// Adds up every numeric field of `answers` into `totals`. Care-type counts are added per care
/// type across municipalities (a child lives in one municipality) and never across care types.
pub fn add_to_totals(
    def_fields: &[Field],
    answers: &Answers,
    totals: &mut BTreeMap<String, Total>,
) {
    for f in def_fields.iter().filter(|f| f.kind == FieldKind::Count) {
        if let Some(v) = answers
            .get(&f.key)
            .and_then(|v| parse_count(v).ok().flatten())
        {
            let t = totals.entry(f.key.clone()).or_default();
            t.sum += v;
            t.reporting += 1;
        }
    }
}

/// The standard definition seeded for every prefecture: 医療的ケア児等の実態調査 (as of 1 April),
/// with the supply items of the national report sheet. `care_types` comes from the code list.
pub fn standard_definition(care_types: &[Choice]) -> Definition {
    let age = vec![
        Choice::new("a0_2", "0〜2歳"),
        Choice::new("a3_5", "3〜5歳"),
        Choice::new("a6_11", "6〜11歳"),
        Choice::new("a12_14", "12〜14歳"),
        Choice::new("a15_17", "15〜17歳"),
        Choice::new("a18_19", "18〜19歳"),
    ];
    let place = vec![
        Choice::new("home", "在宅"),
        Choice::new("hospital", "入院"),
        Choice::new("facility", "施設入所"),
    ];
    let count = |key: &str, label: &str, unit: &str, required: bool| Item {
        key: key.into(),
        label: label.into(),
        kind: ItemKind::Count,
        required,
        help: String::new(),
        unit: unit.into(),
        change_warning_pct: None,
    };
    let with_help = |mut i: Item, help: &str| {
        i.help = help.into();
        i
    };
    let def = Definition {
        title: "医療的ケア児等の実態調査".into(),
        description: "各年度4月1日現在の状況をご回答ください。該当がない場合は 0 を入力してください。"
            .into(),
        sections: vec![
            Section {
                key: "children".into(),
                title: "1 医療的ケア児の人数".into(),
                items: vec![
                    Item {
                        change_warning_pct: Some(50),
                        ..with_help(
                            count("total", "医療的ケア児の総数", "人", true),
                            "0〜19歳で、日常生活及び社会生活を営むために恒常的に医療的ケアを受けることが不可欠な児童の数",
                        )
                    },
                    Item {
                        key: "age_place".into(),
                        label: "年齢別・居場所別の人数".into(),
                        kind: ItemKind::Grid {
                            rows: age,
                            columns: place,
                        },
                        required: true,
                        help: "合計が総数と一致するように入力してください".into(),
                        unit: "人".into(),
                        change_warning_pct: None,
                    },
                    Item {
                        key: "care".into(),
                        label: "医療的ケアの種別ごとの人数".into(),
                        kind: ItemKind::CareTypes {
                            types: care_types.to_vec(),
                        },
                        required: true,
                        help: "一人が複数の医療的ケアを受けている場合は、それぞれに数えます（合計は総数を超えることがあります）".into(),
                        unit: "人".into(),
                        change_warning_pct: None,
                    },
                ],
            },
            Section {
                key: "belonging".into(),
                title: "2 通園・通学の状況".into(),
                items: vec![
                    count("nursery", "保育所に通う児童", "人", true),
                    count("nursery_nurse", "うち看護師が配置されている", "人", false),
                    count("kindergarten", "幼稚園・認定こども園に通う児童", "人", true),
                    count("school_regular", "小・中・高等学校（通常の学級等）に通う児童", "人", true),
                    count("school_special", "特別支援学校に通う児童", "人", true),
                    count("school_nurse", "うち看護師が配置されている（学校）", "人", false),
                ],
            },
            Section {
                key: "services".into(),
                title: "3 利用しているサービス".into(),
                items: vec![
                    count("svc_home_nursing", "訪問看護を利用している児童", "人", false),
                    count("svc_day_service", "児童発達支援・放課後等デイサービスを利用している児童", "人", false),
                    count("svc_short_stay", "短期入所（医療型）を利用している児童", "人", false),
                    count("svc_home_help", "居宅介護を利用している児童", "人", false),
                ],
            },
            Section {
                key: "system".into(),
                title: "4 市町村の体制".into(),
                items: vec![
                    Item {
                        key: "council".into(),
                        label: "医療的ケア児の支援に関する協議の場を設置している".into(),
                        kind: ItemKind::YesNo,
                        required: true,
                        help: "圏域等で共同設置している場合も「はい」".into(),
                        unit: String::new(),
                        change_warning_pct: None,
                    },
                    count("coordinators", "配置している医療的ケア児等コーディネーター", "人", true),
                    Item {
                        key: "measures".into(),
                        label: "市町村独自の支援策".into(),
                        kind: ItemKind::Multiple {
                            choices: vec![
                                Choice::new("supplies", "衛生用品・医療機器の給付"),
                                Choice::new("transport", "通院・通学の移動支援"),
                                Choice::new("respite", "レスパイト（家族支援）"),
                                Choice::new("nurse_dispatch", "保育所・学校への看護師派遣"),
                                Choice::new("disaster", "災害時個別避難計画の作成"),
                                Choice::new("other", "その他"),
                            ],
                        },
                        required: false,
                        help: String::new(),
                        unit: String::new(),
                        change_warning_pct: None,
                    },
                ],
            },
            Section {
                key: "supply".into(),
                title: "5 地域の社会資源（国報告様式の供給量）".into(),
                items: vec![
                    count("short_stay_providers", "医療型短期入所の事業所", "か所", false),
                    count("home_nursing_agencies", "小児に対応する訪問看護事業所", "か所", false),
                    count("home_visit_hospitals", "訪問診療を行う医療機関", "か所", false),
                    count("nurseries_with_nurse", "看護師を配置している保育所", "か所", false),
                ],
            },
            Section {
                key: "voice".into(),
                title: "6 ニーズ・課題と取組".into(),
                items: vec![
                    Item {
                        key: "needs".into(),
                        label: "ニーズと課題".into(),
                        kind: ItemKind::LongText { publishable: false },
                        required: false,
                        help: "家族や関係機関から寄せられているニーズ、地域の課題".into(),
                        unit: String::new(),
                        change_warning_pct: None,
                    },
                    Item {
                        key: "practice".into(),
                        label: "好事例・工夫している取組".into(),
                        kind: ItemKind::LongText { publishable: true },
                        required: false,
                        help: "「公開してよい」にチェックすると、県内の関係機関が閲覧できる好事例集に載ります".into(),
                        unit: String::new(),
                        change_warning_pct: None,
                    },
                ],
            },
        ],
        rules: Vec::new(),
    };
    let lines = [
        "エラー: age_place = total | 年齢別・居場所別の人数の合計が総数と一致しません",
        "エラー: care[*] <= total | 医療的ケアの種別ごとの人数は総数以下にしてください",
        "エラー: nursery + kindergarten <= age_place[a0_2,a3_5;*] | 保育所・幼稚園等に通う児童は0〜5歳の人数以下にしてください",
        "エラー: nursery_nurse <= nursery | 看護師が配置されている保育所の児童は保育所に通う児童以下にしてください",
        "エラー: school_regular + school_special <= age_place[a6_11,a12_14,a15_17,a18_19;*] | 学校に通う児童は6歳以上の人数以下にしてください",
        "エラー: school_nurse <= school_regular + school_special | 看護師が配置されている学校の児童は学校に通う児童以下にしてください",
        "警告: coordinators <= total | コーディネーターの人数が医療的ケア児の総数を超えています。よろしければ理由を記入してください",
    ];
    let rules = lines
        .iter()
        .filter_map(|l| Rule::parse_line(l, &def).ok())
        .collect();
    Definition { rules, ..def }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn care() -> Vec<Choice> {
        vec![
            Choice::new("ventilator", "人工呼吸器"),
            Choice::new("tracheostomy", "気管切開"),
            Choice::new("suction", "吸引"),
        ]
    }

    fn filled() -> Answers {
        let def = standard_definition(&care());
        let mut a = Answers::new();
        for f in def.fields() {
            if f.kind == FieldKind::Count {
                a.insert(f.key, "0".into());
            }
        }
        a.insert("council".into(), "yes".into());
        a.insert("total".into(), "10".into());
        a.insert("age_place.a0_2.home".into(), "4".into());
        a.insert("age_place.a6_11.home".into(), "5".into());
        a.insert("age_place.a6_11.hospital".into(), "1".into());
        a.insert("care.ventilator".into(), "6".into());
        a.insert("care.suction".into(), "9".into());
        a.insert("nursery".into(), "2".into());
        a.insert("school_special".into(), "4".into());
        a
    }

    #[test]
    fn the_standard_definition_is_well_formed_and_all_its_rules_parse() {
        let def = standard_definition(&care());
        assert_eq!(def.check(), Ok(()));
        assert_eq!(def.rules.len(), 7, "a seeded rule failed to parse");
        for r in &def.rules {
            assert_eq!(Rule::parse_line(&r.to_line(), &def).as_ref(), Ok(r));
        }
        let keys: Vec<String> = def.fields().into_iter().map(|f| f.key).collect();
        assert!(keys.contains(&"age_place.a18_19.facility".to_string()));
        assert!(keys.contains(&"care.ventilator".to_string()));
        assert!(keys.contains(&"practice.publishable".to_string()));
        assert!(keys.contains(&"measures.respite".to_string()));
    }

    #[test]
    fn a_consistent_response_passes() {
        let def = standard_definition(&care());
        let c = check(&def, &filled(), None, CheckMode::Submit);
        assert_eq!(c.errors, vec![]);
        assert_eq!(c.warnings, vec![]);
    }

    #[test]
    fn age_bands_must_add_up_to_the_total_and_the_message_names_the_field() {
        let def = standard_definition(&care());
        let mut a = filled();
        a.insert("total".into(), "11".into());
        let c = check(&def, &a, None, CheckMode::Submit);
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        assert_eq!(c.errors[0].field, "age_place.a0_2.home");
        assert!(c.errors[0].message.contains("総数と一致しません"));
        assert!(
            c.errors[0].message.contains("10 = 11"),
            "{}",
            c.errors[0].message
        );
    }

    #[test]
    fn each_care_type_is_compared_with_the_total_but_never_summed() {
        let def = standard_definition(&care());
        let a = filled();
        // 6 + 9 = 15 > 10 children: fine, a child can need several care types.
        assert!(check(&def, &a, None, CheckMode::Submit).errors.is_empty());
        let mut a = a;
        a.insert("care.suction".into(), "11".into());
        let c = check(&def, &a, None, CheckMode::Submit);
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].field, "care.suction");
        assert!(c.errors[0].message.contains("吸引"));
        assert_eq!(
            Rule::parse_line("エラー: care <= total | x", &def)
                .err()
                .map(|e| e.contains("合計できません")),
            Some(true)
        );
    }

    #[test]
    fn nursery_children_cannot_outnumber_children_aged_zero_to_five() {
        let def = standard_definition(&care());
        let mut a = filled();
        a.insert("nursery".into(), "5".into());
        let c = check(&def, &a, None, CheckMode::Submit);
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].field, "nursery");
    }

    #[test]
    fn malformed_values_are_errors_even_in_a_draft_and_blanks_only_on_submit() {
        let def = standard_definition(&care());
        let mut a = Answers::new();
        a.insert("total".into(), "１２a".into());
        let c = check(&def, &a, None, CheckMode::Draft);
        assert_eq!(c.errors.len(), 1);
        assert!(
            c.errors[0]
                .message
                .contains("医療的ケア児の総数は0以上の整数")
        );
        a.insert("total".into(), "１２".into());
        assert!(check(&def, &a, None, CheckMode::Draft).errors.is_empty());
        let c = check(&def, &a, None, CheckMode::Submit);
        assert!(
            c.errors
                .iter()
                .any(|e| e.message.contains("年齢別・居場所別の人数は必須"))
        );
    }

    #[test]
    fn a_big_change_from_last_year_warns_and_asks_for_a_reason() {
        let def = standard_definition(&care());
        let mut last = filled();
        last.insert("total".into(), "4".into());
        let a = filled();
        let c = check(&def, &a, Some(&last), CheckMode::Submit);
        assert!(c.errors.is_empty());
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(c.warnings[0].note_key.as_deref(), Some("note.total"));
        assert_eq!(c.unexplained(&a).count(), 1);
        let mut a = a;
        a.insert("note.total".into(), "転入が3件あったため".into());
        assert_eq!(c.unexplained(&a).count(), 0);
        // Small numbers move a lot without meaning anything.
        last.insert("total".into(), "9".into());
        assert!(
            check(&def, &a, Some(&last), CheckMode::Submit)
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn rule_lines_are_checked_against_the_definition() {
        let def = standard_definition(&care());
        assert!(
            Rule::parse_line("エラー: nobody <= total | x", &def)
                .unwrap_err()
                .contains("nobody")
        );
        assert!(Rule::parse_line("エラー: total <= age_place[a0_2;zz] | x", &def).is_err());
        assert!(Rule::parse_line("total <= nursery | x", &def).is_err());
        assert!(Rule::parse_line("警告: total >= nursery", &def).is_err());
        // Typed with a Japanese input method: full-width letters and operators are folded.
        let r = Rule::parse_line("警告：ｔｏｔａｌ ＞＝ nursery | 確認", &def).map(|r| r.severity);
        assert_eq!(r, Ok(Severity::Warning));
    }

    #[test]
    fn totals_count_reporting_municipalities_and_keep_care_types_apart() {
        let def = standard_definition(&care());
        let fields = def.fields();
        let mut totals = BTreeMap::new();
        add_to_totals(&fields, &filled(), &mut totals);
        let mut b = Answers::new();
        b.insert("total".into(), "3".into());
        b.insert("care.ventilator".into(), "1".into());
        add_to_totals(&fields, &b, &mut totals);
        assert_eq!(
            totals["total"],
            Total {
                sum: 13,
                reporting: 2
            }
        );
        assert_eq!(
            totals["care.ventilator"],
            Total {
                sum: 7,
                reporting: 2
            }
        );
        assert_eq!(
            totals["care.suction"],
            Total {
                sum: 9,
                reporting: 1
            }
        );
        assert!(
            !totals.contains_key("care"),
            "care types are never summed into one figure"
        );
    }
}

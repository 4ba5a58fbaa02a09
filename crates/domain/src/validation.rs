//! Field-level validation results (入力チェック) shared by every form.

use crate::text::fold_width_str;

/// Messages for the fields of one form, in the order the fields appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    entries: Vec<(String, String)>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a message for `field`. The first message of a field wins: it is usually the most
    /// basic problem ("required" before "too long").
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.entries.push((field.to_string(), message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(f, m)| (f.as_str(), m.as_str()))
    }

    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// A text field that may hold at least this many characters is long text (a textarea), where
/// tabs and line breaks belong; in shorter fields they are refused like other control
/// characters.
pub const LONG_TEXT_FROM: usize = 500;

/// What is wrong with the characters of `value`, if anything: NUL and other control characters
/// (C0, DEL, C1) are never accepted, tabs and line breaks only in long text. One rule for every
/// form and import, so that both databases store the same (PostgreSQL refuses NUL outright).
pub fn control_characters(label: &str, value: &str, long_text: bool) -> Option<String> {
    let mut breaks = false;
    for c in value.chars() {
        if matches!(c, '\t' | '\n' | '\r') {
            breaks = true;
        } else if c.is_control() {
            return Some(format!(
                "{label}に使えない文字（制御文字）が含まれています。貼り付けた文字を確認してください"
            ));
        }
    }
    (breaks && !long_text).then(|| format!("{label}に改行やタブは使えません"))
}

fn check_characters(errors: &mut FieldErrors, field: &str, label: &str, v: &str, max: usize) {
    if let Some(m) = control_characters(label, v, max >= LONG_TEXT_FROM) {
        errors.add(field, m);
    }
}

/// Trims `value` and checks it is present, at most `max` characters long and free of control
/// characters ([`control_characters`]).
pub fn required_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, format!("{label}を入力してください"));
    } else if v.chars().count() > max {
        errors.add(field, format!("{label}は{max}文字以内で入力してください"));
    }
    check_characters(errors, field, label, v, max);
    v.to_string()
}

/// Trims `value` and checks it is at most `max` characters long and free of control
/// characters; empty is allowed.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.chars().count() > max {
        errors.add(field, format!("{label}は{max}文字以内で入力してください"));
    }
    check_characters(errors, field, label, v, max);
    v.to_string()
}

/// Checks a phone number: digits, hyphens, parentheses and spaces (full-width folded), 10 to 13
/// digits. Empty is allowed.
pub fn optional_phone(errors: &mut FieldErrors, field: &str, value: &str) -> String {
    let v = fold_width_str(value.trim());
    if v.is_empty() {
        return v;
    }
    let ok_chars = v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | ' ' | '+'));
    let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
    if !ok_chars || !(10..=13).contains(&digits) {
        errors.add(
            field,
            "電話番号は 019-629-5446 のように数字とハイフンで入力してください",
        );
    }
    v
}

/// Checks an e-mail address loosely (one @, a dot in the domain, no spaces). Empty is allowed.
pub fn optional_email(errors: &mut FieldErrors, field: &str, value: &str) -> String {
    let v = value.trim().to_string();
    if v.is_empty() {
        return v;
    }
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
                && !domain.contains('@')
        }
        None => false,
    };
    if !ok || v.len() > 254 {
        errors.add(
            field,
            "メールアドレスは name@example.jp のように入力してください",
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_with_the_fields_name() {
        let mut e = FieldErrors::new();
        required_text(&mut e, "name", "お名前", "岩手\u{0}太郎", 100);
        optional_text(&mut e, "memo", "メモ", "a\u{1b}[31m", 100);
        optional_text(&mut e, "c1", "備考", "x\u{85}y", 100);
        assert!(
            e.get("name")
                .is_some_and(|m| m.contains("お名前") && m.contains("制御文字"))
        );
        assert!(e.get("memo").is_some());
        assert!(e.get("c1").is_some());

        // Tabs and line breaks: in long text yes, in a one-line field no.
        let mut e = FieldErrors::new();
        let kept = required_text(&mut e, "question", "相談内容", "一行目\r\n\t二行目", 4000);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(kept, "一行目\r\n\t二行目");
        required_text(&mut e, "name", "名称", "訪問看護\nステーション", 100);
        assert_eq!(e.get("name"), Some("名称に改行やタブは使えません"));
        // Ordinary Japanese text, full-width spaces included, passes.
        let mut e = FieldErrors::new();
        required_text(&mut e, "name", "名称", "みちのく　療育園（盛岡）", 100);
        assert!(e.is_empty());
    }

    #[test]
    fn first_message_per_field_wins_and_order_is_kept() {
        let mut e = FieldErrors::new();
        e.add("name", "名前を入力してください");
        e.add("email", "メールアドレスが正しくありません");
        e.add("name", "名前が長すぎます");
        assert_eq!(e.get("name"), Some("名前を入力してください"));
        let fields: Vec<&str> = e.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["name", "email"]);
        assert!(e.into_result().is_err());
    }

    #[test]
    fn required_text_trims_and_limits() {
        let mut e = FieldErrors::new();
        assert_eq!(
            required_text(&mut e, "a", "名称", "  盛岡市  ", 10),
            "盛岡市"
        );
        assert!(e.is_empty());
        required_text(&mut e, "b", "名称", "   ", 10);
        assert_eq!(e.get("b"), Some("名称を入力してください"));
        required_text(&mut e, "c", "名称", "あいうえおか", 5);
        assert_eq!(e.get("c"), Some("名称は5文字以内で入力してください"));
    }

    #[test]
    fn phones_accept_japanese_forms_and_fold_full_width() {
        let mut e = FieldErrors::new();
        assert_eq!(
            optional_phone(&mut e, "p", "０１９－６２９－５４４６"),
            "019-629-5446"
        );
        assert_eq!(optional_phone(&mut e, "q", ""), "");
        assert!(e.is_empty());
        optional_phone(&mut e, "r", "019-62");
        optional_phone(&mut e, "s", "call me");
        assert!(e.get("r").is_some() && e.get("s").is_some());
    }

    #[test]
    fn emails_are_checked_loosely() {
        let mut e = FieldErrors::new();
        optional_email(&mut e, "a", "center@pref.iwate.jp");
        assert!(e.is_empty());
        optional_email(&mut e, "b", "center@");
        optional_email(&mut e, "c", "a b@example.jp");
        optional_email(&mut e, "d", "no-at-sign");
        assert_eq!(e.iter().count(), 3);
    }
}

//! Password rules (パスワードの要件) after the MHLW guideline for the security of medical
//! information systems, version 6.0 (医療情報システムの安全管理に関するガイドライン 第6.0版).
//!
//! The guideline asks for at least 13 characters when a password is the only factor, or
//! 8 characters together with a second factor, and for refusing passwords that are easy to
//! guess. It does not ask for forced periodic changes or character-class rules, so there are
//! none here: length and guessability are what is checked. Length is counted in characters, so
//! a Japanese passphrase (`岩手の子どもたちをつなぐ`) is as welcome as a Latin one.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use crate::text::fold_ascii_width;

/// Lengths required of a password (パスワードポリシー).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length when the account has no second factor (guideline: 13).
    pub min_len_without_2fa: usize,
    /// Minimum length when the account uses two-factor authentication (guideline: 8).
    pub min_len_with_2fa: usize,
    /// Upper bound, so hashing cost stays predictable.
    pub max_len: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len_without_2fa: 13,
            min_len_with_2fa: 8,
            max_len: 128,
        }
    }
}

/// One reason a password is refused (パスワードの問題点).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Shorter than required. `min_len_with_2fa` is set when turning on two-factor
    /// authentication would lower the requirement, so the message can say so.
    TooShort {
        min_len: usize,
        min_len_with_2fa: Option<usize>,
    },
    /// Longer than the policy allows.
    TooLong { max_len: usize },
    /// On the list of commonly used passwords, possibly with digits or symbols added.
    Common,
    /// Contains the login ID.
    ContainsLoginId,
    /// Contains the user's name.
    ContainsName,
    /// One character or group repeated, where one copy alone would be too short
    /// (`aaaaaaaa`, `abababab`, `Kx9#Kx9#Kx9#`).
    Repeated,
    /// Made only of runs along the alphabet, digits or keyboard (`123456789`, `qwerty`).
    Sequence,
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordProblem::TooShort {
                min_len,
                min_len_with_2fa: Some(with_2fa),
            } => write!(
                f,
                "パスワードは{min_len}文字以上にしてください（二要素認証を使う場合は{with_2fa}文字以上）"
            ),
            PasswordProblem::TooShort {
                min_len,
                min_len_with_2fa: None,
            } => write!(f, "パスワードは{min_len}文字以上にしてください"),
            PasswordProblem::TooLong { max_len } => {
                write!(f, "パスワードは{max_len}文字以下にしてください")
            }
            PasswordProblem::Common => f.write_str(
                "よく使われているパスワードです。推測されにくい別のパスワードにしてください",
            ),
            PasswordProblem::ContainsLoginId => {
                f.write_str("パスワードにログインIDを含めないでください")
            }
            PasswordProblem::ContainsName => f.write_str("パスワードに氏名を含めないでください"),
            PasswordProblem::Repeated => {
                f.write_str("同じ文字や同じ並びを繰り返しただけのパスワードは使えません")
            }
            PasswordProblem::Sequence => f.write_str(
                "「123456」「abcdef」「qwerty」のように文字を順に並べただけのパスワードは使えません",
            ),
        }
    }
}

/// Checks `password` against `policy`; returns every problem found, in a stable order.
///
/// `login_id` and `display_name` are the account's, so the password cannot contain them.
pub fn check_password(
    policy: &PasswordPolicy,
    password: &str,
    has_2fa: bool,
    login_id: &str,
    display_name: &str,
) -> Result<(), Vec<PasswordProblem>> {
    let mut problems = Vec::new();
    let len = password.chars().count();

    // Never below 1, so an empty password is refused whatever the policy says.
    let min_len = if has_2fa {
        policy.min_len_with_2fa
    } else {
        policy.min_len_without_2fa
    }
    .max(1);
    if len < min_len {
        let hint =
            (!has_2fa && policy.min_len_with_2fa < min_len).then_some(policy.min_len_with_2fa);
        problems.push(PasswordProblem::TooShort {
            min_len,
            min_len_with_2fa: hint,
        });
    }
    if len > policy.max_len {
        // Refused anyway; skip the pattern checks so huge input costs nothing.
        problems.push(PasswordProblem::TooLong {
            max_len: policy.max_len,
        });
        return Err(problems);
    }
    if len == 0 {
        return Err(problems);
    }

    let folded = fold(password);
    if is_common(&folded) {
        problems.push(PasswordProblem::Common);
    }
    if contains_login_id(&folded, login_id) {
        problems.push(PasswordProblem::ContainsLoginId);
    }
    if contains_name(&folded, display_name) {
        problems.push(PasswordProblem::ContainsName);
    }
    // A repeated group counts only as much as one copy of it.
    let repeated = repeating_unit(&folded).is_some_and(|unit| unit.chars().count() < min_len);
    if repeated {
        problems.push(PasswordProblem::Repeated);
    } else if is_sequence(&folded) || is_sequence(strip_symbols(&folded)) {
        problems.push(PasswordProblem::Sequence);
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The blocklist: one lowercase password per line.
const COMMON_PASSWORDS_TXT: &str = include_str!("common_passwords.txt");

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS_TXT
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Lowercase with full-width ASCII folded, so `Ｐａｓｓｗｏｒｄ` compares as `password`.
///
/// Dash-like characters are not folded: `ー` in a password stays `ー`.
fn fold(s: &str) -> String {
    s.chars()
        .map(fold_ascii_width)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Digits, ASCII symbols and spaces are what people add around a word to pass rules.
fn strip_symbols(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace())
}

/// Undoes the usual letter-for-symbol swaps (`p@ssw0rd`); `1` may stand for `i` or `l`.
fn unleet(s: &str, one: char) -> String {
    s.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' | '|' => one,
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            _ => c,
        })
        .collect()
}

/// Whether `folded` is a listed password, alone or dressed up: `Password2024!`, `p@ssw0rd`,
/// `passwordpassword`.
fn is_common(folded: &str) -> bool {
    let mut candidates = vec![folded.to_owned()];
    if let Some(unit) = repeating_unit(folded) {
        candidates.push(unit.to_owned());
    }
    let mut expanded = Vec::new();
    for c in &candidates {
        let core = strip_symbols(c);
        for s in [c.as_str(), core] {
            if s.is_empty() {
                continue;
            }
            expanded.push(s.to_owned());
            for one in ['i', 'l'] {
                let plain = unleet(s, one);
                // Symbols at the ends may have been digits standing for nothing: `p@ssw0rd1`.
                expanded.push(strip_symbols(&plain).to_owned());
                expanded.push(plain);
            }
        }
    }
    expanded
        .iter()
        .any(|c| !c.is_empty() && COMMON_PASSWORDS.contains(c.as_str()))
}

/// Whether the password contains the login ID (or the part of an e-mail address before `@`).
/// IDs shorter than 3 characters are ignored: they would forbid too much.
fn contains_login_id(folded: &str, login_id: &str) -> bool {
    let id = fold(login_id.trim());
    let local = id.split('@').next().unwrap_or_default();
    [id.as_str(), local]
        .into_iter()
        .any(|part| part.chars().count() >= 3 && folded.contains(part))
}

/// Whether the password contains the name or one of its parts (姓, 名). Kanji and kana parts
/// count from 2 characters (`山田`), Latin ones from 3, so initials do not forbid too much.
fn contains_name(folded: &str, display_name: &str) -> bool {
    let name = fold(display_name);
    let whole: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    std::iter::once(whole.as_str())
        .chain(name.split_whitespace())
        .any(|part| {
            let n = part.chars().count();
            let long_enough = if part.is_ascii() { n >= 3 } else { n >= 2 };
            long_enough && folded.contains(part)
        })
}

/// The shortest unit that `s` is two or more copies of (`abab` → `ab`), if any.
fn repeating_unit(s: &str) -> Option<&str> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let n = chars.len();
    (1..=n / 2)
        .filter(|&u| n.is_multiple_of(u))
        .find(|&u| (u..n).all(|i| chars[i].1 == chars[i - u].1))
        .and_then(|u| s.get(..chars[u].0))
}

/// Runs that people type instead of choosing: alphabet, digits (wrapping 9→0), keyboard rows
/// and columns, the 50-sound and いろは orders, kanji numerals.
const SEQUENCES: &[&str] = &[
    "01234567890123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "azertyuiop",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
    "q1w2e3r4t5y6u7i8o9p0",
    "!@#$%^&*()_+",
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん",
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン",
    "いろはにほへとちりぬるをわかよたれそつねならむうゐのおくやまけふこえてあさきゆめみしゑひもせす",
    "一二三四五六七八九十",
];

/// Whether `s` (at least 3 characters) splits entirely into runs of 3 or more that are each a
/// stretch of a [`SEQUENCES`] entry (either direction) or one repeated character:
/// `123456789`, `qwerty123`, `abcdcba`, `aaa123`.
fn is_sequence(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n < 3 {
        return false;
    }
    // reachable[i]: chars[..i] splits into runs.
    let mut reachable = vec![false; n + 1];
    reachable[0] = true;
    for start in 0..n {
        if !reachable[start] {
            continue;
        }
        let mut run = String::new();
        for (len, &c) in (1..).zip(&chars[start..]) {
            run.push(c);
            // A run that is not part of any sequence cannot become one by growing.
            if !is_run(&run) {
                break;
            }
            if len >= 3 {
                reachable[start + len] = true;
            }
        }
    }
    reachable[n]
}

fn is_run(run: &str) -> bool {
    let mut chars = run.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    let reversed: String = run.chars().rev().collect();
    SEQUENCES
        .iter()
        .any(|seq| seq.contains(run) || seq.contains(reversed.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, has_2fa: bool) -> Result<(), Vec<PasswordProblem>> {
        check_password(
            &PasswordPolicy::default(),
            password,
            has_2fa,
            "yamada.taro@example.jp",
            "山田 太郎",
        )
    }

    fn problems(password: &str) -> Vec<PasswordProblem> {
        check(password, true).err().unwrap_or_default()
    }

    #[test]
    fn default_policy_follows_the_guideline() {
        let p = PasswordPolicy::default();
        assert_eq!(
            (p.min_len_without_2fa, p.min_len_with_2fa, p.max_len),
            (13, 8, 128)
        );
    }

    #[test]
    fn good_passwords_pass() {
        for pw in [
            "correct horse battery staple",
            "Kx9#mQ2v!Lp7w",
            "岩手の子どもたちをつなぐ会議室",
            "春の盛岡で冷麺を三杯食べた日",
            "tsunagu-is-not-my-password-2026",
        ] {
            assert_eq!(check(pw, false), Ok(()), "{pw}");
        }
    }

    #[test]
    fn required_length_depends_on_two_factor() {
        let twelve = "Kx9#mQ2v!Lp7";
        assert_eq!(twelve.chars().count(), 12);
        assert_eq!(check(twelve, true), Ok(()));
        assert_eq!(
            check("Kx9#mQ2v!Lp", false),
            Err(vec![PasswordProblem::TooShort {
                min_len: 13,
                min_len_with_2fa: Some(8)
            }])
        );
        assert_eq!(
            check("Kx9#mQ2", true),
            Err(vec![PasswordProblem::TooShort {
                min_len: 8,
                min_len_with_2fa: None
            }])
        );
        assert_eq!(check("Kx9#mQ2vL", true), Ok(()));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 8 characters, 24 bytes: enough with 2FA, too short without.
        let pw = "緑の丘と青い風鈴";
        assert_eq!(pw.chars().count(), 8);
        assert_eq!(check(pw, true), Ok(()));
        assert!(check(pw, false).is_err());
    }

    #[test]
    fn too_long_is_refused_and_says_the_limit() {
        let long = "x7".repeat(65);
        let problems = check(&long, true).unwrap_err();
        assert_eq!(problems, vec![PasswordProblem::TooLong { max_len: 128 }]);
        assert_eq!(
            problems[0].to_string(),
            "パスワードは128文字以下にしてください"
        );
        let at_limit: String = "correct horse battery staple "
            .chars()
            .cycle()
            .take(128)
            .collect();
        assert_eq!(check(&at_limit, false), Ok(()));
        let over: String = "correct horse battery staple "
            .chars()
            .cycle()
            .take(129)
            .collect();
        assert_eq!(
            check(&over, false),
            Err(vec![PasswordProblem::TooLong { max_len: 128 }])
        );
    }

    #[test]
    fn short_messages_state_the_required_length() {
        assert_eq!(
            PasswordProblem::TooShort {
                min_len: 13,
                min_len_with_2fa: Some(8)
            }
            .to_string(),
            "パスワードは13文字以上にしてください（二要素認証を使う場合は8文字以上）"
        );
        assert_eq!(
            PasswordProblem::TooShort {
                min_len: 8,
                min_len_with_2fa: None
            }
            .to_string(),
            "パスワードは8文字以上にしてください"
        );
    }

    #[test]
    fn empty_password_is_refused_even_by_a_lax_policy() {
        let lax = PasswordPolicy {
            min_len_without_2fa: 0,
            min_len_with_2fa: 0,
            max_len: 128,
        };
        assert!(check_password(&lax, "", true, "id", "name").is_err());
        assert_eq!(check_password(&lax, "x", true, "id", "name"), Ok(()));
    }

    #[test]
    fn empty_password_is_only_too_short() {
        assert_eq!(
            check("", true),
            Err(vec![PasswordProblem::TooShort {
                min_len: 8,
                min_len_with_2fa: None
            }])
        );
    }

    #[test]
    fn common_passwords_are_refused_even_dressed_up() {
        for pw in [
            "password",
            "PASSWORD",
            "Password2024!",
            "password123456",
            "P@ssw0rd",
            "p@ssw0rd2024",
            "passw0rd1",
            "Ｐａｓｓｗｏｒｄ２０２４",
            "iloveyou",
            "ILoveYou!!2025",
            "Tsunagu2026!",
            "morioka12345",
            "sakura-2024",
            "2024!letmein",
            "passwordpassword",
            "welcome1",
        ] {
            assert!(problems(pw).contains(&PasswordProblem::Common), "{pw}");
        }
        assert!(!problems("Kx9#mQ2v!Lp7").contains(&PasswordProblem::Common));
        // Containing a listed word is not the same as being one.
        assert!(!problems("my sakura tree blooms in april").contains(&PasswordProblem::Common));
    }

    #[test]
    fn login_id_and_name_must_not_appear() {
        assert!(problems("my-yamada.taro@example.jp").contains(&PasswordProblem::ContainsLoginId));
        assert!(problems("Yamada.Taro-1987x").contains(&PasswordProblem::ContainsLoginId));
        assert!(problems("山田さんの合言葉は秘密").contains(&PasswordProblem::ContainsName));
        assert!(problems("太郎の青い自転車です").contains(&PasswordProblem::ContainsName));
        assert!(!problems("山の田んぼの秘密の合言葉").contains(&PasswordProblem::ContainsName));
        let short_id = check_password(
            &PasswordPolicy::default(),
            "ab-correct-horse",
            true,
            "ab",
            "A B",
        );
        assert_eq!(
            short_id,
            Ok(()),
            "IDs and names under 3 Latin letters are ignored"
        );
        let latin_name = check_password(
            &PasswordPolicy::default(),
            "suzukihanako-77x",
            true,
            "u123",
            "Hanako Suzuki",
        );
        assert_eq!(latin_name, Err(vec![PasswordProblem::ContainsName]));
    }

    #[test]
    fn repeated_characters_are_refused() {
        for pw in [
            "aaaaaaaaaaaaa",
            "1111111111111",
            "ああああああああ",
            "abababababab",
            "123123123123",
            "Kx9#Kx9#Kx9#Kx9#",
        ] {
            assert!(problems(pw).contains(&PasswordProblem::Repeated), "{pw}");
        }
        // A repeated group that would pass on its own is not the problem.
        let twice = "Kx9#mQ2v!Lp7Kx9#mQ2v!Lp7";
        assert_eq!(check(twice, true), Ok(()));
        assert_eq!(
            PasswordProblem::Repeated.to_string(),
            "同じ文字や同じ並びを繰り返しただけのパスワードは使えません"
        );
    }

    #[test]
    fn obvious_sequences_are_refused() {
        for pw in [
            "123456789",
            "abcdefgh",
            "qwerty",
            "qwertyuiop",
            "9876543210",
            "7890123456",
            "zyxwvutsrq",
            "hijklmnopq",
            "asdfghjkl;",
            "1qaz2wsx3edc",
            "abcdef123456",
            "qwerty123456",
            "aaaa12345678",
            "!!abcdefghij!!",
            "あいうえおかきく",
            "いろはにほへとちりぬる",
        ] {
            assert!(problems(pw).contains(&PasswordProblem::Sequence), "{pw}");
        }
        for pw in [
            "Kx9#mQ2v!Lp7",
            "correct horse battery staple",
            "abcx7#kq9!mz",
        ] {
            assert!(!problems(pw).contains(&PasswordProblem::Sequence), "{pw}");
        }
    }

    #[test]
    fn every_problem_has_a_japanese_message() {
        for p in [
            PasswordProblem::Common,
            PasswordProblem::ContainsLoginId,
            PasswordProblem::ContainsName,
            PasswordProblem::Repeated,
            PasswordProblem::Sequence,
            PasswordProblem::TooLong { max_len: 128 },
        ] {
            let msg = p.to_string();
            assert!(msg.contains("パスワード"), "{msg}");
        }
    }

    #[test]
    fn blocklist_is_large_lowercase_and_clean() {
        let lines: Vec<&str> = COMMON_PASSWORDS_TXT.lines().collect();
        assert!(lines.len() >= 500, "{} entries", lines.len());
        let unique: HashSet<&str> = lines.iter().copied().collect();
        assert_eq!(unique.len(), lines.len(), "duplicates in the list");
        for l in &lines {
            assert!(!l.is_empty() && l.trim() == *l, "{l:?}");
            assert_eq!(l.to_lowercase(), *l);
        }
        for must in [
            "123456", "password", "qwerty", "iloveyou", "admin", "welcome", "letmein", "dragon",
            "monkey", "tsunagu", "iwate", "morioka", "nihon", "sakura",
        ] {
            assert!(COMMON_PASSWORDS.contains(must), "{must}");
        }
    }

    #[test]
    fn repeating_unit_finds_the_shortest() {
        assert_eq!(repeating_unit("abab"), Some("ab"));
        assert_eq!(repeating_unit("aaaa"), Some("a"));
        assert_eq!(repeating_unit("ああああ"), Some("あ"));
        assert_eq!(repeating_unit("abcab"), None);
        assert_eq!(repeating_unit("a"), None);
        assert_eq!(repeating_unit(""), None);
    }
}

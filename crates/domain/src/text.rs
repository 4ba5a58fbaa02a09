//! Text normalisation: the one place that decides how full-width, half-width and kana variants
//! of what people type are brought to a common form.
//!
//! - [`fold_width`] / [`fold_width_str`] are for form fields that want ASCII back (dates, codes,
//!   phone numbers, one-time passwords): full-width ASCII, the ideographic space and the dashes a
//!   Japanese input method produces become ASCII.
//! - [`fold_ascii_width`] is the same without the dash folding, for text where `ー` must stay
//!   `ー` (passwords).
//! - [`normalize_for_search`] is for search keys: widths, half-width katakana, katakana and
//!   hiragana, letter case and spacing are all folded, so `ｶﾞｲﾄﾞ ﾌﾞｯｸ`, `ガイドブック` and
//!   `がいどぶっく` compare alike. It is meant for indexing and querying, never for display.

/// Folds full-width ASCII (U+FF01–U+FF5E: `Ａ`, `ｚ`, `０`, `－`, `／`, …) to ASCII and the
/// ideographic space (U+3000) to a space. Everything else is returned unchanged; in particular
/// dash-like characters such as `ー` are kept (see [`fold_width`] for those).
pub fn fold_ascii_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Folds full-width ASCII to ASCII, the ideographic space to a space, and the dash-like
/// characters Japanese input methods produce when "-" is meant to `-`:
/// `ー` (U+30FC), `―` (U+2015), `‐` (U+2010), U+2011 non-breaking hyphen, `−` (U+2212),
/// `–` (U+2013) and `—` (U+2014). Other text (kanji, kana, half-width kana) is left alone.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{30FC}' | '\u{2015}' | '\u{2010}' | '\u{2011}' | '\u{2212}' | '\u{2013}'
        | '\u{2014}' => '-',
        _ => fold_ascii_width(c),
    }
}

/// [`fold_width`] applied to every character of `s`.
pub fn fold_width_str(s: &str) -> String {
    s.chars().map(fold_width).collect()
}

/// Normalises `s` into a search key.
///
/// In order:
/// 1. full-width ASCII becomes half-width (`ＡＢＣ１` → `ABC1`);
/// 2. half-width katakana (U+FF61–U+FF9F) becomes full-width, with a following `ﾞ` / `ﾟ`
///    combined into the precomposed kana (`ｶﾞ` → `ガ`, `ﾊﾟ` → `パ`, `ｳﾞ` → `ヴ`); the combining
///    marks U+3099 / U+309A after a kana are combined the same way, and a mark that combines
///    with nothing is kept as the combining mark, as NFKC does;
/// 3. katakana becomes hiragana (U+30A1–U+30F6 → U+3041–U+3096, so `ヴ` → `ゔ`, plus the
///    iteration marks `ヽ` `ヾ` → `ゝ` `ゞ`); `ー` is kept, and `ヷ` `ヸ` `ヹ` `ヺ`, which have no
///    hiragana form, stay katakana;
/// 4. ASCII letters are lowercased (other scripts keep their case);
/// 5. runs of whitespace (including the ideographic space) become one space, and the result
///    is trimmed.
///
/// The function is idempotent: normalising a normalised key changes nothing.
pub fn normalize_for_search(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s
        .chars()
        .map(|c| widen_half_width_katakana(fold_ascii_width(c)))
        .peekable();
    let mut pending_space = false;
    while let Some(mut c) = chars.next() {
        if let Some(composed) = chars.peek().and_then(|&mark| compose_sound_mark(c, mark)) {
            c = composed;
            chars.next();
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(katakana_to_hiragana(c).to_ascii_lowercase());
    }
    out
}

/// Full-width forms of the half-width katakana U+FF61–U+FF9D (punctuation, kana, `ｰ`).
const HALF_WIDTH_KATAKANA: [char; 61] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー',
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ',
    'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ',
    'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

/// Half-width katakana to full-width; the half-width sound marks `ﾞ` `ﾟ` become the combining
/// marks U+3099 / U+309A (what NFKC gives), which [`compose_sound_mark`] then combines.
fn widen_half_width_katakana(c: char) -> char {
    match c {
        '\u{FF61}'..='\u{FF9D}' => HALF_WIDTH_KATAKANA[(c as u32 - 0xFF61) as usize],
        '\u{FF9E}' => '\u{3099}',
        '\u{FF9F}' => '\u{309A}',
        _ => c,
    }
}

/// The precomposed kana for `base` followed by the combining voiced (U+3099) or semi-voiced
/// (U+309A) sound mark, if Unicode has one.
fn compose_sound_mark(base: char, mark: char) -> Option<char> {
    // In both scripts the voiced form of these kana is the next code point, and the
    // semi-voiced form of は-row kana the one after that.
    const VOICEABLE: &str =
        "かきくけこさしすせそたちつてとはひふへほカキクケコサシスセソタチツテトハヒフヘホ";
    const SEMI_VOICEABLE: &str = "はひふへほハヒフヘホ";
    match mark {
        '\u{3099}' => match base {
            'う' => Some('ゔ'),
            'ゝ' => Some('ゞ'),
            'ウ' => Some('ヴ'),
            'ワ' => Some('ヷ'),
            'ヰ' => Some('ヸ'),
            'ヱ' => Some('ヹ'),
            'ヲ' => Some('ヺ'),
            'ヽ' => Some('ヾ'),
            _ if VOICEABLE.contains(base) => char::from_u32(base as u32 + 1),
            _ => None,
        },
        '\u{309A}' if SEMI_VOICEABLE.contains(base) => char::from_u32(base as u32 + 2),
        _ => None,
    }
}

/// Katakana (U+30A1–U+30F6) and the katakana iteration marks to hiragana; `ー` and everything
/// else unchanged.
fn katakana_to_hiragana(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' | '\u{30FD}' | '\u{30FE}' => {
            char::from_u32(c as u32 - 0x60).unwrap_or(c)
        }
        _ => c,
    }
}

/// The most grams a term is looked up by: enough to be selective, few enough for a short query.
const MAX_TERM_GRAMS: usize = 12;

/// The grams of a search key (文字組): every character, and every two adjacent characters
/// within a word; sorted and distinct. An index of these finds every key that contains a term,
/// because the key then has all of the term's [`term_grams`]; it also finds a few that do not,
/// so a substring check on the key follows. Pairs, not triples, because two-character Japanese
/// terms (吸引, 停電) are common; single characters for one-character terms (昆).
///
/// PostgreSQL computes the same grams in SQL for its index (the function `search_grams` of
/// migration 0009); the HTTP tests of keyword search run on both.
pub fn search_grams(key: &str) -> Vec<String> {
    let mut grams: Vec<String> = Vec::new();
    for word in key.split(' ') {
        let chars: Vec<char> = word.chars().collect();
        grams.extend(chars.iter().map(|c| c.to_string()));
        grams.extend(chars.windows(2).map(|pair| pair.iter().collect::<String>()));
    }
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// The grams a key must have to contain a keyword term (normalised, without spaces): the term
/// itself when it is one character long, else its pairs (up to 12, spread over it).
pub fn term_grams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 2 {
        return if term.is_empty() {
            Vec::new()
        } else {
            vec![term.to_string()]
        };
    }
    let mut grams: Vec<String> = chars
        .windows(2)
        .map(|pair| pair.iter().collect::<String>())
        .collect();
    grams.sort_unstable();
    grams.dedup();
    if grams.len() > MAX_TERM_GRAMS {
        let step = grams.len() as f64 / MAX_TERM_GRAMS as f64;
        grams = (0..MAX_TERM_GRAMS)
            .filter_map(|i| grams.get((i as f64 * step) as usize).cloned())
            .collect();
    }
    grams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_width_folds_every_full_width_ascii_character() {
        for (wide, narrow) in ('\u{FF01}'..='\u{FF5E}').zip('!'..='~') {
            assert_eq!(fold_width(wide), narrow, "{wide:?}");
            assert_eq!(fold_ascii_width(wide), narrow, "{wide:?}");
        }
        assert_eq!(fold_width('\u{3000}'), ' ');
        assert_eq!(fold_ascii_width('\u{3000}'), ' ');
        // Just outside the range, and text that is not ASCII-like, is left alone.
        for c in [
            '\u{FF00}', '\u{FF5F}', '\u{FF61}', 'ｱ', 'ｰ', 'ア', 'あ', '岩', '〜', 'a', '-',
        ] {
            assert_eq!(fold_width(c), c, "{c:?}");
            assert_eq!(fold_ascii_width(c), c, "{c:?}");
        }
    }

    #[test]
    fn fold_width_turns_dash_like_characters_into_hyphen_minus() {
        for c in ['ー', '―', '‐', '\u{2011}', '−', '–', '—', '－'] {
            assert_eq!(fold_width(c), '-', "{c:?}");
        }
        // Without dash folding only the full-width hyphen-minus changes.
        for c in ['ー', '―', '‐', '\u{2011}', '−', '–', '—'] {
            assert_eq!(fold_ascii_width(c), c, "{c:?}");
        }
        assert_eq!(fold_ascii_width('－'), '-');
    }

    #[test]
    fn fold_width_str_folds_what_people_type_into_forms() {
        assert_eq!(fold_width_str("０１９ー６２９―５４４６"), "019-629-5446");
        assert_eq!(fold_width_str("令和４年９月１５日"), "令和4年9月15日");
        assert_eq!(fold_width_str("Ｒ４．９．１５"), "R4.9.15");
        assert_eq!(fold_width_str("\u{3000}ＡＢＣ\u{3000}"), " ABC ");
        assert_eq!(fold_width_str("ｶﾞｲﾄﾞ"), "ｶﾞｲﾄﾞ", "half-width kana is not ASCII");
        assert_eq!(fold_width_str(""), "");
    }

    #[test]
    fn search_key_folds_width_kana_case_and_spacing() {
        assert_eq!(
            normalize_for_search("ｶﾞｲﾄﾞ\u{3000}ブック ABC"),
            "がいど ぶっく abc"
        );
        assert_eq!(normalize_for_search("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize_for_search("Ｔｓｕｎａｇｕ"), "tsunagu");
        assert_eq!(normalize_for_search("岩手県 盛岡市"), "岩手県 盛岡市");
    }

    #[test]
    fn katakana_and_hiragana_search_alike() {
        let key = normalize_for_search("とうきょう");
        assert_eq!(key, "とうきょう");
        for s in ["トウキョウ", "ﾄｳｷｮｳ", " とうきょう ", "トうキョう"] {
            assert_eq!(normalize_for_search(s), key, "{s:?}");
        }
        assert_ne!(normalize_for_search("きょうと"), key);
    }

    #[test]
    fn vu_is_handled_in_every_spelling() {
        for s in ["ヴ", "ｳﾞ", "ウ\u{3099}", "う\u{3099}", "ゔ"] {
            assert_eq!(normalize_for_search(s), "ゔ", "{s:?}");
        }
        assert_eq!(normalize_for_search("ヴァイオリン"), "ゔぁいおりん");
        assert_eq!(normalize_for_search("ｳﾞｧｲｵﾘﾝ"), "ゔぁいおりん");
    }

    #[test]
    fn prolonged_sound_mark_is_kept() {
        assert_eq!(normalize_for_search("ラーメン"), "らーめん");
        assert_eq!(normalize_for_search("ﾗｰﾒﾝ"), "らーめん");
        assert_eq!(normalize_for_search("データ"), normalize_for_search("ﾃﾞｰﾀ"));
    }

    #[test]
    fn every_half_width_kana_and_sound_mark_combination() {
        let plain: String = ('\u{FF61}'..='\u{FF9D}').collect();
        assert_eq!(
            normalize_for_search(&plain),
            "。「」、・をぁぃぅぇぉゃゅょっーあいうえおかきくけこさしすせそたちつてと\
             なにぬねのはひふへほまみむめもやゆよらりるれろわん"
        );
        let voiced: String = "ｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎｳ"
            .chars()
            .flat_map(|c| [c, 'ﾞ'])
            .collect();
        assert_eq!(
            normalize_for_search(&voiced),
            "がぎぐげござじずぜぞだぢづでどばびぶべぼゔ"
        );
        let semi_voiced: String = "ﾊﾋﾌﾍﾎ".chars().flat_map(|c| [c, 'ﾟ']).collect();
        assert_eq!(normalize_for_search(&semi_voiced), "ぱぴぷぺぽ");
        // Kana with a voiced form only in katakana stay katakana.
        assert_eq!(normalize_for_search("ﾜﾞｦﾞ"), "ヷヺ");
        // A mark that combines with nothing stays a combining mark, as in NFKC.
        assert_eq!(normalize_for_search("ﾝﾞ"), "ん\u{3099}");
        assert_eq!(normalize_for_search("ｱﾟ"), "あ\u{309A}");
    }

    #[test]
    fn combining_marks_after_full_width_kana_compose() {
        assert_eq!(normalize_for_search("カ\u{3099}イト\u{3099}"), "がいど");
        assert_eq!(normalize_for_search("は\u{309A}ん"), "ぱん");
        assert_eq!(normalize_for_search("ヽヾゝゞ"), "ゝゞゝゞ");
        assert_eq!(normalize_for_search("ヵヶ"), "ゕゖ");
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        assert_eq!(
            normalize_for_search("  a \t\n b\u{3000}\u{3000}c  "),
            "a b c"
        );
        assert_eq!(normalize_for_search("\u{3000} \t"), "");
        assert_eq!(normalize_for_search(""), "");
    }

    #[test]
    fn only_ascii_letters_change_case() {
        assert_eq!(normalize_for_search("ÄÖ Σ ABC"), "ÄÖ Σ abc");
    }

    #[test]
    fn search_key_is_idempotent() {
        for s in [
            "ｶﾞｲﾄﾞ\u{3000}ブック ABC",
            "ヴァイオリン",
            "ﾝﾞ",
            "ﾜﾞ",
            "  ＡＢＣ  ﾃﾞｰﾀ  ",
            "令和４年 トウキョウ",
        ] {
            let once = normalize_for_search(s);
            assert_eq!(normalize_for_search(&once), once, "{s:?}");
        }
    }

    #[test]
    fn grams_are_the_characters_and_the_pairs_within_each_word() {
        let g = search_grams("きゅういん r8-1");
        let mut expected: Vec<String> = [
            "き", "ゅ", "う", "い", "ん", "きゅ", "ゅう", "うい", "いん", "r", "8", "-", "1", "r8",
            "8-", "-1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        expected.sort();
        assert_eq!(g, expected);
    }

    #[test]
    fn grams_are_distinct() {
        assert_eq!(search_grams("ああああ"), ["あ", "ああ"]);
        assert_eq!(search_grams(""), Vec::<String>::new());
    }

    /// The promise the index rests on: a key containing a term has every gram the term needs.
    #[test]
    fn a_key_containing_a_term_has_its_grams() {
        let keys = [
            "r8-0012 佐藤 花子 人工呼吸器を使っている子のしょーとすてい（短期入所）先を探している。",
            "停電のとき吸引器のばってりーが何時間もつか不安。",
            "a-b_c%d 100% \\ 'x' \"y\"",
        ];
        for key in keys {
            let grams = search_grams(key);
            for word in key.split(' ') {
                let chars: Vec<char> = word.chars().collect();
                for start in 0..chars.len() {
                    for end in start + 1..=chars.len().min(start + 20) {
                        let term: String = chars[start..end].iter().collect();
                        let need = term_grams(&term);
                        assert!(!need.is_empty(), "{term}");
                        assert!(need.iter().all(|g| grams.contains(g)), "{term} in {key}");
                    }
                }
            }
        }
    }

    #[test]
    fn terms_need_their_pairs_or_themselves() {
        assert!(term_grams("").is_empty());
        assert_eq!(term_grams("昆"), ["昆"]);
        assert_eq!(term_grams("吸引"), ["吸引"]);
        assert_eq!(term_grams("ショート"), ["ショ", "ョー", "ート"]);
        assert_eq!(
            term_grams(&"あいうえおかきくけこさしすせそ".repeat(3)).len(),
            12
        );
    }
}

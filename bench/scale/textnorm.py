"""A Python port of `tsunagu_domain::text::normalize_for_search` (crates/domain/src/text.rs).

The scale generator writes `search_text` straight into the database, so it must compute the key
exactly as the application does, or keyword searches would find other rows than in production.
`generate.py --check-normalisation` compares this port with the keys the application itself
wrote (the demo data), so a change to the Rust function that is not carried over here shows up.

The Rust function walks the characters once; this port does the same steps with whole-string
operations, which is what makes generating 250,000 keys take seconds instead of minutes:

1. full-width ASCII -> ASCII, U+3000 -> space, half-width katakana -> full-width (sound marks
   U+FF9E / U+FF9F -> combining U+3099 / U+309A)            (one `str.translate`)
2. a kana followed by a combining sound mark -> the precomposed kana, where Unicode has one
   (left to right, non-overlapping, like the Rust peek-and-skip loop)
3. runs of Unicode White_Space (as Rust's `char::is_whitespace`) -> one space, trimmed
4. katakana U+30A1-U+30F6, U+30FD, U+30FE -> hiragana; ASCII A-Z -> a-z
"""

import re

# Full-width forms of the half-width katakana U+FF61-U+FF9D (punctuation, kana, ｰ), as in text.rs.
_HALF_WIDTH_KATAKANA = (
    "。「」、・ヲァィゥェォャュョッー"
    "アイウエオカキクケコサシスセソタ"
    "チツテトナニヌネノハヒフヘホマミ"
    "ムメモヤユヨラリルレロワン"
)
assert len(_HALF_WIDTH_KATAKANA) == 61

_STEP1 = {}
for cp in range(0xFF01, 0xFF5F):
    _STEP1[cp] = cp - 0xFEE0
_STEP1[0x3000] = 0x20
for i, ch in enumerate(_HALF_WIDTH_KATAKANA):
    _STEP1[0xFF61 + i] = ord(ch)
_STEP1[0xFF9E] = 0x3099
_STEP1[0xFF9F] = 0x309A

_VOICEABLE = "かきくけこさしすせそたちつてとはひふへほカキクケコサシスセソタチツテトハヒフヘホ"
_SEMI_VOICEABLE = "はひふへほハヒフヘホ"
_VOICED_SPECIAL = {
    "う": "ゔ",
    "ゝ": "ゞ",
    "ウ": "ヴ",
    "ワ": "ヷ",
    "ヰ": "ヸ",
    "ヱ": "ヹ",
    "ヲ": "ヺ",
    "ヽ": "ヾ",
}
_COMPOSE = {}
for b in _VOICEABLE:
    _COMPOSE[b + "\u3099"] = chr(ord(b) + 1)
for b, v in _VOICED_SPECIAL.items():
    _COMPOSE[b + "\u3099"] = v
for b in _SEMI_VOICEABLE:
    _COMPOSE[b + "\u309a"] = chr(ord(b) + 2)
# Any character followed by a mark: the Rust loop tries every pair, and a pair that does not
# compose leaves both characters as they are (the mark is then tried as a base, which never
# composes). Matching any base keeps the left-to-right pairing identical.
_PAIR = re.compile("(.)([\u3099\u309a])", re.S)

# Unicode White_Space, which is what Rust's char::is_whitespace tests.
_WS = re.compile(
    "[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)

_STEP4 = {}
for cp in range(0x30A1, 0x30F7):
    _STEP4[cp] = cp - 0x60
_STEP4[0x30FD] = 0x309D
_STEP4[0x30FE] = 0x309E
for cp in range(ord("A"), ord("Z") + 1):
    _STEP4[cp] = cp + 32


def _compose(m):
    pair = m.group(0)
    return _COMPOSE.get(pair, pair)


def normalize_for_search(s: str) -> str:
    s = s.translate(_STEP1)
    if "\u3099" in s or "\u309a" in s:
        s = _PAIR.sub(_compose, s)
    s = _WS.sub(" ", s).strip(" ")
    # strip(" ") is enough: every whitespace run is a single space by now.
    return s.translate(_STEP4)


def _self_test():
    # The cases of the Rust unit tests.
    cases = [
        ("ｶﾞｲﾄﾞ\u3000ブック ABC", "がいど ぶっく abc"),
        ("ＡＢＣ１２３", "abc123"),
        ("Ｔｓｕｎａｇｕ", "tsunagu"),
        ("岩手県 盛岡市", "岩手県 盛岡市"),
        ("トウキョウ", "とうきょう"),
        ("ﾄｳｷｮｳ", "とうきょう"),
        (" とうきょう ", "とうきょう"),
        ("ヴ", "ゔ"),
        ("ｳﾞ", "ゔ"),
        ("ウ\u3099", "ゔ"),
        ("う\u3099", "ゔ"),
        ("ヴァイオリン", "ゔぁいおりん"),
        ("ｳﾞｧｲｵﾘﾝ", "ゔぁいおりん"),
        ("ラーメン", "らーめん"),
        ("ﾗｰﾒﾝ", "らーめん"),
        ("ﾜﾞｦﾞ", "ヷヺ"),
        ("ﾝﾞ", "ん\u3099"),
        ("ｱﾟ", "あ\u309a"),
        ("カ\u3099イト\u3099", "がいど"),
        ("は\u309aん", "ぱん"),
        ("ヽヾゝゞ", "ゝゞゝゞ"),
        ("ヵヶ", "ゕゖ"),
        ("  a \t\n b\u3000\u3000c  ", "a b c"),
        ("\u3000 \t", ""),
        ("", ""),
        ("ÄÖ Σ ABC", "ÄÖ Σ abc"),
    ]
    plain = "".join(chr(c) for c in range(0xFF61, 0xFF9E))
    cases.append(
        (
            plain,
            "。「」、・をぁぃぅぇぉゃゅょっーあいうえおかきくけこさしすせそたちつてと"
            "なにぬねのはひふへほまみむめもやゆよらりるれろわん",
        )
    )
    voiced = "".join(c + "ﾞ" for c in "ｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎｳ")
    cases.append((voiced, "がぎぐげござじずぜぞだぢづでどばびぶべぼゔ"))
    cases.append(("".join(c + "ﾟ" for c in "ﾊﾋﾌﾍﾎ"), "ぱぴぷぺぽ"))
    for given, want in cases:
        got = normalize_for_search(given)
        assert got == want, (given, got, want)
        assert normalize_for_search(got) == got, given


_self_test()

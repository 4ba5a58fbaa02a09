//! Time-based one-time passwords (ワンタイムパスワード, RFC 6238 TOTP) and the base32 encoding
//! (RFC 4648) that authenticator apps use for the shared secret.
//!
//! Written directly on HMAC-SHA1 so the domain crate needs no TOTP dependency; the parameters
//! are the ones every authenticator app supports: SHA-1, 6 digits, 30-second steps.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::text::fold_width;

/// Seconds per TOTP step.
pub const TOTP_STEP: i64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: u32 = 6;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, uppercase, without `=` padding (the form authenticator apps expect).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 0x1f) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize],
        ));
    }
    out
}

/// Decodes RFC 4648 base32 as people copy it: case-insensitive, spaces (also full-width)
/// ignored, trailing `=` padding tolerated. `None` for any other character or an impossible
/// length.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let cleaned: Vec<u8> = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| u8::try_from(c).ok())
        .collect::<Option<_>>()?;
    let data = match cleaned.iter().position(|&b| b == b'=') {
        Some(pos) => {
            // Padding may only close the string.
            if !cleaned[pos..].iter().all(|&b| b == b'=') {
                return None;
            }
            &cleaned[..pos]
        }
        None => &cleaned[..],
    };
    // 1, 3 and 6 leftover characters cannot come from whole bytes.
    if matches!(data.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &c in data {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The HOTP value (RFC 4226) for `counter`, as a zero-padded decimal string.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // Dynamic truncation: the low nibble of the last byte picks 4 bytes.
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let digits = digits.clamp(1, 10);
    let code = u64::from(binary) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The step number (time counter) that `unix_time` falls in.
fn step_of(unix_time: i64, step: i64) -> i64 {
    unix_time.div_euclid(step.max(1))
}

/// The TOTP code for `unix_time` (RFC 6238 with SHA-1), zero-padded to `digits`.
///
/// `step` below 1 is taken as 1 and `digits` is clamped to 1..=10 (what 31 bits can give);
/// times before 1970 use step 0.
pub fn totp_code(secret: &[u8], unix_time: i64, step: i64, digits: u32) -> String {
    let counter = u64::try_from(step_of(unix_time, step)).unwrap_or(0);
    hotp(secret, counter, digits)
}

/// Checks a 6-digit code typed by the user against the steps around `unix_time` (one step
/// either way, for clock drift) and returns the step it matched.
///
/// Spaces are ignored and full-width digits folded (`１２３ ４５６`). A step at or before
/// `last_used_step` is refused so a code cannot be used twice; store the returned step as the
/// new `last_used_step`.
pub fn verify_totp(
    secret: &[u8],
    code: &str,
    unix_time: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let typed = normalize_code(code)?;
    let current = step_of(unix_time, TOTP_STEP);
    let mut matched = None;
    // Every candidate is computed and compared in full, so timing does not reveal which
    // step (or which digit) matched.
    for candidate in [current - 1, current, current + 1] {
        let Ok(counter) = u64::try_from(candidate) else {
            continue;
        };
        let expected = hotp(secret, counter, TOTP_DIGITS);
        let fresh = last_used_step.is_none_or(|last| candidate > last);
        if constant_time_eq(expected.as_bytes(), &typed) && fresh {
            matched = Some(candidate);
        }
    }
    matched
}

/// The typed code as 6 ASCII digits, or `None`.
fn normalize_code(code: &str) -> Option<Vec<u8>> {
    let mut digits = Vec::with_capacity(6);
    for c in code.chars().map(fold_width) {
        match c {
            '0'..='9' => digits.push(c as u8),
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    (digits.len() == TOTP_DIGITS as usize).then_some(digits)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The `otpauth://` URI that authenticator apps read from a QR code.
///
/// Issuer and account are percent-encoded; the secret is given without spaces or padding.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let secret: String = secret_b32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP}",
        account = percent_encode(account),
        secret = percent_encode(&secret),
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `:` `@` `&` and spaces
/// cannot break the label or the query).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (t, expected) in vectors {
            assert_eq!(totp_code(RFC_SECRET, t, 30, 8), expected, "t = {t}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_of_the_eight() {
        // Reducing mod 10^6 instead of 10^8 keeps the low digits.
        assert_eq!(totp_code(RFC_SECRET, 59, 30, 6), "287082");
        assert_eq!(totp_code(RFC_SECRET, 1_111_111_109, 30, 6), "081804");
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), *code);
        }
    }

    #[test]
    fn codes_are_stable_within_a_step_and_change_across() {
        let s = b"some secret";
        assert_eq!(
            totp_code(s, 1_800_000_000, 30, 6),
            totp_code(s, 1_800_000_029, 30, 6)
        );
        assert_ne!(
            totp_code(s, 1_800_000_029, 30, 6),
            totp_code(s, 1_800_000_030, 30, 6)
        );
        assert_eq!(totp_code(s, 1_800_000_000, 30, 6).len(), 6);
    }

    #[test]
    fn odd_parameters_do_not_panic() {
        assert_eq!(totp_code(RFC_SECRET, -5, 30, 6), hotp(RFC_SECRET, 0, 6));
        assert_eq!(totp_code(RFC_SECRET, 59, 0, 6).len(), 6);
        assert_eq!(totp_code(RFC_SECRET, 59, 30, 0).len(), 1);
        assert_eq!(totp_code(RFC_SECRET, 59, 30, 99).len(), 10);
        assert_eq!(totp_code(b"", 59, 30, 6).len(), 6);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (raw, encoded) in vectors {
            assert_eq!(base32_encode(raw), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(raw));
        }
        assert_eq!(
            base32_encode(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn base32_decode_is_forgiving_about_form_but_not_content() {
        assert_eq!(base32_decode("mzxw6ytboi").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(
            base32_decode("MZXW 6YTB OI").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(
            base32_decode("MZXW6YTBOI======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(base32_decode(" MY====== ").as_deref(), Some(&b"f"[..]));
        assert_eq!(
            base32_decode("MZXW\u{3000}6YQ").as_deref(),
            Some(&b"foob"[..])
        );
        assert_eq!(base32_decode("MZXW1YQ"), None, "1 is not in the alphabet");
        assert_eq!(base32_decode("MZ=XW"), None, "padding in the middle");
        assert_eq!(base32_decode("M"), None, "impossible length");
        assert_eq!(base32_decode("MZX"), None, "impossible length");
        assert_eq!(base32_decode("ＭＹ"), None);
    }

    #[test]
    fn base32_round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..40 {
            let slice = &data[100..100 + len];
            assert_eq!(base32_decode(&base32_encode(slice)).as_deref(), Some(slice));
        }
    }

    #[test]
    fn verify_accepts_current_and_adjacent_steps_only() {
        let secret = b"tsunagu test secret!";
        let now = 1_800_000_015;
        let step = now / 30;
        for delta in [-1, 0, 1] {
            let code = totp_code(secret, now + delta * 30, 30, 6);
            assert_eq!(
                verify_totp(secret, &code, now, None),
                Some(step + delta),
                "{delta}"
            );
        }
        for delta in [-2, 2] {
            let code = totp_code(secret, now + delta * 30, 30, 6);
            assert_eq!(verify_totp(secret, &code, now, None), None, "{delta}");
        }
        let code = totp_code(secret, now, 30, 6);
        assert_eq!(verify_totp(b"another secret", &code, now, None), None);
    }

    #[test]
    fn verify_refuses_replay() {
        let secret = b"tsunagu test secret!";
        let now = 1_800_000_015;
        let code = totp_code(secret, now, 30, 6);
        let used = verify_totp(secret, &code, now, None).unwrap();
        assert_eq!(verify_totp(secret, &code, now, Some(used)), None);
        assert_eq!(verify_totp(secret, &code, now + 20, Some(used)), None);
        // An older code after a newer one was used is refused too.
        let previous = totp_code(secret, now - 30, 30, 6);
        assert_eq!(verify_totp(secret, &previous, now, Some(used)), None);
        // The next step's code is still fine.
        let next = totp_code(secret, now + 30, 30, 6);
        assert_eq!(
            verify_totp(secret, &next, now + 30, Some(used)),
            Some(used + 1)
        );
    }

    #[test]
    fn verify_normalizes_what_people_type() {
        let secret = b"tsunagu test secret!";
        let now = 1_800_000_015;
        let code = totp_code(secret, now, 30, 6);
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert!(verify_totp(secret, &spaced, now, None).is_some());
        let wide: String = code
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert!(verify_totp(secret, &wide, now, None).is_some());
        assert_eq!(verify_totp(secret, &code[..5], now, None), None);
        assert_eq!(verify_totp(secret, &format!("{code}0"), now, None), None);
        assert_eq!(verify_totp(secret, &format!("{code}a"), now, None), None);
        assert_eq!(
            verify_totp(secret, &format!("-{}", &code[1..]), now, None),
            None
        );
        assert_eq!(verify_totp(secret, "", now, None), None);
    }

    #[test]
    fn verify_works_at_the_epoch() {
        let code = totp_code(RFC_SECRET, 0, 30, 6);
        assert_eq!(verify_totp(RFC_SECRET, &code, 0, None), Some(0));
    }

    #[test]
    fn otpauth_uri_is_well_formed() {
        assert_eq!(
            otpauth_uri("Tsunagu", "yamada@example.jp", "GEZD GNBV gy3t===="),
            "otpauth://totp/Tsunagu:yamada%40example.jp?secret=GEZDGNBVGY3T&issuer=Tsunagu&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri("つなぐ 岩手", "a:b&c", "MZXW6"),
            "otpauth://totp/%E3%81%A4%E3%81%AA%E3%81%90%20%E5%B2%A9%E6%89%8B:a%3Ab%26c?secret=MZXW6&issuer=%E3%81%A4%E3%81%AA%E3%81%90%20%E5%B2%A9%E6%89%8B&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn constant_time_eq_compares_fully() {
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"123456", b"12345"));
    }
}

//! The audit chain (監査ログ): each entry stores the hash of the previous entry and the hash of its
//! own content, so that altering, removing or reordering any entry breaks every hash after it.

use sha2::{Digest, Sha256};

/// The hash that stands before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The content of an audit entry that the hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryContent<'a> {
    pub seq: i64,
    pub at: &'a str,
    pub actor_user_id: Option<&'a str>,
    pub actor_login: &'a str,
    pub actor_org_id: Option<&'a str>,
    pub client_ip: &'a str,
    pub request_id: &'a str,
    pub action: &'a str,
    pub record_type: &'a str,
    pub record_id: &'a str,
    pub old_values: Option<&'a str>,
    pub new_values: Option<&'a str>,
    pub detail: &'a str,
}

/// The hash of an entry: SHA-256 over the previous hash and every content field, each field
/// length-prefixed so that no two different entries can serialise alike.
pub fn entry_hash(prev_hash: &str, c: &EntryContent<'_>) -> String {
    let mut h = Sha256::new();
    let seq = c.seq.to_string();
    let fields: [Option<&str>; 14] = [
        Some(prev_hash),
        Some(&seq),
        Some(c.at),
        c.actor_user_id,
        Some(c.actor_login),
        c.actor_org_id,
        Some(c.client_ip),
        Some(c.request_id),
        Some(c.action),
        Some(c.record_type),
        Some(c.record_id),
        c.old_values,
        c.new_values,
        Some(c.detail),
    ];
    for f in fields {
        match f {
            None => h.update(b"N"),
            Some(s) => {
                h.update(b"S");
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    to_hex(&h.finalize())
}

pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

/// SHA-256 of a string as hex: for session ids and recovery codes, which are random enough
/// that a slow hash adds nothing.
pub fn sha256_hex(s: &str) -> String {
    to_hex(&Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EntryContent<'static> {
        EntryContent {
            seq: 1,
            at: "2026-11-24T04:00:00.000000Z",
            actor_user_id: Some("u1"),
            actor_login: "admin",
            actor_org_id: None,
            client_ip: "127.0.0.1",
            request_id: "r1",
            action: "user.create",
            record_type: "user",
            record_id: "u2",
            old_values: None,
            new_values: Some("{\"login_id\":\"pref\"}"),
            detail: "",
        }
    }

    #[test]
    fn any_change_of_content_or_predecessor_changes_the_hash() {
        let base = entry_hash(GENESIS_HASH, &sample());
        assert_eq!(base.len(), 64);
        assert_eq!(base, entry_hash(GENESIS_HASH, &sample()));
        let mut c = sample();
        c.actor_login = "admln";
        assert_ne!(base, entry_hash(GENESIS_HASH, &c));
        let mut c = sample();
        c.seq = 2;
        assert_ne!(base, entry_hash(GENESIS_HASH, &c));
        assert_ne!(base, entry_hash(&base, &sample()));
    }

    #[test]
    fn absent_and_empty_values_differ_and_fields_cannot_be_shifted() {
        let mut a = sample();
        a.old_values = Some("");
        assert_ne!(
            entry_hash(GENESIS_HASH, &a),
            entry_hash(GENESIS_HASH, &sample())
        );
        let mut b = sample();
        b.record_type = "use";
        b.record_id = "ru2";
        assert_ne!(
            entry_hash(GENESIS_HASH, &b),
            entry_hash(GENESIS_HASH, &sample())
        );
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! The audit chain (監査ログ): each entry stores the hash of the previous entry and the hash of its
//! own content, so that altering, removing or reordering any entry breaks every hash after it.
//! The hash alone can be recomputed by anyone who can write the database, so each entry also
//! carries a MAC of its hash under a key kept outside the database ([`entry_mac`]).

use hmac::{Hmac, Mac};
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

/// An audit key: 32 random bytes and the id that entries signed with it carry.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey {
    pub id: String,
    pub bytes: [u8; 32],
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({}, ***)", self.id)
    }
}

/// The MAC of entry `seq` whose chain hash is `hash`: `keyid:` and HMAC-SHA256 in hex. The
/// hash already covers the entry's content and everything before it, so one MAC per entry
/// seals the whole chain up to it; without the key nobody can make a rewritten chain match.
pub fn entry_mac(key: &AuditKey, seq: i64, hash: &str) -> String {
    keyed(key, b"tsunagu-audit-mac-v1\n", seq, hash)
}

/// The MAC of a checkpoint file's line saying the log was restored to entry `seq` whose MAC is
/// `mac`: without the key nobody can add such a line to hide a rollback.
pub fn restore_mac(key: &AuditKey, seq: i64, mac: &str) -> String {
    keyed(key, b"tsunagu-audit-restore-v1\n", seq, mac)
}

fn keyed(key: &AuditKey, purpose: &[u8], seq: i64, text: &str) -> String {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&key.bytes).expect("HMAC accepts any key length");
    m.update(purpose);
    m.update(seq.to_string().as_bytes());
    m.update(b"\n");
    m.update(text.as_bytes());
    format!("{}:{}", key.id, to_hex(&m.finalize().into_bytes()))
}

/// The key id a stored MAC names.
pub fn mac_key_id(mac: &str) -> Option<&str> {
    mac.split_once(':').map(|(id, _)| id)
}

/// Compares two MACs in time independent of where they first differ.
pub fn macs_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
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
    fn the_mac_depends_on_key_sequence_and_hash() {
        let k1 = AuditKey {
            id: "k1".into(),
            bytes: [7; 32],
        };
        let k2 = AuditKey {
            id: "k1".into(),
            bytes: [8; 32],
        };
        let h = entry_hash(GENESIS_HASH, &sample());
        let m = entry_mac(&k1, 1, &h);
        assert!(m.starts_with("k1:") && m.len() == 3 + 64, "{m}");
        assert_eq!(mac_key_id(&m), Some("k1"));
        assert!(macs_equal(&m, &entry_mac(&k1, 1, &h)));
        assert!(!macs_equal(&m, &entry_mac(&k2, 1, &h)));
        assert!(!macs_equal(&m, &entry_mac(&k1, 2, &h)));
        assert!(!macs_equal(&m, &entry_mac(&k1, 1, GENESIS_HASH)));
        // A restore line's MAC is not an entry's.
        assert!(!macs_equal(&m, &restore_mac(&k1, 1, &h)));
        assert!(!format!("{k1:?}").contains('7'));
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! The keyword index of consultations (相談記録のキーワード索引): the grams of each search key
//! ([`search_grams`]). A keyword search looks up the consultations that can contain its terms
//! instead of reading every key; the substring check on `search_text` then decides, so the index
//! only has to miss nothing. PostgreSQL computes the grams itself in a GIN expression index;
//! SQLite keeps them in an FTS5 table that [`store`] writes with the consultation, in the same
//! transaction (migration 0009). No extension is needed on either.

use sqlx::Row;
use tsunagu_domain::text::{search_grams, term_grams};

use crate::{Backend, Db, Result, Tx};

/// Consultations indexed per statement in [`rebuild`].
const REBUILD_BATCH: usize = 500;

/// Stores the grams of `search_text` for consultation `id`, replacing any it had (SQLite; the
/// PostgreSQL index follows the row by itself).
pub(crate) async fn store(tx: &mut Tx, id: &str, search_text: &str) -> Result<()> {
    if tx.backend() == Backend::Postgres {
        return Ok(());
    }
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM consultation_search WHERE consultation_id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let seq = match seq {
        Some(seq) => {
            sqlx::query("DELETE FROM consultation_grams WHERE rowid = $1")
                .bind(seq)
                .execute(tx.conn())
                .await?;
            seq
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO consultation_search (consultation_id) VALUES ($1) RETURNING seq",
            )
            .bind(id)
            .fetch_one(tx.conn())
            .await?
        }
    };
    sqlx::query("INSERT INTO consultation_grams (rowid, grams) VALUES ($1, $2)")
        .bind(seq)
        .bind(fts5_document(search_text))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Consultations (as `c`) whose search key may contain every one of a keyword's terms: every
/// consultation that does contain them is among them. Read from the index first, so that a
/// `LIMIT` stops the index early.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    /// The tables to read from, ending with consultations as `c`.
    pub from: &'static str,
    /// The condition on them, where `?` stands for [`Lookup::query`].
    pub condition: &'static str,
    /// The grams to look up, as the backend reads them.
    pub query: String,
}

/// The lookup of consultations that may contain every one of `terms` (normalised, without
/// spaces); `None` when there are no terms.
pub(crate) fn lookup(backend: Backend, terms: &[String]) -> Option<Lookup> {
    let mut grams: Vec<String> = terms.iter().flat_map(|t| term_grams(t)).collect();
    grams.sort_unstable();
    grams.dedup();
    if grams.is_empty() {
        return None;
    }
    Some(match backend {
        Backend::Sqlite => Lookup {
            from: "consultation_grams
                JOIN consultation_search s ON s.seq = consultation_grams.rowid
                JOIN consultations c ON c.id = s.consultation_id",
            condition: "consultation_grams MATCH ?",
            query: grams
                .iter()
                .map(|g| format!("\"{}\"", fts5_token(g)))
                .collect::<Vec<_>>()
                .join(" AND "),
        },
        Backend::Postgres => Lookup {
            from: "consultations c",
            condition: "search_grams(c.search_text) @> CAST(? AS TEXT[])",
            query: array_literal(&grams),
        },
    })
}

/// Up to `limit` ids of consultations that meet `lookup`, in no order: all of them when fewer
/// come back.
pub(crate) async fn candidates(db: &Db, lookup: &Lookup, limit: i64) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT c.id FROM {} WHERE {} LIMIT {limit}",
        lookup.from,
        lookup.condition.replace('?', "$1")
    );
    let rows = sqlx::query(&sql)
        .bind(lookup.query.clone())
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?)
}

/// Writes the index anew from every consultation's search key, in `tx`: for migration 0009 and
/// for consultations loaded by other means (`tsunagu reindex`). Returns how many were indexed,
/// or `None` on PostgreSQL, whose index follows the rows by itself.
pub async fn rebuild(tx: &mut Tx) -> Result<Option<u64>> {
    if tx.backend() == Backend::Postgres {
        return Ok(None);
    }
    sqlx::query("INSERT INTO consultation_grams (consultation_grams) VALUES ('delete-all')")
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM consultation_search")
        .execute(tx.conn())
        .await?;
    let mut after = String::new();
    let mut seq: i64 = 0;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT id, search_text FROM consultations WHERE id > $1 ORDER BY id LIMIT {REBUILD_BATCH}"
        ))
        .bind(&after)
        .fetch_all(tx.conn())
        .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.try_get("id")?;
        let values = (0..rows.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let ids_sql =
            format!("INSERT INTO consultation_search (seq, consultation_id) VALUES {values}");
        let grams_sql = format!("INSERT INTO consultation_grams (rowid, grams) VALUES {values}");
        let mut ids = sqlx::query(&ids_sql);
        let mut grams = sqlx::query(&grams_sql);
        for r in &rows {
            seq += 1;
            let id: String = r.try_get("id")?;
            let text: String = r.try_get("search_text")?;
            ids = ids.bind(seq).bind(id);
            grams = grams.bind(seq).bind(fts5_document(&text));
        }
        ids.execute(tx.conn()).await?;
        grams.execute(tx.conn()).await?;
    }
    Ok(Some(u64::try_from(seq).unwrap_or(0)))
}

/// The grams of a search key as an FTS5 document: tokens separated by spaces.
fn fts5_document(search_text: &str) -> String {
    search_grams(search_text)
        .iter()
        .map(|g| fts5_token(g))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A gram as one token of FTS5's `ascii` tokenizer, which keeps ASCII letters, digits and
/// everything beyond ASCII together and splits on the rest: other ASCII characters are written
/// in their full-width form (a normalised key has none of its own; were two grams to meet, the
/// substring check would still decide).
fn fts5_token(gram: &str) -> String {
    gram.chars()
        .map(|c| match c {
            '!'..='~' if !c.is_ascii_alphanumeric() => {
                char::from_u32(c as u32 + 0xFEE0).unwrap_or('\u{FFFD}')
            }
            '\0'..=' ' | '\u{7F}' => '\u{FFFD}',
            _ => c,
        })
        .collect()
}

/// A PostgreSQL array literal of `items`, each quoted.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_need_every_gram_of_every_term() {
        let terms: Vec<String> = ["吸引", "r8-1", "昆"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let Some(sqlite) = lookup(Backend::Sqlite, &terms) else {
            panic!("terms give a lookup");
        };
        assert_eq!(
            sqlite.query,
            "\"－1\" AND \"8－\" AND \"r8\" AND \"吸引\" AND \"昆\""
        );
        let Some(postgres) = lookup(Backend::Postgres, &terms) else {
            panic!("terms give a lookup");
        };
        assert_eq!(postgres.query, "{\"-1\",\"8-\",\"r8\",\"吸引\",\"昆\"}");
        assert!(lookup(Backend::Sqlite, &[]).is_none());
    }

    #[test]
    fn fts5_tokens_hold_no_ascii_punctuation() {
        assert_eq!(fts5_token("a\""), "a＂");
        assert_eq!(fts5_token("%_"), "％＿");
        assert_eq!(fts5_document("r8-1"), "－ －1 1 8 8－ r r8");
    }

    #[test]
    fn array_literals_are_quoted() {
        assert_eq!(
            array_literal(&["a\"b".into(), "c\\".into(), "{,}".into()]),
            "{\"a\\\"b\",\"c\\\\\",\"{,}\"}"
        );
    }
}

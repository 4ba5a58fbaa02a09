//! The keyword index (キーワード索引) of consultations and resources: the grams of each search
//! key ([`search_grams`]). A keyword search looks up the rows that can contain its terms instead
//! of reading every key; the substring check on `search_text` then decides, so the index only
//! has to miss nothing. PostgreSQL computes the grams itself in GIN expression indexes; SQLite
//! keeps them in FTS5 tables that [`store`] writes with the row, in the same transaction
//! (migration 0009). No extension is needed on either.

use sqlx::Row;
use tsunagu_domain::text::{search_grams, term_grams};

use crate::{Backend, Db, Result, Tx};

/// Where a count of a keyword's matches stops, since an exact count of a common word would
/// read every row that has it; lists then say "1000件以上".
pub const COUNT_UP_TO: i64 = 1_000;

/// Rows indexed per statement in [`rebuild`].
const REBUILD_BATCH: usize = 500;

/// What is indexed: a table with a text `id` and a `search_text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// Consultations (相談記録), read as `c`.
    Consultations,
    /// Resources of the directory (社会資源), read as `r`.
    Resources,
}

impl Indexed {
    const ALL: [Indexed; 2] = [Indexed::Consultations, Indexed::Resources];

    /// The table, the FTS5 table of its grams and the table giving its rows FTS5's integer keys.
    fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Indexed::Consultations => {
                ("consultations", "consultation_grams", "consultation_search")
            }
            Indexed::Resources => ("resources", "resource_grams", "resource_search"),
        }
    }
}

/// Stores the grams of `search_text` for row `id` of `what`, replacing any it had (SQLite; the
/// PostgreSQL index follows the row by itself).
pub(crate) async fn store(tx: &mut Tx, what: Indexed, id: &str, search_text: &str) -> Result<()> {
    if tx.backend() == Backend::Postgres {
        return Ok(());
    }
    let (_, grams, keys) = what.tables();
    let seq: Option<i64> = sqlx::query_scalar(&format!("SELECT seq FROM {keys} WHERE row_id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    let seq = match seq {
        Some(seq) => {
            sqlx::query(&format!("DELETE FROM {grams} WHERE rowid = $1"))
                .bind(seq)
                .execute(tx.conn())
                .await?;
            seq
        }
        None => {
            sqlx::query_scalar(&format!(
                "INSERT INTO {keys} (row_id) VALUES ($1) RETURNING seq"
            ))
            .bind(id)
            .fetch_one(tx.conn())
            .await?
        }
    };
    sqlx::query(&format!(
        "INSERT INTO {grams} (rowid, grams) VALUES ($1, $2)"
    ))
    .bind(seq)
    .bind(fts5_document(search_text))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Rows (as `c` or `r`) whose search key may contain every one of a keyword's terms: every row
/// that does contain them is among them. Read from the index first, so that a `LIMIT` stops the
/// index early.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    /// The tables to read from, ending with the indexed table under its alias.
    pub from: String,
    /// The condition on them, where `?` stands for [`Lookup::query`].
    pub condition: String,
    /// The grams to look up, as the backend reads them.
    pub query: String,
    /// The indexed table's alias.
    alias: &'static str,
}

/// The lookup of rows of `what` that may contain every one of `terms` (normalised, without
/// spaces); `None` when there are no terms.
pub(crate) fn lookup(backend: Backend, what: Indexed, terms: &[String]) -> Option<Lookup> {
    let mut needed: Vec<String> = terms.iter().flat_map(|t| term_grams(t)).collect();
    needed.sort_unstable();
    needed.dedup();
    if needed.is_empty() {
        return None;
    }
    let (table, grams, keys) = what.tables();
    let alias = match what {
        Indexed::Consultations => "c",
        Indexed::Resources => "r",
    };
    Some(match backend {
        Backend::Sqlite => Lookup {
            from: format!(
                "{grams} JOIN {keys} k ON k.seq = {grams}.rowid JOIN {table} {alias} ON {alias}.id = k.row_id"
            ),
            condition: format!("{grams} MATCH ?"),
            query: needed
                .iter()
                .map(|g| format!("\"{}\"", fts5_token(g)))
                .collect::<Vec<_>>()
                .join(" AND "),
            alias,
        },
        Backend::Postgres => Lookup {
            from: format!("{table} {alias}"),
            condition: format!("search_grams({alias}.search_text) @> CAST(? AS TEXT[])"),
            query: array_literal(&needed),
            alias,
        },
    })
}

impl Lookup {
    /// The condition with its value as parameter `$n`.
    pub(crate) fn condition_at(&self, n: usize) -> String {
        self.condition.replace('?', &format!("${n}"))
    }
}

/// Up to `limit` ids of rows that meet `lookup`, in no order: all of them when fewer come back.
pub(crate) async fn candidates(db: &Db, lookup: &Lookup, limit: i64) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT {}.id FROM {} WHERE {} LIMIT {limit}",
        lookup.alias,
        lookup.from,
        lookup.condition_at(1)
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

/// Writes the index anew from every row's search key, in `tx`: for migration 0009 and for rows
/// loaded by other means (`tsunagu reindex`). Returns how many rows were indexed, or `None` on
/// PostgreSQL, whose indexes follow the rows by themselves.
pub async fn rebuild(tx: &mut Tx) -> Result<Option<u64>> {
    if tx.backend() == Backend::Postgres {
        return Ok(None);
    }
    let mut indexed: u64 = 0;
    for what in Indexed::ALL {
        indexed += rebuild_one(tx, what).await?;
    }
    Ok(Some(indexed))
}

async fn rebuild_one(tx: &mut Tx, what: Indexed) -> Result<u64> {
    let (table, grams, keys) = what.tables();
    sqlx::query(&format!(
        "INSERT INTO {grams} ({grams}) VALUES ('delete-all')"
    ))
    .execute(tx.conn())
    .await?;
    sqlx::query(&format!("DELETE FROM {keys}"))
        .execute(tx.conn())
        .await?;
    let mut after = String::new();
    let mut seq: i64 = 0;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT id, search_text FROM {table} WHERE id > $1 ORDER BY id LIMIT {REBUILD_BATCH}"
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
        let keys_sql = format!("INSERT INTO {keys} (seq, row_id) VALUES {values}");
        let grams_sql = format!("INSERT INTO {grams} (rowid, grams) VALUES {values}");
        let mut key_rows = sqlx::query(&keys_sql);
        let mut gram_rows = sqlx::query(&grams_sql);
        for r in &rows {
            seq += 1;
            let id: String = r.try_get("id")?;
            let text: String = r.try_get("search_text")?;
            key_rows = key_rows.bind(seq).bind(id);
            gram_rows = gram_rows.bind(seq).bind(fts5_document(&text));
        }
        key_rows.execute(tx.conn()).await?;
        gram_rows.execute(tx.conn()).await?;
    }
    Ok(u64::try_from(seq).unwrap_or(0))
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
        let Some(sqlite) = lookup(Backend::Sqlite, Indexed::Consultations, &terms) else {
            panic!("terms give a lookup");
        };
        assert_eq!(
            sqlite.query,
            "\"－1\" AND \"8－\" AND \"r8\" AND \"吸引\" AND \"昆\""
        );
        let Some(postgres) = lookup(Backend::Postgres, Indexed::Resources, &terms) else {
            panic!("terms give a lookup");
        };
        assert_eq!(postgres.query, "{\"-1\",\"8-\",\"r8\",\"吸引\",\"昆\"}");
        assert_eq!(
            postgres.condition_at(3),
            "search_grams(r.search_text) @> CAST($3 AS TEXT[])"
        );
        assert!(lookup(Backend::Sqlite, Indexed::Resources, &[]).is_none());
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

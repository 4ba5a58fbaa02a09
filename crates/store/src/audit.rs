//! The audit log (監査ログ): append-only, hash-chained, written in the same transaction as the
//! change it records. Nothing here updates or deletes an entry, and the database refuses it too.
//!
//! Whoever holds the database file could still drop the refusal and rewrite the chain, so two
//! things live outside the database: the audit key ([`AuditKeys`], a file beside the settings),
//! under which every entry carries a MAC that nobody without the key can recompute; and the
//! checkpoints ([`CheckpointFile`], an append-only file and the log), which record the head
//! at intervals, so that removing entries from the end, or going back to an older copy, is
//! caught too.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::Row;
use tsunagu_domain::audit::{
    AuditKey, EntryContent, GENESIS_HASH, entry_hash, entry_mac, mac_key_id, macs_equal,
    restore_mac, to_hex,
};
use tsunagu_domain::policy::{Action, Actor};

use crate::sql::{Owners, Where};
use crate::{Backend, Db, Result, StoreError, Tx, clock};

/// The audit keys (監査ログの鍵): every key this log was ever signed with, oldest first; the
/// last one signs new entries. Kept in a file of their own, one `id hex` line a key, readable
/// by the owner only.
#[derive(Debug, Clone)]
pub struct AuditKeys {
    keys: Vec<AuditKey>,
}

const KEY_FILE_HEADER: &str = "# Tsunagu の監査ログの鍵。秘密にし、データベースとは別の場所にバックアップしてください。\n# 1行に1つ（ID と16進の鍵）。最後の行の鍵で新しい記録に署名します。\n";

impl AuditKeys {
    /// A fresh key held in memory only (tests, and tools that open a copy of a database).
    pub fn ephemeral() -> Result<AuditKeys> {
        Ok(AuditKeys {
            keys: vec![new_key("k1")?],
        })
    }

    /// The key that signs new entries.
    pub fn current(&self) -> &AuditKey {
        // `parse` and the constructors never leave the list empty.
        &self.keys[self.keys.len() - 1]
    }

    pub fn get(&self, id: &str) -> Option<&AuditKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Reads the key file at `path`, or creates it with a new key (owner-only permissions)
    /// when it does not exist; the flag says whether it was created. A file that others may
    /// read is refused: the key is only worth what its secrecy is.
    pub fn load_or_create(path: &Path) -> Result<(AuditKeys, bool)> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path)?;
                Ok((AuditKeys::parse(&text, path)?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = AuditKeys::ephemeral()?;
                let mut f = create_private(path)?;
                let text = format!("{KEY_FILE_HEADER}{}", key_line(keys.current()));
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| file_error(path, e))?;
                Ok((keys, true))
            }
            Err(e) => Err(file_error(path, e)),
        }
    }

    /// Reads the key file at `path`, which must exist (restoring, checking a copy).
    pub fn load_existing(path: &Path) -> Result<AuditKeys> {
        if !path.exists() {
            return Err(StoreError::Invalid(format!(
                "監査ログの鍵ファイル {} がありません",
                path.display()
            )));
        }
        AuditKeys::load_or_create(path).map(|(keys, _)| keys)
    }

    /// Adds a new key to the file at `path`, which signs from now on; the old ones stay to
    /// check the entries they signed. Returns the keys as they now are.
    pub fn rotate(path: &Path) -> Result<AuditKeys> {
        let (mut keys, _) = AuditKeys::load_or_create(path)?;
        let next = keys
            .keys
            .iter()
            .filter_map(|k| k.id.strip_prefix('k').and_then(|n| n.parse::<u32>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let key = new_key(&format!("k{next}"))?;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| file_error(path, e))?;
        f.write_all(key_line(&key).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| file_error(path, e))?;
        keys.keys.push(key);
        Ok(keys)
    }

    fn parse(text: &str, path: &Path) -> Result<AuditKeys> {
        let mut keys: Vec<AuditKey> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                StoreError::Invalid(format!(
                    "監査ログの鍵ファイル {} の{}行目を読み取れません",
                    path.display(),
                    n + 1
                ))
            };
            let (id, hex) = line.split_once(' ').ok_or_else(bad)?;
            let bytes = data_encoding::HEXLOWER_PERMISSIVE
                .decode(hex.trim().as_bytes())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(bad)?;
            if id.is_empty() || id.contains(':') || keys.iter().any(|k| k.id == id) {
                return Err(bad());
            }
            keys.push(AuditKey {
                id: id.to_string(),
                bytes,
            });
        }
        if keys.is_empty() {
            return Err(StoreError::Invalid(format!(
                "監査ログの鍵ファイル {} に鍵がありません",
                path.display()
            )));
        }
        Ok(AuditKeys { keys })
    }
}

fn new_key(id: &str) -> Result<AuditKey> {
    Ok(AuditKey {
        id: id.to_string(),
        bytes: crate::random_bytes::<32>()?,
    })
}

fn key_line(k: &AuditKey) -> String {
    format!("{} {}\n", k.id, to_hex(&k.bytes))
}

fn file_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Other(format!("{}: {e}", path.display()))
}

/// Creates `path` readable and writable by its owner only; never overwrites.
fn create_private(path: &Path) -> Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| file_error(path, e))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| file_error(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(StoreError::Invalid(format!(
            "監査ログの鍵ファイル {} は所有者以外も読み書きできます。chmod 600 {} としてから起動してください",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// A point of the chain recorded outside the database: entry `seq` and its MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub mac: String,
}

/// The checkpoint file (監査ログのチェックポイント): one line a checkpoint, only ever appended,
/// `time seq mac`, never going back; after a restore a line `time restore seq mac sig` (`sig` a
/// MAC under the audit key, so nobody without it can add one) says the log went back to `seq`
/// on purpose, and later checkpoints past it no longer count.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    pub fn new(path: impl Into<PathBuf>) -> CheckpointFile {
        CheckpointFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the current head, unless it is the last one recorded; also says it in the log,
    /// which usually goes elsewhere. A head behind the last checkpoint (the log went back, or
    /// was replaced, without a recorded restore) is refused, not written: that is for
    /// `audit verify` to report, and for an operator to accept with a restore line if it was
    /// meant. Returns the head.
    pub async fn write(&self, db: &Db) -> Result<Option<Checkpoint>> {
        let Some(head) = signed_head(db).await? else {
            return Ok(None);
        };
        let file = self.open_append()?;
        // One writer at a time (the server's timer, `audit verify`), so lines never go back.
        file.lock().map_err(|e| file_error(&self.path, e))?;
        match self.last()? {
            Some(last) if last == head => {}
            Some(last) if last.seq >= head.seq => {
                return Err(StoreError::Invalid(format!(
                    "監査ログの最新の記録（{}番）が、チェックポイントの最後の記録（{}番）より前に戻っているか、置き換えられています。tsunagu audit verify で確かめてください（意図して戻した場合は tsunagu audit restored）",
                    head.seq, last.seq
                )));
            }
            _ => Self::append_line(
                &file,
                &self.path,
                &format!("{} {} {}", clock::now_text(), head.seq, head.mac),
            )?,
        }
        tracing::info!(audit_seq = head.seq, audit_mac = %head.mac, "audit checkpoint");
        Ok(Some(head))
    }

    /// Records that the log was restored to `head` on purpose, signed with `keys`.
    pub fn write_restore(&self, head: &Checkpoint, keys: &AuditKeys) -> Result<()> {
        let file = self.open_append()?;
        file.lock().map_err(|e| file_error(&self.path, e))?;
        let sig = restore_mac(keys.current(), head.seq, &head.mac);
        Self::append_line(
            &file,
            &self.path,
            &format!(
                "{} restore {} {} {sig}",
                clock::now_text(),
                head.seq,
                head.mac
            ),
        )
    }

    fn open_append(&self) -> Result<std::fs::File> {
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(&self.path).map_err(|e| file_error(&self.path, e))
    }

    fn append_line(mut file: &std::fs::File, path: &Path, line: &str) -> Result<()> {
        file.write_all(format!("{line}\n").as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| file_error(path, e))
    }

    /// The last checkpoint written, from the file's tail (the file only grows).
    fn last(&self) -> Result<Option<Checkpoint>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(&self.path, e)),
        };
        let len = f.metadata().map_err(|e| file_error(&self.path, e))?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(512)))
            .map_err(|e| file_error(&self.path, e))?;
        let mut tail = String::new();
        f.read_to_string(&mut tail)
            .map_err(|e| file_error(&self.path, e))?;
        let parts: Vec<&str> = tail
            .lines()
            .last()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let (seq, mac) = match parts.as_slice() {
            [_, "restore", seq, mac, _] | [_, seq, mac] => (*seq, *mac),
            _ => return Ok(None),
        };
        Ok(seq.parse().ok().map(|seq| Checkpoint {
            seq,
            mac: mac.to_string(),
        }))
    }

    /// The checkpoints that hold now, in order: those a restore went back past are dropped.
    /// A missing file holds none. A line out of order, or a restore line not signed with one
    /// of `keys`, means the file was edited, and is refused.
    pub fn read(&self, keys: &AuditKeys) -> Result<Vec<Checkpoint>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(file_error(&self.path, e)),
        };
        let mut out: Vec<Checkpoint> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (restore, seq, mac) = match parts.as_slice() {
                [_, "restore", seq, mac, sig] => (Some(*sig), *seq, *mac),
                [_, seq, mac] => (None, *seq, *mac),
                [] => continue,
                _ => return Err(self.bad_line(n)),
            };
            let cp = Checkpoint {
                seq: seq.parse().map_err(|_| self.bad_line(n))?,
                mac: mac.to_string(),
            };
            match restore {
                Some(sig) => {
                    let signed = mac_key_id(sig)
                        .and_then(|id| keys.get(id))
                        .is_some_and(|k| macs_equal(sig, &restore_mac(k, cp.seq, &cp.mac)));
                    if !signed {
                        return Err(self.bad_line(n));
                    }
                    out.retain(|c| c.seq < cp.seq);
                }
                // Only a restore may go back.
                None if out.last().is_some_and(|c| c.seq > cp.seq) => {
                    return Err(self.bad_line(n));
                }
                None => {}
            }
            if out.last() != Some(&cp) {
                out.push(cp);
            }
        }
        Ok(out)
    }

    fn bad_line(&self, n: usize) -> StoreError {
        StoreError::Invalid(format!(
            "チェックポイントファイル {} の{}行目が正しくありません（書き換えられた可能性があります）",
            self.path.display(),
            n + 1
        ))
    }
}

/// The newest entry and its MAC, if the log has a signed newest entry.
pub async fn signed_head(db: &Db) -> Result<Option<Checkpoint>> {
    let row = sqlx::query(
        "SELECT l.seq, l.mac FROM audit_head h JOIN audit_log l ON l.seq = h.seq WHERE h.id = 1",
    )
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mac: Option<String> = row.try_get("mac")?;
    Ok(mac.map(|mac| Checkpoint {
        seq: row.try_get("seq").unwrap_or(0),
        mac,
    }))
}

/// Signs a log written before entries carried MACs: one entry, signed, whose MAC covers the
/// hash chain and so every unsigned entry before it. Only a log that was never signed is
/// sealed: none of its entries has a MAC and no checkpoint was ever written for it. A log
/// whose MACs are gone while checkpoints exist was stripped, and is refused rather than sealed
/// over. Does nothing when the log is signed or empty. Returns the new entry's number.
pub async fn seal_unsigned(db: &Db, checkpoints: &CheckpointFile) -> Result<Option<i64>> {
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    if head == 0 || count_signed(db).await? > 0 {
        return Ok(None);
    }
    if !checkpoints.read(db.audit_keys()?)?.is_empty() {
        return Err(StoreError::Invalid(format!(
            "監査ログに署名が一つもありませんが、チェックポイント {} には署名のある記録があります。署名が消された可能性があります。tsunagu audit verify で確かめてください",
            checkpoints.path().display()
        )));
    }
    let seq = record(
        db,
        &AuditCtx::system("audit"),
        Event::new("audit.sealed", "audit_log", &head.to_string())
            .detail(format!("署名のない記録（1〜{head}番）を監査ログの鍵で封印")),
    )
    .await?;
    Ok(Some(seq))
}

/// Who did it, from where, in which request.
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub actor_user_id: Option<String>,
    pub actor_login: String,
    pub actor_org_id: Option<String>,
    pub client_ip: String,
    pub request_id: String,
}

impl AuditCtx {
    /// The context for changes made from the command line.
    pub fn system(what: &str) -> AuditCtx {
        AuditCtx {
            actor_user_id: None,
            actor_login: format!("system:{what}"),
            actor_org_id: None,
            client_ip: "local".into(),
            request_id: crate::new_id(),
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// e.g. `user.create`, `auth.login_failed`, `organisation.update`
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
    pub detail: String,
}

impl Event {
    pub fn new(action: &str, record_type: &str, record_id: &str) -> Event {
        Event {
            action: action.into(),
            record_type: record_type.into(),
            record_id: record_id.into(),
            ..Event::default()
        }
    }

    pub fn old<T: Serialize>(mut self, v: &T) -> Event {
        self.old_values = serde_json::to_value(v).ok();
        self
    }

    pub fn new_values<T: Serialize>(mut self, v: &T) -> Event {
        self.new_values = serde_json::to_value(v).ok();
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Event {
        self.detail = d.into();
        self
    }
}

/// Appends `event` to the chain inside `tx`.
pub async fn append(tx: &mut Tx, ctx: &AuditCtx, event: Event) -> Result<i64> {
    let head_sql = match tx.backend() {
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    };
    let head = sqlx::query(head_sql).fetch_one(tx.conn()).await?;
    let prev_seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;
    let seq = prev_seq + 1;
    let at = clock::now_text();
    let old_values = event.old_values.as_ref().map(|v| v.to_string());
    let new_values = event.new_values.as_ref().map(|v| v.to_string());
    let content = EntryContent {
        seq,
        at: &at,
        actor_user_id: ctx.actor_user_id.as_deref(),
        actor_login: &ctx.actor_login,
        actor_org_id: ctx.actor_org_id.as_deref(),
        client_ip: &ctx.client_ip,
        request_id: &ctx.request_id,
        action: &event.action,
        record_type: &event.record_type,
        record_id: &event.record_id,
        old_values: old_values.as_deref(),
        new_values: new_values.as_deref(),
        detail: &event.detail,
    };
    let hash = entry_hash(&prev_hash, &content);
    let mac = entry_mac(tx.audit_keys()?.current(), seq, &hash);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_user_id, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail, prev_hash, hash, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(seq)
    .bind(&at)
    .bind(ctx.actor_user_id.clone())
    .bind(&ctx.actor_login)
    .bind(ctx.actor_org_id.clone())
    .bind(&ctx.client_ip)
    .bind(&ctx.request_id)
    .bind(&event.action)
    .bind(&event.record_type)
    .bind(&event.record_id)
    .bind(old_values)
    .bind(new_values)
    .bind(&event.detail)
    .bind(&prev_hash)
    .bind(&hash)
    .bind(&mac)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(tx.conn())
        .await?;
    tx.mark_audited();
    Ok(seq)
}

/// Appends one event in a transaction of its own (sign-in failures and the like, which change
/// nothing else).
pub async fn record(db: &Db, ctx: &AuditCtx, event: Event) -> Result<i64> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, ctx, event).await?;
    tx.commit().await?;
    Ok(seq)
}

/// An entry as shown to administrators.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor_login: String,
    pub actor_org_id: Option<String>,
    pub client_ip: String,
    pub request_id: String,
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub old_values: Option<String>,
    pub new_values: Option<String>,
    pub detail: String,
}

/// Filters for browsing the log. Empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_login: String,
    pub action_prefix: String,
    pub record_type: String,
    pub record_id: String,
    /// Inclusive lower bound, UTC text.
    pub from: Option<String>,
    /// Exclusive upper bound, UTC text.
    pub until: Option<String>,
    /// Show entries with seq lower than this (paging backwards from the newest).
    pub before_seq: Option<i64>,
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<Entry> {
    Ok(Entry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor_login: r.try_get("actor_login")?,
        actor_org_id: r.try_get("actor_org_id")?,
        client_ip: r.try_get("client_ip")?,
        request_id: r.try_get("request_id")?,
        action: r.try_get("action")?,
        record_type: r.try_get("record_type")?,
        record_id: r.try_get("record_id")?,
        old_values: r.try_get("old_values")?,
        new_values: r.try_get("new_values")?,
        detail: r.try_get("detail")?,
    })
}

/// Entries matching `filter`, newest first, at most `limit`. Only for actors the policy lets
/// read the log.
pub async fn list(db: &Db, actor: &Actor, filter: &Filter, limit: i64) -> Result<Vec<Entry>> {
    let mut w = Where::scoped(actor, Action::ViewAuditLog, Owners::CENTER_ONLY);
    if w.allows_nothing() {
        return Ok(Vec::new());
    }
    if !filter.actor_login.is_empty() {
        w.and_text("actor_login = ?", filter.actor_login.clone());
    }
    if !filter.action_prefix.is_empty() {
        w.and_text(
            "action LIKE ? ESCAPE '\\'",
            format!("{}%", escape_like(&filter.action_prefix)),
        );
    }
    if !filter.record_type.is_empty() {
        w.and_text("record_type = ?", filter.record_type.clone());
    }
    if !filter.record_id.is_empty() {
        w.and_text("record_id = ?", filter.record_id.clone());
    }
    if let Some(from) = &filter.from {
        w.and_text("at >= ?", from.clone());
    }
    if let Some(until) = &filter.until {
        w.and_text("at < ?", until.clone());
    }
    if let Some(before) = filter.before_seq {
        w.and_int("seq < ?", before);
    }
    let sql = format!(
        "SELECT seq, at, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail FROM audit_log WHERE 1 = 1{} ORDER BY seq DESC LIMIT {}",
        w.sql(),
        limit.clamp(1, 100_000)
    );
    let q = w.query(&sql);
    let rows = q.fetch_all(db.pool()).await?;
    rows.iter().map(entry_from_row).collect()
}

/// Escapes `%`, `_` and `\` for a LIKE pattern used with `ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every entry matches; `entries` were checked, and `head` is the newest entry's MAC (none
    /// when the log was written before entries were signed).
    Intact {
        entries: i64,
        head: Option<Checkpoint>,
    },
    /// The first entry that does not match, and why.
    Broken { seq: i64, reason: String },
}

/// Recomputes every hash from the first entry, checks each MAC with the database's audit
/// keys, compares links, sequence numbers and the head, and compares `checkpoints` (recorded
/// outside the database, in order): each must name an entry that is there with the same MAC.
/// Reads in pages so memory stays flat on a long log.
pub async fn verify(db: &Db, checkpoints: &[Checkpoint]) -> Result<Verification> {
    let keys = db.audit_keys()?;
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut last_seq = 0i64;
    let mut last_mac: Option<String> = None;
    let mut signed_seen = false;
    let mut next_checkpoint = checkpoints.iter().peekable();
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_user_id, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail, prev_hash, hash, mac
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(last_seq)
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = r.try_get("seq")?;
            let broken = |reason: String| Ok(Verification::Broken { seq, reason });
            if seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!("{expected_seq}番の記録がありません（次にあるのは{seq}番）"),
                });
            }
            let prev_hash: String = r.try_get("prev_hash")?;
            let hash: String = r.try_get("hash")?;
            let mac: Option<String> = r.try_get("mac")?;
            let e = entry_from_row(r)?;
            let actor_user_id: Option<String> = r.try_get("actor_user_id")?;
            let content = EntryContent {
                seq,
                at: &e.at,
                actor_user_id: actor_user_id.as_deref(),
                actor_login: &e.actor_login,
                actor_org_id: e.actor_org_id.as_deref(),
                client_ip: &e.client_ip,
                request_id: &e.request_id,
                action: &e.action,
                record_type: &e.record_type,
                record_id: &e.record_id,
                old_values: e.old_values.as_deref(),
                new_values: e.new_values.as_deref(),
                detail: &e.detail,
            };
            if prev_hash != expected_prev {
                return broken("前の記録とのつながりが一致しません".into());
            }
            if entry_hash(&prev_hash, &content) != hash {
                return broken("内容がハッシュと一致しません（書き換えられています）".into());
            }
            match &mac {
                Some(m) => {
                    let Some(key) = mac_key_id(m).and_then(|id| keys.get(id)) else {
                        return broken(
                            "この鍵ファイルにない鍵で署名されています（鍵ファイルが違うか、書き換えられています）"
                                .into(),
                        );
                    };
                    if !macs_equal(m, &entry_mac(key, seq, &hash)) {
                        return broken(
                            "署名（MAC）が一致しません（鍵を知らない者が書き換えています）".into(),
                        );
                    }
                    signed_seen = true;
                }
                None if signed_seen => {
                    return broken("署名のある記録の後に、署名のない記録があります".into());
                }
                None => {}
            }
            while let Some(cp) = next_checkpoint.next_if(|cp| cp.seq <= seq) {
                let same = cp.seq == seq && mac.as_deref().is_some_and(|m| macs_equal(m, &cp.mac));
                if !same {
                    return Ok(Verification::Broken {
                        seq: cp.seq,
                        reason: "チェックポイントに記録した署名と一致しません（この番号より前が置き換えられています）"
                            .into(),
                    });
                }
            }
            expected_prev = hash;
            expected_seq += 1;
            last_seq = seq;
            last_mac = mac;
        }
    }
    if let Some(cp) = next_checkpoint.next() {
        return Ok(Verification::Broken {
            seq: last_seq + 1,
            reason: format!(
                "記録は{last_seq}番で終わっていますが、チェックポイントには{}番まで記録されています：末尾の記録が消されたか、古い状態に戻されています",
                cp.seq
            ),
        });
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    if head_seq != last_seq || head_hash != expected_prev {
        return Ok(Verification::Broken {
            seq: last_seq + 1,
            reason: format!(
                "記録は{last_seq}番で終わっていますが、先頭の記録（audit_head）は{head_seq}番を指しています：末尾の記録が消されています"
            ),
        });
    }
    Ok(Verification::Intact {
        entries: last_seq,
        head: last_mac.map(|mac| Checkpoint { seq: last_seq, mac }),
    })
}

/// The number of signed entries (none: the log predates signing, or is new).
pub async fn count_signed(db: &Db) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE mac IS NOT NULL")
            .fetch_one(db.pool())
            .await?,
    )
}

/// The number of entries (for the administrator's overview).
pub async fn count(db: &Db) -> Result<i64> {
    let n: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await
        .map_err(StoreError::from)?;
    Ok(n)
}

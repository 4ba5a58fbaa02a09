//! Backup and restore of the embedded SQLite database. PostgreSQL deployments use `pg_dump` and
//! `pg_restore` (see docs/operations.md).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::audit::{AuditKeys, CheckpointFile, Verification};
use crate::{Backend, Db, Result, StoreError};

/// The lock a running server holds on its SQLite database (`<file>.lock` beside it, an
/// exclusive lock of the operating system's, released when the process ends however it ends).
/// `restore` takes it too, so that a file is never replaced under a server that keeps writing
/// to the old one, and a server does not start on a file being replaced.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
    path: PathBuf,
}

impl ServerLock {
    /// Takes the lock of the database at `db_path`, or says who holds it.
    pub fn acquire(db_path: &Path, holder_wanted: &str) -> Result<ServerLock> {
        let path = PathBuf::from(format!("{}.lock", db_path.display()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Invalid(format!(
                "データベース {} は、動いている Tsunagu が使用中です（{}）。{holder_wanted}",
                db_path.display(),
                path.display()
            ))),
            Err(TryLockError::Error(e)) => {
                Err(StoreError::Other(format!("{}: {e}", path.display())))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes a consistent copy of the live database to `target` while the server keeps running
/// (`VACUUM INTO` reads one snapshot). Refuses to overwrite an existing file.
pub async fn backup_sqlite(db: &Db, target: &Path) -> Result<u64> {
    if db.backend() != Backend::Sqlite {
        return Err(StoreError::Invalid(
            "PostgreSQL のバックアップには pg_dump を使ってください（docs/operations.md）".into(),
        ));
    }
    if target.exists() {
        return Err(StoreError::Invalid(format!(
            "{} はすでに存在します。別のファイル名を指定してください",
            target.display()
        )));
    }
    let path = target
        .to_str()
        .ok_or_else(|| StoreError::Invalid("ファイル名に使えない文字があります".into()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(db.pool())
        .await?;
    let size = std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|e| StoreError::Other(format!("backup written but unreadable: {e}")))?;
    Ok(size)
}

/// Checks that `source` is a Tsunagu database whose audit chain is intact under `keys` and
/// agrees with the checkpoints up to its own newest entry, then replaces the database file at
/// `live_path` with it, and records in `checkpoints` that the log went back on purpose.
/// A backup of an older schema is brought up to date on its copy first. Refuses while a server
/// holds the database ([`ServerLock`]).
pub async fn restore_sqlite(
    source: &Path,
    live_path: &Path,
    keys: &AuditKeys,
    checkpoints: &CheckpointFile,
) -> Result<i64> {
    let _lock = ServerLock::acquire(
        live_path,
        "サーバーを停止してから、もう一度 restore を実行してください。",
    )?;
    if !source.is_file() {
        return Err(StoreError::Invalid(format!(
            "{} が見つかりません",
            source.display()
        )));
    }
    let known = checkpoints.read(keys)?;
    // Checked and migrated on a copy beside the live file, which then takes its place.
    let tmp = live_path.with_extension("restore-tmp");
    remove_sqlite_files(&tmp, true)?;
    std::fs::copy(source, &tmp).map_err(|e| StoreError::Other(format!("copy: {e}")))?;
    let checked = check_copy(&tmp, keys, &known).await;
    let (entries, head) = match checked {
        Ok(r) => r,
        Err(e) => {
            remove_sqlite_files(&tmp, true)?;
            return Err(e);
        }
    };
    remove_sqlite_files(&tmp, false)?;
    // The live file's journal belongs to the database being replaced.
    remove_sqlite_files(live_path, false)?;
    std::fs::rename(&tmp, live_path).map_err(|e| StoreError::Other(format!("rename: {e}")))?;
    if let Some(head) = head {
        checkpoints.write_restore(&head, keys)?;
    }
    Ok(entries)
}

/// Opens the copy at `path`, refuses a file that is not a Tsunagu database or that a newer
/// version wrote, migrates it, and verifies its audit chain against the checkpoints up to its
/// own end (those past it are what going back to it undoes). Leaves a single file.
async fn check_copy(
    path: &Path,
    keys: &AuditKeys,
    known: &[crate::audit::Checkpoint],
) -> Result<(i64, Option<crate::audit::Checkpoint>)> {
    let p = path
        .to_str()
        .ok_or_else(|| StoreError::Invalid("ファイル名に使えない文字があります".into()))?;
    let db = Db::connect(&crate::DbOptions {
        url: format!("sqlite://{p}?mode=rw"),
        max_connections: 2,
    })
    .await?
    .with_audit_keys(keys.clone());
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(db.pool())
        .await
        .map_err(|_| StoreError::Invalid("Tsunagu のバックアップファイルではありません".into()))?;
    if version.unwrap_or(0) > crate::migrate::latest_version() {
        db.close().await;
        return Err(StoreError::Invalid(
            "このバックアップは新しい版の Tsunagu で作られています".into(),
        ));
    }
    crate::migrate::run(&db).await?;
    let backup_head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    let upto: Vec<_> = known
        .iter()
        .filter(|c| c.seq <= backup_head)
        .cloned()
        .collect();
    let verified = crate::audit::verify(&db, &upto).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(db.pool())
        .await?;
    db.close().await;
    match verified? {
        Verification::Intact { entries, head } => Ok((entries, head)),
        Verification::Broken { seq, reason } => Err(StoreError::Invalid(format!(
            "バックアップの監査ログが改ざんされています（{seq}番: {reason}）"
        ))),
    }
}

/// Removes the `-wal` and `-shm` companions of an SQLite database file, and with `main` the
/// file itself, where they exist.
fn remove_sqlite_files(path: &Path, main: bool) -> Result<()> {
    let suffixes: &[&str] = if main {
        &["", "-wal", "-shm"]
    } else {
        &["-wal", "-shm"]
    };
    for suffix in suffixes {
        let f = PathBuf::from(format!("{}{suffix}", path.display()));
        // SQLite may remove its journal itself as the last connection closes: gone is fine.
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::Other(format!("{}: {e}", f.display()))),
        }
    }
    Ok(())
}

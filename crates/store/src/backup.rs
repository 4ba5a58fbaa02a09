//! Backup and restore of the embedded SQLite database. PostgreSQL deployments use `pg_dump` and
//! `pg_restore` (see docs/operations.md).

use std::path::Path;

use crate::{Backend, Db, Result, StoreError};

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

/// Checks that `source` is a Tsunagu database whose audit chain is intact, then replaces the
/// database file at `live_path` with it. The server must be stopped.
pub async fn restore_sqlite(source: &Path, live_path: &Path) -> Result<i64> {
    if !source.is_file() {
        return Err(StoreError::Invalid(format!(
            "{} が見つかりません",
            source.display()
        )));
    }
    let src = source
        .to_str()
        .ok_or_else(|| StoreError::Invalid("ファイル名に使えない文字があります".into()))?;
    let check = Db::connect(&crate::DbOptions {
        url: format!("sqlite://{src}?mode=ro"),
        max_connections: 2,
    })
    .await?;
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(check.pool())
        .await
        .map_err(|_| StoreError::Invalid("Tsunagu のバックアップファイルではありません".into()))?;
    let entries = match crate::audit::verify(&check).await? {
        crate::audit::Verification::Intact { entries } => entries,
        crate::audit::Verification::Broken { seq, reason } => {
            return Err(StoreError::Invalid(format!(
                "バックアップの監査ログが改ざんされています（{seq}番: {reason}）"
            )));
        }
    };
    check.close().await;
    if version.unwrap_or(0) > crate::migrate::latest_version() {
        return Err(StoreError::Invalid(
            "このバックアップは新しい版の Tsunagu で作られています".into(),
        ));
    }
    let tmp = live_path.with_extension("restore-tmp");
    std::fs::copy(source, &tmp).map_err(|e| StoreError::Other(format!("copy: {e}")))?;
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", live_path.display());
        if Path::new(&side).exists() {
            std::fs::remove_file(&side).map_err(|e| StoreError::Other(format!("{side}: {e}")))?;
        }
    }
    std::fs::rename(&tmp, live_path).map_err(|e| StoreError::Other(format!("rename: {e}")))?;
    Ok(entries)
}

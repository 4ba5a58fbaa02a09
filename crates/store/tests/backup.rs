//! Backup of a live SQLite database and restore into place, with the audit chain checked.

use tsunagu_store::audit::{self, AuditCtx, AuditKeys, CheckpointFile, Event, Verification};
use tsunagu_store::{Db, DbOptions, backup, migrate, reference};

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open(path: &std::path::Path, keys: &AuditKeys) -> Db {
    Db::connect(&DbOptions {
        url: format!("sqlite://{}", path.display()),
        max_connections: 2,
    })
    .await
    .expect("open")
    .with_audit_keys(keys.clone())
}

#[tokio::test]
async fn a_backup_taken_while_writing_restores_with_its_chain_intact() {
    let dir = Dir(std::env::temp_dir().join(format!("tsunagu-backup-{}", tsunagu_store::new_id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let live = dir.0.join("live.sqlite3");
    let keys = AuditKeys::ephemeral().expect("keys");
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints"));
    let db = open(&live, &keys).await;
    migrate::run(&db).await.expect("migrate");
    reference::seed_if_empty(&db, "03").await.expect("seed");
    for i in 0..5 {
        audit::record(
            &db,
            &AuditCtx::system("test"),
            Event::new("test.event", "test", &i.to_string()),
        )
        .await
        .expect("record");
    }
    let copy = dir.0.join("copy.sqlite3");
    let size = backup::backup_sqlite(&db, &copy).await.expect("backup");
    assert!(size > 0);
    // A second backup to the same file is refused rather than overwriting it.
    assert!(backup::backup_sqlite(&db, &copy).await.is_err());
    // Writes after the backup are not in it.
    audit::record(
        &db,
        &AuditCtx::system("test"),
        Event::new("test.after", "test", "x"),
    )
    .await
    .expect("record");
    checkpoints.write(&db).await.expect("checkpoint");

    // While a server holds the database, restore refuses and replaces nothing.
    let lock = backup::ServerLock::acquire(&live, "").expect("lock");
    let refused = backup::restore_sqlite(&copy, &live, &keys, &checkpoints)
        .await
        .expect_err("refused while the server runs");
    assert!(refused.to_string().contains("使用中"), "{refused}");
    assert!(refused.to_string().contains("停止してから"), "{refused}");
    drop(lock);
    db.close().await;

    let entries = backup::restore_sqlite(&copy, &live, &keys, &checkpoints)
        .await
        .expect("restore");
    assert_eq!(
        entries, 9,
        "care types + resource categories + reference load + standard survey definition + 5 events"
    );
    let restored = open(&live, &keys).await;
    // Going back to the backup was on purpose: the checkpoint past it no longer counts.
    let known = checkpoints.read(&keys).expect("checkpoints");
    assert_eq!(known.last().map(|c| c.seq), Some(9));
    assert!(matches!(
        audit::verify(&restored, &known).await.expect("verify"),
        Verification::Intact {
            entries: 9,
            head: Some(_)
        }
    ));
    let munis: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM municipalities")
        .fetch_one(restored.pool())
        .await
        .expect("count");
    assert_eq!(munis, 1747 + 175);
}

#[tokio::test]
async fn restore_refuses_a_file_that_is_not_a_tsunagu_database() {
    let dir =
        Dir(std::env::temp_dir().join(format!("tsunagu-restore-{}", tsunagu_store::new_id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let junk = dir.0.join("junk.sqlite3");
    std::fs::write(&junk, b"not a database").expect("write");
    let live = dir.0.join("live.sqlite3");
    let keys = AuditKeys::ephemeral().expect("keys");
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints"));
    assert!(
        backup::restore_sqlite(&junk, &live, &keys, &checkpoints)
            .await
            .is_err()
    );
    assert!(!live.exists(), "nothing replaced");
}

#[tokio::test]
async fn a_backup_from_before_signed_audit_entries_restores_and_is_brought_up_to_date() {
    let dir =
        Dir(std::env::temp_dir().join(format!("tsunagu-restore-old-{}", tsunagu_store::new_id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let keys = AuditKeys::ephemeral().expect("keys");
    let old = dir.0.join("old.sqlite3");
    let db = open(&old, &keys).await;
    migrate::run(&db).await.expect("migrate");
    reference::seed_if_empty(&db, "03").await.expect("seed");
    // As a release before migration 11 left it: no MAC column, no outbox.
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; ALTER TABLE audit_log DROP COLUMN mac;
         DROP TABLE mail_outbox; DELETE FROM schema_migrations WHERE version >= 11",
    )
    .execute(db.pool())
    .await
    .expect("make it old");
    let copy = dir.0.join("copy.sqlite3");
    backup::backup_sqlite(&db, &copy).await.expect("backup");
    db.close().await;

    let live = dir.0.join("live.sqlite3");
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints"));
    let entries = backup::restore_sqlite(&copy, &live, &keys, &checkpoints)
        .await
        .expect("an older backup restores");
    assert!(entries > 0);
    let restored = open(&live, &keys).await;
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(restored.pool())
        .await
        .expect("version");
    assert_eq!(version, migrate::latest_version());
    assert!(matches!(
        audit::verify(&restored, &[]).await.expect("verify"),
        Verification::Intact { head: None, .. }
    ));
}

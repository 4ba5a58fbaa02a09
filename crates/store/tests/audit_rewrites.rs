//! Someone who holds the database (the file, or a superuser's connection) drops the
//! append-only guard and rewrites the audit log. Without the audit key, kept outside the
//! database, and with the checkpoints written outside it, every rewrite is found. On SQLite,
//! and on PostgreSQL when TSUNAGU_TEST_POSTGRES_URL is set.

mod support;

use support::{Dir, PgDatabase};
use tsunagu_domain::audit::{EntryContent, GENESIS_HASH, entry_hash};
use tsunagu_store::audit::{self, AuditCtx, AuditKeys, CheckpointFile, Event, Verification};
use tsunagu_store::{Backend, Db, DbOptions, Row, migrate};

async fn fresh(url: &str, keys: &AuditKeys) -> Db {
    let db = Db::connect(&DbOptions {
        url: url.to_string(),
        max_connections: 2,
    })
    .await
    .expect("open")
    .with_audit_keys(keys.clone());
    migrate::run(&db).await.expect("migrate");
    for i in 0..40 {
        audit::record(
            &db,
            &AuditCtx::system("test"),
            Event::new("test.event", "test", &i.to_string()).detail(format!("出来事 {i}")),
        )
        .await
        .expect("record");
    }
    db
}

async fn drop_guard(db: &Db) {
    let sql = match db.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER USER",
    };
    sqlx::raw_sql(sql)
        .execute(db.pool())
        .await
        .expect("drop guard");
}

async fn exec(db: &Db, sql: &str) {
    sqlx::raw_sql(sql).execute(db.pool()).await.expect(sql);
}

/// Recomputes every hash from entry `from` on, as an attacker who knows the hash function (it
/// is public) but not the key would; the head follows.
async fn rechain(db: &Db, from: i64) {
    let rows = sqlx::query(
        "SELECT seq, at, actor_user_id, actor_login, actor_org_id, client_ip, request_id, action, record_type, record_id, old_values, new_values, detail FROM audit_log WHERE seq >= $1 ORDER BY seq",
    )
    .bind(from)
    .fetch_all(db.pool())
    .await
    .expect("rows");
    let mut prev: String = if from <= 1 {
        GENESIS_HASH.to_string()
    } else {
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
            .bind(from - 1)
            .fetch_one(db.pool())
            .await
            .expect("prev")
    };
    let text = |r: &sqlx::any::AnyRow, c: &str| -> Option<String> { r.try_get(c).expect(c) };
    let mut last = 0i64;
    for r in &rows {
        let seq: i64 = r.try_get("seq").expect("seq");
        let (at, login, ip, req, action, rt, rid, detail) = (
            text(r, "at").unwrap_or_default(),
            text(r, "actor_login").unwrap_or_default(),
            text(r, "client_ip").unwrap_or_default(),
            text(r, "request_id").unwrap_or_default(),
            text(r, "action").unwrap_or_default(),
            text(r, "record_type").unwrap_or_default(),
            text(r, "record_id").unwrap_or_default(),
            text(r, "detail").unwrap_or_default(),
        );
        let (uid, org, old, new) = (
            text(r, "actor_user_id"),
            text(r, "actor_org_id"),
            text(r, "old_values"),
            text(r, "new_values"),
        );
        let hash = entry_hash(
            &prev,
            &EntryContent {
                seq,
                at: &at,
                actor_user_id: uid.as_deref(),
                actor_login: &login,
                actor_org_id: org.as_deref(),
                client_ip: &ip,
                request_id: &req,
                action: &action,
                record_type: &rt,
                record_id: &rid,
                old_values: old.as_deref(),
                new_values: new.as_deref(),
                detail: &detail,
            },
        );
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(db.pool())
            .await
            .expect("update");
        prev = hash;
        last = seq;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(last)
        .bind(&prev)
        .execute(db.pool())
        .await
        .expect("head");
}

fn broken(v: Verification) -> (i64, String) {
    match v {
        Verification::Broken { seq, reason } => (seq, reason),
        other => panic!("the rewrite was not found: {other:?}"),
    }
}

async fn every_rewrite_is_found(url_of: impl AsyncFn(&str) -> (String, Option<PgDatabase>)) {
    let dir = Dir::new("tsunagu-audit");
    let keys = AuditKeys::ephemeral().expect("keys");
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints"));

    // 1. One entry changed and the chain recomputed after it.
    let (url, pg) = url_of("a").await;
    let db = fresh(&url, &keys).await;
    checkpoints.write(&db).await.expect("checkpoint");
    let known = checkpoints.read(&keys).expect("read");
    assert!(matches!(
        audit::verify(&db, &known).await.expect("verify"),
        Verification::Intact {
            entries: 40,
            head: Some(_)
        }
    ));
    drop_guard(&db).await;
    exec(
        &db,
        "UPDATE audit_log SET detail = '何もなかった' WHERE seq = 12",
    )
    .await;
    rechain(&db, 12).await;
    let (seq, reason) = broken(audit::verify(&db, &[]).await.expect("verify"));
    assert_eq!(seq, 12, "{reason}");
    assert!(reason.contains("署名"), "{reason}");
    // The same with its MAC removed and those after it too: unsigned after signed.
    exec(&db, "UPDATE audit_log SET mac = NULL WHERE seq >= 12").await;
    let (seq, reason) = broken(audit::verify(&db, &[]).await.expect("verify"));
    assert_eq!(seq, 12, "{reason}");
    // ...and every MAC removed, as if the log were from before signing: the checkpoint knows.
    exec(&db, "UPDATE audit_log SET mac = NULL").await;
    let (seq, reason) = broken(audit::verify(&db, &known).await.expect("verify"));
    assert_eq!(seq, 40, "{reason}");
    assert!(reason.contains("チェックポイント"), "{reason}");
    db.close().await;
    if let Some(pg) = pg {
        pg.drop().await;
    }

    // 2. One entry deleted and the later ones renumbered.
    let (url, pg) = url_of("b").await;
    let db = fresh(&url, &keys).await;
    drop_guard(&db).await;
    exec(&db, "DELETE FROM audit_log WHERE seq = 20").await;
    // In two steps, so that no two rows hold one number on the way.
    exec(&db, "UPDATE audit_log SET seq = 1 - seq WHERE seq > 20").await;
    exec(&db, "UPDATE audit_log SET seq = -seq WHERE seq < 0").await;
    rechain(&db, 20).await;
    let (seq, reason) = broken(audit::verify(&db, &[]).await.expect("verify"));
    assert_eq!(seq, 20, "{reason}");
    db.close().await;
    if let Some(pg) = pg {
        pg.drop().await;
    }

    // 3. The newest 20 entries truncated and the head moved back: hashes and MACs all hold,
    //    the checkpoint does not.
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints-3"));
    let (url, pg) = url_of("c").await;
    let db = fresh(&url, &keys).await;
    checkpoints.write(&db).await.expect("checkpoint");
    drop_guard(&db).await;
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head")
        .fetch_one(db.pool())
        .await
        .expect("head");
    exec(
        &db,
        &format!("DELETE FROM audit_log WHERE seq > {}", head - 20),
    )
    .await;
    rechain(&db, head - 20).await;
    assert!(
        matches!(
            audit::verify(&db, &[]).await.expect("verify"),
            Verification::Intact { .. }
        ),
        "without checkpoints a clean truncation cannot be seen"
    );
    let (seq, reason) = broken(
        audit::verify(&db, &checkpoints.read(&keys).expect("read"))
            .await
            .expect("verify"),
    );
    assert_eq!(seq, head - 19, "{reason}");
    assert!(reason.contains(&format!("{head}番まで")), "{reason}");

    // 4. Everything deleted and the head reset.
    exec(&db, "DELETE FROM audit_log").await;
    exec(
        &db,
        "UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000'",
    )
    .await;
    let (seq, reason) = broken(
        audit::verify(&db, &checkpoints.read(&keys).expect("read"))
            .await
            .expect("verify"),
    );
    assert_eq!(seq, 1, "{reason}");

    // A checkpoint file edited to hide it is refused as such.
    let text = std::fs::read_to_string(checkpoints.path()).expect("read");
    std::fs::write(
        checkpoints.path(),
        format!("{text}2026-01-01T00:00:00Z 3 k1:00\n"),
    )
    .expect("write");
    assert!(
        checkpoints.read(&keys).is_err(),
        "a checkpoint may not go back"
    );
    // Nor can a restore line be added without the key.
    std::fs::write(
        checkpoints.path(),
        format!("{text}2026-01-01T00:00:00Z restore 3 k1:00 k1:00\n"),
    )
    .expect("write");
    assert!(checkpoints.read(&keys).is_err(), "an unsigned restore line");
    db.close().await;
    if let Some(pg) = pg {
        pg.drop().await;
    }

    // Another key file does not check this log.
    let (url, pg) = url_of("d").await;
    let db = fresh(&url, &keys).await;
    let other = db
        .clone()
        .with_audit_keys(AuditKeys::ephemeral().expect("keys"));
    let (seq, _) = broken(audit::verify(&other, &[]).await.expect("verify"));
    assert_eq!(seq, 1);
    db.close().await;
    if let Some(pg) = pg {
        pg.drop().await;
    }
}

#[tokio::test]
async fn every_rewrite_is_found_on_sqlite() {
    let dir = Dir::new("tsunagu-audit-db");
    every_rewrite_is_found(async |name: &str| {
        (
            format!(
                "sqlite://{}",
                dir.0.join(format!("{name}.sqlite3")).display()
            ),
            None,
        )
    })
    .await;
}

#[tokio::test]
async fn every_rewrite_is_found_on_postgres() {
    if std::env::var("TSUNAGU_TEST_POSTGRES_URL").is_err() {
        support::say_postgres_not_run();
        return;
    }
    every_rewrite_is_found(async |_: &str| {
        let pg = PgDatabase::create().await.expect("PostgreSQL");
        (pg.url.clone(), Some(pg))
    })
    .await;
}

#[tokio::test]
async fn a_log_from_before_signing_is_sealed_and_verifies() {
    let dir = Dir::new("tsunagu-audit-seal");
    let keys = AuditKeys::ephemeral().expect("keys");
    let db = fresh(&dir.sqlite_url(), &keys).await;
    // As an older release left it: no MACs.
    drop_guard(&db).await;
    exec(&db, "UPDATE audit_log SET mac = NULL").await;
    assert!(matches!(
        audit::verify(&db, &[]).await.expect("verify"),
        Verification::Intact {
            entries: 40,
            head: None
        }
    ));
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints"));
    let seal = audit::seal_unsigned(&db, &checkpoints).await.expect("seal");
    assert_eq!(seal, Some(41));
    assert_eq!(
        audit::seal_unsigned(&db, &checkpoints)
            .await
            .expect("again"),
        None
    );
    assert!(matches!(
        audit::verify(&db, &[]).await.expect("verify"),
        Verification::Intact {
            entries: 41,
            head: Some(_)
        }
    ));
    // Rewriting a sealed entry is now found.
    exec(
        &db,
        "UPDATE audit_log SET detail = '書き換え' WHERE seq = 3",
    )
    .await;
    rechain(&db, 3).await;
    let (seq, _) = broken(audit::verify(&db, &[]).await.expect("verify"));
    assert_eq!(seq, 41);
}

#[test]
fn the_key_file_is_made_owner_only_and_refused_when_others_may_read_it() {
    let dir = Dir::new("tsunagu-audit-key");
    let path = dir.0.join("audit.key");
    let (keys, created) = AuditKeys::load_or_create(&path).expect("create");
    assert!(created);
    let (again, created) = AuditKeys::load_or_create(&path).expect("load");
    assert!(!created);
    assert_eq!(again.current(), keys.current());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = AuditKeys::load_or_create(&path).expect_err("readable by others");
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let rotated = AuditKeys::rotate(&path).expect("rotate");
    assert_eq!(rotated.current().id, "k2");
    assert!(rotated.get("k1").is_some_and(|k| k == keys.current()));
}

#[tokio::test]
async fn a_write_without_an_audit_entry_is_not_stored() {
    let dir = Dir::new("tsunagu-audit-tx");
    let keys = AuditKeys::ephemeral().expect("keys");
    let db = fresh(&dir.sqlite_url(), &keys).await;
    let names = async || -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM resource_categories WHERE name LIKE '試験%'")
            .fetch_all(db.pool())
            .await
            .expect("names")
    };
    let write =
        "INSERT INTO resource_categories (id, code, name, sort_order) VALUES ($1, NULL, $2, 999)";
    let mut tx = db.begin().await.expect("tx");
    sqlx::query(write)
        .bind("c-unaudited")
        .bind("試験（記録なし）")
        .execute(tx.conn())
        .await
        .expect("insert");
    assert_eq!(
        tx.commit().await.expect("commit"),
        tsunagu_store::Committed::Nothing
    );
    assert!(
        names().await.is_empty(),
        "an unaudited write must not be stored"
    );

    let mut tx = db.begin().await.expect("tx");
    sqlx::query(write)
        .bind("c-audited")
        .bind("試験（記録あり）")
        .execute(tx.conn())
        .await
        .expect("insert");
    audit::append(
        &mut tx,
        &AuditCtx::system("test"),
        Event::new("resource_category.create", "resource_category", "c-audited"),
    )
    .await
    .expect("audit");
    assert_eq!(
        tx.commit().await.expect("commit"),
        tsunagu_store::Committed::Change
    );
    assert_eq!(names().await, ["試験（記録あり）"]);
}

#[tokio::test]
async fn a_log_that_went_back_is_not_checkpointed_and_a_stripped_one_not_sealed() {
    let dir = Dir::new("tsunagu-audit-back");
    let keys = AuditKeys::ephemeral().expect("keys");
    let checkpoints = CheckpointFile::new(dir.0.join("checkpoints"));
    let db = fresh(&dir.sqlite_url(), &keys).await;
    checkpoints.write(&db).await.expect("checkpoint at 40");
    drop_guard(&db).await;
    exec(&db, "DELETE FROM audit_log WHERE seq > 30").await;
    rechain(&db, 30).await;
    // The head went back without a recorded restore: refused, and the file stays as it was.
    let refused = checkpoints
        .write(&db)
        .await
        .expect_err("behind its checkpoint");
    assert!(refused.to_string().contains("audit verify"), "{refused}");
    assert_eq!(
        checkpoints.read(&keys).expect("read").last().map(|c| c.seq),
        Some(40)
    );
    // Every MAC removed: not sealed over while checkpoints know the log was signed.
    exec(&db, "UPDATE audit_log SET mac = NULL").await;
    let refused = audit::seal_unsigned(&db, &checkpoints)
        .await
        .expect_err("stripped");
    assert!(refused.to_string().contains("署名が消された"), "{refused}");
    // A restore recorded with the key makes the older head the one that counts.
    let db2 = fresh(&Dir::new("tsunagu-audit-back2").sqlite_url(), &keys).await;
    let head = audit::signed_head(&db2)
        .await
        .expect("head")
        .expect("signed");
    checkpoints
        .write_restore(&head, &keys)
        .expect("restore line");
    assert_eq!(checkpoints.read(&keys).expect("read").last(), Some(&head));
}

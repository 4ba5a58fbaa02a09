//! The audit chain: entries for changes and sign-ins, append-only, and tamper detection.

use tsunagu_store::audit::{self, Verification};

use crate::both;
use crate::support::*;

both!(
    changes_and_sign_ins_are_audited_with_old_and_new_values,
    |app| {
        let mut c = app.signed_in("pref").await;
        let edit = c.get("/matrix/edit").await;
        assert_eq!(edit.status, 200);
        // Change the first select of the table from its current value to "support".
        let start = edit.body.find("name=\"mark__").expect("a mark field") + "name=\"".len();
        let end = edit.body[start..].find('"').expect("end") + start;
        let field = edit.body[start..end].to_string();
        let saved = c.post("/matrix/edit", &[(&field, "support")]).await;
        assert_eq!(saved.status, 303);
        let entries = sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
            "SELECT action, old_values, new_values FROM audit_log WHERE action = 'matrix.update'",
        )
        .fetch_all(app.db.pool())
        .await
        .expect("entries");
        assert_eq!(entries.len(), 1);
        assert!(entries[0].1.as_deref().unwrap_or("").contains("◎"));
        assert!(entries[0].2.as_deref().unwrap_or("").contains("○"));
        let logins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login' AND actor_login = 'pref'",
        )
        .fetch_one(app.db.pool())
        .await
        .expect("count");
        assert_eq!(logins, 1);
        assert!(matches!(
            audit::verify(&app.db, &[]).await.expect("verify"),
            Verification::Intact { .. }
        ));
    }
);

both!(the_database_refuses_to_alter_or_delete_entries, |app| {
    let mut tx = app.db.begin().await.expect("tx");
    let upd = sqlx::query("UPDATE audit_log SET actor_login = 'someone' WHERE seq = 1")
        .execute(tx.conn())
        .await;
    assert!(upd.is_err(), "an UPDATE of the audit log must fail");
    drop(tx);
    let mut tx = app.db.begin().await.expect("tx");
    let del = sqlx::query("DELETE FROM audit_log WHERE seq = 1")
        .execute(tx.conn())
        .await;
    assert!(del.is_err(), "a DELETE from the audit log must fail");
});

both!(verify_names_the_first_altered_entry, |app| {
    let mut c = app.signed_in("admin").await;
    c.get("/").await;
    let total = match audit::verify(&app.db, &[]).await.expect("verify") {
        Verification::Intact { entries, .. } => entries,
        other => panic!("chain should be intact: {other:?}"),
    };
    assert!(total >= 3);
    // Someone with direct database access removes the guard and edits entry 2.
    let mut tx = app.db.begin().await.expect("tx");
    match app.backend {
        Backend::Sqlite => {
            sqlx::query("DROP TRIGGER audit_log_no_update")
                .execute(tx.conn())
                .await
                .expect("drop");
        }
        Backend::Postgres => {
            sqlx::query("DROP TRIGGER audit_log_no_update ON audit_log")
                .execute(tx.conn())
                .await
                .expect("drop");
        }
    }
    sqlx::query("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 2")
        .execute(tx.conn())
        .await
        .expect("tamper");
    tx.commit_bookkeeping("written straight to the database by the test")
        .await
        .expect("commit");
    match audit::verify(&app.db, &[]).await.expect("verify") {
        Verification::Broken { seq, .. } => assert_eq!(seq, 2),
        other => panic!("tampering not detected: {other:?}"),
    }
});

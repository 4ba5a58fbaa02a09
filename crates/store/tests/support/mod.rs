//! What the store's tests share: a scratch folder and a PostgreSQL database of their own.

use sqlx::AnyConnection;

/// A folder removed when the test ends.
pub struct Dir(pub std::path::PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let dir = Dir(std::env::temp_dir().join(format!("{name}-{}", tsunagu_store::new_id())));
        std::fs::create_dir_all(&dir.0).expect("dir");
        dir
    }

    /// The URL of an SQLite database in it.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.0.join("t.sqlite3").display())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Says once, straight to the terminal (the test harness hides what passing tests print),
/// that the PostgreSQL variants are not run.
pub fn say_postgres_not_run() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "TSUNAGU_TEST_POSTGRES_URL is not set: the PostgreSQL variants of the store tests are not run"
        );
    });
}

/// A database of its own on the server of TSUNAGU_TEST_POSTGRES_URL, named like the HTTP
/// tests' so that a leftover is cleaned up.
pub struct PgDatabase {
    conn: AnyConnection,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// `None` when TSUNAGU_TEST_POSTGRES_URL is not set.
    pub async fn create() -> Option<PgDatabase> {
        let Ok(base) = std::env::var("TSUNAGU_TEST_POSTGRES_URL") else {
            say_postgres_not_run();
            return None;
        };
        let name = format!("tsunagu_t_{}", tsunagu_store::new_id().replace('-', ""));
        let mut conn = tsunagu_store::connect_one(&base).await.expect("connect");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
        let url = format!("{prefix}/{name}");
        Some(PgDatabase { conn, name, url })
    }

    pub async fn drop(mut self) {
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut self.conn)
        .await
        .expect("drop database");
    }
}

//! Schema migrations: one ordered set for both backends. Each migration has portable SQL and,
//! where the backends differ (triggers, full-text search), a part for each backend. Every
//! migration runs in one transaction and is recorded in `schema_migrations`.

use crate::{Backend, Db, Result, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    common: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// Data written by the program after the SQL, in the same transaction.
    then: Option<DataStep>,
}

/// Data a migration needs that SQL alone cannot compute.
#[derive(Clone, Copy)]
enum DataStep {
    /// Fill the keyword index from the search keys of consultations and resources.
    IndexSearchKeys,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "platform",
        common: include_str!("../migrations/0001_platform.sql"),
        sqlite: include_str!("../migrations/0001_platform.sqlite.sql"),
        postgres: include_str!("../migrations/0001_platform.postgres.sql"),
        then: None,
    },
    Migration {
        version: 2,
        name: "care_types",
        common: include_str!("../migrations/0002_care_types.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 3,
        name: "resources",
        common: include_str!("../migrations/0003_resources.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 4,
        name: "consultations",
        common: include_str!("../migrations/0004_consultations.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 5,
        name: "resource_imports",
        common: include_str!("../migrations/0005_resource_imports.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 6,
        name: "scale_indexes",
        common: include_str!("../migrations/0006_scale_indexes.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 7,
        name: "surveys",
        common: include_str!("../migrations/0007_surveys.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 8,
        name: "survey_results",
        common: include_str!("../migrations/0008_survey_results.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 9,
        name: "search_grams",
        common: "",
        sqlite: include_str!("../migrations/0009_search_grams.sqlite.sql"),
        postgres: include_str!("../migrations/0009_search_grams.postgres.sql"),
        then: Some(DataStep::IndexSearchKeys),
    },
    Migration {
        version: 10,
        name: "codes_by_date",
        common: "",
        sqlite: include_str!("../migrations/0010_codes_by_date.sqlite.sql"),
        postgres: include_str!("../migrations/0010_codes_by_date.postgres.sql"),
        then: None,
    },
    Migration {
        version: 11,
        name: "audit_mac",
        common: include_str!("../migrations/0011_audit_mac.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
    Migration {
        version: 12,
        name: "mail_outbox",
        common: include_str!("../migrations/0012_mail_outbox.sql"),
        sqlite: "",
        postgres: "",
        then: None,
    },
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// Applies every migration not yet applied; returns how many ran. Refuses to run against a
/// database whose schema is newer than this binary.
pub async fn run(db: &Db) -> Result<usize> {
    run_versions(db, |_| true).await
}

/// Applies the migrations not yet applied whose version `wanted` picks, in order. Upgrade
/// tests use it to leave out one step (e.g. to write rows as an older release would, with
/// today's writers that need a later column).
pub async fn run_versions(db: &Db, wanted: impl Fn(i64) -> bool) -> Result<usize> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(db.pool())
    .await?;
    let mut applied = 0;
    for m in MIGRATIONS.iter().filter(|m| wanted(m.version)) {
        let mut tx = db.begin().await?;
        if db.backend() == Backend::Postgres {
            // Two servers starting at once must not both migrate.
            sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
                .execute(tx.conn())
                .await?;
        }
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(tx.conn())
                .await?;
        if done.is_some() {
            continue;
        }
        if !m.common.trim().is_empty() {
            sqlx::raw_sql(m.common).execute(tx.conn()).await?;
        }
        let specific = match db.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        if !specific.trim().is_empty() {
            sqlx::raw_sql(specific).execute(tx.conn()).await?;
        }
        match m.then {
            Some(DataStep::IndexSearchKeys) => {
                crate::search_index::rebuild(&mut tx).await?;
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(crate::clock::now_text())
        .execute(tx.conn())
        .await?;
        tx.commit_bookkeeping("schema migration").await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied += 1;
    }
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(db.pool())
        .await?;
    if newest.unwrap_or(0) > latest_version() {
        return Err(StoreError::Other(format!(
            "database schema version {} is newer than this program ({}); upgrade Tsunagu",
            newest.unwrap_or(0),
            latest_version()
        )));
    }
    Ok(applied)
}
